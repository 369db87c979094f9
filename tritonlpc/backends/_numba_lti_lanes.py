"""Numba CPU kernels of time-invariant IIR filters with rows as vector lanes, forward and backward.

:data:`LANES` rows of a real signal walk a filter together: their samples are transposed a tile
at a time into work arrays whose inner loop over the lanes LLVM vectorises (no fastmath: the
lanes are independent, nothing is reassociated). One lane does exactly what one row does in the
row kernels of :mod:`._numba_lti` (the math and the adjoint's derivation are there):

* ``tdf2``: the adjoint of the transposed direct form II of order <= 4 (padded to 4; its
  forward runs in the row kernels, faster there);
* ``sos``: a cascade in groups of four sections, every group over the cached tile. A forward
  with a backward to come saves every group's states at the start of each tile of
  :data:`BACK_TILE` samples (a checkpoint: ``8 G`` values a tile and row); the adjoint
  recomputes a tile's section signals from it (they stay in cache) and walks the tile back, so
  no section's signal is stored.

Coefficient gradients are summed per lane over a tile, then over the tiles in float64, in a
fixed order (the same bits run to run). The lanes touch the signals only to transpose a tile:
their kernels compile once a dtype for any strides (reversed views included). Also here: rows
in parallel (:func:`launch_rows`) and one long row as :data:`LANES` chunks of itself in the
lanes, chained by the chunk map ``A^L`` (:func:`chunked`)."""

from __future__ import annotations

from typing import Any, Callable, Optional

import numpy as np
from numba import prange

from ._numba_support import jit, jit_twins, launch, launch_parallel

__all__ = [
    "LANES",
    "TILE",
    "BACK_TILE",
    "PARALLEL_FROM",
    "launch_rows",
    "tdf2_lanes_adjoint",
    "sos_lanes",
    "sos_lanes_adjoint",
    "sos_checkpoints",
    "chunked",
]

LANES = 8  # two AVX2 vectors of float64, one of float32
# LLVM vectorises a lane loop (8 trips) only where its body is large (four sections, the order-4
# adjoint; a small body it unrolls into scalar code) and the loop around it walks up from 0 (a
# loop walking down, or up from a variable start, stays scalar): the adjoints' tiles hold time
# running down the rows.
TILE = 256  # samples a forward tile: 16 KiB of float64 lanes, in L1 with the signal's streams
BACK_TILE = 64  # samples a backward tile: a cascade group's five signals in L1
# Work rows of LANES values. sos: 0-7 the states (s0, s1 of each of four sections), 8-27 the
# coefficients (b0, b1, b2, a1, a2 of each), the forward's tile from row 28. tdf2: 0-3 the
# adjoint's lags, 4-8 b0..b4, 9-12 a1..a4 (more rows below).
_SOS_ROWS = 28


@jit(inline="always")
def _tile_in(w, row, x, r0, t0, n, last=-1):  # pragma: no cover - compiled
    """Samples ``t0 .. t0+n-1`` of rows ``r0 ..`` (one a lane) into ``w`` from row ``row`` on;
    ``last >= 0``: sample ``t0 + i`` into row ``row + last - i`` (an adjoint's tile, walked up
    the rows: LLVM vectorises a lane loop only inside a loop walking up from 0)."""
    for j in range(LANES):
        for i in range(n):
            w[(row + (last - i if last >= 0 else i)) * LANES + j] = x[r0 + j, t0 + i]


@jit(inline="always")
def _tile_out(w, row, y, r0, t0, n, last=-1):  # pragma: no cover - compiled
    """The inverse of :func:`_tile_in`; an empty ``y``: nothing."""
    for j in range(LANES if y.shape[0] else 0):
        for i in range(n):
            y[r0 + j, t0 + i] = w[(row + (last - i if last >= 0 else i)) * LANES + j]


