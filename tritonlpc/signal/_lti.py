r"""Time-invariant IIR filtering on rows: the FIR part in torch, the all-pole part on tritonlpc.

A filter ``(b, a)`` normalised so that ``a[0] = 1`` (``K = len(b) - 1``, ``P = len(a) - 1``,
``N = max(K, P)``, both padded with zeros to length ``N + 1`` where an index runs past them) is

.. math::

    w[n] = \sum_{k=0}^{K} b[k]\, x[n-k], \qquad
    y[n] = w[n] - \sum_{k=1}^{P} a[k]\, y[n-k],

the FIR ``b`` followed by the all-pole ``a``: ``w`` comes from a convolution, ``y`` from
:func:`tritonlpc.sample_wise_lpc` with ``a[1:]`` expanded over time (stride 0, never copied).

**State.** scipy's transposed direct form II keeps ``N`` values; after sample ``n``

.. math::

    z_i[n] = \sum_{k=i+1}^{N} \bigl(b[k]\, x[n+i+1-k] - a[k]\, y[n+i+1-k]\bigr),
    \qquad i = 0, \dots, N-1,

so that ``y[n+1] = b[0] x[n+1] + z_0[n]``. The state is therefore a fixed linear map of the
last ``N`` inputs and outputs (the FIR history and the all-pole state): with
``j = k - i - 1``, ``z_i = \sum_{j=0}^{N-1-i} (b[i+1+j] x[n-j] - a[i+1+j] y[n-j])`` — a Hankel
matrix of ``b`` applied to the reversed input history minus one of ``a`` applied to the
reversed output history. That gives

* ``zf`` (the state after the last sample ``T - 1``) from the last ``N`` samples of ``x`` and
  ``y``, and ``lfiltic`` (the state from given past values) from the same Hankel matrices;
* the effect of an initial state ``zi`` (the state "after sample -1"): the sums above over the
  unknown past contribute exactly ``zi[n]`` to ``y[n]`` for ``n < N`` (each step shifts the
  state down by one), so ``zi`` is *added to the FIR output* ``w[0:N]`` and the all-pole filter
  starts from rest. No past values need to be reconstructed (which would need ``a[N] != 0``),
  and the map is linear, hence differentiable, in ``zi``. When ``T < N``, the part of ``zi``
  not yet consumed, ``zi[T:]``, is still in the final state: ``zf[i] += zi[T + i]``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn.functional as F

from .._autograd import needs_autograd
from ..functional import sample_wise_lpc

ArrayLike = Union[torch.Tensor, Sequence[float], float]

HALF = (torch.float16, torch.bfloat16)


def as_tensor(name: str, value: ArrayLike, like: Optional[torch.Tensor] = None) -> torch.Tensor:
    """A tensor from ``value``: tensors as they are; sequences and numbers on ``like``'s device in
    ``like``'s floating dtype (float32 for float16/bfloat16; complex values stay complex); without
    ``like``, numpy's dtype (Python numbers: float64 / complex128)."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a tensor or a sequence of numbers, got {type(value).__name__}")
    try:  # through numpy: Python numbers become float64 / complex128 (torch would pick float32)
        arr = np.asarray(value)
        if arr.dtype == object:
            raise TypeError(f"not numbers (dtype object): {value!r}")
        t = torch.as_tensor(arr, device=like.device if like is not None else None)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{name} must be a tensor or a sequence of numbers: {exc}") from None
    if like is not None and (like.is_floating_point() or like.is_complex()):
        dtype = torch.float32 if like.dtype in HALF else like.dtype  # half inputs compute in float32
        return t.to(torch.promote_types(dtype, t.dtype) if t.is_complex() else dtype)
    return t


def promoted(given: Sequence[object], converted: Sequence[torch.Tensor]) -> Tuple[torch.Tensor, ...]:
    """The converted arguments that take part in dtype promotion: those given as tensors, and
    complex ones (sequences of real numbers follow ``x``'s dtype)."""
    return tuple(c for g, c in zip(given, converted) if isinstance(g, torch.Tensor) or c.is_complex())


def check_tensor(name: str, t: object) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    return t


