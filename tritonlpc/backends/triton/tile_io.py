"""Loads of the tile path's inputs: a tile's samples and coefficient rows (both directions).

Tiles are aligned at ``t = 0`` in both directions (a row's block loads stay 16-byte aligned).
The forward walks them left to right, so only its last tile can be partial, and the samples it
lacks come after every valid one; the reverse walks them right to left (a row's samples loaded
ascending and processed descending), so only its first tile is partial, and the samples it
lacks come before every valid one, shifting a zero state. Their loads are masked to zero; no
result depends on them. The reverse reads coefficient row ``n + 1`` of sample ``n``: a row's
block starts at its own first row (aligned) and its last row, ``n0 + S`` (``T`` at the top, which
does not exist: always masked), is loaded apart. With contiguous ``a`` a row's coefficients are
one run of ``S M`` values (:func:`.lang.load_run`: no padding of ``M = 3`` to 4, whose masked
blocks cost a shared-memory layout change a sample). No ``tl.associative_scan(...,
reverse=True)`` is needed (with a non-commutative combine it has disagreed between the
interpreter and compiled code, triton-lang/triton#4362). The coefficient ``A`` is ``sign * a``
conjugated when ``conj == -1`` (compile-time constants of the tile kernels: multiplying by 1
costs nothing and -1 folds into the multiply-adds; half precision takes the sign in its bits).
"""

from __future__ import annotations

import triton
import triton.language as tl

from .lang import entry, load, load_block, load_run, load_steps, push, reverse_groups, sign_bit, unzip, widen

__all__ = ["load_coef_rows", "coef_entries", "fwd_tile_inputs", "rev_tile_inputs", "rev_past_outputs"]


