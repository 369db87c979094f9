#!/usr/bin/env python
"""Turn a pytest-benchmark results JSON into a markdown report and PNG plots.

Usage::

    python bench/report.py bench/results/<device>/                 # the newest saved run there
    python bench/report.py cpu --readme bench/README.md             # this machine's CPU results
    python bench/report.py path/to/0001_cpu.json --out DIR          # a given file
    python bench/report.py bench/results/<device>/ --readme bench/README.md   # also update README
    python bench/report.py bench/results/<gpu>/bench.json --environment bench/results/<gpu>/environment.json
                                                                   # a GPU session's run, with its target table

Writes ``report.md``, ``time_vs_T.png``, ``speedup.png`` (and ``training.png`` when the run
has training results) to ``--out`` (default: ``bench/results/<device>/``, the directory named by
the results' ``device_slug``). Every number comes from the JSON: times are the medians
pytest-benchmark recorded; speed-ups (torchlpc median / median) and % of copy (copy median /
median, the copy moving the same ``min_bytes``) are computed here from rows of the same run.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import OrderedDict, defaultdict
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"

IMPL_ORDER = ["tritonlpc", "torchlpc", "accelerated-scan", "accelerated-scan-warp", "torch-loop", "copy"]
IMPL_COLORS = {
    "tritonlpc": "#d62728",
    "torchlpc": "#1f77b4",
    "accelerated-scan": "#2ca02c",
    "accelerated-scan-warp": "#17becf",
    "torch-loop": "#9467bd",
    "copy": "#7f7f7f",
}
BASELINE = "torchlpc"


# ----------------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------------
def find_json(path: Path) -> Path:
    """A JSON file, or the newest saved run under a directory (highest NNNN_ counter, then mtime)."""
    if path.is_file():
        return path
    files = [p for p in path.rglob("*.json") if re.match(r"^\d{4}_", p.name)] or list(path.rglob("*.json"))
    if not files:
        raise SystemExit(f"no results JSON under {path}")
    return max(files, key=lambda p: (p.name[:4], p.stat().st_mtime))


class Row:
    def __init__(self, bench: dict):
        info = bench.get("extra_info", {})
        self.info = info
        self.kind: str = info.get("kind", "")
        self.impl: str = info.get("impl", "?")
        self.device_type = "cuda" if (bench.get("param") or "").startswith("cuda") else "cpu"
        self.B, self.T, self.M = int(info.get("B", 0)), int(info.get("T", 0)), int(info.get("M", 0))
        self.dtype: str = info.get("dtype", "")
        self.direction: str = info.get("direction", "")
        self.min_bytes = int(info.get("min_bytes", 0) or 0)
        stats = bench["stats"]
        self.median: float = float(stats["median"])
        self.iqr: float = float(stats.get("iqr", 0.0))
        self.rounds: int = int(stats.get("rounds", 0))
        self.peak = info.get("peak_mem_bytes")

    @property
    def shape_key(self) -> Tuple:
        return (self.B, self.T, self.M, self.dtype, self.direction)

    @property
    def shape_label(self) -> str:
        return f"{self.B}×{fmt_pow2(self.T)}×{self.M} {self.dtype}"


def load(path: Path) -> Tuple[dict, List[Row]]:
    data = json.loads(path.read_text())
    rows = [Row(b) for b in data.get("benchmarks", []) if b.get("extra_info", {}).get("kind") in ("filter", "training")]
    return data, rows


# ----------------------------------------------------------------------------------------------
# Formatting
# ----------------------------------------------------------------------------------------------
def fmt_pow2(n: int) -> str:
    if n > 0 and n & (n - 1) == 0 and n >= 1024:
        return f"2^{n.bit_length() - 1}"
    return str(n)


def fmt_time(s: float) -> str:
    if s >= 1:
        return f"{s:.2f} s"
    if s >= 1e-3:
        return f"{s * 1e3:.3g} ms"
    return f"{s * 1e6:.3g} µs"


def _num(x: float) -> str:
    if x >= 100:
        return f"{x:.0f}"
    if x >= 10:
        return f"{x:.1f}"
    if x >= 0.1:
        return f"{x:.2f}"
    return f"{x:.2g}"


def fmt_x(x: Optional[float]) -> str:
    return "—" if x is None else _num(x) + "×"


def fmt_pct(x: Optional[float]) -> str:
    return "—" if x is None else _num(x) + "%"


def fmt_mib(b: Optional[float]) -> str:
    return "—" if b is None else f"{b / 2**20:,.0f} MiB"


def impls_present(rows: Sequence[Row]) -> List[str]:
    seen = {r.impl for r in rows}
    return [i for i in IMPL_ORDER if i in seen] + sorted(seen - set(IMPL_ORDER))


# ----------------------------------------------------------------------------------------------
# Tables
# ----------------------------------------------------------------------------------------------
def filter_table(rows: Sequence[Row]) -> Tuple[str, str]:
    """(compact table, detailed table) for the filter matrix."""
    by_shape: OrderedDict[Tuple, Dict[str, Row]] = OrderedDict()
    for r in rows:
        by_shape.setdefault(r.shape_key, {})[r.impl] = r
    impls = impls_present(rows)
    dirs = ["fwd", "fwd+bwd"]
    order = list(dict.fromkeys(k[:4] for k in by_shape))  # shapes in run order, then direction
    keys = sorted(by_shape, key=lambda k: (order.index(k[:4]), dirs.index(k[4]) if k[4] in dirs else 9))

    head = ["shape (B×T×M dtype)", "direction"] + impls
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    detail = [
        "| shape | direction | impl | median | IQR | rounds | GB/s | speed-up vs torchlpc | % of copy |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for key in keys:
        cell = by_shape[key]
        base = cell.get(BASELINE)
        copy = cell.get("copy")
        any_row = next(iter(cell.values()))
        cols = [any_row.shape_label, key[4]]
        for impl in impls:
            r = cell.get(impl)
            if r is None:
                cols.append("—")
                continue
            sp = base.median / r.median if base else None
            pct = copy.median / r.median * 100 if copy else r.info.get("pct_of_copy")
            gbps = r.min_bytes / r.median / 1e9 if r.min_bytes else None
            if impl == "copy":
                cols.append(f"{fmt_time(r.median)} ({gbps:.3g} GB/s)" if gbps else fmt_time(r.median))
            else:
                cols.append(f"{fmt_time(r.median)} ({fmt_x(sp)}, {fmt_pct(pct)})")
            detail.append(
                f"| {r.shape_label} | {key[4]} | {impl} | {fmt_time(r.median)} | {fmt_time(r.iqr)} | {r.rounds} | "
                f"{gbps:.3g} | {fmt_x(sp)} | {fmt_pct(pct)} |"
                if gbps
                else f"| {r.shape_label} | {key[4]} | {impl} | {fmt_time(r.median)} | {fmt_time(r.iqr)} | {r.rounds} | — | {fmt_x(sp)} | {fmt_pct(pct)} |"
            )
        lines.append("| " + " | ".join(cols) + " |")
    return "\n".join(lines), "\n".join(detail)


def training_table(rows: Sequence[Row]) -> str:
    by_T: Dict[int, Dict[str, Row]] = defaultdict(dict)
    for r in rows:
        by_T[r.T][r.impl] = r
    lines = [
        "| T | impl | step time (median) | speed-up vs torchlpc | peak memory of the step | memory vs torchlpc |",
        "|---|---|---|---|---|---|",
    ]
    for T in sorted(by_T):
        base = by_T[T].get(BASELINE)
        for impl in impls_present(list(by_T[T].values())):
            r = by_T[T][impl]
            sp = base.median / r.median if base else None
            mem = f"{r.peak / base.peak:.2f}×" if (base and r.peak and base.peak) else "—"
            lines.append(f"| {fmt_pow2(T)} | {impl} | {fmt_time(r.median)} | {fmt_x(sp)} | {fmt_mib(r.peak)} | {mem} |")
    return "\n".join(lines)


# ----------------------------------------------------------------------------------------------
# GPU targets (issue 20: same run, float32) and planner variants
# ----------------------------------------------------------------------------------------------
# fwd+bwd speed-up over torchlpc wanted at the target shapes (B, T, M); everywhere else that
# torchlpc runs: never slower (1x).
TARGET_SPEEDUP: Dict[Tuple[int, int, int], float] = {(1, 2**20, 2): 100.0, (8, 2**18, 2): 30.0, (1024, 2**14, 2): 1.5}
# % of the copy bandwidth (minimum bytes) wanted in float32, by direction and schedule
TARGET_PCT: Dict[Tuple[str, str], float] = {
    ("fwd", "single"): 80.0,
    ("fwd", "three-phase"): 50.0,
    ("fwd+bwd", "single"): 60.0,
    ("fwd+bwd", "three-phase"): 40.0,
}
Schedules = Dict[Tuple[int, int, int, str], str]


def schedules_from_environment(env: dict) -> Schedules:
    """``(B, T, M, dtype) -> schedule`` from a GPU session's ``environment.json`` (its ``planner`` list)."""
    out: Schedules = {}
    for p in env.get("planner", []):
        plan = p.get("plan") or {}
        if "schedule" in plan:
            out[(int(p["B"]), int(p["T"]), int(p["M"]), str(p["dtype"]))] = str(plan["schedule"])
    return out


