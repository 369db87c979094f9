"""Tile path, summary and carry phases of the three-phase schedule (both directions).

Phase 1 (``tile_summary_kernel``, ``REV`` for the adjoint): the map of each chunk (the pass's tiles of it):
each thread composes the maps of its own stretch of ``chunk_len / ROWS`` consecutive samples
in registers, ``STEPS`` a trip (renormalised a trip), and one scan across the threads gives
the chunk's prefix maps: with ``plan.stretch`` every thread's is stored (the pass starts each
stretch from the chunk's start state through them and runs the recursion only), else only the
chunk's (the last thread's). Phase 2 (``tile_carry_kernel``): a parallel scan of one
row's chunk maps (blocks of ``BLOCK_C``, the state carried between blocks), writing every chunk's
start state. Maps are flat: ``E`` row-major, then ``b`` (:mod:`.tile_scan`), with ``E = E^ 2**e``
kept as a mantissa and an int32 exponent in both phases (:mod:`.tile_scaled`): a map of an
unstable stretch overflows only where its product with the actual state does.
"""

from __future__ import annotations

from typing import Tuple

import torch
import triton
import triton.language as tl

from .lang import load_state, row_offset, store_state
from .launch import Call, launch
from .plan import tile_launch_options
from .tile_io import coef_entries, fwd_tile_inputs, rev_tile_inputs
from .tile_scaled import fold_scaled, maps_of, renormed, scan_scaled
from .tile_scan import extend_map, identity_map, pick, states, store_last

__all__ = ["tile_summary_kernel", "tile_carry_kernel", "tile_summary", "tile_carry"]


@triton.jit
def _run_step(m, e, V, A, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, S: tl.constexpr):
    """Each thread's run map ``(E^, b)`` with exponent ``e`` followed by ``S`` more samples,
    ``E^`` renormalised (:func:`.tile_scaled.renormed`)."""
    m = extend_map(m, V, A, REV, M, CPLX, S)
    KE: tl.constexpr = M * M * (2 if CPLX else 1)
    mat, e = renormed(m, e, M, CPLX)
    for i in tl.static_range(KE, len(m)):
        mat = mat + (m[i],)
    return mat, e


@triton.jit
def _store_chunk_map(
    p_ptr, e_ptr, m, e, b, c, n_chunks, M: tl.constexpr, CPLX: tl.constexpr, R: tl.constexpr,
    ROW_MAPS: tl.constexpr,
):  # fmt: skip
    """Scan the threads' run maps ``m`` (exponents ``e``) into the chunk's prefix maps and store
    them to ``p[b, c, k, :]``, their exponents to ``e[b, c, k]``: every thread's inclusive prefix
    (``k = r``, ``ROW_MAPS``: the pass starts each thread's stretch from them), else the last one
    only (``k = 0``), the chunk's map."""
    K: tl.constexpr = (M * M + M) * (2 if CPLX else 1)
    m = scan_scaled(m + (e,), M, CPLX)
    if ROW_MAPS:
        r = tl.arange(0, R)
        base = (b * n_chunks + c) * R + r
        for i in tl.static_range(K):
            tl.store(p_ptr + base * K + i, m[i])
        tl.store(e_ptr + base, m[K])
    else:
        last = tl.arange(0, R) == R - 1
        store_last(p_ptr + (b * n_chunks + c) * K, maps_of(m, M, CPLX), last)
        store_last(e_ptr + b * n_chunks + c, (m[K],), last)


