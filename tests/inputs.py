"""Test signals: stable, slowly varying all-pole coefficients and matching inputs.

Coefficients never change i.i.d. per sample: each row moves its poles slowly along a straight
line (in radius and angle) between two random stable pole sets, and the denominator
polynomial is rebuilt from the poles at every sample.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

__all__ = ["stable_coefficients", "make_inputs", "COMPLEX_OF"]

COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def _poly_from_poles(poles: torch.Tensor) -> torch.Tensor:
    """(..., M) poles -> (..., M) coefficients a_1..a_M of prod_k (1 - p_k z^-1)."""
    *lead, M = poles.shape
    c = torch.zeros(*lead, M + 1, dtype=poles.dtype)
    c[..., 0] = 1
    for k in range(M):
        c[..., 1:] = c[..., 1:] - poles[..., k : k + 1] * c[..., :-1]
    return c[..., 1:]


def stable_coefficients(
    B: int,
    T: int,
    M: int,
    *,
    complex_poles: bool = False,
    max_radius: float = 0.95,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Slowly varying stable coefficients, shape `(B, T, M)`, float64 or complex128.

    Real filters use conjugate pole pairs (plus one real pole when ``M`` is odd); with
    ``complex_poles`` every pole is an independent complex number.
    """
    g = generator

    def rand(*shape):
        return torch.rand(*shape, dtype=torch.float64, generator=g)

    t = torch.linspace(0, 1, T, dtype=torch.float64).view(1, T, 1) if T > 1 else torch.zeros(1, T, 1, dtype=torch.float64)
    if complex_poles:
        r = max_radius * rand(2, B, 1, M) ** 0.5
        th = 2 * math.pi * rand(2, B, 1, M)
        radius = r[0] + (r[1] - r[0]) * t
        angle = th[0] + (th[1] - th[0]) * t
        poles = torch.polar(radius, angle)
        return _poly_from_poles(poles)
    n_pairs, n_real = M // 2, M % 2
    r = max_radius * rand(2, B, 1, n_pairs) ** 0.5
    th = math.pi * rand(2, B, 1, n_pairs)
    radius = r[0] + (r[1] - r[0]) * t
    angle = th[0] + (th[1] - th[0]) * t
    p = torch.polar(radius, angle)
    parts = [p, p.conj()]
    if n_real:
        pr = max_radius * (2 * rand(2, B, 1, 1) - 1)
        parts.append((pr[0] + (pr[1] - pr[0]) * t).to(torch.complex128))
    poles = torch.cat(parts, dim=-1)
    return _poly_from_poles(poles).real.contiguous()


def make_inputs(
    B: int,
    T: int,
    M: int,
    dtype: torch.dtype = torch.float64,
    *,
    seed: int = 0,
    device: str | torch.device = "cpu",
    max_radius: Optional[float] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x (B,T), a (B,T,M), zi (B,M))`` of ``dtype`` (real or complex) on ``device``.

    High orders get smaller pole radii by default: a time-varying filter of order 64 with
    poles near the unit circle grows without bound even though every frozen filter is stable.
    """
    g = torch.Generator().manual_seed(seed)
    cplx = dtype.is_complex
    if max_radius is None:
        max_radius = 0.95 if M <= 8 else (0.5 if M <= 16 or not cplx else 0.25)
    a = stable_coefficients(B, T, M, complex_poles=cplx, max_radius=max_radius, generator=g)
    x = torch.randn(B, T, dtype=torch.complex128 if cplx else torch.float64, generator=g)
    zi = torch.randn(B, M, dtype=x.dtype, generator=g)
    return tuple(v.to(device=device, dtype=dtype) for v in (x, a, zi))  # type: ignore[return-value]
