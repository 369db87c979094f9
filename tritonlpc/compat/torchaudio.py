"""torchaudio.functional's IIR filtering, with the same signatures, formulas, defaults and clamping.

``from tritonlpc.compat import torchaudio as F`` in place of ``import torchaudio.functional as F``
for ``lfilter``, ``filtfilt``, ``biquad`` and the biquad designs. The filtering runs on
:func:`tritonlpc.signal.lfilter` (a convolution, then :func:`tritonlpc.sample_wise_lpc` with the
coefficients expanded over time): exact, differentiable in the waveform and every coefficient,
``torch.compile``-able, fast on CPU and GPU.

Differences from torchaudio (all deliberate):

* ``a_coeffs[..., 0] == 0`` raises a ``ValueError`` (torchaudio divides by it: inf/NaN output).
* Mixed dtypes are promoted (torchaudio's convolution wants one dtype); float16/bfloat16 are
  computed in float32.
* Errors are ``ValueError``/``TypeError`` naming the argument, in the same cases torchaudio raises.
"""

from __future__ import annotations

import math
from typing import Tuple, Union

import torch
from torch import Tensor

from ..signal._lti import check_tensor
from ..signal.filtering import lfilter as _sp_lfilter

__all__ = [
    "lfilter",
    "filtfilt",
    "biquad",
    "lowpass_biquad",
    "highpass_biquad",
    "bandpass_biquad",
    "bandreject_biquad",
    "allpass_biquad",
    "equalizer_biquad",
    "band_biquad",
    "bass_biquad",
    "treble_biquad",
]

Number = Union[float, Tensor]


def lfilter(waveform: Tensor, a_coeffs: Tensor, b_coeffs: Tensor, clamp: bool = True, batching: bool = True) -> Tensor:
    """IIR filter with zero initial conditions (torchaudio.functional.lfilter).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        a_coeffs (Tensor): denominator ``[a0, a1, ...]``, shape `(num_order + 1)` or
            `(num_filters, num_order + 1)`; the same size as ``b_coeffs`` (pad with zeros).
        b_coeffs (Tensor): numerator ``[b0, b1, ...]``, the same shape.
        clamp (bool, optional): clamp the output to ``[-1, 1]``. Default: ``True``.
        batching (bool, optional): with 2D coefficients, ``True`` applies filter ``i`` to
            ``waveform[..., i, :]``; ``False`` applies every filter to the whole waveform.
            Default: ``True``.

    Returns:
        Tensor: shape `(..., time)` for 1D coefficients; `(..., num_filters, time)` for 2D ones
        (with ``batching=False`` the filter dimension is added).
    """
    waveform = check_tensor("waveform", waveform)
    a_coeffs = check_tensor("a_coeffs", a_coeffs)
    b_coeffs = check_tensor("b_coeffs", b_coeffs)
    if a_coeffs.size() != b_coeffs.size():
        raise ValueError(
            f"a_coeffs and b_coeffs must have the same size (pad with zeros), got {tuple(a_coeffs.size())} "
            f"and {tuple(b_coeffs.size())}"
        )
    if a_coeffs.ndim not in (1, 2):
        raise ValueError(f"a_coeffs must be 1D or 2D, got {a_coeffs.ndim} dimensions")
    if waveform.ndim == 0:
        raise ValueError("waveform must have at least one dimension (time), got a scalar")
    if a_coeffs.ndim == 2:
        if batching:
            if waveform.ndim < 2 or waveform.shape[-2] != a_coeffs.shape[0]:
                raise ValueError(
                    f"with batching, waveform.shape[-2] must equal the number of filters {a_coeffs.shape[0]}, "
                    f"got waveform of shape {tuple(waveform.shape)}"
                )
        else:
            waveform = waveform.unsqueeze(-2).expand(*waveform.shape[:-1], a_coeffs.shape[0], waveform.shape[-1])
    y = _sp_lfilter(b_coeffs, a_coeffs, waveform, axis=-1)
    return torch.clamp(y, min=-1.0, max=1.0) if clamp else y


def filtfilt(waveform: Tensor, a_coeffs: Tensor, b_coeffs: Tensor, clamp: bool = True) -> Tensor:
    """Forward then time-reversed :func:`lfilter` (torchaudio.functional.filtfilt): zero initial
    conditions and no padding (unlike :func:`tritonlpc.signal.filtfilt`, scipy's).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        a_coeffs (Tensor): shape `(num_order + 1)` or `(num_filters, num_order + 1)`.
        b_coeffs (Tensor): the same shape.
        clamp (bool, optional): clamp the output to ``[-1, 1]`` (the first pass is not clamped).
            Default: ``True``.

    Returns:
        Tensor: as :func:`lfilter` with ``batching=True``.
    """
    forward = lfilter(waveform, a_coeffs, b_coeffs, clamp=False, batching=True)
    return lfilter(forward.flip(-1), a_coeffs, b_coeffs, clamp=clamp, batching=True).flip(-1)


