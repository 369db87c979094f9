"""Flanger: learn a flanger's LFO (rate, phase, delay, depth), feedback and mix from a target
made with known parameters, time domain (TD) vs frame-wise frequency sampling (FS), in the
layout of the phaser example (Table 2 of "Differentiable All-pole Filters for Time-varying
Audio Systems", DAFx 2024), on synthetic data.

Ground truth: ``tritonlpc.audio.flanger`` with fixed parameters (an LFO-swept feedback comb,
its delayed output mixed with the dry signal). Model: the same structure with learnable
parameters, started away from the truth, trained either

* TD: the exact time-varying recursion (``flanger``: ``comb_filter`` + ``fractional_delay``,
  gradients through the interpolated delay), or
* FS: the delay held per frame of hop L and the frame's response
  ``H = (1 - mix) + mix z^-d / (1 - feedback z^-d)`` applied by STFT multiplication and
  overlap-add (``tritonlpc.audio.stft_filter``; Hann window of 4L),

with the ESR loss; each trained model is evaluated on held-out audio (the
next seconds of the same LFO) with TD and FS inference (ESR).

    python examples/flanger.py --quick --out /tmp/flanger      # CPU, seconds
    python examples/flanger.py --out runs/flanger              # longer clips, more steps
"""

from __future__ import annotations

import math
from typing import Dict, List

import torch

import _common as C
import tritonlpc  # noqa: F401  (the backend the audio functions run on)
from tritonlpc.audio import flanger, frame_centers, lfo_delay, num_frames, stft_filter

TRUE = dict(delay_ms=1.0, depth_ms=2.5, rate_hz=0.6, phase=1.0, feedback=0.6, mix=0.5)


class Flanger(torch.nn.Module):
    """Learnable flanger parameters, each mapped into its range."""

    def __init__(self, sample_rate: int) -> None:
        super().__init__()
        self.sr = sample_rate
        t = lambda v: torch.nn.Parameter(torch.tensor(float(v), dtype=torch.float64))  # noqa: E731
        self.raw_delay = t(math.log(math.expm1(1.1)))  # softplus -> 1.1 ms (true 1.0)
        self.raw_depth = t(math.log(math.expm1(2.3)))  # 2.3 ms (true 2.5)
        self.log_rate = t(math.log(0.55))  # 0.55 Hz (true 0.6)
        self.phase = t(1.15)  # true 1.0
        self.raw_fb = t(math.atanh(0.3))  # tanh -> 0.3 (true 0.6)
        self.raw_mix = t(-0.4)  # sigmoid -> 0.4 (true 0.5)

    def params(self) -> Dict[str, torch.Tensor]:
        sp = torch.nn.functional.softplus
        return dict(
            delay_ms=sp(self.raw_delay) + 1000.0 / self.sr,
            depth_ms=sp(self.raw_depth),
            rate_hz=self.log_rate.exp(),
            phase=self.phase,
            feedback=torch.tanh(self.raw_fb),
            mix=torch.sigmoid(self.raw_mix),
        )

    def forward(self, x: torch.Tensor, mode: str, hop: int, offset: int = 0) -> torch.Tensor:
        p = self.params()
        if mode == "TD":
            return flanger_at(x, p, self.sr, offset)
        return flanger_fs(x, p, self.sr, hop, offset)


def _phase_at(p: Dict, sr: int, offset: int):
    return p["phase"] + 2 * math.pi * p["rate_hz"] * offset / sr


def flanger_at(x: torch.Tensor, p: Dict, sr: int, offset: int = 0) -> torch.Tensor:
    """The flanger on a clip starting ``offset`` samples into the LFO."""
    q = dict(p, phase=_phase_at(p, sr, offset))
    return flanger(x, sample_rate=float(sr), **q)


