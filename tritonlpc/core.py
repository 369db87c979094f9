"""Autograd for the all-pole filter: :class:`LPC` (torchlpc's ``torchlpc.core.LPC``).

Gradients (notation and the adjoint filter: :mod:`tritonlpc._reference`), for
``y = LPC(x, A, zi)`` and ``g = dL/dy``::

    u = dL/dx     : u[n] = g[n] - sum_i conj(A[n+i, i-1]) u[n+i]      (reverse filter)
    dL/dA[n, i-1] = -u[n] conj(y[n-i])
    dL/dzi[k-1]   = -sum_{n=0..M-k} conj(A[n, n+k-1]) u[n]

Two backward paths share that math:

* **fused** (the usual case: first-order gradients, no graph being built): one backend kernel
  runs the reverse filter and writes ``dL/dx``, ``dL/dA`` and ``dL/dzi`` in the same pass;
* **differentiable** (``create_graph=True`` or inside ``torch.func`` transforms): the reverse
  filter is itself an autograd Function (:class:`Reverse`) whose backward is the forward
  filter again, so gradients of any order, forward-over-reverse and vmap compose.

Forward mode: ``y_dot = LPC(x_dot - sum_i A_dot[n,i-1] y[n-i], A, zi_dot)``.

Control-rate coefficients (``hop``, :func:`tritonlpc._reference.interpolate`): ``A`` holds frames
`(B,F,M)`. The forward and the fused backward read them in place (the backend interpolates, and
reduces ``dL/dA`` to the frames); the differentiable paths (second order, forward mode, functorch)
interpolate in torch and go through the per-sample formulas above (a `(B,T,M)` tensor: slower).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import torch
from torch.autograd import Function

from . import _dispatch
from ._autograd import (
    apply,
    backend_computing,
    checked_apply,
    flatten_vmap,
    fused_ok,
    precomputed_signature,
    save_for_both,
)
from ._reference import interpolate, interpolate_transpose
from ._validation import check_flag, check_hop, check_lpc

__all__ = ["LPC", "Reverse", "lpc_vjp", "lpc_grads", "past_values"]


def _maybe_conj(t: torch.Tensor, conj: bool) -> torch.Tensor:
    return t.conj() if conj and t.is_complex() else t


def past_values(y: torch.Tensor, zi: Optional[torch.Tensor], M: int) -> torch.Tensor:
    """``P[b, n, i-1] = y[b, n-i]`` with ``y[b, -k] = zi[b, k-1]`` (zeros if ``zi`` is None).

    Shape `(B, T, M)`: an unfolded view of one `(B, T+M-1)` buffer (used only on the
    differentiable paths; the fused kernels read ``y`` in place).
    """
    if y.shape[1] == 0:
        return y.new_zeros(y.shape[0], 0, M)
    if zi is None:
        zi = y.new_zeros(y.shape[0], M)
    return torch.cat([zi.flip(1), y[:, :-1]], dim=1).unfold(1, M, 1).flip(2)


def _diagonal_sum(w: torch.Tensor) -> torch.Tensor:
    """``s[b, n] = sum_{i=1..M} w[b, n+i, i-1]`` (zero where ``n+i >= T``), shape `(B, T)`."""
    B, T, M = w.shape
    s = w.new_zeros(B, T)
    for i in range(1, min(M, T - 1) + 1):
        s = s + torch.nn.functional.pad(w[:, i:, i - 1], (0, i))
    return s


def _zi_grad(A: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """``dL/dzi[k-1] = -sum_{n=0..M-k} A[n, n+k-1] u[n]`` (``A`` already conjugated), `(B, M)`."""
    B, T, M = A.shape
    head = A[:, : min(T, M), :]
    cols = []
    for k in range(1, M + 1):
        diag = torch.diagonal(head, offset=k - 1, dim1=1, dim2=2)  # A[:, n, n+k-1]
        cols.append(-(diag * u[:, : diag.shape[1]]).sum(1))
    return torch.stack(cols, dim=1)


def lpc_vjp(
    grad_y: torch.Tensor, A: torch.Tensor, y: torch.Tensor, zi: torch.Tensor, conj: bool, need_A: bool, need_zi: bool
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Differentiable vector-Jacobian product of ``y = F(x; Ac, zi)``, ``Ac = conj(A)`` if ``conj``.

    Returns ``(dL/dx, dL/dA, dL/dzi)`` (the last two ``None`` unless needed), built from
    :class:`Reverse` and torch ops so that it can itself be differentiated.
    """
    M = A.shape[2]
    u = apply(Reverse, grad_y, A, not conj)  # R(g; conj(Ac))
    gA = _maybe_conj(-u.unsqueeze(2) * past_values(y, zi, M).conj(), conj) if need_A else None
    gzi = _zi_grad(_maybe_conj(A, not conj), u) if need_zi else None
    return u, gA, gzi


