"""How a call runs on the Triton backend: path, schedule and launch geometry (pure).

Shapes, dtype and SM count in, a :class:`Plan` out: no GPU, no Triton and no interpreter needed
(``plan`` is what tests and ``bench/sm90.py`` reason about).

Paths: ``"tile"`` for orders ``M <= 4`` (complex128 ``M <= 3``): coalesced tiles scanned in
registers and across threads with ``tl.associative_scan`` of the affine companion maps;
``"walk"`` above: per-lane walks, a lane a chunk (the tile scan's ``M x M`` combines grow as
``M^3`` and its registers as ``M^2``; sm_90 numbers in ``bench/README.md``).

Schedules:

``"single"``
    One program per row (tile) or lane per row (walk) walks the row with the state carried in
    registers, the next tile's loads in flight before this tile's stores: every input is read
    once. Used when the batch alone fills the GPU (``B >= 4 * SMs`` programs), or when a row is
    a single chunk.
``"three-phase"``
    For small batches, parallel over time as well: (1) the affine map of every chunk (up to
    ``CHUNK_TILES`` tiles on the tile path, as many as leave ``PROGRAMS_PER_SM`` programs an
    SM), (2) the carry: each row's chunk maps composed into every chunk's start state
    (a ``tl.associative_scan`` over blocks of maps on the tile path, a loop on the walk path),
    (3) every chunk re-run from its start state, writing the outputs (tile path with
    ``stretch``: each thread re-runs its stretch of the summary from the state its predecessor's
    prefix map gives, the recursion alone, instead of scanning tiles again). Inputs are read twice,
    so ``(2 (M + 1) + 1) / (M + 2)`` times the minimum bytes of the forward.

A single pass with decoupled look-back across programs (as PyTorch Inductor's split scan) is
left out on purpose: the prefix it combines depends on which predecessors have published when
a program looks (timing), so its rounding is not the same run to run.
"""

from __future__ import annotations

import dataclasses
from typing import Dict, Optional, Tuple

import torch

from ..base import check_knob

__all__ = [
    "Plan",
    "plan",
    "plan_summary",
    "SCHEDULES",
    "TILE_ORDERS",
    "TILE_CONFIG",
    "LOAD_LATE",
    "TILE_MAX_REGS",
    "STRETCH_ORDERS",
    "STRETCH_BYTES",
    "tile_launch_options",
    "next_pow2",
    "walk_summary_warps",
    "walk_carry_geometry",
    "frame_slots",
]

SCHEDULES = ("single", "three-phase")
TILE_ORDERS = 4  # orders up to this run the tile scan (complex128: 3); above, per-lane walks

# (order, dtype class) -> (forward STEPS, reverse STEPS, num_warps) of the tile kernels: a tile
# is 32 * num_warps rows (one a thread) of STEPS consecutive samples. More steps amortise the
# cross-thread scan over more samples (fewer SASS instructions a sample) and cost registers; one
# warp keeps the scan within the warp (shuffles, no shared memory or barrier). Chosen from the
# static sm_90 model (bench/README.md, `bench/sm90.py geometry`): no spills, at least 4 resident
# programs an SM, with Triton 3.9 and 3.6 (issue 22's fourth round raised the steps where the
# forward's unmasked loop freed registers; its fifth, half precision M = 3, 4 and the complex64
# M = 4 reverse, once the coefficient runs and unmasked whole tiles freed registers and
# instructions). Half precision ("r16") computes in float32.
# complex128 at M = 4 is not in the table: a complex128 4x4 map is 80 registers
# and a combine holds three of them; its scans spill even at one sample a thread (sm_90), so it
# runs the walk.
TILE_CONFIG: Dict[Tuple[int, str], Tuple[int, int, int]] = {
    (1, "r32"): (16, 16, 1),
    (1, "r16"): (16, 16, 1),
    (1, "r64"): (8, 8, 1),
    (1, "c32"): (8, 8, 1),
    (1, "c64"): (4, 4, 1),
    (2, "r32"): (16, 16, 1),
    (2, "r16"): (16, 16, 1),
    (2, "r64"): (8, 8, 1),
    (2, "c32"): (8, 8, 1),
    (2, "c64"): (4, 4, 1),
    (3, "r32"): (16, 8, 1),
    (3, "r16"): (16, 16, 1),
    (3, "r64"): (8, 4, 1),
    (3, "c32"): (8, 4, 1),
    (3, "c64"): (4, 4, 1),
    (4, "r32"): (16, 8, 1),
    (4, "r16"): (16, 16, 1),
    (4, "r64"): (8, 4, 1),
    (4, "c32"): (8, 4, 1),
}

