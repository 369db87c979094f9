"""Time-sharded :func:`tritonlpc.audio.time_varying_iir` / ``time_varying_biquad``.

The FIR numerator of a slice needs the ``K`` inputs before it, which may span several earlier
ranks when slices are shorter than ``K``: one ``all_gather`` of every rank's last ``K`` inputs
(the halo, ``B·K`` values per rank; ``2·B·K`` in the backward) gives every rank its own past
inputs and the final ones. The all-pole denominator is then the sharded filter of
:mod:`._lpc` (its call agreement is shared: one small exchange per call).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor
from torch.autograd import Function
from torch.autograd.function import once_differentiable
from torch.distributed import ProcessGroup

from .._prepare import common_dtype, flag_variant
from .._validation import check_not_meta
from ..audio import filters
from . import _dtensor
from ._comm import Shards
from ._lpc import agree_call, filter_shards, graph_input

__all__ = ["time_varying_iir", "time_varying_biquad"]

IIRState = Tuple[Tensor, Tensor]
IIROutput = Union[Tensor, Tuple[Tensor, IIRState]]


def _origins(lengths: Sequence[int], K: int, upto: int) -> torch.Tensor:
    """Where the ``K`` inputs before rank ``upto``'s slice come from (``upto = R``: after the
    signal), oldest first: flat indices ``q*K + j`` into the all-gathered tails `(R, K)`, or
    ``R*K`` (a zero) where the signal has no such sample. Rank 0's tail is complete (front-padded
    with ``zi_x``); rank ``q > 0`` contributes its last ``min(T_q, K)`` samples."""
    R = len(lengths)
    origin = [R * K] * K
    for q in range(upto):
        n = K if q == 0 else min(lengths[q], K)
        origin = origin[n:] + [q * K + j for j in range(K - n, K)]
    return torch.tensor(origin, dtype=torch.int64)


class _Halo(Function):
    """``(past, final) = _Halo.apply(tail, zi_x, shards)``: the ``K`` inputs before this slice
    and after the whole signal, `(B, K)` each in ``zi`` order, from this rank's ``tail`` `(B, K)`:
    its last ``K`` inputs, oldest first, front-padded with ``zi_x`` on rank 0 and zeros elsewhere.
    ``zi_x`` (rank 0's, or replicated) is rank 0's ``past``. Backward: one all-gather."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, tail: torch.Tensor, zi_x: Optional[torch.Tensor], shards: Shards
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        B, K = tail.shape
        tails = shards.all_gather(tail)  # (R, B, K)
        flat = torch.cat([tails.permute(1, 0, 2).reshape(B, -1), tail.new_zeros(B, 1)], dim=1)

        def before(upto: int) -> torch.Tensor:
            return flat[:, _origins(shards.lengths, K, upto).to(tail.device)].flip(1)

        ctx.shards = shards
        if shards.is_first:
            past = zi_x.clone() if zi_x is not None else torch.zeros_like(tail)
        else:
            past = before(shards.rank)
        return past, before(shards.size)

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_past: torch.Tensor, grad_final: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        shards: Shards = ctx.shards
        B, K = grad_past.shape
        adj = shards.all_gather(torch.stack([grad_past, grad_final]))  # (R, 2, B, K)
        grad_tail = torch.zeros_like(grad_past)
        for r in range(1, shards.size + 1):  # in rank order: a fixed summation order on every device
            g = (adj[r, 0] if r < shards.size else adj[:, 1].sum(0)).flip(1)  # oldest first
            origin = _origins(shards.lengths, K, r).to(g.device)
            mine = origin // K == shards.rank
            grad_tail.index_add_(1, origin[mine] % K, g[:, mine])
        grad_zi = None
        if ctx.needs_input_grad[1]:
            grad_zi = grad_past if shards.is_first else torch.zeros_like(grad_past)
        return grad_tail, grad_zi, None


def _sharded_iir(
    x: Any, b: Any, a: Any, zi: Any, return_zf: Any, group: Any, offset: Any, hop: Any, biquad: bool
) -> IIROutput:
    pair = zi if isinstance(zi, (tuple, list)) and len(zi) == 2 else (None, None)
    layout = _dtensor.unwrap((("x", x), ("b", b), ("a", a)), (("zi[0]", pair[0]), ("zi[1]", pair[1])), group, offset)
    if layout is not None:
        (x, b, a), group, offset = layout.sharded_locals, layout.group, layout.offset
        zi = tuple(layout.replicated_locals) if zi is not None else None
    state: Dict[str, Optional[torch.Tensor]] = {}

    def check(hop: Optional[int]) -> Tuple[Dict[str, int], Sequence[Optional[torch.Tensor]], bool]:
        if biquad:
            filters.check_biquad(b, a)
        B, T, K, M, state["x"], state["y"] = filters.check_iir(x, b, a, zi, hop)
        check_not_meta((("x", x), ("b", b), ("a", a), ("zi[0]", state["x"]), ("zi[1]", state["y"])))
        return dict(B=B, T=T, M=M, K=K), (x, b, a, state["x"], state["y"]), zi is not None

    shards, hop = agree_call("time_varying_iir", group, offset, return_zf, layout is not None, check, x, hop)
    zx, zy = state["x"], state["y"]
    B, K, M = x.shape[0], b.shape[2] - 1, a.shape[2]
    past, zf_x = None, x.new_zeros(B, 0)
    if K:
        xx = x.to(common_dtype(x, b, zx))
        front = zx.to(xx.dtype).flip(1) if zx is not None and shards.is_first else xx.new_zeros(B, K)
        tail = graph_input(torch.cat([front, xx], dim=1)[:, -K:], shards)
        past, zf_x = _Halo.apply(tail, zx.to(xx.dtype) if zx is not None else None, shards)
    v = filters.fir_checked(x, b, past, hop)[0]
    if M:
        y, zf_y = filter_shards(v, a, zy, shards, return_zf=return_zf, zi_everywhere=layout is not None, hop=hop)
    else:
        y, zf_y = v, v.new_zeros(B, 0)
    if layout is not None:
        y, zf_x, zf_y = layout.shard(y), layout.replicate(zf_x), layout.replicate(zf_y)
    return (y, (zf_x, zf_y)) if return_zf else y


def _entry(
    biquad: bool,
    x: Tensor,
    b: Tensor,
    a: Tensor,
    zi: Optional[IIRState] = None,
    return_zf: bool = False,
    *,
    group: Optional[ProcessGroup] = None,
    offset: Optional[int] = None,
    hop: Optional[int] = None,
) -> IIROutput:
    """:func:`time_varying_iir`, and :func:`time_varying_biquad` if ``biquad``."""
    return _sharded_iir(x, b, a, zi, return_zf, group, offset, hop, biquad)


time_varying_iir = flag_variant(
    _entry,
    False,
    "time_varying_iir",
    r"""Time-sharded :func:`tritonlpc.audio.time_varying_iir` (direct form I) over a process group.

    Args:
        x (Tensor or DTensor): this rank's slice of the input, `(B, T_r)`.
        b (Tensor or DTensor): its numerator, `(B, T_r, K+1)` (`(B, F_r, K+1)` frames with ``hop``).
        a (Tensor or DTensor): its denominator without the leading 1, `(B, T_r, M)` (``M = 0``:
            FIR only; `(B, F_r, M)` frames with ``hop``).
        zi (tuple or None, optional): ``(zi_x (B, K), zi_y (B, M))``, the past inputs and
            outputs before the whole signal, on rank 0 only (replicated DTensors with DTensors).
        return_zf (bool, optional): also return the final ``(zf_x, zf_y)`` of the whole signal on
            every rank. Default: ``False``.
        group, offset, hop (keyword-only): as in :func:`tritonlpc.distributed.sample_wise_lpc`
            (with ``hop``, ``b`` and ``a`` hold this rank's frames: those of its slice plus the
            next one).

    Returns:
        Tensor: this rank's ``y``, `(B, T_r)`, or ``(y, (zf_x, zf_y))``; DTensors for DTensor
        inputs.

    Raises:
        TypeError, ValueError: on every rank, as :func:`tritonlpc.distributed.sample_wise_lpc`
            (here ``K`` must also agree).
    """,
)

time_varying_biquad = flag_variant(
    _entry,
    True,
    "time_varying_biquad",
    r"""Time-sharded :func:`tritonlpc.audio.time_varying_biquad`: :func:`time_varying_iir` with
    ``b (B, T_r, 3)``, ``a (B, T_r, 2)`` and ``zi = (zi_x (B, 2), zi_y (B, 2))`` on rank 0.

    Raises:
        ValueError: on every rank, if ``b`` or ``a`` does not hold 3 and 2 coefficients per
            sample on some rank (and as :func:`time_varying_iir`).
    """,
)
