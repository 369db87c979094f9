r"""Modulated-delay effects on :mod:`tritonlpc.audio.delay`: flanger and chorus.

Both read their input through a delay swept by a sinusoidal LFO (in samples, ``fs`` the sample
rate, ``n`` the sample index)::

    d[n] = (delay_ms + depth_ms (1 - cos(2 pi rate_hz n / fs + phase)) / 2) fs / 1000

so ``delay_ms`` is the shortest delay and ``delay_ms + depth_ms`` the longest. Every parameter
is a Python number (checked) or a tensor (learnable, used as it is); see each function for the
shapes a tensor may have. Differentiable in all of them, the delay through the interpolation.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple, Union

import torch

from .._validation import check_flag, check_int, check_range, check_sample_rate, check_tensor
from .delay import comb_filter, fractional_delay

__all__ = ["lfo_delay", "flanger", "chorus"]

Param = Union[float, torch.Tensor]


def lfo_delay(
    num_samples: int,
    delay_ms: Param,
    depth_ms: Param,
    rate_hz: Param,
    phase: Param,
    sample_rate: float,
    *,
    like: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    r"""The LFO-swept delay ``d[n]`` in samples (module docstring).

    Args:
        num_samples (int): ``T``.
        delay_ms, depth_ms, rate_hz, phase (Tensor or float): numbers or tensors of shape `(*, 1)`
            broadcasting against each other (``phase`` in radians).
        sample_rate (float): ``fs`` in Hz.
        like (Tensor or None): the dtype (at least) and device to compute in (e.g. the signal's);
            default: the parameters' (or torch's default dtype).

    Returns:
        Tensor: delays of shape `(*, T)` (`(1, T)` for numbers only).
    """
    check_int("num_samples", num_samples, minimum=0)
    check_sample_rate(sample_rate)
    params = [p for p in (delay_ms, depth_ms, rate_hz, phase) if isinstance(p, torch.Tensor)]
    dtype = like.dtype if like is not None else torch.get_default_dtype()
    for p in params:
        dtype = torch.promote_types(dtype, p.dtype) if like is not None else p.dtype
    device = like.device if like is not None else (params[0].device if params else None)
    n = torch.arange(num_samples, dtype=dtype, device=device)[None]
    sweep = 0.5 * (1.0 - torch.cos(2.0 * math.pi * rate_hz * n / sample_rate + phase))
    return (delay_ms + depth_ms * sweep) * (sample_rate / 1000.0)


def _row_param(name: str, value: object, B: int, cols: int = 1) -> Param:
    """A number, or a tensor of shape `()`, `(B,)`, `(cols,)` or `(B, cols)`, as `(B or 1, cols or 1, 1)`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(value).__name__}")
    if not isinstance(value, torch.Tensor):
        return float(value)
    check_tensor(name, value, real=True)
    shape = tuple(value.shape)
    if cols == 1 and shape in ((), (1,), (B,)):
        return value.reshape(-1, 1, 1)
    if cols > 1 and shape in ((), (cols,)):
        return value.reshape(1, -1, 1)
    if shape in ((B, cols), (1, cols), (B, 1)):
        return value.reshape(shape[0], shape[1], 1)
    allowed = "() or (B,)" if cols == 1 else "(), (V,) or (B, V)"
    raise ValueError(
        f"{name} must have shape {allowed} with B = {B}" + (f", V = {cols}" if cols > 1 else "") + f", got {shape}"
    )


def _x(x: object) -> torch.Tensor:
    return check_tensor("x", x, 2, "(B, T)", real=True)


