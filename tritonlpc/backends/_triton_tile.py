"""Triton kernels for orders ``M <= 4``: coalesced tiles, scanned in registers and across threads.

The schedules and launches live in :mod:`tritonlpc.backends.triton_gpu`; this module holds the
``@triton.jit`` code. The math (``allpole-math.md`` in the project notes):

* **Element.** Sample ``n`` is the affine map ``s -> E_n s + b_n`` of the state
  ``s = (s_0, ..., s_{M-1})``. Forward: ``s[n] = (y[n], ..., y[n-M+1])``, ``E_n = C[n]`` the
  companion matrix of ``A[n]`` (first row ``-A[n, :]``, ones below the diagonal), ``b_n = x[n] e_0``.
  Reverse (the adjoint, transposed direct form): ``lam[n] = C[n+1]^T lam[n+1] + g[n] e_0``,
  reading row ``n + 1`` of ``a`` (a shifted, coalesced load); ``u[n] = lam_0[n]``.
* **Tile.** A program processes tiles of ``ROWS * STEPS`` consecutive samples: thread ``r`` owns
  the row of ``STEPS`` adjacent samples ``r * STEPS + j`` (so each thread's loads are contiguous
  and a warp's are one contiguous run: coalesced, vectorised where aligned; ``a`` is read as a
  ``[rows, M]`` block a sample). Per tile: (1) each thread builds its row's map sample by sample
  with the companion structure (``M^2 + M`` multiply-adds a sample); (2) one
  ``tl.associative_scan`` of the row maps (flat tuples: ``E`` row-major, then ``b``; an entry is
  one value, or ``(re, im)``) with :func:`_compose`, the one combine of every order and
  direction, after folding the incoming state into row 0's map, gives every row's end state;
  (3) each row's start state is its predecessor's end state (a gather); (4) each thread runs the
  recursion over its samples from it (``M`` multiply-adds a sample) and stores the outputs.
  The scan's cost is shared by ``STEPS`` samples; a tuple scan over single samples needs about
  4x the instructions (bench/README.md).
* **Order and alignment.** Forward tiles are aligned at ``t = 0`` and walked left to right;
  reverse tiles at ``t = T`` and walked right to left (a row's samples are loaded ascending and
  processed descending), so only the last tile in processing order can be partial, and the
  samples it lacks come after every valid one (their loads are masked to zero; no result
  depends on them). No ``tl.associative_scan(..., reverse=True)`` is needed (with a
  non-commutative combine it has disagreed between the interpreter and compiled code,
  triton-lang/triton#4362).
* **Zero stays zero.** In every product of a map with a state, a zero state component
  contributes exactly zero (never ``inf * 0``): an overflowing map of an unstable stretch
  carried over a silent (zero) state gives zeros, as the sequential recursion does.

Kernels, one per phase and direction (``_fwd_*`` and ``_rev_*`` side by side):

``_fwd_pass_kernel`` / ``_rev_pass_kernel``
    Program ``(b, c)`` processes the tiles of chunk ``c`` of row ``b`` in order, the state
    carried in registers, the next tile's loads issued before this tile's stores. With one
    chunk per row this is the **single-pass** schedule; in the **three-phase** schedule a chunk
    is one tile, started from its carried state. The reverse pass also writes
    ``grad_a[n, i] = -u[n] conj(y[n-1-i])`` from shifted block loads of ``y`` (``zi`` before the
    start) and ``grad_zi = C[0]^T lam[0]`` (by the thread holding ``n = 0``).
``_fwd_summary_kernel`` / ``_rev_summary_kernel``
    Three-phase, phase 1: the map of each chunk (tile), stored by the thread holding it.
``_carry_kernel``
    Three-phase, phase 2: a parallel scan of one row's chunk maps (blocks of ``BLOCK_C``, the
    state carried between blocks), writing every chunk's start state.

Conventions: complex tensors arrive as real views (strides in real elements, the imaginary
part at ``+1``); ``CDT`` is the accumulation dtype (float64 for float64/complex128, else
float32); stores convert to the output's element type; offsets are int64; loop bounds use
``while`` (the interpreter of Triton 3.6 cannot iterate ``range`` over a runtime bound). The
coefficient ``A`` is ``sign * a`` (``sign = -1`` for the negated ``a`` of
:class:`tritonlpc.recurrence.Recurrence`), conjugated when ``conj`` is ``-1.0``: runtime
scalars, not compile-time variants. Small helpers take and return flat tuples so that one
body serves every order and dtype; the combine is written without per-entry helper calls
(each call costs about a millisecond in the interpreter).
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
# fmt: off
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
# fmt: on


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


# --------------------------------------------------------------------------- tuples of tiles
@triton.jit
def _fold_map(e, first, s, M: tl.constexpr, CPLX: tl.constexpr):
    """Maps ``e`` (a tuple of tiles) with the state ``s`` folded into those at ``first``:
    ``b <- E s + b`` there (guarded)."""
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
    """Each component of a tuple of tiles at the one position where ``sel`` is true (a sum)."""
    out = ()
    for i in tl.static_range(len(t)):
        out = out + (tl.sum(tl.where(sel, t[i], 0.0), axis=0),)
    return out


@triton.jit
def _previous_rows(t, r, first):
    """Each component of a tuple of ``[ROWS]`` tiles shifted by one row (row ``r`` gets row
    ``r - 1``; row 0 gets ``first``): a gather through shared memory."""
    out = ()
    for i in tl.static_range(len(t)):
        out = out + (tl.where(r == 0, first[i], tl.gather(t[i], tl.maximum(r - 1, 0), 0)),)
    return out


@triton.jit
def _store_last(ptr, t, sel):
    """Store each component of a tuple of tiles, at the one position where ``sel`` is true, to
    ``ptr[i]`` (a masked store by the thread that holds it: no reduction)."""
    zero = tl.zeros_like(sel.to(tl.int32))
    for i in tl.static_range(len(t)):
        tl.store(ptr + i + zero, t[i], mask=sel)


# --------------------------------------------------------------------------- loads / stores
@triton.jit
def _unzip(t, N: tl.constexpr, R: tl.constexpr):
    """Columns of an ``[R, N]`` tile (``N`` in 1, 2, 4, 8) as a tuple of ``[R]`` tiles."""
    if N == 1:
        return (tl.reshape(t, [R]),)
    elif N == 2:
        c0, c1 = tl.split(t)
        return (c0, c1)
    elif N == 4:
        e, o = tl.split(tl.reshape(t, [R, 2, 2]))  # columns (0, 2), (1, 3)
        c0, c2 = tl.split(e)
        c1, c3 = tl.split(o)
        return (c0, c1, c2, c3)
    else:
        e, o = tl.split(tl.reshape(t, [R, 4, 2]))  # columns (0, 2, 4, 6), (1, 3, 5, 7)
        e0, e1 = tl.split(tl.reshape(e, [R, 2, 2]))  # (0, 4), (2, 6)
        o0, o1 = tl.split(tl.reshape(o, [R, 2, 2]))  # (1, 5), (3, 7)
        c0, c4 = tl.split(e0)
        c2, c6 = tl.split(e1)
        c1, c5 = tl.split(o0)
        c3, c7 = tl.split(o1)
        return (c0, c1, c2, c3, c4, c5, c6, c7)


@triton.jit
def _zip(c, N: tl.constexpr, R: tl.constexpr):
    """Inverse of :func:`_unzip`: an ``[R, N]`` tile from a tuple of ``N`` columns."""
    if N == 1:
        return tl.reshape(c[0], [R, 1])
    elif N == 2:
        return tl.join(c[0], c[1])
    elif N == 4:
        return tl.reshape(tl.join(tl.join(c[0], c[2]), tl.join(c[1], c[3])), [R, 4])
    else:
        e = tl.join(tl.join(c[0], c[4]), tl.join(c[2], c[6]))
        o = tl.join(tl.join(c[1], c[5]), tl.join(c[3], c[7]))
        return tl.reshape(tl.join(tl.reshape(e, [R, 4]), tl.reshape(o, [R, 4])), [R, 8])


@triton.jit
def _load_steps(ptr, off, stride_t, ok, full, CPLX: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr):
    """Entries ``ptr[off + j * stride_t]`` (``+1``: imaginary part), ``j < S``, of ``R`` rows:
    one ``[R, S]`` block (each row's ``S`` samples are adjacent: one vector load a part where
    aligned), as a tuple of ``S`` entries of ``[R]`` tiles in ``CDT``; zero where not ``ok``
    (``[R, S]``). ``full`` (a scalar): every element is valid, so the load needs no mask (a mask
    of unknown alignment would split the vector loads)."""
    o = off[:, None] + tl.arange(0, S)[None, :] * stride_t
    re = _unzip(_ld(ptr + o, ok, full).to(CDT), S, R)
    if CPLX:
        im = _unzip(_ld(ptr + o + 1, ok, full).to(CDT), S, R)
    out = ()
    for j in tl.static_range(S):
        if CPLX:
            out = out + (re[j], im[j])
        else:
            out = out + (re[j],)
    return out


@triton.jit
def _ld(ptrs, ok, full):
    if full:
        v = tl.load(ptrs)
    else:
        v = tl.load(ptrs, mask=ok, other=0.0)
    return v


@triton.jit
def _st(ptrs, v, ok, full):
    if full:
        tl.store(ptrs, v)
    else:
        tl.store(ptrs, v, mask=ok)


@triton.jit
def _store_steps(ptr, off, v, ok, full, CPLX: tl.constexpr, R: tl.constexpr, S: tl.constexpr):
    """Store ``S`` entries of ``[R]`` tiles to ``ptr[off + j * (1 + CPLX)]`` as one block (no
    mask when ``full``)."""
    W: tl.constexpr = 2 if CPLX else 1
    re = ()
    im = ()
    for j in tl.static_range(S):
        re = re + (v[W * j],)
        if CPLX:
            im = im + (v[W * j + 1],)
    o = off[:, None] + tl.arange(0, S)[None, :] * W
    _st(ptr + o, _zip(re, S, R).to(ptr.dtype.element_ty), ok, full)
    if CPLX:
        _st(ptr + o + 1, _zip(im, S, R).to(ptr.dtype.element_ty), ok, full)


@triton.jit
def _load_coefs(
    a_ptr,
    arow,
    n0,
    lo_lim,
    hi_lim,
    sat,
    sam,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    R: tl.constexpr,
    S: tl.constexpr,
):
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
        cols = _unzip(t, MP * W, R)
        for i in tl.static_range(M):
            if CPLX:
                out = out + (cols[2 * i] * sign, cols[2 * i + 1] * (sign * conj))
            else:
                out = out + (cols[i] * sign,)
    return out


@triton.jit
def _store_row(ptr, off, v, ok, N: tl.constexpr, CPLX: tl.constexpr, R: tl.constexpr):
    """Store ``N`` entries (``N <= 4``) of ``[R]`` tiles to the contiguous ``ptr[off + j]`` of each
    row (``+1``: imaginary part) as one ``[R, N]`` block; rows where ``ok``."""
    W: tl.constexpr = 2 if CPLX else 1
    NP: tl.constexpr = 4 if N == 3 else N
    cols = ()
    for j in tl.static_range(NP):
        for w in tl.static_range(W):
            if j < N:
                cols = cols + (v[j * W + w],)
            else:
                cols = cols + (tl.zeros_like(v[0]),)
    k = tl.arange(0, NP * W)
    tl.store(
        ptr + off[:, None] + k[None, :],
        _zip(cols, NP * W, R).to(ptr.dtype.element_ty),
        mask=ok[:, None] & (k < N * W)[None, :],
    )


@triton.jit
def _load_state(ptr, off, stride_m, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr):
    """``M`` entries ``ptr[off + j * stride_m]`` (zeros if ``ptr`` is None)."""
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
def _coefs(A, sign, conj, M: tl.constexpr, CPLX: tl.constexpr):
    """``sign * a``, conjugated when ``conj == -1`` (a tuple of ``M`` entries)."""
    out = ()
    for j in tl.static_range(M):
        re, im = _entry(A, j, CPLX)
        out = _push(out, re * sign, im * (sign * conj), CPLX)
    return out


@triton.jit
def _store_state(ptr, off, stride_m, s, M: tl.constexpr, CPLX: tl.constexpr, mask=None):
    for j in tl.static_range(M):
        re, im = _entry(s, j, CPLX)
        tl.store(ptr + off + j * stride_m, re.to(ptr.dtype.element_ty), mask=mask)
        if CPLX:
            tl.store(ptr + off + j * stride_m + 1, im.to(ptr.dtype.element_ty), mask=mask)


# --------------------------------------------------------------------------- a thread's samples
@triton.jit
def _row_map(X, A, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr, S: tl.constexpr):
    """The map of ``S`` consecutive samples (in processing order) of each row, built sample by
    sample with the companion structure (``M^2 + M`` multiply-adds a sample).

    Forward: ``(E, b) <- (C_j E, C_j b + x_j e_0)``: the new first row is ``-sum_i A_ji row_i``,
    the others shift down. Reverse: ``(C_j^T E, C_j^T b + g_j e_0)``: row ``i`` becomes
    ``-A_ji row_0 + row_{i+1}``. ``X``: ``S`` entries; ``A``: ``S * M`` entries (``j * M + i``).
    """
    one = tl.zeros_like(X[0]) + 1.0
    zero = tl.zeros_like(X[0])
    m = ()  # E row-major, then b, as in _compose; starts as the identity
    for r in tl.static_range(M):
        for c in tl.static_range(M):
            if r == c:
                m = _push(m, one, zero, CPLX)
            else:
                m = _push(m, zero, zero, CPLX)
    for _r in tl.static_range(M):
        m = _push(m, zero, zero, CPLX)
    for j in tl.static_range(S):
        mat = ()
        vec = ()
        for r in tl.static_range(M):
            for c in tl.static_range(M + 1):  # column M of [E | b] is b
                pr, pi = _map_step_entry(m, X, A, j, r, c, REV, M, CPLX)
                if c < M:
                    mat = _push(mat, pr, pi, CPLX)
                else:
                    vec = _push(vec, pr, pi, CPLX)
        m = mat + vec
    return m


@triton.jit
def _map_entry(m, r: tl.constexpr, c: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """Entry ``(r, c)`` of a map's ``[E | b]`` (column ``M`` is ``b``)."""
    if c < M:
        return _entry(m, r * M + c, CPLX)
    else:
        return _entry(m, M * M + r, CPLX)


