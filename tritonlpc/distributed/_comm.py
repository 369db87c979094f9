"""Process-group plumbing for :mod:`tritonlpc.distributed`.

Every sharded call starts with :func:`agree`: one small ``all_gather`` of a few integers per
rank (shapes, dtype, flags, and whether the local arguments were valid) so that a mistake on
one rank raises the same clear error on every rank instead of leaving the others waiting in a
collective whose sizes do not match. :class:`Shards` then describes the agreed layout and runs
the all-gathers the sharded algorithms are built on (gloo on CPU, NCCL on GPU; in a fixed rank
order, so every rank sees the same bytes in the same order).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Sequence, Tuple

import torch
import torch.distributed as dist

from .._validation import DTYPES

__all__ = ["Shards", "agree", "resolve_group"]

# torch >= 2.13 names it all_gather_single (all_gather_into_tensor is deprecated there)
_gather_into = getattr(dist, "all_gather_single", None) or dist.all_gather_into_tensor

_CALLS = ("sample_wise_lpc", "linear_recurrence", "time_varying_iir")
# Per-rank record exchanged by `agree` (int64 each). "offset" is -1 when not given, "hop" 0.
_FIELDS = ("valid", "call", "B", "M", "K", "T", "dtype", "zi", "return_zf", "offset", "hop", "needs_grad", "grad_mode")


@dataclass(frozen=True)
class Shards:
    """The agreed time layout of one sharded call.

    Attributes:
        group: the process group (``None``: the default group).
        rank: this process's rank in ``group`` = the index of its slice in time.
        lengths: ``T_r`` of every rank's slice, in rank (= time) order.
        device: where the collectives run (CPU for gloo, the current CUDA device for NCCL).
        needs_grad: some rank builds an autograd graph through this call, so every rank must.
    """

    group: Optional[dist.ProcessGroup]
    rank: int
    lengths: Tuple[int, ...]
    device: torch.device
    needs_grad: bool

    @property
    def size(self) -> int:
        return len(self.lengths)

    @property
    def is_first(self) -> bool:
        return self.rank == 0

    @property
    def is_last(self) -> bool:
        return self.rank == self.size - 1

    def all_gather(self, t: torch.Tensor) -> torch.Tensor:
        """Every rank's ``t`` (same shape on every rank), stacked in rank order: `(R, *t.shape)`.

        Complex tensors travel as real pairs; the result is on ``t``'s device. Not differentiable.
        """
        t = t.detach()
        if self.size == 1:
            return t.unsqueeze(0).clone()
        if t.numel() == 0:  # the shapes agree on every rank, so every rank skips together
            return t.new_zeros(self.size, *t.shape)
        flat = torch.view_as_real(t) if t.is_complex() else t
        out = _all_gather_flat(flat.to(self.device), self.size, self.group).to(t.device)
        if t.is_complex():
            return torch.view_as_complex(out.view(self.size, *t.shape, 2))
        return out.view(self.size, *t.shape)


def _all_gather_flat(t: torch.Tensor, size: int, group: Optional[dist.ProcessGroup]) -> torch.Tensor:
    """Every rank's ``t`` flattened and concatenated in rank order, `(size * t.numel(),)`."""
    flat = t.contiguous().reshape(-1)
    out = flat.new_empty(size * flat.numel())
    _gather_into(out, flat, group=group)
    return out


def resolve_group(group: object) -> Optional[dist.ProcessGroup]:
    """Check that ``group`` (``None``: the default group) is usable from this process."""
    if not dist.is_available():
        raise ValueError("group: torch.distributed is not available in this build of torch")
    if not dist.is_initialized():
        raise ValueError(
            "group: the default process group is not initialised; call "
            "torch.distributed.init_process_group(...) (torchrun sets up the environment) before "
            "calling tritonlpc.distributed functions"
        )
    if group is dist.GroupMember.NON_GROUP_MEMBER:  # what new_group returns to the ranks it leaves out
        raise ValueError(
            f"group: this process (global rank {dist.get_rank()}) is not a member of the given process group"
        )
    if group is not None and not isinstance(group, dist.ProcessGroup):
        raise TypeError(f"group must be a torch.distributed.ProcessGroup or None, got {type(group).__name__}")
    if dist.get_rank(group) < 0:
        raise ValueError(
            f"group: this process (global rank {dist.get_rank()}) is not a member of the given process group"
        )
    return group


def _comm_device(group: Optional[dist.ProcessGroup], like: Optional[torch.device]) -> torch.device:
    """The device collectives of ``group`` take tensors on, preferring ``like``'s."""
    backend = str(dist.get_backend(group)).lower()
    kind = like.type if like is not None else "cpu"
    if ":" in backend:  # e.g. "cpu:gloo,cuda:nccl": one backend per device type
        per_device = dict(item.split(":", 1) for item in backend.split(","))
        if kind in per_device:
            return like if like is not None else torch.device("cpu")
        backend = next(iter(per_device.values()))
    if backend == "nccl":
        return like if like is not None and kind == "cuda" else torch.device("cuda", torch.cuda.current_device())
    if backend in ("gloo", "mpi"):
        return torch.device("cpu")
    return like if like is not None else torch.device("cpu")


def _record(fields: Optional[Dict[str, object]], call: str) -> list:
    if fields is None:  # this rank's arguments were rejected: only say so
        return [0, _CALLS.index(call)] + [0] * (len(_FIELDS) - 2)
    values = dict(fields, valid=1, call=_CALLS.index(call))
    values["dtype"] = DTYPES.index(values["dtype"])  # type: ignore[arg-type]
    values["offset"] = -1 if values.get("offset") is None else values["offset"]
    values.setdefault("K", 0)
    values.setdefault("hop", 0)
    return [int(values[f]) for f in _FIELDS]  # type: ignore[call-overload]


