"""Power-of-two scaling of the walk path's chunk maps (the design of
:mod:`tritonlpc.backends._numba_scale`, in Triton).

A chunk map's transition ``P`` is kept as a mantissa ``P^`` and an int32 exponent ``e``
(``P = P^ 2**e``): the summary kernels start from ``e = 0`` and renormalise ``P^`` by the exact
factor ``2**-STEP`` when its largest entry passes ``BIG`` (``2**STEP`` back while ``e > 0`` and it
falls below ``SMALL``), and the carry applies a map to a state ``s`` as
``2**(e + es) (P^ (s 2**-es)) + h`` with ``es`` the exponent of the state's largest entry. So a
map overflows only where its product with the actual state does; on a filter whose maps stay
below ``BIG`` the exponent stays 0 and the result is the plain map's, bit for bit (scaling by
powers of two is exact).
"""

from __future__ import annotations

import triton
import triton.language as tl

__all__ = ["BIG", "SMALL", "STEP", "exponent", "ldexp", "renorm", "largest_bits", "shift_of"]

STEP = 64
BIG = 2.0**32
SMALL = 2.0**-32


@triton.jit
def exponent(m, CDT: tl.constexpr):
    """The binary exponent of ``m >= 0`` (int32; ``floor(log2 m)`` for a normal ``m``; 0 for zero,
    subnormal, infinite or NaN ``m``, which are left unscaled)."""
    if CDT == tl.float64:
        k = ((m.to(tl.int64, bitcast=True) >> 52) & 0x7FF).to(tl.int32) - 1023
        ok = (k > -1023) & (k < 1024)
    else:
        k = ((m.to(tl.int32, bitcast=True) >> 23) & 0xFF) - 127
        ok = (k > -127) & (k < 128)
    return tl.where(ok, k, 0)


@triton.jit
def _pow2(k, CDT: tl.constexpr):
    """``2**k`` in ``CDT`` for an int32 ``k`` within the normal exponent range."""
    if CDT == tl.float64:
        return ((k.to(tl.int64) + 1023) << 52).to(tl.float64, bitcast=True)
    else:
        return ((k + 127) << 23).to(tl.float32, bitcast=True)


@triton.jit
def ldexp(v, k, CDT: tl.constexpr):
    """``v 2**k`` for an int32 ``k``: two exact power-of-two factors, exact for ``|k| <= 250``
    (float32; 2000 for float64). ``k`` is clamped to that: past it the true result is 0 or inf
    unless ``|v|`` is below ``2**-122`` (float32), i.e. a state within a factor 16 of the
    smallest normal number entering a map of more than ``2**250``."""
    lim: tl.constexpr = 2000 if CDT == tl.float64 else 250
    k = tl.minimum(tl.maximum(k, -lim), lim)
    half = k // 2
    return v * _pow2(half, CDT) * _pow2(k - half, CDT)


@triton.jit
def renorm(m, e):
    """``(factor, new exponent)`` for mantissas whose largest magnitude is ``m`` and exponent
    ``e``: ``2**-STEP`` above ``BIG``, ``2**STEP`` below ``SMALL`` while ``e > 0``, else 1."""
    up = m > 4294967296.0  # BIG
    down = (e > 0) & (m < 2.3283064365386963e-10)  # SMALL
    f = tl.where(up, 5.421010862427522e-20, tl.where(down, 1.8446744073709552e19, 1.0))  # 2**-STEP, 2**STEP
    return f, e + tl.where(up, 64, tl.where(down, -64, 0))


@triton.jit
def largest_bits(p, n: tl.constexpr):
    """The largest ``|p[i]|``, ``i < n``, as int32 bits that order as the magnitudes do: float32
    its bits (one ``FMNMX`` an entry); float64 the high word, sign cleared (its exponent and the
    top 20 mantissa bits; an integer max, where a float64 max is a compare and two selects)."""
    if p[0].dtype == tl.float64:
        h = (p[0].to(tl.int64, bitcast=True) >> 32).to(tl.int32) & 0x7FFFFFFF
        for i in tl.static_range(1, n):
            h = tl.maximum(h, (p[i].to(tl.int64, bitcast=True) >> 32).to(tl.int32) & 0x7FFFFFFF)
    else:
        m = tl.abs(p[0])
        for i in tl.static_range(1, n):
            m = tl.maximum(m, tl.abs(p[i]))
        h = m.to(tl.int32, bitcast=True)
    return h


@triton.jit
def shift_of(h, e, CDT: tl.constexpr):
    """``(2**-k, k)`` for mantissas whose largest magnitude ``m`` has the bits ``h``
    (:func:`largest_bits`) and exponent ``e``: ``k`` the binary exponent of ``m`` when ``m >= BIG``,
    or when ``m < SMALL`` while ``e > 0`` (at least ``-e``), else 0; ``|k| <= 126`` (float32) or
    ``1022`` (float64), so ``2**-k`` is one normal factor (``m`` zero or subnormal counts as
    ``2**-127`` or ``2**-1023``, infinite as past the largest; a NaN entry counts as past the
    largest in float64; float32's maximum may pass over it)."""
    lim: tl.constexpr = 1022 if CDT == tl.float64 else 126
    if CDT == tl.float64:
        k = (h >> 20) - 1023
    else:
        k = (h >> 23) - 127
    up = k >= 32  # BIG = 2**32
    down = (e > 0) & (k < -32)  # SMALL = 2**-32
    k = tl.where(up, tl.minimum(k, lim), tl.where(down, tl.maximum(k, tl.maximum(-e, -lim)), 0))
    if CDT == tl.float64:
        f = ((1023 - k).to(tl.int64) << 52).to(tl.float64, bitcast=True)
    else:
        f = ((127 - k) << 23).to(tl.float32, bitcast=True)
    return f, k
