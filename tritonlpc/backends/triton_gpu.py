"""Triton backend: the all-pole filter and its adjoint as parallel scans, any order M.

Implements the contract of :mod:`tritonlpc.backends` on CUDA tensors, and on CPU tensors when
Triton's interpreter is on (``TRITON_INTERPRET=1``, how CI tests these kernels). The kernels
live in :mod:`tritonlpc.backends._triton_tile` (orders ``M <= 4``, complex128 ``M <= 3``:
coalesced tiles scanned in registers and across threads with ``tl.associative_scan`` of the
affine companion maps) and :mod:`tritonlpc.backends._triton_walk` (higher orders: per-lane
walks); this module plans and launches them (:func:`plan` is pure: shapes and SM count in,
geometry out; :func:`_launch` is the one launch point).

Schedules (:func:`plan` picks one from ``B``, ``T``, ``M``, the dtype and the SM count):

``"single"``
    One program per row scans the row's tiles left to right (right to left for the adjoint)
    with the state carried in registers, the next tile's loads in flight before this tile's
    stores: every input is read once. Used when the batch alone fills the GPU
    (``B >= 4 * SMs`` programs), or when a row is a single tile.
``"three-phase"``
    For small batches, parallel over time as well: each tile is a chunk; (1) the affine map of
    every chunk, (2) a parallel scan of each row's chunk maps giving every chunk's start state
    (``tl.associative_scan`` over blocks of maps, not a loop over chunks), (3) every chunk
    re-scanned from its start state, writing the outputs. Inputs are read twice (phase 1 and
    3), so ``(2 (M + 1) + 1) / (M + 2)`` times the minimum bytes of the forward.

A third schedule, a single pass with decoupled look-back across programs (as PyTorch
Inductor's split scan), is left out on purpose: the prefix it combines depends on which
predecessors have published when a program looks (timing), so its rounding is not the same
run to run, and a deterministic chained variant serialises the programs of a row.

The backward (``backward``/``reverse``) runs the same schedules on the adjoint recursion
(transposed companion maps, reading row ``n + 1`` of ``a`` with a shifted load), with
``grad_a[n, j] = -u[n] conj(y[n-1-j])`` fused into the output pass and ``grad_zi`` from the
state at the start. Everything is read through strides in place (an expanded ``a`` costs
nothing; a lazily conjugated/negated ``a`` becomes a runtime sign), offsets are int64, complex
tensors are read through real views with complex arithmetic in the kernel, float16/bfloat16
are loaded natively and accumulated in float32 (``TritonBackend.supports_half``), float64/complex128 in
float64. No atomics (identical bits run to run), no host synchronisation (CUDA-graph
capturable), launches on the tensors' device and torch's current stream. Scratch per call in
three-phase: ``B C (M^2 + M)`` values for the chunk maps and ``B C M`` start states.

Orders above 4 run per-lane walks (:mod:`tritonlpc.backends._triton_walk`) on the same two
schedules: the tile scan stops paying there (its ``M x M`` combines grow as ``M^3`` and its
registers as ``M^2``; sm_90 numbers in ``bench/README.md``).

Half precision error (measured against float64 on the same rounded inputs, see
``tests/test_triton_backend.py``): relative L2 about 3.5e-3 for bfloat16 and 3e-4 for
float16 — the rounding of the stored outputs; the float32 accumulation adds nothing visible.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import os
from typing import Any, ContextManager, Dict, Optional, Tuple

import torch
import triton
import triton.language as tl

from . import _triton_tile as _tile
from . import _triton_walk as _walk
from ._triton_smooth import smooth_kernel
from .base import Backend, check_knob

__all__ = ["TritonBackend", "BACKEND", "plan", "Plan", "SCHEDULES", "TILE_ORDERS"]

SCHEDULES = ("single", "three-phase")
TILE_ORDERS = 4  # orders up to this run the tile scan (complex128: 3); above, per-lane walks

# (order, dtype class) -> (STEPS, num_warps) of the tile kernels: a tile is 32 * num_warps rows
# (one a thread) of STEPS consecutive samples. More steps amortise the scan over more samples
# (fewer instructions a sample) and cost registers; chosen from sm_90 compiles (bench/README.md):
# no spills, and about 128 registers a thread (4 programs of 4 warps an SM) unless more steps cut
# the instructions a sample by much more than the occupancy lost (float32 M = 4: 168 registers).
_TILE_CONFIG: Dict[Tuple[int, str], Tuple[int, int]] = {
    (1, "r32"): (8, 4),
    (1, "r64"): (4, 4),
    (1, "c32"): (4, 4),
    (1, "c64"): (2, 4),
    (2, "r32"): (4, 4),
    (2, "r64"): (2, 4),
    (2, "c32"): (2, 4),
    (2, "c64"): (1, 4),
    (3, "r32"): (4, 4),
    (3, "r64"): (2, 4),
    (3, "c32"): (2, 4),
    (3, "c64"): (1, 4),
    (4, "r32"): (4, 4),
    (4, "r64"): (2, 4),
    (4, "c32"): (1, 4),
}
# complex128 at M = 4 is not in the table: a complex128 4x4 map is 80 registers and a combine
# holds three of them; its scans spill even at one sample a thread (sm_90), so it runs the
# per-lane walk.

_PROGRAMS_PER_SM = 4  # rows (programs) wanted per SM before rows are split into chunks
_MAX_BLOCK_C = 1024  # chunk maps scanned per block by the carry
_WALK_VALUES = 2048  # walk path: values of the largest per-program state tile (summary: N MP MP)
_WALK_MIN_CHUNK = 16
_INTERP_BLOCK_T = 16  # the interpreter scans element by element in Python: small tiles, less padding


def _interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


def _dtype_class(dtype: torch.dtype) -> str:
    if dtype == torch.complex128:
        return "c64"
    if dtype == torch.complex64:
        return "c32"
    return "r64" if dtype == torch.float64 else "r32"


@dataclasses.dataclass(frozen=True)
class Plan:
    """How one call runs: path, schedule and launch geometry (from :func:`plan`).

    Attributes:
        path: ``"tile"`` (``M <= 4``) or ``"walk"``.
        schedule: ``"single"`` or ``"three-phase"``.
        n_chunks: chunks per row ``C`` (1 for ``"single"``).
        chunk_len: samples per chunk ``L`` (``T`` for ``"single"``).
        block_t: tile length (tile path; 0 for walks).
        lanes: chunks per program (walk path; 1 for tiles).
        num_warps: warps of the summary and pass kernels.
        block_c, carry_warps: carry kernel geometry (three-phase).
        steps: tile path: consecutive samples a thread (a tile is ``block_t / steps`` rows).
    """

    path: str
    schedule: str
    n_chunks: int
    chunk_len: int
    block_t: int
    lanes: int
    num_warps: int
    block_c: int = 1
    carry_warps: int = 1
    steps: int = 1


def plan(
    B: int,
    T: int,
    M: int,
    dtype: torch.dtype,
    *,
    sm_count: int = 132,
    interpreted: bool = False,
    schedule: Optional[str] = None,
    block_t: Optional[int] = None,
    steps: Optional[int] = None,
    chunk_len: Optional[int] = None,
    lanes: Optional[int] = None,
) -> Plan:
    """The launch plan for a call with ``x (B, T)``, ``a (B, T, M)`` of ``dtype`` (pure).

    Args:
        sm_count: the device's streaming multiprocessors (132 on an H100/H200 SXM).
        interpreted: plan for Triton's interpreter (small tiles; it scans in Python).
        schedule: force ``"single"`` or ``"three-phase"``.
        block_t: tile path (``M <= 4``): the tile length (a power of two >= 2); a three-phase
            chunk is one tile.
        steps: tile path: consecutive samples a thread (a power of two, at most 8 and
            ``block_t``).
        chunk_len: walk path (``M > 4``): force three-phase with chunks of this many samples.
        lanes: walk path: the chunks per program (a power of two).
    """
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES} or None, got {schedule!r}")
    check_knob("block_t", block_t, pow2=True)
    check_knob("chunk_len", chunk_len)
    check_knob("lanes", lanes, pow2=True)
    check_knob("steps", steps, pow2=True)
    if block_t is not None and block_t < 2:
        raise ValueError(f"block_t must be at least 2, got {block_t}")
    if steps is not None and (steps > 8 or (block_t is not None and steps > block_t)):
        raise ValueError(f"steps must be at most 8 and at most block_t, got {steps}")
    if chunk_len is not None and schedule == "single":
        raise ValueError("chunk_len only applies to the 'three-phase' schedule")
    T = max(int(T), 1)
    if (M, _dtype_class(dtype)) in _TILE_CONFIG:
        return _plan_tile(B, T, M, dtype, sm_count, interpreted, schedule, block_t, steps)
    return _plan_walk(B, T, M, dtype, sm_count, interpreted, schedule, chunk_len, lanes)


def _carry_geometry(n_chunks: int, block_t: int, K: int, interpreted: bool) -> Tuple[int, int]:
    """Chunk maps a carry block scans, and its warps: one warp's worth for a few chunks, else 4
    warps holding up to ~24 map entries a thread (``K`` entries a map; two compiled sizes a
    configuration)."""
    if interpreted:
        block_c = _INTERP_BLOCK_T
    elif n_chunks - 1 <= 32:
        block_c = 32
    else:
        block_c = min(_MAX_BLOCK_C, 128 * max(1, min(block_t // 128, 24 // K)))
    return block_c, max(1, min(4, block_c // 32))


def _plan_tile(B, T, M, dtype, sm_count, interpreted, schedule, block_t, steps_knob) -> Plan:
    steps, warps = _TILE_CONFIG[(M, _dtype_class(dtype))]
    rows = 32 * warps
    if block_t is not None:
        steps = steps_knob or min(steps, block_t)
        rows = block_t // steps
    elif interpreted:  # the interpreter scans rows one by one in Python: small tiles
        steps = steps_knob or min(steps, 4)
        rows = 4
    while rows > 1 and rows * steps > max(2, _next_pow2(T)):  # no tile (much) longer than the signal
        rows //= 2
    warps = max(1, min(warps, rows // 32))
    bt = rows * steps
    n_tiles = -(-T // bt)
    single = schedule == "single" or (schedule is None and B >= _PROGRAMS_PER_SM * sm_count)
    if single or n_tiles == 1:
        return Plan("tile", "single", 1, T, bt, 1, warps, steps=steps)
    block_c, carry_warps = _carry_geometry(n_tiles, bt, (M * M + M) * (2 if dtype.is_complex else 1), interpreted)
    return Plan("tile", "three-phase", n_tiles, bt, bt, 1, warps, block_c, carry_warps, steps)


def _plan_walk(B, T, M, dtype, sm_count, interpreted, schedule, chunk_len, lanes) -> Plan:
    MP = _next_pow2(M)
    W = 2 if dtype.is_complex else 1
    if lanes is not None:
        n = lanes
    elif interpreted:  # wide numpy ops are what makes the interpreter fast
        n = 64
    else:  # the summary's (N, MP, MP) unit responses within _WALK_VALUES values a program
        n = max(1, min(32, _WALK_VALUES // (MP * MP * W)))
    warps = max(1, min(4, n * MP * MP * W // 1024))
    if chunk_len is not None:
        L = chunk_len
    elif schedule == "single" or (schedule is None and B * 1 >= _PROGRAMS_PER_SM * sm_count * n):
        L = T
    else:  # enough programs (_PROGRAMS_PER_SM a SM), chunks of at least _WALK_MIN_CHUNK samples
        L = max(_WALK_MIN_CHUNK, (B * T) // (_PROGRAMS_PER_SM * sm_count * n))
    L = max(1, min(L, T))
    n_chunks = -(-T // L)
    if n_chunks == 1:
        return Plan("walk", "single", 1, T, 0, min(n, _next_pow2(B)), warps)
    n = min(n, _next_pow2(B * n_chunks))
    return Plan("walk", "three-phase", n_chunks, L, 0, n, warps, 1, warps)


# --------------------------------------------------------------------------- launching
def _launch(kernel: Any, grid: Tuple[int, ...], **kwargs: Any) -> None:
    """The one place kernels are launched (tests of the sm_90 build record launches here)."""
    kernel[grid](**kwargs)


@functools.cache
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _plan_for(t: torch.Tensor, B: int, T: int, M: int, **knobs: Any) -> Plan:
    if t.device.type == "cuda":
        return plan(B, T, M, t.dtype, sm_count=_sm_count(t.device.index or 0), **knobs)
    return plan(B, T, M, t.dtype, interpreted=_interpreted(), **knobs)


def _real(t: torch.Tensor) -> torch.Tensor:
    """Real view of ``t`` (trailing dim 2 for complex): strides in real elements, no copy."""
    if t.is_complex():
        return torch.view_as_real(t.resolve_conj().resolve_neg())
    return t.resolve_neg()


def _coef(a: torch.Tensor, conj: bool, neg: bool) -> Tuple[torch.Tensor, float, float]:
    """``a`` as stored in memory, the sign of ``A = +-a`` and ``-1.0`` if ``A`` is conjugated
    (a lazy conj/neg bit becomes part of these runtime scalars, never a copy)."""
    if a.is_complex() and a.is_conj():
        a, conj = a.conj(), not conj
    if a.is_neg():
        a, neg = torch._neg_view(a), not neg  # clears the bit; same storage, no copy
    if a.is_complex():
        return torch.view_as_real(a), -1.0 if neg else 1.0, -1.0 if conj else 1.0
    return a, -1.0 if neg else 1.0, 1.0


def _cdt(dtype: torch.dtype) -> Any:
    return tl.float64 if dtype in (torch.float64, torch.complex128) else tl.float32


def _scratch(shape: Tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    wide = dtype in (torch.float64, torch.complex128)
    return torch.empty(shape, dtype=torch.float64 if wide else torch.float32, device=device)


def _on_device(t: torch.Tensor) -> ContextManager:
    """Launch on the tensor's own GPU (Triton launches on the current device and stream)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


