r"""Feed-forward dynamic range compressor with separate attack and release smoothing.

The gain computer (DAFx textbook feed-forward compressor) maps the input level to a target
gain ``f[n]`` (linear, ``<= 1``), which is then smoothed with an attack time constant while
the gain falls and a release time constant while it rises:

.. math::
    \zeta[n] = [f[n] < \hat g[n-1]], \quad
    \beta[n] = \alpha_{at}^{\zeta[n]} \alpha_{rt}^{1-\zeta[n]}, \quad
    \hat g[n] = \beta[n] f[n] + (1 - \beta[n]) \hat g[n-1]

The forward recursion depends on the data (``zeta`` compares the input with the state), so it
runs in a small sequential kernel per row, the backend's ``smooth``
(:meth:`tritonlpc.backends.base.Backend.smooth`: Numba on CPU, Triton on CUDA and in Triton's
interpreter), picked by :mod:`tritonlpc._dispatch` like every other kernel. Given the decisions, the map is the
linear time-varying recursion ``h[n] = d[n] h[n-1] + beta[n] f[n]`` with ``d = 1 - beta``, so
its gradient is exact and runs on tritonlpc's reverse scan (the backend's ``reverse`` kernel)::

    u[n]          = dL/dg[n] + d[n+1] u[n+1]
    dL/df[n]      = beta[n] u[n]
    dL/dbeta[n]   = u[n] (f[n] - g[n-1])      -> summed into dL/dalpha_at (zeta) / dL/dalpha_rt
    dL/dzi        = d[0] u[0]

The decisions are treated as constants (they are piecewise constant in the inputs; the
gradient is exact wherever no ``f[n] == g[n-1]`` tie sits at the evaluation point).
Forward-mode AD runs one more linear recurrence; backward with ``create_graph=True`` uses the
differentiable :class:`tritonlpc.core.Reverse`.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple, Union

import torch
from torch.autograd import Function

from .. import _dispatch
from .._autograd import apply, precomputed_signature
from .._prepare import common_dtype, compute_dtype
from .._validation import as_tensor_like, check_number, check_range, check_same_device, check_sample_rate, check_tensor
from ..core import Reverse
from ..functional import linear_recurrence
from ..recurrence import previous, recurrence_tangent

__all__ = [
    "attack_release_smoothing",
    "AttackRelease",
    "time_constant_to_alpha",
    "alpha_to_time_constant",
    "compressor_static_gain",
    "signal_level_db",
    "compressor_gain",
    "feedforward_compressor",
]

Number = Union[float, torch.Tensor]


def _betas(zeta: torch.Tensor, at: torch.Tensor, rt: torch.Tensor) -> torch.Tensor:
    return torch.where(zeta, at.unsqueeze(1), rt.unsqueeze(1))


@precomputed_signature
class AttackRelease(Function):
    """``AttackRelease.apply(f, alpha_attack, alpha_release, zi)`` -> smoothed gain ``(B, T)``.

    ``f (B, T)``, ``alpha_attack, alpha_release, zi (B,)``, one real dtype (float32/float64) and
    device. Backward (on tritonlpc's reverse scan) and forward-mode AD; see the module docstring.
    """

    @staticmethod
    def forward(ctx: Any, f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor) -> torch.Tensor:
        g, zeta = _dispatch.backend_object(f).smooth(f, at, rt, zi)
        ctx.save_for_backward(f, at, rt, zi, g, zeta)
        ctx.save_for_forward(f, at, rt, zi, g, zeta)
        return g

    @staticmethod
    def backward(ctx: Any, grad_g: torch.Tensor) -> Tuple[Optional[torch.Tensor], ...]:  # type: ignore[override]
        f, at, rt, zi, g, zeta = ctx.saved_tensors
        beta = _betas(zeta, at, rt)
        decay = 1 - beta
        grad_g = grad_g.to(g.dtype)
        if torch.is_grad_enabled():  # create_graph: a differentiable reverse scan
            u = apply(Reverse, grad_g, -decay.unsqueeze(2), False)
        else:  # the backend's reverse kernel, reading the decays in place (neg_a)
            u = _dispatch.backend_object(grad_g).reverse(grad_g.contiguous(), decay.unsqueeze(2), neg_a=True)
        need_f, need_at, need_rt, need_zi = ctx.needs_input_grad
        gf = beta * u if need_f else None
        gat = grt = None
        if need_at or need_rt:
            gbeta = u * (f - previous(g, zi))
            gat = torch.where(zeta, gbeta, 0).sum(1) if need_at else None
            grt = torch.where(zeta, 0, gbeta).sum(1) if need_rt else None
        gzi = None
        if need_zi:
            gzi = decay[:, 0] * u[:, 0] if g.shape[1] > 0 else torch.zeros_like(zi)
        return gf, gat, grt, gzi

    @staticmethod
    def jvp(ctx: Any, *tangents: Optional[torch.Tensor]) -> torch.Tensor:
        """``tangents = (f_dot, at_dot, rt_dot, zi_dot)``. Given the decisions, ``g`` is the linear
        recurrence with decay ``1 - beta`` and impulse ``beta f``: its tangent
        (:func:`tritonlpc.recurrence.recurrence_tangent`) with ``decay_dot = -beta_dot`` and
        ``impulse_dot = beta f_dot + beta_dot f``."""
        f_dot, at_dot, rt_dot, zi_dot = tangents
        f, at, rt, zi, g, zeta = ctx.saved_tensors
        beta = _betas(zeta, at, rt)
        impulse_dot = beta * f_dot if f_dot is not None else None
        decay_dot = None
        if at_dot is not None or rt_dot is not None:
            zero = torch.zeros_like(at)
            beta_dot = _betas(zeta, at_dot if at_dot is not None else zero, rt_dot if rt_dot is not None else zero)
            decay_dot = -beta_dot
            impulse_dot = beta_dot * f if impulse_dot is None else impulse_dot + beta_dot * f
        return recurrence_tangent(1 - beta, zi, g, (decay_dot, impulse_dot, zi_dot))


def _per_row(name: str, value: Number, B: int, like: torch.Tensor, like_name: str = "x") -> torch.Tensor:
    t = as_tensor_like(name, value, like)
    if t.dim() > 1 or (t.dim() == 1 and t.shape[0] not in (1, B)):
        raise ValueError(
            f"{name} must be a number, a 0-d tensor or a tensor of shape (B,) = ({B},), got shape {tuple(t.shape)}"
        )
    check_same_device([(like_name, like), (name, t)])
    return t.reshape(-1).expand(B)


def attack_release_smoothing(
    gain: torch.Tensor,
    alpha_attack: Number,
    alpha_release: Number,
    zi: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Smooth a gain signal with separate attack and release coefficients.

    .. math::
        \hat g[n] = \beta[n] f[n] + (1-\beta[n]) \hat g[n-1], \quad
        \beta[n] = \alpha_{at} \text{ if } f[n] < \hat g[n-1] \text{ else } \alpha_{rt}

    Differentiable in all inputs (backward on tritonlpc's reverse scan, forward-mode AD);
    runs on the backend :func:`tritonlpc.backend_for` names (Numba on CPU, Triton on CUDA).

    Args:
        gain (Tensor): target gain ``f``, shape `(B, T)`, real floating point.
        alpha_attack (float or Tensor): smoothing coefficient in ``[0, 1]`` used while the gain
            falls (attack; 1 follows the target at once, 0 holds the state); a number, 0-d
            tensor or shape `(B,)` (one per row). See :func:`time_constant_to_alpha`.
        alpha_release (float or Tensor): the same while the gain rises (release).
        zi (Tensor or None, optional): ``hat g[-1]``, shape `(B,)`. Default: ones (no gain
            reduction before the signal starts).

    Returns:
        Tensor: ``hat g``, shape `(B, T)`, dtype promoted from the inputs (half precision
        inputs are computed in float32 and returned in their dtype).

    Raises:
        TypeError: an argument is not a real floating point tensor (or a number).
        ValueError: shapes or devices do not match, or a number ``alpha_attack`` /
            ``alpha_release`` is outside ``[0, 1]`` (tensor values are not checked).
    """
    check_tensor("gain", gain, 2, "(B, T)", real=True)
    check_range("alpha_attack", alpha_attack, 0.0, 1.0)
    check_range("alpha_release", alpha_release, 0.0, 1.0)
    B, _ = gain.shape
    at = _per_row("alpha_attack", alpha_attack, B, gain, "gain")
    rt = _per_row("alpha_release", alpha_release, B, gain, "gain")
    if zi is not None:
        check_tensor("zi", zi, 1, "(B,)", real=True)
        if tuple(zi.shape) != (B,):
            raise ValueError(f"zi must have shape (B,) = ({B},), got {tuple(zi.shape)}")
        check_same_device([("gain", gain), ("zi", zi)])
    dtype = common_dtype(gain, at, rt, zi)
    if gain.is_meta:  # shapes only
        return gain.new_empty(gain.shape, dtype=dtype)
    cdtype = compute_dtype(dtype)  # the smoother computes half precision in float32
    z = zi if zi is not None else gain.new_ones(B)
    out = AttackRelease.apply(gain.to(cdtype), at.to(cdtype), rt.to(cdtype), z.to(cdtype))
    return out.to(dtype)


def time_constant_to_alpha(seconds: Number, sample_rate: float) -> Union[float, torch.Tensor]:
    r"""One-pole smoothing coefficient ``alpha = 1 - exp(-1 / (tau fs))`` for time constant
    ``tau`` (seconds; the step response reaches ``1 - 1/e`` after ``tau``).

    ``tau = 0`` gives ``alpha = 1`` (instant), ``tau = inf`` gives ``alpha = 0`` (frozen), for
    numbers and tensors alike. Tensors stay tensors (differentiable; their values are not
    checked), numbers stay numbers.

    Raises:
        ValueError: a number ``seconds`` is negative or NaN, or ``sample_rate`` is not a positive
            finite number.
    """
    sample_rate = check_sample_rate(sample_rate)
    if isinstance(seconds, torch.Tensor):
        return -torch.expm1(-1.0 / (seconds * sample_rate))
    check_range("seconds", seconds, 0.0)
    if seconds == 0:
        return 1.0  # what the tensor formula gives: -expm1(-inf)
    return -math.expm1(-1.0 / (float(seconds) * sample_rate))


def alpha_to_time_constant(alpha: Number, sample_rate: float) -> Union[float, torch.Tensor]:
    r"""Inverse of :func:`time_constant_to_alpha`: ``tau = -1 / (fs log(1 - alpha))`` seconds.

    ``alpha = 1`` gives ``tau = 0``, ``alpha = 0`` gives ``tau = inf``, for numbers and tensors
    alike (tensor values are not checked).

    Raises:
        ValueError: a number ``alpha`` is outside ``[0, 1]``, or ``sample_rate`` is not a positive
            finite number.
    """
    sample_rate = check_sample_rate(sample_rate)
    if isinstance(alpha, torch.Tensor):
        return -1.0 / (sample_rate * torch.log1p(-alpha))
    check_range("alpha", alpha, 0.0, 1.0)
    if alpha == 1:
        return 0.0
    if alpha == 0:
        return math.inf
    return -1.0 / (sample_rate * math.log1p(-float(alpha)))


def compressor_static_gain(
    level_db: torch.Tensor, threshold_db: Number, ratio: Number, knee_db: float = 0.0
) -> torch.Tensor:
    r"""Static compression curve: gain in dB for an input level in dB.

    Hard knee: ``min(0, (1/R - 1) (L - CT))``. With ``knee_db = W > 0`` the corner is replaced
    by a quadratic over ``|L - CT| <= W/2`` (DAFx textbook soft knee).

    Args:
        level_db (Tensor): level ``L`` in dB, any shape `(B, *)`.
        threshold_db (float or Tensor): threshold ``CT`` in dB (finite); number, 0-d or `(B,)`.
        ratio (float or Tensor): ratio ``R`` in ``[1, inf]`` (1: no compression, ``inf``: a
            limiter); number, 0-d or `(B,)`. ``0 < R < 1`` would be an upward expander (gain
            above 0 dB), which this curve does not model, and ``R <= 0`` has no meaning.
        knee_db (float): knee width ``W`` in dB, finite and ``>= 0``. Default: 0 (hard knee).

    Returns:
        Tensor: gain in dB (``<= 0``), shape of ``level_db``.

    Raises:
        ValueError: a number parameter outside its range (tensor values are not checked).
    """
    check_tensor("level_db", level_db, real=True)
    knee_db = check_number("knee_db", knee_db, 0.0)
    check_range("threshold_db", threshold_db, finite=True)
    check_range("ratio", ratio, 1.0)
    ct = as_tensor_like("threshold_db", threshold_db, level_db)
    r = as_tensor_like("ratio", ratio, level_db)
    check_same_device([("level_db", level_db), ("threshold_db", ct), ("ratio", r)])
    shape = (-1,) + (1,) * (level_db.dim() - 1)
    ct = ct.reshape(shape) if ct.dim() == 1 else ct
    r = r.reshape(shape) if r.dim() == 1 else r
    slope = 1 / r - 1
    over = level_db - ct
    if knee_db == 0:
        return slope * torch.relu(over)
    half = knee_db / 2
    knee = slope * torch.square(torch.clamp(over + half, min=0.0)) / (2 * knee_db)
    return torch.where(over > half, slope * over, torch.where(over < -half, torch.zeros_like(over), knee))


def signal_level_db(x: torch.Tensor, rms_alpha: Optional[Number] = None, eps: float = 1e-8) -> torch.Tensor:
    r"""Level detector in dB: ``20 log10 |x|`` (peak, ``rms_alpha=None``) or
    ``10 log10 e[n]`` with the RMS energy ``e[n] = a x[n]^2 + (1-a) e[n-1]`` (``a = rms_alpha``,
    a one-pole smoother run by :func:`tritonlpc.linear_recurrence`).

    Args:
        x (Tensor): signal, shape `(B, T)`.
        rms_alpha (float or Tensor or None): RMS smoothing coefficient in ``[0, 1]``; number,
            0-d or `(B,)`. Default: ``None`` (peak detector).
        eps (float): floor added before the logarithm, finite and ``>= 0``.

    Returns:
        Tensor: level in dB, shape `(B, T)`.

    Raises:
        ValueError: a number ``rms_alpha`` outside ``[0, 1]`` or ``eps`` outside ``[0, inf)``
            (tensor values are not checked).
    """
    check_tensor("x", x, 2, "(B, T)", real=True)
    check_range("rms_alpha", rms_alpha, 0.0, 1.0)
    eps = check_number("eps", eps, 0.0)
    if rms_alpha is None:
        return 20 * torch.log10(x.abs() + eps)
    B, T = x.shape
    a = _per_row("rms_alpha", rms_alpha, B, x).to(x.dtype)
    energy = linear_recurrence((1 - a).unsqueeze(1).expand(B, T), a.unsqueeze(1) * x.square())
    return 10 * torch.log10(energy.clamp(min=0) + eps)


def compressor_gain(
    x: torch.Tensor,
    threshold_db: Number,
    ratio: Number,
    alpha_attack: Number,
    alpha_release: Number,
    rms_alpha: Optional[Number] = None,
    knee_db: float = 0.0,
    zi: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Feed-forward gain computer with attack/release smoothing: the linear gain ``hat g``.

    ``level -> static curve (dB) -> linear target gain f -> attack_release_smoothing``.
    Arguments as in :func:`feedforward_compressor`; returns ``hat g`` of shape `(B, T)`.
    """
    check_range("threshold_db", threshold_db, finite=True)
    check_range("ratio", ratio, 1.0)
    level = signal_level_db(x, rms_alpha)
    B = x.shape[0]
    ct, r = _per_row("threshold_db", threshold_db, B, x), _per_row("ratio", ratio, B, x)
    target = torch.pow(10.0, compressor_static_gain(level, ct, r, knee_db) / 20)
    return attack_release_smoothing(target, alpha_attack, alpha_release, zi)


def feedforward_compressor(
    x: torch.Tensor,
    threshold_db: Number,
    ratio: Number,
    alpha_attack: Number,
    alpha_release: Number,
    makeup_db: Number = 0.0,
    rms_alpha: Optional[Number] = None,
    knee_db: float = 0.0,
    zi: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""Feed-forward compressor ``y[n] = x[n] hat g[n] 10^{makeup/20}``.

    Every parameter may be a number, a 0-d tensor or a `(B,)` tensor (one per row), and all are
    differentiable (threshold and ratio through the static curve, the smoothing coefficients
    through :func:`attack_release_smoothing`, whose backward runs on tritonlpc's reverse scan).

    Args:
        x (Tensor): input, shape `(B, T)`, real floating point.
        threshold_db (float or Tensor): threshold ``CT`` in dB (of the detected level), finite.
        ratio (float or Tensor): compression ratio ``R`` in ``[1, inf]``
            (:func:`compressor_static_gain`).
        alpha_attack (float or Tensor): attack smoothing coefficient in ``[0, 1]``
            (:func:`time_constant_to_alpha`).
        alpha_release (float or Tensor): release smoothing coefficient in ``[0, 1]``.
        makeup_db (float or Tensor): make-up gain in dB, finite. Default: 0.
        rms_alpha (float or Tensor or None): RMS detector coefficient, or ``None`` for a peak
            detector (:func:`signal_level_db`). Default: ``None``.
        knee_db (float): knee width in dB (:func:`compressor_static_gain`). Default: 0.
        zi (Tensor or None): smoother state before the signal, shape `(B,)`. Default: ones.

    Returns:
        Tensor: ``y``, shape `(B, T)`.

    Raises:
        TypeError: ``x`` is not a real floating point tensor, or a parameter has a wrong type.
        ValueError: shapes or devices do not match, or a number parameter is outside its range
            (``ValueError`` naming it; tensor parameters are not checked, see
            :mod:`tritonlpc.audio`).
    """
    check_range("makeup_db", makeup_db, finite=True)
    g = compressor_gain(x, threshold_db, ratio, alpha_attack, alpha_release, rms_alpha, knee_db, zi)
    B = x.shape[0]
    mk = _per_row("makeup_db", makeup_db, B, x).to(g.dtype)
    return x * g * torch.pow(10.0, mk / 20).unsqueeze(1)
