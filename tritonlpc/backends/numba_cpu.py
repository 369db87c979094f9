"""Numba CPU backend: fused all-pole forward and single-pass fused backward.

Implements the contract of :mod:`tritonlpc.backends` on CPU tensors (:class:`NumbaBackend`, one
instance :data:`BACKEND`) (float32, float64,
complex64, complex128; one kernel body for all, compiled per dtype on first use and cached on
disk, so a new process does not recompile). Tensors are viewed as NumPy arrays with their own
strides: an expanded (stride-0) ``a`` is read in place, never copied. Conjugation and negation
of ``a`` happen in registers.

Schedules (chosen per call by :func:`_pick_schedule`, or forced with ``schedule=``):

``"rows"``
    Parallel over batch rows (``prange``); each thread walks its rows through time, two rows
    at a time so that two independent dependency chains overlap (the recursion is
    latency-bound, not throughput-bound). Orders 1 and 2 have specialised kernels that keep
    the state in registers; any order keeps the two newest outputs in registers. Taps are
    summed oldest first with fused multiply-adds (``fastmath={"contract"}``, no
    reassociation), so one multiply-add separates an output from the next. This changes the
    rounding; against the float64 reference the error is the same or smaller than with the
    unfused newest-first sum (``bench/rounding.py``, B = 4, T = 4096, M = 1, 2, 3, 8, forward
    and reverse: float32 max error / max(|y|, 1) from 0.7-4.6e-7 to 0.5-2.4e-7; complex64
    the same or smaller in every case).
``"chunked"``
    Parallel over time as well, for small batches on many cores: time is cut into chunks;
    (1) per chunk, in parallel, the zero-state end state and the M x M transition (from M
    impulse responses); (2) per row, a short sequential carry across chunks starting from
    ``zi`` (or from the zero state at the end, for the reverse filter); (3) per chunk, in
    parallel, the outputs re-run from the carried state. It does about ``M + 2`` times the
    work of ``"rows"``, so it only pays when cores outnumber rows by more than that.

    Rounding: the chunked schedule sums in another order than the sequential one, and the
    automatic choice (schedule and ``chunk_len``) depends on ``numba.get_num_threads()``, so
    results can differ in the last bits with the thread count (within the tested tolerances:
    float32 2e-4, float64 1e-9 of the largest output). Force ``schedule``/``chunk_len`` for
    results that do not depend on it.

    Unstable filters: the map of a chunk over which the filter is unstable can overflow (inf,
    or NaN from inf - inf). A zero state carried through it stays exactly zero (see
    :func:`_affine`), so wherever the sequential recursion stays finite because its state is
    zero (silent input over an unstable stretch, an all-zero input) the chunked schedule gives
    the same finite result. What remains different: a *nonzero* state entering an overflowing
    map gives inf/NaN for the rest of the row, where the sequential recursion overflows too
    but may hold finite values for some samples longer, or stay finite if the state lies
    exactly on a decaying mode of an otherwise growing filter.

Backward (``backward``/``reverse``) runs the adjoint filter in its transposed direct form,
which reads only row ``n+1`` of ``a`` at step ``n``::

    lam_j[n] = g[n] [j == 0] - conj(A[n+1, j]) u[n+1] + lam_{j+1}[n+1],    u[n] = lam_0[n]

writing ``grad_a[n, j] = -u[n] conj(y[n-1-j])`` in the same pass, and
``grad_zi[j] = -conj(A[0, j]) u[0] + lam_{j+1}[0]`` (one more step) at the end.
"""

from __future__ import annotations

import functools
from typing import Optional, Tuple

import numba
import numpy as np
import torch
from numba import prange
from torch import Tensor

from ._numba_smooth import smooth_rows, smooth_rows_serial
from ._numba_support import jit, launch, launch_parallel, parallel_allowed, variant
from .base import Backend

__all__ = ["NumbaBackend", "BACKEND"]


# --------------------------------------------------------------------------- helpers
@jit(inline="always")
def _coef(c, conj, sgn):
    c = c * sgn
    return c.conjugate() if conj else c


