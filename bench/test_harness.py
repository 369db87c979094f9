"""Checks of the benchmark harness itself (fast; part of the CI smoke run).

They cover what the CPU-only CI cannot otherwise reach: the CUDA timing path (with fake
events), the replay of CUDA-event times into pytest-benchmark, the case matrix, the input
generator's stability, and the report script end to end.
"""

from __future__ import annotations

import json
import time

import pytest
import torch

import lpcbench as lb
import report


def test_slugs() -> None:
    assert lb.slugify("NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert lb.slugify("Intel(R) Xeon(R) Processor") == "intel-xeon-processor"
    assert lb.device_slug("cpu").endswith("cpu")


def test_matrix() -> None:
    cases = lb.all_cases(quick=False)
    assert len({c.id for c in cases}) == len(cases)
    for device, matrix in (("cpu", lb.CPU_MATRIX), ("cuda", lb.GPU_MATRIX)):
        for shape in matrix:
            for direction in lb.DIRECTIONS:
                impls = {
                    c.impl
                    for c in cases
                    if (c.device, c.B, c.T, c.M, c.dtype, c.direction) == (device, *shape, direction)
                }
                assert {"tritonlpc", "torchlpc", "copy"} <= impls
    assert all(c.T <= lb.TORCH_LOOP_MAX_T for c in cases if c.impl == "torch-loop")
    assert all(c.M == 1 and c.device == "cuda" for c in cases if c.impl.startswith("accelerated-scan"))
    assert lb.min_bytes(2, 10, 3, "float32", "fwd") == 2 * 10 * 5 * 4
    assert lb.min_bytes(2, 10, 3, "bfloat16", "fwd+bwd") == 2 * 10 * 14 * 2


@pytest.mark.parametrize(
    "M,dtype", [(1, "float32"), (2, "float32"), (4, "float32"), (8, "float32"), (16, "float32"), (2, "complex64")]
)
def test_inputs_stable(M: int, dtype: str) -> None:
    case = lb.Case("cpu", 3, 2048, M, dtype, "fwd+bwd", "torch-loop")
    sets = lb.make_input_sets(case, n_sets=2)
    assert len(sets) == 2 and sets[0].x.shape == (3, 2048) and sets[1].a.shape == (3, 2048, M)
    assert sets[0].a.dtype == lb.DTYPES[dtype] and sets[0].g is not None
    assert not torch.equal(sets[0].x, sets[1].x)
    wide = torch.complex128 if case.torch_dtype.is_complex else torch.float64
    y = lb.torch_loop(sets[0].x.to(wide), sets[0].a.to(wide))
    assert torch.isfinite(torch.view_as_real(y) if y.is_complex() else y).all()
    assert y.abs().max() < 1e4
    again = lb.make_input_sets(case, n_sets=2)  # fixed seeds: reproducible
    assert torch.equal(again[1].a, sets[1].a)


def test_n_sets() -> None:
    assert lb.n_sets_for("cpu", 2**40) == 2
    n = lb.n_sets_for("cpu", 2**16)
    assert 2 <= n and n * 2**16 <= lb.rotation_budget("cpu")


class _FakeEvent:
    def __init__(self, enable_timing: bool = False):
        self.t = None

    def record(self) -> None:
        self.t = time.perf_counter()

    def elapsed_time(self, end: _FakeEvent) -> float:
        return (end.t - self.t) * 1e3


def test_cuda_event_times_logic(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CUDA timing loop's control flow, with CPU stand-ins for events and synchronize."""
    monkeypatch.setattr(torch.cuda, "Event", _FakeEvent)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda *a, **k: None)
    calls = []

    def call() -> None:
        calls.append(1)
        time.sleep(0.002)

    times = lb.cuda_event_times(call, max_time=0.05, min_rounds=10, max_rounds=40)
    assert 10 <= len(times) <= 40
    assert all(t >= 0.0015 for t in times)
    assert len(calls) >= len(times) + 2  # compile call + estimate + warm-up


@pytest.mark.benchmark(timer=lb.REPLAY_TIMER)
def test_replay_timer(benchmark) -> None:
    durations = [3e-3, 1e-3, 2e-3, 5e-3, 4e-3]
    lb.record_cuda_times(benchmark, durations)
    if benchmark.stats is None:  # --benchmark-disable
        return
    stats = benchmark.stats.stats
    assert stats.rounds == 5
    assert stats.median == pytest.approx(3e-3)
    assert stats.min == pytest.approx(1e-3) and stats.max == pytest.approx(5e-3)


def _bench(impl: str, T: int, direction: str, median: float, kind: str = "filter", **extra) -> dict:
    info = dict(
        impl=impl,
        B=8,
        T=T,
        M=2,
        dtype="float32",
        direction=direction,
        kind=kind,
        min_bytes=lb.min_bytes(8, T, 2, "float32", direction),
        device="Test CPU",
        device_slug="test-cpu",
        **extra,
    )
    return {
        "param": f"cpu-{direction}-{impl}",
        "extra_info": info,
        "stats": {"median": median, "iqr": median / 10, "rounds": 5},
    }


def test_report_end_to_end(tmp_path) -> None:
    benches = []
    for T in (1024, 4096):
        for d in ("fwd", "fwd+bwd"):
            benches += [_bench("copy", T, d, 1e-5), _bench("torchlpc", T, d, 4e-4), _bench("tritonlpc", T, d, 2e-4)]
    benches += [_bench("torch-loop", 1024, "fwd", 4e-2)]
    for T in (2**20, 2**21):
        benches += [
            _bench("torchlpc", T, "train-step", 2.0, kind="training", peak_mem_bytes=2**30, sections=4),
            _bench("tritonlpc", T, "train-step", 0.5, kind="training", peak_mem_bytes=2**29, sections=4),
        ]
    benches.append({"param": None, "extra_info": {}, "stats": {"median": 1.0}})  # not ours: ignored
    path = tmp_path / "0001_test.json"
    path.write_text(
        json.dumps(
            {
                "benchmarks": benches,
                "commit_info": {"id": "abc", "dirty": True},
                "machine_info": {},
                "datetime": "2026-01-01T00:00:00",
            }
        )
    )
    readme = tmp_path / "README.md"
    readme.write_text("# x\n<!-- reports -->\n")
    report.main([str(tmp_path), "--out", str(tmp_path / "out"), "--readme", str(readme)])
    md = (tmp_path / "out" / "report.md").read_text()
    assert "200 µs (2.00×, 5.00%)" in md  # tritonlpc: 4e-4 / 2e-4, 1e-5 / 2e-4
    assert "| 2^20 | tritonlpc | 500 ms | 4.00× | 512 MiB | 0.50× |" in md
    for png in ("time_vs_T.png", "speedup.png", "training.png"):
        assert (tmp_path / "out" / png).stat().st_size > 1000
    text = readme.read_text()
    assert "<!-- report:test-cpu -->" in text and "](out/speedup.png)" in text
    report.main([str(path), "--out", str(tmp_path / "out"), "--readme", str(readme)])  # replaces, not appends
    assert readme.read_text().count("<!-- report:test-cpu -->") == 1