def target_rows(rows: Sequence[Row], schedules: Schedules) -> List[dict]:
    """Each (shape, direction) with a tritonlpc filter result, checked against the targets.

    Keys: ``shape``, ``key`` (B, T, M, dtype, direction), ``schedule``, ``median``, ``speedup``
    (torchlpc median / median, None without torchlpc), ``want_speedup``, ``pct`` (copy median /
    median * 100), ``want_pct`` (None outside float32 or without a known schedule), ``miss``
    (list of what missed; empty when every target with a measurement is met), ``target_shape``.
    """
    cells: OrderedDict[Tuple, Dict[str, Row]] = OrderedDict()
    for row in rows:
        if row.kind == "filter":
            cells.setdefault(row.shape_key, {})[row.impl] = row
    out = []
    for key, cell in cells.items():
        if "tritonlpc" not in cell:
            continue
        r = cell["tritonlpc"]
        B, T, M, dtype, direction = key
        base, copy = cell.get(BASELINE), cell.get("copy")
        sp = base.median / r.median if base else None
        pct = copy.median / r.median * 100 if copy else r.info.get("pct_of_copy")
        target_shape = (B, T, M) in TARGET_SPEEDUP and dtype == "float32"
        want_sp = TARGET_SPEEDUP[(B, T, M)] if (target_shape and direction == "fwd+bwd") else 1.0
        sched = schedules.get((B, T, M, dtype))
        want_pct = TARGET_PCT.get((direction, sched or "")) if dtype == "float32" else None
        miss = []
        if sp is not None and sp < want_sp:
            miss.append(f"speed-up {sp:.3g}× < {want_sp:g}×")
        if want_pct is not None and pct is not None and pct < want_pct:
            miss.append(f"{pct:.3g}% of copy < {want_pct:g}%")
        out.append(
            dict(
                shape=r.shape_label,
                key=key,
                schedule=sched,
                median=r.median,
                speedup=sp,
                want_speedup=want_sp,
                pct=pct,
                want_pct=want_pct,
                miss=miss,
                target_shape=target_shape,
            )
        )
    # the target shapes first, then the run's order
    return sorted(out, key=lambda d: not d["target_shape"])