# Configurations whose pass kernels load a tile's inputs as it starts, not the next tile's during
# this one: complex128 M = 3 at 4 samples a thread spills with two tiles' inputs live (sm_90).
# Strided (not contiguous) coefficients load late in every configuration (``tile_pass``).
LOAD_LATE = {(3, "c64")}

# Three phase on the tile path: the pass runs the summary's stretches (``tile_pass``: the
# recursion alone from each thread's prefix map, where a tile pass builds the maps again and scans
# them) for the orders whose tile pass took 0.9 or more of the issue budget in three phase (the
# static sm_90 model, bench/README.md: complex64 M = 3, 4, complex128 M = 3, half precision
# M = 3, 4), and for any order where the prefix maps (stored by the summary, read by the pass:
# ``2 (M^2 + M) W`` words a thread) add at most STRETCH_BYTES of the call's minimum bytes; not in
# the adjoint with control frames (its grad_a interval sums are per tile).
STRETCH_ORDERS = {(3, "c32"), (4, "c32"), (3, "c64"), (3, "r16"), (4, "r16")}
STRETCH_BYTES = 0.02

# Register limit of the one-warp tile kernels (``maxnreg``). Without one, ptxas (sm_90) capped
# some at 128 or 168 registers and spilled (a misaligned T in three phase: the forward's partial
# tail, float32 M = 3, 4); even 255 registers a thread leave 8 one-warp programs an SM.
TILE_MAX_REGS = 255


def tile_launch_options(num_warps: int) -> Dict[str, int]:
    """``num_warps`` and, for one warp, ``maxnreg`` (:data:`TILE_MAX_REGS`) of a tile kernel launch."""
    return dict(num_warps=num_warps, maxnreg=TILE_MAX_REGS) if num_warps == 1 else dict(num_warps=num_warps)


PROGRAMS_PER_SM = 4  # rows (programs) wanted per SM before rows are split into chunks
CHUNK_TILES = 32  # tile path, three-phase: most tiles a chunk (fewer chunk maps to scan, carry and store)
MAX_BLOCK_C = 1024  # chunk maps scanned per block by the tile carry
WALK_VALUES = 2048  # walk path: values of the largest per-program state tile (summary: N MP MP)
WALK_MIN_CHUNK = 16
INTERP_BLOCK = 16  # the interpreter scans element by element in Python: small tiles, less padding


def next_pow2(n: int) -> int:
    """The smallest power of two ``>= n`` (1 for ``n <= 1``)."""
    return 1 << max(0, int(n) - 1).bit_length()