def result_dtype(*tensors: Optional[torch.Tensor]) -> Tuple[torch.dtype, torch.dtype]:
    """(dtype returned, dtype computed in): torch's promotion of the arguments; integers and bools
    become the default float dtype; float16/bfloat16 are computed in float32."""
    ts = [t for t in tensors if t is not None]
    dtype = ts[0].dtype
    for t in ts[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        dtype = torch.get_default_dtype()
    return dtype, (torch.float32 if dtype in HALF else dtype)


def check_same_device(**tensors: Optional[torch.Tensor]) -> None:
    items = [(k, v) for k, v in tensors.items() if v is not None]
    first, ref = items[0]
    for k, v in items[1:]:
        if v.device != ref.device:
            raise ValueError(f"{k} is on {v.device} but {first} is on {ref.device}")


def check_coefficients(name: str, c: torch.Tensor) -> None:
    if c.ndim == 0:
        raise ValueError(f"{name} must have at least one dimension (the coefficients), got a scalar")
    if c.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one coefficient, got shape {tuple(c.shape)}")


def check_leading_nonzero(name: str, a: torch.Tensor) -> bool:
    """scipy's ``a[0] != 0`` check (skipped under torch.compile: it reads the values). Returns
    whether ``a[0]`` is known to be exactly 1 (one filter: its value is read anyway), so that
    :func:`normalize` has nothing to divide."""
    if torch.compiler.is_compiling():
        return False
    if a.ndim == 1:  # one filter: one read instead of a comparison, a reduction and a read
        lead = a[0].item()
        if lead == 0:
            raise ValueError(f"{name}[0] must be nonzero (the leading denominator coefficient), got 0")
        return lead == 1
    if bool((a[..., 0] == 0).any()):
        raise ValueError(f"{name}[0] must be nonzero (the leading denominator coefficient), got 0")
    return False


def normalize_axis(axis: int, ndim: int, name: str = "axis") -> int:
    if isinstance(axis, bool) or not isinstance(axis, int):
        raise TypeError(f"{name} must be an int, got {type(axis).__name__}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name}={axis} is out of range for x with {ndim} dimensions")
    return axis % ndim


class Rows:
    """``x`` moved to rows ``(R, T)``: the batch shape ``S`` (x's other dimensions broadcast with
    the coefficients' leading dimensions) and where the time axis goes back (``out_axis``)."""

    def __init__(self, x: torch.Tensor, axis: int, *coef_batch: Tuple[int, ...]):
        ax = normalize_axis(axis, x.ndim)
        xm = x if ax == x.ndim - 1 else x.movedim(ax, -1)
        try:  # one filter for all rows (no coefficient batch): x's shape, without broadcasting's cost
            S = torch.broadcast_shapes(xm.shape[:-1], *coef_batch) if any(coef_batch) else xm.shape[:-1]
        except RuntimeError:
            raise ValueError(
                f"the coefficients' leading dimensions {[tuple(c) for c in coef_batch]} do not broadcast "
                f"with x's shape without its axis {tuple(xm.shape[:-1])}"
            ) from None
        self.S = tuple(S)
        self.T = xm.shape[-1]
        self.R = 1
        for s in self.S:
            self.R *= s
        self.out_axis = ax + len(self.S) + 1 - x.ndim
        if xm.ndim == 2 and tuple(xm.shape[:-1]) == self.S:  # already rows: no view ops
            self.x = xm
        else:
            self.x = xm.expand(*self.S, self.T).reshape(self.R, self.T)

    def coef(self, c: torch.Tensor) -> torch.Tensor:
        """Coefficients ``(..., n)`` as ``(1, n)`` (one filter) or ``(R, n)`` (a filter per row)."""
        if c.ndim == 1:
            return c.unsqueeze(0)
        return c.expand(*self.S, c.shape[-1]).reshape(self.R, c.shape[-1])

    def state_in(self, name: str, z: torch.Tensor, N: int) -> torch.Tensor:
        """A state with ``N`` at ``out_axis`` (scipy's layout) as rows ``(R, N)``."""
        expected = list(self.S)
        expected.insert(self.out_axis, N)
        if z.ndim != len(expected):
            raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(z.shape)}")
        zm = z.movedim(self.out_axis, -1)
        if zm.shape[-1] != N:
            raise ValueError(
                f"{name} must have shape {tuple(expected)} (the filter order {N} at axis), got {tuple(z.shape)}"
            )
        try:
            return zm.expand(*self.S, N).reshape(self.R, N)
        except RuntimeError:
            raise ValueError(f"{name} must have shape {tuple(expected)}, got {tuple(z.shape)}") from None

    def out(self, y: torch.Tensor) -> torch.Tensor:
        """Rows ``(R, n)`` back to the batch shape with ``n`` at ``out_axis``."""
        if len(self.S) != 1:
            y = y.reshape(*self.S, y.shape[-1])
        return y if self.out_axis == len(self.S) else y.movedim(-1, self.out_axis)


