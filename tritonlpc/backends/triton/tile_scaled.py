"""Tile path: the scan of chunk maps with power-of-two exponents (the three-phase summary and
carry; the design of :mod:`.scale`).

An element is a flat map ``(E^, b)`` (:mod:`.tile_scan`'s layout) followed by an int32 exponent
``e``, the map being ``s -> E^ 2**e s + b``. :func:`compose_scaled` composes two such maps as
``(E^_R E^_L, 2**e_R (E^_R b_L) + b_R, e_R + e_L)`` and renormalises the product's mantissa
when its largest entry passes ``BIG`` (back while ``e > 0`` and it is below ``SMALL``): a product
of chunk maps overflows only where its product with the actual state does, and while no map
grows past ``BIG`` every exponent is 0 and every result the plain scan's, bit for bit.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .scale import largest_bits, ldexp, shift_of
from .tile_scan import apply_map, compose

__all__ = ["compose_scaled", "scan_scaled", "fold_scaled", "renormed", "maps_of"]


@triton.jit
def _linear(m, M: tl.constexpr, CPLX: tl.constexpr):
    """The map ``m``'s linear part with a zero ``b`` (``E^`` then ``M`` zero entries)."""
    W: tl.constexpr = 2 if CPLX else 1
    out = ()
    for i in tl.static_range(M * M * W):
        out = out + (m[i],)
    for _i in tl.static_range(M * W):
        out = out + (tl.zeros_like(m[0]),)
    return out


@triton.jit
def maps_of(m, M: tl.constexpr, CPLX: tl.constexpr):
    """The flat maps ``(E^, b)`` of a tuple of maps with exponents (without the exponents)."""
    out = ()
    for i in tl.static_range((M * M + M) * (2 if CPLX else 1)):
        out = out + (m[i],)
    return out


@triton.jit
def renormed(p, e, M: tl.constexpr, CPLX: tl.constexpr):
    """The mantissa ``E^`` (the first ``M M W`` entries of ``p``) with exponent ``e``, renormalised
    exactly when its largest entry is at least ``BIG``, or below ``SMALL`` while ``e > 0`` (``e``
    never drops below 0): ``(E^ entries, e)``. One power-of-two factor (:func:`.scale.shift_of`)."""
    KE: tl.constexpr = M * M * (2 if CPLX else 1)
    f, shift = shift_of(largest_bits(p, KE), e, p[0].dtype)
    out = ()
    for i in tl.static_range(KE):
        out = out + (p[i] * f,)
    return out, e + shift


@triton.jit
def compose_scaled(L, R, M: tl.constexpr, CPLX: tl.constexpr):
    """``R o L`` of two maps with exponents (flat tuples ``(E^, b, e)``), see the module docstring.
    Zero entries of ``b_L`` contribute exactly zero, as in :func:`.tile_scan.compose`."""
    W: tl.constexpr = 2 if CPLX else 1
    KE: tl.constexpr = M * M * W
    K: tl.constexpr = KE + M * W
    p = compose(L, _linear(R, M, CPLX), M, CPLX)  # (E^_R E^_L, E^_R b_L)
    out, e = renormed(p, L[K] + R[K], M, CPLX)
    for i in tl.static_range(M * W):
        out = out + (ldexp(p[KE + i], R[K], p[0].dtype) + R[KE + i],)
    return out + (e,)


