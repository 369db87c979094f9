"""Tile path, pass phase: the outputs of a row's tiles from their start state (both directions).

Program ``(b, c)`` processes the tiles of chunk ``c`` of row ``b`` in order, the state carried
in registers, the next tile's loads issued before this tile's stores (``PREFETCH``). The
forward's loop runs two whole tiles a trip without masks: its inputs carried round the loop are
then loaded into their own registers, where with one tile a trip every carried input was a
register copy a tile (``X = X1``; float16 M = 3: 57 ``PRMT`` of 711 instructions a tile,
bench/README.md); after the last trip the prefetch loads that trip's second tile again rather
than nothing (no masked branch in the loop). An odd whole tile runs after the loop, and a row's
partial last tile once after that, with masks (``WHOLE``: ``T`` is a multiple of the tile, no
such code at all). The reverse's partial tile is its first (:mod:`.tile_io`): its loop, one
tile a trip, keeps the masked branch, taken in one tile a row. With one chunk per row
this is the **single-pass** schedule; in the **three-phase** schedule a chunk is a few tiles,
started from its carried state, or with ``plan.stretch`` ``tile_{fwd,rev}_stretch_pass_kernel``
run instead: each thread walks the stretch of the chunk it walked in the summary
(:mod:`.tile_summary`), from the state its predecessor's prefix map gives, so the maps are
built once (the summary) where a tile pass builds them again (``M^2 + M`` multiply-adds a
sample) to scan them across the tile (never the adjoint with control frames: its ``grad_a``
interval sums are per tile).
The reverse passes also write ``grad_a[n, i] = -u[n] conj(y[n-1-i])`` from shifted block loads
of ``y`` (``zi`` before the start) and ``grad_zi = C[0]^T lam[0]`` (once, from the end state of
the walk that ends after ``n = 0``). Loop bounds use ``while`` (the interpreter of
Triton 3.6 cannot iterate ``range`` over a runtime bound).

**Overflow.** On a GPU ``tl.associative_scan`` is a tree: it composes runs of row maps before
applying them to the state, and the product of a run that grows past the float range is
infinite even where the state through it stays finite (a tiny state through a stretch of
growth, then decay). Folding the incoming state into row 0's map (as :func:`_tile_end_states`
does) does not prevent it: the rows after row 0 are still composed among themselves first. But
a non-finite product only reaches a state as a non-finite value (``inf * 0`` is NaN: the scan's
combine does not guard zero state entries, :func:`.tile_scan.compose`), and a row run from a
non-finite start state ends non-finite, so a tile whose rows all end finite was scanned
correctly. So each tile is run once from the scanned start states (a sweep), and one int32
reduction (:func:`.tile_scan.all_finite`, warp-uniform) checks every row's end state. If one
is not finite, the tile is swept ``ROWS`` times, each row
from its predecessor's end state of the sweep before: after sweep ``k``, rows ``0..k`` hold the
sequential recursion's states in the same dtype, so the tile is finite wherever that recursion
is. ``WALK`` (tests) sweeps every tile ``ROWS`` times.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import triton
import triton.language as tl

from .frames import tile_frame_sums
from .lang import (
    entry,
    load_state,
    mul,
    push,
    reverse_groups,
    row_offset,
    signed,
    store_run,
    store_state,
    store_steps,
)
from .launch import Call, launch
from .plan import tile_launch_options
from .tile_io import coef_entries, fwd_tile_inputs, rev_past_outputs, rev_tile_inputs
from .tile_scaled import fold_scaled
from .tile_scan import (
    adjoint_step,
    all_finite,
    fold_map,
    last_row,
    on_rows,
    pick,
    previous_rows,
    row_map,
    run_fwd,
    run_rev,
    scan,
    states,
)

__all__ = [
    "tile_fwd_pass_kernel",
    "tile_rev_pass_kernel",
    "tile_fwd_stretch_pass_kernel",
    "tile_rev_stretch_pass_kernel",
    "tile_pass",
]


@triton.jit
def _tile_end_states(V, A, s, r, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, S: tl.constexpr):
    """Every row's end state (the scan of the row maps with ``s`` folded into row 0's)."""
    return states(scan(fold_map(row_map(V, A, REV, M, CPLX, S), r == 0, s, M, CPLX), M, CPLX), M, CPLX)


@triton.jit
def _program_chunk(
    s_ptr,
    ssb,
    ssc,
    ssm,
    n_tiles,
    tiles_per_chunk,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
    R: tl.constexpr,
):
    """This program's row ``b``, its chunk's tiles ``[q, q_end)``, start state and thread rows."""
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1)
    q = c * tiles_per_chunk  # times within a row are int32
    s = load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT)
    return b, q, tl.minimum(q + tiles_per_chunk, n_tiles), s, tl.arange(0, R)


@triton.heuristics(
    {
        "ONE_TILE": lambda args: args["tiles_per_chunk"] == 1,
        "WHOLE": lambda args: args["T"] % (args["ROWS"] * args["STEPS"]) == 0,
    }
)
@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def tile_fwd_pass_kernel(
    v_ptr, a_ptr, s_ptr, o_ptr, svb, svt, sab, sat, sam, ssb, ssc, ssm, sob, T, n_tiles, tiles_per_chunk,
    sign: tl.constexpr, conj: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr,
    CDT: tl.constexpr, ROWS: tl.constexpr, STEPS: tl.constexpr, WALK: tl.constexpr, HOP: tl.constexpr,
    PREFETCH: tl.constexpr, ONE_TILE: tl.constexpr, WHOLE: tl.constexpr,
):  # fmt: skip
    """``y`` (``o``) of the tiles of chunk ``c = program_id(1)`` of row ``b = program_id(0)`` from
    ``x`` (``v``) and the chunk's start state ``s[b, c, :]`` (zeros if ``s_ptr`` is None).

    Per tile of ``ROWS * STEPS`` samples: each row's map, a scan of the row maps with the
    incoming state folded into the first (the rows' end states), each row's start state from
    its predecessor, and the recursion over the row's samples from it (repeated row by row where
    a state is not finite: the module docstring). The last row's end state (a shuffle to every
    row) is the next tile's incoming state (``ONE_TILE``: a chunk is one tile, nothing to
    prefetch; ``WHOLE``: every tile is whole).
    """
    BT: tl.constexpr = ROWS * STEPS
    b, q, q_end, s, r = _program_chunk(s_ptr, ssb, ssc, ssm, n_tiles, tiles_per_chunk, M, CPLX, CDT, ROWS)
    s = on_rows(s, ROWS)  # carried on every thread row (the last row's end state is a shuffle away)
    vrow, arow = row_offset(b, svb, CPLX), row_offset(b, sab, CPLX)
    orow = row_offset(b, sob, CPLX)  # sob = T (x2 for complex), an argument: its alignment is known
    n0 = q * BT + r * STEPS
    q_whole = tl.minimum(q_end, T // BT)  # tiles [q, q_whole) lie within T; at most one partial after them
    LATE: tl.constexpr = ONE_TILE or not PREFETCH  # each tile's loads as it starts (one tile: nothing to overlap)
    if LATE:
        while q < q_whole:  # whole tiles: no masks
            n0 = q * BT + r * STEPS  # from q, not carried: the compiler keeps its alignment (vector loads)
            X, A = fwd_tile_inputs(
                v_ptr, a_ptr, vrow, arow, n0, T, True, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS,
                STEPS, HOP,
            )  # fmt: skip
            s = _fwd_tile(o_ptr, orow, X, A, s, r, n0, T, True, sign, conj, M, CPLX, CDT, ROWS, STEPS, WALK, HOP)
            q += 1
    else:
        # The chunk's first tile (a program has one; not WHOLE: nothing if it is partial, the tail
        # loads it). Then two whole tiles a trip, each tile's loads issued before the previous
        # tile's stores: X1 while tile q runs, X (for the next trip) while tile q + 1 runs, so the
        # inputs carried round the loop are loaded into their own registers (with one tile a
        # trip, the carried X = X1 was a register copy of every input, every tile).
        X, A = fwd_tile_inputs(
            v_ptr, a_ptr, vrow, arow, n0, tl.where(q < q_whole, T, 0), WHOLE or q < q_whole, svt, sat, sam, sign,
            conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS, HOP,
        )  # fmt: skip
        while q + 1 < q_whole:  # two whole tiles a trip: no masks
            n0 = q * BT + r * STEPS  # from q, not carried: the compiler keeps its alignment (vector loads)
            X1, A1 = fwd_tile_inputs(
                v_ptr, a_ptr, vrow, arow, n0 + BT, T, True, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS,
                STEPS, HOP,
            )  # fmt: skip
            s = _fwd_tile(o_ptr, orow, X, A, s, r, n0, T, True, sign, conj, M, CPLX, CDT, ROWS, STEPS, WALK, HOP)
            X, A = fwd_tile_inputs(  # the next trip's first tile (after the last trip: this trip's second again)
                v_ptr, a_ptr, vrow, arow, tl.where(q + 2 < q_whole, q + 2, q + 1) * BT + r * STEPS, T, True, svt,
                sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS, HOP,
            )  # fmt: skip
            s = _fwd_tile(o_ptr, orow, X1, A1, s, r, n0 + BT, T, True, sign, conj, M, CPLX, CDT, ROWS, STEPS, WALK, HOP)
            q += 2
        if q < q_whole:  # an odd count: the last whole tile, its inputs loaded
            s = _fwd_tile(
                o_ptr, orow, X, A, s, r, q * BT + r * STEPS, T, True, sign, conj, M, CPLX, CDT, ROWS, STEPS, WALK, HOP
            )
            q += 1
    n0 = q * BT + r * STEPS
    if not WHOLE and q < q_end:  # the row's last tile, partial: masked loads and stores, once
        X, A = fwd_tile_inputs(
            v_ptr, a_ptr, vrow, arow, n0, T, False, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS,
            HOP,
        )  # fmt: skip
        _fwd_tile(o_ptr, orow, X, A, s, r, n0, T, False, sign, conj, M, CPLX, CDT, ROWS, STEPS, WALK, HOP)


@triton.jit
def _stretch_start(
    s_ptr, p_ptr, e_ptr, ssb, ssc, ssm, T, n_chunks, n_tiles, tiles_per_chunk, M: tl.constexpr, CPLX: tl.constexpr,
    CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr, REV: tl.constexpr, WHOLE: tl.constexpr,
):  # fmt: skip
    """A stretch pass program's row ``b``, chunk ``c``, thread rows ``r``, the chunk's tiles
    (the last chunk in processing order may have fewer), whether all its samples are below ``T``
    (tiles aligned at ``t = 0``: only the forward's last chunk and the reverse's first can reach
    past it) and each thread's start state: the chunk's ``s[b, c]`` through thread ``r - 1``'s
    prefix map ``p[b, c, r - 1]`` with exponent ``e[b, c, r - 1]`` (thread 0: ``s[b, c]`` itself)."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1)  # times within a row: int32
    r = tl.arange(0, R)
    tiles = tl.minimum(tiles_per_chunk, n_tiles - c * tiles_per_chunk)
    if REV:  # chunk 0 holds the top of the row
        full = WHOLE or c > 0
    else:  # the last chunk holds the end of the row
        full = WHOLE or c * tiles_per_chunk + tiles < n_tiles
    s = on_rows(load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT), R)
    prev = (b * n_chunks + c) * R + tl.maximum(r - 1, 0)  # thread r - 1's prefix map (row 0: unused)
    pm = ()
    for i in tl.static_range(K):
        pm = pm + (tl.load(p_ptr + prev * K + i, mask=r > 0, other=0.0),)
    st = states(fold_scaled(pm + (tl.load(e_ptr + prev, mask=r > 0, other=0),), r > 0, s, M, CPLX), M, CPLX)
    start = ()
    for i in tl.static_range(M * W):
        start = start + (tl.where(r > 0, st[i], s[i]),)
    return b, c, r, tiles, full, start


