"""Time-sharded all-pole filter: the autograd Function and ``sample_wise_lpc`` /
``linear_recurrence`` over a process group.

Forward, on the rank holding samples ``[t_r, t_{r+1})``:

1. summary of the local slice, ``s_end = P_r 2**e_r s_start + h_r`` (:mod:`.summary`; the
   transition as a mantissa and a power-of-two exponent, so that the map of an unstable slice
   overflows only where its product with the actual state would); rank 0 knows its start state
   (``zi``), so it filters at once and its map is the constant ``(0, s_end)``;
2. one ``all_gather`` of the ``(P_q, h_q, e_q)`` (``B·M·(M+2)`` values per rank, ``e_q`` repeated
   in a column of the map's dtype: exact);
3. the start state ``s_start = m_{r-1}(... m_1(m_0(0)))`` with ``m_q(s) = P_q 2**e_q s + h_q``: the
   earlier ranks' maps composed in rank order (the same operations on every rank: deterministic,
   and ``zf`` is bit-identical everywhere); slices shorter than ``M`` need no special case, the
   maps act on the full state;
4. the local output, filtering from ``s_start``.

Backward, the same in reverse: each rank's ``k_r`` (the adjoint of its start state from its own
``dL/dy``) and ``dL/dzf`` are all-gathered (``2·B·M`` values per rank); the adjoint of this
slice's end state is ``mu_r = P_{r+1}^H (... (P_{R-1}^H mu_{R-1} + k_{R-1}) ...) + k_{r+1}`` (each
``P_q^H`` with its exponent, as in the forward) with
``mu_{R-1} = sum_r dL/dzf_r``, injected into the local fused backward as extra ``dL/dy`` on the
slice's last ``M`` samples. ``dL/da`` at the slice's start uses the saved start state (the
previous ``M`` outputs overall), so nothing else is exchanged.
"""

from __future__ import annotations

from functools import reduce
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Sequence, Tuple, Union, cast

import torch
from torch.autograd import Function
from torch.autograd.function import once_differentiable

from .. import _dispatch
from .._prepare import as_dtype, common_dtype, compute_dtype, prepare
from .._reference import apply_map, end_state
from .._validation import check_hop, check_lpc, check_not_meta, check_recurrence
from . import _dtensor
from ._comm import Shards, agree, resolve_group

if TYPE_CHECKING:
    from ..backends.base import Backend

__all__ = [
    "sample_wise_lpc",
    "linear_recurrence",
    "ShardedAllPole",
    "filter_shards",
    "agree_call",
    "graph_input",
]