@triton.heuristics({"WHOLE": lambda args: args["T"] % (args["ROWS"] * args["STEPS"]) == 0})
@triton.jit(do_not_specialize=["T", "n_chunks", "n_tiles", "tiles_per_chunk"])
def tile_summary_kernel(
    v_ptr, a_ptr, p_ptr, e_ptr, svb, svt, sab, sat, sam, T, n_chunks, n_tiles, tiles_per_chunk,
    sign: tl.constexpr, conj: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr,
    CDT: tl.constexpr, ROWS: tl.constexpr, STEPS: tl.constexpr, HOP: tl.constexpr, REV: tl.constexpr,
    ROW_MAPS: tl.constexpr, WHOLE: tl.constexpr,
):  # fmt: skip
    """The prefix maps of chunk ``c = program_id(1)`` of row ``b = program_id(0)`` (``tiles_per_chunk``
    tiles of ``ROWS * STEPS`` samples; the row's last chunk in processing order may have fewer,
    ``k``) to ``p[b, c]``: thread ``r`` runs the ``r``-th of ``ROWS`` equal stretches of ``k STEPS``
    samples in processing order, ``STEPS`` a trip. ``ROW_MAPS``: every thread's prefix map (the
    pass runs the same stretches from them, :func:`.tile_pass.tile_fwd_stretch_pass_kernel`), else
    the chunk's map only.

    Forward: the last chunk's samples past ``T`` are masked. Reverse (``REV``): the adjoint map,
    in processing order the tiles ``t`` of the pass, ``n_tiles - c tiles_per_chunk - k <= t <
    n_tiles - c tiles_per_chunk`` (``lam`` at its end -> ``lam`` at its start), stretches taken
    from the top; chunk 0 may reach past ``T``: its missing samples come first in processing
    order and only shift a zero state (the map is applied to ``lam[T] = 0``). ``WHOLE``: ``T`` is
    a multiple of the tile, no masked loads at all."""
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1)  # times within a row: int32
    vrow, arow = row_offset(b, svb, CPLX), row_offset(b, sab, CPLX)
    tiles = tl.minimum(tiles_per_chunk, n_tiles - c * tiles_per_chunk)  # the last chunk may be shorter
    if REV:  # each thread's lowest sample of the trip, walked down
        top = (n_tiles - c * tiles_per_chunk) * (ROWS * STEPS)
        n0 = top - (tl.arange(0, ROWS) * (tiles * STEPS) + STEPS)
        full = WHOLE or top <= T  # every sample of the chunk is below T
        step = -STEPS
    else:
        n0 = c * (ROWS * STEPS * tiles_per_chunk) + tl.arange(0, ROWS) * (tiles * STEPS)
        full = WHOLE or c * tiles_per_chunk + tiles < n_tiles
        step = STEPS
    m = identity_map(n0.to(CDT), M, CPLX)
    e = tl.zeros_like(n0).to(tl.int32)
    i = 0
    while i < tiles:
        if REV:
            V, A = rev_tile_inputs(
                v_ptr, a_ptr, vrow, arow, n0, T, full, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT,
                ROWS, STEPS, HOP,
            )  # fmt: skip
        else:
            V, A = fwd_tile_inputs(
                v_ptr, a_ptr, vrow, arow, n0, T, full, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT,
                ROWS, STEPS, HOP,
            )  # fmt: skip
        A = coef_entries(A, sign, conj, REV, M, CPLX, CDT, STEPS, HOP)
        m, e = _run_step(m, e, V, A, REV, M, CPLX, STEPS)
        n0 += step
        i += 1
    _store_chunk_map(p_ptr, e_ptr, m, e, b, c, n_chunks, M, CPLX, ROWS, ROW_MAPS)


