"""Loads of the tile path's inputs: a tile's samples and coefficient rows (both directions).

Forward tiles are aligned at ``t = 0`` and walked left to right; reverse tiles at ``t = T`` and
walked right to left (a row's samples are loaded ascending and processed descending), so only
the last tile in processing order can be partial, and the samples it lacks come after every
valid one (their loads are masked to zero; no result depends on them). No
``tl.associative_scan(..., reverse=True)`` is needed (with a non-commutative combine it has
disagreed between the interpreter and compiled code, triton-lang/triton#4362). The coefficient
``A`` is ``sign * a`` conjugated when ``conj == -1`` (runtime scalars, not variants).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .lang import load_steps, reverse_groups, unzip

__all__ = ["load_coef_rows", "fwd_tile_inputs", "rev_tile_inputs", "rev_past_outputs"]


@triton.jit
def load_coef_rows(
    a_ptr, arow, n0, lo_lim, hi_lim, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr,
):  # fmt: skip
    """``A[n0 + j, i] = sign * a`` (conjugated when ``conj == -1``) for ``j < S``, ``i < M``, of
    ``R`` rows (``n0`` ``[R]``; zero unless ``lo_lim <= n0 + j < hi_lim``): per sample one
    ``[R, M]`` block (a row's coefficients are adjacent: vector loads). Flat tuple, entry
    ``j * M + i``."""
    W: tl.constexpr = 2 if CPLX else 1
    MP: tl.constexpr = 4 if M == 3 else M
    k = tl.arange(0, MP * W)
    if A_CONTIG:  # (t, i) contiguous: constant strides let the compiler vectorise
        koff = k
        row = arow + n0 * (M * W)
        step = M * W
    else:
        if CPLX:
            koff = (k // 2) * sam + (k % 2)
        else:
            koff = k * sam
        row = arow + n0 * sat
        step = sat
    out = ()
    for j in tl.static_range(S):
        okj = (n0 + j >= lo_lim) & (n0 + j < hi_lim)
        m = okj[:, None] & (k < M * W)[None, :]
        t = tl.load(a_ptr + (row + j * step)[:, None] + koff[None, :], mask=m, other=0.0).to(CDT)
        cols = unzip(t, MP * W, R)
        for i in tl.static_range(M):
            if CPLX:
                out = out + (cols[2 * i] * sign, cols[2 * i + 1] * (sign * conj))
            else:
                out = out + (cols[i] * sign,)
    return out


@triton.jit
def fwd_tile_inputs(
    x_ptr, a_ptr, xrow, arow, t0, n0, hi, sxt, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr,
):  # fmt: skip
    """A tile's inputs: row ``r`` holds samples ``n0[r] + j``, ``j < S`` (those ``< hi``; the
    tile starts at ``t0``)."""
    X = load_steps(
        x_ptr, xrow + n0 * sxt, sxt, n0[:, None] + tl.arange(0, S)[None, :] < hi, t0 + R * S <= hi, CPLX, CDT, R, S
    )
    A = load_coef_rows(a_ptr, arow, n0, 0, hi, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S)
    return X, A


@triton.jit
def rev_tile_inputs(
    g_ptr, a_ptr, grow, arow, lo, T, sgt, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr,
):  # fmt: skip
    """A reverse tile's inputs in processing (descending) order: row ``r`` holds samples
    ``lo[r] + S - 1 - j``, ``j < S`` (loaded ascending), and coefficient rows ``n + 1``.
    ``lo`` at or beyond ``T`` (no tile) loads nothing."""
    W: tl.constexpr = 2 if CPLX else 1
    n = lo[:, None] + tl.arange(0, S)[None, :]
    ok = (n >= 0) & (n < T)
    lowest = tl.min(lo, axis=0)
    G = load_steps(g_ptr, grow + lo * sgt, sgt, ok, (lowest >= 0) & (lowest + R * S <= T), CPLX, CDT, R, S)
    A = load_coef_rows(a_ptr, arow, lo + 1, 1, T, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S)
    return reverse_groups(G, S, W), reverse_groups(A, S, M * W)


@triton.jit
def rev_past_outputs(
    y_ptr, z_ptr, yrow, zrow, lo, T, syt, szm, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
    R: tl.constexpr, S: tl.constexpr,
):  # fmt: skip
    """``y[n-1-i]``, ``i < M``, of a reverse tile's samples in processing order (``y[-k] = zi[k-1]``;
    shifted block loads). Flat tuple, entry ``j * M + i``."""
    W: tl.constexpr = 2 if CPLX else 1
    js = tl.arange(0, S)[None, :]
    n = lo[:, None] + js
    cols = ()
    for i in tl.static_range(M):
        m = n - 1 - i
        ok = (n >= 0) & (n < T)
        v = load_steps(y_ptr, yrow + (lo - 1 - i) * syt, syt, ok & (m >= 0), False, CPLX, CDT, R, S)
        h = load_steps(z_ptr, zrow + (i - lo) * szm, -szm, ok & (m < 0), False, CPLX, CDT, R, S)
        cols = cols + (reverse_groups(v, S, W), reverse_groups(h, S, W))
    out = ()
    for j in tl.static_range(S):
        for i in tl.static_range(M):
            for w in tl.static_range(W):
                out = out + (cols[2 * i][j * W + w] + cols[2 * i + 1][j * W + w],)
    return out
