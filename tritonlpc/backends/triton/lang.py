"""Real/complex helpers of the Triton kernels (tile, walk and smoothing), one meaning per name.

Complex tensors arrive as real views (strides in real elements, the imaginary part at ``+1``).
A value is a pair ``(re, im)``; for real dtypes the imaginary slot is a placeholder of the right
shape that nothing reads (compiled code drops it): loads put zeros there, :func:`entry` the real
part, :func:`mul` passes ``ai`` through. Values of a fixed number of entries travel as flat
tuples (``(re, im)`` per entry for complex, ``re`` for real), so that one kernel body serves
every order and dtype. ``CDT`` is the accumulation dtype; stores convert to the element type of
the pointer. Offsets are int64 in every caller (the tile path's times within a row are int32,
widened before a stride multiplies them).
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = [
    "entry",
    "push",
    "mul",
    "mul_sub",
    "load",
    "store",
    "load_coef",
    "signed",
    "sign_bit",
    "widen",
    "unzip",
    "zip_columns",
    "load_block",
    "store_block",
    "load_steps",
    "store_steps",
    "load_run",
    "store_run",
    "load_state",
    "store_state",
    "reverse_groups",
    "row_offset",
]


# --------------------------------------------------------------------------- values
@triton.jit
def entry(t, i: tl.constexpr, CPLX: tl.constexpr):
    """Entry ``i`` of a flat tuple as ``(re, im)`` (``im`` is ``re`` for real dtypes)."""
    if CPLX:
        return t[2 * i], t[2 * i + 1]
    else:
        return t[i], t[i]


@triton.jit
def push(t, re, im, CPLX: tl.constexpr):
    """``t`` with one more entry (``im`` dropped for real dtypes)."""
    if CPLX:
        return t + (re, im)
    else:
        return t + (re,)


@triton.jit
def mul(ar, ai, br, bi, CPLX: tl.constexpr):
    """``(ar + i ai) (br + i bi)``; for real dtypes ``(ar br, ai)``."""
    if CPLX:
        return ar * br - ai * bi, ar * bi + ai * br
    else:
        return ar * br, ai


@triton.jit
def mul_sub(cr, ci, ar, ai, br, bi, CPLX: tl.constexpr):
    """``c - a b`` written as multiply-adds onto ``c`` (two a part for complex dtypes; for real
    dtypes ``(cr - ar br, ci)``)."""
    if CPLX:
        return cr - ar * br + ai * bi, ci - ar * bi - ai * br
    else:
        return cr - ar * br, ci


@triton.jit
def signed(A, sign, conj, M: tl.constexpr, CPLX: tl.constexpr):
    """``sign * a`` for a flat tuple of ``M`` entries, conjugated when ``conj == -1``."""
    out = ()
    for j in tl.static_range(M):
        re, im = entry(A, j, CPLX)
        out = push(out, re * sign, im * (sign * conj), CPLX)
    return out


@triton.jit
def sign_bit(sign):
    """The float32 sign bit of ``sign`` (+-1.0) as a uint32: 0, or ``0x80000000`` for -1.0 (for
    :func:`widen`; a compile-time ``sign`` folds it, and a xor with 0, away)."""
    return tl.cast(sign, tl.float32).to(tl.uint32, bitcast=True) - 0x3F800000


@triton.jit
def widen(t, CDT: tl.constexpr, flip=None):
    """``t`` in ``CDT``. bfloat16 to float32 by its bits, ``flip`` (:func:`sign_bit`) xored in (the
    value negated for -1.0): the upper half of a packed pair is one ``LOP3`` (AND, XOR), the lower
    half a shift and an add onto bit 31, where ``cvt`` costs ``PRMT`` and a shift and the sign a
    multiply. float16: ``flip`` xored into its sign bit before the conversion (no multiply)."""
    if t.dtype == tl.bfloat16 and CDT == tl.float32:
        u = t.to(tl.uint16, bitcast=True).to(tl.uint32) << 16
        if flip is not None:
            u = u ^ flip
        return u.to(tl.float32, bitcast=True)
    elif t.dtype == tl.float16 and flip is not None:
        h = t.to(tl.uint16, bitcast=True) ^ (flip >> 16).to(tl.uint16)
        return h.to(tl.float16, bitcast=True).to(CDT)
    else:
        return t.to(CDT)


@triton.jit
def row_offset(b, stride, CPLX: tl.constexpr):
    """``b * stride``, a row's offset: for complex views the stride is even (real elements), and
    written as ``stride // 2 * 2`` the compiler knows it, so ``(re, im)`` pairs stay aligned vector
    accesses (16 bytes for complex128) where a length makes the stride itself no multiple of 16."""
    if CPLX:
        return b * (stride // 2 * 2)
    else:
        return b * stride


# --------------------------------------------------------------------------- pairs of tensors
@triton.jit
def load(ptr, off, mask, CPLX: tl.constexpr, CDT: tl.constexpr):
    """``(re, im)`` at ``ptr + off`` in ``CDT`` (``im`` zeros for real dtypes); zeros where masked."""
    re = tl.load(ptr + off, mask=mask, other=0.0).to(CDT)
    if CPLX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(CDT)
    else:
        im = tl.zeros_like(re)
    return re, im


@triton.jit
def store(ptr, off, re, im, mask, CPLX: tl.constexpr):
    """Store ``(re, im)`` at ``ptr + off`` where ``mask``."""
    tl.store(ptr + off, re.to(ptr.dtype.element_ty), mask=mask)
    if CPLX:
        tl.store(ptr + off + 1, im.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def load_coef(a_ptr, off, mask, sign, conj, CPLX: tl.constexpr, CDT: tl.constexpr):
    """Coefficients ``sign * a`` at ``a_ptr + off`` (conjugated when ``conj == -1``)."""
    re, im = load(a_ptr, off, mask, CPLX, CDT)
    return re * sign, im * (sign * conj)


# --------------------------------------------------------------------------- blocks of a row's samples
@triton.jit
def unzip(t, N: tl.constexpr, R: tl.constexpr):
    """Columns of an ``[R, N]`` tile (``N`` in 1, 2, 4, 8, 16) as a tuple of ``[R]`` tiles."""
    if N == 16:  # even and odd columns, each as 8
        e, o = tl.split(tl.reshape(t, [R, 8, 2]))
        ce = unzip(e, 8, R)
        co = unzip(o, 8, R)
        out = ()
        for k in tl.static_range(8):
            out = out + (ce[k], co[k])
        return out
    elif N == 1:
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
def zip_columns(c, N: tl.constexpr, R: tl.constexpr):
    """Inverse of :func:`unzip`: an ``[R, N]`` tile from a tuple of ``N`` columns."""
    if N == 16:
        ce = ()
        co = ()
        for k in tl.static_range(8):
            ce = ce + (c[2 * k],)
            co = co + (c[2 * k + 1],)
        return tl.reshape(tl.join(zip_columns(ce, 8, R), zip_columns(co, 8, R)), [R, 16])
    elif N == 1:
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
def load_block(ptrs, ok, full, CDT: tl.constexpr, flip=None):
    """``tl.load`` of a block in ``CDT`` (:func:`widen`, ``flip`` xored into bfloat16), masked by
    ``ok`` unless ``full`` (a scalar: every element valid; a mask of unknown alignment would split
    vector loads). Converted in each branch: a packed pair is split once, where it was loaded."""
    if full:
        v = widen(tl.load(ptrs), CDT, flip)
    else:
        v = widen(tl.load(ptrs, mask=ok, other=0.0), CDT, flip)
    return v


@triton.jit
def store_block(ptrs, v, ok, full):
    """``tl.store`` of a block, masked by ``ok`` unless ``full``."""
    if full:
        tl.store(ptrs, v)
    else:
        tl.store(ptrs, v, mask=ok)


@triton.jit
def load_steps(
    ptr, off, stride_t, n, lo, hi, full, CPLX: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr
):  # fmt: skip
    """Entries ``ptr[off + j * stride_t]``, ``j < S``, of ``R`` rows as a flat tuple of ``S`` entries
    of ``[R]`` tiles in ``CDT``; zero unless ``lo <= n + j < hi`` (``n``: ``[R]``; ``full``: a
    scalar, every one is). Loaded in blocks a thread holds whole (no exchange between threads):
    real ``[R, G]`` blocks of 16 bytes a row (one vector load where aligned), complex ``[R, 2]``
    (re, im) blocks, a sample each."""
    G: tl.constexpr = 1 if CPLX else min(S, 128 // ptr.dtype.element_ty.primitive_bitwidth)
    V: tl.constexpr = 2 if CPLX else G
    k = tl.arange(0, V)[None, :]
    out = ()
    for g in tl.static_range(S // G):
        if CPLX:
            j = g
            o = (off + j * stride_t)[:, None] + k
        else:
            j = g * G + k
            o = off[:, None] + j * stride_t
        ok = (n[:, None] + j >= lo) & (n[:, None] + j < hi)
        out = out + unzip(load_block(ptr + o, ok, full, CDT), V, R)
    return out


@triton.jit
def store_steps(
    ptr, off, v, n, lo, hi, full, CPLX: tl.constexpr, R: tl.constexpr, S: tl.constexpr
):  # fmt: skip
    """Store ``S`` entries of ``[R]`` tiles to the contiguous ``ptr[off + j (1 + CPLX)]`` where
    ``lo <= n + j < hi`` (every one when ``full``), in the blocks :func:`load_steps` loads."""
    G: tl.constexpr = 1 if CPLX else min(S, 128 // ptr.dtype.element_ty.primitive_bitwidth)
    V: tl.constexpr = 2 if CPLX else G
    k = tl.arange(0, V)[None, :]
    for g in tl.static_range(S // G):
        cols = ()
        for i in tl.static_range(V):
            cols = cols + (v[g * V + i],)
        if CPLX:
            j = g
        else:
            j = g * G + k
        ok = (n[:, None] + j >= lo) & (n[:, None] + j < hi)
        store_block(ptr + off[:, None] + g * V + k, zip_columns(cols, V, R).to(ptr.dtype.element_ty), ok, full)


@triton.jit
def load_run(
    ptr, off, n, hi, full, E: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr, S: tl.constexpr, flip=None
):  # fmt: skip
    """The ``S * E`` contiguous values ``ptr[off + k]`` of ``R`` rows (``E`` values a sample: value
    ``k`` belongs to sample ``n + k // E``, zero unless below ``hi``; ``full``: a scalar, every one
    is) as a flat tuple in ``CDT`` (:func:`widen`, ``flip``), loaded in the widest blocks of up to
    16 bytes that tile the run (a power of two dividing ``S * E``; vector loads where ``off`` is
    aligned; no padding)."""
    BW: tl.constexpr = min(128 // ptr.dtype.element_ty.primitive_bitwidth, S * (E // 3 if E % 3 == 0 else E))
    out = ()
    for g in tl.static_range(S * E // BW):
        kb = g * BW + tl.arange(0, BW)
        m = n[:, None] + (kb // E)[None, :] < hi
        out = out + unzip(load_block(ptr + off[:, None] + kb[None, :], m, full, CDT, flip), BW, R)
    return out


@triton.jit
def store_run(ptr, off, v, n, lo, hi, full, E: tl.constexpr, R: tl.constexpr, S: tl.constexpr):
    """Store the flat tuple ``v`` of ``S * E`` values to ``ptr[off + k]`` (value ``k`` of sample
    ``n + k // E``) where ``lo <= n + k // E < hi`` (every one when ``full``), in the blocks of
    :func:`load_run`, converted to the element type of ``ptr``."""
    BW: tl.constexpr = min(128 // ptr.dtype.element_ty.primitive_bitwidth, S * (E // 3 if E % 3 == 0 else E))
    for g in tl.static_range(S * E // BW):
        cols = ()
        for i in tl.static_range(BW):
            cols = cols + (v[g * BW + i],)
        kb = g * BW + tl.arange(0, BW)
        j = n[:, None] + (kb // E)[None, :]
        ptrs = ptr + off[:, None] + kb[None, :]
        store_block(ptrs, zip_columns(cols, BW, R).to(ptr.dtype.element_ty), (j >= lo) & (j < hi), full)


# --------------------------------------------------------------------------- states
@triton.jit
def load_state(ptr, off, stride_m, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr):
    """``M`` entries ``ptr[off + j * stride_m]`` as a flat tuple (zeros if ``ptr`` is None)."""
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
        out = push(out, re, im, CPLX)
    return out


@triton.jit
def store_state(ptr, off, stride_m, s, M: tl.constexpr, CPLX: tl.constexpr, mask=None):
    """Store the ``M`` entries of a flat tuple to ``ptr[off + j * stride_m]``."""
    for j in tl.static_range(M):
        re, im = entry(s, j, CPLX)
        tl.store(ptr + off + j * stride_m, re.to(ptr.dtype.element_ty), mask=mask)
        if CPLX:
            tl.store(ptr + off + j * stride_m + 1, im.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def reverse_groups(t, S: tl.constexpr, E: tl.constexpr):
    """The ``S`` groups of ``E`` consecutive components of a tuple, in reverse group order."""
    out = ()
    for j in tl.static_range(S):
        for e in tl.static_range(E):
            out = out + (t[(S - 1 - j) * E + e],)
    return out
