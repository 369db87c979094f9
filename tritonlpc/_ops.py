"""Kernels registered as torch custom ops, for ``torch.compile(fullgraph=True)``.

Dynamo cannot trace ``autograd.Function`` subclasses that define a custom ``jvp`` (as
:class:`tritonlpc.core.LPC` does, for forward-mode AD), so under ``torch.compile`` the public
functions call these ops instead. Their backward is registered with
``torch.library.register_autograd`` and runs the same fused backend kernel as eager mode.
Forward-mode AD and double backward are eager-only features.

Ops:
    ``tritonlpc::allpole(x, a, zi, neg_a, hop=0) -> y``
    ``tritonlpc::allpole_backward(g, a, y, zi, neg_a, need_grad_a, need_grad_zi, hop=0)
    -> (grad_x, grad_a, grad_zi)`` (unneeded gradients are returned as empty tensors)

``hop > 0``: ``a`` holds control frames `(B,F,M)` every ``hop`` samples (0: per-sample ``a``).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch import Tensor

from . import _dispatch

__all__ = ["allpole", "allpole_backward"]


def _hop(hop: int) -> Optional[int]:
    return hop if hop > 0 else None


@torch.library.custom_op("tritonlpc::allpole", mutates_args=())
def allpole(x: Tensor, a: Tensor, zi: Tensor, neg_a: bool, hop: int = 0) -> Tensor:
    """``y[n] = x[n] - sum_i A[n,i-1] y[n-i]`` with ``A = -a`` if ``neg_a`` else ``a``."""
    return _dispatch.backend_object(x).forward(x, a, zi, neg_a=neg_a, hop=_hop(hop))


@allpole.register_fake
def _(x: Tensor, a: Tensor, zi: Tensor, neg_a: bool, hop: int = 0) -> Tensor:
    return x.new_empty(x.shape)


@torch.library.custom_op("tritonlpc::allpole_backward", mutates_args=())
def allpole_backward(
    g: Tensor, a: Tensor, y: Tensor, zi: Tensor, neg_a: bool, need_grad_a: bool, need_grad_zi: bool, hop: int = 0
) -> Tuple[Tensor, Tensor, Tensor]:
    """Fused backward of :func:`allpole`; see :mod:`tritonlpc.backends` for the math."""
    backend = _dispatch.backend_object(g)
    gx, ga, gzi = backend.backward(g, a, y, zi, need_grad_a, need_grad_zi, neg_a=neg_a, hop=_hop(hop))
    empty = g.new_empty(0)
    return gx, ga if ga is not None else empty, gzi if gzi is not None else empty.clone()


@allpole_backward.register_fake
def _(
    g: Tensor, a: Tensor, y: Tensor, zi: Tensor, neg_a: bool, need_grad_a: bool, need_grad_zi: bool, hop: int = 0
) -> Tuple[Tensor, Tensor, Tensor]:
    ga = g.new_empty(a.shape) if need_grad_a else g.new_empty(0)
    gzi = g.new_empty(zi.shape) if need_grad_zi else g.new_empty(0)
    return g.new_empty(g.shape), ga, gzi


def _setup_context(ctx: Any, inputs: Tuple[Any, ...], output: Tensor) -> None:
    _, a, zi, neg_a, hop = inputs
    ctx.neg_a = neg_a
    ctx.hop = hop
    ctx.save_for_backward(a, zi, output)


def _backward(ctx: Any, grad_y: Tensor) -> Tuple[Optional[Tensor], ...]:
    a, zi, y = ctx.saved_tensors
    need_x, need_a, need_zi = ctx.needs_input_grad[:3]
    gx, ga, gzi = allpole_backward(grad_y, a, y, zi, ctx.neg_a, need_a, need_zi, ctx.hop)
    return (gx if need_x else None, ga if need_a else None, gzi if need_zi else None, None, None)


torch.library.register_autograd("tritonlpc::allpole", _backward, setup_context=_setup_context)
