"""Numba CPU kernels of time-invariant IIR filters: one pass over the signal, forward and backward.

Used by :mod:`tritonlpc.signal` on CPU tensors (eager; ``tritonlpc/signal/_onepass.py`` holds
the autograd Functions). Each row walks time once in scipy's transposed direct form II, the
coefficients read once (orders up to 4 and groups of four sections: coefficients and states in
registers, two rows walked together so that two dependency chains overlap):

* ``tdf2_rows``: one filter of order ``N`` (``b``, ``a`` normalised, padded to ``N + 1``),
  ``y[n] = b[0] x[n] + z[0]``, ``z[i] = b[i+1] x[n] + z[i+1] - a[i+1] y[n]``; orders up to 4
  padded to 4 with the state in registers;
* ``sos_rows``: a cascade of second-order sections ``[b0, b1, b2, 1, a1, a2]``, every
  section's two state values updated per sample before the next sample is read; run as
  passes of four sections with every state in registers (fewer padded with pass-through
  sections ``[1, 0, 0, 1, 0, 0]``, which add exact zeros);
* the vector lanes (:mod:`._numba_lti_lanes`): real rows :data:`LANES` at a time, both
  filters, forward and backward (the row kernels' math, one lane a row); fewer long real rows
  without a backward each as :data:`LANES` chunks of itself chained by the chunk map ``A^L``.
  The row kernels here take the complex rows and the rows past a multiple of :data:`LANES`.

The backward (``*_adjoint``) is one reverse walk of the adjoint recursion (derived above the
adjoint kernels), reading the forward's input and output (and, for a cascade, the sections'
inputs kept by the forward, or recomputed by the lanes from checkpoints), with the coefficient
gradients summed over time in the kernel. ``x`` and ``y`` (and ``g``, ``gx``) may be reversed
views: the filter then runs from the last sample to the first without a copy (``filtfilt``'s
second pass).

The state ``z`` is read as the initial state and overwritten with the final one. Coefficient
arrays hold one row (``step = 0``: one filter for all rows) or one row per signal row
(``step = 1``). Rows run in parallel (:func:`._numba_support.launch_parallel`) from
:data:`._numba_lti_lanes.PARALLEL_FROM` samples a call on, else on one thread.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np
from numba import prange

from ._numba_lti_lanes import (
    LANES,
    chunked,
    launch_rows,
    sos_checkpoints,
    sos_lanes,
    sos_lanes_adjoint,
    tdf2_lanes_adjoint,
)
from ._numba_support import jit, jit_twins

__all__ = ["tdf2", "tdf2_adjoint", "sos_cascade", "sos_cascade_adjoint", "Saved", "CHUNKED_FROM"]


def _tdf2_rows_py(b, a, x, z, y, step):  # pragma: no cover - compiled
    R, T = x.shape
    N = z.shape[1]
    for r in prange(R):
        c = r * step
        bc = b[c].copy()  # row-local copies: no aliasing with x and y
        ac = a[c].copy()
        s = z[r].copy()
        b0 = bc[0]
        for t in range(T):
            xt = x[r, t]
            yt = b0 * xt + s[0]
            for i in range(N - 1):
                s[i] = bc[i + 1] * xt + s[i + 1] - ac[i + 1] * yt
            s[N - 1] = bc[N] * xt - ac[N] * yt
            y[r, t] = yt
        z[r] = s


@jit(inline="always")
def _tdf2_step4(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3):  # pragma: no cover - compiled
    """One sample ``v`` through the order-4 form: ``(out, s0, s1, s2, s3)`` (new state)."""
    o = b0 * v + s0
    return o, b1 * v + s1 - a1 * o, b2 * v + s2 - a2 * o, b3 * v + s3 - a3 * o, b4 * v - a4 * o


@jit
def _tdf2_order4_pair(b, a, x, z, y, c, d, r, q):  # pragma: no cover - compiled
    # rows r and q (coefficient rows c and d) in one walk: two independent dependency chains
    # overlap (the recursion is latency-bound); q == r for an odd last row
    b0, b1, b2, b3, b4 = b[c, 0], b[c, 1], b[c, 2], b[c, 3], b[c, 4]
    a1, a2, a3, a4 = a[c, 1], a[c, 2], a[c, 3], a[c, 4]
    e0, e1, e2, e3, e4 = b[d, 0], b[d, 1], b[d, 2], b[d, 3], b[d, 4]
    f1, f2, f3, f4 = a[d, 1], a[d, 2], a[d, 3], a[d, 4]
    s0, s1, s2, s3 = z[r, 0], z[r, 1], z[r, 2], z[r, 3]
    u0, u1, u2, u3 = z[q, 0], z[q, 1], z[q, 2], z[q, 3]
    for t in range(x.shape[1]):
        y[r, t], s0, s1, s2, s3 = _tdf2_step4(b0, b1, b2, b3, b4, a1, a2, a3, a4, x[r, t], s0, s1, s2, s3)
        y[q, t], u0, u1, u2, u3 = _tdf2_step4(e0, e1, e2, e3, e4, f1, f2, f3, f4, x[q, t], u0, u1, u2, u3)
    z[r, 0], z[r, 1], z[r, 2], z[r, 3] = s0, s1, s2, s3
    z[q, 0], z[q, 1], z[q, 2], z[q, 3] = u0, u1, u2, u3


def _tdf2_order4_rows_py(b, a, x, z, y, step):  # pragma: no cover - compiled
    # orders 1..4 padded to 4 (zero coefficients add exact zeros): the state in registers,
    # rows in pairs
    R = x.shape[0]
    for p in prange((R + 1) // 2):
        r, q = 2 * p, min(2 * p + 1, R - 1)
        _tdf2_order4_pair(b, a, x, z, y, r * step, q * step, r, q)


@jit(inline="always")
def _section(c, v, s0, s1):  # pragma: no cover - compiled
    """One second-order section ``c = (b0, b1, b2, a1, a2)`` on one sample ``v``: ``(out, s0,
    s1)`` (new state; one multiply-add from the output to the next state)."""
    o = c[0] * v + s0
    return o, c[1] * v + s1 - c[3] * o, c[2] * v - c[4] * o


@jit(inline="always")
def _sos4_step(c, v, s):  # pragma: no cover - compiled
    """One sample ``v`` through four sections ``c`` (4 tuples ``(b0, b1, b2, a1, a2)``) from the
    states ``s`` (8 values): ``(out, h1, h2, h3, s)``, ``h`` the inputs of sections 1-3."""
    h1, s0, s1 = _section(c[0], v, s[0], s[1])
    h2, s2, s3 = _section(c[1], h1, s[2], s[3])
    h3, s4, s5 = _section(c[2], h2, s[4], s[5])
    o, s6, s7 = _section(c[3], h3, s[6], s[7])
    return o, h1, h2, h3, (s0, s1, s2, s3, s4, s5, s6, s7)


@jit(inline="always")
def _sos4_load(q, c, z, r):  # pragma: no cover - compiled
    """The four sections of coefficient row ``c`` as tuples, and row ``r``'s eight states."""
    k = (
        (q[c, 0, 0], q[c, 0, 1], q[c, 0, 2], q[c, 0, 4], q[c, 0, 5]),
        (q[c, 1, 0], q[c, 1, 1], q[c, 1, 2], q[c, 1, 4], q[c, 1, 5]),
        (q[c, 2, 0], q[c, 2, 1], q[c, 2, 2], q[c, 2, 4], q[c, 2, 5]),
        (q[c, 3, 0], q[c, 3, 1], q[c, 3, 2], q[c, 3, 4], q[c, 3, 5]),
    )
    s = (z[r, 0, 0], z[r, 0, 1], z[r, 1, 0], z[r, 1, 1], z[r, 2, 0], z[r, 2, 1], z[r, 3, 0], z[r, 3, 1])
    return k, s