@triton.heuristics({"WHOLE": lambda args: args["T"] % (args["ROWS"] * args["STEPS"]) == 0})
@triton.jit(do_not_specialize=["T", "n_chunks", "n_tiles", "tiles_per_chunk"])
def tile_fwd_stretch_pass_kernel(
    v_ptr, a_ptr, s_ptr, p_ptr, e_ptr, o_ptr, svb, svt, sab, sat, sam, ssb, ssc, ssm, sob, T, n_chunks, n_tiles,
    tiles_per_chunk, sign: tl.constexpr, conj: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, ROWS: tl.constexpr, STEPS: tl.constexpr, HOP: tl.constexpr,
    WHOLE: tl.constexpr,
):  # fmt: skip
    """``y`` (``o``) of chunk ``c = program_id(1)`` of row ``b = program_id(0)`` in the
    three-phase forward, from ``x`` (``v``), the chunk's start state ``s[b, c, :]`` and the
    summary's prefix maps ``p[b, c, r, :]`` with exponents ``e[b, c, r]``
    (:func:`.tile_summary.tile_summary_kernel`): thread ``r`` runs the ``r``-th of ``ROWS`` equal
    stretches of the chunk, ``STEPS`` samples a trip, as the summary did, from the state that
    thread ``r - 1``'s prefix map gives (thread 0: the chunk's). Only the recursion runs (``M``
    multiply-adds a sample): no map is built again and nothing crosses threads. The stretches'
    start states come from maps with exponents (:mod:`.tile_scaled`): finite wherever the states
    are, so no sweep is needed (:mod:`.tile_pass`'s overflow note is about the tile scan)."""
    W: tl.constexpr = 2 if CPLX else 1
    b, c, r, tiles, full, state = _stretch_start(
        s_ptr, p_ptr, e_ptr, ssb, ssc, ssm, T, n_chunks, n_tiles, tiles_per_chunk, M, CPLX, CDT, ROWS, STEPS, False,
        WHOLE,
    )  # fmt: skip
    base = c * (ROWS * STEPS * tiles_per_chunk) + r * (tiles * STEPS)  # each stretch's first sample
    vrow, arow = row_offset(b, svb, CPLX), row_offset(b, sab, CPLX)
    orow = row_offset(b, sob, CPLX)  # sob = T (x2 for complex), an argument: its alignment is known
    j = 0
    while j < tiles:
        n0 = base + j * STEPS  # from j, not carried: the compiler keeps its alignment (vector loads)
        X, A = fwd_tile_inputs(
            v_ptr, a_ptr, vrow, arow, n0, T, full, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS,
            HOP,
        )  # fmt: skip
        Av = coef_entries(A, sign, conj, False, M, CPLX, CDT, STEPS, HOP)  # A itself unless frames
        ys, state = run_fwd(X, Av, state, M, CPLX, STEPS)
        store_steps(o_ptr, orow + n0.to(tl.int64) * W, ys, n0, 0, T, full, CPLX, ROWS, STEPS)
        j += 1


