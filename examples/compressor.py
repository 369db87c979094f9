"""Compressor: learn a feed-forward compressor with separate attack and release in the time
domain (TD, "∇FF") vs an FS-style model with one time constant — the layout of Tables 5 and 6
of "Differentiable All-pole Filters for Time-varying Audio Systems" (DAFx 2024), on synthetic
data (no LA-2A recordings: only the feed-forward conditions FF-A/B/C).

Ground truth: ``tritonlpc.audio.feedforward_compressor`` (RMS detector, hard-knee static
curve, attack/release smoothing, make-up gain) with three settings: FF-A fast attack / slow
release, FF-B attack = release, FF-C very fast attack / very slow release. Input: a synthetic
music-like signal (notes with decaying envelopes and random loudness, noise bursts).

Models (the RMS detector's coefficient is known and fixed; everything else is learned:
threshold, ratio, attack, release, make-up gain):

* TD (∇FF): the same compressor; the smoother's backward runs on tritonlpc's reverse scan.
* FS: attack = release (one time constant), so the smoother is a linear time-invariant
  one-pole filter, applied to the gain by frame-wise frequency sampling
  (``tritonlpc.audio.stft_filter`` with the one-pole's sampled response, Hann, n_fft/hop set by ``--fs-nfft/--fs-hop``);
  evaluated with FS inference and with exact TD inference (one-pole recursion).

ESR on held-out audio (the seconds after the training clip).

    python examples/compressor.py --quick --out /tmp/comp
    python examples/compressor.py --out runs/comp
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Dict, List

import torch

import _common as C
import tritonlpc
from tritonlpc.audio import (
    alpha_to_time_constant,
    attack_release_smoothing,
    compressor_gain,
    compressor_static_gain,
    feedforward_compressor,
    frequency_response,
    num_frames,
    signal_level_db,
    stft_filter,
    time_constant_to_alpha,
)

SR = 48000
RMS_ALPHA = time_constant_to_alpha(0.002, SR)  # 2 ms RMS detector, known to every model


@dataclass(frozen=True)
class Setting:
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    makeup_db: float


SETTINGS = {
    "FF-A": Setting(-20.0, 4.0, 2.0, 150.0, 6.0),
    "FF-B": Setting(-16.0, 3.0, 20.0, 20.0, 3.0),
    "FF-C": Setting(-24.0, 8.0, 0.5, 400.0, 9.0),
}


def render(x: torch.Tensor, s: Setting) -> torch.Tensor:
    return feedforward_compressor(
        x[None],
        s.threshold_db,
        s.ratio,
        time_constant_to_alpha(s.attack_ms / 1000, SR),
        time_constant_to_alpha(s.release_ms / 1000, SR),
        s.makeup_db,
        RMS_ALPHA,
    )[0]


class CompressorModel(torch.nn.Module):
    """Learnable threshold (10 dB units), ratio (through the compression slope
    ``1 - 1/R = sigmoid(slope)``, on which the static curve depends linearly), log attack/release (ms),
    make-up (10 dB units). ``single``: one time constant (attack = release)."""

    def __init__(self, single: bool):
        super().__init__()
        self.single = single
        self.threshold = torch.nn.Parameter(torch.tensor(-3.0))  # -30 dB
        self.slope = torch.nn.Parameter(torch.tensor(0.0))  # 1 - 1/R = sigmoid(slope): ratio 2
        self.log_attack = torch.nn.Parameter(torch.tensor(math.log(10.0)))
        self.log_release = torch.nn.Parameter(torch.tensor(math.log(50.0)))
        self.makeup = torch.nn.Parameter(torch.tensor(0.0))
        if single:
            self.log_release.requires_grad_(False)

    def values(self) -> Dict[str, torch.Tensor]:
        at = torch.exp(self.log_attack)
        return {
            "threshold_db": 10 * self.threshold,
            "ratio": 1 / (1 - torch.sigmoid(self.slope)),
            "attack_ms": at,
            "release_ms": at if self.single else torch.exp(self.log_release),
            "makeup_db": 10 * self.makeup,
        }

    def forward(self, x: torch.Tensor, infer: str, n_fft: int, hop: int) -> torch.Tensor:
        return x * self.gain(x, infer, n_fft, hop)

    def gain(self, x: torch.Tensor, infer: str, n_fft: int, hop: int) -> torch.Tensor:
        """Linear gain applied to ``x (T,)``, make-up included, shape `(T,)`."""
        v = self.values()
        a_at = time_constant_to_alpha(v["attack_ms"] / 1000, SR)
        a_rt = time_constant_to_alpha(v["release_ms"] / 1000, SR)
        makeup = torch.pow(10.0, v["makeup_db"] / 20)
        if infer == "TD":
            g = attack_release_smoothing(self._target(x, v), a_at, a_rt)
        else:  # FS: one-pole LTI smoother alpha / (1 - (1 - alpha) z^-1) on (f - 1), state 1
            # (time-invariant, so one response serves every frame: frequency_sampling_iir with
            # the same (b, a) in every frame gives the same result, computing it F times)
            f = self._target(x, v)
            H = frequency_response(a_at.reshape(1, 1, 1), (a_at - 1).reshape(1, 1, 1), n_fft)
            g = 1 + stft_filter(f - 1, H.expand(1, num_frames(f.shape[1], hop), -1), n_fft, hop, "hann")
        return (g * makeup)[0]

    @staticmethod
    def _target(x: torch.Tensor, v: Dict[str, torch.Tensor]) -> torch.Tensor:
        level = signal_level_db(x[None], RMS_ALPHA)
        return torch.pow(10.0, compressor_static_gain(level, v["threshold_db"], v["ratio"]) / 20)


def fit(single: bool, x, y, steps: int, show: bool, desc: str, n_fft: int, hop: int) -> CompressorModel:
    model = CompressorModel(single).to(device=x.device, dtype=x.dtype)
    infer = "FS" if single else "TD"
    params = [p for p in model.parameters() if p.requires_grad]
    C.train(params, lambda: C.esr(model(x, infer, n_fft, hop), y), steps, 0.1, desc, show)
    return model


def main() -> None:
    ap = C.parser(__doc__)
    ap.add_argument("--fs-nfft", type=int, default=8192, help="FS model: FFT size (default 8192)")
    ap.add_argument("--fs-hop", type=int, default=2048, help="FS model: hop (default 2048)")
    args = ap.parse_args()
    C.seed_everything(args.seed)
    device = C.device_for(args.device, args.quick)
    show = not args.no_progress
    if args.quick:
        seconds_train, seconds_test, steps = 1.0, 1.0, args.steps or 500
    else:
        seconds_train, seconds_test, steps = 30.0, 10.0, args.steps or 1000
    seconds_train = args.seconds or seconds_train
    sw = C.Stopwatch()
    Ttr, Tte = int(seconds_train * SR), int(seconds_test * SR)
    gen = torch.Generator().manual_seed(args.seed)
    x_all = 2.0 * C.music_like(Ttr + Tte, SR, gen, bpm=240.0)  # 8 notes per second: many level changes
    rows: List[Dict[str, object]] = []
    learned: Dict[str, Dict[str, Dict[str, float]]] = {}
    esr_table: Dict[str, Dict[str, float]] = {}
    curves = {}
    dt = torch.float32
    for name, s in SETTINGS.items():
        # each clip is compressed from a fresh state (as the models start from one)
        xtr, xte = x_all[:Ttr], x_all[Ttr:]
        ytr, yte = render(xtr, s), render(xte, s)
        xtr, ytr, xte, yte = (v.to(device, dt) for v in (xtr, ytr, xte, yte))
        td = fit(False, xtr, ytr, steps, show, f"{name} TD", args.fs_nfft, args.fs_hop)
        fs = fit(True, xtr, ytr, steps, show, f"{name} FS", args.fs_nfft, args.fs_hop)
        with torch.no_grad():
            results = {
                ("TD", "TD"): float(C.esr(td(xte, "TD", 0, 0), yte)),
                ("FS", "FS"): float(C.esr(fs(xte, "FS", args.fs_nfft, args.fs_hop), yte)),
                ("FS", "TD"): float(C.esr(fs(xte, "TD", 0, 0), yte)),
            }
            learned[name] = {
                m: {k: float(v) for k, v in model.values().items()} for m, model in (("TD", td), ("FS", fs))
            }
            curves[name] = (td, fs)
        for (tr, inf), e in results.items():
            rows.append(
                {
                    "train": tr,
                    "infer": inf,
                    "metric": "esr",
                    "value": e,
                    "dataset": name,
                    "params": learned[name][tr],
                    "true_params": asdict(s),
                }
            )
        esr_table[name] = {f"{tr}/{inf}": e for (tr, inf), e in results.items()}
        if name == "FF-A":
            with torch.no_grad():
                pred = td(xte, "TD", 0, 0)
            args.out.mkdir(parents=True, exist_ok=True)
            peak = float(max(xte.abs().max(), yte.abs().max(), pred.abs().max()))
            C.write_wav(args.out / "input.wav", xte, SR, peak)
            C.write_wav(args.out / "target.wav", yte, SR, peak)
            C.write_wav(args.out / "prediction_td.wav", pred, SR, peak)
            with torch.no_grad():
                C.write_wav(args.out / "prediction_fs.wav", fs(xte, "FS", args.fs_nfft, args.fs_hop), SR, peak)
    _plot(args.out / "modulation.png", x_all[Ttr:].to(device, dt), curves)
    names = list(SETTINGS)
    t5 = C.markdown_table(
        ["Method (train / infer)"] + names,
        [
            [label] + [100 * esr_table[n][key] for n in names]
            for label, key in (
                ("FS (one time constant) / FS", "FS/FS"),
                ("FS (one time constant) / TD", "FS/TD"),
                ("∇FF (TD) / TD", "TD/TD"),
            )
        ],
    )
    t6_rows = []
    for n in names:
        s = SETTINGS[n]
        t6_rows.append(("true", n, s.ratio, s.threshold_db, s.attack_ms, s.release_ms, s.makeup_db))
        for m in ("FS", "TD"):
            v = learned[n][m]
            t6_rows.append(
                (
                    "FS" if m == "FS" else "∇FF",
                    n,
                    v["ratio"],
                    v["threshold_db"],
                    v["attack_ms"],
                    "(= attack)" if m == "FS" else v["release_ms"],
                    v["makeup_db"],
                )
            )
    t6 = C.markdown_table(["Method", "Data", "R", "CT (dB)", "Attack (ms)", "Release (ms)", "Make-up (dB)"], t6_rows)
    text = (
        "ESR (%) on held-out audio (Table 5 layout):\n\n" + t5 + "\n\nLearned parameters (Table 6 layout; "
        f"RMS detector fixed at {1000 * alpha_to_time_constant(RMS_ALPHA, SR):.1f} ms):\n\n" + t6
    )
    meta = {
        "mode": "quick" if args.quick else "full",
        "device": device.type,
        "backend": tritonlpc.backend_for(xtr),
        "train_s": seconds_train,
        "test_s": seconds_test,
        "steps": steps,
        "fs_nfft": args.fs_nfft,
        "fs_hop": args.fs_hop,
        "seed": args.seed,
        "wall_s": round(sw(), 1),
    }
    C.write_results(args.out, "Feed-forward compressor (Tables 5-6 layout)", rows, text, meta)
    print(text)
    print(f"wrote {args.out} in {sw():.1f} s")


def _plot(path, x, curves) -> None:
    plt = C.pyplot()

    fig, axes = plt.subplots(len(curves), 1, figsize=(7, 2.2 * len(curves)), dpi=80, sharex=True)
    T = x.shape[0]
    t = torch.arange(T) / SR
    for ax, (name, (td, fs)) in zip(axes, curves.items()):
        s = SETTINGS[name]
        with torch.no_grad():
            g_true = compressor_gain(
                x[None].double(),
                s.threshold_db,
                s.ratio,
                time_constant_to_alpha(s.attack_ms / 1000, SR),
                time_constant_to_alpha(s.release_ms / 1000, SR),
                RMS_ALPHA,
            )[0] * 10 ** (s.makeup_db / 20)
            gain = {
                label: m.gain(x, "TD", 0, 0).cpu()
                for label, m in (("learned ∇FF (TD)", td), ("learned FS (one τ), TD infer", fs))
            }
        g_true = g_true.cpu()
        ax.plot(t, 20 * torch.log10(g_true.abs().clamp(min=1e-4)), "k", lw=2.5, label="true")
        for i, (label, gcurve) in enumerate(gain.items()):
            ax.plot(
                t,
                20 * torch.log10(gcurve.abs().clamp(min=1e-4)),
                f"C{i}",
                lw=1,
                ls="--" if i == 0 else ":",
                label=label,
            )
        ax.set_ylabel("gain (dB)")
        ax.set_title(f"{name}: attack {s.attack_ms} ms, release {s.release_ms} ms", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    axes[-1].set_xlabel("time (s)")
    C.save_figure(fig, path)


if __name__ == "__main__":
    main()