def agree(
    call: str,
    group: Optional[dist.ProcessGroup],
    fields: Optional[Dict[str, object]],
    error: Optional[BaseException],
    like: Optional[torch.device],
    *,
    zi_everywhere: bool = False,
) -> Shards:
    """Exchange every rank's call record and raise the same error on every rank on a mismatch.

    Args:
        call: the public function's name (ranks must call the same one).
        group: a group accepted by :func:`resolve_group`.
        fields: this rank's ``B``, ``M``, ``K`` (0 if unused), ``T``, ``dtype`` (the compute
            dtype), ``zi`` (given here), ``return_zf``, ``offset`` (or ``None``), ``hop`` (0 or
            absent: per-sample coefficients), ``needs_grad`` and ``grad_mode``; ``None`` if
            ``error`` is set.
        error: the exception this rank's own argument checks raised, if any: it is re-raised
            here after the exchange (the other ranks raise a ValueError naming this rank).
        like: the device of this rank's tensors (selects the collective's device).
        zi_everywhere: ``zi`` is replicated (given on every rank, the first rank's is used)
            rather than given on the first rank only.

    Returns:
        Shards: the agreed layout.
    """
    device = _comm_device(group, like)
    mine = torch.tensor(_record(fields, call), dtype=torch.int64, device=device)
    size = dist.get_world_size(group)
    table = _all_gather_flat(mine, size, group) if size > 1 else mine
    rows = [dict(zip(_FIELDS, r)) for r in table.view(size, len(_FIELDS)).tolist()]
    if error is not None:
        raise error
    _check(call, rows, zi_everywhere)
    return Shards(
        group=group,
        rank=dist.get_rank(group),
        lengths=tuple(r["T"] for r in rows),
        device=device,
        needs_grad=any(r["needs_grad"] for r in rows),
    )


def _ranks(rows: Sequence[Dict[str, int]], pred) -> str:
    return ", ".join(str(i) for i, r in enumerate(rows) if pred(r))


def _check(call: str, rows: Sequence[Dict[str, int]], zi_everywhere: bool) -> None:
    """Raise (on every rank: all see the same ``rows``) if the ranks' calls do not fit together."""
    where = f"tritonlpc.distributed.{call}"
    bad = _ranks(rows, lambda r: not r["valid"])
    if bad:
        raise ValueError(
            f"{where}: rank(s) {bad} rejected their arguments (the error is raised there); nothing was computed"
        )
    calls = {_CALLS[r["call"]] for r in rows}
    if len(calls) > 1:
        raise ValueError(
            f"{where}: the ranks called different functions ({', '.join(sorted(calls))}); every rank must make the same call"
        )
    x_name, a_name = ("a", "a") if call == "linear_recurrence" else ("x", "a")
    for key, what in (("B", f"{x_name} rows (B)"), ("M", f"{a_name} order (M)"), ("K", "b taps (K+1)")):
        seen = [r[key] for r in rows]
        if len(set(seen)) > 1:
            raise ValueError(
                f"{where}: every rank must hold the same {what}; per rank: {seen} "
                "(shard the time axis only: slices of one signal)"
            )
    dtypes = [DTYPES[r["dtype"]] for r in rows]
    if len(set(dtypes)) > 1:
        raise TypeError(f"{where}: the ranks compute in different dtypes; per rank: {[str(d) for d in dtypes]}")
    if len({r["return_zf"] for r in rows}) > 1:
        raise ValueError(
            f"{where}: return_zf must be the same on every rank; per rank: {[bool(r['return_zf']) for r in rows]}"
        )
    with_zi = [bool(r["zi"]) for r in rows]
    if zi_everywhere:
        if len(set(with_zi)) > 1:
            raise ValueError(
                f"{where}: zi must be given on every rank or on none (replicated); given on rank(s) {_ranks(rows, lambda r: r['zi'])}"
            )
    elif any(with_zi[1:]):
        raise ValueError(
            f"{where}: zi is the state before the first sample and is given on rank 0 only; "
            f"rank(s) {_ranks(rows, lambda r: r['zi'] and r is not rows[0])} passed zi"
        )
    starts = [sum(r["T"] for r in rows[:q]) for q in range(len(rows))]
    hops = [r["hop"] for r in rows]
    if len(set(hops)) > 1:
        raise ValueError(f"{where}: hop must be the same on every rank; per rank: {[h or None for h in hops]}")
    if hops[0] and any(r["T"] and s % hops[0] for r, s in zip(rows, starts)):
        raise ValueError(
            f"{where}: with hop = {hops[0]}, every rank's slice of x must start on a frame boundary (a multiple "
            f"of hop: every slice but the last holds a multiple of hop samples); slices of lengths "
            f"{[r['T'] for r in rows]} in rank order start at {starts}"
        )
    offsets = [r["offset"] for r in rows]
    if any(o >= 0 for o in offsets):
        if offsets != starts:
            raise ValueError(
                f"{where}: the slices are not contiguous in rank order: offset per rank {offsets}, "
                f"but slices of lengths {[r['T'] for r in rows]} in rank order start at {starts} "
                "(rank r must hold samples [t_r, t_{r+1}) with t_0 = 0; pass offset on every rank)"
            )
    if any(r["needs_grad"] for r in rows) and not all(r["grad_mode"] for r in rows):
        raise ValueError(
            f"{where}: gradients are being recorded on rank(s) {_ranks(rows, lambda r: r['needs_grad'])} but grad mode "
            f"is disabled on rank(s) {_ranks(rows, lambda r: not r['grad_mode'])}; the backward pass is collective, "
            "so every rank must record it (same torch.no_grad()/enable_grad() context everywhere)"
        )
