"""tritonlpc: differentiable time-varying all-pole (LPC / IIR) filters for PyTorch.

A drop-in replacement for torchlpc (``import tritonlpc as torchlpc``): the same functions and
autograd Functions, with Triton parallel-scan kernels on NVIDIA GPUs and Numba kernels on CPU.

Public API:
    sample_wise_lpc(x, a, zi=None, return_zf=False)   all-pole filter, order M
    linear_recurrence(a, x, zi=None)                   h[n] = a[n] h[n-1] + x[n]
    core.LPC, recurrence.Recurrence                    the autograd Functions
    get_backend / set_backend / use_backend / backend_for
    install_as_torchlpc()                              make ``import torchlpc`` load tritonlpc

``tritonlpc.signal`` (imported with the package): scipy.signal's ``lfilter``, ``lfilter_zi``,
``lfiltic``, ``sosfilt``, ``sosfilt_zi``, ``filtfilt``, ``sosfiltfilt`` on tensors, differentiable.

Subpackages (import them explicitly): ``tritonlpc.compat.torchaudio`` (torchaudio.functional's
``lfilter``/``filtfilt``/``*_biquad``), ``tritonlpc.audio`` (time-varying IIR/biquad, phaser,
compressor) and ``tritonlpc.distributed`` (the filters with the time axis sharded over the ranks
of a ``torch.distributed`` process group).
"""

from __future__ import annotations

import sys
import warnings

from . import core, recurrence
from ._dispatch import backend_for, get_backend, set_backend, use_backend
from .core import LPC
from .functional import linear_recurrence, sample_wise_lpc
from .recurrence import Recurrence

__version__ = "0.1.0"

# --- tritonlpc.signal (scipy.signal names; built on sample_wise_lpc above) ---
from . import signal  # noqa: E402

__all__ = [
    "sample_wise_lpc",
    "linear_recurrence",
    "LPC",
    "Recurrence",
    "get_backend",
    "set_backend",
    "use_backend",
    "backend_for",
    "install_as_torchlpc",
    "signal",
    "__version__",
]


def install_as_torchlpc() -> None:
    """Make ``import torchlpc`` (and ``torchlpc.core`` / ``torchlpc.recurrence``) load tritonlpc.

    Call it once, before importing a library built on torchlpc (e.g. torchcomp)::

        import tritonlpc; tritonlpc.install_as_torchlpc()
        import torchcomp  # now filters with tritonlpc

    Modules that imported the real torchlpc earlier keep their references; a warning says so.
    """
    this = sys.modules[__name__]
    previous = sys.modules.get("torchlpc")
    if previous is not None and previous is not this:
        warnings.warn(
            "torchlpc was already imported; modules that imported it before install_as_torchlpc() "
            "keep using it. Call install_as_torchlpc() before importing them.",
            stacklevel=2,
        )
    sys.modules["torchlpc"] = this
    sys.modules["torchlpc.core"] = core
    sys.modules["torchlpc.recurrence"] = recurrence