# --------------------------------------------------------------------------- tdf2
@jit
def _tdf2_lanes_head(b, a, z, w, r0, step):  # pragma: no cover - compiled
    """Lags ``z`` and coefficients of rows ``r0 ..`` into the work rows (layout above)."""
    for j in range(LANES):
        c = (r0 + j) * step
        for u in range(4):
            w[u * LANES + j] = z[r0 + j, u]
            w[(9 + u) * LANES + j] = a[c, u + 1]
        for u in range(5):
            w[(4 + u) * LANES + j] = b[c, u]


# The tdf2 adjoint's work rows: 0-12 the lags and coefficients (above), 13-21 the
# tile's sums of the gradients of b0..b4, a1..a4 (added to float64 sums after each tile), then
# three blocks of BACK_TILE rows, time running down the first n rows: x, y and g (overwritten
# with gx).
_TDF2_SUM, _TDF2_SIG = 13, 22


@jit(inline="always")
def _tdf2_adjoint_lane(w, i, j):  # pragma: no cover - compiled
    """One step back in time of lane ``j`` at tile row ``i`` (layout above)."""
    xt, yt = w[(_TDF2_SIG + i) * LANES + j], w[(_TDF2_SIG + BACK_TILE + i) * LANES + j]
    t = (_TDF2_SIG + 2 * BACK_TILE + i) * LANES + j
    l0, l1, l2, l3 = w[j], w[LANES + j], w[2 * LANES + j], w[3 * LANES + j]
    e = w[t] - w[12 * LANES + j] * l3 - w[11 * LANES + j] * l2 - w[10 * LANES + j] * l1 - w[9 * LANES + j] * l0
    h = w[8 * LANES + j] * l3 + w[7 * LANES + j] * l2 + w[6 * LANES + j] * l1 + w[5 * LANES + j] * l0
    w[t] = h + w[4 * LANES + j] * e
    k = _TDF2_SUM * LANES + j
    w[k] += e * xt
    for u, lag in enumerate((l0, l1, l2, l3)):
        w[k + (1 + u) * LANES] += lag * xt
        w[k + (5 + u) * LANES] -= lag * yt
    w[j], w[LANES + j], w[2 * LANES + j], w[3 * LANES + j] = e, l0, l1, l2


@jit
def _tdf2_lanes_adjoint_tile(w, n):  # pragma: no cover - compiled
    n = min(n, BACK_TILE)
    for i in range(n):  # back in time (tile rows from n - 1 down to 0)
        for j in range(LANES):
            _tdf2_adjoint_lane(w, i, j)


