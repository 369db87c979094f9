"""TB-303-style synth: learn a time-varying resonant low-pass per frame (hop 32 samples at
48 kHz), time domain (TD) vs frequency sampling (FS) — the layout of Table 3 of
"Differentiable All-pole Filters for Time-varying Audio Systems" (DAFx 2024), synthetic data,
multi-resolution STFT distance (MSS) only (no FAD).

Source: a band-limited (PolyBLEP) sawtooth/square oscillator playing a random 16th-note
acid line with a decaying amplitude envelope. Target: the source through an RBJ resonant
low-pass whose cutoff follows a per-note decaying envelope (the 303's "env mod" and "decay")
over a slowly swept base cutoff, and whose Q is swept slowly — all modulated per sample.

Models (sound matching of one clip; per-frame parameters, frame m at sample 32 m):

* LP: per-frame cutoff and Q (log-cutoff and softplus-Q parameters) -> RBJ low-pass;
* Coeff.: per-frame free biquad coefficients: a denominator in the stability triangle
  (``a1 = 2 tanh r1``, ``a2 = ((2 - |a1|) tanh r2 + |a1|) / 2``) and a free numerator scaled
  by the denominator's DC value (``b = (1 + a1 + a2) beta``, ``beta`` free).

Training: TD (parameters interpolated linearly to every sample, exact time-varying biquad) or
FS (frame-constant coefficients applied by STFT with hop 32 and a Hann window of N_WIN,
``tritonlpc.audio.frequency_sampling_iir``), minimising MSS. Evaluation: MSS of each trained
model under FS (same N_WIN) and TD inference.

    python examples/tb303.py --quick --out /tmp/tb303
    python examples/tb303.py --out runs/tb303
"""

from __future__ import annotations

import math
from typing import Dict, List, Tuple

import torch

import _common as C
import tritonlpc
from tritonlpc.audio import biquad_lowpass, frequency_sampling_iir, time_varying_biquad

SR = 48000
HOP = 32


