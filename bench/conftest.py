"""pytest configuration of the benchmark suite (``pytest bench ...``).

Options:
    --lpc-device {auto,cpu,cuda}   which device's matrix to run (auto: cuda if available)
    --lpc-quick                    tiny shapes only: the CI smoke test that the suite works

Unless ``--benchmark-storage`` is given, saved runs (``--benchmark-save``) and comparisons
(``--benchmark-compare``) use ``bench/results/<device-slug>/``.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

import lpcbench as lb  # noqa: E402

DEFAULT_STORAGE = "file://./.benchmarks"  # pytest-benchmark's default


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("tritonlpc benchmarks")
    group.addoption(
        "--lpc-device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="device whose benchmark matrix runs (auto: cuda when available, else cpu)",
    )
    group.addoption("--lpc-quick", action="store_true", help="tiny shapes only (CI smoke test; timings meaningless)")


def selected_device(config: pytest.Config) -> str:
    choice = config.getoption("--lpc-device", "auto")
    if choice == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return choice


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a CUDA device (skipped without one)")
    config.addinivalue_line("markers", "training: one optimiser step of a model built on sample_wise_lpc")
    device = selected_device(config)
    slug = lb.device_slug(device) if (device == "cpu" or torch.cuda.is_available()) else "no-cuda"
    config._lpc_device = device  # type: ignore[attr-defined]
    config._lpc_slug = slug  # type: ignore[attr-defined]
    if config.getoption("--lpc-quick") and hasattr(config.option, "benchmark_max_time"):
        # smoke test: a few rounds per benchmark are enough to exercise everything
        config.option.benchmark_max_time = 0.02
        config.option.benchmark_min_rounds = 2
    if getattr(config.option, "benchmark_storage", None) == DEFAULT_STORAGE and slug != "no-cuda":
        config.option.benchmark_storage = "file://" + str(lb.RESULTS_DIR / slug)


def pytest_report_header(config: pytest.Config) -> List[str]:
    device = config._lpc_device  # type: ignore[attr-defined]
    name = lb.device_name(device) if (device == "cpu" or torch.cuda.is_available()) else "CUDA not available"
    lines = [
        f"tritonlpc bench: device={device} ({name}), results dir bench/results/{config._lpc_slug}/, "  # type: ignore[attr-defined]
        f"quick={bool(config.getoption('--lpc-quick'))}",
        "tritonlpc bench: versions " + ", ".join(f"{k} {v}" for k, v in lb.versions().items()),
        f"tritonlpc bench: torch threads {torch.get_num_threads()}, os.cpu_count {os.cpu_count()}, "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}",
    ]
    return lines


class BenchEnv:
    """Session state shared by the benchmarks: the current shape's input sets, the copy ceiling."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.device: str = config._lpc_device  # type: ignore[attr-defined]
        self.slug: str = config._lpc_slug  # type: ignore[attr-defined]
        self.quick = bool(config.getoption("--lpc-quick"))
        self._sets_key: Optional[Tuple] = None
        self._sets: Optional[List[lb.InputSet]] = None
        self.copy_median: Dict[Tuple[str, int], float] = {}

    @property
    def max_time(self) -> float:
        return float(self.config.getoption("benchmark_max_time"))

    @property
    def min_rounds(self) -> int:
        return int(self.config.getoption("benchmark_min_rounds"))

    def input_sets(self, case: lb.Case, n_sets: int) -> List[lb.InputSet]:
        """Input sets for the case's shape and direction (the last ones are kept for reuse)."""
        key = (case.device, case.B, case.T, case.M, case.dtype, case.direction, n_sets)
        if key != self._sets_key:
            self._sets = self._sets_key = None
            gc.collect()
            if case.device == "cuda":
                torch.cuda.empty_cache()
            self._sets = lb.make_input_sets(case, n_sets)
            self._sets_key = key
        assert self._sets is not None
        return self._sets

    def copy_seconds(self, device: str, nbytes: int) -> float:
        """Median time of the copy moving ``nbytes`` (measured now unless the copy benchmark ran)."""
        key = (device, nbytes)
        if key not in self.copy_median:
            call, _ = lb.make_copy_call(device, nbytes, 2 if self.quick else None)
            if device == "cuda":
                times = lb.cuda_event_times(call, max_time=min(self.max_time, 0.5), min_rounds=self.min_rounds)
            else:
                times = lb.wall_times(call, max_time=min(self.max_time, 0.5), min_rounds=self.min_rounds)
            self.copy_median[key] = lb.median(times)
        return self.copy_median[key]

    def common_info(self, device: str) -> Dict[str, object]:
        info: Dict[str, object] = {
            "device": lb.device_name(device),
            "device_slug": self.slug,
            "torch_threads": torch.get_num_threads(),
            "quick": self.quick,
            "timing": "cuda-events" if device == "cuda" else "pytest-benchmark",
            "loadavg_1min": round(os.getloadavg()[0], 2),
        }
        try:
            import numba  # noqa: PLC0415

            info["numba_threads"] = numba.get_num_threads()
        except Exception:
            pass
        return info


@pytest.fixture(scope="session")
def bench_env(request: pytest.FixtureRequest) -> BenchEnv:
    return BenchEnv(request.config)
