"""Drop-in replacements for other libraries' filtering APIs.

``tritonlpc.compat.torchaudio``: torchaudio.functional's ``lfilter``, ``filtfilt``, ``biquad`` and
biquad designs (``from tritonlpc.compat import torchaudio as F``). Import the submodule explicitly.
"""