@triton.jit
def _map_step_entry(
    m, X, A, j: tl.constexpr, r: tl.constexpr, c: tl.constexpr, REV: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr
):
    """Entry ``(r, c)`` of ``[E | b]`` after sample ``j`` (see :func:`_row_map`)."""
    if REV:
        ar, ai = _entry(A, j * M + r, CPLX)
        vr, vi = _map_entry(m, 0, c, M, CPLX)
        pr, pi = _mul(ar, ai, vr, vi, CPLX)
        pr = -pr
        pi = -pi
        if r + 1 < M:
            qr, qi = _map_entry(m, r + 1, c, M, CPLX)
            pr += qr
            pi += qi
        if r == 0 and c == M:
            xr, xi = _entry(X, j, CPLX)
            pr += xr
            pi += xi
    elif r == 0:
        if c == M:
            pr, pi = _entry(X, j, CPLX)
        else:
            pr = tl.zeros_like(X[0])
            pi = pr
        for i in tl.static_range(M):
            ar, ai = _entry(A, j * M + i, CPLX)
            vr, vi = _map_entry(m, i, c, M, CPLX)
            qr, qi = _mul(ar, ai, vr, vi, CPLX)
            pr -= qr
            pi -= qi
    else:
        pr, pi = _map_entry(m, r - 1, c, M, CPLX)
    return pr, pi


