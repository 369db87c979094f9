"""Train a time-varying filter on one long signal split over N processes (sequence parallelism).

    torchrun --nproc-per-node 4 examples/long_signal_parallel.py --seconds 60 --steps 20

Each process holds one contiguous slice of a long mono signal (rank order = time order) and
only that slice's input, target, coefficients and activations. The model is a resonant
low-pass biquad whose cutoff follows a learnable LFO (centre, depth, rate, phase) plus a
learnable Q; the target is the same system with other parameters. The filter runs with
``tritonlpc.distributed.time_varying_biquad``: exact across the slice boundaries, with one
small all-gather per call each way; the parameter gradients (replicated parameters, each rank
holding its slice's share) are summed with one all-reduce per step.

Backend: gloo on CPU (default), NCCL when CUDA is available (``--device cuda``). Prints a
progress bar on rank 0, then per rank: slice length, bytes autograd saved for the backward (the
activations, which the split divides), peak memory, median time per step.
"""

from __future__ import annotations

import argparse
import math
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import torch
import torch.distributed as dist

sys.path.insert(0, str(Path(__file__).resolve().parent))  # examples/_common.py

import tritonlpc.distributed as td  # noqa: E402
from _common import progress  # noqa: E402
from tritonlpc import audio  # noqa: E402

NOISE_BLOCK = 1 << 16


