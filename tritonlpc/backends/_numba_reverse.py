"""Numba CPU kernels of the reverse (adjoint) filter: rows, chunked, and the adjoint summary.

The reverse filter runs in its transposed direct form, which reads only row ``n+1`` of ``a``
at step ``n`` (``lambda_M`` is always 0)::

    lam_j[n] = g[n] [j == 0] - A[n+1, j] u[n+1] + lam_{j+1}[n+1],    u[n] = lam_0[n]

writing ``grad_A[n, j] = -u[n] conj(y[n-1-j])`` in the same pass, and
``grad_zi[j] = -A[0, j] u[0] + lam_{j+1}[0]`` (one more step) at the end; ``A = sgn * a``,
conjugated if ``conj`` (the adjoint). Launched by
:class:`tritonlpc.backends.numba_cpu.NumbaBackend`.
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba_frames import at, gadd, gflush, interval, line, on_line, order, put, weight
from ._numba_scale import STEP, affine_scaled, renorm, renorm_one
from ._numba_support import coef, jit, jit_twins

__all__ = [
    "rev_rows",
    "rev_rows_serial",
    "rev_chunked",
    "rev_chunked_serial",
    "rev_summary",
    "rev_summary_serial",
]


# --------------------------------------------------------------------------- one row, any order
@jit(inline="always")
def _coef_next(a, b, n, j, T, conj, sgn, zero):
    """``A[n+1, j]`` of row b, the coefficient step ``n`` reads; ``zero`` past the end ``T``
    (``lambda[T] = 0``: the last step only adds ``g``)."""
    if n + 1 < T:
        return coef(at(a, b, n + 1, j), conj, sgn)
    return zero


@jit(inline="always")
def _step(gn, a, b, n, T, lam, l0, conj, sgn):
    """One step of the transposed form: ``lam[1:M]`` updated in place, the new ``lam_0``
    returned (kept in a register by the callers: one multiply-add from u[n+1] to u[n])."""
    M = order(a)
    if n + 1 < T:
        new = (gn + lam[1]) - coef(at(a, b, n + 1, 0), conj, sgn) * l0
        for j in range(1, M):
            lam[j] = lam[j + 1] - coef(at(a, b, n + 1, j), conj, sgn) * l0
        return new
    for j in range(1, M):
        lam[j] = lam[j + 1]
    return gn + lam[1]


@jit
def _walk(g, a, b, t0, t1, lam, conj, sgn):
    """Reverse filter over times [t1-1 .. t0] of row b from ``lam`` = lambda[t1] (length M+1,
    last entry 0), left in ``lam`` as lambda[t0]; nothing else is written. Interval by interval
    (per-sample ``a``: one interval): an interval's top step reads the next interval's first
    frame (:func:`_step`), the others the interval's line at weight ``r + 1``."""
    l0 = lam[0]
    T = g.shape[1]
    M = order(a)
    top = t1 - 1
    while top >= t0:
        base, rt, rb, _ = interval(a, top, t0, t1)
        l0 = _step(g[b, top], a, b, top, T, lam, l0, conj, sgn)
        for r in range(rt - 1, rb - 1, -1):  # n + 1 < T here
            n, w = base + r, weight(a, r + 1)
            new = (g[b, n] + lam[1]) - coef(on_line(line(a, b, base, 0), a, b, n + 1, 0, w), conj, sgn) * l0
            for j in range(1, M):
                lam[j] = lam[j + 1] - coef(on_line(line(a, b, base, j), a, b, n + 1, j, w), conj, sgn) * l0
            l0 = new
        top = base + rb - 1
    lam[0] = l0


@jit
def _walk_writing(g, a, y, zi, u, ga, b, t0, t1, lam, need_a, conj, sgn):
    """:func:`_walk`, storing ``u`` and (``need_a``) ``grad_A = -u conj(y[n-1-j])``."""
    T = g.shape[1]
    M = order(a)
    l0 = lam[0]
    for n in range(t1 - 1, t0 - 1, -1):
        l0 = _step(g[b, n], a, b, n, T, lam, l0, conj, sgn)
        u[b, n] = l0
        if need_a:
            for j in range(M):
                k = n - 1 - j
                prev = y[b, k] if k >= 0 else zi[b, -k - 1]
                put(ga, b, n, j, -sgn * l0 * prev.conjugate())
    lam[0] = l0