def needs_grad(*tensors: Optional[torch.Tensor]) -> bool:
    """This rank records a graph through the call."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def graph_input(t: torch.Tensor, shards: Shards) -> torch.Tensor:
    """``t``, made part of a graph when another rank records one and this rank would not.

    A collective backward must run on every rank, and autograd calls a Function's backward
    only if one of its inputs requires grad: a rank whose inputs need no gradient (say ``zi``
    is learned, and lives on rank 0 only) still joins through this detached leaf.
    """
    if shards.needs_grad and not t.requires_grad:
        return t.detach().requires_grad_()
    return t


def _exponents(maps: torch.Tensor) -> torch.Tensor:
    """The exponents ``e (..., B)`` of gathered maps ``(..., B, M, M+2)`` (column ``M + 1``)."""
    return maps[..., 0, -1].real.to(torch.int32)


def _inject(g: torch.Tensor, mu: torch.Tensor) -> torch.Tensor:
    """``dL/dy`` plus the end-state adjoint: ``mu[k]`` is the adjoint of ``y[T-1-k]``."""
    T = g.shape[1]
    n = min(T, mu.shape[1])
    if n == 0 or not torch.any(mu != 0):
        return g
    g = g.clone()
    g[:, T - n :] += mu[:, :n].flip(1)
    return g


class ShardedAllPole(Function):
    """``(y, zf) = ShardedAllPole.apply(x, A, zi, shards, backend, neg_a, return_zf, zi_everywhere, hop)``.

    ``x (B,T_r)``, ``A (B,T_r,M)``: this rank's slice (or, with ``hop``, its control frames
    ``(B,F_r,M)``: the slice starts on a frame boundary); ``zi (B,M)`` on rank 0 (or on every rank
    when ``zi_everywhere``, rank 0's is used), else ``None``. Returns the slice's ``y (B,T_r)``
    and the final state of the whole signal ``zf (B,M)`` (the same on every rank; its gradient
    is the sum of every rank's). ``A``'s gradient is this rank's part only (frames shared with a
    neighbour get the rest there). First-order gradients; the backward is collective, so every
    rank must run it.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any,
        x: torch.Tensor,
        a: torch.Tensor,
        zi: Optional[torch.Tensor],
        shards: Shards,
        backend: Backend,
        neg_a: bool,
        return_zf: bool,
        zi_everywhere: bool,
        hop: Optional[int] = None,
    ) -> Tuple[torch.Tensor, torch.Tensor]:
        B, M = x.shape[0], a.shape[2]
        if shards.is_first:
            start = zi if zi is not None else x.new_zeros(B, M)
            y = backend.forward(x, a, start, neg_a=neg_a, hop=hop)
            P, h, e = x.new_zeros(B, M, M), end_state(y, start), x.new_zeros(B)
        else:
            m = backend.summary(x, a, neg_a=neg_a, hop=hop)
            P = cast(torch.Tensor, m.P)  # forward summaries always have the map (only adjoints omit it)
            h, e = m.h, cast(torch.Tensor, m.e).to(x.dtype)
        maps = shards.all_gather(torch.cat([P, h.unsqueeze(2), e[:, None, None].expand(B, M, 1)], dim=2))
        state = x.new_zeros(B, M)  # maps: (R, B, M, M+2)
        for q in range(shards.size):
            if q == shards.rank and not shards.is_first:
                start = state
            state = apply_map(maps[q, ..., :M], maps[q, ..., M], state, _exponents(maps[q]))
        if not shards.is_first:
            y = backend.forward(x, a, start, neg_a=neg_a, hop=hop)
        ctx.save_for_backward(a, y, start, maps[shards.rank + 1 :])
        ctx.shards, ctx.backend, ctx.neg_a, ctx.return_zf, ctx.hop = shards, backend, neg_a, return_zf, hop
        return y, state

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, grad_y: torch.Tensor, grad_zf: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        a, y, start, later = ctx.saved_tensors
        shards: Shards = ctx.shards
        need_x, need_a, need_zi = ctx.needs_input_grad[:3]
        backend: Backend = ctx.backend
        (B, T), M, neg_a, hop = grad_y.shape, a.shape[2], ctx.neg_a, ctx.hop
        need_start = shards.is_first and need_zi
        done = None
        if shards.is_first:  # nobody composes rank 0's map backwards
            k = grad_y.new_zeros(B, M)
        elif shards.is_last and not ctx.return_zf:  # mu = 0: the local backward is the whole of it
            done = backend.backward(grad_y, a, y if need_a else None, start, need_a, True, neg_a=neg_a, hop=hop)
            k = cast(torch.Tensor, done[2])  # need_grad_zi=True: grad_zi is given
        else:
            k = backend.summary(grad_y, a, neg_a=neg_a, adjoint=True, hop=hop).h
        adj = shards.all_gather(torch.stack([k, grad_zf]))  # (R, 2, B, M)
        mu = reduce(torch.add, adj[:, 1].unbind(0))  # dL/dzf, every rank's, in rank order
        for q in range(shards.size - 1, shards.rank, -1):
            m = later[q - shards.rank - 1]
            mu = apply_map(m[..., :M].mH, adj[q, 0], mu, _exponents(m))
        if done is None:
            done = backend.backward(
                _inject(grad_y, mu), a, y if need_a else None, start, need_a, need_start, neg_a=neg_a, hop=hop
            )
        grad_x, grad_a, grad_start = done
        grad_zi = None
        if need_start:
            grad_zi = cast(torch.Tensor, grad_start).clone()  # need_start: grad_zi was asked for
            grad_zi[:, : max(M - T, 0)] += mu[:, T:]  # the end state holds part of zi when T < M
        elif need_zi:  # replicated zi on a later rank: rank 0's copy was used
            grad_zi = torch.zeros_like(start)
        return grad_x if need_x else None, grad_a if need_a else None, grad_zi, None, None, None, None, None, None


