r"""Delay-line effects with exact time-domain gradients: fractional delay, comb filters and the
feedback delay network (FDN).

A read at a fractional delay ``d >= 0`` interpolates linearly between the two samples around
it: with ``k = floor(d)`` and ``f = d - k``,

.. math:: v(n - d) = (1 - f)\, v[n - k] + f\, v[n - k - 1].

It is differentiable in ``d`` (``dv/dd = v[n-k-1] - v[n-k]``, piecewise constant: at integer
delays the gradient jumps). Samples before the block are zero, or come from ``zi``.

Kernels: Numba on CPU tensors, Triton on CUDA tensors (the backend is picked by
:func:`tritonlpc.backend_for`). Each runs one walk forward in time and, for the backward, one
walk in reverse in which the adjoint of an interpolated read goes to the two samples read (the
Triton kernels gather these contributions in a fixed order, without atomics: gradients are
bitwise equal run to run). The recursions are never written as an all-pole filter of order
``max delay``. On a GPU the recursions (feedback comb, FDN) run one program a row: a batch of
one row fills one streaming multiprocessor only (see :mod:`tritonlpc.backends.triton.delay`).

Parameter values given as Python numbers are checked (``ValueError`` naming the argument);
tensor values are used as they are (reading them would synchronise the GPU). A tensor delay
below the minimum (1 with feedback, else 0) is read as the minimum, with a zero gradient; a NaN
delay gives NaN.
"""

from __future__ import annotations

import importlib
import math
from numbers import Integral
from types import ModuleType
from typing import Dict, Optional, Sequence, Tuple, Union

import torch
from torch.autograd.function import once_differentiable

from .._dispatch import backend_for
from .._validation import check_flag, check_range, check_same_device, check_tensor
from ..backends._delay_operands import CombOperands, FdnOperands

__all__ = ["fractional_delay", "comb_filter", "feedback_delay_network", "Comb", "FeedbackDelayNetwork"]

Param = Union[float, torch.Tensor]

# backend name (tritonlpc._dispatch.backend_for) -> the module holding its delay kernels; each
# offers comb_forward, comb_backward, fdn_forward, fdn_backward with the same contract.
_KERNELS = {"numba": "tritonlpc.backends._numba_delay", "triton": "tritonlpc.backends.triton.delay"}
_loaded: Dict[str, ModuleType] = {}


def _kernels(t: torch.Tensor) -> ModuleType:
    name = backend_for(t)
    mod = _loaded.get(name)
    if mod is None:
        try:
            mod = _loaded[name] = importlib.import_module(_KERNELS[name])
        except ImportError as exc:
            raise RuntimeError(f"the {name} backend's delay kernels are not available: {exc}") from exc
    return mod


# --------------------------------------------------------------------------- autograd Functions
class Comb(torch.autograd.Function):
    """``y[n] = c x[n] + g[n] v(n - d[n])`` with ``v = y`` (``feedback``) or ``v = x``.

    ``x, delay, gain (B,T)`` (expanded views welcome), ``zi (B,L)``, one real dtype, one device;
    ``c`` and ``dmin`` are Python floats. Gradients for ``x``, ``delay``, ``gain``, ``zi``.
    """

    @staticmethod
    def forward(ctx, x, delay, gain, zi, c: float, feedback: bool, dmin: float):  # type: ignore[override]
        k = _kernels(x)
        y = k.comb_forward(x, CombOperands(delay, gain, zi, c, feedback, dmin))
        ctx.save_for_backward(y if feedback else x, delay, gain, zi)
        ctx.args = (k, c, feedback, dmin)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, gy):  # type: ignore[override]
        v, delay, gain, zi = ctx.saved_tensors
        k, c, feedback, dmin = ctx.args
        dx, dd, dg, dzi = k.comb_backward(gy, v, CombOperands(delay, gain, zi, c, feedback, dmin))
        return dx, dd, dg, dzi, None, None, None


