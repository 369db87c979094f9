"""scipy.signal's IIR filtering on tensors: the same names, arguments and results, differentiable.

    lfilter(b, a, x, axis=-1, zi=None)        y, or (y, zf) with zi (transposed-direct-form-II state)
    lfilter_zi(b, a), lfiltic(b, a, y, x=None) initial states
    sosfilt(sos, x, axis=-1, zi=None)          cascaded second-order sections
    sosfilt_zi(sos)
    filtfilt(b, a, x, axis=-1, padtype='odd', padlen=None)
    sosfiltfilt(sos, x, axis=-1, padtype='odd', padlen=None)

The FIR part runs as a convolution, the all-pole part on :func:`tritonlpc.sample_wise_lpc`
(Numba on CPU, Triton on CUDA) with the time-invariant coefficients expanded over time (stride 0,
read in place). The state mapping is documented in ``tritonlpc/signal/_lti.py``. Beyond scipy:
coefficients may carry leading batch dimensions (a filter per row), and every tensor argument
(``x``, ``b``, ``a``, ``sos``, ``zi``, ``y``) is differentiable.
"""

from .filtering import lfilter, lfilter_zi, lfiltic, sosfilt, sosfilt_zi
from .filtfilt import filtfilt, sosfiltfilt

__all__ = ["lfilter", "lfilter_zi", "lfiltic", "sosfilt", "sosfilt_zi", "filtfilt", "sosfiltfilt"]
