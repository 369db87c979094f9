"""Helpers for testing code against tritonlpc's float64 reference (public, like ``torch.testing``).

Used by tritonlpc's own test suite (``tests/``) and benchmarks (``bench/``), and usable by code
built on tritonlpc::

    from tritonlpc.testing import TOL, assert_rel_close, make_inputs, reference

    x, a, zi = make_inputs(4, 1000, 2, torch.float32, seed=1)
    assert_rel_close(tritonlpc.sample_wise_lpc(x, a, zi), reference(x, a, zi), TOL[torch.float32])

* :data:`TOL`, :func:`rel_error`, :func:`assert_rel_close`: how close a result must be to the
  reference: ``max |actual - expected| <= tol * max(max |expected|, 1)`` over the entries where
  ``expected`` is finite, with NaN and infinities in the same places;
* :func:`reference`: the sequential recursion :func:`tritonlpc._reference.allpole`, run in
  float64 / complex128 on the CPU whatever the inputs' dtype and device;
* :func:`growth_then_decay`: a deliberately unstable stretch (tests of chunk maps that must not
  overflow where the recursion stays finite);
* :func:`stable_coefficients` / :func:`make_inputs` (``hop=``: control frames): slowly varying stable filters. The
  coefficients never change i.i.d. per sample (no real filter does, and such filters blow up):
  each row's poles move piecewise linearly, in radius and angle, through ``n_knots`` random
  stable pole sets spread over the ``T`` samples (by default two: a straight line), and the
  denominator polynomial is rebuilt from the poles at every sample. Real filters have conjugate
  pole pairs (plus one real pole for odd orders). High orders get smaller pole radii
  (:func:`default_max_radius`): a time-varying filter of order 64 with poles near the unit
  circle grows without bound even though every frozen filter is stable.

:func:`make_inputs` draws everything in float64 on the CPU from its ``seed``, so a seed gives the
same inputs on every machine and device; the tests' thresholds rely on that, so the generation
must not change (a change is a change of every test's inputs).
"""

from __future__ import annotations

import math
from typing import Dict, Optional, Tuple, Union

import torch
from torch import Tensor

from . import _reference

__all__ = [
    "TOL",
    "COMPLEX_OF",
    "wide_dtype",
    "rel_error",
    "assert_rel_close",
    "reference",
    "default_max_radius",
    "stable_coefficients",
    "make_inputs",
    "growth_then_decay",
]

TOL: Dict[torch.dtype, float] = {
    torch.float64: 1e-9,
    torch.complex128: 1e-9,
    torch.float32: 2e-4,
    torch.complex64: 2e-4,
    # half precision: computed in float32, so one rounding of the result (+ slack)
    torch.float16: 4 * torch.finfo(torch.float16).eps,
    torch.bfloat16: 4 * torch.finfo(torch.bfloat16).eps,
}
"""Relative tolerance of a result against the float64 reference, by the dtype computed in."""

COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def wide_dtype(dtype: torch.dtype) -> torch.dtype:
    """float64 for real dtypes, complex128 for complex ones: what the reference runs in."""
    return torch.complex128 if dtype.is_complex else torch.float64


def rel_error(actual: Tensor, expected: Tensor) -> float:
    """``max |actual - expected| / max(|expected|, 1)`` over the entries where ``expected`` is
    finite (0.0 if there are none), computed in ``expected``'s dtype on the CPU."""
    a, e = actual.detach().cpu().to(expected.dtype), expected.detach().cpu()
    mask = e.isfinite()
    if not mask.any():
        return 0.0
    err = (a[mask] - e[mask]).abs().max().item()
    return err / max(e[mask].abs().max().item(), 1.0)


def assert_rel_close(actual: Tensor, expected: Tensor, rtol: float) -> None:
    """Raise ``AssertionError`` unless ``rel_error(actual, expected) <= rtol``, the shapes are the
    same, and NaN and infinite values sit in the same places (infinities with the same sign).
    Like ``torch.testing.assert_close``, it works under ``python -O``."""
    if actual.shape != expected.shape:
        raise AssertionError(f"shapes differ: {tuple(actual.shape)} vs {tuple(expected.shape)}")
    a, e = actual.detach().cpu().to(expected.dtype), expected.detach().cpu()
    if not torch.equal(a.isnan(), e.isnan()):
        raise AssertionError("NaN in different places")
    if not (torch.equal(a.isinf(), e.isinf()) and torch.equal(a[e.isinf()], e[e.isinf()])):
        raise AssertionError("inf in different places")
    err = rel_error(a, e)
    if not err <= rtol:
        raise AssertionError(f"relative error {err:.3g} > {rtol:.1g}")


