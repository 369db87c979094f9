r"""Frame-wise frequency-sampling (FS) baseline, for comparisons with exact time-domain filtering.

The approximation the paper compares against: hold each frame's coefficients constant, sample
its frequency response ``H_m(e^{jw}) = B_m(e^{jw}) / A_m(e^{jw})`` on an FFT grid, multiply the
frame's spectrum and overlap-add::

    X[m, k] = STFT(x)            (window w, hop R, n_fft N; frame m centred on sample m R,
                                  zeros outside the signal)
    Y[m, k] = H_m[k] X[m, k]
    y       = ISTFT(Y)           (weighted overlap-add, normalised by sum_m w^2[n - m R])

It differs from the time-varying IIR filter it approximates in three ways (the poster's
list): coefficients are short-time invariant, the result depends on the window and overlap,
and multiplying by a sampled IIR response is a *circular* convolution with the time-aliased
impulse response. Differentiable (``torch.stft``/``torch.istft``), any device.
"""

from __future__ import annotations

from typing import Optional, Union

import torch

from .._validation import check_int, check_same_device, check_tensor

__all__ = ["num_frames", "frame_centers", "frequency_response", "stft_filter", "frequency_sampling_iir"]

Window = Union[str, torch.Tensor]

_WINDOWS = {
    "hann": lambda n, **kw: torch.hann_window(n, **kw),
    "hamming": lambda n, **kw: torch.hamming_window(n, **kw),
    "blackman": lambda n, **kw: torch.blackman_window(n, **kw),
    "rect": lambda n, **kw: torch.ones(n, **kw),
    "sqrt_hann": lambda n, **kw: torch.hann_window(n, **kw).sqrt(),
}


def num_frames(num_samples: int, hop_length: int) -> int:
    """Number of STFT frames ``1 + num_samples // hop_length`` (frames centred on ``m * hop``)."""
    check_int("num_samples", num_samples, minimum=0)
    check_int("hop_length", hop_length)
    return 1 + num_samples // hop_length


def frame_centers(num_samples: int, hop_length: int, device: Optional[torch.device] = None) -> torch.Tensor:
    """Sample index at the centre of each frame, ``m * hop_length``, shape `(F,)` (int64): where
    to evaluate frame-constant coefficients."""
    return torch.arange(num_frames(num_samples, hop_length), device=device) * hop_length


def frequency_response(b: torch.Tensor, a: Optional[torch.Tensor], n_fft: int) -> torch.Tensor:
    r"""``H[k] = B(e^{jw_k}) / A(e^{jw_k})`` on the grid ``w_k = 2 pi k / n_fft``, ``k = 0..n_fft/2``.

    Args:
        b (Tensor): numerator, shape `(*, K+1)` (``b[..., k]`` multiplies ``z^-k``).
        a (Tensor or None): denominator without its leading 1, shape `(*, M)` (broadcast
            against ``b``), or ``None`` for an FIR response.
        n_fft (int): FFT size, at least ``K + 1`` and ``M + 1``.

    Returns:
        Tensor: complex, shape `(*, n_fft // 2 + 1)` (complex128 for float64 inputs, else
        complex64; computed in float64 either way). Differentiable.
    """
    check_tensor("b", b, real=True)
    n = check_int("n_fft", n_fft)
    if b.dim() < 1 or b.shape[-1] > n:
        raise ValueError(f"b must have shape (*, K+1) with K+1 <= n_fft = {n}, got {tuple(b.shape)}")
    if a is not None:
        check_tensor("a", a, real=True)
        check_same_device([("b", b), ("a", a)])
        if a.dim() < 1 or a.shape[-1] + 1 > n:
            raise ValueError(f"a must have shape (*, M) with M+1 <= n_fft = {n}, got {tuple(a.shape)}")
    dtype = b.dtype if a is None else torch.promote_types(b.dtype, a.dtype)
    out = torch.complex128 if dtype == torch.float64 else torch.complex64
    # Evaluated in float64: B and A can both be tiny where poles and zeros nearly cancel (e.g.
    # an all-pass cascade near DC), and float32 sums of O(1) coefficients lose them entirely.
    num = torch.fft.rfft(b.double(), n=n)
    if a is None:
        return num.to(out)
    a = a.double()
    den = torch.fft.rfft(torch.cat([torch.ones_like(a[..., :1]), a], dim=-1), n=n)
    return (num / den).to(out)


