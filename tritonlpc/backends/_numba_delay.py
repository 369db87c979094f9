"""Numba CPU kernels of the delay-line effects (:mod:`tritonlpc.audio.delay`).

Comb (one kernel pair for the feedback comb, the feed-forward comb and the fractional delay)::

    r[n] = (1 - f) v[n - k] + f v[n - k - 1],   k = floor(d[n]), f = d[n] - k
    y[n] = c x[n] + g[n] r[n]

with ``v = y`` (feedback, ``d >= 1``) or ``v = x`` (feed-forward, ``d >= 0``; ``c = 0`` is the
fractional delay). ``v[j]`` for ``j < 0`` is ``zi[b, L + j]`` (``zi`` holds the last ``L``
samples before the block, oldest first) and zero further back. Delays below the minimum are
read as the minimum (their gradient is zero), NaN delays give NaN.

Backward: one reverse walk. ``acc`` holds the adjoint of ``v`` (``dL/dx`` for the feed-forward
kinds, where it starts as ``c gy``; the adjoint of ``y``, which is ``dL/dx``, for feedback,
where it starts as ``gy``) and the adjoint of the read ``u[n]`` scatters to the two samples
the interpolation read, ``n - k`` and ``n - k - 1``, both earlier than ``n`` for feedback, so
``acc[n]`` is final when the walk reaches it.

FDN (``N`` lines, integer delays ``m_j``, ``A`` of shape ``(B, TA, N, N)`` with ``TA`` 1 or
``T``)::

    r_j[n] = s_j[n - m_j]
    s_i[n] = bin_i x[n] + sum_j A[n, i, j] r_j[n]
    y[n]   = sum_j cout_j r_j[n] + direct x[n]

Rows run in parallel (``prange``); each kernel has a serial twin for
:func:`tritonlpc.backends._numba_support.launch_parallel`.
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from numba import prange

from ._delay_operands import CombOperands, FdnOperands
from ._numba_support import jit, jit_twins, launch_parallel

__all__ = ["comb_fwd", "comb_fwd_serial", "comb_bwd", "comb_bwd_serial", "fdn_fwd", "fdn_fwd_serial"]
__all__ += ["fdn_bwd", "fdn_bwd_serial", "comb_forward", "comb_backward", "fdn_forward", "fdn_backward"]


@jit(inline="always")
def _read(v, zi, b, j):  # pragma: no cover - compiled
    """Line ``b``'s ``v[b, j]``, or ``zi[b, L + j]`` before the block (FDN: ``j >= -L`` always)."""
    if j >= 0:
        return v[b, j]
    return zi[b, zi.shape[1] + j]


@jit(inline="always")
def _add(acc, dzi, b, j, w):  # pragma: no cover - compiled
    if j >= 0:
        acc[b, j] += w
    else:
        L = dzi.shape[1]
        if j >= -L:
            dzi[b, L + j] += w


@jit(inline="always")
def _read_row(v, z, j, zero):  # pragma: no cover - compiled
    """``v[j]``, or ``z[L + j]`` before the block, or zero (not ``v[0] * 0``: ``v`` may be the
    output, not yet written)."""
    if j >= 0:
        return v[j]
    L = z.shape[0]
    return z[L + j] if j >= -L else zero


@jit(inline="always")
def _add_row(acc, dz, j, w):  # pragma: no cover - compiled
    if j >= 0:
        acc[j] += w
    elif j >= -dz.shape[0]:
        dz[dz.shape[0] + j] += w


@jit
def _comb_fwd_row(xb, vb, db, gb, zb, yb, c, dmin, one):  # pragma: no cover - compiled
    """One row of the comb forward (a function of its own: compiled outside the parfor, where
    Numba optimises the walk better)."""
    T = xb.shape[0]
    far = T + zb.shape[0] + 1  # a read this far back sees zeros only
    zero = one - one
    for n in range(T):
        dn = db[n]
        if dn != dn:
            yb[n] = dn
            continue
        dn = max(dn, dmin)
        r = zero
        if dn < far:
            kf = np.floor(dn)  # in the working dtype (float32 - int64 would be float64)
            k = int(kf)
            f = dn - kf
            j = n - k
            if j >= 1:  # the common case: both samples in the block
                r = (one - f) * vb[j] + f * vb[j - 1]
            else:
                r = (one - f) * _read_row(vb, zb, j, zero) + f * _read_row(vb, zb, j - 1, zero)
        yb[n] = c * xb[n] + gb[n] * r


