#!/usr/bin/env python
"""One command for a lent GPU: environment, torchlpc's CUDA build, GPU tests, the benchmark
matrix, correctness at scale and a summary, each step within its share of a time budget.

Usage (from the repository root; see bench/README.md, "A GPU session")::

    python bench/gpu_session.py --out DIR --budget SECONDS [--dry-run] [--commit HASH]

Steps (each a subprocess with a deadline; a step that finishes early leaves its time to the
later ones, a step cut at its deadline is interrupted (SIGINT, so pytest still writes its
JSON) and the session goes on):

1. ``environment``: ``DIR/environment.json``: ``nvidia-smi -q``, nvcc, torch / triton / numba /
   CUDA versions, the device (SM count, memory, L2), the git commit, and the planner's choice
   for every benchmark shape.
2. ``torchlpc-build``: torchlpc 0.7.2's CUDA extension built from its sdist
   (``bench/peers/torchlpc-0.7.2.tar.gz``, git-ignored, travels with the working tree; fetch it
   with :data:`FETCH_COMMAND`) with ``pip install --no-build-isolation --no-deps --no-index
   --target`` into a scratch directory, in the background while the tests run; log in
   ``DIR/torchlpc-build.log``. Without it the benchmarks run without the torchlpc columns and
   the summary says so.
3. ``tests``: the CUDA-only tests, then the rest of the suite on CUDA (Numba-only, packaging and
   static-compile tests left out) while its share lasts: ``DIR/tests.log``.
4. ``bench-*``: the benchmark matrix on CUDA in priority order (target shapes, the rest of the
   matrix, the training step, planner variants at the shapes that miss a target), torchlpc's
   CUDA kernel and the copy ceiling in the same run: one pytest-benchmark JSON,
   ``DIR/bench.json`` (pytest output in ``DIR/bench.log``).
5. ``correctness``: float32 against float64 at T = 2^20 and 2^24, B*T*M > 2^31, every dtype:
   ``DIR/correctness.json``.
6. ``DIR/summary.md`` (rewritten after every step): what ran, what was cut for time, the target
   table (``bench/report.py``), and the other tables.

Everything the session writes is in ``DIR`` and is at most 8 files (the device tool brings back
at most 8); scratch (the torchlpc install, per-step JSON) goes to a temporary directory. The
exit status is 0 once the outputs are written.

``--dry-run`` runs the same steps on the CPU with tiny shapes: Triton's interpreter for the
variants and the correctness step, the Numba backend in the benchmark suite (its CPU matrix),
and no torchlpc build (the sdist is only found and unpacked). ``tests/test_gpu_session.py``
runs it.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import math
import os
import platform
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
for _p in (str(BENCH_DIR), str(ROOT)):
    if _p not in sys.path:
        sys.path.insert(0, _p)

PEER_SDIST = BENCH_DIR / "peers" / "torchlpc-0.7.2.tar.gz"
FETCH_COMMAND = "pip download --no-deps --no-binary :all: --no-build-isolation torchlpc==0.7.2 -d bench/peers"

# Outputs in DIR (8 files at most: what the device tool brings back).
OUTPUT_FILES = (
    "environment.json",
    "torchlpc-build.log",
    "tests.log",
    "bench.json",
    "bench.log",
    "correctness.json",
    "summary.md",
    "session.log",
)

# Steps and their shares of the budget (the rest is kept for the summary). Deadlines are
# cumulative: a step that ends early leaves its time to the steps after it.
STEPS: Tuple[Tuple[str, float], ...] = (
    ("environment", 0.06),  # CUDA start-up and nvidia-smi take seconds there: 30 s of a 500 s budget
    ("tests", 0.21),
    ("bench-targets", 0.17),
    ("bench-matrix", 0.20),
    ("bench-training", 0.10),
    ("bench-variants", 0.12),
    ("correctness", 0.11),
)

# The target shapes (B, T, M, dtype), benchmarked first.
TARGET_SHAPES = [(1, 2**20, 2, "float32"), (8, 2**18, 2, "float32"), (1024, 2**14, 2, "float32")]
PRIORITY_IMPLS = ("copy", "torchlpc", "tritonlpc")  # the rest of the matrix first with these

# Tests on CUDA: the CUDA-only ones, then these files (their Numba-backend cases deselected).
# Left out: Numba-only files (test_numba_backend, test_concurrency), the examples (CPU),
# packaging and install tests (pip, no network there), the static sm_90 compile (no GPU needed).
CUDA_ONLY_TESTS = [
    "tests/test_triton_backend.py::test_gpu_matrix",
    "tests/test_triton_backend.py::test_gpu_long_signal_float32",
    "tests/test_triton_backend.py::test_gpu_int64_offsets",
    "tests/test_triton_backend.py::test_gpu_stream_and_graph",
    "tests/test_api.py::test_numba_backend_refuses_cuda_tensors",
]
REST_TESTS = [
    "tests/test_triton_backend.py",
    "tests/test_tile_pass_overflow.py",  # a GPU scans tiles as trees: the overflow re-sweep for real
    "tests/test_scaled_maps.py",
    "tests/test_triton_hop.py",
    "tests/test_signal.py",  # the LTI kernels (tritonlpc.signal) on CUDA
    "tests/test_delay.py",
    "tests/test_autograd.py",
    "tests/test_api.py",
    "tests/test_contract.py",
    "tests/test_compile.py",
    "tests/test_audio.py",
    "tests/test_audio_params.py",
    "tests/test_distributed.py",
    "tests/test_testing.py",
    "tests/test_readme.py",
    "tests/test_torchlpc_parity.py",
    "tests/test_torchcomp.py",
    "tests/test_hop.py",
]
REST_DESELECT = "not test_gpu_ and not numba and not sm90"  # sm90: static compiles, no GPU needed
DRY_REST_TESTS = ["tests/test_testing.py", "tests/test_triton_backend.py::test_bad_knobs"]


# ----------------------------------------------------------------------------------------------
# The one place this script reaches into tritonlpc's Triton planning code
# ----------------------------------------------------------------------------------------------
def triton_planning() -> Tuple[Callable[..., Any], Any]:
    """``(plan, backend)``: the Triton planner ``plan(B, T, M, dtype, *, sm_count, interpreted,
    schedule, block_t, steps, chunk_len, lanes) -> Plan`` (a dataclass) and the Triton backend
    object, whose ``forward(x, a, zi, **knobs)`` / ``backward(g, a, y, zi, need_grad_a,
    need_grad_zi, **knobs)`` take the planner's knobs.

    The only access to them in this script.
    """
    from tritonlpc.backends.triton.backend import BACKEND  # noqa: PLC0415
    from tritonlpc.backends.triton.plan import plan  # noqa: PLC0415

    return plan, BACKEND


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------
def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _write_json(path: Path, obj: Any) -> None:
    """Write JSON atomically (a reader never sees half a file, even if the session is killed)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str))
    tmp.replace(path)


def _run_quick(cmd: Sequence[str], timeout: float = 30.0) -> Dict[str, Any]:
    """Run a short command, never raising: ``{"cmd", "rc", "stdout"}`` or ``{"cmd", "error"}``."""
    try:
        p = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)
        return {"cmd": " ".join(cmd), "rc": p.returncode, "stdout": (p.stdout + p.stderr)[-200_000:]}
    except (OSError, subprocess.SubprocessError) as exc:
        return {"cmd": " ".join(cmd), "error": f"{exc.__class__.__name__}: {exc}"}


