"""Interleaved A/B timing of ``sample_wise_lpc``: a git revision against the working tree, in one process.

On a shared machine the load changes from second to second, so two separate benchmark runs
are not comparable at the 10 % level. Here the base revision's package is exported (``git
archive``) under another name (``tritonlpc_<rev>``, its custom-op namespace renamed too), both
are imported into this process, and the calls alternate: A, B, A, B, ... in blocks of
``--calls`` calls; each side's time per call is the median over ``--rounds`` blocks. torchlpc
0.7.2 (when installed) is timed in the same rotation. The 1-minute load average is printed
with every shape.

Usage (from the repository root)::

    python bench/ab.py --base main                              # the CPU matrix, float32
    python bench/ab.py --base main --shape 8x1024x2 --direction fwd --rounds 15
    python bench/ab.py --base main --op sosfilt                 # tritonlpc.signal forward, with scipy

``--op sosfilt`` / ``lfilter``: ``tritonlpc.signal``'s forward, or forward and backward
(``--direction``; a Butterworth cascade of 4 sections / order 4) at ``--shape BxT`` (default 8x65536 and 1x1048576), float64 and float32,
scipy.signal's forward timed in the same rotation; min and median over the blocks.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import subprocess
import sys
import tempfile
import time
from itertools import product
from pathlib import Path
from statistics import median
from typing import Callable, Dict, List, Tuple

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import lpcbench as lb  # noqa: E402

SHAPES = ["8x1024x2", "8x4096x2", "8x16384x2", "1x65536x2", "8x65536x2", "64x16384x2", "4x65536x8", "4x65536x1"]


def export_base(rev: str, dest: Path) -> str:
    """Export ``rev``'s ``tritonlpc`` package as ``tritonlpc_<rev>`` under ``dest``; returns the module name."""
    name = "tritonlpc_" + re.sub(r"\W", "_", rev)
    out = subprocess.run(["git", "-C", str(ROOT), "archive", rev, "tritonlpc"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=out, check=True)
    (dest / "tritonlpc").rename(dest / name)
    for f in (dest / name).rglob("*.py"):
        f.write_text(re.sub(r"\btritonlpc\b", name, f.read_text()))
    return name


def make_call(fn: Callable, sets: List[lb.InputSet], direction: str) -> Callable[[], None]:
    """One call per invocation, rotating over the input sets (as the benchmark suite does)."""
    i = [0]
    if direction == "fwd":

        def call() -> None:
            s = sets[i[0] % len(sets)]
            i[0] += 1
            with torch.no_grad():
                fn(s.x, s.a)
    else:
        leaves = [(s.x.clone().requires_grad_(), s.a.clone().requires_grad_(), s.g) for s in sets]

        def call() -> None:
            x, a, g = leaves[i[0] % len(leaves)]
            i[0] += 1
            y = fn(x, a)
            torch.autograd.grad(y, (x, a), g.view(y.shape))

    return call


def time_block(call: Callable[[], None], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        call()
    return (time.perf_counter() - t0) / n


def interleaved(calls: Dict[str, Callable[[], object]], args: argparse.Namespace) -> Dict[str, List[float]]:
    """Seconds a call of each of ``calls`` (``"new"`` among them) in ``args.rounds`` alternating
    blocks of ``args.calls`` calls (or as many as fill ``args.budget``), after a warm-up; which
    side goes first rotates from round to round (with a fixed order, identical code measured up
    to 7 % slower on the side that ran second at small calls)."""
    for c in calls.values():  # warm-up: JIT, caches
        c()
        c()
    n = args.calls or max(1, int(args.budget / max(time_block(calls["new"], 3), 1e-7)))
    times: Dict[str, List[float]] = {k: [] for k in calls}
    keys = list(calls)
    for r in range(args.rounds):  # the order rotates each round: no side always runs first
        for k in keys[r % len(keys) :] + keys[: r % len(keys)]:
            times[k].append(time_block(calls[k], n))
    return times


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="main", help="git revision to compare against (default: main)")
    p.add_argument("--shape", action="append", help="BxTxM (repeatable; default: the CPU matrix)")
    p.add_argument("--direction", choices=("fwd", "fwd+bwd", "both"), default="both")
    p.add_argument("--rounds", type=int, default=11, help="alternating blocks per side")
    p.add_argument("--budget", type=float, default=0.05, help="seconds per block (sets --calls when absent)")
    p.add_argument("--calls", type=int, help="calls per block")
    p.add_argument("--no-torchlpc", action="store_true")
    p.add_argument("--op", choices=("lpc", "sosfilt", "lfilter"), default="lpc", help="what to time (default: lpc)")
    args = p.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="tritonlpc-ab-"))
    sys.path.insert(0, str(tmp))
    base = importlib.import_module(export_base(args.base, tmp))
    import tritonlpc as new  # noqa: PLC0415

    if args.op != "lpc":
        signal_ab(args, base, new)
        return

    def tritonlpc_call(mod):  # as the benchmark suite calls it (lpcbench.TritonLPC)
        def forward(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
            with mod.use_backend("numba"):
                return mod.sample_wise_lpc(x, a)

        return forward

    impls: Dict[str, Callable] = {f"base({args.base})": tritonlpc_call(base), "new": tritonlpc_call(new)}
    if not args.no_torchlpc:
        try:
            impls["torchlpc"] = lb.TorchLPC("cpu").forward
        except Exception as exc:  # noqa: BLE001
            print(f"torchlpc skipped: {exc}")
    print(f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    print(f"{'shape':>12} {'dir':>7} " + " ".join(f"{k:>16}" for k in impls) + "   new/base  new vs torchlpc  load")
    for shape in args.shape or SHAPES:
        B, T, M = map(int, shape.split("x"))
        for direction in directions(args):
            case = lb.Case("cpu", B, T, M, "float32", direction, "tritonlpc")
            sets = lb.make_input_sets(case, 4)
            calls = {k: make_call(f, sets, direction) for k, f in impls.items()}
            times = interleaved(calls, args)
            med = {k: median(v) for k, v in times.items()}
            ratio = med[f"base({args.base})"] / med["new"]
            vs = f"{med['torchlpc'] / med['new']:.2f}x" if "torchlpc" in med else "-"
            cells = " ".join(f"{med[k] * 1e6:13.1f} us" for k in calls)
            print(f"{shape:>12} {direction:>7} {cells}   {ratio:7.2f}x  {vs:>14}  {os.getloadavg()[0]:.2f}", flush=True)


def directions(args: argparse.Namespace) -> List[str]:
    return ["fwd", "fwd+bwd"] if args.direction == "both" else [args.direction]


def signal_call(
    fn: Callable, mod, coefs: Tuple[torch.Tensor, ...], x: torch.Tensor, direction: str
) -> Callable[[], None]:  # type: ignore[no-untyped-def]
    """``fn(mod, coefs, x)`` timed as the forward, or forward and backward (gradients of ``x``
    and the coefficients from a fixed output gradient)."""
    if direction == "fwd":
        return lambda: fn(mod, coefs, x)
    gy = torch.randn(x.shape, dtype=x.dtype, generator=torch.Generator().manual_seed(1))
    ins = [t.detach().requires_grad_() for t in (*coefs, x)]

    def call() -> None:
        torch.autograd.grad(fn(mod, ins[:-1], ins[-1]), ins, gy)

    return call


def signal_ab(args: argparse.Namespace, base, new) -> None:  # type: ignore[no-untyped-def]
    """``--op sosfilt`` / ``lfilter``: base, new and scipy.signal's forward, interleaved."""
    import scipy.signal as ss  # noqa: PLC0415

    print(
        f"{'shape':>12} {'dir':>7} {'dtype':>8} "
        + " ".join(f"{k:>22}" for k in ("base", "new", "scipy"))
        + "  new/base  scipy/new (median)  load"
    )
    for shape, direction in product(args.shape or ["8x65536", "1x1048576"], directions(args)):
        B, T = map(int, shape.split("x"))
        for dtype in (torch.float64, torch.float32):
            x = torch.randn(B, T, dtype=dtype, generator=torch.Generator().manual_seed(0))
            b, a = (torch.tensor(v, dtype=dtype) for v in ss.butter(4, 0.1))
            sos = torch.tensor(ss.butter(8, 0.1, output="sos"), dtype=dtype)
            xn, bn, an, sn = (t.numpy() for t in (x, b, a, sos))
            if args.op == "sosfilt":
                coefs, fn = (sos,), lambda m, c, v: m.signal.sosfilt(*c, v)
                ref: Callable[[], object] = lambda sn=sn, xn=xn: ss.sosfilt(sn, xn)  # noqa: E731
            else:
                coefs, fn = (b, a), lambda m, c, v: m.signal.lfilter(*c, v)
                ref = lambda bn=bn, an=an, xn=xn: ss.lfilter(bn, an, xn)  # noqa: E731
            calls = {m: signal_call(fn, m, coefs, x, direction) for m in (base, new)}
            times = interleaved({"base": calls[base], "new": calls[new], "scipy": ref}, args)
            med = {k: median(v) for k, v in times.items()}
            cells = " ".join(f"{min(v) * 1e3:8.3f} / {med[k] * 1e3:8.3f} ms" for k, v in times.items())
            print(
                f"{shape:>12} {direction:>7} {str(dtype)[6:]:>8} {cells}  {med['base'] / med['new']:7.2f}x  "
                f"{med['scipy'] / med['new']:7.2f}x  {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
