"""Numba CPU kernels of time-invariant IIR filters (forward only): one pass over the signal.

Used by :mod:`tritonlpc.signal` on CPU tensors when nothing is to be differentiated (the
differentiable path runs the FIR part in torch and the all-pole part on the backend). Each
row walks time once in scipy's transposed direct form II (coefficients and state copied to
row-local arrays), rows in parallel:

* ``tdf2_rows``: one filter of order ``N`` (``b``, ``a`` normalised, padded to ``N + 1``),
  ``y[n] = b[0] x[n] + z[0]``, ``z[i] = b[i+1] x[n] + z[i+1] - a[i+1] y[n]``; orders up to 4
  padded to 4 with the state in registers;
* ``sos_rows``: a cascade of second-order sections ``[b0, b1, b2, 1, a1, a2]``, every
  section's two state values updated per sample before the next sample is read; run as
  passes of four sections with every state in registers (fewer padded with pass-through
  sections ``[1, 0, 0, 1, 0, 0]``, which add exact zeros).

The state ``z`` is read as the initial state and overwritten with the final one. Coefficient
arrays hold one row (``step = 0``: one filter for all rows) or one row per signal row
(``step = 1``). Launched through :func:`._numba_support.launch_parallel` (serial twin where a
parallel launch is unsafe).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba_support import jit, jit_twins, launch_parallel

__all__ = ["tdf2", "sos_cascade"]


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


def _tdf2_order4_rows_py(b, a, x, z, y, step):  # pragma: no cover - compiled
    # orders 1..4 padded to 4 (zero coefficients add exact zeros): the state in registers
    R, T = x.shape
    for r in prange(R):
        c = r * step
        b0, b1, b2, b3, b4 = b[c, 0], b[c, 1], b[c, 2], b[c, 3], b[c, 4]
        a1, a2, a3, a4 = a[c, 1], a[c, 2], a[c, 3], a[c, 4]
        s0, s1, s2, s3 = z[r, 0], z[r, 1], z[r, 2], z[r, 3]
        for t in range(T):
            xt = x[r, t]
            yt = b0 * xt + s0
            s0 = b1 * xt + s1 - a1 * yt
            s1 = b2 * xt + s2 - a2 * yt
            s2 = b3 * xt + s3 - a3 * yt
            s3 = b4 * xt - a4 * yt
            y[r, t] = yt
        z[r, 0], z[r, 1], z[r, 2], z[r, 3] = s0, s1, s2, s3


def _sos_rows_py(sos, x, z, y, step):  # pragma: no cover - compiled
    R, T = x.shape
    n = sos.shape[1]
    for r in prange(R):
        q = sos[r * step].copy()
        s = z[r].copy()
        for t in range(T):
            v = x[r, t]
            for k in range(n):
                o = q[k, 0] * v + s[k, 0]
                s[k, 0] = q[k, 1] * v - q[k, 4] * o + s[k, 1]
                s[k, 1] = q[k, 2] * v - q[k, 5] * o
                v = o
            y[r, t] = v
        z[r] = s


@jit(inline="always")
def _section(b0, b1, b2, a1, a2, v, s0, s1):  # pragma: no cover - compiled
    """One second-order section on one sample ``v``: ``(out, s0, s1)`` (new state)."""
    o = b0 * v + s0
    return o, b1 * v - a1 * o + s1, b2 * v - a2 * o


def _sos4_rows_py(q, x, z, y, step):  # pragma: no cover - compiled
    # four sections, every state and coefficient in registers
    R, T = x.shape
    for r in prange(R):
        c = r * step
        p0, p1, p2, p4, p5 = q[c, 0, 0], q[c, 0, 1], q[c, 0, 2], q[c, 0, 4], q[c, 0, 5]
        u0, u1, u2, u4, u5 = q[c, 1, 0], q[c, 1, 1], q[c, 1, 2], q[c, 1, 4], q[c, 1, 5]
        v0, v1, v2, v4, v5 = q[c, 2, 0], q[c, 2, 1], q[c, 2, 2], q[c, 2, 4], q[c, 2, 5]
        w0, w1, w2, w4, w5 = q[c, 3, 0], q[c, 3, 1], q[c, 3, 2], q[c, 3, 4], q[c, 3, 5]
        s00, s01, s10, s11 = z[r, 0, 0], z[r, 0, 1], z[r, 1, 0], z[r, 1, 1]
        s20, s21, s30, s31 = z[r, 2, 0], z[r, 2, 1], z[r, 3, 0], z[r, 3, 1]
        for t in range(T):
            v, s00, s01 = _section(p0, p1, p2, p4, p5, x[r, t], s00, s01)
            v, s10, s11 = _section(u0, u1, u2, u4, u5, v, s10, s11)
            v, s20, s21 = _section(v0, v1, v2, v4, v5, v, s20, s21)
            y[r, t], s30, s31 = _section(w0, w1, w2, w4, w5, v, s30, s31)
        z[r, 0, 0], z[r, 0, 1], z[r, 1, 0], z[r, 1, 1] = s00, s01, s10, s11
        z[r, 2, 0], z[r, 2, 1], z[r, 3, 0], z[r, 3, 1] = s20, s21, s30, s31


_tdf2_par, _tdf2_ser = jit_twins(_tdf2_rows_py, "_lti_tdf2_rows")
_tdf2_4_par, _tdf2_4_ser = jit_twins(_tdf2_order4_rows_py, "_lti_tdf2_order4_rows")
_sos4_par, _sos4_ser = jit_twins(_sos4_rows_py, "_lti_sos4_rows")
_sos_par, _sos_ser = jit_twins(_sos_rows_py, "_lti_sos_rows")


def tdf2(b: np.ndarray, a: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``y`` of rows ``x`` `(R, T)` filtered by ``b``, ``a`` `(1 or R, N+1)` (``a[:, 0] == 1``,
    ``N >= 1``) from state ``z`` `(R, N)` (overwritten with the final state). C-contiguous
    arrays of one dtype."""
    y = np.empty_like(x)
    step = 1 if b.shape[0] > 1 else 0
    N = z.shape[1]
    if N < 4:  # pad to order 4 for the register kernel
        pad = ((0, 0), (0, 4 - N))
        b, a, z4 = np.pad(b, pad), np.pad(a, pad), np.pad(z, pad)
        launch_parallel(_tdf2_4_par, _tdf2_4_ser, b, a, x, z4, y, step)
        z[:] = z4[:, :N]
    elif N == 4:
        launch_parallel(_tdf2_4_par, _tdf2_4_ser, b, a, x, z, y, step)
    else:
        launch_parallel(_tdf2_par, _tdf2_ser, b, a, x, z, y, step)
    return y


def sos_cascade(sos: np.ndarray, x: np.ndarray, z: np.ndarray) -> np.ndarray:
    """``y`` of rows ``x`` `(R, T)` through the sections ``sos`` `(1 or R, n, 6)` from states
    ``z`` `(R, n, 2)` (overwritten with the final states). C-contiguous arrays of one dtype."""
    step = 1 if sos.shape[0] > 1 else 0
    n = sos.shape[1]
    y = x
    for k in range(0, n, 4):  # passes of four sections, padded with pass-through sections
        m = min(4, n - k)
        q, zk = sos[:, k : k + m], z[:, k : k + m]
        if m < 4:
            ident = np.zeros((sos.shape[0], 4 - m, 6), dtype=sos.dtype)
            ident[:, :, 0] = ident[:, :, 3] = 1
            q = np.concatenate([q, ident], 1)
            zk = np.concatenate([zk, np.zeros((z.shape[0], 4 - m, 2), dtype=z.dtype)], 1)
        q, zk = np.ascontiguousarray(q), np.ascontiguousarray(zk)
        out = np.empty_like(x)
        launch_parallel(_sos4_par, _sos4_ser, q, y, zk, out, step)
        z[:, k : k + m] = zk[:, :m]
        y = out
    return y