def reference(
    x: Tensor,
    a: Tensor,
    zi: Optional[Tensor] = None,
    *,
    conj_a: bool = False,
    neg_a: bool = False,
    hop: Optional[int] = None,
) -> Tensor:
    """The sequential reference :func:`tritonlpc._reference.allpole` on the CPU in float64 (complex128
    for complex inputs): ``x (B,T)``, ``a (B,T,M)`` (control frames `(B,F,M)` with ``hop``,
    interpolated by :func:`tritonlpc._reference.interpolate`), ``zi (B,M)`` or ``None`` -> ``y (B,T)``."""
    hi = wide_dtype(x.dtype)
    z = zi.cpu().to(hi) if zi is not None else None
    a = a.cpu().to(hi)
    if hop is not None:
        a = _reference.interpolate(a, hop, x.shape[1])
    return _reference.allpole(x.cpu().to(hi), a, z, conj_a=conj_a, neg_a=neg_a)


def default_max_radius(M: int, complex_poles: bool) -> float:
    """Pole radius bound of the test filters: high orders get smaller radii, since a time-varying
    filter of order 64 with poles near the unit circle grows without bound even though every
    frozen filter is stable."""
    if M <= 8:
        return 0.95
    return 0.5 if (M <= 16 or not complex_poles) else 0.25


def _poly_from_poles(poles: Tensor) -> Tensor:
    """``(..., M)`` poles -> ``(..., M)`` coefficients ``a_1..a_M`` of ``prod_k (1 - p_k z^-1)``."""
    *lead, M = poles.shape
    c = torch.zeros(*lead, M + 1, dtype=poles.dtype, device=poles.device)
    c[..., 0] = 1
    for k in range(M):
        c[..., 1:] = c[..., 1:] - poles[..., k : k + 1] * c[..., :-1]
    return c[..., 1:]


def _along_knots(v: Tensor, t: Tensor) -> Tensor:
    """``v (K, B, 1, P)`` knot values, ``t (1, T, 1)`` in ``[0, 1]`` -> ``(B, T, P)``, piecewise
    linear through the ``K`` knots spread evenly over ``[0, 1]`` (for ``K = 2``:
    ``v[0] + (v[1] - v[0]) * t``, exactly)."""
    K = v.shape[0]
    if K == 2:
        return v[0] + (v[1] - v[0]) * t
    s = t * (K - 1)
    i = s.floor().clamp(0, K - 2)
    idx = i.long().view(-1)
    lo = v[idx].squeeze(2).transpose(0, 1)  # (B, T, P)
    hi = v[idx + 1].squeeze(2).transpose(0, 1)
    return lo + (hi - lo) * (s - i)


def stable_coefficients(
    B: int,
    T: int,
    M: int,
    *,
    complex_poles: bool = False,
    max_radius: Optional[float] = None,
    n_knots: int = 2,
    dtype: torch.dtype = torch.float64,
    device: Union[str, torch.device] = "cpu",
    generator: Optional[torch.Generator] = None,
) -> Tensor:
    """Slowly varying stable coefficients ``a`` of shape `(B, T, M)`, made on ``device``.

    Each row's poles move piecewise linearly (in radius and angle) through ``n_knots`` random
    stable pole sets spread evenly over the ``T`` samples (``n_knots = 2``: one straight line),
    and the denominator polynomial is rebuilt from the poles at every sample. Real filters use
    conjugate pole pairs (plus one real pole when ``M`` is odd) and return ``dtype`` (float32 or
    float64); with ``complex_poles`` every pole is an independent complex number and ``a`` is
    complex of ``dtype``'s precision. ``max_radius`` defaults to :func:`default_max_radius`.
    ``generator`` (on ``device``) draws the pole sets.
    """
    if n_knots < 2:
        raise ValueError(f"n_knots must be at least 2, got {n_knots}")
    rmax = default_max_radius(M, complex_poles) if max_radius is None else max_radius
    real = dtype.to_real() if dtype.is_complex else dtype
    cdt = real.to_complex()
    K = n_knots

    def rand(*shape: int) -> Tensor:
        return torch.rand(*shape, dtype=real, device=device, generator=generator)

    if T > 1:
        t = torch.linspace(0, 1, T, dtype=real, device=device).view(1, T, 1)
    else:
        t = torch.zeros(1, T, 1, dtype=real, device=device)
    if complex_poles:
        r = rmax * rand(K, B, 1, M) ** 0.5
        th = 2 * math.pi * rand(K, B, 1, M)
        poles = torch.polar(_along_knots(r, t), _along_knots(th, t))
        return _poly_from_poles(poles)
    n_pairs, n_real = M // 2, M % 2
    r = rmax * rand(K, B, 1, n_pairs) ** 0.5
    th = math.pi * rand(K, B, 1, n_pairs)
    p = torch.polar(_along_knots(r, t), _along_knots(th, t))
    parts = [p, p.conj()]
    if n_real:
        pr = rmax * (2 * rand(K, B, 1, 1) - 1)
        parts.append(_along_knots(pr, t).to(cdt))
    poles = torch.cat(parts, dim=-1)
    return _poly_from_poles(poles).real.contiguous()