def git_commit(explicit: Optional[str]) -> Dict[str, Any]:
    """The commit of the working tree: ``git rev-parse`` where ``.git`` exists, else ``--commit``."""
    out: Dict[str, Any] = {"id": explicit, "source": "--commit" if explicit else None}
    rev = _run_quick(["git", "-C", str(ROOT), "rev-parse", "HEAD"], 10)
    if rev.get("rc") == 0:
        head = rev["stdout"].strip()
        out.update(id=head, source="git")
        if explicit and not head.startswith(explicit) and not explicit.startswith(head):
            out["note"] = f"--commit {explicit} differs from git HEAD {head}"
        st = _run_quick(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"], 10)
        if st.get("rc") == 0:
            out["dirty"] = bool(st["stdout"].strip())
    return out


def tree_fingerprint() -> str:
    """sha256 of the package and benchmark sources (what ran, even without .git there)."""
    h = hashlib.sha256()
    for p in sorted(list((ROOT / "tritonlpc").rglob("*.py")) + list(BENCH_DIR.glob("*.py"))):
        h.update(str(p.relative_to(ROOT)).encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def bench_shapes(dry_run: bool) -> List[Tuple[int, int, int, str]]:
    import lpcbench as lb  # noqa: PLC0415

    return lb.shapes_for("cpu" if dry_run else "cuda", dry_run)


def planner_shapes(dry_run: bool) -> List[Tuple[int, int, int, str]]:
    """Every shape the session runs on the GPU: benchmark matrix, training and correctness shapes."""
    import lpcbench as lb  # noqa: PLC0415
    import training as tr  # noqa: PLC0415

    shapes = list(lb.shapes_for("cuda", False)) + [(tr.TRAIN_B, T, 2, "float32") for T in tr.TRAIN_T]
    if dry_run:
        shapes = list(lb.shapes_for("cpu", True)) + shapes
    shapes += [(c["B"], c["T"], c["M"], c["dtype"]) for c in correctness_cases(dry_run)]
    return list(dict.fromkeys(shapes))


# ----------------------------------------------------------------------------------------------
# Step 1: environment (a subprocess: ``_env``)
# ----------------------------------------------------------------------------------------------
def environment(dry_run: bool, commit: Optional[str]) -> Dict[str, Any]:
    """Everything about the machine and the planner that the results depend on."""
    import torch  # noqa: PLC0415

    import lpcbench as lb  # noqa: PLC0415

    env: Dict[str, Any] = {"written": _now(), "dry_run": dry_run}
    env["commit"] = git_commit(commit)
    env["tree_sha256"] = tree_fingerprint()
    env["python"] = sys.version
    env["platform"] = platform.platform()
    env["cpu"] = {"model": lb.cpu_name(), "count": os.cpu_count(), "loadavg": os.getloadavg()}
    env["versions"] = lb.versions()
    env["torch_cuda"] = torch.version.cuda
    env["environment_variables"] = {
        k: os.environ.get(k)
        for k in ("TRITON_INTERPRET", "TRITONLPC_BACKEND", "CUDA_VISIBLE_DEVICES", "CUDA_HOME", "NUMBA_CACHE_DIR")
    }
    smi = shutil.which("nvidia-smi")
    env["nvidia_smi_q"] = _run_quick([smi, "-q"], 30) if smi else "nvidia-smi not found"
    nvcc = _nvcc()
    env["nvcc"] = _run_quick([nvcc, "--version"], 30) if nvcc else "nvcc not found"
    env["cuda_available"] = torch.cuda.is_available()
    sm_count, sm_source = 132, "assumed: an H100/H200 SXM (no CUDA device here)"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        sm_count, sm_source = props.multi_processor_count, "torch.cuda.get_device_properties(0)"
        env["device"] = {
            "name": props.name,
            "slug": lb.device_slug("cuda"),
            "capability": f"{props.major}.{props.minor}",
            "sm_count": props.multi_processor_count,
            "total_memory": props.total_memory,
            "l2_cache_size": getattr(props, "L2_cache_size", None),
            "count": torch.cuda.device_count(),
        }
    else:
        env["device"] = {"name": lb.cpu_name(), "slug": lb.device_slug("cpu"), "cuda": False}
    env["sm_count"] = sm_count
    env["sm_count_source"] = sm_source
    plan, _ = triton_planning()
    choices = []
    for B, T, M, dtype in planner_shapes(dry_run):
        entry: Dict[str, Any] = {"B": B, "T": T, "M": M, "dtype": dtype}
        try:
            entry["plan"] = dataclasses.asdict(
                plan(B, T, M, lb.DTYPES.get(dtype) or getattr(torch, dtype), sm_count=sm_count)
            )
        except Exception as exc:  # a planner change must not lose the environment
            entry["error"] = f"{exc.__class__.__name__}: {exc}"
        choices.append(entry)
    env["planner"] = choices
    return env


def _nvcc() -> Optional[str]:
    found = shutil.which("nvcc")
    if found:
        return found
    for home in (os.environ.get("CUDA_HOME"), "/usr/local/cuda"):
        if home and (Path(home) / "bin" / "nvcc").exists():
            return str(Path(home) / "bin" / "nvcc")
    return None


# ----------------------------------------------------------------------------------------------
# Step 2: torchlpc's CUDA extension from its sdist
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class BuildResult:
    status: str  # "ok" | "failed" | "skipped" | "missing"
    detail: str
    site: Optional[str] = None  # the --target directory to put on PYTHONPATH when "ok"
    seconds: float = 0.0


def inspect_sdist(sdist: Path, dest: Path) -> Tuple[bool, str]:
    """Unpack ``sdist`` into ``dest`` and check it is torchlpc 0.7.2 with its CUDA sources."""
    try:
        with tarfile.open(sdist) as tf:
            names = tf.getnames()
            if any(n.startswith("/") or ".." in Path(n).parts for n in names):
                return False, f"{sdist}: unsafe member paths"
            tf.extractall(dest)  # noqa: S202 (checked above)
    except (OSError, tarfile.TarError) as exc:
        return False, f"{sdist} is not a readable sdist ({exc.__class__.__name__}: {exc})"
    setups = sorted(dest.glob("*/setup.py"))
    if not setups:
        return False, f"{sdist}: no setup.py at its top level"
    src = setups[0].parent
    cu = sorted(str(p.relative_to(src)) for p in src.rglob("*.cu"))
    text = setups[0].read_text(errors="replace")
    if 'VERSION = "0.7.2"' not in text:
        return False, f"{sdist}: setup.py is not torchlpc 0.7.2's"
    if not cu:
        return False, f"{sdist}: no CUDA sources (*.cu)"
    return True, f"unpacked {sdist.name}: {src.name}, CUDA sources {', '.join(cu)}"


def _kill_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def run_with_deadline(
    cmd: Sequence[str], *, deadline: float, log: Path, env: Dict[str, str], cwd: Path = ROOT, grace: float = 10.0
) -> Tuple[Optional[int], bool]:
    """Run ``cmd`` (its own process group), output appended to ``log``, until ``deadline``
    (``time.monotonic()``); then SIGINT (pytest then still writes its JSON), after ``grace``
    seconds SIGKILL. Returns ``(returncode, cut)``."""
    with open(log, "ab") as fh:
        fh.write(f"\n$ {' '.join(cmd)}\n".encode())
        fh.flush()
        proc = subprocess.Popen(
            list(cmd), cwd=cwd, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return proc.wait(timeout=max(0.0, deadline - time.monotonic())), False
        except subprocess.TimeoutExpired:
            _kill_group(proc, signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                _kill_group(proc, signal.SIGKILL)
                proc.wait()
            fh.write(f"\n[gpu_session] cut at its deadline: {' '.join(cmd[:4])} ...\n".encode())
            return proc.returncode, True
        finally:
            if proc.poll() is None:  # an exception in between: never leave it running
                _kill_group(proc, signal.SIGKILL)
                proc.wait()


def build_torchlpc(
    sdist: Path,
    work: Path,
    log: Path,
    timeout: float,
    *,
    dry_run: bool = False,
    need_cuda: bool = True,
    python: str = sys.executable,
) -> BuildResult:
    """Build and install torchlpc from ``sdist`` into ``work/site`` (never raises).

    Finds and unpacks the sdist; unless ``dry_run``, checks the CUDA toolchain (``need_cuda``:
    a CUDA device and nvcc), runs ``pip install --no-build-isolation --no-deps --no-index
    --target`` (killed after ``timeout`` seconds) and checks that the installed extension has
    a CUDA kernel. Everything goes to ``log``.
    """
    t0 = time.monotonic()
    log.parent.mkdir(parents=True, exist_ok=True)

    def done(status: str, detail: str, site: Optional[str] = None) -> BuildResult:
        with open(log, "a") as fh:
            fh.write(f"[gpu_session] torchlpc build: {status}: {detail}\n")
        return BuildResult(status, detail, site, round(time.monotonic() - t0, 1))

    with open(log, "a") as fh:
        fh.write(f"[gpu_session] {_now()} torchlpc 0.7.2 from {sdist}\n")
    if not sdist.exists():
        return done("missing", f"{sdist} not found; fetch it on a machine with internet: {FETCH_COMMAND}")
    ok, msg = inspect_sdist(sdist, work / "unpacked")
    with open(log, "a") as fh:
        fh.write(msg + "\n")
    if not ok:
        return done("failed", msg)
    if dry_run:
        return done("skipped", "dry run: sdist found and unpacked, no build")
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    if need_cuda:
        probe = _run_quick(
            [python, "-c", "import torch; p = torch.cuda.get_device_properties(0); print(f'{p.major}.{p.minor}')"], 120
        )
        nvcc = _nvcc()
        if probe.get("rc") != 0 or not nvcc:
            why = "no CUDA device" if probe.get("rc") != 0 else "nvcc not found"
            return done("skipped", f"{why}: torchlpc's CUDA extension cannot be built here")
        env["TORCH_CUDA_ARCH_LIST"] = probe["stdout"].strip().splitlines()[-1]  # this GPU only: a shorter build
        env.setdefault("CUDA_HOME", str(Path(nvcc).resolve().parent.parent))
    env["MAX_JOBS"] = str(os.cpu_count() or 4)
    site = work / "site"
    cmd = [python, "-m", "pip", "install", "-v", "--no-build-isolation", "--no-deps", "--no-index", "--no-cache-dir"]
    cmd += ["--target", str(site), str(sdist)]
    rc, cut = run_with_deadline(cmd, deadline=time.monotonic() + timeout, log=log, env=env, grace=5.0)
    if cut:
        return done("failed", f"pip install did not finish within {timeout:.0f} s (killed)")
    if rc != 0:
        return done("failed", f"pip install exited with {rc} (see the log)")
    check = (
        "import torch, torchlpc; print(torchlpc.__file__, bool(getattr(torchlpc, 'EXTENSION_LOADED', False)), "
        "torch._C._dispatch_has_kernel_for_dispatch_key('torchlpc::lpc', 'CUDA'))"
    )
    env["PYTHONPATH"] = os.pathsep.join([str(site), env.get("PYTHONPATH", "")])
    try:
        p = subprocess.run([python, "-c", check], capture_output=True, text=True, timeout=120, env=env, cwd=work)
        out = (p.stdout + p.stderr).strip()
    except subprocess.SubprocessError as exc:
        return done("failed", f"import check failed: {exc}")
    with open(log, "a") as fh:
        fh.write(f"[gpu_session] import check: {out}\n")
    fields = out.splitlines()[-1].split() if p.returncode == 0 and out else []
    if len(fields) != 3 or not fields[0].startswith(str(site)):
        return done("failed", f"the installed torchlpc does not import from {site}: {out[-300:]}")
    if fields[1] != "True":
        return done("failed", "torchlpc imports without its extension (EXTENSION_LOADED is False)")
    if need_cuda and fields[2] != "True":
        return done("failed", "the extension has no CUDA kernel (built without CUDA)")
    return done("ok", f"installed into {site}", str(site))


# ----------------------------------------------------------------------------------------------
# Step 4: benchmark selections (pytest node ids, in priority order)
# ----------------------------------------------------------------------------------------------
def bench_selection(dry_run: bool) -> Dict[str, List[str]]:
    """Node ids of ``bench-targets``, ``bench-matrix`` (with ``tritonlpc.signal``'s benchmarks)
    and ``bench-training``, in priority order."""
    import lpcbench as lb  # noqa: PLC0415
    import training as tr  # noqa: PLC0415

    device = "cpu" if dry_run else "cuda"
    cases = [c for c in lb.all_cases(dry_run) if c.device == device]
    targets = [lb.CPU_QUICK[0]] if dry_run else TARGET_SHAPES
    node = lambda c: f"bench/test_lpc.py::test_lpc[{c.id}]"  # noqa: E731
    in_targets = [c for c in cases if (c.B, c.T, c.M, c.dtype) in targets]
    in_targets.sort(key=lambda c: targets.index((c.B, c.T, c.M, c.dtype)))  # the order
    rest = [c for c in cases if c not in in_targets]
    rest = [c for c in rest if c.impl in PRIORITY_IMPLS] + [c for c in rest if c.impl not in PRIORITY_IMPLS]
    train = [
        f"bench/test_training.py::test_training_step[{device}-train-B{tr.TRAIN_B}-T{T}-{impl}]"
        for T in (tr.QUICK_T if dry_run else tr.TRAIN_T)
        for impl in (("tritonlpc",) if dry_run else tr.IMPLS)  # dry run: one child process less
    ]
    # tritonlpc.signal (issue 23's GPU figures): after the matrix's priority implementations; the
    # dry run takes one scipy row (no kernel compile) to prove the ids
    sig = [
        f"bench/test_signal.py::test_signal[{i}]"
        for i, _ in lb.signal_cases(device, dry_run)
        if not dry_run or i.endswith("lfilter-B2-T1024-float64-fwd-scipy")
    ]
    n_first = sum(c.impl in PRIORITY_IMPLS for c in rest)
    return {
        "bench-targets": [node(c) for c in in_targets],
        "bench-matrix": [node(c) for c in rest[:n_first]] + sig + [node(c) for c in rest[n_first:]],
        "bench-training": train,
    }


def merge_bench(dest: Path, part: Path, commit: Dict[str, Any]) -> int:
    """Append ``part``'s benchmarks (pytest-benchmark JSON) to ``dest``; returns how many."""
    try:
        new = json.loads(part.read_text())
    except (OSError, ValueError):
        return 0
    if dest.exists():
        data = json.loads(dest.read_text())
        data["benchmarks"].extend(new.get("benchmarks", []))
    else:
        data = new
        if not (data.get("commit_info") or {}).get("id") and commit.get("id"):  # no .git on the device
            data["commit_info"] = {"id": commit["id"], "dirty": commit.get("dirty"), "source": commit.get("source")}
    _write_json(dest, data)
    return len(new.get("benchmarks", []))


# ----------------------------------------------------------------------------------------------
# Step 4 (last part): planner variants (a subprocess: ``_variants``)
# ----------------------------------------------------------------------------------------------
def variant_knobs(M: int, dtype: str, default_plan: Any, dry_run: bool) -> List[Tuple[str, Dict[str, Any]]]:
    """``(label, knobs)`` of the planner variants tried at a shape, the default first: both
    schedules, and for the tile path (M <= 4) twice / half the samples a thread (steps) and
    the rows (threads) a tile (block_t = steps * rows; the planner caps the warps at its table's,
    so the plan recorded with each result says what ran; the interpreter: one tile of 8 rows), for
    the walk path other lane counts and chunk lengths."""
    out: List[Tuple[str, Dict[str, Any]]] = [("default", {})]
    for sched in ("single", "three-phase"):
        out.append((f"schedule={sched}", {"schedule": sched}))
    if default_plan.path == "tile":
        s0 = default_plan.steps
        r0 = max(1, default_plan.block_t // s0)  # rows (threads) of the default tile
        if dry_run:  # the interpreter: one other geometry is enough to exercise the path
            geoms = [(2, 8)]
        else:
            geoms = [(2 * s0, r0), (s0 // 2, r0), (s0, 2 * r0), (s0, r0 // 2), (2 * s0, 2 * r0)]
        for steps, rows in geoms:
            if not (1 <= steps <= 8 and rows >= 1):
                continue
            for sched in ("single", "three-phase"):
                label = f"{sched} steps={steps} block_t={steps * rows}"
                out.append((label, {"schedule": sched, "steps": steps, "block_t": steps * rows}))
    else:
        for lanes in (8, 16, 32) if not dry_run else (16,):
            out.append((f"three-phase lanes={lanes}", {"schedule": "three-phase", "lanes": lanes}))
        for chunk in (256, 1024) if not dry_run else (16,):
            out.append((f"three-phase chunk_len={chunk}", {"schedule": "three-phase", "chunk_len": chunk}))
    seen, unique = set(), []
    for label, knobs in out:
        key = tuple(sorted(knobs.items()))
        if key not in seen:
            seen.add(key)
            unique.append((label, knobs))
    return unique


def run_variants(shapes: List[List[Any]], out: Path, dry_run: bool, deadline_epoch: float) -> None:
    """Time the planner variants at ``shapes`` ([B, T, M, dtype, direction]); rewrites ``out``
    (pytest-benchmark-like entries, ``extra_info.kind == "variant"``) after every variant."""
    import statistics  # noqa: PLC0415

    import torch  # noqa: PLC0415

    import lpcbench as lb  # noqa: PLC0415

    plan, backend = triton_planning()
    device = "cpu" if dry_run else "cuda"
    sm = 132 if dry_run else torch.cuda.get_device_properties(0).multi_processor_count
    name = lb.device_name(device)
    results: List[Dict[str, Any]] = []
    for B, T, M, dtype, direction in shapes:
        if time.time() > deadline_epoch:
            break
        case = lb.Case(device, B, T, M, dtype, direction, "tritonlpc")
        n_sets = 2 if dry_run else lb.n_sets_for(device, lb.set_bytes(case))
        sets = lb.make_input_sets(case, n_sets)
        nbytes = lb.min_bytes(B, T, M, dtype, direction)
        copy_call, _ = lb.make_copy_call(device, nbytes, 2 if dry_run else None)
        timer = _variant_timer(dry_run)
        copy_med = statistics.median(timer(copy_call))
        tdt = lb.DTYPES[dtype]
        default_plan = plan(B, T, M, tdt, sm_count=sm, interpreted=dry_run)
        reference = None
        for label, knobs in variant_knobs(M, dtype, default_plan, dry_run):
            if time.time() > deadline_epoch:
                break
            entry_info: Dict[str, Any] = dict(
                kind="variant", impl="tritonlpc", backend="triton", variant=label, knobs=knobs, device=name,
                B=B, T=T, M=M, dtype=dtype, direction=direction, min_bytes=nbytes, n_sets=n_sets,
            )  # fmt: skip
            try:
                entry_info["plan"] = dataclasses.asdict(plan(B, T, M, tdt, sm_count=sm, interpreted=dry_run, **knobs))
                call, first = _variant_call(backend, sets, direction, knobs)
                y = first()
                if reference is None:
                    reference = y
                else:
                    from tritonlpc.testing import rel_error  # noqa: PLC0415

                    entry_info["max_rel_diff_vs_default"] = rel_error(y, reference)
                times = timer(call)
            except Exception as exc:
                entry_info["error"] = f"{exc.__class__.__name__}: {str(exc)[:300]}"
                print(f"variant {case.id} {label}: {entry_info['error']}", flush=True)
                continue
            med = statistics.median(times)
            q = statistics.quantiles(times, n=4) if len(times) > 1 else [med, med, med]
            entry_info.update(median_s=med, gbps=nbytes / med / 1e9, pct_of_copy=100 * copy_med / med)
            results.append(
                {
                    "name": f"variant[{case.id}-{label}]",
                    "group": f"{case.group} variants",
                    "param": f"{case.id}-{label}",
                    "stats": {
                        "median": med,
                        "iqr": q[2] - q[0],
                        "rounds": len(times),
                        "min": min(times),
                        "max": max(times),
                        "mean": statistics.fmean(times),
                    },
                    "extra_info": entry_info,
                }
            )
            print(
                f"variant {case.id} {label}: {med * 1e6:.1f} us, {entry_info['pct_of_copy']:.1f}% of copy", flush=True
            )
            _write_json(out, {"benchmarks": results})
    _write_json(out, {"benchmarks": results})


def _variant_timer(dry_run: bool) -> Callable[[Callable[[], None]], List[float]]:
    import lpcbench as lb  # noqa: PLC0415

    if dry_run:  # one timed call (the interpreter: seconds a call; the harness is what is rehearsed)

        def once(call: Callable[[], None]) -> List[float]:
            t0 = time.perf_counter()
            call()
            return [time.perf_counter() - t0]

        return once
    return lambda call: lb.cuda_event_times(call, max_time=0.2, min_rounds=10, max_rounds=500)


def _variant_call(
    backend: Any, sets: Sequence[Any], direction: str, knobs: Dict[str, Any]
) -> Tuple[Callable, Callable]:
    """(timed call rotating over the input sets, one call returning its output in float64)."""
    import torch  # noqa: PLC0415

    state = [0]
    zis = [s.x.new_zeros(s.a.shape[0], s.a.shape[2]) for s in sets]

    def once(i: int) -> torch.Tensor:
        s, zi = sets[i], zis[i]
        y = backend.forward(s.x, s.a, zi, **knobs)
        if direction == "fwd":
            return y
        gx, ga, _ = backend.backward(s.g, s.a, y, zi, True, False, **knobs)
        return torch.cat([gx.reshape(-1), ga.reshape(-1)])

    def call() -> None:
        state[0] = (state[0] + 1) % len(sets)
        once(state[0])

    def first() -> torch.Tensor:
        out = once(0)
        wide = torch.complex128 if out.is_complex() else torch.float64
        return out.detach().cpu().to(wide)

    return call, first


# ----------------------------------------------------------------------------------------------
# Step 5: correctness at scale (a subprocess: ``_correctness``)
# ----------------------------------------------------------------------------------------------
DRY_VARIANT_T = 32
ALL_DTYPES = ("float32", "float64", "complex64", "complex128", "bfloat16", "float16")


def correctness_cases(dry_run: bool) -> List[Dict[str, Any]]:
    """The cases of step 5: float32 at long T, every dtype, and B*T*M > 2^31 (GPU only)."""
    cases: List[Dict[str, Any]] = []
    if dry_run:  # the interpreter walks tiles in Python: tiny shapes, M = 5 (walk) where it can
        cases.append(dict(name="float32 T=32 M=2", B=2, T=32, M=2, dtype="float32", rows=None))
        for d in ALL_DTYPES:
            cases.append(dict(name=f"{d} T=64 M=5", B=2, T=64, M=5, dtype=d, rows=None))
        return cases
    for M in (1, 2, 4, 8):
        cases.append(dict(name=f"float32 T=2^20 M={M}", B=2, T=2**20, M=M, dtype="float32", rows=None))
    for M in (2, 8):
        cases.append(dict(name=f"float32 T=2^24 M={M}", B=1, T=2**24, M=M, dtype="float32", rows=None))
    for d in ALL_DTYPES:
        cases.append(dict(name=f"{d} T=2^18 M=2", B=4, T=2**18, M=2, dtype=d, rows=None))
    # int64 offsets: B*T*M = 2^31 + 1024 elements of a; rows 0 and B-1 checked (the last row's
    # offsets are past 2^31)
    cases.append(
        dict(name="int64 offsets: float32 B*T*M > 2^31", B=64, T=2**24 + 8, M=2, dtype="float32", rows=[0, 63])
    )
    return cases


def _errors(got: Any, ref: Any) -> Dict[str, float]:
    import torch  # noqa: PLC0415

    from tritonlpc.testing import rel_error  # noqa: PLC0415

    g = got.detach().cpu().to(ref.dtype)
    finite = bool(torch.isfinite(torch.view_as_real(g) if g.is_complex() else g).all())
    rel_l2 = ((g - ref).norm() / ref.norm().clamp_min(1e-300)).item()
    return {"rel_l2": rel_l2, "rel_max": rel_error(g, ref), "finite": finite}


def run_correctness(out: Path, dry_run: bool, deadline_epoch: float) -> None:
    """Each case: the public API on the Triton backend (forward and ``autograd.grad`` of x, a,
    zi) against the Numba backend in float64 / complex128 on the CPU on the same (rounded)
    inputs; errors (relative L2 and ``tritonlpc.testing.rel_error``) into ``out``."""
    import torch  # noqa: PLC0415

    import tritonlpc  # noqa: PLC0415
    from tritonlpc.testing import TOL, stable_coefficients  # noqa: PLC0415

    device = "cpu" if dry_run else "cuda"
    report: Dict[str, Any] = {
        "dry_run": dry_run,
        "device": torch.cuda.get_device_name(0) if not dry_run else "cpu (Triton interpreter)",
        "reference": "tritonlpc's Numba backend in float64/complex128 on the CPU, same rounded inputs",
        "errors": "rel_l2 = |got - ref|_2 / |ref|_2; rel_max = max|got - ref| / max(max|ref|, 1) (tritonlpc.testing.rel_error)",
        "cases": [],
        "skipped": [],
    }
    if dry_run:
        report["skipped"].append("int64 offsets (B*T*M > 2^31): GPU only (about 32 GiB)")
    for case in correctness_cases(dry_run):
        if time.time() > deadline_epoch:
            report["skipped"].append(f"{case['name']}: cut for time")
            continue
        t0 = time.perf_counter()
        entry = dict(case)
        try:
            B, T, M, dtype = case["B"], case["T"], case["M"], getattr(torch, case["dtype"])
            if case["rows"] is not None and torch.cuda.mem_get_info()[0] < 44 * 2**30:
                report["skipped"].append(f"{case['name']}: needs about 40 GiB of free GPU memory")
                continue
            entry.update(_correctness_case(B, T, M, dtype, device, case["rows"], stable_coefficients, tritonlpc))
            tol = TOL[dtype]
            entry["tol_rel_max"] = tol
            entry["ok"] = all(e["finite"] and e["rel_max"] <= tol for e in entry["errors"].values())
        except Exception as exc:
            entry["error"] = f"{exc.__class__.__name__}: {str(exc)[:500]}"
            entry["ok"] = False
            traceback.print_exc()
        entry["seconds"] = round(time.perf_counter() - t0, 2)
        report["cases"].append(entry)
        print(f"correctness {case['name']}: ok={entry['ok']} ({entry['seconds']} s)", flush=True)
        _write_json(out, report)
        if device == "cuda":
            torch.cuda.empty_cache()
    _write_json(out, report)


def _correctness_case(B, T, M, dtype, device, rows, stable_coefficients, tritonlpc) -> Dict[str, Any]:  # noqa: ANN001
    import torch  # noqa: PLC0415

    g = torch.Generator(device=device).manual_seed(T + M)
    cplx = dtype.is_complex
    wide = torch.complex128 if cplx else torch.float64
    if rows is None:
        a = stable_coefficients(B, T, M, complex_poles=cplx, n_knots=8, dtype=torch.float64, device=device, generator=g)
    else:  # one stable filter a row, stored at every sample (B*T*M elements, contiguous)
        a = stable_coefficients(B, 2, M, complex_poles=cplx, dtype=torch.float32, device=device, generator=g)[:, :1]
        a = a.expand(B, T, M).contiguous()
    a = a.to(dtype)
    x = torch.randn(B, T, dtype=wide if rows is None else dtype, device=device, generator=g).to(dtype)
    zi = torch.randn(B, M, dtype=wide, device=device, generator=g).to(dtype)
    gy = torch.randn(B, T, dtype=wide if rows is None else dtype, device=device, generator=g).to(dtype)
    xs, as_, zs = (t.detach().requires_grad_() for t in (x, a, zi))
    with tritonlpc.use_backend("triton"):
        y = tritonlpc.sample_wise_lpc(xs, as_, zs)
        grads = torch.autograd.grad(y, (xs, as_, zs), gy)
    del xs, as_, zs
    sel = list(range(B)) if rows is None else rows
    ref_in = [t[sel].detach().cpu().to(wide).requires_grad_() for t in (x, a, zi)]
    with tritonlpc.use_backend("numba"):
        y_ref = tritonlpc.sample_wise_lpc(*ref_in)
        ref_grads = torch.autograd.grad(y_ref, ref_in, gy[sel].cpu().to(wide))
    errors = {"y": _errors(y[sel], y_ref.detach())}
    for name, got, ref in zip(("grad_x", "grad_a", "grad_zi"), grads, ref_grads):
        errors[name] = _errors(got[sel], ref)
    return {"rows_checked": sel if rows is not None else "all", "elements_of_a": B * T * M, "errors": errors}


# ----------------------------------------------------------------------------------------------
# The session (the parent process: no CUDA here, every GPU step is a subprocess)
# ----------------------------------------------------------------------------------------------
@dataclasses.dataclass
class StepRecord:
    name: str
    status: str = "not run"  # done | cut | failed | skipped | not run
    seconds: float = 0.0
    share_s: float = 0.0
    notes: List[str] = dataclasses.field(default_factory=list)


class Session:
    """Runs the steps against a monotonic deadline and keeps ``summary.md`` up to date."""

    def __init__(self, out: Path, budget: float, dry_run: bool, commit: Optional[str]):
        self.out, self.budget, self.dry_run, self.commit_arg = out, budget, dry_run, commit
        self.t0 = time.monotonic()
        self.t0_epoch = time.time()
        self.started = _now()
        self.reserve = max(8.0, 0.03 * budget)  # kept for the summary
        self.grace = 3.0 if dry_run else 10.0
        self.work = Path(tempfile.mkdtemp(prefix="tritonlpc-gpu-session-"))
        self.records: Dict[str, StepRecord] = {}
        usable = max(budget - self.reserve, 1.0)
        acc = 0.0
        self.deadlines: Dict[str, float] = {}
        for name, share in STEPS:
            acc += share
            self.deadlines[name] = self.t0 + usable * acc
            self.records[name] = StepRecord(name, share_s=round(usable * share, 1))
        self.records["torchlpc-build"] = StepRecord("torchlpc-build")
        self.build: Optional[BuildResult] = None
        self.build_thread: Optional[threading.Thread] = None
        self.commit: Dict[str, Any] = {"id": commit}
        self.cut_items: List[str] = []
        self.bench_json = out / "bench.json"
        self.env_ok = False

    # -------------------------------------------------------------- plumbing
    def log(self, msg: str) -> None:
        line = f"[{_now()} +{time.monotonic() - self.t0:6.1f}s] {msg}"
        print(line, flush=True)
        with open(self.out / "session.log", "a") as fh:
            fh.write(line + "\n")

    def sub_env(self, with_peer: bool = False) -> Dict[str, str]:
        env = dict(os.environ)
        paths = [str(ROOT)]
        if with_peer and self.build is not None and self.build.status == "ok" and self.build.site:
            paths.insert(0, self.build.site)
        env["PYTHONPATH"] = os.pathsep.join(paths + [p for p in [env.get("PYTHONPATH")] if p])
        env["PYTHONUNBUFFERED"] = "1"
        if self.dry_run:
            env["TRITON_INTERPRET"] = "1"
        else:
            env.pop("TRITON_INTERPRET", None)
        return env

    def self_cmd(self, sub: str, *args: str) -> List[str]:
        return [sys.executable, str(Path(__file__).resolve()), sub, *args] + (["--dry-run"] if self.dry_run else [])

    def step(self, name: str, fn: Callable[[StepRecord, float], None]) -> None:
        rec = self.records[name]
        deadline = self.deadlines[name]
        left = deadline - time.monotonic()
        if left < 1.0:
            rec.status = "cut"
            rec.notes.append("no time left when it was reached")
            self.cut_items.append(f"{name}: not started (no time left)")
            self.log(f"step {name}: skipped, no time left")
            self.write_summary()
            return
        self.log(f"step {name}: start ({left:.0f} s until its deadline)")
        t0 = time.monotonic()
        rec.status = "done"
        try:
            fn(rec, deadline)
        except Exception as exc:
            rec.status = "failed"
            rec.notes.append(f"{exc.__class__.__name__}: {exc}")
            self.log(f"step {name}: failed: {traceback.format_exc()}")
        rec.seconds = round(time.monotonic() - t0, 1)
        self.log(f"step {name}: {rec.status} in {rec.seconds} s")
        self.write_summary()

    # -------------------------------------------------------------- steps
    def step_environment(self, rec: StepRecord, deadline: float) -> None:
        path = self.out / "environment.json"
        cmd = self.self_cmd("_env", "--json", str(path)) + (["--commit", self.commit_arg] if self.commit_arg else [])
        rc, cut = run_with_deadline(
            cmd, deadline=deadline, log=self.out / "session.log", env=self.sub_env(), grace=self.grace
        )
        if cut or rc != 0 or not path.exists():
            rec.status = "cut" if cut else "failed"
            rec.notes.append(f"exit {rc}" + (" (cut at its deadline)" if cut else ""))
            _write_json(
                path, {"written": _now(), "error": "the environment step did not finish", "dry_run": self.dry_run}
            )
            return
        env = json.loads(path.read_text())
        self.commit = env.get("commit", self.commit)
        self.env_ok = True
        rec.notes.append(f"device {env.get('device', {}).get('name')}, {env.get('sm_count')} SMs")
        if not self.dry_run and not env.get("cuda_available"):
            rec.notes.append("NO CUDA DEVICE: the GPU steps will find nothing to run on")
            self.log("WARNING: no CUDA device visible; use --dry-run on a CPU machine")

    def start_build(self) -> None:
        rec = self.records["torchlpc-build"]
        # the build must be done before the benchmarks start (the end of the tests step), but
        # gets at least 4 minutes on a GPU (nvcc) if the budget allows
        limit = max(self.deadlines["tests"] - time.monotonic(), 240.0 if not self.dry_run else 30.0)
        limit = min(limit, self.deadlines["bench-targets"] - time.monotonic() - 30.0)
        limit = max(limit, 5.0)
        rec.share_s = round(limit, 1)
        log = self.out / "torchlpc-build.log"

        def target() -> None:
            try:
                self.build = build_torchlpc(PEER_SDIST, self.work / "torchlpc", log, limit, dry_run=self.dry_run)
            except Exception as exc:  # build_torchlpc never raises; belt and braces
                self.build = BuildResult("failed", f"{exc.__class__.__name__}: {exc}")

        self.log(f"torchlpc build: started in the background (at most {limit:.0f} s)")
        self.build_thread = threading.Thread(target=target, daemon=True)
        self.build_thread.start()

    def join_build(self) -> None:
        rec = self.records["torchlpc-build"]
        if self.build_thread is None:
            return
        self.build_thread.join(timeout=max(0.0, self.deadlines["bench-targets"] - time.monotonic() - 20.0))
        if self.build_thread.is_alive() or self.build is None:
            rec.status = "cut"
            rec.notes.append("still running when the benchmarks started: no torchlpc columns")
            self.log("torchlpc build: still running; the benchmarks go on without torchlpc")
            return
        b = self.build
        rec.seconds = b.seconds
        rec.status = {"ok": "done", "skipped": "skipped", "missing": "skipped"}.get(b.status, "failed")
        rec.notes.append(f"{b.status}: {b.detail}")
        if b.status != "ok":
            rec.notes.append(
                "the benchmarks run without torchlpc's CUDA kernel"
                if not self.dry_run
                else "dry run: torchlpc from the environment, if installed (CPU extension)"
            )
        self.log(f"torchlpc build: {b.status}: {b.detail}")

    def step_tests(self, rec: StepRecord, deadline: float) -> None:
        log = self.out / "tests.log"
        common = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rfEs", "--tb=short"]
        rc1, cut1 = run_with_deadline(
            common + CUDA_ONLY_TESTS, deadline=deadline, log=log, env=self.sub_env(), grace=self.grace
        )
        rec.notes.append(f"CUDA-only tests: exit {rc1}" + (" (cut)" if cut1 else ""))
        if cut1:
            rec.status = "cut"
            self.cut_items.append(
                "tests: the CUDA-only tests were cut (see tests.log), the rest of the suite did not run"
            )
            return
        rest = (DRY_REST_TESTS if self.dry_run else REST_TESTS) + ["-k", REST_DESELECT]
        rc2, cut2 = run_with_deadline(common + rest, deadline=deadline, log=log, env=self.sub_env(), grace=self.grace)
        rec.notes.append(
            f"rest of the suite: exit {rc2}" + (" (cut at its share: see tests.log for how far)" if cut2 else "")
        )
        if cut2:
            rec.status = "cut"
            self.cut_items.append(
                "tests: the rest of the suite was cut at its share (tests.log shows the last test run)"
            )
        if (rc1 not in (0, 5) or (rc2 not in (0, 5) and not cut2)) and rec.status == "done":
            rec.notes.append("FAILURES: see tests.log")

    def step_bench(self, name: str, nodeids: List[str]) -> Callable[[StepRecord, float], None]:
        def run(rec: StepRecord, deadline: float) -> None:
            if name == "bench-targets":
                self.join_build()
            if not nodeids:  # pytest without node ids would run the default test paths
                rec.status = "skipped"
                rec.notes.append("nothing selected")
                return
            part = self.work / f"{name}.json"
            cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-v", "-rfEs", "--tb=short"]
            cmd += ["--lpc-device", "cpu" if self.dry_run else "cuda", f"--benchmark-json={part}"]
            cmd += ["--lpc-quick"] if self.dry_run else ["--benchmark-max-time=0.25"]
            rc, cut = run_with_deadline(
                cmd + nodeids, deadline=deadline, log=self.out / "bench.log", env=self.sub_env(True), grace=self.grace
            )
            got = merge_bench(self.bench_json, part, self.commit)
            rec.notes.append(f"{got} of {len(nodeids)} benchmarks recorded (exit {rc})")
            if cut:
                rec.status = "cut"
            done_names = self._bench_names()
            missing = [n for n in nodeids if n.split("::")[-1] not in done_names]
            if missing:
                why = "cut for time, skipped or failed" if cut else "skipped or failed (bench.log says which)"
                self.cut_items.append(
                    f"{name}: {len(missing)} of {len(nodeids)} not recorded ({why}): "
                    + ", ".join(n.split("[")[-1].rstrip("]") for n in missing[:40])
                    + (" ..." if len(missing) > 40 else "")
                )

        return run

    def _bench_names(self) -> set:
        if not self.bench_json.exists():
            return set()
        return {b.get("name") for b in json.loads(self.bench_json.read_text()).get("benchmarks", [])}

    def variant_shapes(self) -> List[List[Any]]:
        """Shapes (and directions) that miss a target, the issue's target shapes first; when none
        misses, the target shapes (the dry run: its first shape)."""
        import report  # noqa: PLC0415

        rows = report.load(self.bench_json)[1] if self.bench_json.exists() else []
        env_path = self.out / "environment.json"
        env = json.loads(env_path.read_text()) if env_path.exists() else {}
        targets = report.target_rows(rows, report.schedules_from_environment(env))
        missing = [list(d["key"]) for d in targets if d["miss"]]
        if not missing:
            base = [bench_shapes(True)[0]] if self.dry_run else TARGET_SHAPES
            missing = [[*s, d] for s in base for d in ("fwd+bwd", "fwd")]
        if self.dry_run:  # the interpreter walks tiles in Python: the first shape at T = DRY_VARIANT_T, forward
            return [[2, DRY_VARIANT_T, missing[0][2], "float32", "fwd"]]
        return missing

    def step_variants(self, rec: StepRecord, deadline: float) -> None:
        shapes = self.variant_shapes()
        rec.notes.append("shapes: " + "; ".join(f"{s[0]}×{s[1]}×{s[2]} {s[3]} {s[4]}" for s in shapes))
        part = self.work / "variants.json"
        # the subprocess stops starting variants a little before the deadline
        stop_epoch = time.time() + (deadline - time.monotonic()) - (2.0 if self.dry_run else 10.0)
        cmd = self.self_cmd("_variants", "--json", str(part), "--shapes", json.dumps(shapes), "--stop", str(stop_epoch))
        rc, cut = run_with_deadline(
            cmd, deadline=deadline, log=self.out / "bench.log", env=self.sub_env(), grace=self.grace
        )
        got = merge_bench(self.bench_json, part, self.commit) if part.exists() else 0
        rec.notes.append(f"{got} variant timings recorded (exit {rc})")
        if cut:
            rec.status = "cut"
            self.cut_items.append("bench-variants: cut at its deadline (the variants timed so far are in bench.json)")

    def step_correctness(self, rec: StepRecord, deadline: float) -> None:
        path = self.out / "correctness.json"
        stop_epoch = time.time() + (deadline - time.monotonic()) - (2.0 if self.dry_run else 15.0)
        cmd = self.self_cmd("_correctness", "--json", str(path), "--stop", str(stop_epoch))
        rc, cut = run_with_deadline(
            cmd, deadline=deadline, log=self.out / "session.log", env=self.sub_env(), grace=self.grace
        )
        if not path.exists():
            _write_json(path, {"error": f"the correctness step wrote nothing (exit {rc})", "cases": [], "skipped": []})
        data = json.loads(path.read_text())
        cases = data.get("cases", [])
        rec.notes.append(f"{sum(bool(c.get('ok')) for c in cases)} of {len(cases)} cases within tolerance (exit {rc})")
        skipped = data.get("skipped", [])
        if cut or any("cut for time" in s for s in skipped):
            rec.status = "cut"
            self.cut_items.append(
                "correctness: " + ("; ".join(s for s in skipped if "cut" in s) or "cut at its deadline")
            )

    def fill_missing_outputs(self) -> None:
        """Every output exists at the end, also for steps that never ran (cut for time)."""
        for name in OUTPUT_FILES:
            path = self.out / name
            if path.exists() or name == "summary.md":
                continue
            if name == "bench.json":
                _write_json(path, {"benchmarks": [], "note": "no benchmark finished in this session"})
            elif name == "correctness.json":
                _write_json(path, {"cases": [], "skipped": ["the correctness step did not run"]})
            elif name == "environment.json":
                _write_json(path, {"written": _now(), "error": "the environment step did not run"})
            else:
                path.write_text(f"[gpu_session] {_now()}: nothing was written here (the step did not run)\n")

    # -------------------------------------------------------------- summary
    def write_summary(self, final: bool = False) -> None:
        try:
            text = self._summary(final)
        except Exception:
            text = f"# GPU session summary\n\nThe summary could not be built:\n\n```\n{traceback.format_exc()}\n```\n"
        tmp = self.out / "summary.md.tmp"
        tmp.write_text(text)
        tmp.replace(self.out / "summary.md")

    def _summary(self, final: bool) -> str:
        import report  # noqa: PLC0415

        env_path = self.out / "environment.json"
        env = json.loads(env_path.read_text()) if env_path.exists() else {}
        dev = env.get("device", {})
        commit = env.get("commit", self.commit) or {}
        elapsed = time.monotonic() - self.t0
        md = [
            "# GPU session summary"
            + (" (DRY RUN: CPU, Triton interpreter / Numba, tiny shapes; timings meaningless)" if self.dry_run else ""),
            "",
            f"- device: {dev.get('name', '?')} (`{dev.get('slug', '?')}`), {env.get('sm_count', '?')} SMs ({env.get('sm_count_source', '?')})",
            f"- commit: `{commit.get('id') or '?'}` ({commit.get('source') or 'unknown source'})"
            + (", with uncommitted changes" if commit.get("dirty") else "")
            + f"; sources sha256 `{str(env.get('tree_sha256', '?'))[:16]}`",
            f"- versions: {', '.join(f'{k} {v}' for k, v in (env.get('versions') or {}).items())}; CUDA {env.get('torch_cuda')}",
            f"- started {self.started}, budget {self.budget:.0f} s, {'finished' if final else 'IN PROGRESS (the session was stopped if this stays)'} after {elapsed:.0f} s",
            "",
            "## Steps",
            "",
            "| step | status | seconds | share (s) | notes |",
            "|---|---|---|---|---|",
        ]
        order = ["environment", "torchlpc-build"] + [n for n, _ in STEPS if n != "environment"]
        for n in order:
            r = self.records[n]
            md.append(f"| {n} | {r.status} | {r.seconds} | {r.share_s} | {'; '.join(r.notes).replace('|', '/')} |")
        md += ["", "## Cut for time (or not recorded)", ""]
        md += [f"- {c}" for c in self.cut_items] or ["- nothing"]
        build = self.build
        md += [
            "",
            "## torchlpc",
            "",
            (
                "torchlpc 0.7.2's CUDA extension was built (torchlpc-build.log); its rows are torchlpc's CUDA kernel."
                if build is not None and build.status == "ok"
                else f"**No torchlpc CUDA build** ({build.status + ': ' + build.detail if build else 'not finished'}): "
                + (
                    "the ratios use torchlpc's CPU extension from the environment, if any (dry run)."
                    if self.dry_run
                    else "no ratios to torchlpc in this run."
                )
            ),
        ]
        data: Dict[str, Any] = {}
        rows: List[Any] = []
        if self.bench_json.exists():
            data, rows = report.load(self.bench_json)
        filt = [r for r in rows if r.kind == "filter"]
        train = [r for r in rows if r.kind == "training"]
        sched = report.schedules_from_environment(env)
        md += ["", "## Targets (generated from bench.json by bench/report.py)", ""]
        md.append(report.target_table(filt, sched) if filt else "(no filter benchmark results)")
        if filt:
            md += ["", "## Benchmark matrix", "", report.filter_table(filt)[0]]
        if train:
            md += ["", "## Training step", "", report.training_table(train)]
        md += ["", "## Planner variants", "", report.variant_table(data) if data else "(none)"]
        md += ["", "## tritonlpc.signal", "", report.signal_table(data) if data else "(none)"]
        md += ["", "## Correctness at scale", "", self._correctness_table()]
        md += ["", "## Files", ""]
        md += [f"- `{f}`" for f in OUTPUT_FILES if (self.out / f).exists()]
        return "\n".join(md) + "\n"

    def _correctness_table(self) -> str:
        path = self.out / "correctness.json"
        if not path.exists():
            return "(not run)"
        data = json.loads(path.read_text())
        lines = [
            f"Reference: {data.get('reference', '?')}. rel_max tolerance: tritonlpc.testing.TOL.",
            "",
            "| case | B×T×M | rows | y rel L2 / max | grad_x | grad_a | grad_zi | ok |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in data.get("cases", []):
            e = c.get("errors", {})
            cell = lambda k, e=e: f"{e[k]['rel_l2']:.2g} / {e[k]['rel_max']:.2g}" if k in e else "—"  # noqa: E731
            lines.append(
                f"| {c['name']} | {c['B']}×{c['T']}×{c['M']} | {c.get('rows_checked', '?')} | {cell('y')} | "
                f"{cell('grad_x')} | {cell('grad_a')} | {cell('grad_zi')} | {c.get('ok')}"
                + (f" ({c['error'][:120]})" if "error" in c else "")
                + " |"
            )
        lines += [f"- skipped: {s}" for s in data.get("skipped", [])]
        return "\n".join(lines)

    # -------------------------------------------------------------- all
    def run(self) -> None:
        self.log(
            f"session start: out {self.out}, budget {self.budget:.0f} s, dry run {self.dry_run}, scratch {self.work}"
        )
        self.write_summary()
        try:
            self.step("environment", self.step_environment)
            self.start_build()
            self.step("tests", self.step_tests)
            sel = bench_selection(self.dry_run)
            for name in ("bench-targets", "bench-matrix", "bench-training"):
                self.step(name, self.step_bench(name, sel[name]))
            self.step("bench-variants", self.step_variants)
            self.step("correctness", self.step_correctness)
        except KeyboardInterrupt:
            self.log("interrupted: writing what exists")
            self.cut_items.append("the session was interrupted (Ctrl-C / SIGINT)")
        finally:
            build_rec = self.records["torchlpc-build"]
            if build_rec.status == "not run" and self.build_thread is not None:
                self.join_build()
            elif build_rec.status == "cut" and self.build is not None:  # it finished after the targets began
                build_rec.notes.append(
                    f"finished later ({self.build.status}: {self.build.detail}); later steps used it"
                )
            self.fill_missing_outputs()
            self.write_summary(final=True)
            self.log(f"session end after {time.monotonic() - self.t0:.0f} s; outputs in {self.out}")
            shutil.rmtree(self.work, ignore_errors=True)


# ----------------------------------------------------------------------------------------------
# Command line
# ----------------------------------------------------------------------------------------------
def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("_env", "_variants", "_correctness"):
        return _sub(argv[0], argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True, help="output directory (on the lent machine: $OUT)")
    p.add_argument("--budget", type=float, required=True, help="seconds the whole session may take")
    p.add_argument("--dry-run", action="store_true", help="CPU rehearsal: tiny shapes, Triton interpreter, no build")
    p.add_argument("--commit", help="the commit of the working tree (recorded when there is no .git)")
    args = p.parse_args(argv)
    signal.signal(signal.SIGINT, signal.default_int_handler)  # children then start with SIGINT on
    args.out.mkdir(parents=True, exist_ok=True)
    stale = [f for f in OUTPUT_FILES if (args.out / f).exists()]
    for f in stale:  # a fresh session: nothing appended to an earlier one's files
        (args.out / f).unlink()
    Session(args.out.resolve(), args.budget, args.dry_run, args.commit).run()
    return 0


def _sub(name: str, argv: List[str]) -> int:
    p = argparse.ArgumentParser(prog=f"gpu_session.py {name}")
    p.add_argument("--json", type=Path, required=True)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--commit")
    p.add_argument("--shapes", default="[]")
    p.add_argument("--stop", type=float, default=math.inf, help="epoch seconds: start nothing new after this")
    a = p.parse_args(argv)
    if name == "_env":
        _write_json(a.json, environment(a.dry_run, a.commit))
    elif name == "_variants":
        run_variants(json.loads(a.shapes), a.json, a.dry_run, a.stop)
    else:
        run_correctness(a.json, a.dry_run, a.stop)
    return 0


if __name__ == "__main__":
    sys.exit(main())