def lpc_grads(
    grad_y: torch.Tensor,
    A: torch.Tensor,
    y: torch.Tensor,
    zi: torch.Tensor,
    conj: bool,
    need_A: bool,
    need_zi: bool,
    hop: Optional[int],
    neg: bool = False,
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """The backward of ``y`` = :class:`LPC` with coefficients ``-A`` if ``neg`` else ``A``, control
    frames every ``hop`` samples (per-sample ``A`` when ``hop`` is None); the gradient is ``A``'s.
    The backend's fused first-order kernel where it can run (no graph, no functorch, no
    ``conj``), else :func:`lpc_vjp` (differentiable): ``A`` interpolated in torch, the per-sample
    gradient reduced to the frames by the transpose."""
    if not conj and fused_ok(grad_y, A, zi, y):
        backend = _dispatch.backend_object(grad_y)
        return backend.backward(grad_y, A, y if need_A else None, zi, need_A, need_zi, neg_a=neg, hop=hop)
    At = -A if neg else A
    u, gA, gzi = lpc_vjp(grad_y, At if hop is None else interpolate(At, hop, y.shape[1]), y, zi, conj, need_A, need_zi)
    if gA is not None:
        gA = gA if hop is None else interpolate_transpose(gA, hop, A.shape[1])
        gA = -gA if neg else gA
    return u, gA, gzi


def _check_lpc_args(x: object, A: object, zi: object, conj: object, hop: object = None) -> None:
    check_lpc(x, A, zi, names=("x", "A", "zi"), same_dtype=True, require_zi=True, hop=check_hop(hop))
    check_flag("conj", conj)
    backend_computing(x, "x")  # type: ignore[arg-type]  # check_lpc: a tensor


def _check_reverse_args(g: object, A: object, conj: object) -> None:
    check_lpc(g, A, None, names=("g", "A", "zi"), same_dtype=True)
    check_flag("conj", conj)
    backend_computing(g, "g")  # type: ignore[arg-type]  # check_lpc: a tensor


@precomputed_signature
class LPC(Function):
    """Time-varying all-pole filter ``y[n] = x[n] - sum_i A[n,i-1] y[n-i]`` with autograd.

    ``LPC.apply(x, A, zi)``: ``x (B,T)``, ``A (B,T,M)``, ``zi (B,M)`` of one dtype and device;
    returns ``y (B,T)``. Supports backward (fused), double backward, forward-mode AD and vmap.
    (An optional fourth argument ``conj`` filters with ``conj(A)``; used internally. A fifth,
    ``hop``, takes ``A`` as control frames `(B,F,M)` every ``hop`` samples.)

    Raises (a direct call; the package's own calls are prepared and skip the checks):
        TypeError, ValueError: naming the argument (types, shapes, dtypes, devices).
    """

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return checked_apply(cls, _check_lpc_args, args, kwargs)

    @staticmethod
    def forward(
        x: torch.Tensor, A: torch.Tensor, zi: torch.Tensor, conj: bool = False, hop: Optional[int] = None
    ) -> torch.Tensor:
        return _dispatch.backend_object(x).forward(x, A, zi, conj_a=conj, hop=hop)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        _, A, zi, *rest = inputs
        ctx.conj = bool(rest[0]) if rest else False
        ctx.hop = rest[1] if len(rest) > 1 else None
        save_for_both(ctx, inputs, A, zi, output)

    @staticmethod
    def backward(ctx: Any, grad_y: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        A, zi, y = ctx.saved_tensors
        need_x, need_A, need_zi = ctx.needs_input_grad[:3]
        gx, gA, gzi = lpc_grads(grad_y, A, y, zi, ctx.conj, need_A, need_zi, ctx.hop)
        grads = (gx if need_x else None, gA if need_A else None, gzi if need_zi else None, None, None)
        return grads[: ctx.n_inputs]

    @staticmethod
    def jvp(  # type: ignore[override]
        ctx: Any, x_dot: Optional[torch.Tensor], A_dot: Optional[torch.Tensor], zi_dot: Optional[torch.Tensor], *_: Any
    ) -> torch.Tensor:  # type: ignore[override]
        A, zi, y = ctx.saved_tensors
        rhs = x_dot if x_dot is not None else torch.zeros_like(y)
        if A_dot is not None:
            if ctx.hop is not None:
                A_dot = interpolate(A_dot, ctx.hop, y.shape[1])
            rhs = rhs - (_maybe_conj(A_dot, ctx.conj) * past_values(y, zi, A.shape[2])).sum(2)
        z0 = zi_dot if zi_dot is not None else torch.zeros_like(zi)
        return apply(LPC, rhs, A, z0, ctx.conj, ctx.hop)

    @staticmethod
    def vmap(info: Any, in_dims: Tuple[Optional[int], ...], *args: Any) -> Tuple[torch.Tensor, int]:
        flat = flatten_vmap(info, in_dims, args)
        y = apply(LPC, *flat)
        return y.reshape(info.batch_size, -1, *y.shape[1:]), 0


@precomputed_signature
class Reverse(Function):
    """Reverse (adjoint) all-pole filter ``u[n] = g[n] - sum_i Ac[n+i, i-1] u[n+i]``.

    ``Reverse.apply(g, A, conj)`` with ``Ac = conj(A)`` if ``conj`` else ``A``; ``g (B,T)``,
    ``A (B,T,M)`` read at shifted times in place; returns ``u (B,T)``. With ``conj=True`` this is
    ``dL/dx`` of :class:`LPC` for ``dL/dy = g``. Differentiable to any order (its backward is
    :class:`LPC`); supports forward-mode AD and vmap. A direct call checks its arguments.
    """

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return checked_apply(cls, _check_reverse_args, args, kwargs)

    @staticmethod
    def forward(g: torch.Tensor, A: torch.Tensor, conj: bool) -> torch.Tensor:  # type: ignore[override]
        return _dispatch.backend_object(g).reverse(g, A, conj_a=conj)

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[Any, ...], output: torch.Tensor) -> None:
        _, A, conj = inputs
        ctx.conj = bool(conj)
        ctx.save_for_backward(A, output)
        ctx.save_for_forward(A, output)

    @staticmethod
    def backward(ctx: Any, grad_u: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        A, u = ctx.saved_tensors
        need_g, need_A, _ = ctx.needs_input_grad
        M = A.shape[2]
        # u = R(g; Ac): dL/dg = F(grad_u; conj(Ac), 0); dL/dAc[m,i-1] = -conj(u[m]) dL/dg[m-i].
        gg = apply(LPC, grad_u, A, grad_u.new_zeros(grad_u.shape[0], M), not ctx.conj)
        gA = None
        if need_A:
            gAc = -u.conj().unsqueeze(2) * past_values(gg, None, M)
            gA = _maybe_conj(gAc, ctx.conj)
        return (gg if need_g else None, gA, None)

    @staticmethod
    def jvp(ctx: Any, g_dot: Optional[torch.Tensor], A_dot: Optional[torch.Tensor], _: Any) -> torch.Tensor:  # type: ignore[override]
        A, u = ctx.saved_tensors
        rhs = g_dot if g_dot is not None else torch.zeros_like(u)
        if A_dot is not None:
            rhs = rhs - _diagonal_sum(_maybe_conj(A_dot, ctx.conj) * u.unsqueeze(2))
        return apply(Reverse, rhs, A, ctx.conj)

    @staticmethod
    def vmap(info: Any, in_dims: Tuple[Optional[int], ...], *args: Any) -> Tuple[torch.Tensor, int]:
        flat = flatten_vmap(info, in_dims, args)
        u = apply(Reverse, *flat)
        return u.reshape(info.batch_size, -1, *u.shape[1:]), 0