@jit
def _zi_step(a, lam, gzi, b, conj, sgn):
    """grad_zi[j] = -A[0, j] u[0] + lam_{j+1}[0] (gradient w.r.t. zi, not A)."""
    M = order(a)
    u0 = lam[0]
    for j in range(M):
        gzi[b, j] = lam[j + 1] - coef(at(a, b, 0, j), conj, sgn) * u0


# --------------------------------------------------------------------------- rows, orders 1 and 2
# Interval by interval, down in time (:mod:`._numba_frames`; per-sample ``a``: one interval).
# Step ``n`` reads row ``n + 1``: an interval's top step reads the next interval's first frame (or,
# at ``T - 1``, nothing) through ``at``, the others the interval's line at weight ``r + 1``; the
# frames' gradient is summed in registers. Order 1 runs the top step apart (its ``grad_A`` through
# :func:`_interval_grads`), order 2 selects its coefficients in the loop (see there).
@jit
def _interval_grads(a, y, zi, u, ga, b, base, rt, rb, sgn):
    """``grad_A[b, n, j] = -u[n] conj(y[n-1-j])`` for ``n = base + r``, ``rt >= r >= rb``, summed
    to the frames (:func:`gadd`, :func:`gflush`) or stored per sample."""
    zero = np.zeros(1, u.dtype)[0]
    for j in range(order(a)):
        e = (zero, zero)
        for r in range(rt, rb - 1, -1):
            n = base + r
            k = n - 1 - j
            prev = y[b, k] if k >= 0 else zi[b, -k - 1]
            e = gadd(ga, e, b, n, j, -sgn * u[b, n] * prev.conjugate(), weight(a, r))
        gflush(ga, e, b, base, j)


@jit
def _pair_m1(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn):
    """Two rows of order 1 together (``b1 == b0``: one row); fused grad_a and grad_zi."""
    T = g.shape[1]
    zero = np.zeros(1, u.dtype)[0]
    s0 = s1 = zero
    top = T - 1
    while top >= 0:
        base, rt, rb, _ = interval(a, top, 0, T)
        s0 = g[b0, top] - _coef_next(a, b0, top, 0, T, conj, sgn, zero) * s0
        s1 = g[b1, top] - _coef_next(a, b1, top, 0, T, conj, sgn, zero) * s1
        u[b0, top] = s0
        u[b1, top] = s1
        c0, c1 = line(a, b0, base, 0), line(a, b1, base, 0)
        e0 = e1 = (zero, zero)  # frame-gradient sums of the interval
        for r in range(rt - 1, rb - 1, -1):
            n, w = base + r, weight(a, r + 1)
            s0 = g[b0, n] - coef(on_line(c0, a, b0, n + 1, 0, w), conj, sgn) * s0
            s1 = g[b1, n] - coef(on_line(c1, a, b1, n + 1, 0, w), conj, sgn) * s1
            u[b0, n] = s0
            u[b1, n] = s1
            if need_a:
                p0 = y[b0, n - 1] if n > 0 else zi[b0, 0]
                p1 = y[b1, n - 1] if n > 0 else zi[b1, 0]
                w = weight(a, r)
                e0 = gadd(ga, e0, b0, n, 0, -sgn * s0 * p0.conjugate(), w)
                e1 = gadd(ga, e1, b1, n, 0, -sgn * s1 * p1.conjugate(), w)
        if need_a:
            gflush(ga, e0, b0, base, 0)
            _interval_grads(a, y, zi, u, ga, b0, base, rt, rt, sgn)
            if b1 != b0:
                gflush(ga, e1, b1, base, 0)
                _interval_grads(a, y, zi, u, ga, b1, base, rt, rt, sgn)
        top = base + rb - 1
    if need_zi and T > 0:
        gzi[b0, 0] = -coef(at(a, b0, 0, 0), conj, sgn) * s0
        gzi[b1, 0] = -coef(at(a, b1, 0, 0), conj, sgn) * s1


