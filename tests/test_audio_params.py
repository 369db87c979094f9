"""Parameter values of :mod:`tritonlpc.audio`: Python numbers out of their meaningful range raise
``ValueError`` naming the argument and the value; tensor parameters are used unchecked (reading
them would synchronise the GPU). Fast: CPU only, tiny tensors."""

from __future__ import annotations

import math

import pytest
import torch

from tritonlpc import audio

NAN, INF = math.nan, math.inf
FS = 48000.0


def _cutoff() -> torch.Tensor:
    return torch.full((1, 4), 1000.0, dtype=torch.float64)


def _raises(name: str, value: object):
    """``pytest.raises(ValueError)`` whose message names the argument and shows the value."""
    return pytest.raises(ValueError, match=rf"{name}.*{value!r}".replace("(", r"\(").replace(")", r"\)"))


# --------------------------------------------------------------------------- biquad designs
@pytest.mark.parametrize("sample_rate", [NAN, INF, -INF, 0.0, -48000.0])
@pytest.mark.parametrize(
    "design", ["biquad_lowpass", "biquad_highpass", "biquad_bandpass", "biquad_notch", "biquad_allpass"]
)
def test_design_rejects_sample_rate(design, sample_rate):
    with pytest.raises(ValueError, match="sample_rate"):
        getattr(audio, design)(_cutoff(), 0.7, sample_rate)


@pytest.mark.parametrize("q", [0.0, -0.5, NAN, INF])
def test_design_rejects_q(q):
    with _raises("q", q):
        audio.biquad_lowpass(_cutoff(), q, FS)
    with _raises("q", q):
        audio.biquad_peak(_cutoff(), q, 3.0, FS)


@pytest.mark.parametrize("gain_db", [NAN, INF, -INF])
def test_peak_rejects_gain(gain_db):
    with _raises("gain_db", gain_db):
        audio.biquad_peak(_cutoff(), 0.7, gain_db, FS)


def test_allpass_coefficient_rejects_sample_rate():
    with pytest.raises(ValueError, match="sample_rate"):
        audio.allpass_coefficient(_cutoff(), NAN)


def test_tensor_parameters_are_not_checked():
    """Documented: tensor values are used as they are (no device synchronisation)."""
    b, a = audio.biquad_lowpass(_cutoff(), torch.tensor(0.0, dtype=torch.float64), FS)
    assert not torch.isfinite(a).all() or not torch.isfinite(b).all()
    audio.phaser_coefficients(torch.full((1, 4), 0.5), 2, feedback=torch.tensor(1.5))
    audio.attack_release_smoothing(torch.rand(1, 4), torch.tensor([1.5]), 0.1)


# --------------------------------------------------------------------------- phaser
@pytest.mark.parametrize("feedback", [1.0, -1.0, 1.5, NAN])
def test_phaser_rejects_feedback(feedback):
    with _raises("feedback", feedback):
        audio.phaser_coefficients(torch.full((1, 4), 0.5), 2, feedback)


def test_phaser_accepts_feedback_inside_unit_interval():
    b, a = audio.phaser_coefficients(torch.full((1, 4), 0.5), 2, -0.9)
    assert torch.isfinite(b).all() and torch.isfinite(a).all()


# --------------------------------------------------------------------------- compressor
@pytest.mark.parametrize("which", ["alpha_attack", "alpha_release"])
@pytest.mark.parametrize("alpha", [-0.1, 1.5, NAN])
def test_smoothing_rejects_alpha(which, alpha):
    kw = {"alpha_attack": 0.3, "alpha_release": 0.1, which: alpha}
    with _raises(which, alpha):
        audio.attack_release_smoothing(torch.rand(2, 8), **kw)


@pytest.mark.parametrize("ratio", [0.0, -2.0, 0.5, NAN])
def test_compressor_rejects_ratio(ratio):
    level = torch.zeros(2, 8)
    with _raises("ratio", ratio):
        audio.compressor_static_gain(level, -20.0, ratio)
    with _raises("ratio", ratio):
        audio.feedforward_compressor(torch.rand(2, 8), -20.0, ratio, 0.3, 0.1)


def test_compressor_accepts_unit_and_infinite_ratio():
    level = torch.linspace(-40, 0, 8).expand(2, 8)
    assert torch.equal(audio.compressor_static_gain(level, -20.0, 1.0), torch.zeros(2, 8))
    limit = audio.compressor_static_gain(level, -20.0, INF)  # a limiter
    assert torch.allclose(limit, -torch.relu(level + 20))


@pytest.mark.parametrize("name", ["threshold_db", "makeup_db"])
@pytest.mark.parametrize("value", [NAN, INF])
def test_compressor_rejects_non_finite_levels(name, value):
    kw = {"threshold_db": -20.0, "ratio": 4.0, "alpha_attack": 0.3, "alpha_release": 0.1, name: value}
    with _raises(name, value):
        audio.feedforward_compressor(torch.rand(2, 8), **kw)


