"""``python -m tritonlpc``: a short demo of the filter on the default backend.

Sweeps a resonant low-pass (a time-varying biquad) over a few seconds of 48 kHz noise,
backpropagates through it, checks the result against block-by-block streaming, and prints
what ran where and how long it took.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import Optional, Sequence

import torch

import tritonlpc


def lowpass_denominator(cutoff_hz: torch.Tensor, q: float, sr: float) -> torch.Tensor:
    """RBJ low-pass denominator ``(a1, a2)`` per sample, shape `(..., T, 2)`."""
    w0 = 2 * math.pi * cutoff_hz / sr
    alpha = torch.sin(w0) / (2 * q)
    a0 = 1 + alpha
    return torch.stack([-2 * torch.cos(w0) / a0, (1 - alpha) / a0], dim=-1)


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value < math.inf or int(value * 48_000) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number of seconds (at least one sample), got {text!r}"
        )
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _device(text: str) -> torch.device:
    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"must be 'cpu' or 'cuda' (or 'cuda:N'), got {text!r}") from None
    if device.type not in ("cpu", "cuda"):
        raise argparse.ArgumentTypeError(f"must be 'cpu' or 'cuda' (or 'cuda:N'), got {text!r}")
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError("'cuda' was asked for, but CUDA is not available here; use 'cpu'")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text!r}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


def main(argv: Optional[Sequence[str]] = None) -> None:
    """Run the demo; ``argv`` as ``sys.argv[1:]`` (bad options end in an argparse error, exit 2)."""
    parser = argparse.ArgumentParser(
        prog="python -m tritonlpc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=_positive_seconds, default=4.0, help="signal length (default 4 s)")
    parser.add_argument("--batch", type=_positive_int, default=4, help="batch size (default 4)")
    parser.add_argument(
        "--device", type=_device, default="cuda" if torch.cuda.is_available() else "cpu", help="cpu or cuda"
    )
    args = parser.parse_args(argv)

    sr = 48_000
    T = int(args.seconds * sr)
    device = args.device
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, T, generator=gen).to(device)
    t = torch.linspace(0, 1, T, device=device)
    cutoff = 200 * 40 ** (0.5 - 0.5 * torch.cos(2 * math.pi * 3 * t))  # 200 Hz .. 8 kHz, 3 sweeps
    a = lowpass_denominator(cutoff, q=4.0, sr=sr).expand(args.batch, T, 2).contiguous().requires_grad_()

    print(f"tritonlpc {tritonlpc.__version__}: backend '{tritonlpc.backend_for(x)}' for {device} tensors")
    print(f"signal: B={args.batch}, T={T} ({args.seconds:g} s at 48 kHz), order M=2, float32")

    x = x * (1 + a.detach().sum(-1))  # unity gain at DC: the all-pole part alone has gain 1/A(1)
    y = tritonlpc.sample_wise_lpc(x, a)  # first call compiles (Numba caches it on disk)
    y.square().mean().backward()

    def timed(fn) -> float:  # median of 5 runs, in seconds
        times = []
        for _ in range(5):
            if device.type == "cuda":
                torch.cuda.synchronize()
            t0 = time.perf_counter()
            fn()
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - t0)
        return sorted(times)[2]

    def fwd_bwd() -> None:
        a.grad = None
        out = tritonlpc.sample_wise_lpc(x, a)
        out.square().mean().backward()

    with torch.no_grad():
        t_fwd = timed(lambda: tritonlpc.sample_wise_lpc(x, a))
    t_both = timed(fwd_bwd)
    assert a.grad is not None
    print(f"forward           {1e3 * t_fwd:8.2f} ms   ({args.batch * T / t_fwd / 1e6:.0f} Msamples/s)")
    print(f"forward+backward  {1e3 * t_both:8.2f} ms   grad of a: shape {tuple(a.grad.shape)}")

    # Streaming in blocks, carrying the final conditions, reproduces the single call.
    with torch.no_grad():
        state, blocks = None, []
        for start in range(0, T, 4096):
            yb, state = tritonlpc.sample_wise_lpc(
                x[:, start : start + 4096], a[:, start : start + 4096], state, return_zf=True
            )
            blocks.append(yb)
        err = (torch.cat(blocks, 1) - y).abs().max().item()
    print(f"block streaming (4096-sample blocks) vs one call: max |difference| = {err:.2e}")
    rms_in, rms_out = x.square().mean().sqrt().item(), y.square().mean().sqrt().item()
    print(f"rms in {rms_in:.3f} -> rms out {rms_out:.3f} (resonant low-pass sweep)")


if __name__ == "__main__":
    main()
