"""tritonlpc.compat.torchaudio: torchaudio.functional's filtering semantics.

The oracle is scipy.signal.lfilter with the biquad coefficients written here from the Audio EQ
Cookbook / SoX (independently of the module under test); when torchaudio itself is importable,
the functions are also compared with it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

scipy_signal = pytest.importorskip("scipy.signal")

from tritonlpc.compat import torchaudio as F  # noqa: E402

SR = 16000


def _cookbook(kind: str, f0: float, Q: float = 0.707, gain: float = 0.0, flag: bool = False):
    w = 2 * math.pi * f0 / SR
    c, s = math.cos(w), math.sin(w)
    al = s / (2 * Q)
    A = 10 ** (gain / 40)
    sq = 2 * math.sqrt(A) * al
    if kind == "lowpass":
        return [(1 - c) / 2, 1 - c, (1 - c) / 2], [1 + al, -2 * c, 1 - al]
    if kind == "highpass":
        return [(1 + c) / 2, -(1 + c), (1 + c) / 2], [1 + al, -2 * c, 1 - al]
    if kind == "bandpass":
        g = s / 2 if flag else al
        return [g, 0.0, -g], [1 + al, -2 * c, 1 - al]
    if kind == "bandreject":
        return [1.0, -2 * c, 1.0], [1 + al, -2 * c, 1 - al]
    if kind == "allpass":
        return [1 - al, -2 * c, 1 + al], [1 + al, -2 * c, 1 - al]
    if kind == "equalizer":
        return [1 + al * A, -2 * c, 1 - al * A], [1 + al / A, -2 * c, 1 - al / A]
    if kind == "bass":  # low shelf
        b = [A * ((A + 1) - (A - 1) * c + sq), 2 * A * ((A - 1) - (A + 1) * c), A * ((A + 1) - (A - 1) * c - sq)]
        return b, [(A + 1) + (A - 1) * c + sq, -2 * ((A - 1) + (A + 1) * c), (A + 1) + (A - 1) * c - sq]
    if kind == "treble":  # high shelf
        b = [A * ((A + 1) + (A - 1) * c + sq), -2 * A * ((A - 1) + (A + 1) * c), A * ((A + 1) + (A - 1) * c - sq)]
        return b, [(A + 1) - (A - 1) * c + sq, 2 * ((A - 1) - (A + 1) * c), (A + 1) - (A - 1) * c - sq]
    if kind == "band":  # SoX band
        a2 = math.exp(-2 * math.pi * (f0 / Q) / SR)
        a1 = -4 * a2 / (1 + a2) * c
        b0 = (
            math.sqrt(((1 + a2) ** 2 - a1**2) * (1 - a2) / (1 + a2))
            if flag
            else math.sqrt(1 - a1**2 / (4 * a2)) * (1 - a2)
        )
        return [b0, 0.0, 0.0], [1.0, a1, a2]
    raise AssertionError(kind)


CALLS = [
    ("lowpass", lambda x: F.lowpass_biquad(x, SR, 1000.0), dict(f0=1000.0)),
    ("highpass", lambda x: F.highpass_biquad(x, SR, 500.0, Q=2.0), dict(f0=500.0, Q=2.0)),
    ("bandpass", lambda x: F.bandpass_biquad(x, SR, 800.0), dict(f0=800.0)),
    ("bandpass", lambda x: F.bandpass_biquad(x, SR, 800.0, 3.0, True), dict(f0=800.0, Q=3.0, flag=True)),
    ("bandreject", lambda x: F.bandreject_biquad(x, SR, 1200.0), dict(f0=1200.0)),
    ("allpass", lambda x: F.allpass_biquad(x, SR, 700.0, 1.5), dict(f0=700.0, Q=1.5)),
    ("equalizer", lambda x: F.equalizer_biquad(x, SR, 900.0, -4.0), dict(f0=900.0, gain=-4.0)),
    ("band", lambda x: F.band_biquad(x, SR, 600.0), dict(f0=600.0)),
    ("band", lambda x: F.band_biquad(x, SR, 600.0, 1.2, noise=True), dict(f0=600.0, Q=1.2, flag=True)),
    ("bass", lambda x: F.bass_biquad(x, SR, 6.0), dict(f0=100.0, gain=6.0)),
    ("treble", lambda x: F.treble_biquad(x, SR, -5.0), dict(f0=3000.0, gain=-5.0)),
]


@pytest.mark.parametrize("kind, call, params", CALLS, ids=[f"{c[0]}{i}" for i, c in enumerate(CALLS)])
def test_biquad_designs(kind, call, params):
    rng = np.random.default_rng(0)
    x = 0.3 * rng.standard_normal((2, 3, 200))
    b, a = _cookbook(kind, **params)
    ref = np.clip(scipy_signal.lfilter(b, a, x), -1.0, 1.0)
    y = call(torch.from_numpy(x))
    assert y.shape == x.shape and y.dtype == torch.float64
    np.testing.assert_allclose(y.numpy(), ref, rtol=1e-10, atol=1e-12)


def test_lfilter_clamp_batching_and_filtfilt():
    rng = np.random.default_rng(1)
    a = np.array([[1.0, -1.6, 0.8], [2.0, 0.5, 0.1], [1.0, 0.0, -0.25]])
    b = rng.standard_normal((3, 3))
    x = 2.0 * rng.standard_normal((2, 3, 64))  # large: the clamp is active
    at, bt, xt = map(torch.from_numpy, (a, b, x))
    raw = np.stack([scipy_signal.lfilter(b[i], a[i], x[:, i], axis=-1) for i in range(3)], 1)
    assert np.abs(raw).max() > 1.0
    np.testing.assert_allclose(F.lfilter(xt, at, bt, clamp=False).numpy(), raw, rtol=1e-10, atol=1e-12)
    y = F.lfilter(xt, at, bt)
    np.testing.assert_allclose(y.numpy(), np.clip(raw, -1, 1), rtol=1e-10, atol=1e-12)
    # batching=False: every filter over the whole waveform, a filter dimension added
    y = F.lfilter(xt[:, 0], at, bt, clamp=False, batching=False)
    assert y.shape == (2, 3, 64)
    for i in range(3):
        np.testing.assert_allclose(y[:, i].numpy(), scipy_signal.lfilter(b[i], a[i], x[:, 0]), rtol=1e-10, atol=1e-12)
    # filtfilt: forward (not clamped), then the time-reversed pass (clamped); no padding
    fwd = np.stack([scipy_signal.lfilter(b[i], a[i], x[:, i]) for i in range(3)], 1)
    bwd = np.stack([scipy_signal.lfilter(b[i], a[i], fwd[:, i, ::-1]) for i in range(3)], 1)[..., ::-1]
    np.testing.assert_allclose(F.filtfilt(xt, at, bt).numpy(), np.clip(bwd, -1, 1), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(F.filtfilt(xt, at, bt, clamp=False).numpy(), bwd, rtol=1e-9, atol=1e-12)
    # 1D coefficients over any batch shape
    y = F.lfilter(xt, at[1], bt[1], clamp=False)
    np.testing.assert_allclose(y.numpy(), scipy_signal.lfilter(b[1], a[1], x), rtol=1e-10, atol=1e-12)


def test_errors():
    x = torch.randn(2, 3, 10)
    with pytest.raises(ValueError, match="a_coeffs and b_coeffs must have the same size"):
        F.lfilter(x, torch.tensor([1.0, 0.5]), torch.tensor([1.0, 0.5, 0.1]))
    with pytest.raises(ValueError, match="a_coeffs must be 1D or 2D"):
        F.lfilter(x, torch.ones(1, 1, 2), torch.ones(1, 1, 2))
    with pytest.raises(ValueError, match=r"waveform.shape\[-2\] must equal the number of filters 4"):
        F.lfilter(x, torch.ones(4, 2), torch.ones(4, 2))
    with pytest.raises(TypeError, match="waveform must be a torch.Tensor"):
        F.lowpass_biquad([0.0, 1.0], SR, 100.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"a\[0\] must be nonzero"):
        F.biquad(x, 1.0, 0.0, 0.0, 0.0, 0.5, 0.0)


def test_gradients_of_design_parameters():
    x = 0.2 * torch.randn(1, 24, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    cutoff = torch.tensor(1500.0, dtype=torch.float64, requires_grad=True)
    Q = torch.tensor(0.9, dtype=torch.float64, requires_grad=True)
    gain = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda c, q: F.lowpass_biquad(x, SR, c, q), (cutoff, Q))
    assert torch.autograd.gradcheck(lambda g, q: F.bass_biquad(x, SR, g, 200.0, q), (gain, Q))
    xg = x.clone().requires_grad_()
    assert torch.autograd.gradcheck(
        lambda w: F.filtfilt(
            w, torch.tensor([1.0, -0.5], dtype=torch.float64), torch.tensor([0.4, 0.1], dtype=torch.float64)
        ),
        (xg,),
    )


def test_against_torchaudio_when_installed():
    ta = pytest.importorskip("torchaudio.functional")
    x = 0.3 * torch.randn(2, 300, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for name, args in [
        ("lowpass_biquad", (SR, 1000.0)),
        ("highpass_biquad", (SR, 400.0, 1.3)),
        ("bandpass_biquad", (SR, 800.0, 2.0, True)),
        ("bandreject_biquad", (SR, 800.0)),
        ("allpass_biquad", (SR, 800.0)),
        ("equalizer_biquad", (SR, 800.0, 4.0)),
        ("band_biquad", (SR, 800.0, 0.9, True)),
        ("bass_biquad", (SR, 5.0)),
        ("treble_biquad", (SR, -5.0)),
    ]:
        torch.testing.assert_close(getattr(F, name)(x, *args), getattr(ta, name)(x, *args), rtol=1e-9, atol=1e-11)
    a, b = torch.tensor([1.0, -0.9, 0.2], dtype=torch.float64), torch.tensor([0.3, 0.1, 0.05], dtype=torch.float64)
    torch.testing.assert_close(F.filtfilt(x, a, b), ta.filtfilt(x, a, b), rtol=1e-9, atol=1e-11)