def normalize(b: torch.Tensor, a: torch.Tensor, unit_lead: bool = False) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(b / a[0], a / a[0])``; ``b`` and ``a`` themselves when ``unit_lead`` (``a[0]`` is exactly
    1, see :func:`check_leading_nonzero`) and no derivative flows through the division."""
    if unit_lead and not needs_autograd(b, a):
        return b, a
    a0 = a[..., :1]
    return b / a0, a / a0


def _shift_add(c: torch.Tensor, v: torch.Tensor, sign: int) -> torch.Tensor:
    """``sum_k c[:, k] v[:, n - sign*k]`` (zeros outside ``v``) as ``K + 1`` in-place multiply-adds
    of shifted views into one new tensor: ``sign = 1`` the causal FIR, ``-1`` its adjoint."""
    w = v * c[:, :1]
    for k in range(1, min(c.shape[-1], v.shape[-1] + 1)):
        if sign > 0:
            w[:, k:].addcmul_(v[:, :-k], c[:, k : k + 1])
        else:
            w[:, :-k].addcmul_(v[:, k:], c[:, k : k + 1])
    return w


def _bilinear_tangent(
    c: torch.Tensor, v: torch.Tensor, dc: Optional[torch.Tensor], dv: Optional[torch.Tensor], sign: int
) -> torch.Tensor:
    """Forward-mode tangent of the bilinear ``_shift_add(c, v, sign)``."""
    out = _shift_add(c, dv, sign) if dv is not None else torch.zeros_like(v if dc is None else v * dc[:, :1])
    return out + _shift_add(dc, v, sign) if dc is not None else out


def _tap_grads(c: torch.Tensor, s: torch.Tensor, g: torch.Tensor, direction: int) -> torch.Tensor:
    """``dL/dc`` of ``_shift_add(c, s, direction)`` for the output gradient ``g``: column ``k``
    is ``sum_n g[n] conj(s[n - k])`` (``direction = 1``) or ``sum_n g[n] conj(s[n + k])``
    (``-1``), zero where ``k >= T``; summed over rows when ``c`` has one row."""
    T = s.shape[-1]
    sc = s.conj()

    def col(k: int) -> torch.Tensor:
        if k >= T:
            return g.new_zeros(g.shape[0])
        return (g[:, k:] * sc[:, : T - k] if direction > 0 else g[:, : T - k] * sc[:, k:]).sum(-1)

    gc = torch.stack([col(k) for k in range(c.shape[-1])], -1)
    return gc.sum(0, keepdim=True) if c.shape[0] == 1 else gc


class _ShiftAddFunction(torch.autograd.Function):
    """What :class:`_FIR` and :class:`_FIRAdjoint` share: both inputs saved for the backward
    and the forward-mode tangent."""

    generate_vmap_rule = True

    @staticmethod
    def setup_context(ctx: Any, inputs: Tuple[torch.Tensor, torch.Tensor], output: torch.Tensor) -> None:
        ctx.save_for_backward(*inputs)
        ctx.save_for_forward(*inputs)


def _shift_add_backward(
    ctx: Any, g: torch.Tensor, direction: int
) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    """The backward of ``_shift_add(c, s, direction)``: ``dL/ds`` is the shift-add in the other
    direction with ``conj(c)`` (itself differentiable), ``dL/dc`` from :func:`_tap_grads`."""
    c, s = ctx.saved_tensors
    gc = gs = None
    if ctx.needs_input_grad[1]:
        gs = fir_adjoint(c.conj(), g) if direction > 0 else fir(c.conj(), g)
    if ctx.needs_input_grad[0]:
        gc = _tap_grads(c, s, g, direction)
    return gc, gs


class _FIR(_ShiftAddFunction):
    """The FIR part with a direct backward: ``dL/dx`` is the adjoint (anti-causal) FIR of the
    gradient, ``dL/db[k]`` a dot product of the gradient and ``x`` shifted by ``k`` (autograd
    through the in-place shifted adds would clone and zero-fill full tensors per tap)."""

    @staticmethod
    def forward(b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _shift_add(b, x, 1)

    @staticmethod
    def jvp(ctx: Any, db: Optional[torch.Tensor], dx: Optional[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        b, x = ctx.saved_tensors
        return _bilinear_tangent(b, x, db, dx, 1)

    @staticmethod
    def backward(ctx: Any, g: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:  # type: ignore[override]
        return _shift_add_backward(ctx, g, 1)


class _FIRAdjoint(_ShiftAddFunction):
    """``u[n] = sum_k c[k] g[n+k]``: the backward of :class:`_FIR` (itself differentiable, for
    double backward)."""

    @staticmethod
    def forward(c: torch.Tensor, g: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _shift_add(c, g, -1)

    @staticmethod
    def jvp(ctx: Any, dc: Optional[torch.Tensor], dg: Optional[torch.Tensor]) -> torch.Tensor:  # type: ignore[override]
        c, g = ctx.saved_tensors
        return _bilinear_tangent(c, g, dc, dg, -1)

    @staticmethod
    def backward(ctx: Any, h: torch.Tensor) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:  # type: ignore[override]
        return _shift_add_backward(ctx, h, -1)


def fir(b: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``w[r, n] = sum_k b[r, k] x[r, n-k]`` (zero history); ``b`` `(1 or R, K+1)`, ``x`` `(R, T)`.

    In-place multiply-adds of shifted views of ``x`` (no padded copy; on CPU faster than
    ``conv1d``, whose float32 path is slow for one long channel). Returns a new tensor (the
    callers add ``zi`` to it in place). Under torch.compile (which cannot trace a custom
    ``jvp``) plain autograd through the shifted adds."""
    if torch.compiler.is_compiling():
        return _shift_add(b, x, 1)
    return _FIR.apply(b, x)