def _state(
    zi: object, x: torch.Tensor, delay_ms: object, depth_ms: object, fs: float, return_zf: bool, d: torch.Tensor
) -> Optional[torch.Tensor]:
    """A flanger's or chorus's state ``(B, L)``: ``zi`` checked, or zeros when ``zf`` is asked for
    (else ``None``). With ``delay_ms`` and ``depth_ms`` numbers the longest delay is known without
    reading a tensor: ``zi`` must reach it and a new state is that long (so a ``zf`` always fits
    the next call); otherwise a new state is ``floor(max d) + 1`` long (one read of ``d``)."""
    B = x.shape[0]
    need = None
    if not isinstance(delay_ms, torch.Tensor) and not isinstance(depth_ms, torch.Tensor):
        need = int(math.floor((float(delay_ms) + float(depth_ms)) * fs / 1000.0)) + 1  # type: ignore[arg-type]
    if zi is None:
        if not return_zf:
            return None
        if need is None:
            need = int(math.floor(float(d.detach().max()))) + 1 if d.numel() else 1
        return x.new_zeros((B, need))
    zi = check_tensor("zi", zi, 2, "(B, L)", real=True)
    if zi.shape[0] != B:
        raise ValueError(f"zi must have shape (B, L) with B = {B} rows like x, got {tuple(zi.shape)}")
    if need is not None and zi.shape[1] < need:
        raise ValueError(
            f"zi must hold at least floor((delay_ms + depth_ms) fs / 1000) + 1 = {need} samples (the "
            f"longest delay), got length {zi.shape[1]}"
        )
    return zi


def _mix(x: torch.Tensor, wet: torch.Tensor, mix: Param) -> torch.Tensor:
    m = mix[:, :, 0] if isinstance(mix, torch.Tensor) else mix
    return (1.0 - m) * x + m * wet