def _dtype_class(dtype: torch.dtype) -> str:
    if dtype == torch.complex128:
        return "c64"
    if dtype == torch.complex64:
        return "c32"
    if dtype in (torch.float16, torch.bfloat16):
        return "r16"
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
        tile_walk: tile path: the pass kernels sweep every tile row by row, the fallback of a
            tile whose scan gave a state that is not finite (tests force it; the stretch passes
            of three phase scan no tiles).
        prefetch: tile path: the pass kernels load the next tile's inputs during this tile
            (``LOAD_LATE``: as each tile starts, for registers).
        stretch: tile path, three phase: the summary keeps every thread's prefix map and the
            pass runs the summary's stretches from them (``STRETCH_ORDERS``, ``STRETCH_BYTES``).
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
    tile_walk: bool = False
    prefetch: bool = True
    stretch: bool = False


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
    reverse: bool = False,
    hop: Optional[int] = None,
    tile_walk: bool = False,
    stretch: Optional[bool] = None,
) -> Plan:
    """The launch plan for a call with ``x (B, T)``, ``a (B, T, M)`` of ``dtype`` (pure).

    Args:
        reverse: plan the reverse (adjoint) recursion (its tile configuration may differ).
        sm_count: the device's streaming multiprocessors (132 on an H100/H200 SXM).
        interpreted: plan for Triton's interpreter (small tiles; it scans in Python).
        schedule: force ``"single"`` or ``"three-phase"``.
        block_t: tile path (``M <= 4``): the tile length (a power of two >= 2).
        steps: tile path: consecutive samples a thread (a power of two, at most 16 and
            ``block_t``).
        chunk_len: force three-phase with chunks of this many samples (tile path: a multiple of
            the tile length).
        lanes: walk path: the chunks per program (a power of two).
        hop: control frames every ``hop`` samples; the tile path then keeps a thread's samples
            within two intervals (``steps <= hop``), and the reverse a tile within a few (at most
            ``4 hop`` samples; the frames' interval sums, :mod:`.frames`) and, unless ``block_t``
            is given, at most 8 samples a thread where a row may reach into a third frame.
        tile_walk: tile path: sweep every tile row by row in the pass kernels (the fallback of
            a tile whose scan overflowed; for tests).
        stretch: tile path, three phase: run the summary's stretches in the pass (``True``) or
            tile passes (``False``); ``None``: :data:`STRETCH_ORDERS` or prefix maps within
            :data:`STRETCH_BYTES`. Never in the adjoint with control frames.

    Raises:
        ValueError: a knob out of range, naming it.
    """
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES} or None, got {schedule!r}")
    check_knob("block_t", block_t, pow2=True)
    check_knob("chunk_len", chunk_len)
    check_knob("lanes", lanes, pow2=True)
    check_knob("steps", steps, pow2=True)
    if block_t is not None and block_t < 2:
        raise ValueError(f"block_t must be at least 2, got {block_t}")
    if steps is not None and (steps > 16 or (block_t is not None and steps > block_t)):
        raise ValueError(f"steps must be at most 16 and at most block_t, got {steps}")
    if chunk_len is not None and schedule == "single":
        raise ValueError("chunk_len only applies to the 'three-phase' schedule")
    T = max(int(T), 1)
    if not isinstance(tile_walk, bool):
        raise TypeError(f"tile_walk must be a bool, got {type(tile_walk).__name__}")
    if stretch is not None and not isinstance(stretch, bool):
        raise TypeError(f"stretch must be a bool or None, got {type(stretch).__name__}")
    if (M, _dtype_class(dtype)) in TILE_CONFIG:
        p = _plan_tile(B, T, M, dtype, sm_count, interpreted, schedule, block_t, steps, chunk_len, reverse, hop)
        if p.schedule == "three-phase" and not (reverse and hop):
            run = p.chunk_len * p.steps // p.block_t  # a thread's stretch
            minimum = (2 * M + 3 if reverse else M + 2) * torch.empty((), dtype=dtype).element_size()
            words = (
                (M * M + M) * (2 if dtype.is_complex else 1) * (8 if dtype in (torch.float64, torch.complex128) else 4)
            )
            cheap = 2 * (words + 4) <= STRETCH_BYTES * run * minimum  # written and read, with the exponent
            p = dataclasses.replace(
                p, stretch=stretch if stretch is not None else (M, _dtype_class(dtype)) in STRETCH_ORDERS or cheap
            )
        return dataclasses.replace(p, tile_walk=tile_walk, prefetch=(M, _dtype_class(dtype)) not in LOAD_LATE)
    return _plan_walk(B, T, M, dtype, sm_count, interpreted, schedule, chunk_len, lanes)


def plan_summary(
    B: int, T: int, M: int, dtype: torch.dtype, *, sm_count: int = 132, interpreted: bool = False,
    chunk_len: Optional[int] = None, lanes: Optional[int] = None,
) -> Plan:  # fmt: skip
    """The plan of a slice summary (any order: walk chunk maps, then their composition).

    The chunks are ``chunk_len`` long (planned as the walk path's three-phase schedule when
    ``None``); the slice's last chunk in processing order may be shorter.
    """
    check_knob("chunk_len", chunk_len)
    check_knob("lanes", lanes, pow2=True)
    T = max(int(T), 1)
    p = _plan_walk(
        B, T, M, dtype, sm_count, interpreted, None if chunk_len is None else "three-phase", chunk_len, lanes
    )
    return dataclasses.replace(p, path="walk", schedule="three-phase")


