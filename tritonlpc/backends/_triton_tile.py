"""Triton kernels for orders ``M <= 4``: tile-parallel scans of the affine companion maps.

The schedules and launches live in :mod:`tritonlpc.backends.triton_gpu`; this module holds the
``@triton.jit`` code. The math (``shared`` notes: ``allpole-math.md``):

* **Element.** Sample ``n`` is the affine map ``s -> E_n s + b_n`` of the state
  ``s = (s_0, ..., s_{M-1})``. Forward: ``s[n] = (y[n], ..., y[n-M+1])``, ``E_n`` the companion
  matrix of ``A[n]`` (first row ``-A[n, :]``, ones below the diagonal), ``b_n = x[n] e_0``.
  Reverse (the adjoint, transposed direct form): ``lam[n] = E_n lam[n+1] + g[n] e_0`` with
  ``E_n = C[n+1]^T`` (first column ``-A[n+1, :]``, ones above the diagonal), reading row
  ``n + 1`` of ``a`` (a shifted, coalesced load).
* **Scan.** A program loads a tile of ``BLOCK_T`` consecutive samples (``x`` as a block, ``a``
  as a ``[BLOCK_T, M]`` block through its strides) and combines the elements with
  ``tl.associative_scan`` / ``tl.reduce`` over a flat tuple (``E`` row-major, then ``b``; an
  entry is one value, or ``(re, im)`` for complex dtypes) with :func:`_compose`, the one
  combine of every order and direction. The incoming state is folded into the tile's first
  element (``b_0 <- E_0 s_in + b_0``), so the scan's ``b`` components *are* the states and
  ``y[n]`` is component 0. Samples outside ``[0, T)`` are identity maps.
* **Reverse order without ``reverse=True``.** The reverse scan loads each tile with descending
  offsets and runs a forward scan (``tl.associative_scan(..., reverse=True)`` with a
  non-commutative combine has disagreed between the interpreter and compiled code in Triton,
  issue triton-lang/triton#4362; descending offsets are still coalesced).
* **Zero stays zero.** In every product of a map with a state, a zero state component
  contributes exactly zero (never ``inf * 0``): an overflowing map of an unstable stretch
  carried over a silent (zero) state gives zeros, as the sequential recursion does.

Kernels, one per phase and direction (``_fwd_*`` and ``_rev_*`` side by side):

``_fwd_pass_kernel`` / ``_rev_pass_kernel``
    Program ``(b, c)`` scans the tiles of chunk ``c`` of row ``b`` in order (descending for
    the reverse), the state carried in registers, the next tile's loads issued before this
    tile's stores. With one chunk per row this is the **single-pass** schedule; in the
    **three-phase** schedule it is the output phase, starting from the carried state. The
    reverse pass also writes ``grad_a[n, j] = -u[n] conj(y[n-1-j])`` from shifted loads of
    ``y`` (``zi`` before the start) and ``grad_zi = E_{-1} lam[0]`` (``E_{-1} = C[0]^T``).
``_fwd_summary_kernel`` / ``_rev_summary_kernel``
    Three-phase, phase 1: the affine map of each chunk, ``tl.reduce`` of its tiles' elements.
``_carry_kernel``
    Three-phase, phase 2: a parallel scan of one row's chunk maps (blocks of ``BLOCK_C``
    chunks, the state carried between blocks), writing every chunk's start state.

Conventions: complex tensors arrive as real views (strides in real elements, the imaginary
part at ``+1``); ``CDT`` is the accumulation dtype (float64 for float64/complex128, else
float32); stores convert to the output's element type; offsets are int64; loop bounds use
``while`` (the interpreter of Triton 3.6 cannot iterate ``range`` over a runtime bound).
The coefficient ``A`` is ``sign * a`` (``sign = -1`` for the negated ``a`` of
:class:`tritonlpc.recurrence.Recurrence`), conjugated when ``conj`` is ``-1.0`` (the imaginary
part is multiplied by ``sign * conj``): runtime scalars, not compile-time variants.
"""

from __future__ import annotations

import triton
import triton.language as tl


# --------------------------------------------------------------------------- entries
@triton.jit
def _entry(t, i: tl.constexpr, CPLX: tl.constexpr):
    """Entry ``i`` of a flat tuple as ``(re, im)`` (``im`` is ``re``, unused, for real dtypes)."""
    if CPLX:
        return t[2 * i], t[2 * i + 1]
    else:
        return t[i], t[i]