@jit
def _comb_bwd_row(gyb, ab, vb, db, gb, zb, ddb, dgb, dzb, c, feedback, dmin, one):  # pragma: no cover - compiled
    """One row of the comb backward: ``ab = c gy``, then the reverse walk."""
    T = vb.shape[0]
    far = T + zb.shape[0] + 1
    zero = one - one
    for n in range(T):
        ab[n] = c * gyb[n]
    for n in range(T - 1, -1, -1):
        u = ab[n] if feedback else gyb[n]
        dn = db[n]
        if dn != dn:
            ddb[n] = dn
            dgb[n] = dn
            continue
        clamped = dn < dmin
        dn = max(dn, dmin)
        if dn >= far:
            ddb[n] = zero
            dgb[n] = zero
            continue
        kf = np.floor(dn)
        k = int(kf)
        f = dn - kf
        j = n - k
        w = u * gb[n]
        if j >= 1:
            v0, v1 = vb[j], vb[j - 1]
            ab[j] += w * (one - f)
            ab[j - 1] += w * f
        else:
            v0, v1 = _read_row(vb, zb, j, zero), _read_row(vb, zb, j - 1, zero)
            _add_row(ab, dzb, j, w * (one - f))
            _add_row(ab, dzb, j - 1, w * f)
        dgb[n] = u * ((one - f) * v0 + f * v1)
        ddb[n] = zero if clamped else w * (v1 - v0)


def _comb_fwd_py(x, v, d, g, zi, y, c, dmin, one):  # pragma: no cover - compiled
    for b in prange(x.shape[0]):
        _comb_fwd_row(x[b], v[b], d[b], g[b], zi[b], y[b], c, dmin, one)


def _comb_bwd_py(gy, acc, v, d, g, zi, dd, dg, dzi, c, feedback, dmin, one):  # pragma: no cover - compiled
    for b in prange(v.shape[0]):
        _comb_bwd_row(gy[b], acc[b], v[b], d[b], g[b], zi[b], dd[b], dg[b], dzi[b], c, feedback, dmin, one)


def _fdn_fwd_py(x, m, A, bin_, cout, direct, zi, s, y):  # pragma: no cover - compiled
    B, T = x.shape
    N = m.shape[0]
    TA = A.shape[1]
    for b in prange(B):
        r = np.zeros_like(zi[b, :, 0])
        for n in range(T):
            ta = n if TA > 1 else 0
            xn = x[b, n]
            acc = direct[b] * xn
            for j in range(N):
                r[j] = _read(s[b], zi[b], j, n - m[j])
                acc += cout[b, j] * r[j]
            y[b, n] = acc
            for i in range(N):
                si = bin_[b, i] * xn
                for j in range(N):
                    si += A[b, ta, i, j] * r[j]
                s[b, i, n] = si


def _fdn_bwd_py(gy, x, m, A, bin_, cout, direct, zi, s, us, dzi, dx, dA, dbin, dcout, ddirect):  # pragma: no cover
    B, T = x.shape
    N = m.shape[0]
    TA = A.shape[1]
    for b in prange(B):
        r = np.zeros_like(zi[b, :, 0])
        for n in range(T - 1, -1, -1):
            ta = n if TA > 1 else 0
            xn = x[b, n]
            gyn = gy[b, n]
            acc = direct[b] * gyn
            ddirect[b] += gyn * xn
            for i in range(N):
                ui = us[b, i, n]
                acc += bin_[b, i] * ui
                dbin[b, i] += ui * xn
            dx[b, n] = acc
            for j in range(N):
                r[j] = _read(s[b], zi[b], j, n - m[j])
                dcout[b, j] += gyn * r[j]
            for i in range(N):
                ui = us[b, i, n]
                for j in range(N):
                    dA[b, ta, i, j] += ui * r[j]
            for j in range(N):
                ur = cout[b, j] * gyn
                for i in range(N):
                    ur += A[b, ta, i, j] * us[b, i, n]
                _add(us[b], dzi[b], j, n - m[j], ur)


