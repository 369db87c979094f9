"""The time-varying FIR filter's computation (validated arguments, one dtype): Numba kernels on
CPU (:mod:`tritonlpc.backends._numba_fir`, taps interpolated from frames in registers with
``hop``: no `(B, T, K+1)` tensor and no padded copy of ``x``, forward or backward), else a torch
composite (a loop over taps, never over time), which also gives double backward and forward-mode
AD on CPU.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch.autograd import Function

from .. import _dispatch
from .._reference import interpolate

__all__ = ["fir", "fir_composite"]

_KERNEL_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def fir_composite(x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int]) -> torch.Tensor:
    """``y[n] = sum_k b[n, k] x[n-k]`` in torch, differentiable to any order; ``zi (B,K)`` holds
    ``(x[-1], ..., x[-K])``."""
    B, T = x.shape
    K = b.shape[2] - 1
    xp = torch.cat([zi.flip(1), x], dim=1)  # xp[:, K + n] = x[n]

    def tap(k: int) -> torch.Tensor:  # b[:, :, k] per sample, (B, T)
        bk = b[:, :, k : k + 1]
        return (bk if hop is None else interpolate(bk, hop, T)).squeeze(2)

    y = tap(0) * x
    for k in range(1, K + 1):
        y = y + tap(k) * xp[:, K - k : K - k + T]
    return y


def _kernels_apply(x: torch.Tensor) -> bool:
    """The Numba kernels compute this call (CPU, the numba backend, a kernel dtype, and no
    forward-mode AD or ``torch.func`` transform, which go through the composite)."""
    if not x.is_cpu or x.dtype not in _KERNEL_DTYPES or _dispatch.backend_for(x) != "numba":
        return False
    return not torch._C._are_functorch_transforms_active() and torch.autograd.forward_ad._current_level < 0


class _FIR(Function):
    @staticmethod
    def forward(x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int]) -> torch.Tensor:
        from ..backends._numba_fir import fir_forward  # noqa: PLC0415  (numba imported on first use)

        return fir_forward(x, b, zi, hop)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        x, b, zi, ctx.hop = inputs
        ctx.save_for_backward(x, b, zi)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:
        x, b, zi = ctx.saved_tensors
        if torch.is_grad_enabled():  # double backward: the composite's graph
            want = [t for t, n in zip((x, b, zi), ctx.needs_input_grad) if n]
            got = iter(torch.autograd.grad(fir_composite(x, b, zi, ctx.hop), want, g, create_graph=True))
            return (*(next(got) if n else None for n in ctx.needs_input_grad[:3]), None)
        from ..backends._numba_fir import fir_backward  # noqa: PLC0415

        gx, gb, gzi = fir_backward(g, x, b, zi, ctx.hop, ctx.needs_input_grad[1])
        return gx, gb, gzi, None


def fir(x: torch.Tensor, b: torch.Tensor, zi: Optional[torch.Tensor], hop: Optional[int]) -> torch.Tensor:
    """``y (B, T)`` of :func:`tritonlpc.audio.time_varying_fir` on validated arguments of one dtype
    (``zi`` ``None``: zeros)."""
    if zi is None:
        zi = x.new_zeros(x.shape[0], b.shape[2] - 1)
    if not _kernels_apply(x):
        return fir_composite(x, b, zi, hop)
    if torch.is_grad_enabled() and any(t.requires_grad for t in (x, b, zi)):
        return _FIR.apply(x, b, zi, hop)
    return _FIR.forward(x, b, zi, hop)