@triton.jit
def _run_fwd(X, A, s, M: tl.constexpr, CPLX: tl.constexpr, S: tl.constexpr):
    """The recursion over a row's ``S`` samples from its start state ``s`` (``M`` multiply-adds a
    sample): ``(y_0, ..., y_{S-1})`` and the end state."""
    ys = ()
    for j in tl.static_range(S):
        yr, yi = _entry(X, j, CPLX)
        for i in tl.static_range(M):
            ar, ai = _entry(A, j * M + i, CPLX)
            sr, si = _entry(s, i, CPLX)
            pr, pi = _mul(ar, ai, sr, si, CPLX)
            yr -= pr
            yi -= pi
        ys = _push(ys, yr, yi, CPLX)
        new = _push((), yr, yi, CPLX)
        for i in tl.static_range(M - 1):
            sr, si = _entry(s, i, CPLX)
            new = _push(new, sr, si, CPLX)
        s = new
    return ys, s


@triton.jit
def _run_rev(G, A, lam, n, M: tl.constexpr, CPLX: tl.constexpr, S: tl.constexpr):
    """The adjoint recursion over a row's ``S`` samples (descending time) from ``lam``:
    ``lam_i <- -A_i lam_0 + lam_{i+1}`` (``+ g`` for ``i = 0``), ``u = lam_0``. Returns the
    ``u`` entries, the end state and the state right after the sample ``n == 0`` (``n``: the
    samples' times, a tuple of ``S`` ``[R]`` tiles; zeros where no sample is at 0)."""
    us = ()
    at0 = ()
    for _i in tl.static_range(M):
        at0 = _push(at0, tl.zeros_like(G[0]), tl.zeros_like(G[0]), CPLX)
    for j in tl.static_range(S):
        l0r, l0i = _entry(lam, 0, CPLX)
        new = ()
        for i in tl.static_range(M):
            ar, ai = _entry(A, j * M + i, CPLX)
            pr, pi = _mul(ar, ai, l0r, l0i, CPLX)
            pr = -pr
            pi = -pi
            if i + 1 < M:
                qr, qi = _entry(lam, i + 1, CPLX)
                pr += qr
                pi += qi
            if i == 0:
                gr, gi = _entry(G, j, CPLX)
                pr += gr
                pi += gi
            new = _push(new, pr, pi, CPLX)
        lam = new
        ur, ui = _entry(lam, 0, CPLX)
        us = _push(us, ur, ui, CPLX)
        sel = n[j] == 0
        upd = ()
        for i in tl.static_range(M):
            vr, vi = _entry(lam, i, CPLX)
            wr, wi = _entry(at0, i, CPLX)
            upd = _push(upd, tl.where(sel, vr, wr), tl.where(sel, vi, wi), CPLX)
        at0 = upd
    return us, lam, at0


