"""Feedback delay network: fit an FDN's feedback matrix and gains to a target impulse response,
time domain (TD) vs frequency sampling (FS), on synthetic data.

Ground truth: ``tritonlpc.audio.feedback_delay_network`` with N = 4 lines (mutually prime
delays), a feedback matrix ``0.93 Q`` (``Q`` a random orthogonal matrix: a lossy, dense
mixing) and random input/output gains; the target is its impulse response ``h`` over ``T``
samples. Model: the same delays, with a learnable matrix ``A`` and gains ``b``, ``c``, started
from a perturbed copy of the truth, trained either

* TD: the exact recursion (``feedback_delay_network`` on an impulse; gradients by its
  reverse-walk backward), loss ESR over all ``T`` samples, or
* FS: the transfer function ``H(w) = c^T D(w) (I - A D(w))^-1 b`` (``D = diag(e^{-j w m})``)
  sampled on an ``n_fft``-point grid, the impulse response taken as its inverse FFT: the
  time-aliased response (``sum_k h[n + k n_fft]``), loss ESR against the target's first
  ``n_fft`` samples, with ``n_fft`` shorter than the response's decay,

and both trained models are evaluated with TD and FS inference (ESR of the impulse response).

    python examples/fdn.py --quick --out /tmp/fdn     # CPU, seconds
    python examples/fdn.py --out runs/fdn             # longer responses, more steps
"""

from __future__ import annotations

import math
from typing import Dict, List, Sequence

import torch

import _common as C
from tritonlpc.audio import feedback_delay_network

DELAYS_QUICK = (23, 29, 31, 37)
DELAYS_FULL = (149, 211, 263, 293)


def impulse_response(T: int, delays: Sequence[int], A, b, c) -> torch.Tensor:
    """TD: the FDN driven by a unit impulse, shape (T,)."""
    x = torch.zeros(1, T, dtype=torch.float64)
    x[0, 0] = 1.0
    y = feedback_delay_network(x, delays, A, b, c)
    assert isinstance(y, torch.Tensor)
    return y[0]


def fs_response(n_fft: int, delays: Sequence[int], A, b, c) -> torch.Tensor:
    """FS: the inverse FFT of the transfer function sampled on n_fft points (time-aliased), (n_fft,)."""
    w = torch.arange(n_fft // 2 + 1, dtype=torch.float64) * (2 * math.pi / n_fft)
    m = torch.tensor(delays, dtype=torch.float64)
    D = torch.exp(-1j * w[:, None] * m[None, :])  # (K, N)
    eye = torch.eye(len(delays), dtype=torch.complex128)
    M = eye - A.to(torch.complex128)[None] * D[:, None, :]  # I - A D
    s = torch.linalg.solve(M, b.to(torch.complex128)[None].expand(len(w), -1))  # (K, N)
    H = (c.to(torch.complex128)[None] * D * s).sum(-1)
    return torch.fft.irfft(H, n_fft)


class FDN(torch.nn.Module):
    def __init__(self, A: torch.Tensor, b: torch.Tensor, c: torch.Tensor) -> None:
        super().__init__()
        self.A, self.b, self.c = (torch.nn.Parameter(t.clone()) for t in (A, b, c))

    def response(self, mode: str, T: int, n_fft: int, delays: Sequence[int]) -> torch.Tensor:
        if mode == "TD":
            return impulse_response(T, delays, self.A, self.b, self.c)
        return fs_response(n_fft, delays, self.A, self.b, self.c)


def main() -> None:
    ap = C.parser(__doc__.splitlines()[0])
    args = ap.parse_args()
    quick = args.quick
    sr = 16000
    delays = DELAYS_QUICK if quick else DELAYS_FULL
    T = int((args.seconds or (0.15 if quick else 1.0)) * sr)
    n_fft = 1024 if quick else 4096
    steps = args.steps or (150 if quick else 600)
    C.seed_everything(args.seed)
    clock = C.Stopwatch()
    gen = torch.Generator().manual_seed(args.seed)
    N = len(delays)
    Q, _ = torch.linalg.qr(torch.randn(N, N, generator=gen, dtype=torch.float64))
    truth: Dict[str, torch.Tensor] = dict(
        A=0.93 * Q,
        b=1 + 0.3 * torch.randn(N, generator=gen, dtype=torch.float64),
        c=1 + 0.3 * torch.randn(N, generator=gen, dtype=torch.float64),
    )
    with torch.no_grad():
        h = impulse_response(T, delays, **truth)
    start = {k: v + 0.05 * torch.randn(v.shape, generator=gen, dtype=torch.float64) for k, v in truth.items()}
    with torch.no_grad():
        esr_start = float(C.esr(impulse_response(T, delays, **start), h))

    rows: List[C.Row] = []
    models: Dict[str, FDN] = {}
    for mode in ("TD", "FS"):
        model = FDN(start["A"], start["b"], start["c"])
        target = h if mode == "TD" else h[:n_fft]

        def loss(model: FDN = model, mode: str = mode, target: torch.Tensor = target) -> torch.Tensor:
            return C.esr(model.response(mode, T, n_fft, delays), target)

        C.train(model.parameters(), loss, steps, 0.003, f"{mode} training", not args.no_progress)
        models[mode] = model
        with torch.no_grad():
            err_a = float((model.A - truth["A"]).norm() / truth["A"].norm())
            for infer in ("TD", "FS"):
                pred = model.response(infer, T, n_fft, delays)
                ref = h if infer == "TD" else h[:n_fft]
                rows.append(dict(train=mode, infer=infer, metric="esr", value=float(C.esr(pred, ref)), a_error=err_a))

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    peak = float(h.abs().max())
    impulse = torch.zeros(T, dtype=torch.float64)
    impulse[0] = 1
    C.write_wav(out / "input.wav", impulse, sr)
    C.write_wav(out / "target.wav", h, sr, peak)
    with torch.no_grad():
        preds = {m: models[m].response("TD", T, n_fft, delays) for m in ("TD", "FS")}
    for m, p in preds.items():
        C.write_wav(out / f"prediction_{m.lower()}.wav", p, sr, peak)
    plt = C.pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    t = torch.arange(T) / sr
    for name, r in [("target", h), *(("trained " + m, preds[m]) for m in ("TD", "FS"))]:
        env = 20 * torch.log10(torch.nn.functional.avg_pool1d(r[None, None].square(), 64, 16)[0, 0].sqrt() + 1e-9)
        ax.plot(t[: env.numel() * 16 : 16], env, label=name)
    ax.axvline(n_fft / sr, color="k", lw=0.5, ls=":")
    ax.set(xlabel="time (s)", ylabel="RMS (dB)", title="FDN impulse response (TD inference); dotted: n_fft")
    ax.legend()
    C.save_figure(fig, out / "response.png")
    table = C.markdown_table(
        ["train", "infer", "ESR", "relative error of A"],
        [[r["train"], r["infer"], r["value"], r["a_error"]] for r in rows],
    )
    meta = dict(quick=quick, sr=sr, T=T, n_fft=n_fft, delays=list(delays), steps=steps, esr_start=round(esr_start, 4))
    meta["wall_s"] = round(clock(), 1)
    C.write_results(out, "FDN: TD vs FS fitting of an impulse response", rows, table, meta)
    print((out / "results.md").read_text())


if __name__ == "__main__":
    main()