def make_inputs(
    B: int,
    T: int,
    M: int,
    dtype: torch.dtype = torch.float64,
    *,
    seed: int = 0,
    device: Union[str, torch.device] = "cpu",
    max_radius: Optional[float] = None,
    hop: Optional[int] = None,
) -> Tuple[Tensor, Tensor, Tensor]:
    """``(x (B,T), a (B,T,M), zi (B,M))`` of ``dtype`` (real or complex) on ``device``: made in
    float64 / complex128 on the CPU from ``seed`` (``a`` by :func:`stable_coefficients`, then
    ``x`` and ``zi`` standard normal), then converted. The same ``seed`` gives the same values
    on every machine and device.

    With ``hop``, ``a`` holds control frames for ``sample_wise_lpc(..., hop=hop)``: the fewest
    that cover ``T`` samples, ``(B, (T-1)//hop + 2, M)``, their poles moving through three stable
    pole sets."""
    g = torch.Generator().manual_seed(seed)
    if hop is None:
        a = stable_coefficients(B, T, M, complex_poles=dtype.is_complex, max_radius=max_radius, generator=g)
    else:
        F = _reference.frames_needed(T, hop)
        a = stable_coefficients(B, F, M, complex_poles=dtype.is_complex, max_radius=max_radius, n_knots=3, generator=g)
        a = a.contiguous()
    return _with_signal(a, T, dtype, g, device)


def _with_signal(
    a: Tensor, T: int, dtype: torch.dtype, g: torch.Generator, device: Union[str, torch.device]
) -> Tuple[Tensor, Tensor, Tensor]:
    """``(x, a, zi)``: ``x (B,T)`` and ``zi (B,M)`` standard normal from ``g`` in float64 / complex128
    (after ``a``), all three converted to ``dtype`` on ``device``."""
    hi = wide_dtype(dtype)
    B, _, M = a.shape
    x = torch.randn(B, T, dtype=hi, generator=g)
    zi = torch.randn(B, M, dtype=hi, generator=g)
    x, a, zi = (v.to(device=device, dtype=dtype) for v in (x, a, zi))
    return x, a, zi


def growth_then_decay(T: int, M: int, dtype: torch.dtype, start: int, K: int, growth: float) -> Tensor:
    """``(1, T, M)`` coefficients with poles of radius ``growth`` over ``[start, start + K)`` and
    0.5 elsewhere, at ``M`` distinct angles in ``[-2.4, 2.4]`` (conjugate pairs and a real pole:
    real coefficients; rotated by 0.3 rad for complex dtypes). A state entering the stretch grows
    by about ``growth**K`` and then decays: the chunk map of the stretch can overflow where the
    recursion from a tiny state stays far below the float range."""
    angles = torch.linspace(-2.4, 2.4, M, dtype=torch.float64) if M > 1 else torch.zeros(1, dtype=torch.float64)
    angles = angles + (0.3 if dtype.is_complex else 0.0)
    coef = [_poly_from_poles(r * torch.exp(1j * angles)) for r in (growth, 0.5)]
    if not dtype.is_complex:
        coef = [c.real for c in coef]
    n = torch.arange(T)[:, None]
    return torch.where((n >= start) & (n < start + K), coef[0], coef[1])[None].to(dtype)