def _window(window: Window, win_length: int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(window, torch.Tensor):
        check_tensor("window", window, 1, "(win_length,)", real=True)
        if window.shape[0] != win_length:
            raise ValueError(f"window must have shape ({win_length},) = (win_length,), got {tuple(window.shape)}")
        return window.to(device=like.device, dtype=like.dtype)
    if window not in _WINDOWS:
        raise ValueError(f"window must be a tensor or one of {sorted(_WINDOWS)}, got {window!r}")
    return _WINDOWS[window](win_length, dtype=like.dtype, device=like.device)


def stft_filter(
    x: torch.Tensor,
    H: torch.Tensor,
    n_fft: int,
    hop_length: int,
    window: Window = "hann",
    win_length: Optional[int] = None,
) -> torch.Tensor:
    r"""Apply frame-wise frequency responses by STFT, multiplication and overlap-add.

    Args:
        x (Tensor): input, shape `(B, T)`, real.
        H (Tensor): complex response of each frame, shape `(B, F, n_fft // 2 + 1)` with
            ``F = num_frames(T, hop_length)`` (frame ``m`` is centred on sample ``m * hop``).
        n_fft (int): FFT size.
        hop_length (int): hop ``R`` between frames.
        window (str or Tensor): analysis/synthesis window: ``"hann"`` (default), ``"hamming"``,
            ``"blackman"``, ``"rect"``, ``"sqrt_hann"`` or a tensor of shape `(win_length,)`.
            Window and hop must overlap-add to a non-zero sum (torch's NOLA condition).
        win_length (int or None): window length ``<= n_fft``. Default: ``n_fft``.

    Returns:
        Tensor: ``y``, shape `(B, T)`. Differentiable in ``x`` and ``H``.
    """
    check_tensor("x", x, 2, "(B, T)", real=True)
    n = check_int("n_fft", n_fft)
    hop = check_int("hop_length", hop_length)
    wl = n if win_length is None else check_int("win_length", win_length)
    if wl > n:
        raise ValueError(f"win_length must be <= n_fft = {n}, got {wl}")
    B, T = x.shape
    F = num_frames(T, hop)
    if not isinstance(H, torch.Tensor) or not H.is_complex():
        raise TypeError(
            f"H must be a complex torch.Tensor of shape (B, F, n_fft//2+1), got {type(H).__name__}"
            + (f" of dtype {H.dtype}" if isinstance(H, torch.Tensor) else "")
        )
    if tuple(H.shape) != (B, F, n // 2 + 1):
        raise ValueError(
            f"H must have shape (B, F, n_fft//2+1) = {(B, F, n // 2 + 1)} for x of shape {(B, T)}, got {tuple(H.shape)}"
        )
    check_same_device([("x", x), ("H", H)])
    w = _window(window, wl, x)
    X = torch.stft(x, n, hop, wl, w, center=True, pad_mode="constant", return_complex=True)  # (B, n//2+1, F)
    Y = X * H.transpose(1, 2).to(X.dtype)
    return torch.istft(Y, n, hop, wl, w, center=True, length=T)


def frequency_sampling_iir(
    x: torch.Tensor,
    b: torch.Tensor,
    a: Optional[torch.Tensor],
    n_fft: int,
    hop_length: int,
    window: Window = "hann",
    win_length: Optional[int] = None,
) -> torch.Tensor:
    r"""Frame-wise frequency-sampling approximation of a time-varying IIR filter.

    Frame ``m`` uses the constant coefficients ``b[:, m]``, ``a[:, m]`` (e.g. the time-varying
    coefficients evaluated at :func:`frame_centers`); see the module docstring.

    Args:
        x (Tensor): input, shape `(B, T)`.
        b (Tensor): numerator per frame, shape `(B, F, K+1)`, ``F = num_frames(T, hop_length)``.
        a (Tensor or None): denominator per frame without its leading 1, shape `(B, F, M)`;
            ``None`` for FIR.
        n_fft, hop_length, window, win_length: as in :func:`stft_filter`.

    Returns:
        Tensor: ``y``, shape `(B, T)`. Differentiable in ``x``, ``b`` and ``a``.
    """
    check_tensor("x", x, 2, "(B, T)", real=True)
    check_tensor("b", b, 3, "(B, F, K+1)", real=True)
    B, T = x.shape
    F = num_frames(T, check_int("hop_length", hop_length))
    if b.shape[:2] != (B, F):
        raise ValueError(
            f"b must have shape (B, F, K+1) = ({B}, {F}, K+1) (F = 1 + T // hop_length), got {tuple(b.shape)}"
        )
    if a is not None:
        check_tensor("a", a, 3, "(B, F, M)", real=True)
        if a.shape[:2] != (B, F):
            raise ValueError(
                f"a must have shape (B, F, M) = ({B}, {F}, M) (F = 1 + T // hop_length), got {tuple(a.shape)}"
            )
    H = frequency_response(b, a, n_fft)
    return stft_filter(x, H, n_fft, hop_length, window, win_length)