def filter_shards(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor],
    shards: Shards,
    *,
    neg_a: bool = False,
    return_zf: bool = False,
    zi_everywhere: bool = False,
    hop: Optional[int] = None,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """Run :class:`ShardedAllPole` on agreed, validated tensors (``a``: frames with ``hop``):
    promoted and cast to the compute dtype here (:func:`tritonlpc._prepare.prepare`), the result
    returned in the promoted dtype."""
    dtype, cdt, backend = prepare(x, x, a, zi, native_half=False)
    if backend is None:  # under torch.compile: the collectives run eagerly anyway
        backend = _dispatch.backend_object(x)
    x, a = as_dtype(x, cdt), as_dtype(a, cdt)
    zi = as_dtype(zi, cdt) if zi is not None else None
    if shards.needs_grad and not any(t is not None and t.requires_grad for t in (x, a, zi)):
        x = graph_input(x, shards)
    y, zf = ShardedAllPole.apply(x, a, zi, shards, backend, neg_a, return_zf, zi_everywhere, hop)
    return as_dtype(y, dtype), as_dtype(zf, dtype)


def agree_call(
    call: str,
    group: object,
    offset: object,
    return_zf: object,
    zi_everywhere: bool,
    check: Callable[[Optional[int]], Tuple[Dict[str, int], Sequence[Optional[torch.Tensor]], bool]],
    signal: object,
    hop: object = None,
) -> Tuple[Shards, Optional[int]]:
    """This rank's checks, then :func:`agree` with the other ranks (errors raise on every rank).

    ``check(hop)`` validates the call's tensors (frames with a checked ``hop``) and returns
    ``(sizes, tensors, zi_given)``: sizes ``B``, ``T``, ``M`` (and ``K``), the tensors whose
    dtypes promote, and whether an initial state was passed. ``signal`` (the input, if it is a
    tensor) picks the collectives' device. Returns the agreed layout and the checked ``hop``.
    """
    group = resolve_group(group)
    fields: Optional[Dict[str, object]] = None
    error: Optional[BaseException] = None
    checked: Optional[int] = None
    try:
        if offset is not None and (isinstance(offset, bool) or not isinstance(offset, int) or offset < 0):
            raise TypeError(
                f"offset must be a non-negative int (the slice's first sample in the signal) or None, got {offset!r}"
            )
        if not isinstance(return_zf, bool):
            raise TypeError(f"return_zf must be a bool, got {type(return_zf).__name__}")
        checked = check_hop(hop)
        if checked is not None and zi_everywhere:  # zi_everywhere: the arguments were DTensors
            raise ValueError(
                "hop is not supported with DTensor arguments (a rank's frames overlap the next rank's by one, "
                "which a Shard(1) DTensor cannot hold); pass this rank's local tensors with group="
            )
        sizes, tensors, zi_given = check(checked)
        fields = dict(
            sizes,
            dtype=compute_dtype(common_dtype(*tensors)),
            zi=zi_given,
            return_zf=return_zf,
            offset=offset,
            hop=checked or 0,
            needs_grad=needs_grad(*tensors),
            grad_mode=torch.is_grad_enabled(),
        )
    except (TypeError, ValueError) as exc:
        error = exc
    like = signal.device if isinstance(signal, torch.Tensor) else None
    return agree(call, group, fields, error, like, zi_everywhere=zi_everywhere), checked


