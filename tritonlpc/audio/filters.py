r"""Time-varying IIR filters built on the all-pole filter, biquad designs and all-pass sections.

A time-varying IIR filter in direct form I is a time-varying FIR numerator followed by the
time-varying all-pole denominator::

    v[n] = sum_{k=0..K} b[n, k] x[n-k]                      (FIR, vectorised over time)
    y[n] = v[n] - sum_{i=1..M} a[n, i-1] y[n-i]             (tritonlpc.sample_wise_lpc)

so it is differentiable in ``x``, ``b``, ``a`` and the initial conditions on every tritonlpc
backend, and runs at the speed of the all-pole kernels (the FIR part is ``K + 1`` vectorised
multiply-adds; there is no Python loop over time).

Coefficient conventions (as ``scipy.signal.lfilter`` with ``a[0] = 1``): ``b[..., k]``
multiplies ``z^-k``; ``a[..., i-1]`` multiplies ``z^-i`` in ``A(z) = 1 + sum_i a_i z^-i`` (the
leading 1 is not stored).
"""

from __future__ import annotations

import math
from typing import Literal, Optional, Tuple, Union, cast, overload

import torch

from .._prepare import common_dtype, flag_variant
from .._validation import (
    as_tensor_like,
    check_flag,
    check_frames,
    check_hop,
    check_int,
    check_range,
    check_same_device,
    check_sample_rate,
    check_tensor,
)
from ..functional import lpc_checked
from ._fir import fir

__all__ = [
    "time_varying_fir",
    "time_varying_iir",
    "time_varying_biquad",
    "biquad_lowpass",
    "biquad_highpass",
    "biquad_bandpass",
    "biquad_notch",
    "biquad_allpass",
    "biquad_peak",
    "allpass_coefficient",
    "first_order_allpass",
    "phaser_coefficients",
]

Number = Union[float, torch.Tensor]
IIRState = Tuple[torch.Tensor, torch.Tensor]


# --------------------------------------------------------------------------- FIR / IIR
def _check_zi_fir(zi: Optional[torch.Tensor], B: int, K: int, name: str) -> Optional[torch.Tensor]:
    if zi is None:
        return None
    check_tensor(name, zi, 2, "(B, K)")
    if tuple(zi.shape) != (B, K):
        raise ValueError(f"{name} must have shape (B, K) = {(B, K)} (the last K inputs), got {tuple(zi.shape)}")
    return zi