class FeedbackDelayNetwork(torch.autograd.Function):
    """The FDN of :func:`feedback_delay_network` on prepared tensors; returns ``(y, s)`` with the
    line inputs ``s (B,N,T)``.

    ``x (B,T)``, ``A (B,TA,N,N)`` (``TA`` 1 or ``T``), ``input_gains, output_gains (B,N)``,
    ``direct_gain (B,)``, ``zi (B,N,L)`` with ``L = max(delays)``, ``delays`` a tuple of ints.
    """

    @staticmethod
    def forward(ctx, x, delays: Tuple[int, ...], A, bin_, cout, direct, zi):  # type: ignore[override]
        k = _kernels(x)
        y, s = k.fdn_forward(FdnOperands(x, delays, A, bin_, cout, direct, zi))
        ctx.save_for_backward(x, A, bin_, cout, direct, zi, s)
        ctx.args = (k, delays)
        return y, s

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, gs):  # type: ignore[override]
        x, A, bin_, cout, direct, zi, s = ctx.saved_tensors
        k, delays = ctx.args
        if gs is None:
            gs = torch.zeros_like(s)
        op = FdnOperands(x, delays, A, bin_, cout, direct, zi)
        dx, dA, dbin, dcout, ddirect, dzi = k.fdn_backward(gy, gs, op, s)
        return dx, None, dA, dbin, dcout, ddirect, dzi


# --------------------------------------------------------------------------- argument preparation
def _signal(x: object) -> torch.Tensor:
    x = check_tensor("x", x, 2, "(B, T)", real=True)
    return x


def _compute_dtype(*ts: Optional[torch.Tensor]) -> torch.dtype:
    dtype = torch.float32
    for t in ts:
        if t is not None:
            dtype = torch.promote_types(dtype, t.dtype)
    return dtype


def _param(name: str, value: object, x: torch.Tensor, shape: Tuple[int, ...], dims: str) -> torch.Tensor:
    """A number or a tensor broadcastable to ``shape``, as a tensor (not yet expanded)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(value).__name__}")
    if not isinstance(value, torch.Tensor):
        return torch.tensor(float(value), dtype=x.dtype, device=x.device)
    check_tensor(name, value, real=True)
    try:
        torch.broadcast_shapes(tuple(value.shape), shape)
    except RuntimeError:
        raise ValueError(f"{name} must broadcast to {dims} = {shape}, got shape {tuple(value.shape)}") from None
    return value


def _check_delay_number(name: str, delay: object, minimum: float, why: str) -> None:
    if isinstance(delay, (int, float)) and not isinstance(delay, bool):
        if math.isnan(delay):
            raise ValueError(f"{name} must not be NaN")
        if not delay >= minimum:
            raise ValueError(f"{name} must be >= {minimum:g} {why}, got {delay!r}")
        check_range(name, delay, minimum, finite=True)


def _history(
    zi: object, x: torch.Tensor, delay: object, name_zi: str = "zi"
) -> Tuple[Optional[torch.Tensor], Optional[int]]:
    """Check ``zi (B, L)``; returns it and ``L``."""
    if zi is None:
        return None, None
    B = x.shape[0]
    zi = check_tensor(name_zi, zi, 2, "(B, L)", real=True)
    if zi.shape[0] != B:
        raise ValueError(f"{name_zi} must have shape (B, L) with B = {B} rows like x, got {tuple(zi.shape)}")
    if isinstance(delay, (int, float)) and not isinstance(delay, bool):
        need = int(math.floor(delay)) + 1
        if zi.shape[1] < need:
            raise ValueError(
                f"{name_zi} must hold at least floor(delay) + 1 = {need} samples (the last samples before "
                f"the block, oldest first), got length {zi.shape[1]}"
            )
    return zi, zi.shape[1]


def _zf_length(delay: Union[float, torch.Tensor]) -> int:
    if isinstance(delay, torch.Tensor):
        dmax = float(delay.detach().max()) if delay.numel() else 0.0  # one synchronisation, only for zf
        if not math.isfinite(dmax):
            raise ValueError(f"delay must be finite to size zf, got a maximum of {dmax}")
        return int(math.floor(max(dmax, 0.0))) + 1
    return int(math.floor(delay)) + 1


def _comb(
    x: object, delay: Param, gain: Param, zi: object, return_zf: bool, c: float, feedback: bool
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    x = _signal(x)
    B, T = x.shape
    check_flag("return_zf", return_zf)
    dmin = 1.0 if feedback else 0.0
    _check_delay_number("delay", delay, dmin, "with feedback" if feedback else "")
    if feedback:
        check_range("gain", gain, -1.0, 1.0, low_open=True, high_open=True)
    else:
        check_range("gain", gain, finite=True)
    d = _param("delay", delay, x, (B, T), "(B, T)")
    g = _param("gain", gain, x, (B, T), "(B, T)")
    z, L = _history(zi, x, delay)
    check_same_device([("x", x), ("delay", d), ("gain", g), ("zi", z)])
    dtype = _compute_dtype(x, d if isinstance(delay, torch.Tensor) else None, g, z)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    if return_zf and L is None:
        L = _zf_length(delay)
        z = x.new_zeros((B, L))
    if z is None:
        z = x.new_zeros((B, 0))
    xc, zc = x.to(dtype), z.to(dtype)
    dc, gc = d.to(dtype).expand(B, T), g.to(dtype).expand(B, T)
    y = Comb.apply(xc, dc, gc, zc, c, feedback, dmin)
    out = y.to(x.dtype)
    if not return_zf:
        return out
    assert L is not None
    zf = torch.cat([zc, y if feedback else xc], 1)[:, zc.shape[1] + T - L :]
    return out, zf.to(x.dtype)


# --------------------------------------------------------------------------- public functions
def fractional_delay(
    x: torch.Tensor, delay: Param, zi: Optional[torch.Tensor] = None, return_zf: bool = False
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Delay a signal by a time-varying, fractional number of samples: ``y[n] = x(n - delay[n])``.

    Args:
        x (Tensor): input, shape `(B, T)`, float32 or float64.
        delay (Tensor or float): delay in samples, ``>= 0``, broadcastable to `(B, T)`.
        zi (Tensor or None): the last ``L`` input samples before the block, oldest first, shape
            `(B, L)`; samples further back are zero. For a number ``delay``,
            ``L >= floor(delay) + 1``. ``None``: zeros.
        return_zf (bool): also return ``zf``, the last ``L`` samples of ``[zi, x]`` (the ``zi``
            of the next block; without ``zi``, ``L = floor(max(delay)) + 1``).

    Returns:
        Tensor: ``y`` of shape `(B, T)`, or ``(y, zf)``.
    """
    return _comb(x, delay, 1.0, zi, return_zf, 0.0, False)