@jit
def _affine(P, s, h):
    """P @ s + h for a small square matrix (no BLAS), where a zero ``s[j]`` contributes exactly
    zero: the map ``P`` of an unstable stretch can overflow (inf, or NaN from inf - inf), and a
    zero state carried through it must stay zero, as in the sequential recursion, which never
    forms ``P`` (``inf * 0`` would be NaN)."""
    out = h.copy()
    for j in range(P.shape[1]):
        sj = s[j]
        if sj != 0:
            for i in range(P.shape[0]):
                out[i] += P[i, j] * sj
    return out


# --------------------------------------------------------------------------- forward, rows
@jit
def _fwd_rows_any(x, a, zi, y, b0, b1, conj, sgn):
    """Order M >= 2: ``y[b, n] = x[b, n] - sum_i A[b, n, i] y[b, n-1-i]`` for row ``b0``, and
    row ``b1`` advanced together with it unless ``b1 == b0`` (two independent dependency
    chains in flight: about twice the rows in the time of one).

    The taps are summed oldest first and the two newest outputs stay in registers, so the
    dependency chain from one output to the next is one multiply-add: the older taps (read
    back from ``y``) are summed while the previous output is still being computed.
    """
    T = x.shape[1]
    M = a.shape[2]
    two = b1 != b0  # loop-invariant: the compiler keeps a one-row and a two-row loop
    for b in (b0, b1):
        for n in range(min(M, T)):  # head: history partly from zi
            acc = x[b, n]
            for i in range(M - 1, -1, -1):
                k = n - 1 - i
                prev = y[b, k] if k >= 0 else zi[b, -k - 1]
                acc -= _coef(a[b, n, i], conj, sgn) * prev
            y[b, n] = acc
    if T <= M:
        return
    p0, q0 = y[b0, M - 1], y[b0, M - 2]  # y[n-1], y[n-2]
    p1, q1 = y[b1, M - 1], y[b1, M - 2]
    for n in range(M, T):
        acc0 = x[b0, n]
        acc1 = x[b1, n]
        for i in range(M - 1, 1, -1):
            acc0 -= _coef(a[b0, n, i], conj, sgn) * y[b0, n - 1 - i]
            if two:
                acc1 -= _coef(a[b1, n, i], conj, sgn) * y[b1, n - 1 - i]
        acc0 -= _coef(a[b0, n, 1], conj, sgn) * q0
        acc0 -= _coef(a[b0, n, 0], conj, sgn) * p0
        y[b0, n] = acc0
        q0, p0 = p0, acc0
        if two:
            acc1 -= _coef(a[b1, n, 1], conj, sgn) * q1
            acc1 -= _coef(a[b1, n, 0], conj, sgn) * p1
            y[b1, n] = acc1
            q1, p1 = p1, acc1


@jit
def _fwd_pair_m1(x, a, zi, y, b0, b1, conj, sgn):
    """Two rows of order 1 advanced together (two independent dependency chains)."""
    T = x.shape[1]
    s0 = zi[b0, 0]
    s1 = zi[b1, 0]
    for n in range(T):
        s0 = x[b0, n] - _coef(a[b0, n, 0], conj, sgn) * s0
        s1 = x[b1, n] - _coef(a[b1, n, 0], conj, sgn) * s1
        y[b0, n] = s0
        y[b1, n] = s1


@jit
def _fwd_pair_m2(x, a, zi, y, b0, b1, conj, sgn):
    """Two rows of order 2 advanced together, state in registers."""
    T = x.shape[1]
    p0, q0 = zi[b0, 0], zi[b0, 1]  # y[n-1], y[n-2]
    p1, q1 = zi[b1, 0], zi[b1, 1]
    for n in range(T):
        # older tap first: the chain from y[n-1] to y[n] is one multiply-add
        v0 = x[b0, n] - _coef(a[b0, n, 1], conj, sgn) * q0 - _coef(a[b0, n, 0], conj, sgn) * p0
        v1 = x[b1, n] - _coef(a[b1, n, 1], conj, sgn) * q1 - _coef(a[b1, n, 0], conj, sgn) * p1
        q0, p0 = p0, v0
        q1, p1 = p1, v1
        y[b0, n] = v0
        y[b1, n] = v1