def _coef(v: Number, like: Tensor) -> Tensor:
    return torch.as_tensor(v, dtype=like.dtype, device=like.device).reshape(1)


def biquad(waveform: Tensor, b0: Number, b1: Number, b2: Number, a0: Number, a1: Number, a2: Number) -> Tensor:
    """Biquad filter with zero initial conditions, output clamped to ``[-1, 1]``
    (torchaudio.functional.biquad). Coefficients: floats or one-element tensors (differentiable).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        b0, b1, b2 (float or Tensor): numerator (``x[n]``, ``x[n-1]``, ``x[n-2]``).
        a0, a1, a2 (float or Tensor): denominator (``y[n]``, ``y[n-1]``, ``y[n-2]``).

    Returns:
        Tensor: shape `(..., time)`.
    """
    waveform = check_tensor("waveform", waveform)
    a = torch.cat([_coef(a0, waveform), _coef(a1, waveform), _coef(a2, waveform)])
    b = torch.cat([_coef(b0, waveform), _coef(b1, waveform), _coef(b2, waveform)])
    return lfilter(waveform, a, b)


def _params(waveform: Tensor, *values: Number) -> Tuple[Tensor, ...]:
    waveform = check_tensor("waveform", waveform)
    return tuple(torch.as_tensor(v, dtype=waveform.dtype, device=waveform.device) for v in values)


def _w0_alpha(freq: Tensor, Q: Tensor, sample_rate: int) -> Tuple[Tensor, Tensor]:
    w0 = 2 * math.pi * freq / sample_rate
    return w0, torch.sin(w0) / 2 / Q


def lowpass_biquad(waveform: Tensor, sample_rate: int, cutoff_freq: Number, Q: Number = 0.707) -> Tensor:
    """Two-pole low-pass (RBJ cookbook; torchaudio.functional.lowpass_biquad).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        sample_rate (int): sampling rate (Hz).
        cutoff_freq (float or Tensor): cutoff (Hz).
        Q (float or Tensor, optional): quality factor. Default: ``0.707``.

    Returns:
        Tensor: shape `(..., time)`, clamped to ``[-1, 1]``.
    """
    cutoff_freq, Q = _params(waveform, cutoff_freq, Q)
    w0, alpha = _w0_alpha(cutoff_freq, Q, sample_rate)
    b0 = (1 - torch.cos(w0)) / 2
    return biquad(waveform, b0, 1 - torch.cos(w0), b0, 1 + alpha, -2 * torch.cos(w0), 1 - alpha)


def highpass_biquad(waveform: Tensor, sample_rate: int, cutoff_freq: Number, Q: Number = 0.707) -> Tensor:
    """Two-pole high-pass (torchaudio.functional.highpass_biquad); arguments as :func:`lowpass_biquad`."""
    cutoff_freq, Q = _params(waveform, cutoff_freq, Q)
    w0, alpha = _w0_alpha(cutoff_freq, Q, sample_rate)
    b0 = (1 + torch.cos(w0)) / 2
    return biquad(waveform, b0, -1 - torch.cos(w0), b0, 1 + alpha, -2 * torch.cos(w0), 1 - alpha)


def bandpass_biquad(
    waveform: Tensor, sample_rate: int, central_freq: Number, Q: Number = 0.707, const_skirt_gain: bool = False
) -> Tensor:
    """Two-pole band-pass (torchaudio.functional.bandpass_biquad).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        sample_rate (int): sampling rate (Hz).
        central_freq (float or Tensor): centre (Hz).
        Q (float or Tensor, optional): quality factor. Default: ``0.707``.
        const_skirt_gain (bool, optional): constant skirt gain (peak gain = Q) instead of a 0 dB
            peak. Default: ``False``.
    """
    central_freq, Q = _params(waveform, central_freq, Q)
    w0, alpha = _w0_alpha(central_freq, Q, sample_rate)
    temp = torch.sin(w0) / 2 if const_skirt_gain else alpha
    return biquad(waveform, temp, 0.0, -temp, 1 + alpha, -2 * torch.cos(w0), 1 - alpha)


def bandreject_biquad(waveform: Tensor, sample_rate: int, central_freq: Number, Q: Number = 0.707) -> Tensor:
    """Two-pole band-reject (torchaudio.functional.bandreject_biquad); arguments as :func:`bandpass_biquad`."""
    central_freq, Q = _params(waveform, central_freq, Q)
    w0, alpha = _w0_alpha(central_freq, Q, sample_rate)
    return biquad(waveform, 1.0, -2 * torch.cos(w0), 1.0, 1 + alpha, -2 * torch.cos(w0), 1 - alpha)


