"""Autograd for the first-order linear recurrence: :class:`Recurrence` (torchlpc's
``torchlpc.recurrence.Recurrence``).

``h[n] = decay[n] h[n-1] + impulse[n]``, ``h[-1] = initial_state`` is the all-pole filter of
order 1 with ``A = -decay``. The kernels take ``decay`` as it is (``neg_a=True``), so no negated
copy is made; gradients (torch's complex convention)::

    u = dL/dimpulse : u[n] = g[n] + conj(decay[n+1]) u[n+1]
    dL/ddecay[n]    = u[n] conj(h[n-1])
    dL/dinitial     = conj(decay[0]) u[0]

With ``hop``, ``decay`` holds control frames `(B,F)` every ``hop`` samples (as
:class:`tritonlpc.core.LPC`'s ``A``).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch.autograd import Function

from . import _dispatch
from ._autograd import apply, backend_computing, checked_apply, flatten_vmap, precomputed_signature, save_for_both
from ._reference import interpolate
from ._validation import check_hop, check_recurrence
from .core import lpc_grads

__all__ = ["Recurrence", "previous", "recurrence_tangent"]


def previous(out: torch.Tensor, init: torch.Tensor) -> torch.Tensor:
    """``h[n-1]`` for every n, shape `(B, T)` (``h[-1] = init``)."""
    return torch.cat([init.unsqueeze(1), out[:, :-1]], dim=1)


def _check_args(decay: object, impulse: object, initial_state: object, hop: object = None) -> None:
    names = ("decay", "impulse", "initial_state")
    check_recurrence(decay, impulse, initial_state, names=names, same_dtype=True, require_init=True, hop=check_hop(hop))
    backend_computing(impulse, "impulse")  # type: ignore[arg-type]  # check_recurrence: a tensor


@precomputed_signature
class Recurrence(Function):
    """``Recurrence.apply(decay, impulse, initial_state)``: ``decay, impulse (B,T)``,
    ``initial_state (B,)`` of one dtype and device; returns ``h (B,T)``. An optional fourth
    argument ``hop`` takes ``decay`` as control frames `(B,F)` every ``hop`` samples.

    Supports backward (fused), double backward, forward-mode AD and vmap. A direct call checks
    its arguments (``TypeError`` / ``ValueError`` naming the argument).
    """

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return checked_apply(cls, _check_args, args, kwargs)

    @staticmethod
    def forward(  # type: ignore[override]
        decay: torch.Tensor, impulse: torch.Tensor, initial_state: torch.Tensor, hop: Optional[int] = None
    ) -> torch.Tensor:
        backend = _dispatch.backend_object(impulse)
        return backend.forward(impulse, decay.unsqueeze(2), initial_state.unsqueeze(1), neg_a=True, hop=hop)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        decay, _, init, *rest = inputs
        ctx.hop = rest[0] if rest else None
        save_for_both(ctx, inputs, decay, init, output)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        decay, init, out = ctx.saved_tensors
        need_decay, need_impulse, need_init = ctx.needs_input_grad[:3]
        u, gA, gzi = lpc_grads(
            grad_out, decay.unsqueeze(2), out, init.unsqueeze(1), False, need_decay, need_init, ctx.hop, neg=True
        )
        g_decay = gA.squeeze(2) if gA is not None else None
        g_init = gzi.squeeze(1) if gzi is not None else None
        grads = (g_decay if need_decay else None, u if need_impulse else None, g_init if need_init else None, None)
        return grads[: ctx.n_inputs]

    @staticmethod
    def jvp(ctx: Any, *tangents: Optional[torch.Tensor]) -> torch.Tensor:
        """``tangents = (decay_dot, impulse_dot, init_dot[, hop's None])``, see :func:`recurrence_tangent`."""
        decay, init, out = ctx.saved_tensors
        return recurrence_tangent(decay, init, out, tangents[:3], ctx.hop)

    @staticmethod
    def vmap(info: Any, in_dims: Tuple[Optional[int], ...], *args: Any) -> Tuple[torch.Tensor, int]:
        flat = flatten_vmap(info, in_dims, args)
        h = apply(Recurrence, *flat)
        return h.reshape(info.batch_size, -1, *h.shape[1:]), 0


def recurrence_tangent(
    decay: torch.Tensor,
    init: torch.Tensor,
    out: torch.Tensor,
    tangents: Tuple[Optional[torch.Tensor], ...],
    hop: Optional[int] = None,
) -> torch.Tensor:
    """The tangent of ``out = h`` of ``h[n] = decay[n] h[n-1] + impulse[n]``, ``h[-1] = init``,
    for ``tangents = (decay_dot, impulse_dot, init_dot)`` (``None``: zero): the same recurrence
    driven by ``impulse_dot[n] + decay_dot[n] h[n-1]`` from ``init_dot``. All `(B, T)` but
    ``init``, ``init_dot`` `(B,)`; with ``hop``, ``decay`` and ``decay_dot`` are control frames
    `(B, F)`."""
    decay_dot, impulse_dot, init_dot = tangents
    rhs = impulse_dot if impulse_dot is not None else torch.zeros_like(out)
    if decay_dot is not None:
        if hop is not None:
            decay_dot = interpolate(decay_dot.unsqueeze(2), hop, out.shape[1]).squeeze(2)
        rhs = rhs + decay_dot * previous(out, init)
    z0 = init_dot if init_dot is not None else torch.zeros_like(init)
    return apply(Recurrence, decay, rhs, z0, hop)
