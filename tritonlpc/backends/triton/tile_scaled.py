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

from .scale import exponent, ldexp
from .tile_scan import apply_map, compose

__all__ = ["compose_scaled", "scan_scaled", "fold_scaled", "with_exponents", "maps_of"]


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
def _renormed(p, e, M: tl.constexpr, CPLX: tl.constexpr):
    """The mantissa ``E^`` (the first ``M M W`` entries of ``p``) with exponent ``e``, renormalised
    exactly when its largest entry is above ``BIG``, or below ``SMALL`` while ``e > 0`` (``e``
    never drops below 0): ``(E^ entries, e)``."""
    KE: tl.constexpr = M * M * (2 if CPLX else 1)
    m = tl.abs(p[0])
    for i in tl.static_range(1, KE):
        m = tl.maximum(m, tl.abs(p[i]))
    out_of_range = (m > 4294967296.0) | ((e > 0) & (m < 2.3283064365386963e-10))  # BIG, SMALL of .scale
    shift = tl.where(out_of_range, tl.maximum(exponent(m, p[0].dtype), -e), 0)
    out = ()
    for i in tl.static_range(KE):
        out = out + (ldexp(p[i], -shift, p[0].dtype),)
    return out, e + shift


@triton.jit
def compose_scaled(L, R, M: tl.constexpr, CPLX: tl.constexpr):
    """``R o L`` of two maps with exponents (flat tuples ``(E^, b, e)``), see the module docstring.
    Zero entries of ``b_L`` contribute exactly zero, as in :func:`.tile_scan.compose`."""
    W: tl.constexpr = 2 if CPLX else 1
    KE: tl.constexpr = M * M * W
    K: tl.constexpr = KE + M * W
    p = compose(L, _linear(R, M, CPLX), M, CPLX)  # (E^_R E^_L, E^_R b_L)
    out, e = _renormed(p, L[K] + R[K], M, CPLX)
    for i in tl.static_range(M * W):
        out = out + (ldexp(p[KE + i], R[K], p[0].dtype) + R[KE + i],)
    return out + (e,)


@triton.jit
def with_exponents(m, M: tl.constexpr, CPLX: tl.constexpr):
    """Flat maps ``m`` (a tuple of tiles) as maps with exponents: ``E`` renormalised if it is
    past ``BIG`` (a row map of an unstable stretch), else as it is with exponent 0."""
    W: tl.constexpr = 2 if CPLX else 1
    out, e = _renormed(m, tl.zeros_like(m[0]).to(tl.int32), M, CPLX)
    for i in tl.static_range(M * W):
        out = out + (m[M * M * W + i],)
    return out + (e,)


@triton.jit
def fold_scaled(e, first, s, M: tl.constexpr, CPLX: tl.constexpr):
    """Maps with exponents ``e`` with the state ``s`` folded into those at ``first``:
    ``b <- 2**e (E^ s) + b`` there (guarded, as :func:`.tile_scan.fold_map`)."""
    W: tl.constexpr = 2 if CPLX else 1
    KE: tl.constexpr = M * M * W
    K: tl.constexpr = KE + M * W
    f = apply_map(_linear(e, M, CPLX), s, 0, M, CPLX)
    out = ()
    for i in tl.static_range(KE):
        out = out + (e[i],)
    for i in tl.static_range(M * W):
        out = out + (tl.where(first, ldexp(f[i], e[K], e[0].dtype) + e[KE + i], e[KE + i]),)
    return out + (e[K],)


# The combine functions of compose_scaled for tl.associative_scan, which passes the components of
# the two operands as separate arguments, n = W (M^2 + M) + 1 each: the count gives M.
@triton.jit
def _cs_real(*ab):
    n: tl.constexpr = len(ab) // 2
    M: tl.constexpr = 1 if n == 3 else (2 if n == 7 else (3 if n == 13 else 4))
    return compose_scaled(ab[:n], ab[n:], M, False)


@triton.jit
def _cs_cplx(*ab):
    n: tl.constexpr = len(ab) // 2
    M: tl.constexpr = 1 if n == 5 else (2 if n == 13 else (3 if n == 25 else 4))
    return compose_scaled(ab[:n], ab[n:], M, True)


@triton.jit
def scan_scaled(e, M: tl.constexpr, CPLX: tl.constexpr):
    """Inclusive prefix maps (with exponents) of a tile of elements (axis 0), in order."""
    if CPLX:
        out = tl.associative_scan(e, 0, _cs_cplx)
    else:
        out = tl.associative_scan(e, 0, _cs_real)
    return out