def target_table(rows: Sequence[Row], schedules: Schedules) -> str:
    """Markdown table of :func:`target_rows`: ratio to torchlpc and % of copy against the targets."""
    lines = [
        "| shape (B×T×M dtype) | direction | schedule | tritonlpc | vs torchlpc (target) | % of copy (target) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in target_rows(rows, schedules):
        want_pct = f" (≥ {d['want_pct']:g}%)" if d["want_pct"] is not None else ""
        verdict = (
            "miss: " + "; ".join(d["miss"]) if d["miss"] else ("met" if d["speedup"] is not None else "no torchlpc")
        )
        lines.append(
            f"| {d['shape']}{' **target**' if d['target_shape'] else ''} | {d['key'][4]} | {d['schedule'] or '?'} | "
            f"{fmt_time(d['median'])} | {fmt_x(d['speedup'])} (≥ {d['want_speedup']:g}×) | "
            f"{fmt_pct(d['pct'])}{want_pct} | {verdict} |"
        )
    return "\n".join(lines)


def variant_table(data: dict) -> str:
    """Markdown table of the planner-variant results (``extra_info.kind == "variant"``) in a results JSON."""
    lines = [
        "| shape (B×T×M dtype) | direction | variant | plan | median | vs default | % of copy | max rel. diff vs default |",
        "|---|---|---|---|---|---|---|---|",
    ]
    rows = [b for b in data.get("benchmarks", []) if b.get("extra_info", {}).get("kind") == "variant"]
    default: Dict[Tuple, float] = {}
    for b in rows:
        i = b["extra_info"]
        if i.get("variant") == "default":
            default[(i["B"], i["T"], i["M"], i["dtype"], i["direction"])] = float(b["stats"]["median"])
    for b in rows:
        i = b["extra_info"]
        med = float(b["stats"]["median"])
        base = default.get((i["B"], i["T"], i["M"], i["dtype"], i["direction"]))
        plan = i.get("plan") or {}
        plan_s = ", ".join(
            f"{k}={plan[k]}" for k in ("schedule", "block_t", "steps", "num_warps", "lanes", "chunk_len") if k in plan
        )
        diff = i.get("max_rel_diff_vs_default")
        lines.append(
            f"| {i['B']}×{fmt_pow2(int(i['T']))}×{i['M']} {i['dtype']} | {i['direction']} | {i.get('variant', '?')} | {plan_s} | "
            f"{fmt_time(med)} | {fmt_x(base / med if base else None)} | {fmt_pct(i.get('pct_of_copy'))} | "
            f"{'—' if diff is None else f'{diff:.2g}'} |"
        )
    return "\n".join(lines) if rows else "(no planner-variant results)"


def signal_table(data: dict) -> str:
    """Markdown table of the ``tritonlpc.signal`` results (``extra_info.kind == "signal"``): each
    tritonlpc row against scipy.signal (forward, CPU) or the time-varying path (forward + backward)
    at the same shape, in the same run, and on CUDA against its ``-onepass`` twin (the one-pass
    kernels where the plan chose the time-parallel schedule)."""
    rows = [b for b in data.get("benchmarks", []) if b.get("extra_info", {}).get("kind") == "signal"]
    med = {}
    for b in rows:
        i = b["extra_info"]
        med[(i["backend"], i["B"], i["T"], i["op"], i["dtype"], i["direction"], i["impl"])] = float(
            b["stats"]["median"]
        )
    lines = ["| op | shape (B×T dtype) | direction | impl | median | speed-up vs |", "|---|---|---|---|---|---|"]
    for (backend, B, T, op, dt, d, impl), m in med.items():
        if impl not in ("tritonlpc", "time-invariant"):
            continue
        other = "scipy" if d == "fwd" else "time-varying"
        base = med.get((backend, B, T, op, dt, d, other))
        vs = f"{fmt_x(base / m)} {other}" if base else "—"
        twin = med.get((backend, B, T, op, dt, d, f"{impl}-onepass"))  # CUDA: the one-pass kernels forced
        vs += f"; {fmt_x(twin / m)} one-pass" if twin else ""
        lines.append(f"| {op} | {B}×{fmt_pow2(int(T))} {dt} | {d} | {impl} ({backend}) | {fmt_time(m)} | {vs} |")
    return "\n".join(lines) if rows else "(no signal results)"


# ----------------------------------------------------------------------------------------------
# Plots
# ----------------------------------------------------------------------------------------------
def _plt():
    import matplotlib  # noqa: PLC0415

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h"]


def plot_time_vs_T(rows: Sequence[Row], out: Path, title: str) -> None:
    plt = _plt()
    dirs = [d for d in ("fwd", "fwd+bwd") if any(r.direction == d for r in rows)]
    groups = sorted({(r.B, r.M, r.dtype) for r in rows})
    marker = {g: MARKERS[i % len(MARKERS)] for i, g in enumerate(groups)}
    fig, axes = plt.subplots(1, len(dirs), figsize=(6.5 * len(dirs), 4.8), squeeze=False)
    for ax, d in zip(axes[0], dirs):
        for impl in impls_present(rows):
            for g in groups:
                pts = sorted(
                    (r.T, r.median) for r in rows if r.direction == d and r.impl == impl and (r.B, r.M, r.dtype) == g
                )
                if not pts:
                    continue
                xs, ys = zip(*pts)
                ax.plot(
                    xs,
                    ys,
                    marker=marker[g],
                    color=IMPL_COLORS.get(impl, "k"),
                    linestyle="-" if len(pts) > 1 else "none",
                    markersize=6,
                    alpha=0.9,
                )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("T (samples)")
        ax.set_ylabel("median time per call (s)")
        ax.set_title(d)
        ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D  # noqa: PLC0415

    impl_handles = [Line2D([], [], color=IMPL_COLORS.get(i, "k"), lw=2, label=i) for i in impls_present(rows)]
    group_handles = [
        Line2D([], [], color="k", marker=marker[g], ls="none", label=f"B={g[0]} M={g[1]} {g[2]}") for g in groups
    ]
    axes[0][-1].legend(handles=impl_handles + group_handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_speedup(rows: Sequence[Row], out: Path, title: str) -> None:
    plt = _plt()
    dirs = [d for d in ("fwd", "fwd+bwd") if any(r.direction == d for r in rows)]
    impls = [i for i in impls_present(rows) if i != BASELINE]
    fig, axes = plt.subplots(
        len(dirs), 1, figsize=(max(8, 1.1 * len({r.shape_key[:4] for r in rows}) + 3), 3.8 * len(dirs)), squeeze=False
    )
    for ax, d in zip(axes[:, 0], dirs):
        cells: OrderedDict[Tuple, Dict[str, Row]] = OrderedDict()
        for r in rows:
            if r.direction == d:
                cells.setdefault(r.shape_key, {})[r.impl] = r
        keys = [k for k in cells if BASELINE in cells[k]]
        width = 0.8 / max(1, len(impls))
        for j, impl in enumerate(impls):
            xs, ys = [], []
            for i, k in enumerate(keys):
                if impl in cells[k]:
                    xs.append(i + (j - (len(impls) - 1) / 2) * width)
                    ys.append(cells[k][BASELINE].median / cells[k][impl].median)
            if xs:
                # bars start at 1 (= torchlpc): up when faster, down when slower
                ax.bar(
                    xs,
                    [y - 1 for y in ys],
                    bottom=1,
                    width=width,
                    color=IMPL_COLORS.get(impl, "k"),
                    label=impl,
                    hatch="//" if impl == "copy" else None,
                    alpha=0.6 if impl == "copy" else 0.95,
                )
                for x, y in zip(xs, ys):
                    ax.text(x, y, f"{y:.2g}", ha="center", va="bottom" if y >= 1 else "top", fontsize=7)
        ax.axhline(1.0, color=IMPL_COLORS[BASELINE], lw=1, ls="--")
        ax.set_yscale("log")
        ax.set_xticks(range(len(keys)))
        ax.set_xticklabels([cells[k][BASELINE].shape_label.replace(" ", "\n") for k in keys], fontsize=8)
        ax.set_ylabel("speed-up vs torchlpc (×)")
        ax.set_title(f"{d}: torchlpc median / median (dashed: torchlpc; hatched copy: bandwidth ceiling)", fontsize=9)
        ax.grid(True, axis="y", which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def plot_training(rows: Sequence[Row], out: Path, title: str) -> None:
    plt = _plt()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for impl in impls_present(rows):
        pts = sorted((r.T, r.median, r.peak) for r in rows if r.impl == impl)
        xs = [p[0] for p in pts]
        a1.plot(xs, [p[1] for p in pts], marker="o", color=IMPL_COLORS.get(impl, "k"), label=impl)
        mem = [(p[0], p[2] / 2**20) for p in pts if p[2]]
        if mem:
            a2.plot(*zip(*mem), marker="o", color=IMPL_COLORS.get(impl, "k"), label=impl)
    for ax, lab in ((a1, "optimiser step time (s, median)"), (a2, "peak memory of the step (MiB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("T (samples)")
        ax.set_ylabel(lab)
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------
def build(json_path: Path, out_dir: Optional[Path], environment: Optional[Path] = None) -> Tuple[str, Path]:
    """Write the report of ``json_path``; with a GPU session's ``environment`` (its
    ``environment.json``: the planner's schedule of every shape) also the target table."""
    data, rows = load(json_path)
    if not rows:
        raise SystemExit(f"{json_path}: no tritonlpc benchmark results in it")
    first = rows[0].info
    slug = first.get("device_slug", "unknown")
    out = out_dir or (RESULTS_DIR / slug)
    out.mkdir(parents=True, exist_ok=True)
    device = first.get("device", "?")
    filt = [r for r in rows if r.kind == "filter"]
    train = [r for r in rows if r.kind == "training"]
    commit = data.get("commit_info", {})
    machine = data.get("machine_info", {})
    loads = [float(r.info["loadavg_1min"]) for r in rows if "loadavg_1min" in r.info]
    timing = (
        "CUDA events (median of back-to-back calls after warm-up)"
        if first.get("timing") == "cuda-events"
        else "pytest-benchmark's timer (median)"
    )
    try:
        rel = json_path.resolve().relative_to(BENCH_DIR.parent)
    except ValueError:
        rel = json_path
    title = f"tritonlpc benchmarks on {device}"
    md = [
        f"### {title}",
        "",
        f"- results: `{rel}` ({data.get('datetime', '?')[:19]} UTC), commit `{str(commit.get('id', '?'))[:12]}`"
        f"{' (uncommitted changes)' if commit.get('dirty') else ''}",
        f"- device: {device}; torch threads {first.get('torch_threads', '?')}"
        + (f", numba threads {first['numba_threads']}" if "numba_threads" in first else "")
        + f"; python {machine.get('python_version', '?')}",
        f"- timing: {timing}; inputs rotated over distinct sets larger than the last-level cache",
    ]
    if loads:
        md.append(f"- 1-minute load average during the run: {min(loads):.2f} to {max(loads):.2f}")
    if any(r.info.get("quick") for r in rows):
        md.append("- **quick (smoke-test) run: tiny shapes, timings not meaningful**")
    if filt:
        compact, detail = filter_table(filt)
        plot_time_vs_T(filt, out / "time_vs_T.png", title)
        has_base = any(r.impl == BASELINE for r in filt)
        if has_base:
            plot_speedup(filt, out / "speedup.png", title)
        md += [
            "",
            "Each cell: median time per call (speed-up vs torchlpc = torchlpc median / median, "
            "% of copy = copy median / median, the copy moving the same minimum bytes). "
            "copy column: the bandwidth ceiling, with its GB/s of minimum bytes.",
            "",
            compact,
            "",
            "![time vs T](time_vs_T.png)",
            "![speed-up vs torchlpc](speedup.png)" if has_base else "(no torchlpc results in this run: no speed-ups)",
            "",
            "<details><summary>All rows</summary>",
            "",
            detail,
            "",
            "</details>",
        ]
    if filt and environment is not None:
        schedules = schedules_from_environment(json.loads(environment.read_text()))
        md += [
            "",
            "#### Targets (float32, same run; schedule from the planner in the run's environment.json)",
            "",
            target_table(filt, schedules),
        ]
    if any(b.get("extra_info", {}).get("kind") == "variant" for b in data.get("benchmarks", [])):
        md += ["", "#### Planner variants (backend called directly, same run)", "", variant_table(data)]
    if any(b.get("extra_info", {}).get("kind") == "signal" for b in data.get("benchmarks", [])):
        md += ["", "#### tritonlpc.signal (same run)", "", signal_table(data)]
    if train:
        plot_training(train, out / "training.png", title + ": training step")
        t0 = train[0].info
        md += [
            "",
            f"#### Training step: {t0.get('sections', '?')}-section cascade of time-varying biquads, B={t0.get('B', '?')}, "
            "zero_grad + forward + backward + Adam step",
            "",
            f"Peak memory: rise above the memory in use before the step ({t0.get('peak_mem_method', '?')}).",
            "",
            training_table(train),
            "",
            "![training step](training.png)",
        ]
    text = "\n".join(md) + "\n"
    (out / "report.md").write_text(text)
    return text, out


def relink(text: str, prefix: str) -> str:
    """Point the report's image links (relative to report.md) at ``prefix``."""
    return re.sub(r"\]\(([\w.-]+\.png)\)", lambda m: f"]({prefix}{m.group(1)})", text)


def update_readme(readme: Path, slug: str, text: str) -> None:
    begin, end = f"<!-- report:{slug} -->", f"<!-- /report:{slug} -->"
    src = readme.read_text() if readme.exists() else ""
    block = f"{begin}\n{text}{end}"
    if begin in src and end in src:
        src = src[: src.index(begin)] + block + src[src.index(end) + len(end) :]
    else:
        anchor = "<!-- reports -->"
        if anchor in src:
            src = src.replace(anchor, anchor + "\n\n" + block, 1)
        else:
            src = src.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(src)


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument(
        "path",
        type=Path,
        help="results JSON, a directory (its newest saved run), or 'cpu'/'cuda' "
        "(this machine's bench/results/<device>/)",
    )
    p.add_argument("--out", type=Path, help="output directory (default: bench/results/<device>/)")
    p.add_argument(
        "--environment",
        type=Path,
        help="a GPU session's environment.json (bench/gpu_session.py): adds the target table (schedules from its planner)",
    )
    p.add_argument(
        "--readme", type=Path, help="also put the report between <!-- report:<device> --> markers in this file"
    )
    args = p.parse_args(argv)
    path = args.path
    if str(path) in ("cpu", "cuda") and not path.exists():  # shorthand: this machine's device directory
        sys.path.insert(0, str(BENCH_DIR))
        import lpcbench  # noqa: PLC0415

        path = RESULTS_DIR / lpcbench.device_slug(str(path))
    json_path = find_json(path)
    text, out = build(json_path, args.out, args.environment)
    print(f"report: {out / 'report.md'} (from {json_path})")
    if args.readme:
        slug = load(json_path)[1][0].info.get("device_slug", "unknown")
        try:  # image links relative to the README
            prefix = str(out.resolve().relative_to(args.readme.resolve().parent)) + "/"
        except ValueError:
            prefix = str(out.resolve()) + "/"
        update_readme(args.readme, slug, relink(text, prefix))
        print(f"updated {args.readme}")


if __name__ == "__main__":
    main(sys.argv[1:])