def flanger_fs(x: torch.Tensor, p: Dict, sr: int, hop: int, offset: int = 0) -> torch.Tensor:
    """Frame-wise frequency sampling: the delay at each frame centre, the comb's response."""
    T = x.shape[-1]
    n_fft = 4 * hop
    centers = frame_centers(T, hop).to(torch.float64)
    d = lfo_delay(T, p["delay_ms"], p["depth_ms"], p["rate_hz"], _phase_at(p, sr, offset), float(sr))
    d = d.reshape(-1)[centers.long().clamp(max=T - 1)]  # (F,)
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (2 * math.pi / n_fft)
    zd = torch.exp(-1j * w[None, :] * d[:, None])  # (F, K)
    H = (1 - p["mix"]) + p["mix"] * zd / (1 - p["feedback"] * zd)
    assert H.shape[0] == num_frames(T, hop)
    return stft_filter(x, H[None].expand(x.shape[0], -1, -1), n_fft, hop)


def main() -> None:
    ap = C.parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    quick = args.quick
    sr = 16000 if quick else 44100
    seconds = args.seconds or (0.75 if quick else 4.0)
    steps = args.steps or (80 if quick else 400)
    hop = 256 if quick else 512
    C.seed_everything(args.seed)
    clock = C.Stopwatch()
    T = int(seconds * sr)
    gen = torch.Generator().manual_seed(args.seed)
    x_all = C.music_like(2 * T, sr, gen).reshape(1, -1)
    x, x_test = x_all[:, :T], x_all[:, T:]
    truth = {k: torch.tensor(v, dtype=torch.float64) for k, v in TRUE.items()}
    with torch.no_grad():
        y_all = flanger_at(x_all, truth, sr)
    y, y_test = y_all[:, :T], y_all[:, T:]

    rows: List[C.Row] = []
    models: Dict[str, Flanger] = {}
    for mode in ("TD", "FS"):
        C.seed_everything(args.seed)
        model = Flanger(sr)
        C.train(
            model.parameters(),
            lambda model=model, mode=mode: C.esr(model(x, mode, hop), y),
            steps,
            0.03,
            f"{mode} training",
            not args.no_progress,
        )
        models[mode] = model
        with torch.no_grad():
            p = model.params()
            for infer in ("TD", "FS"):
                pred = model(x_test, infer, hop, offset=T)
                rows.append(dict(train=mode, infer=infer, metric="esr", value=float(C.esr(pred, y_test))))
            rows[-1].update({k: round(float(v), 4) for k, v in p.items()})
            rows[-2].update({k: round(float(v), 4) for k, v in p.items()})

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    peak = float(y_test.abs().max())
    clip = slice(0, min(T, sr))  # the first second of the held-out audio
    C.write_wav(out / "input.wav", x_test[:, clip], sr, peak)
    C.write_wav(out / "target.wav", y_test[:, clip], sr, peak)
    with torch.no_grad():
        for mode in ("TD", "FS"):
            pred = models[mode](x_test, "TD", hop, offset=T)[:, clip]
            C.write_wav(out / f"prediction_{mode.lower()}.wav", pred, sr, peak)
    plt = C.pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    t = torch.arange(T) / sr
    with torch.no_grad():
        for name, p in [("target", truth), *((m, models[m].params()) for m in ("TD", "FS"))]:
            d = lfo_delay(T, p["delay_ms"], p["depth_ms"], p["rate_hz"], p["phase"], float(sr)).reshape(-1)
            ax.plot(t, d * 1000 / sr, label=name)
    ax.set(xlabel="time (s)", ylabel="delay (ms)", title="flanger LFO: target vs learned")
    ax.legend()
    C.save_figure(fig, out / "modulation.png")
    table = C.markdown_table(
        ["train", "infer", "ESR", "rate_hz", "phase", "delay_ms", "depth_ms", "feedback", "mix"],
        [
            [
                r["train"],
                r["infer"],
                r["value"],
                *(r.get(k, "") for k in ("rate_hz", "phase", "delay_ms", "depth_ms", "feedback", "mix")),
            ]
            for r in rows
        ],
    )
    truth_line = ", ".join(f"{k}={v}" for k, v in TRUE.items())
    meta = dict(quick=quick, sr=sr, seconds=seconds, steps=steps, hop=hop, wall_s=round(clock(), 1))
    C.write_results(out, "Flanger: TD vs FS training", rows, f"True parameters: {truth_line}\n\n{table}", meta)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
