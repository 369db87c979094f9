"""Audio systems on tritonlpc: time-varying IIR filters, biquad and all-pass designs, a
feed-forward compressor with attack/release smoothing, and the frame-wise frequency-sampling
baseline the DAFx 2024 paper compares against.

Everything is differentiable and runs on every tritonlpc backend (Numba on CPU, Triton on
CUDA). Shapes follow tritonlpc: signals `(B, T)`, per-sample coefficients `(B, T, K)`.

Parameter values: a parameter given as a Python number is checked, and one outside its
meaningful range (``sample_rate`` NaN, infinite or ``<= 0``; ``q <= 0``; a phaser ``feedback``
with ``|k| >= 1``; a smoothing coefficient outside ``[0, 1]``; a compressor ``ratio < 1``; a
negative time constant; a non-finite level in dB, ...) raises ``ValueError`` naming the argument
and the value. A parameter given as a tensor (per-sample cutoffs, all-pass coefficients ``p``,
learned parameters) is used as it is, unchecked: reading its values would synchronise the GPU
on every call. Out-of-range tensor values give what the formulas give (NaN, inf, an unstable
filter); keep them in range, e.g. with a sigmoid or softplus on learned parameters.

Filters (:mod:`tritonlpc.audio.filters`):
    time_varying_fir(x, b)                  y[n] = sum_k b[n,k] x[n-k]
    time_varying_iir(x, b, a, zi)           FIR numerator then the all-pole denominator
    time_varying_biquad(x, b, a, zi)        the same with b (B,T,3), a (B,T,2)
    biquad_lowpass / highpass / bandpass / notch / allpass / peak   RBJ cookbook designs
    allpass_coefficient(f, fs)              first-order all-pass coefficient for a break frequency
    first_order_allpass(x, p)               time-varying first-order all-pass section
    phaser_coefficients(p, n_stages, k)     all-pass cascade with feedback as one (b, a)
Compressor (:mod:`tritonlpc.audio.compressor`):
    attack_release_smoothing(f, at, rt)     data-dependent smoother, reverse-scan backward
    feedforward_compressor(x, ...)          level detector, static curve, smoothing, make-up
    compressor_gain, compressor_static_gain, signal_level_db,
    time_constant_to_alpha, alpha_to_time_constant, AttackRelease (the autograd Function)
Frequency sampling (:mod:`tritonlpc.audio.freqsamp`):
    frequency_sampling_iir(x, b, a, n_fft, hop_length, window)   frame-wise FS baseline
    frequency_response, stft_filter, num_frames, frame_centers
"""

from . import compressor, filters, freqsamp
from .compressor import *  # noqa: F401,F403  (names listed in each module's __all__)
from .filters import *  # noqa: F401,F403
from .freqsamp import *  # noqa: F401,F403

__all__ = [*filters.__all__, *compressor.__all__, *freqsamp.__all__]

# delay-line effects (issue 24)
from . import delay, modulation  # noqa: E402
from .delay import *  # noqa: F401,F403,E402
from .modulation import *  # noqa: F401,F403,E402

__all__ += [*delay.__all__, *modulation.__all__]