@overload
def time_varying_fir(
    x: torch.Tensor,
    b: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    return_zf: Literal[False] = ...,
    *,
    hop: Optional[int] = ...,
) -> torch.Tensor: ...
@overload
def time_varying_fir(
    x: torch.Tensor,
    b: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    *,
    return_zf: Literal[True],
    hop: Optional[int] = ...,
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def time_varying_fir(
    x: torch.Tensor, b: torch.Tensor, zi: Optional[torch.Tensor], return_zf: Literal[True], *, hop: Optional[int] = ...
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def time_varying_fir(
    x: torch.Tensor,
    b: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    return_zf: bool = ...,
    *,
    hop: Optional[int] = ...,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]: ...


def time_varying_fir(
    x: torch.Tensor,
    b: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
    *,
    hop: Optional[int] = None,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Time-varying FIR filter ``y[n] = sum_{k=0..K} b[n, k] x[n-k]``.

    Args:
        x (Tensor): input, shape `(B, T)`.
        b (Tensor): per-sample taps, shape `(B, T, K+1)`; ``b[:, n, k]`` multiplies ``x[n-k]``.
            May be expanded over time (read in place).
        zi (Tensor or None, optional): past inputs ``(x[-1], ..., x[-K])``, shape `(B, K)`.
            Default: zeros.
        return_zf (bool, optional): also return ``(x[T-1], ..., x[T-K])``, shape `(B, K)`, the
            ``zi`` that continues the filter in the next block. Default: ``False``.
        hop (int or None, optional): ``b`` holds control frames `(B, F, K+1)` every ``hop``
            samples, interpolated as in :func:`tritonlpc.sample_wise_lpc` (one tap at a time,
            in torch). Default: per-sample ``b``.

    Returns:
        Tensor: ``y``, shape `(B, T)` (dtype: torch's promotion of the inputs'), or ``(y, zf)``.

    Raises:
        TypeError: an argument is not a tensor or not floating point/complex.
        ValueError: shapes or devices do not match.
    """
    check_tensor("x", x, 2, "(B, T)")
    hop = check_hop(hop)
    _check_b(b, x.shape[0], x.shape[1], hop)
    _check_zi_fir(zi, x.shape[0], b.shape[2] - 1, "zi")
    check_same_device([("x", x), ("b", b), ("zi", zi)])
    y, zf = fir_checked(x, b, zi, hop)
    return (y, zf) if check_flag("return_zf", return_zf) else y


def _check_b(b: object, B: int, T: int, hop: Optional[int] = None) -> torch.Tensor:
    if hop is not None:
        b = check_tensor("b", b, 3, "(B, F, K+1)")
        if b.shape[0] != B or b.shape[2] < 1:
            raise ValueError(f"b must have shape (B, F, K+1) with B = {B} and K >= 0 to match x, got {tuple(b.shape)}")
        check_frames("b", b.shape[1], T, hop)
        return b
    b = check_tensor("b", b, 3, "(B, T, K+1)")
    if b.shape[:2] != (B, T) or b.shape[2] < 1:
        raise ValueError(
            f"b must have shape (B, T, K+1) = ({B}, {T}, K+1) with K >= 0 to match x, got {tuple(b.shape)}"
        )
    return b


def fir_checked(
    x: torch.Tensor, b: torch.Tensor, zi: Optional[torch.Tensor], hop: Optional[int] = None
) -> Tuple[torch.Tensor, torch.Tensor]:
    """:func:`time_varying_fir` on arguments already validated (by it, or :func:`check_iir`):
    ``(y, zf)``."""
    B, T = x.shape
    K = b.shape[2] - 1
    dtype = common_dtype(x, b, zi)
    xx, zz = x.to(dtype), zi.to(dtype) if zi is not None else None
    y = fir(xx, b.to(dtype), zz, hop)
    if T >= K:  # zf = (x[T-1], ..., x[T-K])
        zf = xx[:, T - K :].flip(1)
    else:
        zf = torch.cat([xx.flip(1), zz[:, : K - T] if zz is not None else xx.new_zeros(B, K - T)], dim=1)
    return y, zf


def _split_state(zi: object, B: int, K: int, M: int) -> Tuple[Optional[torch.Tensor], Optional[torch.Tensor]]:
    if zi is None:
        return None, None
    if not isinstance(zi, (tuple, list)) or len(zi) != 2:
        raise TypeError(
            "zi must be None or a pair (zi_x, zi_y) of past inputs (B, K) and past outputs (B, M), "
            f"got {type(zi).__name__}"
        )
    zx, zy = zi
    _check_zi_fir(zx, B, K, "zi[0] (past inputs)")
    check_tensor("zi[1] (past outputs)", zy, 2, "(B, M)")
    if tuple(zy.shape) != (B, M):
        raise ValueError(f"zi[1] (past outputs) must have shape (B, M) = {(B, M)}, got {tuple(zy.shape)}")
    return zx, zy


def check_iir(
    x: object, b: object, a: object, zi: object, hop: Optional[int] = None
) -> Tuple[int, int, int, int, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Validate :func:`time_varying_iir`'s arguments (``hop`` checked by ``check_hop``); returns
    ``(B, T, K, M, zi_x, zi_y)``."""
    x = check_tensor("x", x, 2, "(B, T)")
    B, T = x.shape
    b = _check_b(b, B, T, hop)
    a = check_tensor("a", a, 3, "(B, T, M)" if hop is None else "(B, F, M)")
    if hop is not None:
        if a.shape[0] != B:
            raise ValueError(f"a must have shape (B, F, M) with B = {B} to match x, got {tuple(a.shape)}")
        check_frames("a", a.shape[1], T, hop)
    elif a.shape[:2] != (B, T):
        raise ValueError(f"a must have shape (B, T, M) = ({B}, {T}, M) to match x, got {tuple(a.shape)}")
    K, M = b.shape[2] - 1, a.shape[2]
    zx, zy = _split_state(zi, B, K, M)
    check_same_device([("x", x), ("b", b), ("a", a), ("zi[0]", zx), ("zi[1]", zy)])
    return B, T, K, M, zx, zy


def _iir(
    biquad: bool,
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[IIRState] = None,
    return_zf: bool = False,
    *,
    hop: Optional[int] = None,
) -> Union[torch.Tensor, Tuple[torch.Tensor, IIRState]]:
    """:func:`time_varying_iir`, and :func:`time_varying_biquad` if ``biquad``."""
    if biquad:
        check_biquad(b, a)
    hop = check_hop(hop)
    *_, zx, zy = check_iir(x, b, a, zi, hop)
    return iir_checked(x, b, a, zx, zy, check_flag("return_zf", return_zf), hop)


time_varying_iir = flag_variant(
    _iir,
    False,
    "time_varying_iir",
    r"""Time-varying IIR filter (direct form I): FIR numerator, then the all-pole denominator.

    .. math::
        y[n] = \sum_{k=0}^{K} b[n,k]\, x[n-k] \;-\; \sum_{i=1}^{M} a[n,i-1]\, y[n-i]

    Differentiable in ``x``, ``b``, ``a`` and ``zi`` (also forward-mode AD) on every backend.

    Args:
        x (Tensor): input, shape `(B, T)`.
        b (Tensor): numerator, shape `(B, T, K+1)`; ``b[:, n, k]`` multiplies ``x[n-k]``.
        a (Tensor): denominator without its leading 1, shape `(B, T, M)`; ``a[:, n, i-1]``
            multiplies ``y[n-i]``. ``M = 0`` gives a pure FIR filter. ``b`` and ``a`` may be
            expanded over time (e.g. ``b0[:, None].expand(-1, T, -1)``).
        zi (tuple or None, optional): initial state ``(zi_x, zi_y)``: past inputs
            ``(x[-1], ..., x[-K])`` of shape `(B, K)` and past outputs ``(y[-1], ..., y[-M])``
            of shape `(B, M)`. Default: zeros.
        return_zf (bool, optional): also return the final state in the same form, so that
            filtering block by block with ``zi = zf`` equals one call. Default: ``False``.
        hop (int or None, optional): ``b`` and ``a`` hold control frames `(B, F, K+1)` and
            `(B, F, M)` every ``hop`` samples (:func:`tritonlpc.sample_wise_lpc`'s ``hop``; the
            numerator is interpolated in torch one tap at a time, the denominator in the
            kernels). Default: per-sample ``b`` and ``a``.

    Returns:
        Tensor: ``y``, shape `(B, T)`, or ``(y, (zf_x, zf_y))`` if ``return_zf``.

    Raises:
        TypeError: an argument has the wrong type or a non-floating dtype.
        ValueError: shapes or devices do not match.

    Example:
        >>> b, a = biquad_lowpass(cutoff, q=2.0, sample_rate=48000)   # (B, T, 3), (B, T, 2)
        >>> y = time_varying_iir(x, b, a)
    """,
)

time_varying_biquad = flag_variant(
    _iir,
    True,
    "time_varying_biquad",
    r"""Time-varying biquad ``y[n] = b0 x[n] + b1 x[n-1] + b2 x[n-2] - a1 y[n-1] - a2 y[n-2]``.

    :func:`time_varying_iir` with ``b`` of shape `(B, T, 3)` and ``a`` of shape `(B, T, 2)`
    (e.g. from :func:`biquad_lowpass`); ``zi = (zi_x (B, 2), zi_y (B, 2))``; with ``hop``,
    control frames `(B, F, 3)` and `(B, F, 2)` (as :func:`time_varying_iir`).

    Raises:
        ValueError: ``b`` or ``a`` does not hold 3 and 2 coefficients per sample.
    """,
)


def iir_checked(
    x: torch.Tensor,
    b: torch.Tensor,
    a: torch.Tensor,
    zx: Optional[torch.Tensor],
    zy: Optional[torch.Tensor],
    return_zf: bool,
    hop: Optional[int] = None,
) -> Union[torch.Tensor, Tuple[torch.Tensor, IIRState]]:
    """:func:`time_varying_iir` on arguments :func:`check_iir` validated (``zi`` split in two)."""
    v, zf_x = fir_checked(x, b, zx, hop)
    if a.shape[2] == 0:
        y, zf_y = v, v.new_zeros(x.shape[0], 0)
    else:
        y, zf_y = cast(Tuple[torch.Tensor, torch.Tensor], lpc_checked(v, a, zy, True, hop))
    return (y, (zf_x, zf_y)) if return_zf else y


def check_biquad(b: object, a: object) -> None:
    """``b`` and ``a`` hold the 3 and 2 coefficients of a biquad per sample."""
    for name, t, n in (("b", b, 3), ("a", a, 2)):
        t = check_tensor(name, t, 3, f"(B, T, {n})")
        if t.shape[2] != n:
            raise ValueError(f"{name} must have shape (B, T, {n}) for a biquad, got {tuple(t.shape)}")


# --------------------------------------------------------------------------- biquad designs
def _design_inputs(
    cutoff: torch.Tensor, q: Number, sample_rate: float, name: str = "cutoff"
) -> Tuple[torch.Tensor, torch.Tensor]:
    check_tensor(name, cutoff, real=True)
    sample_rate = check_sample_rate(sample_rate)
    check_range("q", q, 0.0, low_open=True, finite=True)
    qt = as_tensor_like("q", q, cutoff)
    check_same_device([(name, cutoff), ("q", qt)])
    w0 = (2 * math.pi / sample_rate) * cutoff
    return w0, qt


def _normalised(b0, b1, b2, a0, a1, a2) -> Tuple[torch.Tensor, torch.Tensor]:
    b = torch.stack(torch.broadcast_tensors(b0, b1, b2), dim=-1) / a0.unsqueeze(-1)
    a = torch.stack(torch.broadcast_tensors(a1, a2), dim=-1) / a0.unsqueeze(-1)
    return b, a


def _rbj(
    kind: str, cutoff: torch.Tensor, q: Number, sample_rate: float, gain_db: Number = 0.0
) -> Tuple[torch.Tensor, torch.Tensor]:
    w0, qt = _design_inputs(cutoff, q, sample_rate)
    cw, sw = torch.cos(w0), torch.sin(w0)
    alpha = sw / (2 * qt)
    one = torch.ones_like(cw)
    if kind == "lowpass":
        return _normalised((1 - cw) / 2, 1 - cw, (1 - cw) / 2, 1 + alpha, -2 * cw, 1 - alpha)
    if kind == "highpass":
        return _normalised((1 + cw) / 2, -(1 + cw), (1 + cw) / 2, 1 + alpha, -2 * cw, 1 - alpha)
    if kind == "bandpass":
        return _normalised(alpha, 0 * alpha, -alpha, 1 + alpha, -2 * cw, 1 - alpha)
    if kind == "notch":
        return _normalised(one, -2 * cw, one, 1 + alpha, -2 * cw, 1 - alpha)
    if kind == "allpass":
        return _normalised(1 - alpha, -2 * cw, 1 + alpha, 1 + alpha, -2 * cw, 1 - alpha)
    if kind == "peak":
        check_range("gain_db", gain_db, finite=True)
        g = as_tensor_like("gain_db", gain_db, cutoff)
        A = torch.pow(10.0, g / 40)
        return _normalised(1 + alpha * A, -2 * cw, 1 - alpha * A, 1 + alpha / A, -2 * cw, 1 - alpha / A)
    raise AssertionError(kind)


_DESIGN_DOC = r"""RBJ-cookbook {what} biquad, vectorised over any shape (e.g. per sample or per frame).

    Args:
        cutoff (Tensor): {freq} in Hz, any shape `(*)` (e.g. `(B, T)`), real floating point,
            in ``(0, sample_rate / 2)`` (not checked: a tensor's values are used as they are).
        q (float or Tensor): quality factor ``> 0`` (broadcast against ``cutoff``).{extra}
        sample_rate (float): sampling rate in Hz, positive and finite.

    Returns:
        (Tensor, Tensor): ``b`` of shape `(*, 3)` and ``a`` of shape `(*, 2)` (normalised by
        ``a0``; the leading 1 of the denominator is not stored), ready for
        :func:`time_varying_biquad`. Differentiable in ``cutoff``, ``q``{gain}.

    Raises:
        TypeError: ``cutoff`` is not a real floating point tensor, or ``q`` has a wrong type.
        ValueError: ``sample_rate`` is not a positive finite number, or a number ``q`` is not
            positive and finite{gain_raise}.
    """


def biquad_lowpass(cutoff: torch.Tensor, q: Number, sample_rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("lowpass", cutoff, q, sample_rate)


def biquad_highpass(cutoff: torch.Tensor, q: Number, sample_rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("highpass", cutoff, q, sample_rate)


def biquad_bandpass(cutoff: torch.Tensor, q: Number, sample_rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("bandpass", cutoff, q, sample_rate)


def biquad_notch(cutoff: torch.Tensor, q: Number, sample_rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("notch", cutoff, q, sample_rate)


def biquad_allpass(cutoff: torch.Tensor, q: Number, sample_rate: float) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("allpass", cutoff, q, sample_rate)


def biquad_peak(
    cutoff: torch.Tensor, q: Number, gain_db: Number, sample_rate: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    return _rbj("peak", cutoff, q, sample_rate, gain_db)


for _fn, _what, _freq, _extra, _gain, _gain_raise in (
    (biquad_lowpass, "low-pass", "cutoff frequency", "", "", ""),
    (biquad_highpass, "high-pass", "cutoff frequency", "", "", ""),
    (biquad_bandpass, "band-pass (0 dB peak gain)", "centre frequency", "", "", ""),
    (biquad_notch, "notch", "centre frequency", "", "", ""),
    (biquad_allpass, "all-pass", "centre frequency (phase -180 degrees)", "", "", ""),
    (
        biquad_peak,
        "peaking-EQ",
        "centre frequency",
        "\n        gain_db (float or Tensor): gain at the centre frequency in dB (broadcast; finite).",
        " and ``gain_db``",
        ", or a number ``gain_db`` is not finite",
    ),
):
    _fn.__doc__ = _DESIGN_DOC.format(what=_what, freq=_freq, extra=_extra, gain=_gain, gain_raise=_gain_raise)


# --------------------------------------------------------------------------- all-pass / phaser
def allpass_coefficient(break_frequency: torch.Tensor, sample_rate: float) -> torch.Tensor:
    r"""Coefficient ``p`` of the first-order all-pass ``(p + z^-1) / (1 + p z^-1)`` whose phase
    is -90 degrees at ``break_frequency``: ``p = (tan(pi f / fs) - 1) / (tan(pi f / fs) + 1)``.

    Args:
        break_frequency (Tensor): Hz, any shape, in ``(0, sample_rate / 2)`` (not checked: a
            tensor's values are used as they are).
        sample_rate (float): Hz, positive and finite.

    Returns:
        Tensor: ``p``, same shape, in ``(-1, 1)``. Differentiable.

    Raises:
        ValueError: ``sample_rate`` is not a positive finite number.
    """
    w0, _ = _design_inputs(break_frequency, 1.0, sample_rate, name="break_frequency")
    t = torch.tan(w0 / 2)
    return (t - 1) / (t + 1)


def first_order_allpass(
    x: torch.Tensor,
    p: torch.Tensor,
    zi: Optional[IIRState] = None,
    return_zf: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, IIRState]]:
    r"""Time-varying first-order all-pass section ``y[n] = p[n] x[n] + x[n-1] - p[n] y[n-1]``.

    Args:
        x (Tensor): input, shape `(B, T)`.
        p (Tensor): coefficient per sample, shape `(B, T)`, ``|p| < 1`` for a stable section
            (not checked: a tensor's values are used as they are; see :func:`allpass_coefficient`).
        zi (tuple or None, optional): ``(x[-1] (B, 1), y[-1] (B, 1))``. Default: zeros.
        return_zf (bool, optional): also return the final state. Default: ``False``.

    Returns:
        Tensor: ``y``, shape `(B, T)` (or ``(y, zf)``). Differentiable in ``x``, ``p``, ``zi``.
    """
    check_tensor("x", x, 2, "(B, T)")
    check_tensor("p", p, 2, "(B, T)")
    if p.shape != x.shape:
        raise ValueError(f"p must have the shape of x {tuple(x.shape)}, got {tuple(p.shape)}")
    b = torch.stack([p, torch.ones_like(p)], dim=-1)
    return time_varying_iir(x, b, p.unsqueeze(-1), zi, return_zf)


def phaser_coefficients(p: torch.Tensor, n_stages: int, feedback: Number = 0.0) -> Tuple[torch.Tensor, torch.Tensor]:
    r"""Numerator and denominator of ``n_stages`` identical first-order all-pass sections with a
    feedback loop (one-sample delay) around them, for :func:`time_varying_iir`:

    .. math::
        H(z) = \frac{G(z)}{1 - k z^{-1} G(z)}, \quad
        G(z) = \left(\frac{p + z^{-1}}{1 + p z^{-1}}\right)^{N}
        = \frac{P(z)}{Q(z)}, \quad H(z) = \frac{P(z)}{Q(z) - k z^{-1} P(z)}

    With a time-varying ``p[n]`` the polynomials are formed per sample (the "combined"
    time-varying filter; it equals the cascade of time-varying sections when ``p`` is
    constant, and differs from it by terms of the order of ``p[n] - p[n-1]`` otherwise).

    Args:
        p (Tensor): all-pass coefficient, any shape `(*)` (e.g. `(B, T)`), ``|p| < 1`` (not
            checked: a tensor's values are used as they are).
        n_stages (int): number of all-pass sections ``N >= 1``.
        feedback (float or Tensor): loop gain ``k`` (broadcast against ``p``) in ``(-1, 1)``: the
            loop gain of an all-pass cascade has modulus ``|k|`` at every frequency, so
            ``|k| >= 1`` puts a pole on or outside the unit circle. A number outside is rejected;
            a tensor is not checked.

    Returns:
        (Tensor, Tensor): ``b`` of shape `(*, N+1)` and ``a`` of shape `(*, N+1)` (leading 1 of
        the denominator not stored). Differentiable in ``p`` and ``feedback``.

    Raises:
        ValueError: ``n_stages < 1``, or a number ``feedback`` outside ``(-1, 1)``.
    """
    check_tensor("p", p, real=True)
    N = check_int("n_stages", n_stages)
    check_range("feedback", feedback, -1.0, 1.0, low_open=True, high_open=True)
    k = as_tensor_like("feedback", feedback, p)
    check_same_device([("p", p), ("feedback", k)])
    binom = torch.tensor([math.comb(N, i) for i in range(N + 1)], device=p.device, dtype=p.dtype)
    powers = [torch.ones_like(p)]
    for _ in range(N):  # p^0 .. p^N by products (no pow: its gradient is NaN at p = 0)
        powers.append(powers[-1] * p)
    pw = torch.stack(powers, dim=-1)
    # P(z) = (p + z^-1)^N: coefficient of z^-j is C(N, j) p^(N-j);  Q(z) = (1 + p z^-1)^N: C(N, j) p^j.
    num = binom * pw.flip(-1)
    den = binom * pw
    k = k.unsqueeze(-1)
    num, den, k = torch.broadcast_tensors(num, den, k)
    # Q(z) - k z^-1 P(z): z^-(j+1) gets -k C(N, j) p^(N-j); Q's leading coefficient is 1.
    a = torch.cat([den[..., 1:], torch.zeros_like(den[..., :1])], dim=-1) - k * num
    return num, a
