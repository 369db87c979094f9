r"""Slice summaries: the affine map of a slice of the all-pole recursion, and its adjoint.

With the state ``s[n] = (y[n], y[n-1], ..., y[n-M+1])`` (``zi``'s ordering), filtering a slice
of ``T`` samples maps the state before it to the state after it affinely::

    s_end = P 2**e s_start + h     P (B,M,M): the transition's mantissa, e (B,): its exponent,
                                   h (B,M): the zero-state end state

(``s_end`` is ``zf``; when ``T < M`` part of it is ``s_start`` shifted, which ``P`` holds). The
power-of-two exponent ``e`` (int32, 0 unless the transition grows large) keeps the map of an
unstable slice finite where its product with the actual state is: apply a map with
:func:`apply_map` (``apply_map(P, h, s, e)``).
Backward, the adjoint ``mu`` of a slice's end state maps to the adjoint of its start state::

    dL/ds_start = P^H mu + k       k (B,M): dL/ds_start when mu = 0 (the slice's own dL/dy)

so a backward needs only ``k``: ``P`` (and ``e``) are known from the forward. This is what the ranks of a
time-sharded call exchange (:mod:`tritonlpc.distributed`). The definitions (and a plain
reference) are in :mod:`tritonlpc._reference`; the backend's ``summary`` kernel computes them in
one pass over the slice (:meth:`tritonlpc.backends.base.Backend.summary`).
"""

from __future__ import annotations

from typing import Optional

import torch

from .. import _dispatch
from .._reference import apply_map, end_state
from ..backends.base import SliceMap

__all__ = ["slice_summary", "SliceMap", "end_state", "apply_map"]


def slice_summary(
    v: torch.Tensor, a: torch.Tensor, *, neg_a: bool = False, adjoint: bool = False, hop: Optional[int] = None
) -> SliceMap:
    """The affine map of one slice (forward) or its adjoint's constant part (backward).

    Args:
        v (Tensor): the slice's input ``x`` (forward) or ``g = dL/dy`` (``adjoint``), `(B, T)`.
        a (Tensor): its coefficients, `(B, T, M)`, any strides (read in place); with ``hop``,
            control frames `(B, F, M)` at the slice's samples ``0, hop, 2 hop, ...``
            (``F >= (T - 1) // hop + 2``, as :func:`tritonlpc.sample_wise_lpc`'s ``hop``).
        neg_a (bool): the recursion uses ``-a`` (first-order recurrence with ``a`` = decay).
        adjoint (bool): compute ``k`` instead of ``(P, h)``.
        hop (int or None): ``a`` holds control frames every ``hop`` samples (interpolated in the
            kernel: no `(B, T, M)` tensor).

    Returns:
        ``SliceMap(P (B,M,M), h (B,M), e (B,) int32)`` with ``s_end = P 2**e s_start + h``; or,
        if ``adjoint``, ``SliceMap(None, k (B,M), None)`` with ``dL/ds_start = P^H 2**e mu + k``
        (see the module docstring).
        Computed by the backend of ``v``'s device (its ``summary`` kernel).
    """
    return _dispatch.backend_object(v).summary(v, a, neg_a=neg_a, adjoint=adjoint, hop=hop)