@jit(inline="always")
def _sos4_store(z, r, s):  # pragma: no cover - compiled
    z[r, 0, 0], z[r, 0, 1], z[r, 1, 0], z[r, 1, 1] = s[0], s[1], s[2], s[3]
    z[r, 2, 0], z[r, 2, 1], z[r, 3, 0], z[r, 3, 1] = s[4], s[5], s[6], s[7]


@jit
def _sos4_pair(q, x, z, y, keep, c, d, r, u):  # pragma: no cover - compiled
    # rows r and u (coefficient rows c and d) walked together, every state and coefficient in
    # registers; u == r for an odd last row. The inputs of sections 1-3 go to keep (3, R, T)
    # for the backward when keep is not empty.
    save = keep.shape[0] > 0
    k, s = _sos4_load(q, c, z, r)
    m, w = _sos4_load(q, d, z, u)
    for t in range(x.shape[1]):
        y[r, t], h1, h2, h3, s = _sos4_step(k, x[r, t], s)
        y[u, t], g1, g2, g3, w = _sos4_step(m, x[u, t], w)
        if save:
            keep[0, r, t], keep[1, r, t], keep[2, r, t] = h1, h2, h3
            keep[0, u, t], keep[1, u, t], keep[2, u, t] = g1, g2, g3
    _sos4_store(z, r, s)
    _sos4_store(z, u, w)


