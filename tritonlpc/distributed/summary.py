r"""Slice summaries: the affine map of a slice of the all-pole recursion, and its adjoint.

With the state ``s[n] = (y[n], y[n-1], ..., y[n-M+1])`` (``zi``'s ordering), filtering a slice
of ``T`` samples maps the state before it to the state after it affinely::

    s_end = P s_start + h          P (B,M,M): the transition, h (B,M): the zero-state end state

(``s_end`` is ``zf``; when ``T < M`` part of it is ``s_start`` shifted, which ``P`` holds).
Backward, the adjoint ``mu`` of a slice's end state maps to the adjoint of its start state::

    dL/ds_start = P^H mu + k       k (B,M): dL/ds_start when mu = 0 (the slice's own dL/dy)

so a backward needs only ``k``: ``P`` is known from the forward. This is what the ranks of a
time-sharded call exchange (:mod:`tritonlpc.distributed`), and what a chunked scan carries.

Backend hook
------------
A backend may provide a dedicated kernel (one pass over the slice instead of the
``M + 1`` runs of the generic version below)::

    summary(v, a, *, neg_a=False, adjoint=False) -> (P or None, h or k)

    v: (B,T) input x (adjoint=False) or output gradient g = dL/dy (adjoint=True)
    a: (B,T,M) coefficients, any strides (expanded a must be read in place), the recursion's
       A = -a if neg_a else a (neg_a: the first-order recurrence's decay, as in the backend contract)
    adjoint=False -> (P (B,M,M), h (B,M)) as above, dtype of v
    adjoint=True  -> (None, k (B,M)): k = grad_zi of backend.backward(g, a, None, zeros, False, True,
                     neg_a) in torch's complex convention (conj(A) in the adjoint)
    T may be 0 (P = I, h = k = 0) or smaller than M.

:func:`slice_summary` uses the backend's ``summary`` (:meth:`tritonlpc.backends.base.Backend.summary`)
when the backend of ``v`` has one (it returns something other than ``None``), and otherwise the
generic implementation built on the backend's ``forward``/``backward``.
"""

from __future__ import annotations

from typing import Optional, Tuple, cast

import torch

from .. import _dispatch

__all__ = ["slice_summary", "end_state", "apply_map"]


def end_state(y: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """The state after a slice, ``(y[T-1], ..., y[T-M])`` with ``y[-k] = zi[k-1]``, `(B, M)`.

    Args:
        y: the slice's output, `(B, T)`. zi: the state before it, `(B, M)`.
    """
    T, M = y.shape[1], zi.shape[1]
    if T >= M:
        return y[:, T - M :].flip(1)
    return torch.cat([zi.flip(1), y], dim=1)[:, T:].flip(1)


def apply_map(P: torch.Tensor, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
    """``P s + h`` for batches of small maps, `(B,M,M)`, `(B,M)`, `(B,M)` -> `(B,M)`.

    A zero component of ``s`` contributes exactly zero even where ``P`` overflowed (``inf`` or
    ``NaN`` after an unstable stretch): the sequential recursion carries a zero state through
    such a stretch without ever multiplying by the overflowed map, and so does this.
    """
    s_ = s.unsqueeze(-2)
    terms = torch.where(s_ == 0, P.new_zeros(()), P * s_)
    return h + terms.sum(-1)


def _generic_forward(x: torch.Tensor, a: torch.Tensor, neg_a: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    """``M + 1`` runs of the backend's forward: ``h`` from ``(x, zero state)``, column ``j`` of
    ``P`` from ``(zero input, unit state e_j)``. ``a`` is never copied: the runs are batched over
    the ``M + 1`` states per row (``a[b]`` expanded, stride 0) when ``B <= M + 1``, else over rows
    with one call per state; either way ``min(B, M + 1)`` backend calls."""
    backend = _dispatch.backend_object(x)
    B, T, M = a.shape
    eye = torch.eye(M, dtype=x.dtype, device=x.device)
    P, h = x.new_empty(B, M, M), x.new_empty(B, M)
    if B <= M + 1:
        states = torch.cat([x.new_zeros(1, M), eye])  # (M+1, M): zero state, then e_1..e_M
        for b in range(B):
            inputs = x.new_zeros(M + 1, T)
            inputs[0] = x[b]
            ends = end_state(backend.forward(inputs, a[b : b + 1].expand(M + 1, T, M), states, neg_a=neg_a), states)
            h[b], P[b] = ends[0], ends[1:].T
        return P, h
    zero_input = x.new_zeros(()).expand(B, T)
    start = x.new_zeros(B, M)
    h.copy_(end_state(backend.forward(x, a, start, neg_a=neg_a), start))
    for j in range(M):
        start = eye[j].expand(B, M)
        P[:, :, j] = end_state(backend.forward(zero_input, a, start, neg_a=neg_a), start)
    return P, h


def slice_summary(
    v: torch.Tensor, a: torch.Tensor, *, neg_a: bool = False, adjoint: bool = False
) -> Tuple[Optional[torch.Tensor], torch.Tensor]:
    """The affine map of one slice (forward) or its adjoint's constant part (backward).

    Args:
        v (Tensor): the slice's input ``x`` (forward) or ``g = dL/dy`` (``adjoint``), `(B, T)`.
        a (Tensor): its coefficients, `(B, T, M)`, any strides (read in place).
        neg_a (bool): the recursion uses ``-a`` (first-order recurrence with ``a`` = decay).
        adjoint (bool): compute ``k`` instead of ``(P, h)``.

    Returns:
        ``(P (B,M,M), h (B,M))`` with ``s_end = P s_start + h``; or, if ``adjoint``,
        ``(None, k (B,M))`` with ``dL/ds_start = P^H mu + k`` (see the module docstring).
        Uses the backend's ``summary`` kernel when it has one.
    """
    backend = _dispatch.backend_object(v)
    dedicated = backend.summary(v, a, neg_a=neg_a, adjoint=adjoint)
    if dedicated is not None:
        return dedicated
    if adjoint:
        zero = v.new_zeros(a.shape[0], a.shape[2])
        k = backend.backward(v, a, None, zero, False, True, neg_a=neg_a)[2]
        return None, cast(torch.Tensor, k)  # need_grad_zi=True: grad_zi is given
    return _generic_forward(v, a, neg_a)
