"""The filter benchmark matrix: each (shape, dtype, direction, implementation) is one result.

Implementations: ``tritonlpc`` (Numba on CPU, Triton on CUDA), ``torchlpc`` 0.7.2 with its
C++/CUDA extension, ``torch-loop`` (plain PyTorch, T <= 4096 only), ``copy`` (the bandwidth
ceiling: a device-to-device copy moving the same ``min_bytes``), and on CUDA for M = 1
``accelerated-scan`` (its Triton scan) and ``accelerated-scan-warp`` (its CUDA kernel).
Unavailable implementations are skipped with the reason.

CPU: timed by pytest-benchmark's own timer (``--benchmark-max-time``/``--benchmark-min-rounds``).
CUDA: timed with CUDA events after warm-up (see ``lpcbench.cuda_event_times``), the per-call
times are stored as the pytest-benchmark rounds. Both rotate through distinct input sets
that together overflow the last-level cache.
"""

from __future__ import annotations

import pytest
import torch

import lpcbench as lb


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        device = metafunc.config._lpc_device  # type: ignore[attr-defined]
        quick = bool(metafunc.config.getoption("--lpc-quick"))
        cases = [c for c in lb.all_cases(quick) if c.device == device]
        metafunc.parametrize("case", [lb.case_param(c) for c in cases])


def _run_timed(benchmark, bench_env, case: lb.Case, call) -> None:
    if case.device == "cuda":
        times = lb.cuda_event_times(call, max_time=bench_env.max_time, min_rounds=max(10, bench_env.min_rounds))
        lb.record_cuda_times(benchmark, times)
    else:
        benchmark(call)


def test_lpc(benchmark, bench_env, case: lb.Case) -> None:
    nbytes = lb.min_bytes(case.B, case.T, case.M, case.dtype, case.direction)
    info = benchmark.extra_info
    info.update(bench_env.common_info(case.device))
    info.update(
        impl=case.impl,
        B=case.B,
        T=case.T,
        M=case.M,
        dtype=case.dtype,
        direction=case.direction,
        min_bytes=nbytes,
        kind="filter",
    )
    benchmark.group = case.group

    if case.impl == "copy":
        info["backend"] = "torch-copy"
        call, n_sets = lb.make_copy_call(case.device, nbytes, 2 if bench_env.quick else None)
    else:
        try:
            impl = lb.make_impl(case)
        except lb.Unavailable as exc:
            pytest.skip(str(exc))
        info["backend"] = impl.backend
        n_sets = 2 if bench_env.quick else lb.n_sets_for(case.device, lb.set_bytes(case))
        sets = bench_env.input_sets(case, n_sets)
        try:
            lb.check_output(impl, case, sets[0])
            call = lb.make_call(impl, case, sets)
            call()  # warm-up: JIT compilation, autotuning
        except Exception as exc:
            if case.impl == "tritonlpc":
                raise
            # a baseline that cannot run this case (e.g. an unsupported dtype) is skipped
            pytest.skip(f"{case.impl} cannot run this case: {exc.__class__.__name__}: {str(exc)[:300]}")
    info["n_sets"] = n_sets

    _run_timed(benchmark, bench_env, case, call)

    if benchmark.stats is None:  # --benchmark-disable: ran once, nothing measured
        return
    med = float(benchmark.stats.stats.median)
    info["median_s"] = med
    info["gbps"] = nbytes / med / 1e9
    if case.impl == "copy":
        bench_env.copy_median[(case.device, nbytes)] = med
        info["pct_of_copy"] = 100.0
    else:
        info["pct_of_copy"] = 100.0 * bench_env.copy_seconds(case.device, nbytes) / med
    if case.device == "cuda":
        torch.cuda.synchronize()