def parse(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, default=60.0, help="length of the whole signal in seconds (default 60)")
    p.add_argument("--sample-rate", type=int, default=48000)
    p.add_argument("--steps", type=int, default=20, help="optimiser steps (default 20)")
    p.add_argument("--lr", type=float, default=0.05)
    p.add_argument("--device", default="auto", help="'auto' (CUDA + NCCL if available), 'cpu' or 'cuda'")
    p.add_argument("--dtype", default="float32", choices=("float32", "float64"))
    p.add_argument(
        "--threads", type=int, default=None, help="CPU threads per process (default: cores / processes on this node)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p.parse_args(argv)


def noise(start: int, stop: int, seed: int, dtype: torch.dtype) -> torch.Tensor:
    """Samples ``[start, stop)`` of one reproducible white-noise signal, made block by block so
    that a rank generates only (about) its own slice."""
    if stop <= start:
        return torch.zeros(0, dtype=dtype)
    first, last = start // NOISE_BLOCK, (stop - 1) // NOISE_BLOCK
    blocks = []
    for k in range(first, last + 1):
        g = torch.Generator().manual_seed(seed * 1_000_003 + k)
        blocks.append(0.5 * (2 * torch.rand(NOISE_BLOCK, generator=g, dtype=torch.float64) - 1))
    offset = first * NOISE_BLOCK
    return torch.cat(blocks)[start - offset : stop - offset].to(dtype)


class LFOLowpass(torch.nn.Module):
    """Low-pass biquad, ``cutoff(t) = exp(log_centre + depth * sin(2 pi rate t + phase))`` Hz,
    with learnable centre, depth, phase and Q (the LFO rate is given: fitting an oscillator's
    frequency over a minute of audio by gradient descent is a different problem)."""

    def __init__(
        self, log_centre: float, depth: float, rate: float, phase: float, q: float, dtype: torch.dtype
    ) -> None:
        super().__init__()
        self.log_centre = torch.nn.Parameter(torch.tensor(log_centre, dtype=dtype))
        self.depth = torch.nn.Parameter(torch.tensor(depth, dtype=dtype))
        self.register_buffer("rate", torch.tensor(rate, dtype=dtype))
        self.phase = torch.nn.Parameter(torch.tensor(phase, dtype=dtype))
        self.log_q = torch.nn.Parameter(torch.tensor(math.log(q), dtype=dtype))

    def forward(self, x: torch.Tensor, t: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """``x (1, T_r)``: this rank's slice; ``t (T_r,)``: its times in seconds."""
        cutoff = torch.exp(self.log_centre + self.depth * torch.sin(2 * math.pi * self.rate * t + self.phase))
        b, a = audio.biquad_lowpass(cutoff.unsqueeze(0), torch.exp(self.log_q), sample_rate)
        return td.time_varying_biquad(x, b, a)


class SavedTensors:
    """Counts the bytes autograd saves for the backward (each storage once): the activation
    memory of a step, which is what splitting the time axis divides."""

    def __init__(self) -> None:
        self.storages: Dict[int, int] = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        self.storages[storage.data_ptr()] = storage.nbytes()
        return t

    def mib(self) -> float:
        return sum(self.storages.values()) / 2**20


def _keep(t: torch.Tensor) -> torch.Tensor:
    return t


def peak_memory_mib(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the example; joins the process group if one is initialised already (as in the tests),
    else starts it from torchrun's environment."""
    args = parse(argv)
    use_cuda = args.device == "cuda" or (args.device == "auto" and torch.cuda.is_available())
    local_rank = int(os.environ.get("LOCAL_RANK", 0))
    local_size = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
    if use_cuda:
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    else:
        device = torch.device("cpu")
        threads = args.threads or max(1, (os.cpu_count() or 1) // local_size)
        torch.set_num_threads(threads)
        import numba

        numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    owns_group = not dist.is_initialized()
    if owns_group:
        dist.init_process_group("nccl" if use_cuda else "gloo")
    rank, size = dist.get_rank(), dist.get_world_size()
    dtype = getattr(torch, args.dtype)
    sr = args.sample_rate
    T = int(args.seconds * sr)
    start, stop = rank * T // size, (rank + 1) * T // size

    x = noise(start, stop, args.seed, dtype).unsqueeze(0).to(device)
    t = (torch.arange(start, stop, dtype=torch.float64) / sr).to(device=device, dtype=dtype)
    truth = LFOLowpass(math.log(900.0), 0.8, 0.5, 0.3, 4.0, dtype).to(device)
    model = LFOLowpass(math.log(600.0), 0.5, 0.5, 0.0, 2.0, dtype).to(device)
    with torch.no_grad():
        target = truth(x, t, sr)
    energy = target.square().sum()
    dist.all_reduce(energy)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)

    times: List[float] = []
    history: List[float] = []
    saved = SavedTensors()
    bar = progress(args.steps, f"{size} proc", enabled=rank == 0 and not args.no_progress)
    for step in bar:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        hooks = torch.autograd.graph.saved_tensors_hooks(saved.pack if step == 0 else _keep, _keep)
        with hooks:
            local = (model(x, t, sr) - target).square().sum() / energy  # this slice's share of the ESR
        local.backward()
        flat = torch.cat([p.grad.reshape(1) for p in model.parameters()] + [local.detach().reshape(1)])
        dist.all_reduce(flat)  # parameter gradients and the loss, summed over the slices
        for p, g in zip(model.parameters(), flat[:-1]):
            p.grad.copy_(g)
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - t0)
        history.append(float(flat[-1]))
        bar.set_postfix(esr=f"{history[-1]:.4g}")

    stats = torch.tensor(
        [stop - start, saved.mib(), peak_memory_mib(device), statistics.median(times[1:] or times)],
        dtype=torch.float64,
        device=device,
    )
    table = [torch.empty_like(stats) for _ in range(size)]
    dist.all_gather(table, stats)
    if rank == 0:
        kind = "max allocated (CUDA)" if device.type == "cuda" else "peak RSS"
        print(
            f"\n{size} process(es), backend {dist.get_backend()}, {T} samples ({args.seconds:g} s at {sr} Hz), "
            f"{args.dtype}, {args.steps} steps, threads per process {torch.get_num_threads()}"
        )
        print(f"| rank | samples | saved for backward (MiB) | {kind} (MiB) | median step (s) |")
        print("|---|---|---|---|---|")
        for r, row in enumerate(table):
            n, act, peak, sec = row.tolist()
            print(f"| {r} | {int(n)} | {act:.1f} | {peak:.0f} | {sec:.3f} |")
        learned = {k: round(float(v.detach()), 4) for k, v in model.named_parameters()}
        print(f"ESR first step {history[0]:.4g}, last step {history[-1]:.4g}; learned {learned}")
    if owns_group:
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
