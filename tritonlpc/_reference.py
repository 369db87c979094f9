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

Slice maps. With the state ``s[n] = (y[n], ..., y[n-M+1])`` (``zi``'s ordering), filtering a slice
of ``T`` samples maps the state before it to the state after it affinely, and the adjoint of
the state after it back to the adjoint of the state before it::

    s_end = P s_start + h                  P (B,M,M), h (B,M): :func:`slice_map`
    dL/ds_start = P^H mu + k               k (B,M): :func:`adjoint_slice_map`, mu = dL/ds_end

:func:`apply_map` applies a map so that a zero state stays exactly zero, even through a map
that overflowed (as the sequential recursion, which never forms ``P``). Backends keep ``P`` as
a mantissa and a power-of-two exponent, ``P = P^ 2**e`` (the map of an unstable stretch can
overflow where its product with a tiny state does not), and :func:`apply_map` scales once at
the end. Time-parallel schedules and :mod:`tritonlpc.distributed` compose these maps; backends
compute them with their ``summary`` kernel (:meth:`tritonlpc.backends.base.Backend.summary`).

Control-rate coefficients. With a hop ``H``, frames ``a_f (B,F,M)`` at samples ``0, H, 2H, ...``
(``F >= (T-1)//H + 2``) stand for the per-sample coefficients (:func:`interpolate`)::

    a[n] = a_f[j] + w[r] (a_f[j+1] - a_f[j]),    j = n // H,  r = n - j H,  w[r] = r / H

``w`` is rounded once to the working precision (:func:`interpolation_weights`); kernels read the
same table. The gradient of the frames is the transpose (:func:`interpolate_transpose`): frame
``j`` collects ``(1 - w[r]) dL/da[n]`` from interval ``j`` and ``w[r] dL/da[n]`` from interval ``j-1``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

__all__ = [
    "interpolation_weights",
    "frames_needed",
    "interpolate",
    "interpolate_transpose",
    "allpole",
    "reverse",
    "coefficients",
    "end_state",
    "ldexp",
    "apply_map",
    "slice_map",
    "adjoint_slice_map",
]


def coefficients(a: torch.Tensor, conj_a: bool = False, neg_a: bool = False) -> torch.Tensor:
    """The coefficients the recursion actually uses: ``a``, negated and/or conjugated."""
    A = -a if neg_a else a
    return A.conj() if conj_a and A.is_complex() else A


def interpolation_weights(hop: int, dtype: torch.dtype, device: Optional[torch.device] = None) -> torch.Tensor:
    """``w[r] = r / hop`` for ``r = 0..hop-1``, shape `(hop,)`, computed in float64 and rounded
    to ``dtype``'s real dtype (the table every backend interpolates with)."""
    real = dtype.to_real() if dtype.is_complex else dtype
    return (torch.arange(hop, dtype=torch.float64, device=device) / hop).to(real)


def frames_needed(T: int, hop: int) -> int:
    """The fewest frames that cover ``T`` samples at hop ``hop``: ``(T - 1) // hop + 2``."""
    return (T - 1) // hop + 2


def interpolate(frames: torch.Tensor, hop: int, T: int) -> torch.Tensor:
    """Per-sample coefficients from control frames (module docstring), differentiable.

    Args:
        frames: `(B, F, M)`, ``F >= frames_needed(T, hop)``. hop: samples per frame. T: samples.

    Returns:
        `(B, T, M)`.
    """
    n = torch.arange(T, device=frames.device)
    j = n // hop
    w = interpolation_weights(hop, frames.dtype, frames.device)[n - j * hop].unsqueeze(1)
    lo, hi = frames[:, j], frames[:, j + 1]
    return lo + w * (hi - lo)


def interpolate_transpose(grad: torch.Tensor, hop: int, F: int) -> torch.Tensor:
    """The transpose of :func:`interpolate`: ``dL/dframes`` from ``dL/da``, summed per frame in a
    fixed order (deterministic on every device), differentiable.

    Args:
        grad: `(B, T, M)`. hop: samples per frame. F: frames (``>= frames_needed(T, hop)``).

    Returns:
        `(B, F, M)`.
    """
    B, T, M = grad.shape
    K = (T + hop - 1) // hop  # intervals that hold samples
    w = interpolation_weights(hop, grad.dtype, grad.device).unsqueeze(1)
    g = torch.nn.functional.pad(grad, (0, 0, 0, K * hop - T)).view(B, K, hop, M)
    hi = (g * w).sum(2)  # to frame j + 1
    lo = (g * (1 - w)).sum(2)  # to frame j
    out = grad.new_zeros(B, F, M)
    out[:, :K] += lo
    out[:, 1 : K + 1] += hi
    return out


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


def end_state(y: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
    """The state after a slice, ``(y[T-1], ..., y[T-M])`` with ``y[-k] = zi[k-1]``, `(B, M)`.

    Args:
        y: the slice's output, `(B, T)`. zi: the state before it, `(B, M)`.
    """
    T, M = y.shape[1], zi.shape[1]
    if T >= M:
        return y[:, T - M :].flip(1)
    return torch.cat([zi.flip(1), y], dim=1)[:, T:].flip(1)


def ldexp(v: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``v * 2**k`` elementwise (``k`` an integer tensor that broadcasts against ``v``), with
    two power-of-two factors of ``v``'s real dtype so that ``2**k`` itself never overflows."""
    real = v.real.dtype if v.is_complex() else v.dtype
    k = k.to(torch.float64).clamp(-4000, 4000)
    half = torch.div(k, 2, rounding_mode="floor")
    return v * torch.exp2(half).to(real) * torch.exp2(k - half).to(real)


def apply_map(P: torch.Tensor, h: torch.Tensor, s: torch.Tensor, e: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``P 2**e s + h`` for batches of small maps, `(B,M,M)`, `(B,M)`, `(B,M)`, ``e`` `(B,)`
    integer (``None``: 0) -> `(B,M)`.

    Computed as ``2**(e + es) (P (s 2**-es)) + h`` with ``es`` the exponent of the largest
    finite ``|s_j|`` of each row: it overflows only where the result does. A zero component of
    ``s`` contributes exactly zero even where ``P`` overflowed (``inf`` or ``NaN`` after an
    unstable stretch): the sequential recursion carries a zero state through such a stretch
    without ever multiplying by the overflowed map, and so does this.
    """
    mag = s.abs()
    es = torch.frexp(torch.where(mag.isfinite(), mag, 0).amax(-1))[1]
    es = torch.where(mag.isfinite().all(-1), es, 0)  # a non-finite state is carried unscaled
    s_ = ldexp(s, -es[:, None]).unsqueeze(-2)
    terms = torch.where(s_ == 0, P.new_zeros(()), P * s_).sum(-1)
    return h + ldexp(terms, (es if e is None else e + es)[:, None])


def slice_map(x: torch.Tensor, a: torch.Tensor, *, neg_a: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """The affine map ``s_end = P s_start + h`` of filtering ``x`` with ``a`` (:func:`allpole`).

    ``h`` is the end state from the zero state; column ``j`` of ``P`` the end state from the unit
    state ``e_j`` with a zero input. ``T`` may be 0 (``P = I``, ``h = 0``) or smaller than ``M``.

    Args:
        x: `(B, T)`. a: `(B, T, M)`. neg_a: the recursion uses ``-a``.

    Returns:
        ``(P (B,M,M), h (B,M))``.
    """
    B, T, M = a.shape
    zero = x.new_zeros(B, M)
    h = end_state(allpole(x, a, zero, neg_a=neg_a), zero)
    P = x.new_zeros(B, M, M)
    for j in range(M):
        unit = x.new_zeros(B, M)
        unit[:, j] = 1
        P[:, :, j] = end_state(allpole(torch.zeros_like(x), a, unit, neg_a=neg_a), unit)
    return P, h


def adjoint_slice_map(g: torch.Tensor, a: torch.Tensor, *, neg_a: bool = False) -> torch.Tensor:
    """``k = dL/ds_start`` of a slice whose output gradient is ``g = dL/dy`` and whose end state
    has a zero gradient (torch's convention for complex numbers: the adjoint uses ``conj(A)``)::

        u = reverse(g, a, conj_a=True),    k[j] = -sum_{n=0..M-1-j, n<T} conj(A[n, n+j]) u[n]

    Args:
        g: `(B, T)`. a: `(B, T, M)`. neg_a: the recursion uses ``-a``.

    Returns:
        ``k (B,M)`` (zeros when ``T == 0``).
    """
    B, T, M = a.shape
    A = coefficients(a, conj_a=True, neg_a=neg_a)
    u = reverse(g, a, conj_a=True, neg_a=neg_a)
    k = g.new_zeros(B, M, dtype=u.dtype)
    for j in range(M):
        for n in range(min(T, M - j)):
            k[:, j] = k[:, j] - A[:, n, n + j] * u[:, n]
    return k
