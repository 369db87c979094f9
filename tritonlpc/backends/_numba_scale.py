"""Scaled chunk maps of the Numba kernels: a map ``P`` kept as a mantissa ``P^`` and an exponent
``e`` (``P = P^ 2**e``), so that the map of a stretch where the filter is unstable does not
overflow where its product with the actual (tiny) state would not.

The map builders (``_map_segment`` of :mod:`._numba_forward` and :mod:`._numba_reverse`) start
from ``e = 0`` and renormalise ``P^`` by the exact factor ``2**-STEP`` when its largest entry
passes ``BIG``, and back by ``2**STEP`` while ``e > 0`` and it falls below ``SMALL``: on a
filter that never grows past ``BIG`` over a chunk ``e`` stays 0 and the map is the plain one,
bit for bit (:func:`affine_scaled` then is :func:`._numba_support.affine`).

Orders 1 and 2 (lanes in registers) check every step; higher orders check after every block of
8 steps (:func:`renorm`; headroom ``2**96`` above ``BIG``, i.e. growth up to ``2**12`` a step).
"""

from __future__ import annotations

import math

from ._numba_support import affine, jit

__all__ = ["BIG", "SMALL", "STEP", "mag", "ldexp", "affine_scaled", "renorm", "renorm_one"]

STEP = 64
BIG = 2.0**32
SMALL = 2.0**-32


@jit(inline="always")
def mag(v):
    """``|re v| + |im v|`` (``|v|`` for real ``v``): within a factor sqrt(2) of ``|v|``,
    without the complex ``hypot``."""
    return abs(v.real) + abs(v.imag)


@jit
def ldexp(v, k):
    """``v * 2**k`` for any integer ``k``, in double precision (exact for float32 and complex64
    values; for float64 a single rounding unless the result is subnormal). The caller's
    store into its array rounds once."""
    r = v * 1.0
    while k > 512:
        r = r * 2.0**512
        k -= 512
    while k < -512:
        r = r * 2.0**-512
        k += 512
    return r * math.ldexp(1.0, k)


@jit
def affine_scaled(P, e, s, h):
    """``P^ 2**e @ s + h`` computed as ``2**(e + es) (P^ @ (s 2**-es)) + h`` with ``es`` the
    exponent of the largest ``|s_j|``: overflows only where the result does. ``e == 0``:
    exactly :func:`._numba_support.affine`. A zero ``s_j`` contributes exactly zero."""
    if e == 0:
        return affine(P, s, h)
    out = h.copy()
    m = 0.0
    finite = True
    for j in range(P.shape[1]):
        v = mag(s[j])
        if v > m:
            m = v
        if not math.isfinite(v):
            finite = False  # inf or NaN: carried through unscaled (es = 0), as by affine
    if m == 0.0 and finite:
        return out
    es = math.frexp(m)[1] if finite else 0
    for i in range(P.shape[0]):
        acc = 0.0  # double precision (complex if the products are)
        for j in range(P.shape[1]):
            sj = s[j]
            if sj != 0:
                acc += P[i, j] * ldexp(sj, -es)
        out[i] = out[i] + ldexp(acc, e + es)
    return out


@jit(inline="always")
def renorm_one(v, e, f):
    """Renormalise one mantissa ``v`` (a lane of order 1, kept in a register) of a map with
    exponent ``e``, as :func:`renorm` does a block of lanes, but one ``STEP`` at a time (checked
    every step). Returns ``(v, e)``."""
    m = mag(v)
    if m > BIG:
        return v * f[0], e + STEP
    if e > 0 and m < SMALL:
        return v * f[1], e - STEP
    return v, e


@jit
def _rescale(V, j0, j1, e, m, f):
    """The rare part of :func:`renorm`, out of line."""
    while m > BIG:
        for i in range(V.shape[0]):
            for j in range(j0, j1):
                V[i, j] *= f[0]
        e, m = e + STEP, m * 2.0**-STEP
    while e > 0 and m < SMALL:
        for i in range(V.shape[0]):
            for j in range(j0, j1):
                V[i, j] *= f[1]
        e, m = e - STEP, m * 2.0**STEP
    return e


@jit(inline="always")
def renorm(V, j0, j1, e, f):
    """Renormalise the mantissa lanes ``V[:, j0:j1]`` (in place) of a map with exponent ``e``:
    by ``f[0] = 2**-STEP`` while its largest entry is above ``BIG``, by ``f[1] = 2**STEP``
    while ``e > 0`` and it is below ``SMALL``. Returns the new exponent."""
    m = mag(V[0, j0])
    for i in range(V.shape[0]):
        for j in range(j0, j1):
            v = mag(V[i, j])
            m = v if v > m else m
    if m > BIG or (e > 0 and m < SMALL):
        e = _rescale(V, j0, j1, e, m, f)
    return e