def allpass_biquad(waveform: Tensor, sample_rate: int, central_freq: Number, Q: Number = 0.707) -> Tensor:
    """Two-pole all-pass (torchaudio.functional.allpass_biquad); arguments as :func:`bandpass_biquad`."""
    central_freq, Q = _params(waveform, central_freq, Q)
    w0, alpha = _w0_alpha(central_freq, Q, sample_rate)
    return biquad(waveform, 1 - alpha, -2 * torch.cos(w0), 1 + alpha, 1 + alpha, -2 * torch.cos(w0), 1 - alpha)


def equalizer_biquad(
    waveform: Tensor, sample_rate: int, center_freq: Number, gain: Number, Q: Number = 0.707
) -> Tensor:
    """Peaking equaliser (torchaudio.functional.equalizer_biquad).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        sample_rate (int): sampling rate (Hz).
        center_freq (float or Tensor): centre (Hz).
        gain (float or Tensor): gain at the centre (dB).
        Q (float or Tensor, optional): quality factor. Default: ``0.707``.
    """
    center_freq, Q, gain = _params(waveform, center_freq, Q, gain)
    w0, alpha = _w0_alpha(center_freq, Q, sample_rate)
    A = torch.exp(gain / 40.0 * math.log(10))
    return biquad(
        waveform, 1 + alpha * A, -2 * torch.cos(w0), 1 - alpha * A, 1 + alpha / A, -2 * torch.cos(w0), 1 - alpha / A
    )


def band_biquad(
    waveform: Tensor, sample_rate: int, central_freq: Number, Q: Number = 0.707, noise: bool = False
) -> Tensor:
    """Two-pole band filter (SoX ``band``; torchaudio.functional.band_biquad); arguments as
    :func:`bandpass_biquad`, and ``noise`` (bool, optional): the mode for un-pitched audio.
    Default: ``False``."""
    central_freq, Q = _params(waveform, central_freq, Q)
    w0 = 2 * math.pi * central_freq / sample_rate
    bw_hz = central_freq / Q
    a2 = torch.exp(-2 * math.pi * bw_hz / sample_rate)
    a1 = -4 * a2 / (1 + a2) * torch.cos(w0)
    b0 = torch.sqrt(1 - a1 * a1 / (4 * a2)) * (1 - a2)
    if noise:
        b0 = torch.sqrt(((1 + a2) * (1 + a2) - a1 * a1) * (1 - a2) / (1 + a2)) / b0 * b0
    return biquad(waveform, b0, 0.0, 0.0, 1.0, a1, a2)


def _shelf(
    waveform: Tensor, sample_rate: int, gain: Number, central_freq: Number, Q: Number, sign: int
) -> Tuple[Tensor, ...]:
    """RBJ shelving filter: ``sign = -1`` low shelf (bass), ``+1`` high shelf (treble)."""
    central_freq, Q, gain = _params(waveform, central_freq, Q, gain)
    w0, alpha = _w0_alpha(central_freq, Q, sample_rate)
    A = torch.exp(gain / 40 * math.log(10))
    temp1 = 2 * torch.sqrt(A) * alpha
    temp2 = (A - 1) * torch.cos(w0)
    temp3 = (A + 1) * torch.cos(w0)
    b0 = A * ((A + 1) + sign * temp2 + temp1)
    b1 = -sign * 2 * A * ((A - 1) + sign * temp3)
    b2 = A * ((A + 1) + sign * temp2 - temp1)
    a0 = (A + 1) - sign * temp2 + temp1
    a1 = sign * 2 * ((A - 1) - sign * temp3)
    a2 = (A + 1) - sign * temp2 - temp1
    return b0, b1, b2, a0, a1, a2


def bass_biquad(
    waveform: Tensor, sample_rate: int, gain: Number, central_freq: Number = 100, Q: Number = 0.707
) -> Tensor:
    """Bass tone control, a low shelf (torchaudio.functional.bass_biquad).

    Args:
        waveform (Tensor): audio, shape `(..., time)`.
        sample_rate (int): sampling rate (Hz).
        gain (float or Tensor): boost (or cut) in dB.
        central_freq (float or Tensor, optional): (Hz). Default: ``100``.
        Q (float or Tensor, optional): quality factor. Default: ``0.707``.
    """
    b0, b1, b2, a0, a1, a2 = _shelf(waveform, sample_rate, gain, central_freq, Q, -1)
    # torchaudio normalises by a0 here (not in treble_biquad): the rounding follows it
    return biquad(waveform, b0 / a0, b1 / a0, b2 / a0, a0 / a0, a1 / a0, a2 / a0)


def treble_biquad(
    waveform: Tensor, sample_rate: int, gain: Number, central_freq: Number = 3000, Q: Number = 0.707
) -> Tensor:
    """Treble tone control, a high shelf (torchaudio.functional.treble_biquad); arguments as
    :func:`bass_biquad` (``central_freq`` default ``3000``)."""
    b0, b1, b2, a0, a1, a2 = _shelf(waveform, sample_rate, gain, central_freq, Q, +1)
    return biquad(waveform, b0, b1, b2, a0, a1, a2)
