"""Control-rate coefficients (``sample_wise_lpc(..., hop=)``) on the CPU: the targets of issue 25.

``python bench/hop.py [--threads N]`` prints:

1. ``time``: forward+backward of ``sample_wise_lpc(x, frames, hop=256)`` at (8, 2^16, 2) float32
   against the same filter with the frames interpolated in torch first
   (``training.interpolate_frames``, then ``sample_wise_lpc(x, a)``): the median of ``--reps``
   runs each, the two interleaved in one process so that both see the same machine load.
2. ``saved``: the bytes autograd keeps for the backward of one call at (1, 2^20, 2) float32, both
   ways, counted with ``torch.autograd.graph.saved_tensors_hooks`` (each storage once).
3. ``summary``: a slice map (``tritonlpc.distributed.slice_summary``, what a rank of a sharded
   call runs first; and the adjoint's, in its backward) at (1, 2^18, M) float32, M = 1, 2, from
   the frames (``hop=256``) and from the same coefficients interpolated beforehand (not timed):
   medians, interleaved.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

import tritonlpc  # noqa: E402
from training import interpolate_frames  # noqa: E402
from tritonlpc._reference import interpolate  # noqa: E402
from tritonlpc.distributed import slice_summary  # noqa: E402
from tritonlpc.testing import make_inputs  # noqa: E402

HOP = 256


def _in_kernel(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    return tritonlpc.sample_wise_lpc(x, frames, hop=HOP)


def _in_torch(x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
    return tritonlpc.sample_wise_lpc(x, interpolate_frames(frames, HOP, x.shape[1]))


WAYS: Dict[str, Callable] = {"hop=256": _in_kernel, "torch-interp": _in_torch}


def _inputs(B: int, T: int, M: int):
    x, frames, _ = make_inputs(B, T, M, torch.float32, seed=0, hop=HOP)
    return x.requires_grad_(), frames.requires_grad_()


def fwd_bwd_times(B: int, T: int, M: int, reps: int) -> Dict[str, float]:
    """Median seconds of forward + backward (``torch.autograd.grad`` of x and the frames)."""
    x, frames = _inputs(B, T, M)
    g = torch.randn(B, T)
    times: Dict[str, list] = {name: [] for name in WAYS}
    for i in range(reps + 1):
        for name, fn in WAYS.items():
            t0 = time.perf_counter()
            torch.autograd.grad(fn(x, frames), (x, frames), g)
            if i:  # the first round warms up (compilation, allocator)
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def saved_bytes(B: int, T: int, M: int) -> Dict[str, int]:
    """Bytes of the distinct storages autograd saves for backward, per way."""
    x, frames = _inputs(B, T, M)
    out = {}
    for name, fn in WAYS.items():
        seen: Dict[int, int] = {}

        def pack(t: torch.Tensor, seen: Dict[int, int] = seen) -> torch.Tensor:
            s = t.untyped_storage()
            seen[s.data_ptr()] = s.nbytes()
            return t

        with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
            y = fn(x, frames)
        out[name] = sum(seen.values())
        del y
    return out


def summary_times(B: int, T: int, M: int, reps: int) -> Dict[str, float]:
    """Median seconds of one slice map (forward, and the adjoint's ``k``), from the frames and from
    per-sample coefficients."""
    x, frames = (t.detach() for t in _inputs(B, T, M))
    a = interpolate(frames, HOP, T)
    calls = {
        "hop=256": lambda: slice_summary(x, frames, hop=HOP),
        "per-sample": lambda: slice_summary(x, a),
        "adjoint hop=256": lambda: slice_summary(x, frames, adjoint=True, hop=HOP),
        "adjoint per-sample": lambda: slice_summary(x, a, adjoint=True),
    }
    times: Dict[str, list] = {name: [] for name in calls}
    for i in range(reps + 1):
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            if i:
                times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reps", type=int, default=15)
    p.add_argument("--threads", type=int, help="torch and Numba threads (default: theirs)")
    args = p.parse_args()
    if args.threads:
        import numba  # noqa: PLC0415

        torch.set_num_threads(args.threads)
        numba.set_num_threads(args.threads)
        print(f"threads: torch {torch.get_num_threads()}, numba {numba.get_num_threads()}")
    t = fwd_bwd_times(8, 2**16, 2, args.reps)
    print(f"time fwd+bwd (8, 65536, 2) float32, median of {args.reps}:", end="")
    print("".join(f" {k} {v * 1e3:.2f} ms;" for k, v in t.items()), f"ratio {t['torch-interp'] / t['hop=256']:.2f}x")
    s = saved_bytes(1, 2**20, 2)
    print("saved for backward (1, 1048576, 2) float32:", "".join(f" {k} {v / 2**20:.2f} MiB;" for k, v in s.items()))
    for M in (1, 2):
        t = summary_times(1, 2**18, M, args.reps)
        print(
            f"summary (1, 262144, {M}) float32, median of {args.reps}:",
            "".join(f" {k} {v * 1e3:.3f} ms;" for k, v in t.items()),
        )


if __name__ == "__main__":
    main()