def _sos4_rows_py(q, x, z, y, keep, step):  # pragma: no cover - compiled
    # four sections in one pass, rows in pairs
    R = x.shape[0]
    for p in prange((R + 1) // 2):
        r, u = 2 * p, min(2 * p + 1, R - 1)
        _sos4_pair(q, x, z, y, keep, r * step, u * step, r, u)


# --------------------------------------------------------------------------- adjoints
# The adjoint of the transposed direct form II runs back in time with the "error" signal
# e[n] = g[n] - sum_k conj(a[k]) e[n+k] (the reverse all-pole filter of the output gradient g;
# e[T+i] = gzf[i]); then gx[n] = sum_k conj(b[k]) e[n+k], db[k] = sum_n e[n+k] conj(x[n]),
# da[k] = -sum_n e[n+k] conj(y[n]) (y: the saved output), dzi[i] = e[i]. The state l holds
# (e[n+1], ..., e[n+N]); the lags are summed oldest first, so one multiply-add separates e[n]
# from e[n+1]. Coefficient sums are reduced over time in the kernel, in the dtype of the
# gradient arrays (float64 / complex128 for every input dtype).


def _tdf2_adjoint_rows_py(b, a, x, y, g, z, gx, gb, ga, step):  # pragma: no cover - compiled
    # b, a: conjugated coefficients; z: gzf in, gzi out; gb, ga: zeros in, per-row sums out
    R, T = x.shape
    N = z.shape[1]
    for r in prange(R):
        c = r * step
        bc = b[c].copy()
        ac = a[c].copy()
        lag = z[r].copy()
        kb = gb[r].copy()
        ka = ga[r].copy()
        for t in range(T - 1, -1, -1):
            e = g[r, t]
            h = bc[N] * lag[N - 1]
            for i in range(N - 1, -1, -1):
                e -= ac[i + 1] * lag[i]
            for i in range(N - 2, -1, -1):
                h += bc[i + 1] * lag[i]
            gx[r, t] = bc[0] * e + h
            xc, yc = x[r, t].conjugate(), y[r, t].conjugate()
            kb[0] += e * xc
            for i in range(N):
                kb[i + 1] += lag[i] * xc
                ka[i + 1] -= lag[i] * yc
            for i in range(N - 1, 0, -1):
                lag[i] = lag[i - 1]
            lag[0] = e
        z[r] = lag
        gb[r] = kb
        ga[r] = ka


@jit
def _tdf2_order4_adjoint_row(b, a, x, y, g, z, gx, gb, ga, c, r):  # pragma: no cover - compiled
    # orders 1..4 padded to 4, everything in registers
    b0, b1, b2, b3, b4 = b[c, 0], b[c, 1], b[c, 2], b[c, 3], b[c, 4]
    a1, a2, a3, a4 = a[c, 1], a[c, 2], a[c, 3], a[c, 4]
    l0, l1, l2, l3 = z[r, 0], z[r, 1], z[r, 2], z[r, 3]
    kb0, kb1, kb2, kb3, kb4 = gb[r, 0], gb[r, 1], gb[r, 2], gb[r, 3], gb[r, 4]
    ka1, ka2, ka3, ka4 = ga[r, 1], ga[r, 2], ga[r, 3], ga[r, 4]
    for t in range(x.shape[1] - 1, -1, -1):
        e = g[r, t] - a4 * l3 - a3 * l2 - a2 * l1 - a1 * l0
        gx[r, t] = b4 * l3 + b3 * l2 + b2 * l1 + b1 * l0 + b0 * e
        xc, yc = x[r, t].conjugate(), y[r, t].conjugate()
        kb0, kb1, kb2, kb3, kb4 = kb0 + e * xc, kb1 + l0 * xc, kb2 + l1 * xc, kb3 + l2 * xc, kb4 + l3 * xc
        ka1, ka2, ka3, ka4 = ka1 - l0 * yc, ka2 - l1 * yc, ka3 - l2 * yc, ka4 - l3 * yc
        l0, l1, l2, l3 = e, l0, l1, l2
    z[r, 0], z[r, 1], z[r, 2], z[r, 3] = l0, l1, l2, l3
    gb[r, 0], gb[r, 1], gb[r, 2], gb[r, 3], gb[r, 4] = kb0, kb1, kb2, kb3, kb4
    ga[r, 1], ga[r, 2], ga[r, 3], ga[r, 4] = ka1, ka2, ka3, ka4


def _tdf2_order4_adjoint_rows_py(b, a, x, y, g, z, gx, gb, ga, step):  # pragma: no cover - compiled
    for r in prange(x.shape[0]):
        _tdf2_order4_adjoint_row(b, a, x, y, g, z, gx, gb, ga, r * step, r)


@jit(inline="always")
def _section_adjoint(c, k, g, v, o, l0, l1):  # pragma: no cover - compiled
    """The adjoint of one section (conjugated coefficients ``c = (b0, b1, b2, a1, a2)``) on one
    sample going back in time: ``g`` the gradient of its output ``o``, ``v`` its input, ``(l0,
    l1)`` its lags. Returns ``(gv, l0, l1, k)``: the gradient of ``v``, the new lags and the
    coefficient sums ``k`` (``b0, b1, b2, a1, a2``) updated."""
    e = g - c[4] * l1 - c[3] * l0
    vc, oc = v.conjugate(), o.conjugate()
    k = (k[0] + e * vc, k[1] + l0 * vc, k[2] + l1 * vc, k[3] - l0 * oc, k[4] - l1 * oc)
    return c[2] * l1 + c[1] * l0 + c[0] * e, e, l0, k


@jit
def _sos4_adjoint_row(q, c, x, keep, y, g, z, gx, gq, r):  # pragma: no cover - compiled
    # one row (the tuples of sums stay out of the parallel loop, whose array analysis takes
    # tuples for shapes)
    (c0, c1, c2, c3), (l00, l01, l10, l11, l20, l21, l30, l31) = _sos4_load(q, c, z, r)
    zero = gq[r, 0, 0]
    k0 = k1 = k2 = k3 = (zero, zero, zero, zero, zero)
    for t in range(x.shape[1] - 1, -1, -1):
        h1, h2, h3 = keep[0, r, t], keep[1, r, t], keep[2, r, t]
        d, l30, l31, k3 = _section_adjoint(c3, k3, g[r, t], h3, y[r, t], l30, l31)
        d, l20, l21, k2 = _section_adjoint(c2, k2, d, h2, h3, l20, l21)
        d, l10, l11, k1 = _section_adjoint(c1, k1, d, h1, h2, l10, l11)
        gx[r, t], l00, l01, k0 = _section_adjoint(c0, k0, d, x[r, t], h1, l00, l01)
    _sos4_store(z, r, (l00, l01, l10, l11, l20, l21, l30, l31))
    for s, k in enumerate((k0, k1, k2, k3)):
        gq[r, s, 0], gq[r, s, 1], gq[r, s, 2], gq[r, s, 4], gq[r, s, 5] = k


def _sos4_adjoint_rows_py(q, x, keep, y, g, z, gx, gq, step):  # pragma: no cover - compiled
    # four sections back in time, the gradient of each section's output is the next one's input
    # gradient; x: input of section 0, keep (3, R, T): inputs of sections 1-3, y: the output;
    # q: conjugated coefficients; z: gzf in, gzi out; gq (R, 4, 6): zeros in, per-row sums out
    for r in prange(x.shape[0]):
        _sos4_adjoint_row(q, r * step, x, keep, y, g, z, gx, gq, r)


_tdf2_par, _tdf2_ser = jit_twins(_tdf2_rows_py, "_lti_tdf2_rows")
_tdf2_4_par, _tdf2_4_ser = jit_twins(_tdf2_order4_rows_py, "_lti_tdf2_order4_rows")
_sos4_par, _sos4_ser = jit_twins(_sos4_rows_py, "_lti_sos4_rows")
_tdf2_adj_par, _tdf2_adj_ser = jit_twins(_tdf2_adjoint_rows_py, "_lti_tdf2_adjoint_rows")
_tdf2_4_adj_par, _tdf2_4_adj_ser = jit_twins(_tdf2_order4_adjoint_rows_py, "_lti_tdf2_order4_adjoint_rows")
_sos4_adj_par, _sos4_adj_ser = jit_twins(_sos4_adjoint_rows_py, "_lti_sos4_adjoint_rows")


def _sums(x: np.ndarray, *shape: int) -> np.ndarray:
    """Zeroed coefficient-gradient sums: float64 or complex128 whatever ``x``'s precision."""
    return np.zeros(shape, dtype=np.result_type(x.dtype, np.float64))


def _pad4(N: int, *arrays: np.ndarray) -> List[np.ndarray]:
    """The last dimension of each array zero-padded by ``4 - N`` (orders below 4 run in the
    order-4 register kernels: zero coefficients and lags add exact zeros)."""
    return [np.pad(v, ((0, 0), (0, 4 - N))) for v in arrays]


# Each of fewer than LANES real rows from this many samples on runs its cascade as LANES chunks
# of itself in the vector lanes (forward without a backward to come).
CHUNKED_FROM = 1 << 14


def _lanes(x: np.ndarray) -> int:
    """How many leading rows of ``x`` `(R, T)` run in the vector lanes: a multiple of
    :data:`LANES` (real dtypes; complex rows run in the row kernels)."""
    return x.shape[0] // LANES * LANES if x.dtype.kind == "f" else 0


def _rows(v: np.ndarray, r0: int, r1: int, step: int) -> np.ndarray:
    """Coefficients ``v`` `(1 or R, ...)` of rows ``r0 .. r1-1`` (all of ``v`` when ``step`` is 0)."""
    return v[r0:r1] if step else v


def _long_rows(x: np.ndarray, z: np.ndarray, y: np.ndarray, step: int, lanes: Any, transition: Any, rows: Any) -> None:
    """Each row of ``x`` `(R, T)` as :data:`LANES` chunks of itself (:func:`chunked`), from and
    into its state ``z[r]``: ``lanes(c, xc, s, yc)`` runs the lane kernel with coefficient row
    ``c``, ``transition(c)`` is that filter's state-transition matrix, ``rows(r0, r1, t0)`` runs
    the row kernels on rows ``r0 .. r1-1`` from sample ``t0`` (here the tail of row ``r``, or all
    of it where the chunk map overflows)."""
    for r in range(x.shape[0]):
        c = r * step
        end = chunked(partial(lanes, c), transition(c), x[r : r + 1], z[r : r + 1], y[r : r + 1])
        t0 = 0
        if end is not None:
            z[r] = end
            t0 = x.shape[1] // LANES * LANES
        rows(r, r + 1, t0)


def tdf2(b: np.ndarray, a: np.ndarray, x: np.ndarray, z: np.ndarray, y: np.ndarray) -> None:
    """``y`` `(R, T)` (written) of rows ``x`` `(R, T)` filtered by ``b``, ``a`` `(1 or R, N+1)`
    (``a[:, 0] == 1``, ``N >= 1``) from state ``z`` `(R, N)` (overwritten with the final state).
    Orders up to 4 run padded to 4 in register kernels, two rows a walk. Arrays of one dtype; ``x`` and ``y`` may be reversed views (time-reversed filtering, no
    copy), the others C-contiguous."""
    step = 1 if b.shape[0] > 1 else 0
    N = z.shape[1]
    if N > 4:
        launch_rows(x, _tdf2_par, _tdf2_ser, b, a, x, z, y, step)
        return
    b4, a4, z4 = _pad4(N, b, a, z) if N < 4 else (b, a, z)
    launch_rows(x, _tdf2_4_par, _tdf2_4_ser, b4, a4, x, z4, y, step)
    z[:] = z4[:, :N]


def tdf2_adjoint(
    b: np.ndarray, a: np.ndarray, x: np.ndarray, y: np.ndarray, g: np.ndarray, z: np.ndarray, gx: np.ndarray
) -> Tuple[np.ndarray, np.ndarray]:
    """The backward of :func:`tdf2` in one reverse pass: ``b``, ``a`` `(1 or R, N+1)` conjugated,
    ``x``, ``y`` `(R, T)` the forward's input and output, ``g`` `(R, T)` the gradient of ``y``,
    ``z`` `(R, N)` the gradient of the final state (overwritten with that of the initial state);
    writes ``gx`` `(R, T)` (the signals in processing order, as in :func:`tdf2`). Returns the
    coefficient gradients ``gb``, ``ga`` `(R, N+1)` of each row (float64 or complex128;
    ``ga[:, 0] = 0``). Orders up to 4 in float32: :data:`LANES` rows at a time in the vector lanes."""
    R = x.shape[0]
    N = z.shape[1]
    step = 1 if b.shape[0] > 1 else 0
    if N > 4:
        gb, ga = _sums(x, R, N + 1), _sums(x, R, N + 1)
        launch_rows(x, _tdf2_adj_par, _tdf2_adj_ser, b, a, x, y, g, z, gx, gb, ga, step)
        return gb, ga
    gb, ga = _sums(x, R, 5), _sums(x, R, 5)
    b4, a4, z4 = _pad4(N, b, a, z) if N < 4 else (b, a, z)
    L = _lanes(x) if x.dtype == np.float32 else 0  # float64 lanes measured slower than the rows
    if L:
        tdf2_lanes_adjoint(b4, a4, x[:L], y[:L], g[:L], z4[:L], gx[:L], gb[:L], ga[:L], step)
    if L < R:
        coefs = (_rows(b4, L, R, step), _rows(a4, L, R, step))
        args = (*coefs, x[L:], y[L:], g[L:], z4[L:], gx[L:], gb[L:], ga[L:], step)
        launch_rows(x[L:], _tdf2_4_adj_par, _tdf2_4_adj_ser, *args)
    z[:] = z4[:, :N]
    return gb[:, : N + 1], ga[:, : N + 1]


def _padded(sos: np.ndarray, z: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The cascade ``sos`` `(1 or R, n, 6)` and its states ``z`` `(R, n, 2)` padded to
    ``4 * ceil(n / 4)`` sections with pass-through sections ``[1, 0, 0, 1, 0, 0]`` (zero states):
    new C-contiguous arrays."""
    n = sos.shape[1]
    m = 4 * ((n + 3) // 4)
    q = np.zeros((sos.shape[0], m, 6), dtype=sos.dtype)
    q[:, :, 0] = q[:, :, 3] = 1
    q[:, :n] = sos
    zq = np.zeros((z.shape[0], m, 2), dtype=z.dtype)
    zq[:, :n] = z
    return q, zq


def _groups(sos: np.ndarray, z: np.ndarray) -> Iterator[Tuple[int, int, np.ndarray, np.ndarray]]:
    """The cascade in groups of four sections: ``(k, m, q, zk)``, sections ``k .. k+m-1`` padded
    as by :func:`_padded` (``q`` `(1 or R, 4, 6)`) and their states (``zk`` `(R, 4, 2)`),
    C-contiguous arrays."""
    n = sos.shape[1]
    q, zq = _padded(sos, z)
    for k in range(0, n, 4):
        yield k, min(4, n - k), np.ascontiguousarray(q[:, k : k + 4]), np.ascontiguousarray(zq[:, k : k + 4])


def _keep_shape(n: int, x: np.ndarray) -> Tuple[int, int, int]:
    """Shape of the signals the row kernels keep for the backward: the inputs of sections
    ``1 .. 4 * ceil(n / 4) - 1`` (pass-through sections included)."""
    return (4 * ((n + 3) // 4) - 1, *x.shape)


def _sos_transition(q: np.ndarray) -> np.ndarray:
    """The state-transition matrix `(2m, 2m)` of the cascade ``q`` `(m, 6)` with zero input (the
    states ``z`` `(m, 2)` flattened): column ``j`` is one step from the unit state ``e_j``."""
    m = q.shape[0]
    s = np.eye(2 * m).reshape(m, 2, 2 * m)
    out = np.empty_like(s)
    v = np.zeros(2 * m)
    for k in range(m):
        b0, b1, b2, _, a1, a2 = q[k].astype(np.float64)
        o = b0 * v + s[k, 0]
        out[k, 0], out[k, 1] = b1 * v + s[k, 1] - a1 * o, b2 * v - a2 * o
        v = o
    return out.reshape(2 * m, 2 * m)


# What a forward keeps for the backward: the lanes' checkpoints (first rows) and the other rows'
# section signals (row kernels).
Saved = Tuple[Optional[np.ndarray], Optional[np.ndarray]]


def sos_cascade(sos: np.ndarray, x: np.ndarray, z: np.ndarray, y: np.ndarray, keep: bool = False) -> Saved:
    """``y`` `(R, T)` (written) of rows ``x`` `(R, T)` through the sections ``sos``
    `(1 or R, n, 6)` from states ``z`` `(R, n, 2)` (overwritten with the final states). Real
    rows run the whole cascade in one pass, :data:`LANES` rows at a time as vector lanes (fewer
    long rows without ``keep`` each as chunks of itself); the others in passes of four sections
    over the signal, rows in pairs. ``keep``: returns what :func:`sos_cascade_adjoint` reads
    (else ``(None, None)``). Arrays of one dtype; ``x`` and ``y`` may be reversed views, the
    others C-contiguous."""
    R, n = x.shape[0], sos.shape[1]
    step = 1 if sos.shape[0] > 1 else 0
    if not keep and R < LANES and x.dtype.kind == "f" and x.shape[1] >= CHUNKED_FROM:
        q, zq = _padded(sos, z)
        lanes = lambda c, xc, s, yc: sos_lanes(q[c : c + 1], xc, s, yc, 0)  # noqa: E731

        def rows(r0: int, r1: int, t0: int) -> None:
            z[r0:r1] = zq[r0:r1, :n]
            _sos_pairs(_rows(sos, r0, r1, step), x[r0:r1, t0:], z[r0:r1], y[r0:r1, t0:], None)

        _long_rows(x, zq, y, step, lanes, lambda c: _sos_transition(q[c]), rows)
        return None, None
    L = _lanes(x)
    ckpt = kept = None
    if L:
        q, zq = _padded(sos, z[:L])
        ckpt = sos_checkpoints(x[:L], q.shape[1]) if keep else None
        sos_lanes(q, x[:L], zq, y[:L], step, ckpt)
        z[:L] = zq[:, :n]
    if L < R:
        kept = np.empty(_keep_shape(n, x[L:]), x.dtype) if keep else None
        _sos_pairs(_rows(sos, L, R, step), x[L:], z[L:], y[L:], kept)
    return ckpt, kept


def _sos_pairs(sos: np.ndarray, x: np.ndarray, z: np.ndarray, y: np.ndarray, keep: Optional[np.ndarray]) -> None:
    """:func:`sos_cascade` in passes of four sections over the signal, rows in pairs."""
    step = 1 if sos.shape[0] > 1 else 0
    groups = (sos.shape[1] + 3) // 4
    no_keep = np.empty((0, *x.shape), dtype=x.dtype)
    v = x
    for j, (k, m, q, zk) in enumerate(_groups(sos, z)):
        out = y if j == groups - 1 else (np.empty(x.shape, x.dtype) if keep is None else keep[k + 3])
        launch_rows(v, _sos4_par, _sos4_ser, q, v, zk, out, no_keep if keep is None else keep[k : k + 3], step)
        z[:, k : k + m] = zk[:, :m]
        v = out


def sos_cascade_adjoint(
    sos: np.ndarray, x: np.ndarray, saved: Saved, y: np.ndarray, g: np.ndarray, z: np.ndarray, gx: np.ndarray
) -> np.ndarray:
    """The backward of :func:`sos_cascade`: ``sos`` conjugated, ``x``, ``saved``, ``y`` the
    forward's input, kept data and output, ``g`` the gradient of ``y``, ``z`` `(R, n, 2)` that of
    the final states (overwritten with that of the initial states); writes ``gx`` `(R, T)`.
    Returns ``gsos`` `(R, n, 6)` per row (float64 or complex128; column 3 zero). The lanes'
    rows recompute each tile's section signals from the checkpoints and walk it back; the others
    run one reverse pass a group of four sections."""
    ckpt, kept = saved
    R, n = x.shape[0], sos.shape[1]
    step = 1 if sos.shape[0] > 1 else 0
    gsos = _sums(x, R, n, 6)
    L = 0 if ckpt is None else ckpt.shape[0] * LANES
    if ckpt is not None and L:
        q, zq = _padded(sos, z[:L])
        gq = _sums(x, L, q.shape[1], 6)
        sos_lanes_adjoint(q, x[:L], g[:L], zq, gx[:L], gq, ckpt, step)
        z[:L], gsos[:L] = zq[:, :n], gq[:, :n]
    if L < R:
        assert kept is not None
        gsos[L:] = _sos_pairs_adjoint(_rows(sos, L, R, step), x[L:], kept, y[L:], g[L:], z[L:], gx[L:])
    return gsos


def _sos_pairs_adjoint(
    sos: np.ndarray, x: np.ndarray, keep: np.ndarray, y: np.ndarray, g: np.ndarray, z: np.ndarray, gx: np.ndarray
) -> np.ndarray:
    """:func:`sos_cascade_adjoint` of :func:`_sos_pairs`: one reverse pass a group of four sections."""
    R, n = x.shape[0], sos.shape[1]
    step = 1 if sos.shape[0] > 1 else 0
    gsos = _sums(x, R, n, 6)
    groups = list(_groups(sos, z))
    for j in range(len(groups) - 1, -1, -1):
        k, m, q, zk = groups[j]
        gq = _sums(x, R, 4, 6)
        gv = gx if k == 0 else np.empty(x.shape, x.dtype)
        xin = x if k == 0 else keep[k - 1]
        out = y if j == len(groups) - 1 else keep[k + 3]
        launch_rows(xin, _sos4_adj_par, _sos4_adj_ser, q, xin, keep[k : k + 3], out, g, zk, gv, gq, step)
        z[:, k : k + m], gsos[:, k : k + m] = zk[:, :m], gq[:, :m]
        g = gv
    return gsos