@jit
def _tdf2_lanes_adjoint_block(b, a, x, y, g, z, gx, gb, ga, step, p):  # pragma: no cover - compiled
    r0, T = p * LANES, x.shape[1]
    w = np.zeros((_TDF2_SIG + 3 * BACK_TILE) * LANES, x.dtype)
    _tdf2_lanes_head(b, a, z, w, r0, step)
    k = np.zeros(9 * LANES, gb.dtype)
    for t0 in range((T - 1) // BACK_TILE * BACK_TILE, -1, -BACK_TILE):
        n = min(BACK_TILE, T - t0)
        for u, s in enumerate((x, y, g)):
            _tile_in(w, _TDF2_SIG + u * BACK_TILE, s, r0, t0, n, n - 1)
        w[_TDF2_SUM * LANES : _TDF2_SIG * LANES] = 0
        _tdf2_lanes_adjoint_tile(w, n)
        k += w[_TDF2_SUM * LANES : _TDF2_SIG * LANES]
        _tile_out(w, _TDF2_SIG + 2 * BACK_TILE, gx, r0, t0, n, n - 1)
    for j in range(LANES):
        for u in range(4):
            z[r0 + j, u] = w[u * LANES + j]
            ga[r0 + j, u + 1] = k[(5 + u) * LANES + j]
        for u in range(5):
            gb[r0 + j, u] = k[u * LANES + j]


def _tdf2_lanes_adjoint_rows_py(b, a, x, y, g, z, gx, gb, ga, step):  # pragma: no cover - compiled
    for p in prange(x.shape[0] // LANES):
        _tdf2_lanes_adjoint_block(b, a, x, y, g, z, gx, gb, ga, step, p)


# --------------------------------------------------------------------------- sos
@jit(inline="always")
def _lane_section(w, s, c, v):  # pragma: no cover - compiled
    """One section on one lane's sample ``v``: states at ``w[s]``, ``w[s + LANES]``, coefficients
    ``b0, b1, b2, a1, a2`` at ``w[c + u * LANES]``. Returns the output."""
    o = w[c] * v + w[s]
    w[s] = w[c + LANES] * v + w[s + LANES] - w[c + 3 * LANES] * o
    w[s + LANES] = w[c + 2 * LANES] * v - w[c + 4 * LANES] * o
    return o


@jit(inline="always")
def _lane_section_adjoint(w, s, c, k, d, v, o):  # pragma: no cover - compiled
    """The adjoint of :func:`_lane_section` one sample back in time: ``d`` the gradient of its
    output ``o``, ``v`` its input, lags at ``w[s]``, ``w[s + LANES]``, coefficients at ``w[c +
    u * LANES]``, the sums of their gradients at ``w[k + u * LANES]``. Returns the gradient of
    ``v``."""
    l0, l1 = w[s], w[s + LANES]
    e = d - w[c + 4 * LANES] * l1 - w[c + 3 * LANES] * l0
    w[k] += e * v
    w[k + LANES] += l0 * v
    w[k + 2 * LANES] += l1 * v
    w[k + 3 * LANES] -= l0 * o
    w[k + 4 * LANES] -= l1 * o
    w[s], w[s + LANES] = e, l0
    return w[c + 2 * LANES] * l1 + w[c + LANES] * l0 + w[c] * e


@jit
def _sos4_lanes_tile(w, n):  # pragma: no cover - compiled
    """Four sections over the first ``n`` samples of the tile in ``w`` (layout above), in place."""
    n = min(n, TILE)
    for i in range(n):
        for j in range(LANES):
            v = w[(_SOS_ROWS + i) * LANES + j]
            for k in range(4):
                v = _lane_section(w, 2 * k * LANES + j, (8 + 5 * k) * LANES + j, v)
            w[(_SOS_ROWS + i) * LANES + j] = v


# The sos adjoint's work rows: 0-27 as the forward's (the recomputing forward's states, the
# coefficients), 28-35 the lags, 36-55 the tile's sums of the coefficient gradients (added to
# float64 sums after each tile), 56 on a block of BACK_TILE rows: the recomputing forward's
# input (in time order), then, time running down the rows, the output gradient (overwritten
# with the input's) and five blocks: the group's input and its four sections' outputs.
_LAG, _SUM, _FWD = 28, 36, 56
_GRAD, _SIG = _FWD + BACK_TILE, _FWD + 2 * BACK_TILE
_ADJ_ROWS = _SIG + 5 * BACK_TILE


@jit
def _sos4_lanes_keep_tile(w, n):  # pragma: no cover - compiled
    """Four sections over the first ``n`` samples of the forward block: the input and every
    section's output to the signal blocks (time down the rows), the output also back to the
    forward block (the next group's input)."""
    n = min(n, BACK_TILE)
    for i in range(n):
        for j in range(LANES):
            v = w[(_FWD + i) * LANES + j]
            w[(_SIG + BACK_TILE - 1 - i) * LANES + j] = v
            for k in range(4):
                v = _lane_section(w, 2 * k * LANES + j, (8 + 5 * k) * LANES + j, v)
                w[(_SIG + (k + 2) * BACK_TILE - 1 - i) * LANES + j] = v
            w[(_FWD + i) * LANES + j] = v


@jit(inline="always")
def _sos4_adjoint_lane(w, i, j):  # pragma: no cover - compiled
    """Four sections one step back in time, lane ``j`` at tile row ``i`` (layout above)."""
    d = w[(_GRAD + i) * LANES + j]
    for u in range(4):
        s = 3 - u
        v, o = w[(_SIG + s * BACK_TILE + i) * LANES + j], w[(_SIG + (s + 1) * BACK_TILE + i) * LANES + j]
        d = _lane_section_adjoint(
            w, (_LAG + 2 * s) * LANES + j, (8 + 5 * s) * LANES + j, (_SUM + 5 * s) * LANES + j, d, v, o
        )
    w[(_GRAD + i) * LANES + j] = d


@jit
def _sos4_lanes_adjoint_tile(w, n):  # pragma: no cover - compiled
    # the signals come from the keep tile at rows BACK_TILE - 1 - i (a write index of n would
    # break that loop's vectorisation): a full tile in a loop of known bounds from 0 (LLVM
    # vectorises no other lane loop), a partial one (one a row) from row BACK_TILE - n
    if n == BACK_TILE:
        for i in range(BACK_TILE):
            for j in range(LANES):
                _sos4_adjoint_lane(w, i, j)
    else:
        for i in range(BACK_TILE - n, BACK_TILE):
            for j in range(LANES):
                _sos4_adjoint_lane(w, i, j)


@jit
def _sos_lanes_head(q, z, st, r0, step):  # pragma: no cover - compiled
    """States ``z`` and coefficients ``q`` of rows ``r0 ..`` into ``st`` `(G, 28 LANES)`: each
    group's work rows (layout above)."""
    for j in range(LANES):
        c = (r0 + j) * step
        for s in range(q.shape[1]):
            g, k = s // 4, s % 4
            st[g, 2 * k * LANES + j], st[g, (2 * k + 1) * LANES + j] = z[r0 + j, s, 0], z[r0 + j, s, 1]
            for u, col in enumerate((0, 1, 2, 4, 5)):
                st[g, (8 + 5 * k + u) * LANES + j] = q[c, s, col]


@jit
def _sos_lanes_tail(st, z, r0):  # pragma: no cover - compiled
    """The states in ``st`` back to ``z`` (the inverse of :func:`_sos_lanes_head`'s states)."""
    for j in range(LANES):
        for s in range(z.shape[1]):
            g, k = s // 4, s % 4
            z[r0 + j, s, 0], z[r0 + j, s, 1] = st[g, 2 * k * LANES + j], st[g, (2 * k + 1) * LANES + j]


@jit
def _sos_lanes_block(q, x, z, y, ckpt, step, p):  # pragma: no cover - compiled
    # rows p * LANES .. through every group of four sections a tile at a time (the tile stays in
    # cache from group to group); each group's states and coefficients wait in st. A non-empty
    # ckpt (P, tiles, G, 8 LANES): tiles of BACK_TILE samples, the states at each tile's start
    r0, T, G = p * LANES, x.shape[1], q.shape[1] // 4
    save = ckpt.shape[0] > 0
    tile = BACK_TILE if save else TILE
    w = np.empty((_SOS_ROWS + TILE) * LANES, x.dtype)
    st = np.empty((G, _SOS_ROWS * LANES), x.dtype)
    _sos_lanes_head(q, z, st, r0, step)
    for t0 in range(0, T, tile):
        n = min(tile, T - t0)
        _tile_in(w, _SOS_ROWS, x, r0, t0, n)
        for g in range(G):
            if save:
                ckpt[p, t0 // tile, g] = st[g, : 8 * LANES]
            w[: _SOS_ROWS * LANES] = st[g]
            _sos4_lanes_tile(w, n)
            st[g, : 8 * LANES] = w[: 8 * LANES]
        _tile_out(w, _SOS_ROWS, y, r0, t0, n)
    _sos_lanes_tail(st, z, r0)


def _sos_lanes_rows_py(q, x, z, y, ckpt, step):  # pragma: no cover - compiled
    for p in prange(x.shape[0] // LANES):
        _sos_lanes_block(q, x, z, y, ckpt, step, p)


@jit
def _sos_lanes_adjoint_block(q, x, g, z, gx, gq, ckpt, step, p):  # pragma: no cover - compiled
    r0, T, G = p * LANES, x.shape[1], q.shape[1] // 4
    L, B = LANES, BACK_TILE * LANES
    head = np.empty((G, _SOS_ROWS * L), x.dtype)
    _sos_lanes_head(q, z, head, r0, step)  # the coefficients; in the states' rows the lags (z)
    lags = head[:, : 8 * L].copy()
    ks = np.zeros((G, 20 * L), gq.dtype)
    w = np.zeros(_ADJ_ROWS * L, x.dtype)
    sig = np.empty((G if G > 1 else 0, 5 * B), x.dtype)  # the groups' signals (more than one)
    for ti in range(ckpt.shape[1] - 1, -1, -1):
        t0 = ti * BACK_TILE
        n = min(BACK_TILE, T - t0)
        _tile_in(w, _FWD, x, r0, t0, n)
        for c in range(G):  # recompute the tile's signals from the checkpoint
            w[: 8 * L], w[8 * L : _SOS_ROWS * L] = ckpt[p, ti, c], head[c, 8 * L :]
            _sos4_lanes_keep_tile(w, n)
            if G > 1:
                sig[c] = w[_SIG * L :]
        _tile_in(w, _GRAD, g, r0, t0, n, BACK_TILE - 1)
        for c in range(G - 1, -1, -1):
            if G > 1:
                w[_SIG * L :], w[8 * L : _SOS_ROWS * L] = sig[c], head[c, 8 * L :]
            w[_LAG * L : _SUM * L], w[_SUM * L : _FWD * L] = lags[c], 0
            _sos4_lanes_adjoint_tile(w, n)
            lags[c] = w[_LAG * L : _SUM * L]
            ks[c] += w[_SUM * L : _FWD * L]
        _tile_out(w, _GRAD, gx, r0, t0, n, BACK_TILE - 1)
    head[:, : 8 * L] = lags
    _sos_lanes_tail(head, z, r0)
    for j in range(L):
        for s in range(q.shape[1]):
            c, k = s // 4, s % 4
            for u, col in enumerate((0, 1, 2, 4, 5)):
                gq[r0 + j, s, col] = ks[c, (5 * k + u) * L + j]


def _sos_lanes_adjoint_rows_py(q, x, g, z, gx, gq, ckpt, step):  # pragma: no cover - compiled
    for p in prange(x.shape[0] // LANES):
        _sos_lanes_adjoint_block(q, x, g, z, gx, gq, ckpt, step, p)


_tdf2_adj_par, _tdf2_adj_ser = jit_twins(_tdf2_lanes_adjoint_rows_py, "_lti_tdf2_lanes_adjoint_rows")
_sos_par, _sos_ser = jit_twins(_sos_lanes_rows_py, "_lti_sos_lanes_rows")
_sos_adj_par, _sos_adj_ser = jit_twins(_sos_lanes_adjoint_rows_py, "_lti_sos_lanes_adjoint_rows")


# Rows run in parallel from this many samples a call (rows x length) on: below it one thread
# walking the rows is faster than waking the pool. On the 2-core test machine under load
# (load average 6.5), order 4, float64: (8, 2^16) 1.7 ms on one thread against 22 ms median in
# parallel (threads waiting for a busy core); (8, 2^18) 35 ms against 25 ms.
PARALLEL_FROM = 1 << 20


def launch_rows(x: np.ndarray, parallel: Any, serial: Any, *args: Any, strided: bool = False, unit: int = 1) -> None:
    """Launch a row kernel on ``args`` for rows ``x`` `(R, T)` in parallel over its units of
    ``unit`` rows where that pays (more than one unit, :data:`PARALLEL_FROM` samples), else on
    one thread; ``strided`` as in :func:`launch`."""
    if x.shape[0] > unit and x.size >= PARALLEL_FROM:
        launch_parallel(parallel, serial, *args, strided=strided)
    else:
        launch(serial, *args, strided=strided)


def tdf2_lanes_adjoint(
    b: np.ndarray,
    a: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    g: np.ndarray,
    z: np.ndarray,
    gx: np.ndarray,
    gb: np.ndarray,
    ga: np.ndarray,
    step: int,
) -> None:
    """The order-4 adjoint of ``._numba_lti.tdf2_adjoint`` on :data:`LANES`-multiple real rows:
    ``gb``, ``ga`` `(R, 5)` written (per-row sums)."""
    launch_rows(x, _tdf2_adj_par, _tdf2_adj_ser, b, a, x, y, g, z, gx, gb, ga, step, strided=True, unit=LANES)


def sos_checkpoints(x: np.ndarray, sections: int) -> np.ndarray:
    """An empty checkpoint array for :func:`sos_lanes` over rows ``x`` and ``sections`` (a
    multiple of 4) sections."""
    tiles = -(-x.shape[1] // BACK_TILE)
    return np.empty((x.shape[0] // LANES, tiles, sections // 4, 8 * LANES), x.dtype)


def sos_lanes(
    q: np.ndarray, x: np.ndarray, z: np.ndarray, y: np.ndarray, step: int, ckpt: Optional[np.ndarray] = None
) -> None:
    """The cascade forward of ``._numba_lti.sos_cascade`` on rows ``x`` `(R, T)` (``R`` a
    multiple of :data:`LANES`, real) through ``q`` `(1 or R, 4G, 6)` from ``z`` `(R, 4G, 2)`;
    ``ckpt`` (:func:`sos_checkpoints`) filled for :func:`sos_lanes_adjoint` when given."""
    ck = np.empty((0, 0, 0, 0), x.dtype) if ckpt is None else ckpt
    launch_rows(x, _sos_par, _sos_ser, q, x, z, y, ck, step, strided=True, unit=LANES)


def sos_lanes_adjoint(
    q: np.ndarray,
    x: np.ndarray,
    g: np.ndarray,
    z: np.ndarray,
    gx: np.ndarray,
    gq: np.ndarray,
    ckpt: np.ndarray,
    step: int,
) -> None:
    """The backward of :func:`sos_lanes` from its checkpoints: ``g`` the gradient of the output,
    ``z`` that of the final states (overwritten with that of the initial ones), ``gx`` written,
    ``gq`` `(R, 4G, 6)` the per-row coefficient gradients (written; column 3 left alone)."""
    launch_rows(x, _sos_adj_par, _sos_adj_ser, q, x, g, z, gx, gq, ckpt, step, strided=True, unit=LANES)


def chunked(
    run: Callable[[np.ndarray, np.ndarray, np.ndarray], None],
    A: np.ndarray,
    x: np.ndarray,
    z: np.ndarray,
    y: np.ndarray,
) -> Optional[np.ndarray]:
    """One row ``x`` `(1, T)` as :data:`LANES` chunks of ``L = T // LANES`` samples walked
    together in the lanes (the last ``T % LANES`` samples are left to the caller). ``run(xc, s,
    yc)`` filters rows ``xc`` `(LANES, L)` from states ``s`` `(LANES, *z.shape[1:])`
    (overwritten with the final ones) into ``yc`` (no rows: the final states only); ``A``
    `(d, d)` is the filter's state-transition matrix with zero input. A chunk maps its initial
    state ``s`` to its final one ``A^L s + h`` (``A^L`` by squaring, float64; ``h`` the chunk's
    final state from zero). Pass 1 runs every chunk from zero (chunk 0 from ``z[0]``) for the
    ``h``; the maps chain them into each chunk's initial state; pass 2 runs the chunks from
    those. Returns the state after the chunks, or ``None`` (nothing written) where ``A^L`` is
    not finite (an unstable filter)."""
    L = x.shape[1] // LANES
    with np.errstate(over="ignore", invalid="ignore"):  # an unstable filter: checked below
        AL = np.linalg.matrix_power(A, L)
    if not np.isfinite(AL).all():
        return None
    xc, yc = (np.lib.stride_tricks.as_strided(v, (LANES, L), (L * v.strides[1], v.strides[1])) for v in (x, y))
    start = np.zeros((LANES, *z.shape[1:]), x.dtype)
    start[0] = z[0]
    ends = start.copy()
    run(xc, ends, yc[:0])
    s = ends[0].ravel().astype(np.float64)  # chunk 0 ran from its true state
    for c in range(1, LANES):
        start[c] = s.reshape(z.shape[1:])
        s = AL @ s + ends[c].ravel()
    run(xc, start, yc)  # start: now each chunk's final state
    return start[LANES - 1]