@jit
def _pair_m2(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn):
    """Two rows of order 2 together, lambda in registers (``b1 == b0``: one row); fused
    grad_a and grad_zi. The top step is not peeled here but selected in the loop: peeled, the
    multiply-adds came out fused differently with and without need_a (u differed in the last
    bit, float64)."""
    T = g.shape[1]
    zero = np.zeros(1, u.dtype)[0]
    l0a = l1a = l0b = l1b = zero  # lambda_0, lambda_1 of row b0 (l*b: row b1)
    top = T - 1
    while top >= 0:
        base, rt, rb, _ = interval(a, top, 0, T)
        # the top step's coefficients: row top + 1, the next interval's first frame
        t0a = _coef_next(a, b0, top, 0, T, conj, sgn, zero)
        t1a = _coef_next(a, b0, top, 1, T, conj, sgn, zero)
        t0b = _coef_next(a, b1, top, 0, T, conj, sgn, zero)
        t1b = _coef_next(a, b1, top, 1, T, conj, sgn, zero)
        c0a, c1a = line(a, b0, base, 0), line(a, b0, base, 1)
        c0b, c1b = line(a, b1, base, 0), line(a, b1, base, 1)
        e0a = e1a = e0b = e1b = (zero, zero)  # frame-gradient sums of the interval
        for r in range(rt, rb - 1, -1):
            n = base + r
            w = weight(a, r + 1) if r < rt else weight(a, r)
            k0a = coef(on_line(c0a, a, b0, n + 1, 0, w), conj, sgn) if r < rt else t0a
            k1a = coef(on_line(c1a, a, b0, n + 1, 1, w), conj, sgn) if r < rt else t1a
            k0b = coef(on_line(c0b, a, b1, n + 1, 0, w), conj, sgn) if r < rt else t0b
            k1b = coef(on_line(c1b, a, b1, n + 1, 1, w), conj, sgn) if r < rt else t1b
            ua, ub = l0a, l0b
            if n + 1 < T:
                l0a = g[b0, n] + l1a - k0a * ua
                l1a = -k1a * ua
                l0b = g[b1, n] + l1b - k0b * ub
                l1b = -k1b * ub
            else:  # lambda[T] = 0: the last step only adds g (apart, not a zero coefficient: with
                # one, u came out different in the last bit with and without need_a, float64)
                l0a = g[b0, n] + l0a
                l0b = g[b1, n] + l0b
            u[b0, n] = l0a
            u[b1, n] = l0b
            if need_a:
                if n >= 2:
                    p0, q0, p1, q1 = y[b0, n - 1], y[b0, n - 2], y[b1, n - 1], y[b1, n - 2]
                elif n == 1:
                    p0, q0, p1, q1 = y[b0, 0], zi[b0, 0], y[b1, 0], zi[b1, 0]
                else:
                    p0, q0, p1, q1 = zi[b0, 0], zi[b0, 1], zi[b1, 0], zi[b1, 1]
                w = weight(a, r)
                e0a = gadd(ga, e0a, b0, n, 0, -sgn * l0a * p0.conjugate(), w)
                e1a = gadd(ga, e1a, b0, n, 1, -sgn * l0a * q0.conjugate(), w)
                e0b = gadd(ga, e0b, b1, n, 0, -sgn * l0b * p1.conjugate(), w)
                e1b = gadd(ga, e1b, b1, n, 1, -sgn * l0b * q1.conjugate(), w)
        if need_a:
            gflush(ga, e0a, b0, base, 0)
            gflush(ga, e1a, b0, base, 1)
            if b1 != b0:
                gflush(ga, e0b, b1, base, 0)
                gflush(ga, e1b, b1, base, 1)
        top = base + rb - 1
    if need_zi and T > 0:
        gzi[b0, 0] = l1a - coef(at(a, b0, 0, 0), conj, sgn) * l0a
        gzi[b0, 1] = -coef(at(a, b0, 0, 1), conj, sgn) * l0a
        gzi[b1, 0] = l1b - coef(at(a, b1, 0, 0), conj, sgn) * l0b
        gzi[b1, 1] = -coef(at(a, b1, 0, 1), conj, sgn) * l0b