@pytest.mark.parametrize("knee_db", [NAN, INF, -1.0])
def test_compressor_rejects_knee(knee_db):
    with _raises("knee_db", knee_db):
        audio.compressor_static_gain(torch.zeros(2, 8), -20.0, 4.0, knee_db)


@pytest.mark.parametrize("rms_alpha", [-0.1, 1.5, NAN])
def test_level_detector_rejects_rms_alpha(rms_alpha):
    with _raises("rms_alpha", rms_alpha):
        audio.signal_level_db(torch.rand(2, 8), rms_alpha)


# --------------------------------------------------------------------------- time constants
def test_zero_time_constant_is_instant_for_numbers_and_tensors():
    assert audio.time_constant_to_alpha(0.0, FS) == 1.0
    assert audio.time_constant_to_alpha(torch.tensor(0.0), FS).item() == 1.0
    assert audio.alpha_to_time_constant(1.0, FS) == 0.0
    assert audio.alpha_to_time_constant(torch.tensor(1.0), FS).item() == 0.0


def test_zero_alpha_is_an_infinite_time_constant_for_numbers_and_tensors():
    assert audio.alpha_to_time_constant(0.0, FS) == INF
    assert audio.alpha_to_time_constant(torch.tensor(0.0), FS).item() == INF
    assert audio.time_constant_to_alpha(INF, FS) == 0.0


@pytest.mark.parametrize("seconds", [-0.01, NAN])
def test_time_constant_rejects_negative(seconds):
    with _raises("seconds", seconds):
        audio.time_constant_to_alpha(seconds, FS)


@pytest.mark.parametrize("alpha", [-0.1, 1.5, NAN])
def test_alpha_to_time_constant_rejects_alpha(alpha):
    with _raises("alpha", alpha):
        audio.alpha_to_time_constant(alpha, FS)


@pytest.mark.parametrize("sample_rate", [NAN, 0.0, -1.0, INF])
def test_time_constants_reject_sample_rate(sample_rate):
    with pytest.raises(ValueError, match="sample_rate"):
        audio.time_constant_to_alpha(0.01, sample_rate)
    with pytest.raises(ValueError, match="sample_rate"):
        audio.alpha_to_time_constant(0.5, sample_rate)


# --------------------------------------------------------------------------- NumPy scalars, tensors
def test_numpy_real_scalars_are_numbers():
    """NumPy real scalars are accepted wherever Python numbers are, with the same result."""
    np = pytest.importorskip("numpy")
    cut = _cutoff()
    for got, want in (
        (audio.biquad_lowpass(cut, np.float32(0.7), np.float32(FS)), audio.biquad_lowpass(cut, 0.7, FS)),
        (
            audio.biquad_peak(cut, np.float64(0.7), np.int64(48000), np.float32(3.0)),
            audio.biquad_peak(cut, 0.7, FS, 3.0),
        ),
    ):
        assert all(torch.allclose(g, w) for g, w in zip(got, want))
    assert audio.time_constant_to_alpha(np.float32(0.01), np.int32(48000)) == pytest.approx(
        audio.time_constant_to_alpha(0.01, FS)
    )
    x = torch.rand(2, 8, dtype=torch.float64)
    kw = dict(threshold_db=np.float32(-20.0), ratio=np.int64(4), alpha_attack=np.float64(0.3), alpha_release=0.1)
    y = audio.feedforward_compressor(x, **kw, knee_db=np.float32(2.0), rms_alpha=np.float32(0.5))
    assert torch.allclose(y, audio.feedforward_compressor(x, -20.0, 4.0, 0.3, 0.1, rms_alpha=0.5, knee_db=2.0))
    p = torch.rand(1, 8)
    assert torch.equal(audio.phaser_coefficients(p, np.int64(2))[1], audio.phaser_coefficients(p, 2)[1])
    with _raises("sample_rate", np.float32(0.0)):  # still range-checked, value shown
        audio.biquad_lowpass(cut, 0.7, np.float32(0.0))


@pytest.mark.parametrize(
    "call",
    [
        lambda: audio.biquad_lowpass(_cutoff(), 0.7, torch.tensor(FS)),
        lambda: audio.time_constant_to_alpha(0.01, torch.tensor(FS)),
        lambda: audio.compressor_static_gain(torch.zeros(2, 8), -20.0, 4.0, torch.tensor(1.0)),
        lambda: audio.signal_level_db(torch.rand(2, 8), 0.5, eps=torch.tensor(1e-8)),
    ],
    ids=["sample_rate", "sample_rate-time-constant", "knee_db", "eps"],
)
def test_a_tensor_where_a_number_is_required_is_a_type_error(call):
    with pytest.raises(TypeError, match=r"(sample_rate|knee_db|eps) must be a number"):
        call()
