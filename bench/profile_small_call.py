"""Where a small call's time goes: 8x1024x2 float32 ``sample_wise_lpc``, stage by stage.

Each line is the best of 7 repeats of a timeit loop (µs per call) of one stage of the call,
from the public function down to the compiled kernel; the fwd+bwd line is the benchmark
suite's call (forward, then ``torch.autograd.grad``). Stages that a version does not have
are skipped. Compare two versions by running it against each (``PYTHONPATH=<other tree>``, from
outside the repository) close together in time; the load average is printed.

Usage: python bench/profile_small_call.py
"""

from __future__ import annotations

import os
import timeit

import numba
import torch

import tritonlpc
from tritonlpc import _dispatch, _validation  # noqa: F401 (used by the timed statements)
from tritonlpc.backends import numba_cpu as nb
from tritonlpc.core import LPC  # noqa: F401 (used by the timed statements)

kernels = getattr(nb, "BACKEND", nb)  # the backend object (older versions: module functions)
backend_object = getattr(_dispatch, "backend_object", None) or _dispatch.backend_module

B, T, M = 8, 1024, 2
x = torch.randn(B, T)
a = 0.1 * torch.randn(B, T, M)
zi = torch.zeros(B, M)
g = torch.randn(B, T)
y = kernels.forward(x, a, zi)
xg, ag = x.clone().requires_grad_(), a.clone().requires_grad_()
launch = getattr(nb, "_launch", None) or nb.launch
kernel_args = (nb._np(x), nb._np(a), nb._np(zi), y.numpy(), False, nb._sign(x.dtype, False))

# (label, statement, calls per repeat, under no_grad)
STAGES = [
    (
        "sample_wise_lpc(x, a) inside use_backend (as the bench)",
        "with tritonlpc.use_backend('numba'): tritonlpc.sample_wise_lpc(x, a)",
        5000,
        True,
    ),
    ("sample_wise_lpc(x, a)", "tritonlpc.sample_wise_lpc(x, a)", 5000, True),
    ("  use_backend enter+exit", "with tritonlpc.use_backend('numba'): pass", 20000, True),
    ("  check_lpc(x, a, None)", "_validation.check_lpc(x, a, None)", 20000, True),
    ("  common_dtype(x, a, None)", "_validation.common_dtype(x, a, None)", 20000, True),
    ("  backend_object(x)", "backend_object(x)", 20000, True),
    ("  x.new_zeros(B, M)", "x.new_zeros(B, M)", 20000, True),
    ("  LPC.apply(x, a, zi)", "LPC.apply(x, a, zi)", 5000, True),
    ("    backend.forward(x, a, zi)", "kernels.forward(x, a, zi)", 5000, True),
    ("      torch.empty(B, T)", "torch.empty(B, T)", 20000, True),
    ("      _pick_schedule", "nb._pick_schedule(B, T, M, None, None)", 20000, True),
    ("      numba.get_num_threads()", "numba.get_num_threads()", 20000, True),
    ("      _np(x)", "nb._np(x)", 20000, True),
    ("      launch(kernel) (kernel + unboxing)", "launch(nb._fwd_rows_serial, *kernel_args)", 5000, True),
    (
        "fwd+bwd: sample_wise_lpc + autograd.grad (as the bench)",
        "with tritonlpc.use_backend('numba'): yy = tritonlpc.sample_wise_lpc(xg, ag)\ntorch.autograd.grad(yy, (xg, ag), g)",
        3000,
        False,
    ),
    ("  sample_wise_lpc(xg, ag) recording the graph", "tritonlpc.sample_wise_lpc(xg, ag)", 3000, False),
    ("  backend.backward(g, a, y, zi, True, False)", "kernels.backward(g, a, y, zi, True, False)", 5000, False),
]


def main() -> None:
    print(
        f"tritonlpc from {tritonlpc.__file__}; load average {os.getloadavg()[0]:.2f}; "
        f"torch {torch.__version__}, numba {numba.__version__}, threads {numba.get_num_threads()}"
    )
    for label, stmt, n, no_grad in STAGES:
        with torch.set_grad_enabled(not no_grad):
            us = min(timeit.repeat(stmt, number=n, repeat=7, globals=globals())) / n * 1e6
        print(f"{us:9.2f} us  {label}", flush=True)


if __name__ == "__main__":
    main()