@triton.jit
def _push(t, re, im, CPLX: tl.constexpr):
    """Append an entry to a flat tuple."""
    if CPLX:
        return t + (re, im)
    else:
        return t + (re,)


@triton.jit
def _mul(ar, ai, br, bi, CPLX: tl.constexpr):
    if CPLX:
        return ar * br - ai * bi, ar * bi + ai * br
    else:
        return ar * br, ar * br


# --------------------------------------------------------------------------- the combine
@triton.jit
def _compose(L, R, M: tl.constexpr, CPLX: tl.constexpr):
    """``R o L`` of two affine maps as flat tuples: ``(E_R E_L, E_R b_L + b_R)``.

    ``E_R b_L`` is guarded (zero state entries contribute zero); ``E_R E_L`` is not: a
    product of maps is only ever applied to a state through a guarded product. Computed row by
    row (row ``r`` of ``E_R`` is dead once row ``r`` of the result is done), and written without
    per-entry helper calls (each call costs about a millisecond in the interpreter).
    """
    zero = _zero_entries(L, M * M, M, CPLX)
    mat = ()
    vec = ()
    for r in tl.static_range(M):
        for c in tl.static_range(M):
            if CPLX:
                pr = R[2 * r * M] * L[2 * c] - R[2 * r * M + 1] * L[2 * c + 1]
                pi = R[2 * r * M] * L[2 * c + 1] + R[2 * r * M + 1] * L[2 * c]
                for k in tl.static_range(1, M):
                    pr += R[2 * (r * M + k)] * L[2 * (k * M + c)] - R[2 * (r * M + k) + 1] * L[2 * (k * M + c) + 1]
                    pi += R[2 * (r * M + k)] * L[2 * (k * M + c) + 1] + R[2 * (r * M + k) + 1] * L[2 * (k * M + c)]
                mat = mat + (pr, pi)
            else:
                pr = R[r * M] * L[c]
                for k in tl.static_range(1, M):
                    pr += R[r * M + k] * L[k * M + c]
                mat = mat + (pr,)
        vec = vec + _apply_row(R, L, M * M, zero, r, M, CPLX)
    return mat + vec


