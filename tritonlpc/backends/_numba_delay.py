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

import math
from typing import Tuple

import numpy as np
import torch
from numba import prange

from ._numba_support import jit, launch_parallel, variant

__all__ = ["comb_fwd", "comb_fwd_serial", "comb_bwd", "comb_bwd_serial", "fdn_fwd", "fdn_fwd_serial"]
__all__ += ["fdn_bwd", "fdn_bwd_serial", "comb_forward", "comb_backward", "fdn_forward", "fdn_backward"]


@jit(inline="always")
def _read(v, zi, b, j):  # pragma: no cover - compiled
    if j >= 0:
        return v[b, j]
    L = zi.shape[1]
    if j >= -L:
        return zi[b, L + j]
    return v[b, 0] * 0.0


@jit(inline="always")
def _add(acc, dzi, b, j, w):  # pragma: no cover - compiled
    if j >= 0:
        acc[b, j] += w
    else:
        L = dzi.shape[1]
        if j >= -L:
            dzi[b, L + j] += w


def _comb_fwd_py(x, v, d, g, zi, y, c, dmin):  # pragma: no cover - compiled
    B, T = x.shape
    far = float(T + zi.shape[1] + 1)  # a read this far back sees zeros only
    for b in prange(B):
        for n in range(T):
            dn = d[b, n]
            if dn != dn:
                y[b, n] = dn
                continue
            if dn < dmin:
                dn = dmin
            r = x[b, n] * 0.0
            if dn < far:
                k = int(math.floor(dn))
                f = dn - k
                r = (1.0 - f) * _read(v, zi, b, n - k) + f * _read(v, zi, b, n - k - 1)
            y[b, n] = c * x[b, n] + g[b, n] * r


def _comb_bwd_py(u_src, acc, v, d, g, zi, dd, dg, dzi, dmin):  # pragma: no cover - compiled
    B, T = v.shape
    far = float(T + zi.shape[1] + 1)
    for b in prange(B):
        for n in range(T - 1, -1, -1):
            u = u_src[b, n]
            dn = d[b, n]
            zero = u * 0.0
            dd[b, n] = zero
            dg[b, n] = zero
            if dn != dn:
                dd[b, n] = dn
                dg[b, n] = dn
                continue
            clamped = dn < dmin
            if clamped:
                dn = dmin
            if dn >= far:
                continue
            k = int(math.floor(dn))
            f = dn - k
            v0 = _read(v, zi, b, n - k)
            v1 = _read(v, zi, b, n - k - 1)
            gn = g[b, n]
            dg[b, n] = u * ((1.0 - f) * v0 + f * v1)
            if not clamped:
                dd[b, n] = u * gn * (v1 - v0)
            w = u * gn
            _add(acc, dzi, b, n - k, w * (1.0 - f))
            _add(acc, dzi, b, n - k - 1, w * f)


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


comb_fwd = jit(parallel=True)(variant(_comb_fwd_py, "_comb_fwd"))
comb_fwd_serial = jit(variant(_comb_fwd_py, "_comb_fwd_serial"))
comb_bwd = jit(parallel=True)(variant(_comb_bwd_py, "_comb_bwd"))
comb_bwd_serial = jit(variant(_comb_bwd_py, "_comb_bwd_serial"))
fdn_fwd = jit(parallel=True)(variant(_fdn_fwd_py, "_fdn_fwd"))
fdn_fwd_serial = jit(variant(_fdn_fwd_py, "_fdn_fwd_serial"))
fdn_bwd = jit(parallel=True)(variant(_fdn_bwd_py, "_fdn_bwd"))
fdn_bwd_serial = jit(variant(_fdn_bwd_py, "_fdn_bwd_serial"))


# --------------------------------------------------------------------------- launchers
# The contract every delay backend module offers (see tritonlpc.audio.delay._KERNELS):
# torch tensors in (any strides, one real dtype, on the backend's device), new tensors out.


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().numpy()


def comb_forward(
    x: torch.Tensor, d: torch.Tensor, g: torch.Tensor, zi: torch.Tensor, c: float, feedback: bool, dmin: float
) -> torch.Tensor:
    """``y (B,T)`` of the comb (module docstring); ``x, d, g (B,T)``, ``zi (B,L)``."""
    y = torch.empty(x.shape, dtype=x.dtype)
    xn, yn = _np(x), y.numpy()
    s = xn.dtype.type
    launch_parallel(comb_fwd, comb_fwd_serial, xn, yn if feedback else xn, _np(d), _np(g), _np(zi), yn, s(c), s(dmin))
    return y


def comb_backward(
    gy: torch.Tensor,
    v: torch.Tensor,
    d: torch.Tensor,
    g: torch.Tensor,
    zi: torch.Tensor,
    c: float,
    feedback: bool,
    dmin: float,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dd, dg, dzi)``; ``v`` is what the forward read (``y`` for feedback, else ``x``)."""
    dx = gy.clone(memory_format=torch.contiguous_format) if feedback else c * gy.contiguous()
    dd = torch.empty(v.shape, dtype=v.dtype)
    dg = torch.empty(v.shape, dtype=v.dtype)
    dzi = torch.zeros(zi.shape, dtype=v.dtype)
    dxn = dx.numpy()
    u = dxn if feedback else _np(gy)
    args = (u, dxn, _np(v), _np(d), _np(g), _np(zi), dd.numpy(), dg.numpy(), dzi.numpy(), dxn.dtype.type(dmin))
    launch_parallel(comb_bwd, comb_bwd_serial, *args)
    return dx, dd, dg, dzi


def fdn_forward(
    x: torch.Tensor,
    m: Tuple[int, ...],
    A: torch.Tensor,
    bin_: torch.Tensor,
    cout: torch.Tensor,
    direct: torch.Tensor,
    zi: torch.Tensor,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y (B,T), s (B,N,T))``; ``A (B,TA,N,N)``, ``bin_, cout (B,N)``, ``direct (B,)``, ``zi (B,N,L)``."""
    B, T = x.shape
    y = torch.empty((B, T), dtype=x.dtype)
    s = torch.empty((B, len(m), T), dtype=x.dtype)
    args = (_np(x), np.asarray(m, dtype=np.int64), _np(A), _np(bin_), _np(cout), _np(direct), _np(zi))
    launch_parallel(fdn_fwd, fdn_fwd_serial, *args, s.numpy(), y.numpy())
    return y, s


def fdn_backward(
    gy: torch.Tensor,
    gs: torch.Tensor,
    x: torch.Tensor,
    m: Tuple[int, ...],
    A: torch.Tensor,
    bin_: torch.Tensor,
    cout: torch.Tensor,
    direct: torch.Tensor,
    zi: torch.Tensor,
    s: torch.Tensor,
) -> Tuple[torch.Tensor, ...]:
    """``(dx, dA, dbin, dcout, ddirect, dzi)`` in the shapes of the forward's arguments."""
    us = gs.clone(memory_format=torch.contiguous_format)  # the adjoint of s, completed by the walk
    out = [torch.zeros(t.shape, dtype=x.dtype) for t in (zi, x, A, bin_, cout, direct)]
    dzi, dx, dA, dbin, dcout, ddirect = out
    args = (_np(gy), _np(x), np.asarray(m, dtype=np.int64), _np(A), _np(bin_), _np(cout), _np(direct), _np(zi))
    launch_parallel(fdn_bwd, fdn_bwd_serial, *args, _np(s), us.numpy(), *(t.numpy() for t in out))
    return dx, dA, dbin, dcout, ddirect, dzi