@triton.jit
def fold_scaled(e, first, s, M: tl.constexpr, CPLX: tl.constexpr):
    """Maps with exponents ``e`` with the state ``s`` folded into those at ``first``:
    ``b <- 2**e (E^ s) + b`` there (guarded, as :func:`.tile_scan.fold_map`). Where ``e > 0`` the
    state is scaled by a power of two to a largest entry near 1 first and the factor put back
    into ``e``: a renormalised mantissa may be far below 1 (down to ``SMALL``), and a small state
    through it would otherwise round to subnormals (a state of 1e-30 through a mantissa of 1e-8 is
    within 2^-25 of float32's smallest normal number) before ``2**e`` restores its size."""
    W: tl.constexpr = 2 if CPLX else 1
    KE: tl.constexpr = M * M * W
    K: tl.constexpr = KE + M * W
    CDT: tl.constexpr = e[0].dtype
    h = largest_bits(s, M * W)
    if CDT == tl.float64:
        ks = tl.minimum(tl.maximum((h >> 20) - 1023, -1022), 1022)
    else:
        ks = tl.minimum(tl.maximum((h >> 23) - 127, -126), 126)
    ks = tl.where(e[K] > 0, ks, 0)  # exponent 0: the plain product, bit for bit
    sn = ()
    for i in tl.static_range(M * W):
        sn = sn + (ldexp(s[i], -ks, CDT),)
    f = apply_map(_linear(e, M, CPLX), sn, 0, M, CPLX)
    out = ()
    for i in tl.static_range(KE):
        out = out + (e[i],)
    for i in tl.static_range(M * W):
        out = out + (tl.where(first, ldexp(f[i], e[K] + ks, CDT) + e[KE + i], e[KE + i]),)
    return out + (e[K],)


# Fixed-arity wrappers of compose_scaled for tl.associative_scan (as in .tile_scan).
# fmt: off

@triton.jit
def _cs_r1(a0, a1, a2,
           b0, b1, b2):
    return compose_scaled((a0, a1, a2),
                          (b0, b1, b2), 1, False)


@triton.jit
def _cs_c1(a0, a1, a2, a3, a4,
           b0, b1, b2, b3, b4):
    return compose_scaled((a0, a1, a2, a3, a4),
                          (b0, b1, b2, b3, b4), 1, True)


@triton.jit
def _cs_r2(a0, a1, a2, a3, a4, a5, a6,
           b0, b1, b2, b3, b4, b5, b6):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6),
                          (b0, b1, b2, b3, b4, b5, b6), 2, False)


@triton.jit
def _cs_c2(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12,
           b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12),
                          (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12), 2, True)


@triton.jit
def _cs_r3(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12,
           b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12),
                          (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12), 3, False)


@triton.jit
def _cs_c3(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22,
           a23, a24,
           b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20, b21, b22,
           b23, b24):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
                           a19, a20, a21, a22, a23, a24),
                          (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18,
                           b19, b20, b21, b22, b23, b24), 3, True)


@triton.jit
def _cs_r4(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20,
           b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
                           a19, a20),
                          (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18,
                           b19, b20), 4, False)


@triton.jit
def _cs_c4(a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18, a19, a20, a21, a22,
           a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35, a36, a37, a38, a39, a40,
           b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18, b19, b20, b21, b22,
           b23, b24, b25, b26, b27, b28, b29, b30, b31, b32, b33, b34, b35, b36, b37, b38, b39, b40):
    return compose_scaled((a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15, a16, a17, a18,
                           a19, a20, a21, a22, a23, a24, a25, a26, a27, a28, a29, a30, a31, a32, a33, a34, a35,
                           a36, a37, a38, a39, a40),
                          (b0, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15, b16, b17, b18,
                           b19, b20, b21, b22, b23, b24, b25, b26, b27, b28, b29, b30, b31, b32, b33, b34, b35,
                           b36, b37, b38, b39, b40), 4, True)


# fmt: on


@triton.jit
def scan_scaled(e, M: tl.constexpr, CPLX: tl.constexpr):
    """Inclusive prefix maps (with exponents) of a tile of elements (axis 0), in order."""
    if M == 1:
        out = tl.associative_scan(e, 0, _cs_c1) if CPLX else tl.associative_scan(e, 0, _cs_r1)
    elif M == 2:
        out = tl.associative_scan(e, 0, _cs_c2) if CPLX else tl.associative_scan(e, 0, _cs_r2)
    elif M == 3:
        out = tl.associative_scan(e, 0, _cs_c3) if CPLX else tl.associative_scan(e, 0, _cs_r3)
    else:
        out = tl.associative_scan(e, 0, _cs_c4) if CPLX else tl.associative_scan(e, 0, _cs_r4)
    return out