@triton.jit
def _zero_entries(S, s0: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """Which of the ``M`` state entries held in ``S[s0:]`` are zero."""
    W: tl.constexpr = 2 if CPLX else 1
    zero = ()
    for k in tl.static_range(M):
        if CPLX:
            zero = zero + ((S[W * (s0 + k)] == 0) & (S[W * (s0 + k) + 1] == 0),)
        else:
            zero = zero + (S[s0 + k] == 0,)
    return zero


@triton.jit
def _apply_row(E, S, s0: tl.constexpr, zero, r: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """Entry ``r`` of ``E s + b_E`` (state in ``S[s0:]``), as a tuple; zero state entries (``zero``)
    contribute exactly zero, even through an infinite ``E``."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = M * M
    pr = E[W * (K + r)]
    if CPLX:
        pi = E[W * (K + r) + 1]
    for k in tl.static_range(M):
        er = tl.where(zero[k], 0.0, E[W * (r * M + k)])
        if CPLX:
            ei = tl.where(zero[k], 0.0, E[W * (r * M + k) + 1])
            pr += er * S[W * (s0 + k)] - ei * S[W * (s0 + k) + 1]
            pi += er * S[W * (s0 + k) + 1] + ei * S[W * (s0 + k)]
        else:
            pr += er * S[s0 + k]
    if CPLX:
        return (pr, pi)
    else:
        return (pr,)


@triton.jit
def _apply(E, S, s0: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """``E s + b_E`` (a tuple of ``M`` entries) for the state ``s`` held in ``S[s0:]``, where a
    zero state entry contributes exactly zero (even through an infinite ``E``)."""
    zero = _zero_entries(S, s0, M, CPLX)
    out = ()
    for r in tl.static_range(M):
        out = out + _apply_row(E, S, s0, zero, r, M, CPLX)
    return out


# Fixed-arity wrappers of _compose for tl.associative_scan / tl.reduce, one per order class
# (the scan passes the two operands' components as separate arguments).
@triton.jit
def _compose_r1(a0, a1, b0, b1):
    return _compose((a0, a1), (b0, b1), 1, False)


@triton.jit
def _compose_c1(a0, a1, a2, a3, b0, b1, b2, b3):
    return _compose((a0, a1, a2, a3), (b0, b1, b2, b3), 1, True)


@triton.jit
def _compose_r2(a0, a1, a2, a3, a4, a5, b0, b1, b2, b3, b4, b5):
    return _compose((a0, a1, a2, a3, a4, a5), (b0, b1, b2, b3, b4, b5), 2, False)


@triton.jit
def _compose_c2(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11):
    return _compose((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11),
                    (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11), 2, True)


@triton.jit
def _compose_r3(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11):
    return _compose((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11),
                    (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11), 3, False)


@triton.jit
def _compose_c3(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
                a20, a21, a22, a23,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19,
                b20, b21, b22, b23):
    return _compose((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
                     a20, a21, a22, a23),
                    (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19,
                     b20, b21, b22, b23), 3, True)


@triton.jit
def _compose_r4(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19):
    return _compose((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19),
                    (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19),
                    4, False)


@triton.jit
def _compose_c4(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
                a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37, a38,
                a39,
                b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19,
                b20, b21, b22, b23, b24, b25, b26, b27, b28, b29, b30, b31, b32, b33, b34, b35, b36, b37, b38,
                b39):
    return _compose((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19,
                     a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37,
                     a38, a39),
                    (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19,
                     b20, b21, b22, b23, b24, b25, b26, b27, b28, b29, b30, b31, b32, b33, b34, b35, b36, b37,
                     b38, b39), 4, True)


@triton.jit
def _scan(e, M: tl.constexpr, CPLX: tl.constexpr):
    """Inclusive prefix maps of a tile of elements (axis 0), in order."""
    if M == 1:
        if CPLX:
            out = tl.associative_scan(e, 0, _compose_c1)
        else:
            out = tl.associative_scan(e, 0, _compose_r1)
    elif M == 2:
        if CPLX:
            out = tl.associative_scan(e, 0, _compose_c2)
        else:
            out = tl.associative_scan(e, 0, _compose_r2)
    elif M == 3:
        if CPLX:
            out = tl.associative_scan(e, 0, _compose_c3)
        else:
            out = tl.associative_scan(e, 0, _compose_r3)
    else:
        if CPLX:
            out = tl.associative_scan(e, 0, _compose_c4)
        else:
            out = tl.associative_scan(e, 0, _compose_r4)
    return out


# --------------------------------------------------------------------------- elements
@triton.jit
def _element(x, A, valid, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """The tile's elements from its input ``x`` and coefficients ``A`` (tuples of entries).

    Forward (``REV`` false): the companion matrix of ``A`` (first row ``-A``, ones below the
    diagonal); reverse: its transpose. ``b = x e_0``. Invalid samples are identity maps.
    """
    xr, xi = _entry(x, 0, CPLX)
    v = valid.to(xr.dtype)
    zero = tl.zeros_like(xr)
    e = ()
    for r in tl.static_range(M):
        for c in tl.static_range(M):
            if (c == 0 and REV) or (r == 0 and not REV):
                ar, ai = _entry(A, r + c, CPLX)
                if r + c == 0:
                    ar = tl.where(valid, -ar, 1.0)
                else:
                    ar = -ar
                e = _push(e, ar, -ai, CPLX)
            elif (c == r + 1 and REV) or (r == c + 1 and not REV):
                e = _push(e, v, zero, CPLX)
            elif r == c:
                e = _push(e, 1.0 - v, zero, CPLX)
            else:
                e = _push(e, zero, zero, CPLX)
    e = _push(e, xr, xi, CPLX)
    for r in tl.static_range(1, M):
        e = _push(e, zero, zero, CPLX)
    return e


@triton.jit
def _companion_apply(e, v, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """``E v`` for a tile of valid companion elements ``e`` and a state ``v`` (scalar entries):
    forward ``(E v)_0 = sum_j E[0, j] v_j``, ``(E v)_i = v_{i-1}``; reverse ``(E v)_j = E[j, 0] v_0
    + v_{j+1}``. ``M`` multiply-adds a sample."""
    out = ()
    for r in tl.static_range(M):
        if REV:
            er, ei = _entry(e, r * M, CPLX)
            vr, vi = _entry(v, 0, CPLX)
            fr, fi = _mul(er, ei, vr, vi, CPLX)
            if r + 1 < M:
                vr, vi = _entry(v, r + 1, CPLX)
                fr += vr
                fi += vi
        elif r == 0:
            er, ei = _entry(e, 0, CPLX)
            vr, vi = _entry(v, 0, CPLX)
            fr, fi = _mul(er, ei, vr, vi, CPLX)
            for j in tl.static_range(1, M):
                er, ei = _entry(e, j, CPLX)
                vr, vi = _entry(v, j, CPLX)
                pr, pi = _mul(er, ei, vr, vi, CPLX)
                fr += pr
                fi += pi
        else:
            vr, vi = _entry(v, r - 1, CPLX)
            fr = vr + tl.zeros_like(e[0])
            fi = vi + tl.zeros_like(e[0])
        out = _push(out, fr, fi, CPLX)
    return out


@triton.jit
def _fold(e, first, s, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """The tile of companion elements ``e`` with the state ``s`` (scalar entries) folded into its
    first element: ``b_0 <- E_0 s + b_0`` (computed tile-wide, selected where ``first``)."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = M * M * W
    f = _companion_apply(e, s, REV, M, CPLX)
    out = ()
    for i in tl.static_range(K):
        out = out + (e[i],)
    for i in tl.static_range(M * W):
        out = out + (tl.where(first, f[i] + e[K + i], e[K + i]),)
    return out


@triton.jit
def _store_last(ptr, t, sel):
    """Store each component of a tuple of tiles at the one position where ``sel`` is true, to
    ``ptr[i]`` (a masked store: no reduction)."""
    zero = tl.zeros_like(sel.to(tl.int32))
    for i in tl.static_range(len(t)):
        tl.store(ptr + i + zero, t[i], mask=sel)


@triton.jit
def _fold_map(e, first, s, M: tl.constexpr, CPLX: tl.constexpr):
    """A tile of general maps with the state ``s`` folded into the first one (guarded ``E s + b``)."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = M * M * W
    f = _apply(e, s, 0, M, CPLX)
    out = ()
    for i in tl.static_range(K):
        out = out + (e[i],)
    for i in tl.static_range(M * W):
        out = out + (tl.where(first, f[i], e[K + i]),)
    return out


@triton.jit
def _states(p, M: tl.constexpr, CPLX: tl.constexpr):
    """The ``b`` components (the states) of a tuple of maps."""
    W: tl.constexpr = 2 if CPLX else 1
    out = ()
    for i in tl.static_range(M * W):
        out = out + (p[M * M * W + i],)
    return out


@triton.jit
def _pick(t, sel):
    """Each component of a tuple of tiles at the one position where ``sel`` is true."""
    out = ()
    for i in tl.static_range(len(t)):
        out = out + (tl.sum(tl.where(sel, t[i], 0.0), axis=0),)
    return out


# --------------------------------------------------------------------------- loads / stores
@triton.jit
def _unzip(t, N: tl.constexpr, BT: tl.constexpr):
    """Columns of a ``[BT, N]`` tile (``N`` in 1, 2, 4, 8) as a tuple of ``[BT]`` tiles."""
    if N == 1:
        return (tl.reshape(t, [BT]),)
    elif N == 2:
        c0, c1 = tl.split(t)
        return (c0, c1)
    elif N == 4:
        e, o = tl.split(tl.reshape(t, [BT, 2, 2]))  # columns (0, 2), (1, 3)
        c0, c2 = tl.split(e)
        c1, c3 = tl.split(o)
        return (c0, c1, c2, c3)
    else:
        e, o = tl.split(tl.reshape(t, [BT, 4, 2]))  # columns (0, 2, 4, 6), (1, 3, 5, 7)
        e0, e1 = tl.split(tl.reshape(e, [BT, 2, 2]))  # (0, 4), (2, 6)
        o0, o1 = tl.split(tl.reshape(o, [BT, 2, 2]))  # (1, 5), (3, 7)
        c0, c4 = tl.split(e0)
        c2, c6 = tl.split(e1)
        c1, c5 = tl.split(o0)
        c3, c7 = tl.split(o1)
        return (c0, c1, c2, c3, c4, c5, c6, c7)


@triton.jit
def _zip(c, N: tl.constexpr, BT: tl.constexpr):
    """Inverse of :func:`_unzip`: a ``[BT, N]`` tile from a tuple of ``N`` columns."""
    if N == 1:
        return tl.reshape(c[0], [BT, 1])
    elif N == 2:
        return tl.join(c[0], c[1])
    elif N == 4:
        return tl.reshape(tl.join(tl.join(c[0], c[2]), tl.join(c[1], c[3])), [BT, 4])
    else:
        e = tl.join(tl.join(c[0], c[4]), tl.join(c[2], c[6]))
        o = tl.join(tl.join(c[1], c[5]), tl.join(c[3], c[7]))
        return tl.reshape(tl.join(tl.reshape(e, [BT, 4]), tl.reshape(o, [BT, 4])), [BT, 8])


@triton.jit
def _load_rows(ptr, rows, stride_m, valid, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
               BT: tl.constexpr):
    """Entries ``ptr[rows + j * stride_m]`` (``+1``: imaginary part), ``j < M``, of a tile of
    rows, loaded as one ``[BT, M]`` block: a tuple of ``M`` entries in ``CDT``, zero where not
    ``valid``."""
    W: tl.constexpr = 2 if CPLX else 1
    MP: tl.constexpr = 4 if M == 3 else M
    if M * W == 1:
        cols = (tl.load(ptr + rows, mask=valid, other=0.0).to(CDT),)
    else:
        k = tl.arange(0, MP * W)
        if CPLX:
            koff = (k // 2) * stride_m + (k % 2)
        else:
            koff = k * stride_m
        m = valid[:, None] & (k < M * W)[None, :]
        t = tl.load(ptr + rows[:, None] + koff[None, :], mask=m, other=0.0).to(CDT)
        cols = _unzip(t, MP * W, BT)
    out = ()
    for i in tl.static_range(M * W):
        out = out + (cols[i],)
    return out


@triton.jit
def _store_rows(ptr, rows, v, valid, M: tl.constexpr, CPLX: tl.constexpr, BT: tl.constexpr):
    """Store a tuple of ``M`` entries to a contiguous ``[BT, M]`` block at ``ptr + rows``."""
    W: tl.constexpr = 2 if CPLX else 1
    MP: tl.constexpr = 4 if M == 3 else M
    if M * W == 1:
        tl.store(ptr + rows, v[0].to(ptr.dtype.element_ty), mask=valid)
    else:
        cols = v
        for i in tl.static_range(M * W, MP * W):
            cols = cols + (tl.zeros_like(v[0]),)
        k = tl.arange(0, MP * W)
        m = valid[:, None] & (k < M * W)[None, :]
        tl.store(ptr + rows[:, None] + k[None, :], _zip(cols, MP * W, BT).to(ptr.dtype.element_ty), mask=m)


@triton.jit
def _load_state(ptr, off, stride_m, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr):
    """``M`` scalar entries ``ptr[off + j * stride_m]`` (zeros if ``ptr`` is None)."""
    out = ()
    for j in tl.static_range(M):
        if ptr is None:
            re = tl.zeros((), CDT)
            im = re
        else:
            re = tl.load(ptr + off + j * stride_m).to(CDT)
            im = re
            if CPLX:
                im = tl.load(ptr + off + j * stride_m + 1).to(CDT)
        out = _push(out, re, im, CPLX)
    return out


@triton.jit
def _store_state(ptr, off, stride_m, s, M: tl.constexpr, CPLX: tl.constexpr):
    for j in tl.static_range(M):
        re, im = _entry(s, j, CPLX)
        tl.store(ptr + off + j * stride_m, re.to(ptr.dtype.element_ty))
        if CPLX:
            tl.store(ptr + off + j * stride_m + 1, im.to(ptr.dtype.element_ty))


@triton.jit
def _coefs(A, sign, conj, M: tl.constexpr, CPLX: tl.constexpr):
    """``sign * a``, conjugated when ``conj == -1`` (entries of a tuple)."""
    out = ()
    for j in tl.static_range(M):
        re, im = _entry(A, j, CPLX)
        out = _push(out, re * sign, im * (sign * conj), CPLX)
    return out


@triton.jit
def _tile_inputs(x_ptr, a_ptr, xrow, arow, n, an, valid, avalid, sxt, sat, sam, sign, conj,
                 M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr,
                 BT: tl.constexpr):
    """Input entries at samples ``n`` and coefficients at samples ``an`` of one tile."""
    W: tl.constexpr = 2 if CPLX else 1
    x = _load_rows(x_ptr, xrow + n * sxt, 1, valid, 1, CPLX, CDT, BT)
    if A_CONTIG:  # (t, j) contiguous: constant strides let the compiler vectorise the block
        A = _load_rows(a_ptr, arow + an * (M * W), W, avalid, M, CPLX, CDT, BT)
    else:
        A = _load_rows(a_ptr, arow + an * sat, sam, avalid, M, CPLX, CDT, BT)
    return x, _coefs(A, sign, conj, M, CPLX)


# --------------------------------------------------------------------------- forward
@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def _fwd_pass_kernel(
    x_ptr, a_ptr, s_ptr, y_ptr,
    sxb, sxt, sab, sat, sam, ssb, ssc, ssm,
    T, n_tiles, tiles_per_chunk, sign, conj,
    M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, BLOCK_T: tl.constexpr,
):
    """``y`` of chunk ``c = program_id(1)`` of row ``b = program_id(0)`` from its start state
    ``s[b, c, :]`` (strides ``ssb, ssc, ssm``; zeros if ``s_ptr`` is None)."""
    W: tl.constexpr = 2 if CPLX else 1
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64)
    q = c * tiles_per_chunk
    q_end = tl.minimum(q + tiles_per_chunk, n_tiles)
    k = tl.arange(0, BLOCK_T)
    s = _load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT)
    xrow = b * sxb
    arow = b * sab
    yrow = b * T * W
    n = q * BLOCK_T + k
    x, A = _tile_inputs(x_ptr, a_ptr, xrow, arow, n, n, n < T, n < T, sxt, sat, sam, sign, conj,
                        M, CPLX, A_CONTIG, CDT, BLOCK_T)
    while q < q_end:
        # the next tile's loads are issued before this tile's stores (none after the chunk's last)
        nn = n + BLOCK_T
        vn = nn < tl.where(q + 1 < q_end, T, 0)
        x_nx, A_nx = _tile_inputs(x_ptr, a_ptr, xrow, arow, nn, nn, vn, vn, sxt, sat, sam, sign, conj,
                                  M, CPLX, A_CONTIG, CDT, BLOCK_T)
        e = _fold(_element(x, A, n < T, False, M, CPLX), k == 0, s, False, M, CPLX)
        st = _states(_scan(e, M, CPLX), M, CPLX)
        _store_rows(y_ptr, yrow + n * W, st, n < T, 1, CPLX, BLOCK_T)
        s = _pick(st, k == BLOCK_T - 1)
        x = x_nx
        A = A_nx
        n = nn
        q += 1


@triton.jit(do_not_specialize=["T", "n_chunks", "first_chunk"])
def _fwd_summary_kernel(
    x_ptr, a_ptr, p_ptr,
    sxb, sxt, sab, sat, sam,
    T, n_chunks, first_chunk, sign, conj,
    M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, BLOCK_T: tl.constexpr,
):
    """The map of chunk (tile) ``c = first_chunk + program_id(1)`` of row ``b``: the last prefix
    of its elements' scan, stored to ``p[b, c, :]`` (``M * M + M`` entries: ``E`` row-major, then
    ``b``) by the one thread that holds it."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    c = first_chunk + tl.program_id(1).to(tl.int64)
    k = tl.arange(0, BLOCK_T)
    n = c * BLOCK_T + k
    x, A = _tile_inputs(x_ptr, a_ptr, b * sxb, b * sab, n, n, n < T, n < T, sxt, sat, sam, sign, conj,
                        M, CPLX, A_CONTIG, CDT, BLOCK_T)
    _store_last(p_ptr + (b * n_chunks + c) * K, _scan(_element(x, A, n < T, False, M, CPLX), M, CPLX),
                k == BLOCK_T - 1)


# --------------------------------------------------------------------------- reverse
@triton.jit
def _rev_tile(n_hi, q, BLOCK_T: tl.constexpr):
    """Samples of tile ``q`` in descending order from ``n_hi``, and their validity."""
    n = n_hi - tl.arange(0, BLOCK_T)
    return n, n >= q * BLOCK_T


@triton.jit
def _past_outputs(y_ptr, z_ptr, yrow, zrow, n, valid, syt, szm, M: tl.constexpr, CPLX: tl.constexpr,
                  CDT: tl.constexpr, BT: tl.constexpr):
    """Entries ``y[n-1-j]``, ``j < M``, of a tile (``y[-k] = zi[k-1]``; shifted loads)."""
    W: tl.constexpr = 2 if CPLX else 1
    out = ()
    for j in tl.static_range(M):
        m = n - 1 - j
        v = _load_rows(y_ptr, yrow + m * syt, 1, valid & (m >= 0), 1, CPLX, CDT, BT)
        h = _load_rows(z_ptr, zrow + (-1 - m) * szm, 1, valid & (m < 0), 1, CPLX, CDT, BT)
        for i in tl.static_range(W):
            out = out + (v[i] + h[i],)
    return out


@triton.heuristics({
    "NEED_A": lambda args: args["ga_ptr"] is not None,
    "NEED_ZI": lambda args: args["gz_ptr"] is not None,
})
@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def _rev_pass_kernel(
    g_ptr, a_ptr, s_ptr, u_ptr, y_ptr, z_ptr, ga_ptr, gz_ptr,
    sgb, sgt, sab, sat, sam, ssb, ssc, ssm, syb, syt, szb, szm,
    T, n_tiles, tiles_per_chunk, sign, conj,
    M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, BLOCK_T: tl.constexpr,
    NEED_A: tl.constexpr, NEED_ZI: tl.constexpr,
):
    """``u`` of chunk ``c`` of row ``b``, walking its tiles from the last, starting from
    ``lam = s[b, c, :]`` at the chunk's end (zeros if ``s_ptr`` is None). ``NEED_A``: also
    ``grad_a`` (reads ``y``, ``zi``); ``NEED_ZI``: the chunk holding ``n = 0`` writes
    ``grad_zi = C[0]^T lam[0]``."""
    W: tl.constexpr = 2 if CPLX else 1
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64)
    q_lo = c * tiles_per_chunk
    q = tl.minimum(q_lo + tiles_per_chunk, n_tiles) - 1
    k = tl.arange(0, BLOCK_T)
    s = _load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT)
    grow = b * sgb
    arow = b * sab
    urow = b * T * W
    if NEED_ZI:  # row 0 of the coefficients, for grad_zi = C[0]^T lam[0] (loaded ahead of any store)
        A0 = _coefs(_load_state(a_ptr, arow, sam, M, CPLX, CDT), sign, conj, M, CPLX)
    n, valid = _rev_tile(tl.minimum(q * BLOCK_T + BLOCK_T, T) - 1, q, BLOCK_T)
    g, A = _tile_inputs(g_ptr, a_ptr, grow, arow, n, n + 1, valid, valid & (n + 1 < T), sgt, sat, sam, sign,
                        conj, M, CPLX, A_CONTIG, CDT, BLOCK_T)
    while q >= q_lo:
        # the next tile's loads are issued before this tile's stores (none after the chunk's last)
        n_nx, v_nx = _rev_tile(q * BLOCK_T - 1, tl.where(q > q_lo, q - 1, q), BLOCK_T)
        g_nx, A_nx = _tile_inputs(g_ptr, a_ptr, grow, arow, n_nx, n_nx + 1, v_nx, v_nx, sgt, sat, sam, sign,
                                  conj, M, CPLX, A_CONTIG, CDT, BLOCK_T)
        if NEED_A:  # y is read only here: these loads overlap with the scan
            yh = _past_outputs(y_ptr, z_ptr, b * syb, b * szb, n, valid, syt, szm, M, CPLX, CDT, BLOCK_T)
        e = _fold(_element(g, A, valid, True, M, CPLX), k == 0, s, True, M, CPLX)
        lam = _states(_scan(e, M, CPLX), M, CPLX)
        _store_rows(u_ptr, urow + n * W, lam, valid, 1, CPLX, BLOCK_T)
        if NEED_A:
            # grad_a[n, j] = -sign * u[n] * conj(y[n-1-j])
            ur, ui = _entry(lam, 0, CPLX)
            ga = ()
            for j in tl.static_range(M):
                hr, hi = _entry(yh, j, CPLX)
                pr, pi = _mul(ur, ui, hr, -hi, CPLX)
                ga = _push(ga, -sign * pr, -sign * pi, CPLX)
            _store_rows(ga_ptr, (b * T + n) * (M * W), ga, valid, M, CPLX, BLOCK_T)
        if NEED_ZI:
            if q == 0:
                # one more reverse step (n = -1, g[-1] = 0): (C[0]^T lam)_j = -A[0, j] lam_0 + lam_{j+1}
                l0 = _pick(lam, n == 0)
                gz = ()
                for j in tl.static_range(M):
                    cr, ci = _entry(A0, j, CPLX)
                    lr, li = _entry(l0, 0, CPLX)
                    zr, zi = _mul(cr, ci, lr, li, CPLX)
                    zr = -zr
                    zi = -zi
                    if j + 1 < M:
                        lr, li = _entry(l0, j + 1, CPLX)
                        zr += lr
                        zi += li
                    gz = _push(gz, zr, zi, CPLX)
                _store_state(gz_ptr, b * (M * W), W, gz, M, CPLX)
        s = _pick(lam, k == BLOCK_T - 1)
        g = g_nx
        A = A_nx
        n = n_nx
        valid = v_nx
        q -= 1


