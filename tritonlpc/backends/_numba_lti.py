"""Numba CPU kernels of time-invariant IIR filters (forward only): one pass over the signal.

Used by :mod:`tritonlpc.signal` on CPU tensors when nothing is to be differentiated (the
differentiable path runs the FIR part in torch and the all-pole part on the backend). Each
row walks time once in scipy's transposed direct form II (coefficients and state copied to
row-local arrays), rows in parallel:

* ``tdf2_rows``: one filter of order ``N`` (``b``, ``a`` normalised, padded to ``N + 1``),
  ``y[n] = b[0] x[n] + z[0]``, ``z[i] = b[i+1] x[n] + z[i+1] - a[i+1] y[n]``;
* ``sos_rows``: a cascade of second-order sections ``[b0, b1, b2, 1, a1, a2]``, every
  section's two state values updated per sample before the next sample is read.

The state ``z`` is read as the initial state and overwritten with the final one. Coefficient
arrays hold one row (``step = 0``: one filter for all rows) or one row per signal row
(``step = 1``). Launched through :func:`._numba_support.launch_parallel` (serial twin where a
parallel launch is unsafe).
"""

from __future__ import annotations

import numpy as np
from numba import prange

from ._numba_support import jit, launch_parallel, variant

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


_tdf2_par = jit(parallel=True)(variant(_tdf2_rows_py, "_lti_tdf2_rows"))
_tdf2_ser = jit(variant(_tdf2_rows_py, "_lti_tdf2_rows_serial"))
_tdf2_4_par = jit(parallel=True)(variant(_tdf2_order4_rows_py, "_lti_tdf2_order4_rows"))
_tdf2_4_ser = jit(variant(_tdf2_order4_rows_py, "_lti_tdf2_order4_rows_serial"))
_sos_par = jit(parallel=True)(variant(_sos_rows_py, "_lti_sos_rows"))
_sos_ser = jit(variant(_sos_rows_py, "_lti_sos_rows_serial"))


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
    y = np.empty_like(x)
    launch_parallel(_sos_par, _sos_ser, sos, x, z, y, 1 if sos.shape[0] > 1 else 0)
    return y
