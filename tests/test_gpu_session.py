"""The GPU session script (``bench/gpu_session.py``) works before a GPU ever sees it.

* its ``--dry-run`` (the same steps on the CPU: Triton interpreter, tiny shapes) writes every
  output, well formed, within its budget; with a budget too small for anything it still writes
  them, says what was cut, and exits 0;
* the torchlpc build step reports a missing, broken, failing or hanging sdist instead of
  hanging or raising;
* the target verdicts and the priority order of the benchmark selection.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

pytest.importorskip("pytest_benchmark")

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import gpu_session as gs  # noqa: E402
import lpcbench as lb  # noqa: E402
import report  # noqa: E402


def _dry_run(out: Path, budget: float, timeout: float) -> subprocess.CompletedProcess:
    # Not xdist's worker variables: the session's own pytest runs would take them for their own
    # (pytest-benchmark then disables itself, and bench.json has no filter or training rows).
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    if os.environ.get("PYTEST_XDIST_WORKER"):  # every core runs a worker: one thread each
        env.update(OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1")
    cmd = [sys.executable, str(ROOT / "bench" / "gpu_session.py"), "--out", str(out), "--budget", str(budget)]
    return subprocess.run(cmd + ["--dry-run"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.slow(seconds=55)
def test_dry_run_writes_every_output(tmp_path):
    t0 = time.monotonic()
    # 40 s on an idle 2-core machine; the budget leaves room for a loaded CI (`pytest -n`), where
    # 150 s cut whole steps
    p = _dry_run(tmp_path, budget=240, timeout=400)
    elapsed = time.monotonic() - t0
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert elapsed < 240 + 30, f"the dry run took {elapsed:.0f} s, past its budget"
    files = sorted(f.name for f in tmp_path.iterdir())
    assert files == sorted(gs.OUTPUT_FILES) and len(files) <= 8  # the device tool brings back 8 files

    env = json.loads((tmp_path / "environment.json").read_text())
    for key in ("commit", "versions", "torch_cuda", "nvidia_smi_q", "nvcc", "device", "sm_count", "planner"):
        assert key in env, key
    assert {"torch", "triton", "numba"} <= set(env["versions"])
    planned = {(p["B"], p["T"], p["M"], p["dtype"]) for p in env["planner"] if "schedule" in p.get("plan", {})}
    assert set(lb.shapes_for("cuda", False)) <= planned  # the planner's choice for every GPU benchmark shape

    bench = json.loads((tmp_path / "bench.json").read_text())
    kinds = {b["extra_info"]["kind"] for b in bench["benchmarks"]}
    assert kinds == {"filter", "signal", "training", "variant"}
    impls = {b["extra_info"]["impl"] for b in bench["benchmarks"]}
    assert {"tritonlpc", "copy"} <= impls
    names = [b["name"] for b in bench["benchmarks"] if b["extra_info"]["kind"] == "filter"]
    first = lb.CPU_QUICK[0]
    assert f"B{first[0]}-T{first[1]}-M{first[2]}-" in names[0]  # target shapes first

    corr = json.loads((tmp_path / "correctness.json").read_text())
    dtypes = {c["dtype"] for c in corr["cases"]}
    assert set(gs.ALL_DTYPES) <= dtypes
    for c in corr["cases"]:
        assert c["ok"], c
        assert set(c["errors"]) == {"y", "grad_x", "grad_a", "grad_zi"}
    assert any("int64" in s for s in corr["skipped"])

    summary = (tmp_path / "summary.md").read_text()
    assert "DRY RUN" in summary and "finished after" in summary
    assert "| shape (B×T×M dtype) | direction | schedule | tritonlpc | vs torchlpc (target) |" in summary
    section = summary.split("## Cut for time")[1].split("\n## ")[0]
    assert section.strip().splitlines()[-1] == "- nothing"  # a budget that fits: nothing cut
    for step, _ in gs.STEPS:
        assert f"| {step} | done |" in summary, step
    build_log = (tmp_path / "torchlpc-build.log").read_text()
    if gs.PEER_SDIST.exists():  # a fetched sdist is unpacked, not built, in a dry run
        assert "torchlpc build: skipped: dry run" in build_log
    else:  # a fresh clone (CI): the missing sdist is reported with the command that fetches it
        assert "torchlpc build: missing" in build_log and gs.FETCH_COMMAND in build_log
    assert "passed" in (tmp_path / "tests.log").read_text()


def test_dry_run_out_of_time_still_writes_and_lists_the_cuts(tmp_path):
    p = _dry_run(tmp_path, budget=20, timeout=120)  # 12 s for the steps, 8 kept for the summary
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    assert sorted(f.name for f in tmp_path.iterdir()) == sorted(gs.OUTPUT_FILES)
    for name in ("environment.json", "bench.json", "correctness.json"):
        json.loads((tmp_path / name).read_text())
    summary = (tmp_path / "summary.md").read_text()
    cut = summary.split("## Cut for time")[1].split("\n## ")[0]
    assert "- nothing" not in cut and cut.count("\n- ") >= 1
    assert "| cut |" in summary


# --------------------------------------------------------------------------- the torchlpc build
def _sdist(path: Path, setup: str, version: str = "0.7.2") -> Path:
    files = {
        f"torchlpc-{version}/setup.py": f'VERSION = "{version}"\n' + setup,
        f"torchlpc-{version}/torchlpc/csrc/cuda/lpc.cu": "// kernel\n",
        f"torchlpc-{version}/PKG-INFO": f"Metadata-Version: 2.1\nName: torchlpc\nVersion: {version}\n",
    }
    with tarfile.open(path, "w:gz") as tf:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def test_build_missing_or_unreadable_sdist(tmp_path):
    r = gs.build_torchlpc(tmp_path / "absent.tar.gz", tmp_path / "w", tmp_path / "log", 10)
    assert r.status == "missing" and gs.FETCH_COMMAND in r.detail
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tar file")
    r = gs.build_torchlpc(junk, tmp_path / "w2", tmp_path / "log", 10)
    assert r.status == "failed" and "not a readable sdist" in r.detail
    other = _sdist(tmp_path / "other.tar.gz", "", version="0.6.0")
    r = gs.build_torchlpc(other, tmp_path / "w3", tmp_path / "log", 10)
    assert r.status == "failed" and "not torchlpc 0.7.2" in r.detail
    assert "torchlpc build: failed" in (tmp_path / "log").read_text()


def test_build_dry_run_only_unpacks(tmp_path):
    sdist = _sdist(tmp_path / "torchlpc-0.7.2.tar.gz", "raise SystemExit('must not run')\n")
    r = gs.build_torchlpc(sdist, tmp_path / "w", tmp_path / "log", 10, dry_run=True)
    assert r.status == "skipped" and "unpacked" in r.detail
    assert (tmp_path / "w" / "unpacked" / "torchlpc-0.7.2" / "setup.py").exists()


@pytest.mark.parametrize(
    "setup, timeout, expect",
    [
        ("raise SystemExit('the build broke')\n", 120, "exited with"),
        ("import time\ntime.sleep(600)\n", 4, "did not finish within 4 s"),
    ],
    ids=["fails", "hangs"],
)
def test_build_failure_is_reported_not_hung(tmp_path, setup, timeout, expect):
    sdist = _sdist(tmp_path / "torchlpc-0.7.2.tar.gz", setup)
    t0 = time.monotonic()
    r = gs.build_torchlpc(sdist, tmp_path / "w", tmp_path / "build.log", timeout, need_cuda=False)
    assert r.status == "failed" and expect in r.detail, r
    assert time.monotonic() - t0 < timeout + 60
    log = (tmp_path / "build.log").read_text()
    assert "pip install" in log and "torchlpc build: failed" in log
    if expect == "exited with":
        assert "the build broke" in log  # the build's own output is in the log


def test_build_without_cuda_is_skipped_with_the_reason(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    sdist = _sdist(tmp_path / "torchlpc-0.7.2.tar.gz", "raise SystemExit('must not run')\n")
    r = gs.build_torchlpc(sdist, tmp_path / "w", tmp_path / "log", 60)
    assert r.status == "skipped" and "no CUDA device" in r.detail


# --------------------------------------------------------------------------- targets and order
def _row(B, T, M, direction, impl, median, dtype="float32"):
    return report.Row(
        {
            "param": f"cuda-{direction}",
            "stats": {"median": median},
            "extra_info": dict(kind="filter", impl=impl, B=B, T=T, M=M, dtype=dtype, direction=direction),
        }
    )


def test_target_verdicts():
    rows = [
        # (1, 2^20, 2) fwd+bwd: 50x torchlpc (target 100x), 50 % of copy (target 40 % in three phase)
        _row(1, 2**20, 2, "fwd+bwd", "copy", 1.0),
        _row(1, 2**20, 2, "fwd+bwd", "torchlpc", 100.0),
        _row(1, 2**20, 2, "fwd+bwd", "tritonlpc", 2.0),
        # (64, 2^16, 2) fwd single pass: 90 % of copy (target 80 %), 3x torchlpc: met
        _row(64, 2**16, 2, "fwd", "copy", 0.9),
        _row(64, 2**16, 2, "fwd", "torchlpc", 3.0),
        _row(64, 2**16, 2, "fwd", "tritonlpc", 1.0),
        # complex64: slower than torchlpc (a miss), no bandwidth target outside float32
        _row(8, 2**16, 2, "fwd", "torchlpc", 1.0, "complex64"),
        _row(8, 2**16, 2, "fwd", "tritonlpc", 2.0, "complex64"),
    ]
    sched = {(1, 2**20, 2, "float32"): "three-phase", (64, 2**16, 2, "float32"): "single"}
    got = {d["key"]: d for d in report.target_rows(rows, sched)}
    big = got[(1, 2**20, 2, "float32", "fwd+bwd")]
    assert big["target_shape"] and big["want_speedup"] == 100 and big["want_pct"] == 40
    assert big["miss"] == ["speed-up 50× < 100×"]
    assert got[(64, 2**16, 2, "float32", "fwd")]["miss"] == []
    cplx = got[(8, 2**16, 2, "complex64", "fwd")]
    assert cplx["want_pct"] is None and cplx["miss"] == ["speed-up 0.5× < 1×"]
    assert list(got)[0] == (1, 2**20, 2, "float32", "fwd+bwd")  # target shapes first
    table = report.target_table(rows, sched)
    assert "miss: speed-up 50× < 100×" in table and "| met |" in table


def test_bench_selection_priority():
    sel = gs.bench_selection(dry_run=False)
    ids = [n for n in sel["bench-targets"] + sel["bench-matrix"] if "test_signal.py" not in n]
    every = [f"bench/test_lpc.py::test_lpc[{c.id}]" for c in lb.all_cases(False) if c.device == "cuda"]
    assert sorted(ids) == sorted(every) and len(set(ids)) == len(ids)
    signal = [i for i, n in enumerate(sel["bench-matrix"]) if "test_signal.py" in n]
    want = [f"bench/test_signal.py::test_signal[{i}]" for i, _ in lb.signal_cases("cuda", False)]
    assert [sel["bench-matrix"][i] for i in signal] == want and want and all("cuda-" in n for n in want)
    assert signal == list(range(signal[0], signal[0] + len(want)))  # together, after the priority impls
    assert sel["bench-matrix"][signal[0] - 1].rsplit("-", 1)[-1].rstrip("]") in gs.PRIORITY_IMPLS
    assert "-B1-T1048576-M2-float32-" in sel["bench-targets"][0]  # the first target shape
    assert all(any(f"-B{s[0]}-T{s[1]}-M{s[2]}-" in n for s in gs.TARGET_SHAPES) for n in sel["bench-targets"])
    assert len(sel["bench-targets"]) == 3 * 2 * 3  # shapes x directions x (copy, torchlpc, tritonlpc)
    matrix_impls = [n.rsplit("-", 1)[-1].rstrip("]") for n in sel["bench-matrix"] if "test_lpc.py" in n]
    first_other = next(i for i, m in enumerate(matrix_impls) if m not in gs.PRIORITY_IMPLS)
    assert all(m not in gs.PRIORITY_IMPLS for m in matrix_impls[first_other:])
    assert len(sel["bench-training"]) == 6  # T = 2^20, 2^21, 2^22 x (tritonlpc, torchlpc)