@triton.jit
def _reversed(t, S: tl.constexpr, E: tl.constexpr):
    """The ``S`` groups of ``E`` consecutive components of a tuple, in reverse group order."""
    out = ()
    for j in tl.static_range(S):
        for e in tl.static_range(E):
            out = out + (t[(S - 1 - j) * E + e],)
    return out


# --------------------------------------------------------------------------- forward
@triton.jit
def _fwd_tile_inputs(
    x_ptr,
    a_ptr,
    xrow,
    arow,
    t0,
    n0,
    hi,
    sxt,
    sat,
    sam,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    R: tl.constexpr,
    S: tl.constexpr,
):
    """A tile's inputs: row ``r`` holds samples ``n0[r] + j``, ``j < S`` (those ``< hi``; the
    tile starts at ``t0``)."""
    X = _load_steps(
        x_ptr, xrow + n0 * sxt, sxt, n0[:, None] + tl.arange(0, S)[None, :] < hi, t0 + R * S <= hi, CPLX, CDT, R, S
    )
    A = _load_coefs(a_ptr, arow, n0, 0, hi, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S)
    return X, A


@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def _fwd_pass_kernel(
    x_ptr,
    a_ptr,
    s_ptr,
    y_ptr,
    sxb,
    sxt,
    sab,
    sat,
    sam,
    ssb,
    ssc,
    ssm,
    syb,
    T,
    n_tiles,
    tiles_per_chunk,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    ROWS: tl.constexpr,
    STEPS: tl.constexpr,
):
    """``y`` of the tiles of chunk ``c = program_id(1)`` of row ``b = program_id(0)``, from the
    chunk's start state ``s[b, c, :]`` (strides ``ssb, ssc, ssm``; zeros if ``s_ptr`` is None).

    Per tile of ``ROWS * STEPS`` samples (a thread's row: ``STEPS`` consecutive samples):
    each row's map from its samples, a scan of the row maps with the incoming state folded into
    the first (the rows' end states), each row's start state from its predecessor (a gather),
    and the recursion over the row's samples from it. The next tile's loads are issued before
    this tile's stores; the last row's end state is the next tile's incoming state.
    """
    W: tl.constexpr = 2 if CPLX else 1
    BT: tl.constexpr = ROWS * STEPS
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64)
    q = c * tiles_per_chunk
    q_end = tl.minimum(q + tiles_per_chunk, n_tiles)
    r = tl.arange(0, ROWS)
    j = tl.arange(0, STEPS)[None, :]
    s = _load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT)
    xrow = b * sxb
    arow = b * sab
    yrow = b * syb  # y is contiguous: syb = T (x2 for complex), an argument so that its alignment is known
    n0 = q * BT + r * STEPS
    X, A = _fwd_tile_inputs(
        x_ptr, a_ptr, xrow, arow, q * BT, n0, T, sxt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS
    )
    while q < q_end:
        n1 = n0 + BT
        X1, A1 = _fwd_tile_inputs(
            x_ptr,
            a_ptr,
            xrow,
            arow,
            q * BT + BT,
            n1,
            tl.where(q + 1 < q_end, T, 0),
            sxt,
            sat,
            sam,
            sign,
            conj,
            M,
            CPLX,
            A_CONTIG,
            CDT,
            ROWS,
            STEPS,
        )
        m = _fold_map(_row_map(X, A, False, M, CPLX, STEPS), r == 0, s, M, CPLX)
        ends = _states(_scan(m, M, CPLX), M, CPLX)
        ys, _ = _run_fwd(X, A, _previous_rows(ends, r, s), M, CPLX, STEPS)
        _store_steps(y_ptr, yrow + n0 * W, ys, n0[:, None] + j < T, q * BT + BT <= T, CPLX, ROWS, STEPS)
        s = _pick(ends, r == ROWS - 1)
        X = X1
        A = A1
        n0 = n1
        q += 1