@jit
def _fwd_one_m1(x, a, zi, y, b, conj, sgn):
    T = x.shape[1]
    s = zi[b, 0]
    for n in range(T):
        s = x[b, n] - _coef(a[b, n, 0], conj, sgn) * s
        y[b, n] = s


@jit
def _fwd_one_m2(x, a, zi, y, b, conj, sgn):
    T = x.shape[1]
    p, q = zi[b, 0], zi[b, 1]
    for n in range(T):
        v = x[b, n] - _coef(a[b, n, 1], conj, sgn) * q - _coef(a[b, n, 0], conj, sgn) * p
        q, p = p, v
        y[b, n] = v


def _fwd_rows_py(x, a, zi, y, conj, sgn):
    B = x.shape[0]
    M = a.shape[2]
    for p in prange((B + 1) // 2):
        b0 = 2 * p
        b1 = min(b0 + 1, B - 1)  # odd B: the last row alone
        if M == 1:
            if b1 > b0:
                _fwd_pair_m1(x, a, zi, y, b0, b1, conj, sgn)
            else:
                _fwd_one_m1(x, a, zi, y, b0, conj, sgn)
        elif M == 2:
            if b1 > b0:
                _fwd_pair_m2(x, a, zi, y, b0, b1, conj, sgn)
            else:
                _fwd_one_m2(x, a, zi, y, b0, conj, sgn)
        else:
            _fwd_rows_any(x, a, zi, y, b0, b1, conj, sgn)


# Parallel for real work; serial for small calls, where waking the thread pool costs more
# than the filtering (prange runs as range there).
_fwd_rows = jit(parallel=True)(variant(_fwd_rows_py, "_fwd_rows"))
_fwd_rows_serial = jit(variant(_fwd_rows_py, "_fwd_rows_serial"))


# --------------------------------------------------------------------------- forward, chunked
@jit
def _fwd_segment(x, a, b, t0, t1, state, use_x, conj, sgn, buf):
    """Run times [t0, t1) of row b from ``state`` = (y[t0-1], ..., y[t0-M]).

    ``buf`` (length >= M + t1 - t0) receives the history then the outputs; ``state`` is
    overwritten with the end state (y[t1-1], ..., y[t1-M]). With ``use_x`` false the input
    is taken as zero (homogeneous response).
    """
    M = a.shape[2]
    L = t1 - t0
    zero = np.zeros(1, buf.dtype)[0]
    for k in range(M):
        buf[M - 1 - k] = state[k]
    for t in range(L):
        acc = x[b, t0 + t] if use_x else zero
        for i in range(M - 1, -1, -1):
            acc -= _coef(a[b, t0 + t, i], conj, sgn) * buf[M + t - 1 - i]
        buf[M + t] = acc
    for k in range(M):
        state[k] = buf[M + L - 1 - k]


def _fwd_chunked_py(x, a, zi, y, conj, sgn, L):
    B, T = x.shape
    M = a.shape[2]
    C = (T + L - 1) // L
    dt = y.dtype
    h = np.zeros((B, C, M), dt)  # zero-state end states
    P = np.zeros((B, C, M, M), dt)  # transitions: column j = end state from unit state e_j
    for job in prange(B * C):
        b, c = job // C, job % C
        t0, t1 = c * L, min(T, c * L + L)
        buf = np.empty(M + L, dt)
        st = np.zeros(M, dt)
        _fwd_segment(x, a, b, t0, t1, st, True, conj, sgn, buf)
        h[b, c] = st
        for j in range(M):
            st[:] = 0
            st[j] = 1
            _fwd_segment(x, a, b, t0, t1, st, False, conj, sgn, buf)
            P[b, c, :, j] = st
    S = np.zeros((B, C, M), dt)  # start state of every chunk
    for b in prange(B):
        s = zi[b].copy()
        for c in range(C):
            S[b, c] = s
            s = _affine(P[b, c], s, h[b, c])
    for job in prange(B * C):
        b, c = job // C, job % C
        t0, t1 = c * L, min(T, c * L + L)
        buf = np.empty(M + L, dt)
        st = S[b, c].copy()
        _fwd_segment(x, a, b, t0, t1, st, True, conj, sgn, buf)
        for t in range(t1 - t0):
            y[b, t0 + t] = buf[M + t]


_fwd_chunked = jit(parallel=True)(variant(_fwd_chunked_py, "_fwd_chunked"))
_fwd_chunked_serial = jit(variant(_fwd_chunked_py, "_fwd_chunked_serial"))  # where parallel is unsafe


# --------------------------------------------------------------------------- backward / reverse
@jit
def _rev_segment(g, a, y, zi, u, ga, b, t0, t1, lam, use_g, write, need_a, conj, sgn):
    """Reverse filter over times [t1-1 .. t0] of row b, from ``lam`` = lambda[t1] (length M+1,
    last entry 0), left in ``lam`` as lambda[t0]. With ``write``: stores u and (``need_a``)
    grad_A = -u conj(y[n-1-j]). ``conj`` conjugates A in the recursion (the adjoint)."""
    T = g.shape[1]
    M = a.shape[2]
    zero = lam[M]  # lambda_M is always 0
    l0 = lam[0]  # lambda_0 lives in a register: one multiply-add from u[n+1] to u[n]
    for n in range(t1 - 1, t0 - 1, -1):
        un = l0  # u[n+1]
        gn = g[b, n] if use_g else zero
        if n + 1 < T:
            l0 = (gn + lam[1]) - _coef(a[b, n + 1, 0], conj, sgn) * un
            for j in range(1, M):
                lam[j] = lam[j + 1] - _coef(a[b, n + 1, j], conj, sgn) * un
        else:
            l0 = gn + lam[1]
            for j in range(1, M):
                lam[j] = lam[j + 1]
        if write:
            u[b, n] = l0
            if need_a:
                for j in range(M):
                    k = n - 1 - j
                    prev = y[b, k] if k >= 0 else zi[b, -k - 1]
                    ga[b, n, j] = -sgn * l0 * prev.conjugate()
    lam[0] = l0


@jit
def _rev_row(g, a, y, zi, u, ga, gzi, b, need_a, need_zi, conj, sgn):
    M = a.shape[2]
    lam = np.zeros(M + 1, u.dtype)
    _rev_segment(g, a, y, zi, u, ga, b, 0, g.shape[1], lam, True, True, need_a, conj, sgn)
    if need_zi:
        _zi_step(a, lam, gzi, b, g.shape[1], conj, sgn)


@jit
def _zi_step(a, lam, gzi, b, T, conj, sgn):
    """grad_zi[j] = -conj(A[0, j]) u[0] + lam_{j+1}[0] (gradient w.r.t. zi, not A)."""
    M = a.shape[2]
    u0 = lam[0]
    for j in range(M):
        gzi[b, j] = lam[j + 1] - _coef(a[b, 0, j], conj, sgn) * u0


@jit
def _rev_pair_m1(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn):
    """Two rows of order 1 together; fused grad_a and grad_zi."""
    T = g.shape[1]
    s0 = np.zeros(1, u.dtype)[0]
    s1 = s0
    for n in range(T - 1, -1, -1):
        if n + 1 < T:
            s0 = g[b0, n] - _coef(a[b0, n + 1, 0], conj, sgn) * s0
            s1 = g[b1, n] - _coef(a[b1, n + 1, 0], conj, sgn) * s1
        else:
            s0 = g[b0, n] + s0
            s1 = g[b1, n] + s1
        u[b0, n] = s0
        u[b1, n] = s1
        if need_a:
            p0 = y[b0, n - 1] if n > 0 else zi[b0, 0]
            p1 = y[b1, n - 1] if n > 0 else zi[b1, 0]
            ga[b0, n, 0] = -sgn * s0 * p0.conjugate()
            ga[b1, n, 0] = -sgn * s1 * p1.conjugate()
    if need_zi and T > 0:
        gzi[b0, 0] = -_coef(a[b0, 0, 0], conj, sgn) * s0
        gzi[b1, 0] = -_coef(a[b1, 0, 0], conj, sgn) * s1


@jit
def _rev_pair_m2(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn):
    """Two rows of order 2 together, lambda in registers; fused grad_a and grad_zi."""
    T = g.shape[1]
    l0a = np.zeros(1, u.dtype)[0]  # lambda_0, lambda_1 of row b0 (l*b: row b1)
    l1a = l0a
    l0b = l0a
    l1b = l0a
    for n in range(T - 1, -1, -1):
        if n + 1 < T:
            ua, ub = l0a, l0b
            l0a = g[b0, n] + l1a - _coef(a[b0, n + 1, 0], conj, sgn) * ua
            l1a = -_coef(a[b0, n + 1, 1], conj, sgn) * ua
            l0b = g[b1, n] + l1b - _coef(a[b1, n + 1, 0], conj, sgn) * ub
            l1b = -_coef(a[b1, n + 1, 1], conj, sgn) * ub
        else:
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
            ga[b0, n, 0] = -sgn * l0a * p0.conjugate()
            ga[b0, n, 1] = -sgn * l0a * q0.conjugate()
            ga[b1, n, 0] = -sgn * l0b * p1.conjugate()
            ga[b1, n, 1] = -sgn * l0b * q1.conjugate()
    if need_zi and T > 0:
        gzi[b0, 0] = l1a - _coef(a[b0, 0, 0], conj, sgn) * l0a
        gzi[b0, 1] = -_coef(a[b0, 0, 1], conj, sgn) * l0a
        gzi[b1, 0] = l1b - _coef(a[b1, 0, 0], conj, sgn) * l0b
        gzi[b1, 1] = -_coef(a[b1, 0, 1], conj, sgn) * l0b


def _rev_rows_py(g, a, y, zi, u, ga, gzi, need_a, need_zi, conj, sgn):
    B = g.shape[0]
    M = a.shape[2]
    if M <= 2:
        for p in prange((B + 1) // 2):
            b0 = 2 * p
            # Odd B: the last row is paired with itself (same values written twice). The pair is
            # latency-bound, so this costs nothing measurable (B=1, T=2^16, M=1 float32: 188 us
            # paired with itself vs 187 us for a single-row kernel) and saves two kernels' compiles.
            b1 = min(b0 + 1, B - 1)
            if M == 1:
                _rev_pair_m1(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn)
            else:
                _rev_pair_m2(g, a, y, zi, u, ga, gzi, b0, b1, need_a, need_zi, conj, sgn)
    else:
        for b in prange(B):
            _rev_row(g, a, y, zi, u, ga, gzi, b, need_a, need_zi, conj, sgn)


_rev_rows = jit(parallel=True)(variant(_rev_rows_py, "_rev_rows"))
_rev_rows_serial = jit(variant(_rev_rows_py, "_rev_rows_serial"))


def _rev_chunked_py(g, a, y, zi, u, ga, gzi, need_a, need_zi, conj, sgn, L):
    B, T = g.shape
    M = a.shape[2]
    C = (T + L - 1) // L
    dt = u.dtype
    h = np.zeros((B, C, M + 1), dt)  # zero-state lambda[t0] of each chunk
    Q = np.zeros((B, C, M + 1, M + 1), dt)  # column j: lambda[t0] from lambda[t1] = e_j
    for job in prange(B * C):
        b, c = job // C, job % C
        t0, t1 = c * L, min(T, c * L + L)
        lam = np.zeros(M + 1, dt)
        _rev_segment(g, a, y, zi, u, ga, b, t0, t1, lam, True, False, False, conj, sgn)
        h[b, c] = lam
        for j in range(M):
            lam[:] = 0
            lam[j] = 1
            _rev_segment(g, a, y, zi, u, ga, b, t0, t1, lam, False, False, False, conj, sgn)
            Q[b, c, :, j] = lam
    S = np.zeros((B, C, M + 1), dt)  # lambda[t1] entering every chunk from the right
    for b in prange(B):
        s = np.zeros(M + 1, dt)
        for c in range(C - 1, -1, -1):
            S[b, c] = s
            s = _affine(Q[b, c], s, h[b, c])
    for job in prange(B * C):
        b, c = job // C, job % C
        t0, t1 = c * L, min(T, c * L + L)
        lam = S[b, c].copy()
        _rev_segment(g, a, y, zi, u, ga, b, t0, t1, lam, True, True, need_a, conj, sgn)
        if c == 0 and need_zi:
            _zi_step(a, lam, gzi, b, T, conj, sgn)


_rev_chunked = jit(parallel=True)(variant(_rev_chunked_py, "_rev_chunked"))
_rev_chunked_serial = jit(variant(_rev_chunked_py, "_rev_chunked_serial"))


# --------------------------------------------------------------------------- schedule + wrappers
def _threads() -> int:
    """Threads a parallel kernel would use here (1 where parallel kernels cannot run)."""
    return numba.get_num_threads() if parallel_allowed() else 1


def _pick_schedule(B: int, T: int, M: int, schedule: Optional[str], chunk_len: Optional[int]) -> Tuple[str, int]:
    threads = _threads()
    if schedule is None:
        # The chunked form does ~(M + 2)x the work; it pays when idle cores outnumber that.
        rows_busy = (B + 1) // 2
        schedule = "chunked" if T >= _CHUNKED_FROM and threads >= (M + 3) * max(rows_busy, 1) else "rows"
    if schedule not in ("rows", "chunked"):
        raise ValueError(f"schedule must be 'rows' or 'chunked', got {schedule!r}")
    if chunk_len is None:
        chunk_len = max(256, -(-T * max(B, 1) // (4 * threads)))
    if chunk_len < 1:
        raise ValueError(f"chunk_len must be >= 1, got {chunk_len}")
    return schedule, int(chunk_len)


_SERIAL_BELOW = 1 << 15  # samples x order under which one thread beats waking the pool
_CHUNKED_FROM = 4096  # shorter signals are never split in time


def _parallel_pays(B: int, T: int, M: int) -> bool:
    return B > 1 and B * T * M >= _SERIAL_BELOW and _threads() > 1


def _np(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of ``t`` (same memory and strides; lazy conjugate/negative bits resolved)."""
    if t.requires_grad:
        t = t.detach()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    return t.numpy()


@functools.cache
def _sign(dtype: torch.dtype, negative: bool):
    """-1 or +1 as a NumPy scalar of the real dtype matching ``dtype`` (keeps float32 kernels in float32)."""
    real = dtype.to_real() if dtype.is_complex else dtype
    return torch.tensor(-1.0 if negative else 1.0, dtype=real).numpy()[()]


@functools.cache
def _dummy(dtype: torch.dtype, ndim: int) -> np.ndarray:
    """A stand-in for an array the kernel is told not to touch (never written)."""
    return torch.zeros((1,) * ndim, dtype=dtype).numpy()


def _small(B: int, T: int, M: int, schedule: Optional[str], chunk_len: Optional[int]) -> bool:
    """Too small for anything but one thread walking the rows (decided without asking Numba
    for its thread count: that alone costs as much as a tenth of such a call)."""
    return schedule is None and chunk_len is None and T < _CHUNKED_FROM and B * T * M < _SERIAL_BELOW


# (rows, rows on one thread, chunked, chunked on one thread)
_FORWARD = (_fwd_rows, _fwd_rows_serial, _fwd_chunked, _fwd_chunked_serial)
_REVERSE = (_rev_rows, _rev_rows_serial, _rev_chunked, _rev_chunked_serial)


def _run(
    kernels: Tuple, B: int, T: int, M: int, schedule: Optional[str], chunk_len: Optional[int], args: Tuple
) -> None:
    """Launch one of ``kernels`` (``_FORWARD`` or ``_REVERSE``) on ``args`` with this call's schedule."""
    rows, rows_serial, chunked, chunked_serial = kernels
    if _small(B, T, M, schedule, chunk_len):
        launch(rows_serial, *args)
        return
    sched, L = _pick_schedule(B, T, M, schedule, chunk_len)
    if sched == "chunked":
        launch_parallel(chunked, chunked_serial, *args, L)
    elif _parallel_pays(B, T, M):
        launch_parallel(rows, rows_serial, *args)
    else:
        launch(rows_serial, *args)


class NumbaBackend(Backend):
    """The Numba CPU backend (:class:`tritonlpc.backends.base.Backend` on CPU tensors).

    Kernel knobs (keyword arguments of ``forward``/``backward``/``reverse``): ``schedule``
    (``"rows"`` | ``"chunked"``) and ``chunk_len`` override the automatic choice.
    """

    name = "numba"
    supports_half = False

    def _empty(self, like: torch.Tensor, shape: Tuple[int, ...], dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        # CPU only: no device to pass; torch parses unpacked sizes faster than a tuple (~0.5 us)
        return torch.empty(*shape, dtype=like.dtype if dtype is None else dtype)

    def _forward(  # type: ignore[override]  # takes only its own knobs, not the base's **knobs: Any
        self,
        x: Tensor,
        a: Tensor,
        zi: Tensor,
        y: Tensor,
        conj_a: bool,
        neg_a: bool,
        *,
        schedule: Optional[str] = None,
        chunk_len: Optional[int] = None,
    ) -> None:
        B, T, M = a.shape
        args = (_np(x), _np(a), _np(zi), y.numpy(), conj_a, _sign(x.dtype, neg_a))
        _run(_FORWARD, B, T, M, schedule, chunk_len, args)

    def _adjoint(  # type: ignore[override]  # takes only its own knobs, not the base's **knobs: Any
        self,
        g: Tensor,
        a: Tensor,
        y: Optional[Tensor],
        zi: Optional[Tensor],
        u: Tensor,
        grad_a: Optional[Tensor],
        grad_zi: Optional[Tensor],
        conj_a: bool,
        neg_a: bool,
        *,
        schedule: Optional[str] = None,
        chunk_len: Optional[int] = None,
    ) -> None:
        B, T, M = a.shape
        need_a, need_zi = grad_a is not None, grad_zi is not None
        args = (
            _np(g),
            _np(a),
            _np(y) if need_a else _dummy(g.dtype, 2),  # type: ignore[arg-type]  # need_a: Backend.backward checked y, zi
            _np(zi) if need_a else _dummy(g.dtype, 2),  # type: ignore[arg-type]
            u.numpy(),
            grad_a.numpy() if need_a else _dummy(g.dtype, 3),  # type: ignore[union-attr]  # need_a: grad_a is given
            grad_zi.numpy() if need_zi else _dummy(g.dtype, 2),  # type: ignore[union-attr]  # need_zi: grad_zi is given
            need_a,
            need_zi,
            conj_a,
            _sign(g.dtype, neg_a),
        )
        _run(_REVERSE, B, T, M, schedule, chunk_len, args)

    def _smooth(self, f: Tensor, at: Tensor, rt: Tensor, zi: Tensor, g: Tensor, zeta: Tensor) -> None:
        B = f.shape[0]
        out = g.numpy()
        one = np.ones(1, dtype=out.dtype)[0]
        args = (*(t.detach().numpy() for t in (f, at, rt, zi)), out, zeta.view(torch.uint8).numpy(), one)
        if B > 1:
            launch_parallel(smooth_rows, smooth_rows_serial, *args)
        else:  # one row: waking the thread pool only costs
            launch(smooth_rows_serial, *args)


BACKEND = NumbaBackend()
"""The backend object (:func:`tritonlpc._dispatch.backend_object` returns it for CPU tensors)."""