@triton.jit
def _koff(k, sam, CPLX: tl.constexpr, A_CONTIG: tl.constexpr):
    """Offsets of a sample's coefficient values ``k`` (``(re, im)`` pairs for complex) from its row."""
    if A_CONTIG:
        return k
    elif CPLX:
        return (k // 2) * sam + (k % 2)
    else:
        return k * sam


@triton.jit
def load_coef_rows(
    a_ptr, arow, n0, hi, full, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr, HOP: tl.constexpr,
    SHIFT: tl.constexpr = False,
):  # fmt: skip
    """``A[n0 + d + j, i] = sign * a`` (conjugated when ``conj == -1``) for ``j < S``, ``i < M``,
    of ``R`` rows, ``d = 1`` where ``SHIFT`` (the reverse reads row ``n + 1``), else 0 (``n0 >= 0``:
    ``[R]``; zero unless the row is below ``hi``; ``full``: a scalar, rows ``n0 .. n0 + S - 1`` are:
    row ``n0 + S`` is masked in any case). Flat tuple,
    entry ``j * M + i``. Contiguous ``a``: a thread's rows are one run of values, loaded in blocks
    of up to 16 bytes from row ``n0`` (aligned where ``n0`` is); with ``SHIFT`` row ``n0 + S`` comes
    from ``M`` more loads a tile and row ``n0`` is dropped. Strided ``a``: a row a block.
    ``HOP > 0``: ``a`` holds control frames; returns the rows' frames instead (:func:`_frame_pairs`;
    :func:`coef_entries` gives the entries)."""
    W: tl.constexpr = 2 if CPLX else 1
    MP: tl.constexpr = 4 if M == 3 else M
    D: tl.constexpr = 1 if SHIFT else 0
    if HOP > 0:  # one return (the compiler reads every branch's)
        k = tl.arange(0, MP * W)
        if A_CONTIG:
            step = M * W
        else:
            step = sat
        out = _frame_pairs(
            a_ptr + _koff(k, sam, CPLX, A_CONTIG)[None, :], arow, n0 + D, 0, hi, step, (k < M * W)[None, :],
            M, CPLX, CDT, R, S, HOP,
        )  # fmt: skip
    else:
        # half precision: the sign goes into the bits as they are widened
        BITS: tl.constexpr = a_ptr.dtype.element_ty.primitive_bitwidth == 16 and CDT == tl.float32
        flip = sign_bit(sign) if BITS else None
        if A_CONTIG:
            vals = load_run(a_ptr, arow + n0.to(tl.int64) * (M * W), n0, hi, full, M * W, CDT, R, S, flip)
            if SHIFT:  # rows n0 + 1 .. n0 + S: drop row n0, append row n0 + S
                ext = ()
                last = arow + (n0 + S).to(tl.int64) * (M * W)
                for k in tl.static_range(M * W):
                    ext = ext + (widen(tl.load(a_ptr + last + k, mask=n0 + S < hi, other=0.0), CDT, flip),)
                vals = _columns(vals, M * W, (S - 1) * M * W) + ext
        else:  # a row at a time (its values are not adjacent), in blocks of up to 16 bytes
            V: tl.constexpr = 128 // a_ptr.dtype.element_ty.primitive_bitwidth
            BW: tl.constexpr = min(MP * W, V)
            row = arow + (n0 + D).to(tl.int64) * sat
            vals = ()
            for j in tl.static_range(S):
                for nb in tl.static_range(MP * W // BW):
                    if nb * BW < M * W:  # blocks past the padding load nothing
                        kb = nb * BW + tl.arange(0, BW)
                        m = (n0 + D + j < hi)[:, None] & (kb < M * W)[None, :]
                        ptrs = a_ptr + (row + j * sat)[:, None] + _koff(kb, sam, CPLX, False)[None, :]
                        if nb * BW + BW <= M * W and not (SHIFT and j == S - 1):
                            t = load_block(ptrs, m, full, CDT, flip)
                        else:  # padded to 4 entries, or row n0 + S (may be T): the mask stays
                            t = widen(tl.load(ptrs, mask=m, other=0.0), CDT, flip)
                        vals = vals + _columns(unzip(t, BW, R), 0, min(BW, M * W - nb * BW))
        out = ()
        for j in tl.static_range(S):
            for i in tl.static_range(M):
                if CPLX:
                    out = out + (vals[(j * M + i) * 2] * sign, vals[(j * M + i) * 2 + 1] * (sign * conj))
                elif BITS:
                    out = out + (vals[j * M + i],)
                else:
                    out = out + (vals[j * M + i] * sign,)
    return out


@triton.jit
def _entries(c0, cd, w, sign, conj, M: tl.constexpr, CPLX: tl.constexpr):
    """The ``M`` entries ``sign (c0 + w cd)`` (conjugated when ``conj == -1``) of columns ``c0``, ``cd``."""
    out = ()
    for i in tl.static_range(M):
        if CPLX:
            out = out + ((c0[2 * i] + w * cd[2 * i]) * sign, (c0[2 * i + 1] + w * cd[2 * i + 1]) * (sign * conj))
        else:
            out = out + ((c0[i] + w * cd[i]) * sign,)
    return out


@triton.jit
def _pick(sel, a, b):
    """``where(sel, a, b)`` entry by entry of two tuples."""
    out = ()
    for k in tl.static_range(len(a)):
        out = out + (tl.where(sel, a[k], b[k]),)
    return out


@triton.jit
def _frame_pairs(
    cols, arow, n0, lo_lim, hi_lim, step, kmask, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
    R: tl.constexpr, S: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """:func:`load_coef_rows` from control frames (frame ``f`` at ``cols + arow + f step``, its
    entries at ``cols``' columns where ``kmask``; ``S <= HOP``): a row's samples lie in interval
    ``j = n0 // HOP`` (the last may be frame ``j + 1`` itself, ``w = 1``, when ``HOP`` is a
    multiple of ``S``) or reach into the next, so two or three frames a row are loaded once (where
    any of its samples is valid). Returns ``(n0 - j HOP, f_j, f_{j+1} - f_j[, f_{j+1},
    f_{j+2} - f_{j+1}])`` (columns), what :func:`coef_entries` interpolates."""
    MP: tl.constexpr = 4 if M == 3 else M
    W: tl.constexpr = 2 if CPLX else 1
    j = n0 // HOP  # n0 >= 0
    ok = ((n0 + S > lo_lim) & (n0 < hi_lim))[:, None] & kmask
    p = cols + (arow + j * step)[:, None]
    c0 = tl.load(p, mask=ok, other=0.0).to(CDT)
    c1 = tl.load(p + step, mask=ok, other=0.0).to(CDT)
    r0 = n0 - j * HOP
    out = (r0,) + unzip(c0, MP * W, R) + unzip(c1 - c0, MP * W, R)
    if HOP % S != 0:
        c2 = tl.load(p + 2 * step, mask=ok & (n0 + HOP - r0 < hi_lim)[:, None], other=0.0).to(CDT)
        out = out + unzip(c1, MP * W, R) + unzip(c2 - c1, MP * W, R)
    return out


@triton.jit
def _columns(t, first: tl.constexpr, K: tl.constexpr):
    """``t[first : first + K]``."""
    out = ()
    for k in tl.static_range(K):
        out = out + (t[first + k],)
    return out


@triton.jit
def coef_entries(
    A, sign, conj, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, S: tl.constexpr,
    HOP: tl.constexpr,
):  # fmt: skip
    """The coefficient entries of a tile (flat tuple, entry ``j * M + i``; processing order): ``A``
    itself for per-sample coefficients (``HOP == 0``), else ``A[n0 + k] = sign (f_j + w d)`` (``w = (r0 + k) / HOP``,
    or from frame ``j + 1`` past the interval) from the rows' frames (:func:`_frame_pairs`),
    reversed for a reverse tile (``REV``). Tile kernels carry a tile's frames from its loads to
    here: ``2 M`` (or ``4 M``) values a row instead of ``S M``."""
    if HOP == 0:
        out = A
    else:
        W: tl.constexpr = 2 if CPLX else 1
        K: tl.constexpr = (4 if M == 3 else M) * W
        inv = 1.0 / tl.full((), HOP, CDT)
        r0 = A[0]
        lo = _columns(A, 1, K)
        d = _columns(A, 1 + K, K)
        out = ()
        if HOP % S == 0:
            for k in tl.static_range(S):
                out = out + _entries(lo, d, (r0 + k).to(CDT) * inv, sign, conj, M, CPLX)
        else:
            nb = HOP - r0  # the row's first sample in interval j + 1
            lo1 = _columns(A, 1 + 2 * K, K)
            d1 = _columns(A, 1 + 3 * K, K)
            for k in tl.static_range(S):
                nxt = k >= nb
                w = tl.where(nxt, k - nb, r0 + k).to(CDT) * inv
                out = out + _entries(_pick(nxt, lo1, lo), _pick(nxt, d1, d), w, sign, conj, M, CPLX)
        if REV:
            out = reverse_groups(out, S, M * W)
    return out


@triton.jit
def fwd_tile_inputs(
    x_ptr, a_ptr, xrow, arow, n0, hi, full, sxt, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """A tile's inputs: row ``r`` holds samples ``n0[r] + j``, ``j < S`` (those ``< hi``; ``full``:
    a scalar, every one is)."""
    X = load_steps(x_ptr, xrow + n0.to(tl.int64) * sxt, sxt, n0, 0, hi, full, CPLX, CDT, R, S)
    A = load_coef_rows(a_ptr, arow, n0, hi, full, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S, HOP)
    return X, A


@triton.jit
def rev_tile_inputs(
    g_ptr, a_ptr, grow, arow, lo, T, full, sgt, sat, sam, sign, conj, M: tl.constexpr, CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """A reverse tile's inputs in processing (descending) order: row ``r`` holds samples
    ``lo[r] + S - 1 - j``, ``j < S`` (loaded ascending; those in ``[0, T)``), and coefficient rows
    ``n + 1`` (those ``< T``; row ``T`` past the last sample is masked whatever ``full`` says);
    ``full``: a scalar, every sample is below ``T``. ``lo`` at or beyond ``T`` (no tile) loads
    nothing."""
    W: tl.constexpr = 2 if CPLX else 1
    G = load_steps(g_ptr, grow + lo.to(tl.int64) * sgt, sgt, lo, 0, T, full, CPLX, CDT, R, S)
    A = load_coef_rows(a_ptr, arow, lo, T, full, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S, HOP, True)
    if HOP == 0:
        A = reverse_groups(A, S, M * W)
    return reverse_groups(G, S, W), A


@triton.jit
def rev_past_outputs(
    y_ptr, z_ptr, yrow, zrow, lo, T, full, syt, szm, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
    R: tl.constexpr, S: tl.constexpr,
):  # fmt: skip
    """``y[n-1-i]``, ``i < M``, of a reverse tile's samples in processing order (``y[-k] = zi[k-1]``):
    a row's own samples ``y[lo + j]`` (block loads; ``full``: a scalar, all below ``T``) and the
    ``M`` before them (``y``, or ``zi`` before the start). Flat tuple, entry ``j * M + i``."""
    own = load_steps(y_ptr, yrow + lo.to(tl.int64) * syt, syt, lo, 0, T, full, CPLX, CDT, R, S)
    past = ()  # y[lo - 1 - i]
    for i in tl.static_range(M):
        m = lo - 1 - i
        vr, vi = load(y_ptr, yrow + m.to(tl.int64) * syt, (m >= 0) & (m < T), CPLX, CDT)
        hr, hi = load(z_ptr, zrow - (m + 1) * szm, m < 0, CPLX, CDT)
        past = push(past, vr + hr, vi + hi, CPLX)
    out = ()
    for j in tl.static_range(S):  # sample lo + S - 1 - j needs y[lo + S - 2 - j - i]
        for i in tl.static_range(M):
            if S - 2 - j - i >= 0:
                re, im = entry(own, S - 2 - j - i, CPLX)
            else:
                re, im = entry(past, j + i + 1 - S, CPLX)
            out = push(out, re, im, CPLX)
    return out