def _carry_geometry(n_chunks: int, block_t: int, K: int, interpreted: bool, wide: bool = False) -> Tuple[int, int]:
    """Chunk maps a carry block scans, and its warps: one warp's worth for a few chunks, else 4
    warps holding up to ~24 map entries a thread (``K`` entries a map; two compiled sizes a
    configuration). One warp also for maps of 24 or more 64-bit entries (complex128 M = 3: its
    scan with exponents spilled in the step across 4 warps on sm_90)."""
    if interpreted:
        block_c = INTERP_BLOCK
    elif n_chunks - 1 <= 32 or (wide and K >= 24):
        block_c = 32
    else:
        block_c = min(MAX_BLOCK_C, 128 * max(1, min(block_t // 128, 24 // K)))
    return block_c, max(1, min(4, block_c // 32))


def _plan_tile(
    B, T, M, dtype, sm_count, interpreted, schedule, block_t, steps_knob, chunk_len, reverse, hop
) -> Plan:  # fmt: skip
    fwd_steps, rev_steps, warps = TILE_CONFIG[(M, _dtype_class(dtype))]
    steps = rev_steps if reverse else fwd_steps
    rows = 32 * warps
    if block_t is not None:
        steps = steps_knob or min(steps, block_t)
        rows = block_t // steps
    elif interpreted:  # the interpreter scans rows one by one in Python: small tiles
        steps = steps_knob or min(steps, 4)
        rows = 4
    if hop:  # a thread's samples within two intervals (tile_io.py); a tile's interval sums within a few (frames.py)
        steps = min(steps, 1 << (hop.bit_length() - 1))
        if reverse and block_t is None and not interpreted and hop % steps:  # three frames a row: registers
            steps = min(steps, 8)  # (16 at hop 100 spilled 4 bytes with Triton 3.6)
        while reverse and rows > 1 and rows * steps > 4 * hop:
            rows //= 2
    while rows > 1 and rows * steps > max(2, next_pow2(T)):  # no tile (much) longer than the signal
        rows //= 2
    warps = max(1, min(warps, rows // 32))
    bt = rows * steps
    n_tiles = -(-T // bt)
    if chunk_len is not None and chunk_len % bt:
        raise ValueError(f"chunk_len must be a multiple of the tile length {bt} on the tile path, got {chunk_len}")
    single = schedule == "single" or (schedule is None and chunk_len is None and B >= PROGRAMS_PER_SM * sm_count)
    if single or n_tiles == 1:
        return Plan("tile", "single", 1, T, bt, 1, warps, steps=steps)
    if chunk_len is not None:
        tiles = chunk_len // bt
    else:  # the most tiles a chunk (up to CHUNK_TILES) that leave PROGRAMS_PER_SM programs an SM
        want = PROGRAMS_PER_SM * sm_count
        tiles = max(1, min(CHUNK_TILES, B * n_tiles // want))
        while tiles > 1 and B * -(-n_tiles // tiles) < want:
            tiles -= 1
    n_chunks = -(-n_tiles // tiles)
    if n_chunks == 1:
        return Plan("tile", "single", 1, T, bt, 1, warps, steps=steps)
    K = (M * M + M) * (2 if dtype.is_complex else 1)
    block_c, carry_warps = _carry_geometry(n_chunks, bt, K, interpreted, dtype in (torch.float64, torch.complex128))
    return Plan("tile", "three-phase", n_chunks, tiles * bt, bt, 1, warps, block_c, carry_warps, steps)


def _plan_walk(B, T, M, dtype, sm_count, interpreted, schedule, chunk_len, lanes) -> Plan:
    MP = next_pow2(M)
    W = 2 if dtype.is_complex else 1
    if lanes is not None:
        n = lanes
    elif interpreted:  # wide numpy ops are what makes the interpreter fast
        n = 64
    else:  # the summary's (N, MP, MP) unit responses within WALK_VALUES values a program
        n = max(1, min(32, WALK_VALUES // (MP * MP * W)))
    warps = max(1, min(4, n * MP * MP * W // 1024))
    if chunk_len is not None:
        L = chunk_len
    elif schedule == "single" or (schedule is None and B >= PROGRAMS_PER_SM * sm_count * n):
        L = T
    else:  # enough programs (PROGRAMS_PER_SM a SM), chunks of at least WALK_MIN_CHUNK samples
        L = max(WALK_MIN_CHUNK, (B * T) // (PROGRAMS_PER_SM * sm_count * n))
    L = max(1, min(L, T))
    n_chunks = -(-T // L)
    if n_chunks == 1:
        return Plan("walk", "single", 1, T, 0, min(n, next_pow2(B)), warps)
    n = min(n, next_pow2(B * n_chunks))
    return Plan("walk", "three-phase", n_chunks, L, 0, n, warps, 1, warps)


def walk_summary_warps(lanes: int, M: int, W: int) -> int:
    """Warps of a walk summary kernel: its ``(lanes, MP, MP)`` unit responses at ~16 values a
    thread (at 32 a thread, M = 8 half precision spilled on sm_90)."""
    return max(1, min(8, lanes * next_pow2(M) ** 2 * W // 512))


def walk_carry_geometry(rows: int, M: int, W: int) -> Tuple[int, int]:
    """Rows a walk carry program owns and its warps (two maps live: one prefetched). M = 33
    complex: 8 warps (16 would cap registers at 128)."""
    MP = next_pow2(M)
    n = max(1, min(32, next_pow2(rows), WALK_VALUES // (2 * MP * MP * W)))
    return n, max(1, min(8, n * MP * MP * W // 512))


def frame_slots(unit: int, hop: int, aligned: bool = True) -> int:
    """The most intervals of ``hop`` samples that ``unit`` consecutive samples touch (0 without
    ``hop``); ``aligned``: units start at multiples of ``unit`` (tiles)."""
    if not hop:
        return 0
    if aligned and unit % hop == 0:
        return unit // hop
    if aligned and hop % unit == 0:
        return 1
    return (unit - 1) // hop + 2
