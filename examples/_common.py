"""Shared helpers of the example scripts: CLI, metrics, WAV/JSON/markdown output, progress bar.

Not part of the library; imported by ``examples/phaser.py``, ``tb303.py`` and
``compressor.py`` (run them from anywhere: ``python examples/phaser.py --quick``).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
import wave
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

import numpy as np
import torch

try:
    from tqdm.auto import tqdm
except ImportError as exc:  # pragma: no cover
    raise SystemExit("the examples need tqdm and matplotlib: pip install 'tritonlpc[examples]'") from exc

Row = Dict[str, object]


# --------------------------------------------------------------------------- CLI
def parser(description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="short CPU run (seconds of audio, few steps; what CI runs)")
    p.add_argument("--out", type=Path, required=True, help="output directory (created)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if available and not --quick), 'cpu', 'cuda', ...")
    p.add_argument("--steps", type=int, default=None, help="optimiser steps per training run (default: per mode)")
    p.add_argument(
        "--seconds", type=float, default=None, help="length of the training clip in seconds (default: per mode)"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--no-progress", action="store_true", help="disable the progress bars")
    return p


def device_for(arg: str, quick: bool) -> torch.device:
    if arg == "auto":
        return torch.device("cuda" if torch.cuda.is_available() and not quick else "cpu")
    return torch.device(arg)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def progress(steps: int, desc: str, enabled: bool = True):
    return tqdm(range(steps), desc=desc, leave=False, dynamic_ncols=True, disable=not enabled)


# --------------------------------------------------------------------------- metrics
def esr(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Error-to-signal ratio ``sum (target - pred)^2 / sum target^2`` (a fraction: 0.01 = 1 %)."""
    return (target - pred).square().sum() / (target.square().sum() + eps)


MSS_FFTS = (128, 256, 512, 1024, 2048, 4096)


def mss(pred: torch.Tensor, target: torch.Tensor, ffts: Sequence[int] = MSS_FFTS, eps: float = 1e-7) -> torch.Tensor:
    """Multi-resolution STFT distance: mean over FFT sizes (hop n/4, Hann) of spectral
    convergence ``||S_t - S_p||_F / ||S_t||_F`` plus mean ``|log S_t - log S_p|``."""
    pred, target = pred.reshape(-1, pred.shape[-1]), target.reshape(-1, target.shape[-1])
    total = pred.new_zeros(())
    for n in ffts:
        w = torch.hann_window(n, device=pred.device, dtype=pred.dtype)
        sp = torch.stft(pred, n, n // 4, window=w, return_complex=True).abs()
        st = torch.stft(target, n, n // 4, window=w, return_complex=True).abs()
        sc = torch.linalg.vector_norm(st - sp) / (torch.linalg.vector_norm(st) + eps)
        lm = (torch.log(st + eps) - torch.log(sp + eps)).abs().mean()
        total = total + sc + lm
    return total / len(ffts)


# --------------------------------------------------------------------------- output
def write_wav(path: Path, x: torch.Tensor, sample_rate: int, peak: Optional[float] = None) -> None:
    """16-bit mono WAV (stdlib ``wave``). Scaled by ``0.99 / peak`` when given (use one peak for
    files that should be compared by ear), otherwise clipped to [-1, 1]."""
    a = x.detach().double().cpu().reshape(-1).numpy()
    if peak is not None and peak > 0:
        a = a * (0.99 / peak)
    pcm = (np.clip(a, -1.0, 1.0) * 32767).round().astype("<i2")
    with wave.open(str(path), "wb") as f:
        f.setnchannels(1)
        f.setsampwidth(2)
        f.setframerate(int(sample_rate))
        f.writeframes(pcm.tobytes())


def pyplot():
    """matplotlib.pyplot on the non-interactive Agg backend (the examples only write PNGs)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    fig.tight_layout()
    fig.savefig(path)
    pyplot().close(fig)


def _fmt(v: object) -> str:
    if isinstance(v, float):
        if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for r in rows:
        lines.append("| " + " | ".join(_fmt(v) for v in r) + " |")
    return "\n".join(lines)


def write_results(out: Path, title: str, rows: List[Row], tables: str, meta: Dict[str, object]) -> None:
    """``results.json`` (the list of rows) and ``results.md`` (title, run settings, tables)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(rows, indent=1) + "\n")
    settings = ", ".join(f"{k}={v}" for k, v in meta.items())
    (out / "results.md").write_text(f"# {title}\n\nRun: {settings}\n\n{tables}\n")


class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def train(
    params: Iterable[torch.nn.Parameter] | List[dict],
    loss_fn: Callable[[], torch.Tensor],
    steps: int,
    lr: float,
    desc: str,
    show: bool = True,
) -> List[float]:
    """Adam with a cosine learning-rate decay; returns the loss history."""
    opt = torch.optim.Adam(params, lr=lr)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / max(steps, 1))) * 0.95 + 0.05
    )
    history = []
    bar = progress(steps, desc, show)
    for _ in bar:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        sched.step()
        history.append(float(loss.detach()))
        bar.set_postfix(loss=f"{history[-1]:.4g}")
    return history


# --------------------------------------------------------------------------- test signals
def white_noise(T: int, gen: torch.Generator, level: float = 0.3) -> torch.Tensor:
    return level * (2 * torch.rand(T, generator=gen, dtype=torch.float64) - 1)


def music_like(T: int, sample_rate: int, gen: torch.Generator, bpm: float = 120.0) -> torch.Tensor:
    """A synthetic 'music-like' signal: 8th notes of band-limited harmonic tones with decaying
    envelopes and random loudness (-18..0 dB), plus short noise bursts on the off-beats."""
    step = int(round(sample_rate * 30 / bpm))
    n = torch.arange(T, dtype=torch.float64)
    out = torch.zeros(T, dtype=torch.float64)
    for start in range(0, T, step):
        seg = n[start : start + 2 * step] - start
        f0 = 55.0 * 2 ** (float(torch.randint(0, 36, (1,), generator=gen)) / 12)
        gain = 10 ** (-18 * float(torch.rand(1, generator=gen)) / 20)
        decay = 0.05 + 0.3 * float(torch.rand(1, generator=gen))
        tone = torch.zeros_like(seg)
        for h in range(1, 13):
            if h * f0 < sample_rate / 2.5:
                tone += torch.sin(2 * math.pi * h * f0 * seg / sample_rate) / h
        env = torch.exp(-seg / (decay * sample_rate)) * torch.clamp(seg / (0.004 * sample_rate), max=1.0)
        out[start : start + seg.numel()] += 0.25 * gain * env * tone
        if (start // step) % 2 == 1:
            burst = seg[: step // 2]
            noise = 2 * torch.rand(burst.numel(), generator=gen, dtype=torch.float64) - 1
            out[start : start + burst.numel()] += 0.1 * gain * noise * torch.exp(-burst / (0.01 * sample_rate))
    return out
