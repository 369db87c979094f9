"""The one launcher of the Triton backend: a call's operands, its schedule, and the launch point.

:class:`Call` holds one call's tensors as the kernels read them (real views, coefficient sign
and conjugation as scalars, strides) and its :class:`~.plan.Plan`; :func:`run` runs the
plan's schedule with the phases of its path (tile or walk, either direction); :func:`launch` is
the only place a kernel is launched, and :func:`recording` is its public hook (``bench/sm90.py``
records the launches of real calls with it, without a GPU).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from typing import Any, Callable, Iterator, List, NamedTuple, Optional, Tuple

import torch
import triton.language as tl

from .plan import Plan, frame_slots

__all__ = [
    "Launch",
    "launch",
    "accumulation_type",
    "recording",
    "is_recording",
    "Call",
    "Phases",
    "run",
    "real",
    "coefficients",
]


class Launch(NamedTuple):
    """One recorded launch: the ``@triton.jit`` kernel (with its heuristics), grid and keywords."""

    kernel: Any
    grid: Tuple[int, ...]
    kwargs: dict

    @property
    def name(self) -> str:
        fn = getattr(self.kernel, "fn", self.kernel)
        while hasattr(fn, "fn"):  # heuristics wrap the JIT function
            fn = fn.fn
        return fn.__name__


_recorder: contextvars.ContextVar[Optional[List[Launch]]] = contextvars.ContextVar("tritonlpc_launches", default=None)


@contextlib.contextmanager
def recording() -> Iterator[List[Launch]]:
    """Within the block, kernels are recorded instead of launched (and the backend accepts CPU
    tensors without the interpreter: nothing runs, outputs stay uninitialised).

    Example:
        >>> with recording() as launches:
        ...     BACKEND.forward(x, a, zi)
        >>> [launch.name for launch in launches]
    """
    launches: List[Launch] = []
    token = _recorder.set(launches)
    try:
        yield launches
    finally:
        _recorder.reset(token)


def is_recording() -> bool:
    """Whether launches are being recorded (:func:`recording`)."""
    return _recorder.get() is not None


def launch(kernel: Any, grid: Tuple[int, ...], **kwargs: Any) -> None:
    """Launch ``kernel[grid](**kwargs)``, or record it within :func:`recording`."""
    launches = _recorder.get()
    if launches is None:
        kernel[grid](**kwargs)
    else:
        launches.append(Launch(kernel, tuple(grid), kwargs))


# --------------------------------------------------------------------------- a call's operands
def real(t: torch.Tensor) -> torch.Tensor:
    """Real view of ``t`` (trailing dim 2 for complex): strides in real elements, no copy."""
    if t.is_complex():
        return torch.view_as_real(t.resolve_conj().resolve_neg())
    return t.resolve_neg()


def coefficients(a: torch.Tensor, conj: bool, neg: bool) -> Tuple[torch.Tensor, float, float]:
    """``a`` as stored in memory (a real view for complex), the sign of ``A = +-a`` and ``-1.0``
    if ``A`` is conjugated: a lazy conj/neg bit becomes part of these scalars, never a
    copy."""
    if a.is_complex() and a.is_conj():
        a, conj = a.conj(), not conj
    if a.is_neg():
        a, neg = torch._neg_view(a), not neg  # clears the bit; same storage, no copy
    if a.is_complex():
        return torch.view_as_real(a), -1.0 if neg else 1.0, -1.0 if conj else 1.0
    return a, -1.0 if neg else 1.0, 1.0


def _strides(t: Optional[torch.Tensor]) -> Tuple[int, int]:
    return (t.stride(0), t.stride(1)) if t is not None else (0, 0)


def accumulation_type(dtype: torch.dtype) -> Any:
    """The Triton dtype kernels accumulate in (their ``CDT``): float64 for float64/complex128
    data, else float32 (half precision included)."""
    return tl.float64 if dtype in (torch.float64, torch.complex128) else tl.float32


@dataclasses.dataclass
class Call:
    """One call as the kernels see it (built once by the backend, read by every phase).

    ``v`` is the input (``x`` forward, ``g`` adjoint) and ``o`` the output (``y`` / ``u``), real
    views; ``start`` the state before the first sample in processing order (``zi`` forward,
    ``None``: zeros); adjoint only: ``y``/``zi`` (for ``grad_a``), ``ga``/``gz`` (outputs or
    ``None``). ``a`` is the coefficients as stored (:func:`coefficients`): per sample ``(B, T, M)``,
    or control frames ``(B, F, M)`` every ``hop`` samples (``hop > 0``; then ``ga`` is the interval
    sums' scratch of :meth:`frame_layout`, :mod:`.frames`).
    """

    plan: Plan
    reverse: bool
    v: torch.Tensor
    a: torch.Tensor
    o: Optional[torch.Tensor]
    sign: float
    conj: float
    cplx: bool
    start: Optional[torch.Tensor] = None
    y: Optional[torch.Tensor] = None
    zi: Optional[torch.Tensor] = None
    ga: Optional[torch.Tensor] = None
    gz: Optional[torch.Tensor] = None
    hop: int = 0

    @property
    def B(self) -> int:
        return self.a.shape[0]

    @property
    def T(self) -> int:
        return self.v.shape[1]

    @property
    def M(self) -> int:
        return self.a.shape[2]

    @property
    def W(self) -> int:
        """Real values an entry (2 for complex)."""
        return 2 if self.cplx else 1

    @property
    def cdt(self) -> Any:
        """The accumulation dtype (:func:`accumulation_type`)."""
        return accumulation_type(self.v.dtype)

    @property
    def a_contig(self) -> bool:
        """``(t, j)`` of the coefficients is contiguous (vector loads)."""
        M, W = self.M, self.W
        return self.a.stride(1) == M * W and (M == 1 or self.a.stride(2) == W)

    @property
    def out(self) -> torch.Tensor:
        """The output (``y`` / ``u``; a summary has none)."""
        assert self.o is not None, "a summary call has no output"
        return self.o

    def common(self) -> dict:
        """The keywords every summary and pass kernel takes."""
        return dict(
            v_ptr=self.v, a_ptr=self.a, svb=self.v.stride(0), svt=self.v.stride(1), sab=self.a.stride(0),
            sat=self.a.stride(1), sam=self.a.stride(2), T=self.T, sign=self.sign, conj=self.conj, M=self.M,
            CPLX=self.cplx, CDT=self.cdt, HOP=self.hop,
        )  # fmt: skip

    def frame_layout(self) -> Tuple[int, int, int, int]:
        """``(base, unit, units, slots)`` of the frames' interval sums ``(B, units, slots, 2, M W)``
        (:mod:`.frames`): unit ``u`` of a row covers samples ``[max(base + u unit, 0), base + (u +
        1) unit)`` (tiles from 0; reverse walk chunks end at ``T``) and touches at most ``slots``
        intervals. ``slots`` is 0 without ``hop``."""
        p = self.plan
        if p.path == "tile":
            return 0, p.block_t, -(-self.T // p.block_t), frame_slots(p.block_t, self.hop)
        return self.T - p.n_chunks * p.chunk_len, p.chunk_len, p.n_chunks, frame_slots(p.chunk_len, self.hop, False)

    def adjoint_outputs(self) -> dict:
        """The keywords of the adjoint pass kernels beyond :meth:`common` and the start states."""
        syb, syt = _strides(self.y)
        szb, szm = _strides(self.zi)
        return dict(
            o_ptr=self.o, y_ptr=self.y, z_ptr=self.zi, ga_ptr=self.ga, gz_ptr=self.gz, syb=syb, syt=syt, szb=szb,
            szm=szm,
        )  # fmt: skip

    @property
    def stretches(self) -> bool:
        """Tile path, three phase, ``plan.stretch``: the summary keeps every thread's prefix map and
        the pass runs the summary's stretches from them (:mod:`.tile_pass`); never the adjoint with
        control frames (its ``grad_a`` interval sums are per tile, :mod:`.frames`)."""
        return (
            self.plan.path == "tile"
            and self.plan.n_chunks > 1
            and self.plan.stretch
            and not (self.reverse and self.hop)
        )

    def pass_starts(self, starts: Optional[torch.Tensor]) -> Tuple[Optional[torch.Tensor], Tuple[int, int, int]]:
        """A pass kernel's start states and their ``(row, chunk, entry)`` strides: the carry's
        ``(B, C, M W)`` output, or with ``None`` (one chunk a row) ``call.start``."""
        if starts is not None:
            return starts, (starts.stride(0), starts.stride(1), self.W)
        if self.start is not None:
            return self.start, (self.start.stride(0), 0, self.start.stride(1))
        return None, (0, 0, 0)

    def scratch(self, *shape: int) -> torch.Tensor:
        """Scratch of the accumulation dtype (float64 or float32) on the call's device."""
        wide = self.cdt == tl.float64
        return torch.empty(shape, dtype=torch.float64 if wide else torch.float32, device=self.v.device)


class Phases(NamedTuple):
    """A path's three phases, each handling both directions (``call.reverse``)."""

    summary: Callable[[Call], Tuple[torch.Tensor, ...]]
    """Phase 1: the map of every chunk but the last in processing order (scratch tensors)."""
    carry: Callable[[Call, Tuple[torch.Tensor, ...]], torch.Tensor]
    """Phase 2: every chunk's start state ``(B, C, M W)`` from the maps and ``call.start``."""
    passes: Callable[[Call, Optional[torch.Tensor], Optional[Tuple[torch.Tensor, ...]]], None]
    """Phase 3: the outputs from the start states and the summary's output (``None, None``: the
    single pass from ``call.start``)."""


def run(call: Call, phases: Phases) -> None:
    """Run ``call.plan``'s schedule: one pass, or summary, carry and pass (three-phase)."""
    if call.plan.n_chunks == 1:
        phases.passes(call, None, None)
    else:
        maps = phases.summary(call)
        phases.passes(call, phases.carry(call, maps), maps)