def _check(t: torch.Tensor) -> None:
    if t.device.type != "cuda" and not _interpreted():
        raise RuntimeError("the triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")


def _a_strides(ar: torch.Tensor, M: int, W: int) -> Dict[str, Any]:
    """Strides of the coefficients; ``A_CONTIG`` when ``(t, j)`` is contiguous (vector loads)."""
    return dict(
        sab=ar.stride(0),
        sat=ar.stride(1),
        sam=ar.stride(2),
        A_CONTIG=ar.stride(1) == M * W and (M == 1 or ar.stride(2) == W),
    )


# --------------------------------------------------------------------------- forward
def _forward(
    x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor, y: torch.Tensor, conj_a: bool, neg_a: bool, **knobs: Any
) -> None:
    """Fill ``y`` (see :meth:`TritonBackend.forward`); ``knobs`` are :func:`plan`'s."""
    B, T, M = a.shape
    p = _plan_for(x, B, T, M, **knobs)
    ar, sign, conj = _coef(a, conj_a, neg_a)
    xr, zr, yr = _real(x), _real(zi), _real(y)
    cplx = x.is_complex()
    W = 2 if cplx else 1
    args = dict(
        x_ptr=xr,
        a_ptr=ar,
        sxb=xr.stride(0),
        sxt=xr.stride(1),
        T=T,
        sign=sign,
        conj=conj,
        M=M,
        CPLX=cplx,
        CDT=_cdt(x.dtype),
    )
    with _on_device(x):
        if p.path == "tile":
            _tile_forward(p, args, zr, yr, B, T, M, W, _a_strides(ar, M, W))
        else:
            _walk_forward(p, args, zr, yr, B, M, W, ar)


