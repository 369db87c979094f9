"""Numba CPU kernels of the forward filter: rows, chunked, and the slice map (summary).

``y[n] = x[n] - sum_i A[n,i] y[n-1-i]`` with ``A = sgn * a`` (``sgn = -1`` for ``neg_a``),
conjugated if ``conj``. Launched by :class:`tritonlpc.backends.numba_cpu.NumbaBackend`; the
schedules are described there. Every entry point has a parallel and a serial twin (the same
body; see :mod:`._numba_support`).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba_frames import at, interval, line, on_line, order, weight
from ._numba_scale import BIG, SMALL, STEP, affine_scaled, mag, renorm, renorm_one
from ._numba_support import coef, jit, jit_twins

__all__ = [
    "fwd_rows",
    "fwd_rows_serial",
    "fwd_chunked",
    "fwd_chunked_serial",
    "fwd_summary",
    "fwd_summary_serial",
]


# --------------------------------------------------------------------------- rows
@jit
def _pair_any(x, a, zi, y, b0, b1, conj, sgn):
    """Order M >= 2: rows ``b0`` and ``b1`` advanced together (two independent dependency
    chains in flight: about twice the rows in the time of one); ``b1 == b0`` for an odd last row.

    The taps are summed oldest first and the two newest outputs stay in registers, so the
    dependency chain from one output to the next is one multiply-add: the older taps (read
    back from ``y``) are summed while the previous output is still being computed.
    """
    T = x.shape[1]
    M = order(a)
    two = b1 != b0  # loop-invariant: the compiler keeps a one-row and a two-row loop
    for b in (b0, b1):
        for n in range(min(M, T)):  # head: history partly from zi
            acc = x[b, n]
            for i in range(M - 1, -1, -1):
                k = n - 1 - i
                prev = y[b, k] if k >= 0 else zi[b, -k - 1]
                acc -= coef(at(a, b, n, i), conj, sgn) * prev
            y[b, n] = acc
    if T <= M:
        return
    p0, q0 = y[b0, M - 1], y[b0, M - 2]  # y[n-1], y[n-2]
    p1, q1 = y[b1, M - 1], y[b1, M - 2]
    for n in range(M, T):
        acc0 = x[b0, n]
        acc1 = x[b1, n]
        for i in range(M - 1, 1, -1):
            acc0 -= coef(at(a, b0, n, i), conj, sgn) * y[b0, n - 1 - i]
            if two:
                acc1 -= coef(at(a, b1, n, i), conj, sgn) * y[b1, n - 1 - i]
        acc0 -= coef(at(a, b0, n, 1), conj, sgn) * q0
        acc0 -= coef(at(a, b0, n, 0), conj, sgn) * p0
        y[b0, n] = acc0
        q0, p0 = p0, acc0
        if two:
            acc1 -= coef(at(a, b1, n, 1), conj, sgn) * q1
            acc1 -= coef(at(a, b1, n, 0), conj, sgn) * p1
            y[b1, n] = acc1
            q1, p1 = p1, acc1


@jit
def _pair_m1(x, a, zi, y, b0, b1, conj, sgn):
    """Two rows of order 1 advanced together (``b1 == b0``: one row, written twice), interval by
    interval (:mod:`._numba_frames`; per-sample ``a``: one interval)."""
    T = x.shape[1]
    s0 = zi[b0, 0]
    s1 = zi[b1, 0]
    n = 0
    while n < T:
        base, r0, _, r1 = interval(a, n, 0, T)
        c0, c1 = line(a, b0, base, 0), line(a, b1, base, 0)
        for r in range(r0, r1):
            m, w = base + r, weight(a, r)
            s0 = x[b0, m] - coef(on_line(c0, a, b0, m, 0, w), conj, sgn) * s0
            s1 = x[b1, m] - coef(on_line(c1, a, b1, m, 0, w), conj, sgn) * s1
            y[b0, m] = s0
            y[b1, m] = s1
        n = base + r1


@jit
def _pair_m2(x, a, zi, y, b0, b1, conj, sgn):
    """Two rows of order 2 advanced together, state in registers (``b1 == b0``: one row),
    interval by interval (:mod:`._numba_frames`; per-sample ``a``: one interval)."""
    T = x.shape[1]
    p0, q0 = zi[b0, 0], zi[b0, 1]  # y[n-1], y[n-2]
    p1, q1 = zi[b1, 0], zi[b1, 1]
    n = 0
    while n < T:
        base, r0, _, r1 = interval(a, n, 0, T)
        c00, c01 = line(a, b0, base, 0), line(a, b0, base, 1)
        c10, c11 = line(a, b1, base, 0), line(a, b1, base, 1)
        for r in range(r0, r1):
            m, w = base + r, weight(a, r)
            # older tap first: the chain from y[n-1] to y[n] is one multiply-add
            v0 = (
                x[b0, m]
                - coef(on_line(c01, a, b0, m, 1, w), conj, sgn) * q0
                - coef(on_line(c00, a, b0, m, 0, w), conj, sgn) * p0
            )
            v1 = (
                x[b1, m]
                - coef(on_line(c11, a, b1, m, 1, w), conj, sgn) * q1
                - coef(on_line(c10, a, b1, m, 0, w), conj, sgn) * p1
            )
            q0, p0 = p0, v0
            q1, p1 = p1, v1
            y[b0, m] = v0
            y[b1, m] = v1
        n = base + r1


def _rows_py(x, a, zi, y, conj, sgn):
    B = x.shape[0]
    M = order(a)
    for p in prange((B + 1) // 2):
        b0 = 2 * p
        # Odd B: the last row is paired with itself (the same values written twice); the pair is
        # latency-bound, so this costs nothing measurable and saves single-row kernels.
        b1 = min(b0 + 1, B - 1)
        if M == 1:
            _pair_m1(x, a, zi, y, b0, b1, conj, sgn)
        elif M == 2:
            _pair_m2(x, a, zi, y, b0, b1, conj, sgn)
        else:
            _pair_any(x, a, zi, y, b0, b1, conj, sgn)


# Parallel for real work; serial for small calls, where waking the thread pool costs more
# than the filtering (prange runs as range there).
fwd_rows, fwd_rows_serial = jit_twins(_rows_py, "_fwd_rows")


# --------------------------------------------------------------------------- slice maps
@jit
def _map_segment(x, a, b, t0, t1, conj, sgn, tiny, st):
    """The affine map of times [t0, t1) of row b, in one pass: ``M + 1`` lanes advanced
    together, lane 0 from the zero state with input ``x`` (gives ``h``), lane ``j + 1`` from
    the unit state ``e_j`` with zero input (gives column ``j`` of ``P``).

    ``st`` (M, M+1) is overwritten: on return ``st[:, 0] = h`` and ``st[:, 1:] = P^`` (state
    ordering ``(y[t1-1], ..., y[t1-M])``); returns the exponent ``e`` of ``P = P^ 2**e``
    (renormalised every step, orders above 2 every 8 steps, see :mod:`._numba_scale`; 0 unless ``P`` grows past ``BIG``).
    Orders 1 and 2 keep the lanes in registers.

    Once every entry of ``P`` is below ``tiny`` (the dtype's smallest normal number; checked
    every 256 samples) ``P`` is set to zero and only ``h`` is carried on: a decaying response
    would otherwise sit on subnormal numbers, which are many times slower, for the rest of a
    long slice (a value of ``P`` below ``tiny`` contributes less than ``tiny`` per unit of state).
    """
    M = order(a)
    zero = np.zeros(1, st.dtype)[0]
    one = zero + 1
    f = np.abs(np.zeros(2, st.dtype))  # the renormalisation factors, real, in st's precision
    f[0], f[1] = 2.0**-STEP, 2.0**STEP
    live = True
    e = 0
    if M == 1:  # interval by interval, as the rows kernels (per-sample a: one interval)
        h, p = zero, one
        n = t0
        while n < t1:
            base, r0, _, r1 = interval(a, n, t0, t1)
            l0 = line(a, b, base, 0)
            for r in range(r0, r1):
                m, w = base + r, weight(a, r)
                c0 = coef(on_line(l0, a, b, m, 0, w), conj, sgn)
                h = x[b, m] - c0 * h
                if live:
                    p, e = renorm_one(-c0 * p, e, f)
                    if (m - t0) & 255 == 255 and e == 0 and abs(p) < tiny:
                        p, live = zero, False
            n = base + r1
        st[0, 0], st[0, 1] = h, p
        return e
    if M == 2:  # (y[n-1], y[n-2]) of the three lanes: input, unit e_0, unit e_1
        h0, h1, p0, p1, q0, q1 = zero, zero, one, zero, zero, one
        n = t0
        while n < t1:
            base, r0, _, r1 = interval(a, n, t0, t1)
            l0, l1 = line(a, b, base, 0), line(a, b, base, 1)
            for r in range(r0, r1):
                m, w = base + r, weight(a, r)
                c0 = coef(on_line(l0, a, b, m, 0, w), conj, sgn)
                c1 = coef(on_line(l1, a, b, m, 1, w), conj, sgn)
                h0, h1 = x[b, m] - c1 * h1 - c0 * h0, h0
                if live:
                    p0, p1 = -c1 * p1 - c0 * p0, p0
                    q0, q1 = -c1 * q1 - c0 * q0, q0
                    g = max(mag(p0), mag(p1), mag(q0), mag(q1))
                    if g > BIG:
                        p0, p1, q0, q1, e = p0 * f[0], p1 * f[0], q0 * f[0], q1 * f[0], e + STEP
                    elif e > 0 and g < SMALL:
                        p0, p1, q0, q1, e = p0 * f[1], p1 * f[1], q0 * f[1], q1 * f[1], e - STEP
                    if (m - t0) & 255 == 255 and e == 0 and max(abs(p0), abs(p1), abs(q0), abs(q1)) < tiny:
                        p0, p1, q0, q1, live = zero, zero, zero, zero, False
            n = base + r1
        st[0, 0], st[1, 0], st[0, 1], st[1, 1], st[0, 2], st[1, 2] = h0, h1, p0, p1, q0, q1
        return e
    c = np.empty(M, st.dtype)
    for i in range(M):
        for lane in range(M + 1):
            st[i, lane] = one if lane == i + 1 else zero
    lanes = M + 1
    for n0 in range(t0, t1, 8):  # blocks of 8 steps, renormalised after each
        for n in range(n0, min(n0 + 8, t1)):
            for i in range(M):
                c[i] = coef(at(a, b, n, i), conj, sgn)
            for lane in range(lanes):
                acc = x[b, n] if lane == 0 else zero
                for i in range(M - 1, -1, -1):  # oldest tap first, as the rows kernels
                    acc -= c[i] * st[i, lane]
                for i in range(M - 1, 0, -1):
                    st[i, lane] = st[i - 1, lane]
                st[0, lane] = acc
        if lanes > 1:
            e = renorm(st, 1, lanes, e, f)  # headroom 2**96 above BIG for 8 steps
            if (n0 + 7 - t0) & 255 == 255 and n0 + 8 <= t1 and e == 0 and np.abs(st[:, 1:]).max() < tiny:
                st[:, 1:] = zero
                lanes = 1
    return e


def _summary_py(x, a, P, h, E, conj, sgn, tiny):
    B, T = x.shape
    M = order(a)
    for b in prange(B):
        st = np.empty((M, M + 1), P.dtype)
        E[b] = _map_segment(x, a, b, 0, T, conj, sgn, tiny, st)
        for i in range(M):
            h[b, i] = st[i, 0]
            for j in range(M):
                P[b, i, j] = st[i, j + 1]  # the mantissa: P = P^ 2**E


fwd_summary, fwd_summary_serial = jit_twins(_summary_py, "_fwd_summary")


# --------------------------------------------------------------------------- chunked
@jit
def _run_segment(x, a, b, t0, t1, state, conj, sgn, buf):
    """Run times [t0, t1) of row b from ``state`` = (y[t0-1], ..., y[t0-M]).

    ``buf`` (length >= M + t1 - t0) receives the history then the outputs; ``state`` is
    overwritten with the end state (y[t1-1], ..., y[t1-M]).
    """
    M = order(a)
    L = t1 - t0
    for k in range(M):
        buf[M - 1 - k] = state[k]
    for t in range(L):
        acc = x[b, t0 + t]
        for i in range(M - 1, -1, -1):
            acc -= coef(at(a, b, t0 + t, i), conj, sgn) * buf[M + t - 1 - i]
        buf[M + t] = acc
    for k in range(M):
        state[k] = buf[M + L - 1 - k]


def _chunked_py(x, a, zi, y, conj, sgn, tiny, L):
    B, T = x.shape
    M = order(a)
    C = (T + L - 1) // L
    dt = y.dtype
    maps = np.zeros((B, C, M, M + 1), dt)  # per chunk: [h | P^] (see _map_segment)
    E = np.zeros((B, C), np.int64)  # per chunk: the exponent of P
    for job in prange(B * C):
        b, c = job // C, job % C
        E[b, c] = _map_segment(x, a, b, c * L, min(T, c * L + L), conj, sgn, tiny, maps[b, c])
    S = np.zeros((B, C, M), dt)  # start state of every chunk
    for b in prange(B):
        s = zi[b].copy()
        for c in range(C):
            S[b, c] = s
            s = affine_scaled(maps[b, c, :, 1:], E[b, c], s, maps[b, c, :, 0])
    for job in prange(B * C):
        b, c = job // C, job % C
        t0, t1 = c * L, min(T, c * L + L)
        buf = np.empty(M + L, dt)
        st = S[b, c].copy()
        _run_segment(x, a, b, t0, t1, st, conj, sgn, buf)
        for t in range(t1 - t0):
            y[b, t0 + t] = buf[M + t]


fwd_chunked, fwd_chunked_serial = jit_twins(_chunked_py, "_fwd_chunked")