def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
    *,
    group: Optional[torch.distributed.ProcessGroup] = None,
    offset: Optional[int] = None,
    hop: Optional[int] = None,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Time-sharded :func:`tritonlpc.sample_wise_lpc` over a process group.

    Every rank of ``group`` calls it with its own contiguous slice of the same signal (rank
    order = time order); the result on each rank is its slice of what one process filtering the
    whole signal returns, and gradients match too.

    .. math:: y[n] = x[n] - \sum_{i=1}^{M} a[n, i-1]\, y[n-i], \qquad y[-k] = z_i[k-1]

    Args:
        x (Tensor or DTensor): this rank's slice of the input, shape `(B, T_r)`; ``T_r`` may
            differ between ranks, be smaller than ``M``, or be 0.
        a (Tensor or DTensor): its coefficients, shape `(B, T_r, M)` (may be expanded); with
            ``hop``, this rank's control frames `(B, F_r, M)`, see ``hop``.
        zi (Tensor or None, optional): initial conditions ``(y[-1], ..., y[-M])`` of the whole
            signal, shape `(B, M)`, on rank 0 only (``None`` on the others). Default: zeros.
            With DTensors: a replicated DTensor (rank 0's copy is used).
        return_zf (bool, optional): also return the final state of the whole signal, shape
            `(B, M)`, on every rank (the same values everywhere). Default: ``False``.
        group (ProcessGroup or None, keyword-only): the ranks sharing the signal. Default: the
            default group. With DTensors: ``None`` (the device mesh's group is used).
        offset (int or None, keyword-only): index of this slice's first sample in the signal;
            when given on every rank the slices are checked to be contiguous in rank order.
        hop (int or None, keyword-only): ``a`` holds control frames every ``hop`` samples of the
            whole signal, as in :func:`tritonlpc.sample_wise_lpc` (the same ``hop`` on every
            rank). Every non-empty slice must start on a frame boundary (``t_r`` a multiple of
            ``hop``: every slice but the last holds a multiple of ``hop`` samples), and rank ``r``
            passes the frames covering its slice plus the next one: frames
            ``t_r / hop, ..., t_r / hop + F_r - 1`` of the signal with
            ``F_r >= (T_r - 1) // hop + 2``, i.e. ``a_f[:, t_r // hop : (t_r + T_r - 1) // hop + 2]``
            (neighbouring ranks share one frame). Its gradient is this rank's contribution:
            a frame two ranks hold gets part of its gradient on each, and their sum is the
            single-process gradient (as for any input used twice; sum the copies, or the
            parameters they come from, as a data-parallel model does). Not with DTensors. With
        DTensor inputs ``x``, ``a`` sharded on time (``Shard(1)``) over a 1-D mesh: ``y`` is a
        DTensor with the same layout and ``zf`` a replicated DTensor.

    Raises:
        TypeError, ValueError: on every rank, if any rank's arguments are invalid or the ranks'
            slices do not fit together (different ``B``, ``M``, ``hop`` or dtype, ``zi`` on a
            later rank, offsets not contiguous, a slice not starting on a frame boundary, too
            few frames), or ``group`` is not an initialised group of this process.

    Every rank must call it (and run the backward, which is collective: a rank whose loss does
    not depend on its output would leave the others waiting). First-order gradients only.
    """
    layout = _dtensor.unwrap((("x", x), ("a", a)), (("zi", zi),), group, offset)
    if layout is not None:
        (x, a), (zi,), group, offset = layout.sharded_locals, layout.replicated_locals, layout.group, layout.offset

    def check(hop: Optional[int]) -> Tuple[Dict[str, int], Sequence[Optional[torch.Tensor]], bool]:
        B, T, M = check_lpc(x, a, zi, hop=hop)
        check_not_meta((("x", x), ("a", a), ("zi", zi)))
        return dict(B=B, T=T, M=M), (x, a, zi), zi is not None

    shards, hop = agree_call("sample_wise_lpc", group, offset, return_zf, layout is not None, check, x, hop)
    y, zf = filter_shards(x, a, zi, shards, return_zf=return_zf, zi_everywhere=layout is not None, hop=hop)
    if layout is not None:
        y, zf = layout.shard(y), layout.replicate(zf)
    return (y, zf) if return_zf else y


def linear_recurrence(
    a: torch.Tensor,
    x: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    *,
    group: Optional[torch.distributed.ProcessGroup] = None,
    offset: Optional[int] = None,
    hop: Optional[int] = None,
) -> torch.Tensor:
    r"""Time-sharded :func:`tritonlpc.linear_recurrence`: ``h[n] = a[n] h[n-1] + x[n]``.

    Args:
        a (Tensor or DTensor): this rank's slice of the decay, shape `(B, T_r)` (control frames
            `(B, F_r)` with ``hop``).
        x (Tensor or DTensor): its input, shape `(B, T_r)`.
        zi (Tensor or None, optional): ``h[-1]``, shape `(B,)`, on rank 0 only. Default: zeros.
        group, offset, hop: as in :func:`sample_wise_lpc`.

    Returns:
        Tensor: this rank's ``h``, shape `(B, T_r)` (a DTensor for DTensor inputs).
    """
    layout = _dtensor.unwrap((("a", a), ("x", x)), (("zi", zi),), group, offset)
    if layout is not None:
        (a, x), (zi,), group, offset = layout.sharded_locals, layout.replicated_locals, layout.group, layout.offset

    def check(hop: Optional[int]) -> Tuple[Dict[str, int], Sequence[Optional[torch.Tensor]], bool]:
        B, T = check_recurrence(a, x, zi, names=("a", "x", "zi"), hop=hop)
        check_not_meta((("a", a), ("x", x), ("zi", zi)))
        return dict(B=B, T=T, M=1), (a, x, zi), zi is not None

    shards, hop = agree_call("linear_recurrence", group, offset, False, layout is not None, check, x, hop)
    unsqueezed = zi.unsqueeze(1) if zi is not None else None
    h, _ = filter_shards(x, a.unsqueeze(2), unsqueezed, shards, neg_a=True, zi_everywhere=layout is not None, hop=hop)
    return layout.shard(h) if layout is not None else h