def fir_adjoint(c: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """``u[r, n] = sum_k c[r, k] g[r, n+k]`` (zeros past the end)."""
    return _FIRAdjoint.apply(c, g)


def hankel(c: torch.Tensor, N: int) -> torch.Tensor:
    """``H[..., i, j] = c[..., i + 1 + j]`` (zero past the end of ``c``), shape `(..., N, N)`."""
    n = c.shape[-1]
    cp = F.pad(c, (0, 2 * N + 1 - n)) if n < 2 * N + 1 else c
    idx = torch.arange(N, device=c.device)
    return cp[..., idx[:, None] + idx[None, :] + 1]


def matvec(m: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``m @ v`` over the last dimension of ``v``, batch dimensions broadcast."""
    return (m @ v.unsqueeze(-1)).squeeze(-1)


def history(x: torch.Tensor, N: int) -> torch.Tensor:
    """``(x[T-1], ..., x[T-N])`` of rows ``x`` `(R, T)`, zeros before the start, shape `(R, N)`."""
    T = x.shape[-1]
    h = x[:, max(T - N, 0) :].flip(-1)
    return F.pad(h, (0, N - T)) if T < N else h


def lfilter_rows(
    b: torch.Tensor,
    a: torch.Tensor,
    x: torch.Tensor,
    zi: Optional[torch.Tensor],
    want_zf: bool,
    reverse: bool = False,
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """One normalised filter (``a[:, 0] == 1``) over rows: ``b`` `(1 or R, K+1)`, ``a``
    `(1 or R, P+1)`, ``x`` `(R, T)`, ``zi`` `(R, N)` or ``None``. Returns ``y`` `(R, T)` and,
    if ``want_zf``, ``zf`` `(R, N)` (scipy's transposed-direct-form-II state). ``reverse``: the
    filter runs from the last sample to the first. On CPU the one-pass kernels of
    :mod:`._onepass` where they apply (Numba; Triton without gradients), else
    :func:`lfilter_composite`."""
    from . import _onepass  # noqa: PLC0415  (it builds on this module)

    N = max(b.shape[-1], a.shape[-1]) - 1
    kernel = _onepass.kernel_for(x, b, a, zi) if N > 0 and x.shape[-1] > 0 else None
    if kernel == "numba" or (kernel == "triton" and N <= 4):
        y, zf = _onepass.lfilter_onepass(b, a, x, zi, kernel, reverse)
        return y, (zf if want_zf else None)
    if reverse:
        yr, zfr = lfilter_composite(b, a, x.flip(-1), zi, want_zf)
        return yr.flip(-1), zfr
    return lfilter_composite(b, a, x, zi, want_zf)


def lfilter_composite(
    b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], want_zf: bool
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """:func:`lfilter_rows` as the FIR (torch) followed by the all-pole filter
    (:func:`tritonlpc.sample_wise_lpc`, any backend, differentiable to any order)."""
    R, T = x.shape
    K, P = b.shape[-1] - 1, a.shape[-1] - 1
    N = max(K, P)
    w = fir(b, x)
    if zi is not None and N > 0 and T > 0:
        n = min(N, T)
        w[:, :n] += zi[:, :n]
    if P > 0 and T > 0:
        y = sample_wise_lpc(w, a[:, None, 1:].expand(R, T, P))
    else:
        y = w
    if not want_zf:
        return y, None
    if N == 0:
        return y, y.new_zeros(R, 0)
    zf = matvec(hankel(b, N), history(x, N)) - matvec(hankel(a, N), history(y, N))
    if zi is not None and T < N:
        zf = zf + F.pad(zi[:, T:], (0, T))
    return y, zf