@triton.jit(do_not_specialize=["T", "n_chunks", "first_chunk"])
def _fwd_summary_kernel(
    x_ptr,
    a_ptr,
    p_ptr,
    sxb,
    sxt,
    sab,
    sat,
    sam,
    T,
    n_chunks,
    first_chunk,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    ROWS: tl.constexpr,
    STEPS: tl.constexpr,
):
    """The map of chunk (tile) ``c = first_chunk + program_id(1)`` of row ``b``: the scan of its
    rows' maps, stored to ``p[b, c, :]`` (``E`` row-major, then ``b``) by the thread holding
    the last prefix."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    c = first_chunk + tl.program_id(1).to(tl.int64)
    r = tl.arange(0, ROWS)
    n0 = c * (ROWS * STEPS) + r * STEPS
    X, A = _fwd_tile_inputs(
        x_ptr,
        a_ptr,
        b * sxb,
        b * sab,
        c * (ROWS * STEPS),
        n0,
        T,
        sxt,
        sat,
        sam,
        sign,
        conj,
        M,
        CPLX,
        A_CONTIG,
        CDT,
        ROWS,
        STEPS,
    )
    _store_last(p_ptr + (b * n_chunks + c) * K, _scan(_row_map(X, A, False, M, CPLX, STEPS), M, CPLX), r == ROWS - 1)


# --------------------------------------------------------------------------- reverse
@triton.jit
def _rev_tile_inputs(
    g_ptr,
    a_ptr,
    grow,
    arow,
    lo,
    T,
    sgt,
    sat,
    sam,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    R: tl.constexpr,
    S: tl.constexpr,
):
    """A reverse tile's inputs in processing (descending) order: row ``r`` holds samples
    ``lo[r] + S - 1 - j``, ``j < S`` (loaded ascending), and coefficient rows ``n + 1``.
    ``lo`` at or beyond ``T`` (no tile) loads nothing."""
    W: tl.constexpr = 2 if CPLX else 1
    n = lo[:, None] + tl.arange(0, S)[None, :]
    ok = (n >= 0) & (n < T)
    lowest = tl.min(lo, axis=0)
    G = _load_steps(g_ptr, grow + lo * sgt, sgt, ok, (lowest >= 0) & (lowest + R * S <= T), CPLX, CDT, R, S)
    A = _load_coefs(a_ptr, arow, lo + 1, 1, T, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, R, S)
    return _reversed(G, S, W), _reversed(A, S, M * W)


@triton.jit
def _rev_past_outputs(
    y_ptr,
    z_ptr,
    yrow,
    zrow,
    lo,
    T,
    syt,
    szm,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
    R: tl.constexpr,
    S: tl.constexpr,
):
    """``y[n-1-i]``, ``i < M``, of a reverse tile's samples in processing order (``y[-k] = zi[k-1]``;
    shifted block loads). Flat tuple, entry ``j * M + i``."""
    W: tl.constexpr = 2 if CPLX else 1
    js = tl.arange(0, S)[None, :]
    n = lo[:, None] + js
    cols = ()
    for i in tl.static_range(M):
        m = n - 1 - i
        ok = (n >= 0) & (n < T)
        v = _load_steps(y_ptr, yrow + (lo - 1 - i) * syt, syt, ok & (m >= 0), False, CPLX, CDT, R, S)
        h = _load_steps(z_ptr, zrow + (i - lo) * szm, -szm, ok & (m < 0), False, CPLX, CDT, R, S)
        cols = cols + (_reversed(v, S, W), _reversed(h, S, W))
    out = ()
    for j in tl.static_range(S):
        for i in tl.static_range(M):
            for w in tl.static_range(W):
                out = out + (cols[2 * i][j * W + w] + cols[2 * i + 1][j * W + w],)
    return out


@triton.heuristics(
    {
        "NEED_A": lambda args: args["ga_ptr"] is not None,
        "NEED_ZI": lambda args: args["gz_ptr"] is not None,
    }
)
@triton.jit(do_not_specialize=["T", "n_tiles", "tiles_per_chunk"])
def _rev_pass_kernel(
    g_ptr,
    a_ptr,
    s_ptr,
    u_ptr,
    y_ptr,
    z_ptr,
    ga_ptr,
    gz_ptr,
    sgb,
    sgt,
    sab,
    sat,
    sam,
    ssb,
    ssc,
    ssm,
    syb,
    syt,
    szb,
    szm,
    sub,
    T,
    n_tiles,
    tiles_per_chunk,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    ROWS: tl.constexpr,
    STEPS: tl.constexpr,
    NEED_A: tl.constexpr,
    NEED_ZI: tl.constexpr,
):
    """``u`` of the tiles of chunk ``c`` of row ``b`` (chunks in processing order: tile ``q`` of
    the walk is ``[t BT, t BT + BT)``, ``t = n_tiles - 1 - q``, in descending time), from
    ``lam = s[b, c, :]`` (zeros if ``s_ptr`` is None). Each row: its map, the scan of the row maps, its start state, then the
    adjoint recursion. ``NEED_A``: also ``grad_a[n, i] = -sign u[n] conj(y[n-1-i])`` (``y``
    through its strides ``syb, syt``, ``zi``); ``NEED_ZI``: the thread holding ``n = 0`` writes
    ``grad_zi = C[0]^T lam[0]``."""
    W: tl.constexpr = 2 if CPLX else 1
    BT: tl.constexpr = ROWS * STEPS
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64)
    q = c * tiles_per_chunk
    q_end = tl.minimum(q + tiles_per_chunk, n_tiles)
    r = tl.arange(0, ROWS)
    js = tl.arange(0, STEPS)[None, :]
    s = _load_state(s_ptr, b * ssb + c * ssc, ssm, M, CPLX, CDT)
    grow = b * sgb
    arow = b * sab
    urow = b * sub  # u is contiguous: sub = T (x2 for complex), an argument so that its alignment is known
    if NEED_ZI:  # row 0 of the coefficients, for grad_zi (loaded ahead of any store)
        A0 = _coefs(_load_state(a_ptr, arow, sam, M, CPLX, CDT), sign, conj, M, CPLX)
    lo = (n_tiles - 1 - q) * BT + (ROWS - 1 - r) * STEPS  # each row's lowest sample
    G, A = _rev_tile_inputs(
        g_ptr, a_ptr, grow, arow, lo, T, sgt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS
    )
    while q < q_end:
        lo1 = tl.where(q + 1 < q_end, lo - BT, T)  # the next tile's loads, before this tile's stores
        G1, A1 = _rev_tile_inputs(
            g_ptr, a_ptr, grow, arow, lo1, T, sgt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS
        )
        if NEED_A:  # y is only read: these loads overlap with the scan
            Y = _rev_past_outputs(y_ptr, z_ptr, b * syb, b * szb, lo, T, syt, szm, M, CPLX, CDT, ROWS, STEPS)
        m = _fold_map(_row_map(G, A, True, M, CPLX, STEPS), r == 0, s, M, CPLX)
        ends = _states(_scan(m, M, CPLX), M, CPLX)
        times = ()
        for jj in tl.static_range(STEPS):
            times = times + (lo + STEPS - 1 - jj,)
        us, _, at0 = _run_rev(G, A, _previous_rows(ends, r, s), times, M, CPLX, STEPS)
        n = lo[:, None] + js
        ok = (n >= 0) & (n < T)
        _store_steps(u_ptr, urow + lo * W, _reversed(us, STEPS, W), ok, (n_tiles - q) * BT <= T, CPLX, ROWS, STEPS)
        if NEED_A:
            for jj in tl.static_range(STEPS):  # one [ROWS, M] block a sample
                ur, ui = _entry(us, jj, CPLX)
                ga = ()
                for i in tl.static_range(M):
                    hr, hi = _entry(Y, jj * M + i, CPLX)
                    pr, pi = _mul(ur, ui, hr, -hi, CPLX)
                    ga = _push(ga, -sign * pr, -sign * pi, CPLX)
                nj = lo + STEPS - 1 - jj
                _store_row(ga_ptr, (b * T + nj) * (M * W), ga, (nj >= 0) & (nj < T), M, CPLX, ROWS)
        if NEED_ZI:
            # one more adjoint step (n = -1, g = 0, row 0 of a): (C[0]^T lam)_i = -A[0, i] lam_0 + lam_{i+1}
            lr, li = _entry(at0, 0, CPLX)
            gz = ()
            for i in tl.static_range(M):
                cr, ci = _entry(A0, i, CPLX)
                zr, zi = _mul(cr, ci, lr, li, CPLX)
                zr = -zr
                zi = -zi
                if i + 1 < M:
                    vr, vi = _entry(at0, i + 1, CPLX)
                    zr += vr
                    zi += vi
                gz = _push(gz, zr, zi, CPLX)
            zero = tl.zeros_like(r)
            _store_state(gz_ptr, b * (M * W) + zero, W, gz, M, CPLX, mask=(lo <= 0) & (lo + STEPS > 0))
        s = _pick(ends, r == ROWS - 1)
        G = G1
        A = A1
        lo = lo - BT
        q += 1


@triton.jit(do_not_specialize=["T", "n_chunks", "first_chunk"])
def _rev_summary_kernel(
    g_ptr,
    a_ptr,
    p_ptr,
    sgb,
    sgt,
    sab,
    sat,
    sam,
    T,
    n_chunks,
    first_chunk,
    sign,
    conj,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    A_CONTIG: tl.constexpr,
    CDT: tl.constexpr,
    ROWS: tl.constexpr,
    STEPS: tl.constexpr,
):
    """The adjoint map of chunk (tile) ``c = first_chunk + program_id(1)`` of row ``b`` (in
    processing order: tile ``n_chunks - 1 - c``; ``lam`` at its end -> ``lam`` at its start) to
    ``p[b, c, :]``. The last tile in time may be partial: its missing samples come first in
    processing order and only shift a zero state (the map is applied to ``lam[T] = 0``)."""
    W: tl.constexpr = 2 if CPLX else 1
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    c = first_chunk + tl.program_id(1).to(tl.int64)
    r = tl.arange(0, ROWS)
    lo = (n_chunks - 1 - c) * (ROWS * STEPS) + (ROWS - 1 - r) * STEPS
    G, A = _rev_tile_inputs(
        g_ptr, a_ptr, b * sgb, b * sab, lo, T, sgt, sat, sam, sign, conj, M, CPLX, A_CONTIG, CDT, ROWS, STEPS
    )
    _store_last(p_ptr + (b * n_chunks + c) * K, _scan(_row_map(G, A, True, M, CPLX, STEPS), M, CPLX), r == ROWS - 1)


# --------------------------------------------------------------------------- carry
@triton.jit(do_not_specialize=["n_chunks"])
def _carry_kernel(
    p_ptr,
    z_ptr,
    s_ptr,
    szb,
    szm,
    n_chunks,
    M: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
    BLOCK_C: tl.constexpr,
):
    """Start states of the chunks of row ``b`` (in processing order) from their maps:
    ``s[b, 0] = zi[b]`` (zeros if ``z_ptr`` is None), ``s[b, c+1] = p_c(s[b, c])``. A parallel scan
    over blocks of ``BLOCK_C`` chunk maps with the state carried from block to block, the next
    block's maps loaded before this block's stores (the last chunk's map is never applied)."""
    W: tl.constexpr = 2 if CPLX else 1
    MW: tl.constexpr = M * W
    K: tl.constexpr = (M * M + M) * W
    b = tl.program_id(0).to(tl.int64)
    k = tl.arange(0, BLOCK_C)
    s = _load_state(z_ptr, b * szb, szm, M, CPLX, CDT)
    _store_state(s_ptr, b * n_chunks * MW, W, s, M, CPLX)
    e = _carry_block(p_ptr, b, k, n_chunks, K)
    i0 = 0
    while i0 < n_chunks - 1:
        e_nx = _carry_block(p_ptr, b, i0 + BLOCK_C + k, n_chunks, K)
        i = i0 + k
        st = _states(_scan(_fold_map(e, k == 0, s, M, CPLX), M, CPLX), M, CPLX)
        for jj in tl.static_range(MW):
            tl.store(s_ptr + (b * n_chunks + i + 1) * MW + jj, st[jj], mask=i < n_chunks - 1)
        s = _pick(st, i == tl.minimum(i0 + BLOCK_C, n_chunks - 1) - 1)
        e = e_nx
        i0 += BLOCK_C


@triton.jit
def _carry_block(p_ptr, b, i, n_chunks, K: tl.constexpr):
    """The chunk maps ``i`` (a block of chunk indices; the last chunk's map is never applied)."""
    e = ()
    for jj in tl.static_range(K):
        e = e + (tl.load(p_ptr + (b * n_chunks + i) * K + jj, mask=i < n_chunks - 1, other=0.0),)
    return e