@triton.jit(do_not_specialize=["T", "n_chunks", "first_chunk"])
def _rev_summary_kernel(
    g_ptr, a_ptr, p_ptr,
    sgb, sgt, sab, sat, sam,
    T, n_chunks, first_chunk, sign, conj,
    M: tl.constexpr, CPLX: tl.constexpr, A_CONTIG: tl.constexpr, CDT: tl.constexpr, BLOCK_T: tl.constexpr,
):
    """The adjoint map of chunk (tile) ``c = first_chunk + program_id(1)`` of row ``b`` (``lam``
    at its end -> ``lam`` at its start) to ``p[b, c, :]``."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    c = first_chunk + tl.program_id(1).to(tl.int64)
    k = tl.arange(0, BLOCK_T)
    n, valid = _rev_tile(tl.minimum(c * BLOCK_T + BLOCK_T, T) - 1, c, BLOCK_T)
    g, A = _tile_inputs(g_ptr, a_ptr, b * sgb, b * sab, n, n + 1, valid, valid & (n + 1 < T), sgt, sat, sam,
                        sign, conj, M, CPLX, A_CONTIG, CDT, BLOCK_T)
    _store_last(p_ptr + (b * n_chunks + c) * K, _scan(_element(g, A, valid, True, M, CPLX), M, CPLX),
                k == BLOCK_T - 1)


# --------------------------------------------------------------------------- carry
@triton.jit(do_not_specialize=["n_chunks"])
def _carry_kernel(
    p_ptr, z_ptr, s_ptr, szb, szm, n_chunks,
    M: tl.constexpr, CPLX: tl.constexpr, REV: tl.constexpr, CDT: tl.constexpr, BLOCK_C: tl.constexpr,
):
    """Start states ``s[b, c, :]`` of every chunk of row ``b`` from the chunk maps ``p[b, c, :]``.

    Forward: ``s[b, 0] = zi[b]`` (zeros if ``z_ptr`` is None) and ``s[b, c+1] = p_c(s[b, c])``.
    Reverse (``REV``): ``s[b, C-1] = 0`` and ``s[b, c-1] = p_c(s[b, c])``. A parallel scan over
    blocks of ``BLOCK_C`` chunk maps, the state carried from block to block (``C - 1`` maps
    are applied; the last chunk's map in processing order is not needed).
    """
    W: tl.constexpr = 2 if CPLX else 1
    MW: tl.constexpr = M * W
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    k = tl.arange(0, BLOCK_C)
    if REV:
        s = _load_state(None, 0, 0, M, CPLX, CDT)
        _store_state(s_ptr, (b * n_chunks + n_chunks - 1) * MW, W, s, M, CPLX)
    else:
        s = _load_state(z_ptr, b * szb, szm, M, CPLX, CDT)
        _store_state(s_ptr, b * n_chunks * MW, W, s, M, CPLX)
    i0 = 0
    while i0 < n_chunks - 1:
        e = _carry_block(p_ptr, b, i0, n_chunks, k, REV, K)
        i = i0 + k  # processing order
        st = _states(_scan(_fold_map(e, k == 0, s, M, CPLX), M, CPLX), M, CPLX)
        dst = n_chunks - 2 - i if REV else i + 1
        for j in tl.static_range(MW):
            tl.store(s_ptr + (b * n_chunks + dst) * MW + j, st[j], mask=i < n_chunks - 1)
        s = _pick(st, i == tl.minimum(i0 + BLOCK_C, n_chunks - 1) - 1)
        i0 += BLOCK_C


@triton.jit
def _carry_block(p_ptr, b, i0, n_chunks, k, REV: tl.constexpr, K: tl.constexpr):
    """The chunk maps at processing positions ``i0 + k`` (the last chunk's map in processing
    order is never applied)."""
    i = i0 + k
    if REV:
        src = n_chunks - 1 - i
    else:
        src = i
    e = ()
    for j in tl.static_range(K):
        e = e + (tl.load(p_ptr + (b * n_chunks + src) * K + j, mask=i < n_chunks - 1, other=0.0),)
    return e