def comb_filter(
    x: torch.Tensor,
    delay: Param,
    gain: Param,
    feedback: bool = True,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Time-varying comb filter with a fractional delay.

    Feedback (default): ``y[n] = x[n] + gain[n] y(n - delay[n])``, ``delay >= 1``.
    Feed-forward: ``y[n] = x[n] + gain[n] x(n - delay[n])``, ``delay >= 0``.

    Args:
        x (Tensor): input, shape `(B, T)`, float32 or float64.
        delay (Tensor or float): delay in samples, broadcastable to `(B, T)`.
        gain (Tensor or float): gain, broadcastable to `(B, T)`; a number needs ``|gain| < 1``
            with feedback.
        feedback (bool): feedback (recursive) or feed-forward comb.
        zi (Tensor or None): the last ``L`` samples before the block of the delayed signal
            (``y`` with feedback, else ``x``), oldest first, shape `(B, L)`; samples further back
            are zero. For a number ``delay``, ``L >= floor(delay) + 1``. ``None``: zeros.
        return_zf (bool): also return ``zf (B, L)``, the last ``L`` samples of ``[zi, y]``
            (feedback) or ``[zi, x]``: the ``zi`` of the next block (without ``zi``,
            ``L = floor(max(delay)) + 1``, which reads a tensor ``delay`` once).

    Returns:
        Tensor: ``y`` of shape `(B, T)`, or ``(y, zf)``.
    """
    check_flag("feedback", feedback)
    return _comb(x, delay, gain, zi, return_zf, 1.0, feedback)


def _fdn_delays(delays: object) -> Tuple[int, ...]:
    if isinstance(delays, torch.Tensor) or not isinstance(delays, Sequence) or isinstance(delays, str):
        raise TypeError(f"delays must be a sequence of ints, got {type(delays).__name__}")
    if len(delays) == 0:
        raise ValueError("delays must name at least one delay line, got an empty sequence")
    for m in delays:
        if isinstance(m, bool) or not isinstance(m, Integral):
            raise ValueError(f"delays must be integers >= 1 (samples), got {m!r} in {list(delays)!r}")
        if m < 1:
            raise ValueError(f"delays must be integers >= 1 (samples), got {m!r} in {list(delays)!r}")
    return tuple(int(m) for m in delays)


def feedback_delay_network(
    x: torch.Tensor,
    delays: Sequence[int],
    feedback_matrix: torch.Tensor,
    input_gains: torch.Tensor,
    output_gains: torch.Tensor,
    direct_gain: Param = 0.0,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Feedback delay network of ``N`` delay lines with integer delays ``m_j``:

    .. math::
        s_i[n] = b_i x[n] + \sum_j A[n, i, j]\, s_j[n - m_j], \qquad
        y[n] = \sum_j c_j\, s_j[n - m_j] + d\, x[n].

    Args:
        x (Tensor): input, shape `(B, T)`, float32 or float64.
        delays (sequence of int): ``m_j >= 1`` in samples, length `N`.
        feedback_matrix (Tensor): ``A``, shape `(N, N)`, `(B, N, N)` or time-varying `(B, T, N, N)`.
        input_gains (Tensor): ``b``, shape `(N,)` or `(B, N)`.
        output_gains (Tensor): ``c``, shape `(N,)` or `(B, N)`.
        direct_gain (Tensor or float): ``d``, a number or a tensor of shape `()` or `(B,)`.
        zi (Tensor or None): the last ``L = max(delays)`` samples of every line input ``s_j``
            before the block, oldest first, shape `(B, N, L)`. ``None``: zeros.
        return_zf (bool): also return ``zf (B, N, L)``, the same for the block's end.

    Returns:
        Tensor: ``y`` of shape `(B, T)`, or ``(y, zf)``.
    """
    x = _signal(x)
    B, T = x.shape
    m = _fdn_delays(delays)
    N, L = len(m), max(m)
    check_flag("return_zf", return_zf)
    A = check_tensor("feedback_matrix", feedback_matrix, real=True)
    if A.dim() not in (2, 3, 4) or A.shape[-2:] != (N, N) or (A.dim() >= 3 and A.shape[0] != B):
        raise ValueError(
            f"feedback_matrix must have shape (N, N), (B, N, N) or (B, T, N, N) with N = {N}, B = {B}, "
            f"got {tuple(A.shape)}"
        )
    if A.dim() == 4 and A.shape[1] != T:
        raise ValueError(f"feedback_matrix of shape (B, T, N, N) must have T = {T} like x, got {tuple(A.shape)}")
    gains = []
    for name, gv in (("input_gains", input_gains), ("output_gains", output_gains)):
        gv = check_tensor(name, gv, real=True)
        if tuple(gv.shape) not in ((N,), (B, N)):
            raise ValueError(f"{name} must have shape (N,) or (B, N) = {(B, N)}, got {tuple(gv.shape)}")
        gains.append(gv)
    check_range("direct_gain", direct_gain, finite=True)
    dg = _param("direct_gain", direct_gain, x, (B,), "(B,)")
    if dg.dim() > 1:
        raise ValueError(f"direct_gain must have shape () or (B,), got {tuple(dg.shape)}")
    if zi is not None:
        zi = check_tensor("zi", zi, 3, "(B, N, L)", real=True)
        if tuple(zi.shape) != (B, N, L):
            raise ValueError(f"zi must have shape (B, N, max(delays)) = {(B, N, L)}, got {tuple(zi.shape)}")
    check_same_device([("x", x), ("feedback_matrix", A), ("input_gains", gains[0]), ("output_gains", gains[1])])
    check_same_device([("x", x), ("direct_gain", dg), ("zi", zi)])
    dtype = _compute_dtype(x, A, *gains, dg, zi)
    if dtype in (torch.float16, torch.bfloat16):
        dtype = torch.float32
    A4 = A.to(dtype)
    A4 = A4[None, None] if A.dim() == 2 else (A4[:, None] if A.dim() == 3 else A4)
    A4 = A4.expand(B, A4.shape[1], N, N)
    bin_, cout = (gv.to(dtype).expand(B, N) for gv in gains)
    z = zi.to(dtype) if zi is not None else x.new_zeros((B, N, L), dtype=dtype)
    y, s = FeedbackDelayNetwork.apply(x.to(dtype), m, A4, bin_, cout, dg.to(dtype).expand(B), z)
    if not return_zf:
        return y.to(x.dtype)
    zf = torch.cat([z, s], 2)[:, :, T:]
    return y.to(x.dtype), zf.to(x.dtype)