def flanger(
    x: torch.Tensor,
    delay_ms: Param = 1.0,
    depth_ms: Param = 3.0,
    rate_hz: Param = 0.25,
    phase: Param = 0.0,
    feedback: Param = 0.5,
    mix: Param = 0.5,
    sample_rate: float = 48000.0,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Flanger: a feedback comb swept by an LFO, mixed with the dry signal::

        w[n] = x[n] + feedback w(n - d[n])        (comb_filter, feedback)
        y[n] = (1 - mix) x[n] + mix w(n - d[n])   (fractional_delay)

    Args:
        x (Tensor): input, shape `(B, T)`.
        delay_ms (Tensor or float): shortest delay in ms, at least one sample (``1000 / fs``).
        depth_ms (Tensor or float): sweep width in ms, ``>= 0``.
        rate_hz (Tensor or float): LFO rate in Hz, ``>= 0``.
        phase (Tensor or float): LFO phase at ``n = 0`` in radians.
        feedback (Tensor or float): comb gain, ``|feedback| < 1``.
        mix (Tensor or float): wet share, in ``[0, 1]`` (0.5: the deepest notches).
        sample_rate (float): ``fs`` in Hz.
        zi (Tensor or None): the last ``L`` samples of ``w`` before the block, oldest first,
            shape `(B, L)` (both reads of ``w`` continue from it; see :func:`comb_filter`);
            ``None``: zeros.
        return_zf (bool): also return ``zf (B, L)``, the last ``L`` samples of ``w``. To
            continue in the next block, pass it as ``zi`` and advance ``phase`` by
            ``2 pi rate_hz T / fs``.

    Every parameter is a number or a tensor of shape `()` or `(B,)`. With ``delay_ms`` and
    ``depth_ms`` numbers, ``zi`` must hold at least ``floor((delay_ms + depth_ms) fs / 1000) + 1``
    samples, and a ``zf`` made without ``zi`` is that long.

    Returns:
        Tensor: `(B, T)`, or ``(y, zf)``.
    """
    x = _x(x)
    B, T = x.shape
    check_sample_rate(sample_rate)
    check_flag("return_zf", return_zf)
    check_range("delay_ms", delay_ms, 1000.0 / sample_rate, finite=True)
    check_range("depth_ms", depth_ms, 0.0, finite=True)
    check_range("rate_hz", rate_hz, 0.0, finite=True)
    check_range("phase", phase, finite=True)
    check_range("feedback", feedback, -1.0, 1.0, low_open=True, high_open=True)
    check_range("mix", mix, 0.0, 1.0)
    p = [_row_param(n, v, B) for n, v in (("delay_ms", delay_ms), ("depth_ms", depth_ms), ("rate_hz", rate_hz))]
    ph, fb, mx = (_row_param(n, v, B) for n, v in (("phase", phase), ("feedback", feedback), ("mix", mix)))
    d = lfo_delay(T, p[0], p[1], p[2], ph, sample_rate, like=x).reshape(-1, T)  # (B or 1, T)
    d = d.to(torch.promote_types(d.dtype, x.dtype))
    g = fb[:, :, 0] if isinstance(fb, torch.Tensor) else fb
    if zi is None and not return_zf:
        w = comb_filter(x, d, g, feedback=True)
        assert isinstance(w, torch.Tensor)
        wet = fractional_delay(w, d)
        assert isinstance(wet, torch.Tensor)
        return _mix(x, wet, mx)
    zi = _state(zi, x, delay_ms, depth_ms, sample_rate, True, d)
    w, zf = comb_filter(x, d, g, feedback=True, zi=zi, return_zf=True)
    wet = fractional_delay(w, d, zi=zi)
    assert isinstance(wet, torch.Tensor)
    y = _mix(x, wet, mx)
    return (y, zf) if return_zf else y


def chorus(
    x: torch.Tensor,
    voices: int = 3,
    delay_ms: Param = 10.0,
    depth_ms: Param = 5.0,
    rate_hz: Param = 0.5,
    phase: Param = 0.0,
    mix: Param = 0.5,
    sample_rate: float = 48000.0,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Chorus: ``V`` delayed copies, each swept by its own LFO, averaged and mixed with the dry
    signal::

        y[n] = (1 - mix) x[n] + mix / V sum_v x(n - d_v[n]),
        d_v  = lfo_delay(delay_ms_v, depth_ms_v, rate_hz_v, phase_v + 2 pi v / V)

    Args:
        x (Tensor): input, shape `(B, T)`.
        voices (int): ``V >= 1``.
        delay_ms, depth_ms (Tensor or float): shortest delay and sweep width in ms, ``>= 0``.
        rate_hz (Tensor or float): LFO rates in Hz, ``>= 0``.
        phase (Tensor or float): LFO phase of the first voice in radians (voice ``v`` adds
            ``2 pi v / V``).
        mix (Tensor or float): wet share in ``[0, 1]``, a number or a tensor of shape `()` or `(B,)`.
        sample_rate (float): ``fs`` in Hz.
        zi (Tensor or None): the last ``L`` samples of ``x`` before the block, oldest first,
            shape `(B, L)`, read by every voice (the state of :func:`fractional_delay`, shared by
            the voices); samples further back are zero. ``None``: zeros.
        return_zf (bool): also return ``zf (B, L)``, the last ``L`` samples of ``[zi, x]``
            (without ``zi``, ``L = floor(max delay) + 1`` samples over all voices). To continue
            in the next block, pass it as ``zi`` and advance ``phase`` by
            ``2 pi rate_hz T / fs``.

    The voice parameters are numbers or tensors of shape `()`, `(V,)` or `(B, V)`. With
    ``delay_ms`` and ``depth_ms`` numbers, ``zi`` must hold at least
    ``floor((delay_ms + depth_ms) fs / 1000) + 1`` samples.

    Returns:
        Tensor: `(B, T)`, or ``(y, zf)``.
    """
    x = _x(x)
    B, T = x.shape
    V = check_int("voices", voices)
    check_sample_rate(sample_rate)
    check_flag("return_zf", return_zf)
    for name, v in (("delay_ms", delay_ms), ("depth_ms", depth_ms), ("rate_hz", rate_hz)):
        check_range(name, v, 0.0, finite=True)
    check_range("phase", phase, finite=True)
    check_range("mix", mix, 0.0, 1.0)
    p = [_row_param(n, v, B, V) for n, v in (("delay_ms", delay_ms), ("depth_ms", depth_ms), ("rate_hz", rate_hz))]
    ph = _row_param("phase", phase, B, V)
    spread = torch.arange(V, dtype=x.dtype, device=x.device)[None, :, None] * (2.0 * math.pi / V)
    d = lfo_delay(T, p[0], p[1], p[2], ph + spread, sample_rate, like=x)  # (B or 1, V, T)
    d = d.to(torch.promote_types(d.dtype, x.dtype)).expand(B, V, T).reshape(B * V, T)
    xv = x[:, None].expand(B, V, T).reshape(B * V, T)
    z = _state(zi, x, delay_ms, depth_ms, sample_rate, return_zf, d)
    zv = None if z is None else z[:, None].expand(B, V, z.shape[1]).reshape(B * V, z.shape[1])
    wet = fractional_delay(xv, d, zi=zv)
    assert isinstance(wet, torch.Tensor)
    y = _mix(x, wet.reshape(B, V, T).mean(1), _row_param("mix", mix, B))
    if not return_zf:
        return y
    assert z is not None
    return y, torch.cat([z.to(x.dtype), x], 1)[:, T:]