@triton.jit
def _fwd_tile(
    o_ptr, orow, X, A, s, r, n0, T, FULL: tl.constexpr, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    CDT: tl.constexpr, ROWS: tl.constexpr, STEPS: tl.constexpr, WALK: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """One forward tile from its inputs and incoming state ``s``: stores ``y`` (every sample where
    ``FULL``, else those below ``T``) and returns the last row's end state."""
    W: tl.constexpr = 2 if CPLX else 1
    Av = coef_entries(A, sign, conj, False, M, CPLX, CDT, STEPS, HOP)  # A itself unless frames
    ends = _tile_end_states(X, Av, s, r, False, M, CPLX, STEPS)
    sweep, sweeps, s1, ys = 0, ROWS if WALK else 1, s, X  # ys = X: its shapes (the loop runs)
    while sweep < sweeps:  # once, unless a state is not finite (see the module docstring)
        ys, ends = run_fwd(X, Av, previous_rows(ends, r, s), M, CPLX, STEPS)
        s1 = last_row(ends, ROWS)
        sweeps = tl.where(all_finite(ends), sweeps, ROWS)
        sweep += 1
    store_steps(o_ptr, orow + n0.to(tl.int64) * W, ys, n0, 0, T, FULL, CPLX, ROWS, STEPS)
    return s1


@triton.jit
def _grad_a(
    ga_ptr, garow, us, Y, lo, T, full, sign, M: tl.constexpr, CPLX: tl.constexpr, R: tl.constexpr, S: tl.constexpr
):  # fmt: skip
    """``grad_a[n, i] = -sign u[n] conj(y[n-1-i])`` of a row's samples ``lo .. lo + S - 1``: one run of
    ``S M`` entries (:func:`.lang.store_run`; ``full``: all below ``T``)."""
    W: tl.constexpr = 2 if CPLX else 1
    ga = ()
    for t in tl.static_range(S):  # ascending time: processing entry S - 1 - t
        ur, ui = entry(us, S - 1 - t, CPLX)
        ur, ui = -sign * ur, -sign * ui  # once a sample, not once an entry
        for i in tl.static_range(M):
            hr, hi = entry(Y, (S - 1 - t) * M + i, CPLX)
            pr, pi = mul(ur, ui, hr, -hi, CPLX)
            ga = push(ga, pr, pi, CPLX)
    store_run(ga_ptr, garow + lo.to(tl.int64) * (M * W), ga, lo, 0, T, full, M * W, R, S)


@triton.jit
def _grad_zi(
    gz_ptr, a_ptr, arow, sam, sign, conj, lam0, b, sel, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr
):  # fmt: skip
    """``grad_zi = C[0]^T lam[0]``, one more adjoint step (``n = -1``, ``g = 0``, row 0 of ``A``)
    from the state after sample 0, the end state of the walk that ends there: ``-A[0, i] lam_0 +
    lam_{i+1}``, stored by the thread where ``sel`` (an ``[R]`` mask; none where no program's walk
    ends at 0). Once a program, after its loop (row 0 of ``a`` loaded here: nothing of it is live
    through the loop); no state at ``n = 0`` tracked a sample."""
    W: tl.constexpr = 2 if CPLX else 1
    A0 = signed(load_state(a_ptr, arow, sam, M, CPLX, CDT), sign, conj, M, CPLX)
    gz = adjoint_step(lam0, A0, 0, 0.0, 0.0, False, M, CPLX)
    store_state(gz_ptr, b * (M * W) + tl.zeros_like(sel.to(tl.int32)), W, gz, M, CPLX, mask=sel)


@triton.heuristics(
    {
        "NEED_A": lambda args: args["ga_ptr"] is not None,
        "NEED_ZI": lambda args: args["gz_ptr"] is not None,
        "ONE_TILE": lambda args: args["tiles_per_chunk"] == 1,
        "WHOLE": lambda args: args["T"] % (args["ROWS"] * args["STEPS"]) == 0,
    }
)
@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def tile_rev_pass_kernel(
    v_ptr, a_ptr, s_ptr, o_ptr, y_ptr, z_ptr, ga_ptr, gz_ptr, svb, svt, sab, sat, sam, ssb, ssc, ssm, sob, syb, syt,
    szb, szm, sgb, T, n_tiles, tiles_per_chunk, sign: tl.constexpr, conj: tl.constexpr, M: tl.constexpr,
    CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, ROWS: tl.constexpr, STEPS: tl.constexpr,
    WALK: tl.constexpr, HOP: tl.constexpr, KC: tl.constexpr, PREFETCH: tl.constexpr, NEED_A: tl.constexpr,
    NEED_ZI: tl.constexpr, ONE_TILE: tl.constexpr, WHOLE: tl.constexpr,
):  # fmt: skip
    """``u`` (``o``) of the tiles of chunk ``c`` of row ``b`` from ``g`` (``v``); chunks in
    processing order: tile ``q`` of the walk is ``[t BT, t BT + BT)``, ``t = n_tiles - 1 - q``,
    in descending time, from ``lam = s[b, c, :]`` (zeros if ``s_ptr`` is None). ``NEED_A``: also
    ``grad_a`` (``y`` through its strides ``syb, syt``, ``zi``); ``NEED_ZI``: ``grad_zi``;
    ``sgb``: ``grad_a``'s row stride (``T M``, x2 for complex; an argument: its alignment is known);
    ``ONE_TILE``: a chunk is one tile (nothing to prefetch); ``WHOLE``: every tile is whole (no
    masked loads or stores at all; after a chunk's last tile the prefetch loads that tile again
    rather than nothing). Tiles with a state that is not finite are swept row by row as in the
    forward (the module docstring). ``HOP > 0``: ``a`` holds
    control frames and ``ga`` receives each tile's ``KC`` interval sums instead (:mod:`.frames`)."""
    W: tl.constexpr = 2 if CPLX else 1
    BT: tl.constexpr = ROWS * STEPS
    b, q, q_end, s, r = _program_chunk(s_ptr, ssb, ssc, ssm, n_tiles, tiles_per_chunk, M, CPLX, CDT, ROWS)
    WIDE: tl.constexpr = CPLX and CDT == tl.float64  # complex128: the end state by a warp sum (registers)
    if not WIDE:
        s = on_rows(s, ROWS)  # carried on every thread row (the last row's end state is a shuffle away)
    vrow, arow = row_offset(b, svb, CPLX), row_offset(b, sab, CPLX)
    orow = row_offset(b, sob, CPLX)  # sob = T (x2 for complex), an argument: its alignment is known
    rlo = (ROWS - 1 - r) * STEPS  # each row's lowest sample in its tile
    lo = (n_tiles - 1 - q) * BT + rlo
    if PREFETCH:
        G, A = rev_tile_inputs(
            v_ptr, a_ptr, vrow, arow, lo, T, WHOLE or (n_tiles - q) * BT <= T, svt, sat, sam, sign, conj, M, CPLX,
            A_CONTIG, CDT, ROWS, STEPS, HOP,
        )  # fmt: skip
    while q < q_end:
        lo = (n_tiles - 1 - q) * BT + rlo  # from q, not carried: the compiler keeps its alignment
        full = WHOLE or (n_tiles - q) * BT <= T  # every sample of the tile is below T
        if not PREFETCH:  # this tile's loads now (registers)
            G, A = rev_tile_inputs(
                v_ptr, a_ptr, vrow, arow, lo, T, full, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS,
                HOP,
            )  # fmt: skip
            G1, A1 = G, A
        elif ONE_TILE:
            G1, A1 = G, A
        elif WHOLE:  # the next tile's loads, before this tile's stores (after the last: this one's again)
            G1, A1 = rev_tile_inputs(
                v_ptr, a_ptr, vrow, arow, (n_tiles - 1 - tl.where(q + 1 < q_end, q + 1, q)) * BT + rlo, T, True, svt,
                sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS, HOP,
            )  # fmt: skip
        else:  # the same, masked (after the last tile: nothing)
            nxt = q + 1 < q_end
            G1, A1 = rev_tile_inputs(
                v_ptr, a_ptr, vrow, arow, tl.where(nxt, (n_tiles - 2 - q) * BT + rlo, T), T,
                nxt & ((n_tiles - q - 1) * BT <= T), svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS,
                HOP,
            )  # fmt: skip
        if NEED_A:  # y is only read: its loads overlap with the scan, ahead of any store of the tile
            Y = rev_past_outputs(
                y_ptr, z_ptr, row_offset(b, syb, CPLX), b * szb, lo, T, full, syt, szm, M, CPLX, CDT, ROWS, STEPS
            )
        Av = coef_entries(A, sign, conj, True, M, CPLX, CDT, STEPS, HOP)  # A itself unless frames
        ends = _tile_end_states(G, Av, s, r, True, M, CPLX, STEPS)
        sweep, sweeps, s1, us = 0, ROWS if WALK else 1, s, G  # us = G: its shapes (the loop runs)
        while sweep < sweeps:  # once, unless a state is not finite (see the module docstring)
            us, ends = run_rev(G, Av, previous_rows(ends, r, s), M, CPLX, STEPS)
            if WIDE:
                s1 = pick(ends, r == ROWS - 1)
            else:
                s1 = last_row(ends, ROWS)
            sweeps = tl.where(all_finite(ends), sweeps, ROWS)
            sweep += 1
        store_steps(o_ptr, orow + lo.to(tl.int64) * W, reverse_groups(us, STEPS, W), lo, 0, T, full, CPLX, ROWS, STEPS)
        if NEED_A:
            if HOP > 0:
                tile_frame_sums(
                    ga_ptr, us, Y, lo, b, n_tiles - 1 - q, n_tiles, sign, M, CPLX, CDT, ROWS, STEPS, HOP, KC
                )
            else:
                _grad_a(ga_ptr, row_offset(b, sgb, CPLX), us, Y, lo, T, full, sign, M, CPLX, ROWS, STEPS)
        s = s1
        G = G1
        A = A1
        q += 1
    if NEED_ZI:  # a walk ending at tile 0 ends after sample 0 (row 0 stores: r == 0 and q_end == n_tiles)
        _grad_zi(gz_ptr, a_ptr, arow, sam, sign, conj, s, b, r + q_end * ROWS == n_tiles * ROWS, M, CPLX, CDT)


@triton.heuristics(
    {
        "NEED_A": lambda args: args["ga_ptr"] is not None,
        "NEED_ZI": lambda args: args["gz_ptr"] is not None,
        "WHOLE": lambda args: args["T"] % (args["ROWS"] * args["STEPS"]) == 0,
    }
)
@triton.jit(do_not_specialize=["T", "n_chunks", "n_tiles", "tiles_per_chunk"])
def tile_rev_stretch_pass_kernel(
    v_ptr, a_ptr, s_ptr, p_ptr, e_ptr, o_ptr, y_ptr, z_ptr, ga_ptr, gz_ptr, svb, svt, sab, sat, sam, ssb, ssc, ssm,
    sob, syb, syt, szb, szm, sgb, T, n_chunks, n_tiles, tiles_per_chunk, sign: tl.constexpr, conj: tl.constexpr,
    M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, ROWS: tl.constexpr,
    STEPS: tl.constexpr, NEED_A: tl.constexpr, NEED_ZI: tl.constexpr, WHOLE: tl.constexpr,
):  # fmt: skip
    """``u`` (``o``) of chunk ``c`` of row ``b`` in the three-phase adjoint (chunks in processing
    order, from the top of the row), as :func:`tile_fwd_stretch_pass_kernel` does the forward:
    thread ``r`` walks the ``r``-th stretch from the top down, ``STEPS`` samples a trip, from
    ``lam`` through thread ``r - 1``'s prefix map; ``grad_a`` and ``grad_zi`` as
    :func:`tile_rev_pass_kernel` (no control frames: their interval sums are per tile)."""
    W: tl.constexpr = 2 if CPLX else 1
    b, c, r, tiles, full, lam = _stretch_start(
        s_ptr, p_ptr, e_ptr, ssb, ssc, ssm, T, n_chunks, n_tiles, tiles_per_chunk, M, CPLX, CDT, ROWS, STEPS, True,
        WHOLE,
    )  # fmt: skip
    top = (n_tiles - c * tiles_per_chunk) * (ROWS * STEPS) - r * (tiles * STEPS)  # above each stretch
    vrow, arow = row_offset(b, svb, CPLX), row_offset(b, sab, CPLX)
    orow = row_offset(b, sob, CPLX)  # sob = T (x2 for complex), an argument: its alignment is known
    j = 0
    while j < tiles:
        lo = top - (j + 1) * STEPS  # each row's lowest sample of the trip, from j (alignment)
        G, A = rev_tile_inputs(
            v_ptr, a_ptr, vrow, arow, lo, T, full, svt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS, 0
        )  # fmt: skip
        if NEED_A:
            Y = rev_past_outputs(
                y_ptr, z_ptr, row_offset(b, syb, CPLX), b * szb, lo, T, full, syt, szm, M, CPLX, CDT, ROWS, STEPS
            )
        us, lam = run_rev(G, A, lam, M, CPLX, STEPS)
        store_steps(o_ptr, orow + lo.to(tl.int64) * W, reverse_groups(us, STEPS, W), lo, 0, T, full, CPLX, ROWS, STEPS)
        if NEED_A:
            _grad_a(ga_ptr, row_offset(b, sgb, CPLX), us, Y, lo, T, full, sign, M, CPLX, ROWS, STEPS)
        j += 1
    if NEED_ZI:  # the last thread of the last chunk ends after sample 0 (r == ROWS - 1, c == n_chunks - 1)
        _grad_zi(gz_ptr, a_ptr, arow, sam, sign, conj, lam, b, r + c * ROWS == n_chunks * ROWS - 1, M, CPLX, CDT)


def tile_pass(call: Call, starts: Optional[torch.Tensor], maps: Optional[Tuple[torch.Tensor, ...]] = None) -> None:
    """Launch the pass kernel of ``call``'s direction: one program a (row, chunk); ``starts``
    ``(B, C, M W)`` from the carry, or ``None``: one chunk a row from ``call.start``. The
    three-phase schedule with ``call.stretches`` (``maps``: the summary's prefix maps and
    exponents) runs the summary's stretches (``tile_{fwd,rev}_stretch_pass_kernel``)."""
    p = call.plan
    s, strides = call.pass_starts(starts)
    rows = p.block_t // p.steps
    if starts is not None and call.stretches:
        assert maps is not None, "a stretch pass starts from the summary's prefix maps"
        if call.reverse:
            kernel = tile_rev_stretch_pass_kernel
            extra = dict(call.adjoint_outputs(), sgb=call.ga.stride(0) if call.ga is not None else 0)
        else:
            kernel, extra = tile_fwd_stretch_pass_kernel, dict(o_ptr=call.out)
        common = call.common()
        if call.reverse:
            del common["HOP"]  # no control frames (call.stretches)
        launch(
            kernel, (call.B, p.n_chunks), s_ptr=s, p_ptr=maps[0], e_ptr=maps[1], ssb=strides[0], ssc=strides[1],
            ssm=strides[2], sob=call.out.stride(0), n_chunks=p.n_chunks, n_tiles=-(-call.T // p.block_t),
            tiles_per_chunk=p.chunk_len // p.block_t, A_CONTIG=call.a_contig, ROWS=rows, STEPS=p.steps,
            **tile_launch_options(p.num_warps), **common, **extra,
        )  # fmt: skip
        return
    kernel = tile_rev_pass_kernel if call.reverse else tile_fwd_pass_kernel
    if call.reverse:
        sgb = call.ga.stride(0) if call.ga is not None and call.hop == 0 else 0
        extra = dict(call.adjoint_outputs(), KC=call.frame_layout()[3], sgb=sgb)
    else:
        extra = dict(o_ptr=call.out)
    launch(
        kernel,
        (call.B, p.n_chunks),
        s_ptr=s,
        ssb=strides[0],
        ssc=strides[1],
        ssm=strides[2],
        sob=call.out.stride(0),
        n_tiles=-(-call.T // p.block_t),
        tiles_per_chunk=-(-p.chunk_len // p.block_t),
        A_CONTIG=call.a_contig,
        ROWS=rows,
        STEPS=p.steps,
        WALK=p.tile_walk,
        PREFETCH=p.prefetch and call.a_contig,  # strided `a`: each tile's loads as it starts (registers)
        **tile_launch_options(p.num_warps),
        **call.common(),
        **extra,
    )
