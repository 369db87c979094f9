"""Long-sequence training benchmark: one optimiser step of a cascade of time-varying biquads.

The model (:class:`BiquadCascade`) has, per section, a causal 3-tap FIR numerator and a
time-varying all-pole denominator ``1 + a1[n] z^-1 + a2[n] z^-2`` whose pole radius and angle
are learnable control curves at a frame rate (one value per ``hop`` samples). The denominator
runs through ``sample_wise_lpc`` of the implementation under test (tritonlpc or torchlpc).
Three ways to get from the control curves to the filter (``mode``):

* ``curves``: the curves linearly interpolated to every sample (``F.interpolate``), then
  radius, angle and coefficients computed per sample (the original model);
* ``frames-torch``: coefficients computed per frame, then interpolated to every sample in torch;
* ``frames``: coefficients computed per frame and passed as frames, ``sample_wise_lpc(...,
  hop=hop)``, interpolated inside the kernels, and the numerator through
  ``tritonlpc.audio.time_varying_fir(..., hop=hop)`` with the section's taps as (constant) frames
  (tritonlpc only: the whole section at the control rate in the library, no per-sample tensor
  but the signals).

``frames`` and ``frames-torch`` are the same model (the same interpolation of the same frame
coefficients; constant frames interpolate to the taps exactly), computed two ways; ``curves`` and
``frames-torch`` run the numerator as ``conv1d``.

Peak memory of a step:

* CUDA: ``torch.cuda.max_memory_allocated()`` during the step minus the memory allocated before
  it (after a warm-up step, so the optimiser state already exists).
* CPU: measured in a separate process (``python bench/training.py --probe ...``) with
  ``MALLOC_MMAP_THRESHOLD_`` fixed so that every large buffer is its own mapping, as the rise of
  the resident-set high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs``) above
  the resident set before the step.
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Callable, Dict, List, Optional

import torch
import torch.nn.functional as F

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

TRAIN_T = (2**20, 2**21, 2**22)
QUICK_T = (2**12,)
TRAIN_B = 1
N_SECTIONS = 4
HOP = 256
IMPLS = ("tritonlpc", "torchlpc")
MODES = ("curves", "frames-torch", "frames")


def cases() -> List[tuple]:
    """Every (impl, mode) the benchmark runs (``frames`` needs tritonlpc's ``hop=``)."""
    return [(impl, mode) for impl in IMPLS for mode in MODES if not (mode == "frames" and impl != "tritonlpc")]


def lpc_function(impl: str, device: str) -> Callable:
    """``sample_wise_lpc`` of ``impl``; raises ImportError/RuntimeError if it cannot run here."""
    if impl == "tritonlpc":
        import tritonlpc  # noqa: PLC0415

        backend = "numba" if device == "cpu" else "triton"

        def fn(x, a, hop=None):
            with tritonlpc.use_backend(backend):
                return tritonlpc.sample_wise_lpc(x, a, hop=hop)

        return fn
    if impl == "torchlpc":
        import torchlpc  # noqa: PLC0415

        if not getattr(torchlpc, "EXTENSION_LOADED", False):
            raise RuntimeError("torchlpc is installed without its C++/CUDA extension")
        key = "CUDA" if device == "cuda" else "CPU"
        if not torch._C._dispatch_has_kernel_for_dispatch_key("torchlpc::lpc", key):
            raise RuntimeError(f"torchlpc's extension has no {key} kernel")
        return torchlpc.sample_wise_lpc
    raise ValueError(impl)


def interpolate_frames(af: torch.Tensor, hop: int, T: int) -> torch.Tensor:
    """Frames ``(B, F, M)`` at samples ``0, hop, 2 hop, ...`` linearly interpolated to ``(B, T, M)``
    in torch (the interpolation ``sample_wise_lpc(..., hop=)`` does in its kernels)."""
    F_ = af.shape[1]
    a = F.interpolate(af.transpose(1, 2), size=(F_ - 1) * hop + 1, mode="linear", align_corners=True)
    return a[..., :T].transpose(1, 2)


class BiquadCascade(torch.nn.Module):
    def __init__(
        self,
        batch: int,
        T: int,
        *,
        n_sections: int = N_SECTIONS,
        hop: int = HOP,
        device="cpu",
        seed: int = 0,
        mode: str = "curves",
    ):
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        self.mode, self.hop = mode, hop
        g = torch.Generator(device=device).manual_seed(seed)
        n_frames = T // hop + 1 if mode == "curves" else (T - 1) // hop + 2
        self.ctrl = torch.nn.Parameter(0.5 * torch.randn(n_sections, batch, 2, n_frames, device=device, generator=g))
        b = torch.zeros(n_sections, 3, device=device)
        b[:, 0] = 1.0
        self.b = torch.nn.Parameter(b + 0.1 * torch.randn(n_sections, 3, device=device, generator=g))
        self.max_radius = 0.9

    def coefficients(self, k: int, T: int) -> torch.Tensor:
        c = F.interpolate(self.ctrl[k], size=T, mode="linear", align_corners=True)  # (B, 2, T)
        r = self.max_radius * torch.sigmoid(c[:, 0])
        th = math.pi * torch.sigmoid(c[:, 1])
        return torch.stack([-2 * r * torch.cos(th), r * r], dim=-1)  # (B, T, 2)

    def frame_coefficients(self, k: int) -> torch.Tensor:
        """The coefficients at the frames, ``(B, F, 2)``."""
        r = self.max_radius * torch.sigmoid(self.ctrl[k][:, 0])
        th = math.pi * torch.sigmoid(self.ctrl[k][:, 1])
        return torch.stack([-2 * r * torch.cos(th), r * r], dim=-1)

    def forward(self, x: torch.Tensor, lpc: Callable) -> torch.Tensor:
        B, T = x.shape
        y = x
        for k in range(self.ctrl.shape[0]):
            if self.mode == "frames":
                from tritonlpc.audio import time_varying_fir  # noqa: PLC0415

                taps = self.b[k].expand(B, self.ctrl.shape[3], 3)  # constant frames, read in place
                y = lpc(time_varying_fir(y, taps, hop=self.hop), self.frame_coefficients(k), hop=self.hop)
                continue
            y = F.conv1d(F.pad(y[:, None], (2, 0)), self.b[k].flip(0).view(1, 1, 3)).squeeze(1)  # causal FIR
            if self.mode == "curves":
                y = lpc(y, self.coefficients(k, T))
            else:
                y = lpc(y, interpolate_frames(self.frame_coefficients(k), self.hop, T))
        return y


class Trainer:
    """Model, optimiser and data for one (impl, device, T); ``step()`` runs one optimiser step."""

    def __init__(self, impl: str, device: str, T: int, batch: int = TRAIN_B, seed: int = 0, mode: str = "curves"):
        self.lpc = lpc_function(impl, device)
        self.model = BiquadCascade(batch, T, device=device, seed=seed, mode=mode)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        g = torch.Generator(device=device).manual_seed(seed + 1)
        self.x = torch.randn(batch, T, device=device, generator=g)
        self.target = torch.randn(batch, T, device=device, generator=g)

    def step(self) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss = F.mse_loss(self.model(self.x, self.lpc), self.target)
        loss.backward()
        self.opt.step()


def cuda_peak_bytes(trainer: Trainer) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    trainer.step()
    torch.cuda.synchronize()
    return int(torch.cuda.max_memory_allocated() - base)


# ----------------------------------------------------------------------------------------------
# CPU peak memory, in a child process
# ----------------------------------------------------------------------------------------------
def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def _probe(impl: str, Ts: List[int], mode: str = "curves") -> List[Dict[str, object]]:
    torch.manual_seed(0)
    Trainer(impl, "cpu", 4096, mode=mode).step()  # JIT compilation happens here, not in a measured step
    out = []
    for T in Ts:
        trainer = Trainer(impl, "cpu", T, mode=mode)
        trainer.step()  # optimiser state now exists
        gc.collect()
        rss = _status_kib("VmRSS")
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        trainer.step()
        hwm = _status_kib("VmHWM")
        out.append({"T": T, "peak_mem_bytes": (hwm - rss) * 1024, "rss_before_bytes": rss * 1024})
        del trainer
        gc.collect()
    return out


def cpu_peak_bytes(impl: str, Ts: List[int], timeout: float = 900, mode: str = "curves") -> Dict[int, Optional[int]]:
    """Peak extra resident memory of one step for each T, measured in a child process.

    Returns ``{T: bytes}``; ``None`` values (and a ``"error"`` key in the log) when the
    measurement is not possible here (e.g. ``/proc/self/clear_refs`` not writable).
    """
    env = dict(os.environ)
    env["MALLOC_MMAP_THRESHOLD_"] = "65536"  # every buffer >= 64 KiB is mmap'ed and unmapped on free
    env["PYTHONPATH"] = os.pathsep.join([str(REPO_DIR), str(BENCH_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe", "--impl", impl, "--mode", mode]
    cmd += ["--T", *map(str, Ts)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-2000:])
        return dict.fromkeys(Ts)
    rows = json.loads(proc.stdout.strip().splitlines()[-1])
    return {int(r["T"]): int(r["peak_mem_bytes"]) for r in rows}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--probe", action="store_true", help="measure CPU peak memory (used by test_training.py)")
    p.add_argument("--compare", action="store_true", help="print step time and peak memory of every (impl, mode)")
    p.add_argument("--impl", choices=IMPLS)
    p.add_argument("--mode", choices=MODES, default="curves")
    p.add_argument("--T", type=int, nargs="+", default=list(TRAIN_T))
    p.add_argument("--steps", type=int, default=3, help="timed steps per case (--compare; the median is shown)")
    p.add_argument("--cases", nargs="+", metavar="IMPL:MODE", help="--compare only these (default: every case)")
    args = p.parse_args()
    if args.probe:
        print(json.dumps(_probe(args.impl, args.T, args.mode)))
    elif args.compare:
        compare(args.T, args.steps, [tuple(c.split(":", 1)) for c in args.cases] if args.cases else cases())


def compare(Ts: List[int], steps: int, which: List[tuple]) -> None:
    """One line per (T, impl, mode) of ``which``: median step time on the CPU and the peak memory
    of a step."""
    import time  # noqa: PLC0415

    print("T impl mode median_step_s peak_mem_MiB")
    for T in Ts:
        for impl, mode in which:
            try:
                trainer = Trainer(impl, "cpu", T, mode=mode)
            except (ImportError, RuntimeError) as exc:
                print(T, impl, mode, "skipped:", exc)
                continue
            trainer.step()  # warm-up
            times = []
            for _ in range(steps):
                t0 = time.perf_counter()
                trainer.step()
                times.append(time.perf_counter() - t0)
            del trainer
            gc.collect()
            peak = cpu_peak_bytes(impl, [T], mode=mode)[T]
            mib = f"{peak / 2**20:.1f}" if peak is not None else "n/a"
            print(T, impl, mode, f"{sorted(times)[len(times) // 2]:.3f}", mib, flush=True)


if __name__ == "__main__":
    main()
