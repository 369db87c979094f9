"""Plain sequential reference of the time-varying all-pole filter.

This module holds the math once, written for a reader rather than for speed. Every backend is
tested against it. It is built from differentiable torch operations (a Python loop over time,
vectorised over the batch), so ``torch.autograd`` of :func:`allpole` gives exact reference
gradients, double backward and forward-mode AD without relying on any derivation in this
package. Use it in float64 / complex128 and at small ``T``: it is slow.

Notation (shared by every backend)::

    y[n] = x[n] - sum_{i=1..M} A[n, i-1] * y[n-i],      y[-k] = zi[k-1]  (k = 1..M)

with ``A = a``, or ``-a`` when ``neg_a``, conjugated when ``conj_a``. The adjoint ("reverse")
filter, which gives ``dL/dx`` from ``dL/dy``, runs backwards in time reading the lag-i
coefficient at time ``n+i``::

    u[n] = g[n] - sum_{i=1..M} A[n+i, i-1] * u[n+i]     (terms with n+i >= T vanish)
"""

from __future__ import annotations

from typing import Optional

import torch

__all__ = ["allpole", "reverse", "coefficients"]


def coefficients(a: torch.Tensor, conj_a: bool = False, neg_a: bool = False) -> torch.Tensor:
    """The coefficients the recursion actually uses: ``a``, negated and/or conjugated."""
    A = -a if neg_a else a
    return A.conj() if conj_a and A.is_complex() else A


def allpole(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    *,
    conj_a: bool = False,
    neg_a: bool = False,
) -> torch.Tensor:
    """Sequential all-pole filter ``y[n] = x[n] - sum_i A[n,i-1] y[n-i]``.

    Args:
        x: input signal, shape `(B, T)`.
        a: coefficients, shape `(B, T, M)`; ``a[:, n, i-1]`` multiplies ``y[n-i]``.
        zi: initial conditions ``(y[-1], ..., y[-M])``, shape `(B, M)`; zeros if ``None``.
        conj_a, neg_a: use ``conj(a)`` and/or ``-a`` instead of ``a``.

    Returns:
        y, shape `(B, T)`. Differentiable in ``x``, ``a`` and ``zi`` by ordinary autograd.
    """
    B, T, M = a.shape
    A = coefficients(a, conj_a, neg_a)
    dtype = torch.promote_types(torch.promote_types(x.dtype, A.dtype), zi.dtype if zi is not None else x.dtype)
    if zi is None:
        zi = x.new_zeros(B, M, dtype=dtype)
    # past[k-1] holds y[n-k]; start from the initial conditions.
    past = [zi[:, k].to(dtype) for k in range(M)]
    out = []
    for n in range(T):
        acc = x[:, n].to(dtype)
        for i in range(1, M + 1):
            acc = acc - A[:, n, i - 1] * past[i - 1]
        out.append(acc)
        past = [acc] + past[:-1]
    if T == 0:
        return x.new_zeros(B, 0, dtype=dtype)
    return torch.stack(out, dim=1)


def reverse(
    g: torch.Tensor,
    a: torch.Tensor,
    *,
    conj_a: bool = False,
    neg_a: bool = False,
) -> torch.Tensor:
    """Sequential reverse (adjoint) filter ``u[n] = g[n] - sum_i A[n+i,i-1] u[n+i]``.

    With ``conj_a=True`` this is ``dL/dx`` of :func:`allpole` for ``dL/dy = g``.

    Args:
        g: signal, shape `(B, T)`.
        a: coefficients, shape `(B, T, M)`, read at shifted times (lag i at time n+i).

    Returns:
        u, shape `(B, T)`.
    """
    B, T, M = a.shape
    A = coefficients(a, conj_a, neg_a)
    dtype = torch.promote_types(g.dtype, A.dtype)
    u: list = [None] * T
    for n in range(T - 1, -1, -1):
        acc = g[:, n].to(dtype)
        for i in range(1, M + 1):
            if n + i < T:
                acc = acc - A[:, n + i, i - 1] * u[n + i]
        u[n] = acc
    if T == 0:
        return g.new_zeros(B, 0, dtype=dtype)
    return torch.stack(u, dim=1)