comb_fwd, comb_fwd_serial = jit_twins(_comb_fwd_py, "_comb_fwd")
comb_bwd, comb_bwd_serial = jit_twins(_comb_bwd_py, "_comb_bwd")
fdn_fwd, fdn_fwd_serial = jit_twins(_fdn_fwd_py, "_fdn_fwd")
fdn_bwd, fdn_bwd_serial = jit_twins(_fdn_bwd_py, "_fdn_bwd")


# --------------------------------------------------------------------------- launchers
# The contract every delay backend module offers (see tritonlpc.audio.delay._KERNELS):
# torch tensors in (any strides, one real dtype, on the backend's device), new tensors out.


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def comb_forward(x: torch.Tensor, op: CombOperands) -> torch.Tensor:
    """``y (B,T)`` of the comb (module docstring); ``x, d, g (B,T)``, ``zi (B,L)``."""
    y = torch.empty(x.shape, dtype=x.dtype)
    xn, yn = _np(x), y.numpy()
    s = xn.dtype.type
    args = (xn, yn if op.feedback else xn, _np(op.d), _np(op.g), _np(op.zi), yn, s(op.c), s(op.dmin), s(1))
    launch_parallel(comb_fwd, comb_fwd_serial, *args)
    return y


def comb_backward(
    gy: torch.Tensor, v: torch.Tensor, op: CombOperands
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dd, dg, dzi)``; ``v`` is what the forward read (``y`` for feedback, else ``x``)."""
    dx = torch.empty(v.shape, dtype=v.dtype)  # set to c gy by the kernel (no torch op here:
    dd = torch.empty(v.shape, dtype=v.dtype)  # torch's idle threads would compete with Numba's)
    dg = torch.empty(v.shape, dtype=v.dtype)
    dzi = torch.zeros(op.zi.shape, dtype=v.dtype)
    t = dd.numpy().dtype.type
    arrays = (_np(gy), dx.numpy(), _np(v), _np(op.d), _np(op.g), _np(op.zi), dd.numpy(), dg.numpy(), dzi.numpy())
    launch_parallel(comb_bwd, comb_bwd_serial, *arrays, t(op.c), op.feedback, t(op.dmin), t(1))
    return dx, dd, dg, dzi


def _fdn_arrays(op: FdnOperands) -> Tuple[np.ndarray, ...]:
    """The operands as the kernels read them: ``x, m, A, bin_, cout, direct, zi``."""
    return (
        _np(op.x),
        np.asarray(op.m, dtype=np.int64),
        _np(op.A),
        _np(op.bin_),
        _np(op.cout),
        _np(op.direct),
        _np(op.zi),
    )


def fdn_forward(op: FdnOperands) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y (B,T), s (B,N,T))``; ``A (B,TA,N,N)``, ``bin_, cout (B,N)``, ``direct (B,)``, ``zi (B,N,L)``."""
    B, T = op.x.shape
    y = torch.empty((B, T), dtype=op.x.dtype)
    s = torch.empty((B, len(op.m), T), dtype=op.x.dtype)
    launch_parallel(fdn_fwd, fdn_fwd_serial, *_fdn_arrays(op), s.numpy(), y.numpy())
    return y, s


def fdn_backward(gy: torch.Tensor, gs: torch.Tensor, op: FdnOperands, s: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """``(dx, dA, dbin, dcout, ddirect, dzi)`` in the shapes of the forward's arguments."""
    us = gs.clone(memory_format=torch.contiguous_format)  # the adjoint of s, completed by the walk
    out = [torch.zeros(t.shape, dtype=op.x.dtype) for t in (op.zi, op.x, op.A, op.bin_, op.cout, op.direct)]
    dzi, dx, dA, dbin, dcout, ddirect = out
    args = (_np(gy), *_fdn_arrays(op), _np(s), us.numpy())
    launch_parallel(fdn_bwd, fdn_bwd_serial, *args, *(t.numpy() for t in out))
    return dx, dA, dbin, dcout, ddirect, dzi