def tile_summary(call: Call) -> Tuple[torch.Tensor, ...]:
    """Phase 1: the prefix maps ``(B, C, K, (M^2 + M) W)`` of the chunks and their exponents
    ``(B, C, K)`` int32: with ``call.stretches`` every thread's (``K`` = the tile's rows) of every
    chunk, else each chunk's map (``K = 1``; the last chunk's is never applied and not computed)."""
    p, M = call.plan, call.M
    rows = p.block_t // p.steps
    k = rows if call.stretches else 1
    maps = call.scratch(call.B, p.n_chunks, k, (M * M + M) * call.W)
    exps = torch.empty(call.B, p.n_chunks, k, dtype=torch.int32, device=maps.device)
    launch(
        tile_summary_kernel, (call.B, p.n_chunks if call.stretches else p.n_chunks - 1), p_ptr=maps, e_ptr=exps,
        n_chunks=p.n_chunks, n_tiles=-(-call.T // p.block_t), tiles_per_chunk=p.chunk_len // p.block_t,
        A_CONTIG=call.a_contig, ROWS=rows, STEPS=p.steps, REV=call.reverse, ROW_MAPS=call.stretches,
        **tile_launch_options(p.num_warps),
        **call.common(),
    )  # fmt: skip
    return maps, exps


# --------------------------------------------------------------------------- carry
@triton.jit
def _carry_block(p_ptr, e_ptr, b, i, n_chunks, K: tl.constexpr, RS: tl.constexpr):
    """The chunk maps ``i`` with their exponents (a block of chunk indices; the last chunk's map
    is never applied), ``RS`` maps a chunk apart."""
    e = ()
    for jj in tl.static_range(K):
        e = e + (tl.load(p_ptr + (b * n_chunks + i) * (RS * K) + jj, mask=i < n_chunks - 1, other=0.0),)
    return e + (tl.load(e_ptr + (b * n_chunks + i) * RS, mask=i < n_chunks - 1, other=0),)


@triton.jit(do_not_specialize=["n_chunks"])
def tile_carry_kernel(
    p_ptr, e_ptr, z_ptr, s_ptr, szb, szm, n_chunks, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
    BLOCK_C: tl.constexpr, RS: tl.constexpr,
):  # fmt: skip
    """Start states of the chunks of row ``b`` (in processing order) from their maps (``p[b, c]``,
    ``RS`` maps of the summary a chunk apart, ``p_ptr`` at the chunk's map):
    ``s[b, 0] = zi[b]`` (zeros if ``z_ptr`` is None), ``s[b, c+1] = p_c(s[b, c])`` (maps with
    exponents, :mod:`.tile_scaled`). A parallel scan
    over blocks of ``BLOCK_C`` chunk maps with the state carried from block to block, the next
    block's maps loaded before this block's stores."""
    W: tl.constexpr = 2 if CPLX else 1
    MW: tl.constexpr = M * W
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    k = tl.arange(0, BLOCK_C)
    s = load_state(z_ptr, b * szb, szm, M, CPLX, CDT)
    store_state(s_ptr, b * n_chunks * MW, W, s, M, CPLX)
    e = _carry_block(p_ptr, e_ptr, b, k, n_chunks, K, RS)
    i0 = 0
    while i0 < n_chunks - 1:
        e_nx = _carry_block(p_ptr, e_ptr, b, i0 + BLOCK_C + k, n_chunks, K, RS)
        i = i0 + k
        st = states(scan_scaled(fold_scaled(e, k == 0, s, M, CPLX), M, CPLX), M, CPLX)
        for jj in tl.static_range(MW):
            tl.store(s_ptr + (b * n_chunks + i + 1) * MW + jj, st[jj], mask=i < n_chunks - 1)
        s = pick(st, i == tl.minimum(i0 + BLOCK_C, n_chunks - 1) - 1)
        e = e_nx
        i0 += BLOCK_C


def tile_carry(call: Call, maps: Tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Phase 2: the chunks' start states ``(B, C, M W)`` from ``call.start`` (or zeros)."""
    p, z = call.plan, call.start
    starts = call.scratch(call.B, p.n_chunks, call.M * call.W)
    launch(
        tile_carry_kernel,
        (call.B,),
        p_ptr=maps[0][:, :, -1],  # the chunk's map: the last of its prefix maps
        e_ptr=maps[1][:, :, -1],
        z_ptr=z,
        s_ptr=starts,
        szb=z.stride(0) if z is not None else 0,
        szm=z.stride(1) if z is not None else 0,
        n_chunks=p.n_chunks,
        M=call.M,
        CPLX=call.cplx,
        CDT=call.cdt,
        BLOCK_C=p.block_c,
        RS=maps[1].shape[2],
        num_warps=p.carry_warps,
    )
    return starts