def _rows_py(g, a, y, zi, u, ga, gzi, need_a, need_zi, conj, sgn):
    B, T = g.shape
    M = order(a)
    if M <= 2:
        for p in prange((B + 1) // 2):
            b0 = 2 * p
            # Odd B: the last row is paired with itself (same values written twice). The pair is
            # latency-bound, so this costs nothing measurable (B=1, T=2^16, M=1 float32: 188 us
            # paired with itself vs 187 us for a single-row kernel) and saves two kernels' compiles.
            b1 = min(b0 + 1, B - 1)
            if M == 1:
                _pair_m1(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn)
            else:
                _pair_m2(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn)
    else:
        for b in prange(B):
            lam = np.zeros(M + 1, u.dtype)
            _walk_writing(g, a, y, zi, u, ga, b, 0, T, lam, need_a, conj, sgn)
            if need_zi:
                _zi_step(a, lam, gzi, b, conj, sgn)


rev_rows, rev_rows_serial = jit_twins(_rows_py, "_rev_rows")


# --------------------------------------------------------------------------- adjoint summary
def _summary_py(g, a, k, conj, sgn):
    """``k[b] = dL/d(start state)`` of each row with a zero end-state adjoint (``T >= 1``)."""
    B, T = g.shape
    M = order(a)
    for b in prange(B):
        lam = np.zeros(M + 1, k.dtype)
        _walk(g, a, b, 0, T, lam, conj, sgn)
        _zi_step(a, lam, k, b, conj, sgn)


rev_summary, rev_summary_serial = jit_twins(_summary_py, "_rev_summary")


# --------------------------------------------------------------------------- chunked
@jit
def _map_segment(g, a, b, t0, t1, conj, sgn, Q):
    """The affine map of the reverse filter over times [t1-1 .. t0] of row b, in one pass:
    ``M + 1`` lanes walked together, lane 0 from ``lambda[t1] = 0`` with input ``g`` (its
    ``lambda[t0]`` is ``Q[:, 0]``), lane ``j + 1`` from ``lambda[t1] = e_j`` with zero input
    (``Q[:, j + 1]``). ``Q`` is (M+1, M+1); its last row stays 0 (``lambda_M``).

    Returns the exponent ``e`` of the transition: ``Q[:, 1:]`` holds its mantissa, renormalised
    every 8 steps (see :mod:`._numba_scale`; ``e`` is 0 unless it grows past ``BIG``)."""
    T = g.shape[1]
    M = order(a)
    zero = np.zeros(1, Q.dtype)[0]
    c = np.empty(M, Q.dtype)
    f = np.abs(np.zeros(2, Q.dtype))  # the renormalisation factors, real, in Q's precision
    f[0], f[1] = 2.0**-STEP, 2.0**STEP
    e = 0
    Q[:, :] = zero
    for j in range(M):
        Q[j, j + 1] = 1
    if M == 1:  # lanes in registers, renormalised every step (lambda_1 stays 0)
        h, q = zero, Q[0, 1]
        for n in range(t1 - 1, t0 - 1, -1):
            c0 = _coef_next(a, b, n, 0, T, conj, sgn, zero)
            h = g[b, n] - c0 * h
            q, e = renorm_one(-c0 * q, e, f)
        Q[0, 0], Q[0, 1] = h, q
        return e
    for top in range(t1 - 1, t0 - 1, -8):  # blocks of 8 steps, renormalised after each
        for n in range(top, max(top - 8, t0 - 1), -1):
            for j in range(M):
                c[j] = _coef_next(a, b, n, j, T, conj, sgn, zero)
            for lane in range(M + 1):
                un = Q[0, lane]  # u[n+1]
                gn = g[b, n] if lane == 0 else zero
                Q[0, lane] = (gn + Q[1, lane]) - c[0] * un
                for j in range(1, M):
                    Q[j, lane] = Q[j + 1, lane] - c[j] * un
        e = renorm(Q, 1, M + 1, e, f)  # headroom 2**96 above BIG for 8 steps
    return e


def _chunked_py(g, a, y, zi, u, ga, gzi, need_a, need_zi, conj, sgn, L):
    B, T = g.shape
    M = order(a)
    C = (T + L - 1) // L
    dt = u.dtype
    maps = np.zeros((B, C, M + 1, M + 1), dt)  # per chunk: [h | Q^], lambda[t0] from lambda[t1]
    E = np.zeros((B, C), np.int64)  # per chunk: the exponent of Q
    for job in prange(B * C):
        b, c = job // C, job % C
        E[b, c] = _map_segment(g, a, b, c * L, min(T, c * L + L), conj, sgn, maps[b, c])
    S = np.zeros((B, C, M + 1), dt)  # lambda[t1] entering every chunk from the right
    for b in prange(B):
        s = np.zeros(M + 1, dt)
        for c in range(C - 1, -1, -1):
            S[b, c] = s
            s = affine_scaled(maps[b, c, :, 1:], E[b, c], s[:M], maps[b, c, :, 0])
    for job in prange(B * C):
        b, c = job // C, job % C
        lam = S[b, c].copy()
        _walk_writing(g, a, y, zi, u, ga, b, c * L, min(T, c * L + L), lam, need_a, conj, sgn)
        if c == 0 and need_zi:
            _zi_step(a, lam, gzi, b, conj, sgn)


rev_chunked, rev_chunked_serial = jit_twins(_chunked_py, "_rev_chunked")