def _tile_geometry(p: Plan, T: int, a_st: Dict[str, Any]) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """Keyword arguments of every tile kernel, and the extra ones of the pass kernels."""
    geo = dict(ROWS=p.block_t // p.steps, STEPS=p.steps, num_warps=p.num_warps, **a_st)
    return geo, dict(n_tiles=-(-T // p.block_t), tiles_per_chunk=-(-p.chunk_len // p.block_t))


def _tile_forward(p: Plan, args: Dict[str, Any], zr, yr, B: int, T: int, M: int, W: int, a_st) -> None:
    geo, passes = _tile_geometry(p, T, a_st)
    if p.n_chunks == 1:
        _launch(
            _tile._fwd_pass_kernel,
            (B, 1),
            s_ptr=zr,
            y_ptr=yr,
            ssb=zr.stride(0),
            ssc=0,
            ssm=zr.stride(1),
            syb=yr.stride(0),
            **args,
            **geo,
            **passes,
        )
        return
    C = p.n_chunks
    maps = _scratch((B, C, (M * M + M) * W), yr.dtype, yr.device)
    starts = _scratch((B, C, M * W), yr.dtype, yr.device)
    _launch(_tile._fwd_summary_kernel, (B, C - 1), p_ptr=maps, n_chunks=C, first_chunk=0, **args, **geo)
    _tile_carry(p, maps, zr, starts, B, M, args)
    _launch(
        _tile._fwd_pass_kernel,
        (B, C),
        s_ptr=starts,
        y_ptr=yr,
        ssb=C * M * W,
        ssc=M * W,
        ssm=W,
        syb=yr.stride(0),
        **args,
        **geo,
        **passes,
    )


def _tile_carry(p: Plan, maps, zr, starts, B: int, M: int, args: Dict[str, Any]) -> None:
    _launch(
        _tile._carry_kernel,
        (B,),
        p_ptr=maps,
        z_ptr=zr,
        s_ptr=starts,
        szb=zr.stride(0) if zr is not None else 0,
        szm=zr.stride(1) if zr is not None else 0,
        n_chunks=p.n_chunks,
        M=M,
        CPLX=args["CPLX"],
        CDT=args["CDT"],
        BLOCK_C=p.block_c,
        num_warps=p.carry_warps,
    )


def _walk_forward(p: Plan, args: Dict[str, Any], zr, yr, B: int, M: int, W: int, ar) -> None:
    args = dict(
        args, sab=ar.stride(0), sat=ar.stride(1), sam=ar.stride(2), MP=_next_pow2(M), N=p.lanes, num_warps=p.num_warps
    )
    C, L = p.n_chunks, p.chunk_len
    if C == 1:
        _launch(
            _walk._walk_fwd_pass_kernel,
            (triton.cdiv(B, p.lanes),),
            s_ptr=zr,
            y_ptr=yr,
            ssb=zr.stride(0),
            ssc=0,
            ssm=zr.stride(1),
            n_jobs=B,
            n_chunks=1,
            L=L,
            **args,
        )
        return
    maps = _scratch((B, C - 1, M, M * W), yr.dtype, yr.device)
    ends = _scratch((B, C - 1, M * W), yr.dtype, yr.device)
    starts = _scratch((B, C, M * W), yr.dtype, yr.device)
    jobs = B * (C - 1)
    _launch(
        _walk._walk_fwd_summary_kernel,
        (triton.cdiv(jobs, p.lanes),),
        p_ptr=maps,
        h_ptr=ends,
        n_jobs=jobs,
        n_chunks=C - 1,
        L=L,
        **dict(args, num_warps=_walk_summary_warps(p.lanes, M, W)),
    )
    _walk_carry(p, maps, ends, zr, starts, B, M, args)
    _launch(
        _walk._walk_fwd_pass_kernel,
        (triton.cdiv(B * C, p.lanes),),
        s_ptr=starts,
        y_ptr=yr,
        ssb=C * M * W,
        ssc=M * W,
        ssm=W,
        n_jobs=B * C,
        n_chunks=C,
        L=L,
        **args,
    )


def _walk_carry(p: Plan, maps, ends, zr, starts, B: int, M: int, args: Dict[str, Any]) -> None:
    MP = _next_pow2(M)
    W = 2 if args["CPLX"] else 1
    n = max(1, min(32, _next_pow2(B), _WALK_VALUES // (2 * MP * MP * W)))  # two maps live (one prefetched)
    _launch(
        _walk._walk_carry_kernel,
        (triton.cdiv(B, n),),
        p_ptr=maps,
        h_ptr=ends,
        z_ptr=zr,
        s_ptr=starts,
        szb=zr.stride(0) if zr is not None else 0,
        szm=zr.stride(1) if zr is not None else 0,
        B=B,
        n_chunks=p.n_chunks,
        M=M,
        MP=MP,
        N=n,
        CPLX=args["CPLX"],
        CDT=args["CDT"],
        num_warps=max(1, min(8, n * MP * MP * W // 512)),  # M = 33 complex: 8 warps (16 would cap registers at 128)
    )


def _walk_summary_warps(lanes: int, M: int, W: int) -> int:
    """Warps of a walk summary kernel: its ``(lanes, MP, MP)`` unit responses at ~16 values a
    thread (at 32 a thread, M = 8 half precision spilled on sm_90)."""
    return max(1, min(8, lanes * _next_pow2(M) ** 2 * W // 512))


# --------------------------------------------------------------------------- reverse
def _adjoint(
    g: torch.Tensor,
    a: torch.Tensor,
    y: Optional[torch.Tensor],
    zi: Optional[torch.Tensor],
    u: torch.Tensor,
    ga: Optional[torch.Tensor],
    gzi: Optional[torch.Tensor],
    conj_a: bool,
    neg_a: bool,
    knobs: Dict[str, Any],
) -> None:
    """Fill ``u`` (and ``ga``/``gzi`` when given; see :meth:`TritonBackend.backward`)."""
    B, T, M = a.shape
    need_a, need_zi = ga is not None, gzi is not None
    p = _plan_for(g, B, T, M, **knobs)
    ar, sign, conj = _coef(a, conj_a, neg_a)
    gr, ur = _real(g), _real(u)
    cplx = g.is_complex()
    W = 2 if cplx else 1
    yr = _real(y) if need_a else None  # type: ignore[arg-type]  # need_a: Backend.backward checked y, zi
    zr = _real(zi) if need_a else None  # type: ignore[arg-type]
    args = dict(
        g_ptr=gr,
        a_ptr=ar,
        u_ptr=ur,
        y_ptr=yr,
        z_ptr=zr,
        ga_ptr=_real(ga) if ga is not None else None,
        gz_ptr=_real(gzi) if gzi is not None else None,
        sgb=gr.stride(0),
        sgt=gr.stride(1),
        syb=yr.stride(0) if yr is not None else 0,
        syt=yr.stride(1) if yr is not None else 0,
        szb=zr.stride(0) if zr is not None else 0,
        szm=zr.stride(1) if zr is not None else 0,
        T=T,
        sign=sign,
        conj=conj,
        M=M,
        CPLX=cplx,
        CDT=_cdt(g.dtype),
    )
    with _on_device(g):
        if p.path == "tile":
            _tile_reverse(p, args, B, T, M, W, _a_strides(ar, M, W))
        else:
            _walk_reverse(p, args, B, M, W, ar, need_zi)


_PASS_ONLY = ("u_ptr", "y_ptr", "z_ptr", "ga_ptr", "gz_ptr", "syb", "syt", "szb", "szm")


def _tile_reverse(p: Plan, args: Dict[str, Any], B: int, T: int, M: int, W: int, a_st) -> None:
    geo, passes = _tile_geometry(p, T, a_st)
    passes["sub"] = args["u_ptr"].stride(0)
    if p.n_chunks == 1:
        _launch(_tile._rev_pass_kernel, (B, 1), s_ptr=None, ssb=0, ssc=0, ssm=0, **args, **geo, **passes)
        return
    C = p.n_chunks  # in processing order: chunk 0 ends at T
    ref = args["u_ptr"]
    maps = _scratch((B, C, (M * M + M) * W), ref.dtype, ref.device)
    starts = _scratch((B, C, M * W), ref.dtype, ref.device)
    summary_args = {k: v for k, v in args.items() if k not in _PASS_ONLY}
    _launch(_tile._rev_summary_kernel, (B, C - 1), p_ptr=maps, n_chunks=C, first_chunk=0, **summary_args, **geo)
    _tile_carry(p, maps, None, starts, B, M, args)
    _launch(_tile._rev_pass_kernel, (B, C), s_ptr=starts, ssb=C * M * W, ssc=M * W, ssm=W, **args, **geo, **passes)


def _walk_reverse(p: Plan, args: Dict[str, Any], B: int, M: int, W: int, ar, need_zi: bool) -> None:
    args = dict(
        args, sab=ar.stride(0), sat=ar.stride(1), sam=ar.stride(2), MP=_next_pow2(M), N=p.lanes, num_warps=p.num_warps
    )
    C, L = p.n_chunks, p.chunk_len
    steps = L + 1 if need_zi else L  # the lane owning n = 0 takes one more step: grad_zi
    if C == 1:
        _launch(
            _walk._walk_rev_pass_kernel,
            (triton.cdiv(B, p.lanes),),
            s_ptr=None,
            ssb=0,
            ssc=0,
            ssm=0,
            n_jobs=B,
            n_chunks=1,
            L=L,
            n_steps=steps,
            **args,
        )
        return
    ref = args["u_ptr"]
    maps = _scratch((B, C - 1, M, M * W), ref.dtype, ref.device)
    ends = _scratch((B, C - 1, M * W), ref.dtype, ref.device)
    starts = _scratch((B, C, M * W), ref.dtype, ref.device)
    jobs = B * (C - 1)
    summary_args = {k: v for k, v in args.items() if k not in _PASS_ONLY}
    summary_args["num_warps"] = _walk_summary_warps(p.lanes, M, W)
    _launch(
        _walk._walk_rev_summary_kernel,
        (triton.cdiv(jobs, p.lanes),),
        p_ptr=maps,
        h_ptr=ends,
        n_jobs=jobs,
        n_chunks=C - 1,
        L=L,
        **summary_args,
    )
    _walk_carry(p, maps, ends, None, starts, B, M, args)
    _launch(
        _walk._walk_rev_pass_kernel,
        (triton.cdiv(B * C, p.lanes),),
        s_ptr=starts,
        ssb=C * M * W,
        ssc=M * W,
        ssm=W,
        n_jobs=B * C,
        n_chunks=C,
        L=L,
        n_steps=steps,
        **args,
    )


# --------------------------------------------------------------------------- the backend object
class TritonBackend(Backend):
    """The Triton backend (:class:`tritonlpc.backends.base.Backend` on CUDA tensors, and on CPU
    tensors under ``TRITON_INTERPRET=1``).

    Kernel knobs (keyword arguments of ``forward``/``backward``/``reverse``): ``schedule``,
    ``block_t``, ``steps``, ``chunk_len``, ``lanes`` of :func:`plan` (tests force small tiles and
    chunks with these).
    """

    name = "triton"
    supports_half = True

    def check_device(self, t: torch.Tensor) -> None:
        _check(t)

    def _forward(
        self,
        x: torch.Tensor,
        a: torch.Tensor,
        zi: torch.Tensor,
        y: torch.Tensor,
        conj_a: bool,
        neg_a: bool,
        **knobs: Any,
    ) -> None:
        _forward(x, a, zi, y, conj_a, neg_a, **knobs)

    def _adjoint(
        self,
        g: torch.Tensor,
        a: torch.Tensor,
        y: Optional[torch.Tensor],
        zi: Optional[torch.Tensor],
        u: torch.Tensor,
        grad_a: Optional[torch.Tensor],
        grad_zi: Optional[torch.Tensor],
        conj_a: bool,
        neg_a: bool,
        **knobs: Any,
    ) -> None:
        _adjoint(g, a, y, zi, u, grad_a, grad_zi, conj_a, neg_a, knobs)

    def _smooth(
        self, f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor, g: torch.Tensor, zeta: torch.Tensor
    ) -> None:
        B, T = f.shape
        rows = min(32, triton.next_power_of_2(B))
        steps = 32 // f.element_size()  # 32 bytes of each row a block
        with _on_device(f):
            _launch(
                smooth_kernel,
                (triton.cdiv(B, rows),),
                f_ptr=f,
                at_ptr=at,
                rt_ptr=rt,
                zi_ptr=zi,
                g_ptr=g,
                zeta_ptr=zeta.view(torch.int8),
                B=B,
                T=T,
                ROWS=rows,
                STEPS=steps,
                num_warps=1,
            )


BACKEND = TritonBackend()
"""The backend object (:func:`tritonlpc._dispatch.backend_object` returns it for CUDA tensors)."""