# --------------------------------------------------------------------------- source and target
def _blep(t: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
    """PolyBLEP residual for a unit downward step at phase 0 (phase ``t`` in [0, 1))."""
    x1 = t / dt
    x2 = (t - 1) / dt
    return torch.where(t < dt, 2 * x1 - x1 * x1 - 1, torch.where(t > 1 - dt, x2 * x2 + 2 * x2 + 1, torch.zeros_like(t)))


def acid_line(T: int, gen: torch.Generator) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Returns ``(source, cutoff_hz, q)``, each `(T,)` float64."""
    step = int(SR * 60 / 130 / 4)  # 16th notes at 130 BPM
    n_notes = T // step + 1
    scale = torch.tensor([0, 3, 5, 7, 10, 12, 15])
    f0 = torch.empty(T, dtype=torch.float64)
    square = torch.empty(T, dtype=torch.bool)
    env_amp = torch.empty(T, dtype=torch.float64)
    env_cut = torch.empty(T, dtype=torch.float64)
    for k in range(n_notes):
        s, e = k * step, min((k + 1) * step, T)
        if s >= T:
            break
        note = (
            36
            + int(scale[torch.randint(0, len(scale), (1,), generator=gen)])
            + 12 * int(torch.rand(1, generator=gen) < 0.25)
        )
        f0[s:e] = 440.0 * 2 ** ((note - 69) / 12)
        square[s:e] = bool(torch.rand(1, generator=gen) < 0.4)
        accent = 1.0 + 0.6 * float(torch.rand(1, generator=gen) < 0.3)
        tt = torch.arange(e - s, dtype=torch.float64) / SR
        env_amp[s:e] = accent * torch.exp(-tt / 0.25) * torch.clamp(tt / 0.002, max=1.0)
        env_cut[s:e] = accent * torch.exp(-tt / (0.04 + 0.12 * float(torch.rand(1, generator=gen))))
    dt = f0 / SR
    phase = torch.remainder(torch.cumsum(dt, 0), 1.0)
    saw = 2 * phase - 1 - _blep(phase, dt)
    sq = torch.where(phase < 0.5, 1.0, -1.0) + _blep(phase, dt) - _blep(torch.remainder(phase + 0.5, 1.0), dt)
    source = 0.3 * env_amp * torch.where(square, sq, saw)
    t = torch.arange(T, dtype=torch.float64) / SR
    base = 220.0 * torch.exp(0.8 * torch.sin(2 * math.pi * 0.15 * t))
    cutoff = (base * torch.exp(2.3 * env_cut)).clamp(max=0.4 * SR)
    q = 1.5 + 4.5 * (0.5 - 0.5 * torch.cos(2 * math.pi * 0.2 * t))
    return source, cutoff, q


# --------------------------------------------------------------------------- models
def _upsample(frames: torch.Tensor, T: int) -> torch.Tensor:
    """Linear interpolation of per-frame values `(F, P)` (frame m at sample m HOP) to `(T, P)`."""
    pos = torch.arange(T, device=frames.device, dtype=frames.dtype) / HOP
    m0 = pos.floor().long().clamp(max=frames.shape[0] - 2)
    w = (pos - m0).unsqueeze(-1)
    return frames[m0] * (1 - w) + frames[m0 + 1] * w


class FrameBiquad(torch.nn.Module):
    """Per-frame biquad parameters; ``coefficients(raw)`` maps raw parameters `(N, P)` to
    ``b (N, 3), a (N, 2)``; TD interpolates the raw parameters to every sample."""

    def __init__(self, kind: str, n_frames: int):
        super().__init__()
        self.kind = kind
        b0, a0 = biquad_lowpass(torch.tensor(1000.0, dtype=torch.float64), 0.707, SR)
        if kind == "LP":
            init = torch.tensor([math.log(1000.0 / 20.0), math.log(math.expm1(0.707 - 0.3))], dtype=torch.float64)
        else:
            a1, a2 = float(a0[0]), float(a0[1])
            tau = (2 * a2 - abs(a1)) / (2 - abs(a1))
            dc = 1 + a1 + a2
            init = torch.tensor([math.atanh(a1 / 2), math.atanh(tau), *(b0 / dc).tolist()], dtype=torch.float64)
        self.raw = torch.nn.Parameter(init.repeat(n_frames, 1))

    def coefficients(self, raw: torch.Tensor):
        if self.kind == "LP":
            cutoff = 20.0 * torch.exp(raw[:, 0]).clamp(max=0.45 * SR / 20.0)
            q = 0.3 + torch.nn.functional.softplus(raw[:, 1])
            return biquad_lowpass(cutoff, q, SR)
        a1 = 2 * torch.tanh(raw[:, 0])
        a2 = ((2 - a1.abs()) * torch.tanh(raw[:, 1]) + a1.abs()) / 2
        # numerator relative to A(1) = 1 + a1 + a2 > 0 (inside the triangle): b = A(1) beta with
        # beta free. Any biquad numerator is reachable, and beta stays O(1) for resonant low
        # cutoffs, where b itself is ~1e-4 (raw b would be ill-conditioned for the optimiser).
        return raw[:, 2:5] * (1 + a1 + a2).unsqueeze(-1), torch.stack([a1, a2], -1)

    def td(self, x: torch.Tensor) -> torch.Tensor:
        b, a = self.coefficients(_upsample(self.raw, x.shape[0]))
        return time_varying_biquad(x[None], b[None], a[None])[0]

    def fs(self, x: torch.Tensor, n_win: int) -> torch.Tensor:
        b, a = self.coefficients(self.raw)
        return frequency_sampling_iir(x[None], b[None], a[None], n_win, HOP, "hann")[0]

    def resonance_hz(self, T: int) -> torch.Tensor:
        """Cutoff (LP) or pole frequency (Coeff.; NaN for real poles) per sample, for plots."""
        raw = _upsample(self.raw.detach(), T)
        if self.kind == "LP":
            return 20.0 * torch.exp(raw[:, 0]).clamp(max=0.45 * SR / 20.0)
        _, a = self.coefficients(raw)
        a1, a2 = a[:, 0], a[:, 1]
        disc = a1 * a1 - 4 * a2
        ang = torch.atan2(torch.sqrt((-disc).clamp(min=0)), -a1)
        return torch.where(disc < 0, ang * SR / (2 * math.pi), torch.full_like(a1, float("nan")))


def fit(kind: str, train: str, n_win: int, x, y, steps: int, show: bool) -> FrameBiquad:
    model = FrameBiquad(kind, 1 + x.shape[0] // HOP).to(device=x.device, dtype=x.dtype)

    def loss():
        return C.mss(model.td(x) if train == "TD" else model.fs(x, n_win), y)

    lr = 0.1 if kind == "LP" else 0.05
    C.train(model.parameters(), loss, steps, lr, f"{kind} {train}" + (f" N={n_win}" if train == "FS" else ""), show)
    return model


def main() -> None:
    args = C.parser(__doc__).parse_args()
    C.seed_everything(args.seed)
    device = C.device_for(args.device, args.quick)
    show = not args.no_progress
    if args.quick:
        seconds, steps, wins = 0.5, args.steps or 160, [1024, 256]
    else:
        seconds, steps, wins = 20.0, args.steps or 1000, [4096, 2048, 1024, 512, 256, 128]
    seconds = args.seconds or seconds
    sw = C.Stopwatch()
    T = int(seconds * SR)
    gen = torch.Generator().manual_seed(args.seed)
    source, cutoff, q = acid_line(T, gen)
    b, a = biquad_lowpass(cutoff, q, SR)
    target = time_varying_biquad(source[None], b[None], a[None])[0]
    dt = torch.float32
    x, y = source.to(device, dt), target.to(device, dt)
    rows: List[Dict[str, object]] = []
    table = []
    models = {}
    for kind in ("Coeff.", "LP"):
        key = "LP" if kind == "LP" else "coeff"
        for n_win in wins:
            m = fit(key, "FS", n_win, x, y, steps, show)
            with torch.no_grad():
                v_fs, v_td = float(C.mss(m.fs(x, n_win), y)), float(C.mss(m.td(x), y))
            rows += [
                {"train": "FS", "infer": "FS", "metric": "mss", "value": v_fs, "filter": kind, "n_win": n_win},
                {"train": "FS", "infer": "TD", "metric": "mss", "value": v_td, "filter": kind, "n_win": n_win},
            ]
            table.append((kind, "FS", n_win, v_fs, v_td))
            models[(kind, n_win)] = m
        m = fit(key, "TD", 0, x, y, steps, show)
        with torch.no_grad():
            v_td = float(C.mss(m.td(x), y))
            v_fs = {n: float(C.mss(m.fs(x, n), y)) for n in wins}
        rows.append({"train": "TD", "infer": "TD", "metric": "mss", "value": v_td, "filter": kind, "n_win": None})
        for n in wins:  # not in the paper's table: the TD-trained parameters under FS inference
            rows.append({"train": "TD", "infer": "FS", "metric": "mss", "value": v_fs[n], "filter": kind, "n_win": n})
        table.append((kind, "TD", "-", "-", v_td))
        models[(kind, "TD")] = m
    args.out.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        pred = models[("Coeff.", "TD")].td(x)
        pred_lp = models[("LP", "TD")].td(x)
        pred_fs = models[("Coeff.", wins[0])].fs(x, wins[0])
    peak = float(max(x.abs().max(), y.abs().max()))
    C.write_wav(args.out / "input.wav", x, SR, peak)
    C.write_wav(args.out / "target.wav", y, SR, peak)
    C.write_wav(args.out / "prediction_td.wav", pred, SR, peak)
    C.write_wav(args.out / "prediction_lp_td.wav", pred_lp, SR, peak)
    C.write_wav(args.out / f"prediction_fs_{wins[0]}.wav", pred_fs, SR, peak)
    _plot(args.out / "modulation.png", cutoff, models, wins)
    md = C.markdown_table(["Filter", "Method (train)", "N_WIN", "MSS (FS infer)", "MSS (TD infer)"], table)
    extra = "\n".join(
        f"- {r['filter']} TD-trained, FS inference N_WIN={r['n_win']}: MSS {r['value']:.4g}"
        for r in rows
        if r["train"] == "TD" and r["infer"] == "FS"
    )
    text = (
        "Multi-resolution STFT distance (lower is better; FFT sizes "
        f"{', '.join(map(str, C.MSS_FFTS))}, spectral convergence + log-magnitude L1, averaged) "
        "on the matched clip. Hop 32 samples at 48 kHz.\n\n"
        + md
        + "\n\nNot in the paper's table (TD-trained parameters, FS inference):\n\n"
        + extra
    )
    meta = {
        "mode": "quick" if args.quick else "full",
        "device": device.type,
        "backend": tritonlpc.backend_for(x),
        "seconds": seconds,
        "steps": steps,
        "seed": args.seed,
        "wall_s": round(sw(), 1),
    }
    C.write_results(args.out, "TB-303 sound matching (Table 3 layout, MSS only)", rows, text, meta)
    print(text)
    print(f"wrote {args.out} in {sw():.1f} s")


def _plot(path, cutoff, models, wins) -> None:
    plt = C.pyplot()

    T = cutoff.numel()
    t = torch.arange(T) / SR
    sl = slice(None, None, max(1, T // 4000))
    fig, axes = plt.subplots(2, 1, figsize=(7, 5), dpi=80, sharex=True)
    for ax, kind in zip(axes, ("LP", "Coeff.")):
        ax.plot(t[sl], cutoff[sl], "k", lw=2.5, label="true cutoff")
        ax.plot(t[sl], models[(kind, "TD")].resonance_hz(T)[sl].cpu(), "C0", lw=1, label="learned (TD)")
        ax.plot(
            t[sl],
            models[(kind, wins[0])].resonance_hz(T)[sl].cpu(),
            "C1",
            lw=1,
            alpha=0.7,
            label=f"learned (FS, N={wins[0]})",
        )
        ax.set_yscale("log")
        ax.set_ylabel("Hz")
        ax.set_title("LP: cutoff" if kind == "LP" else "Coeff.: pole frequency (complex poles)", fontsize=9)
        ax.legend(fontsize=7)
    axes[-1].set_xlabel("time (s)")
    C.save_figure(fig, path)


if __name__ == "__main__":
    main()
