"""Long-sequence training benchmark: one optimiser step (zero_grad, forward, backward, Adam step)
of a 4-section cascade of time-varying biquads (``training.BiquadCascade``) at T = 2^20 ... 2^22,
tritonlpc vs torchlpc: time (pytest-benchmark on CPU, CUDA events on GPU) and peak memory.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

import pytest
import torch

import lpcbench as lb
import training as tr

_cpu_peaks: Dict[Tuple[str, bool], Dict[int, Optional[int]]] = {}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "train_case" in metafunc.fixturenames:
        device = metafunc.config._lpc_device  # type: ignore[attr-defined]
        quick = bool(metafunc.config.getoption("--lpc-quick"))
        params = []
        for T in tr.QUICK_T if quick else tr.TRAIN_T:
            for impl in tr.IMPLS:
                marks = [pytest.mark.training]
                if device == "cuda":
                    marks += [pytest.mark.gpu, pytest.mark.benchmark(timer=lb.REPLAY_TIMER)]
                params.append(
                    pytest.param((device, T, impl), id=f"{device}-train-B{tr.TRAIN_B}-T{T}-{impl}", marks=marks)
                )
        metafunc.parametrize("train_case", params)


def test_training_step(benchmark, bench_env, train_case) -> None:
    device, T, impl = train_case
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("CUDA is not available on this machine")
    try:
        trainer = tr.Trainer(impl, device, T)
    except (ImportError, RuntimeError) as exc:
        if impl == "tritonlpc":
            raise
        pytest.skip(f"{impl} is not available: {exc}")
    M, K, B = 2, tr.N_SECTIONS, tr.TRAIN_B
    nbytes = K * lb.min_bytes(B, T, M, "float32", "fwd+bwd")  # the all-pole filters' share only
    info = benchmark.extra_info
    info.update(bench_env.common_info(device))
    info.update(
        impl=impl,
        backend=("numba" if device == "cpu" else "triton")
        if impl == "tritonlpc"
        else ("cpp-ext" if device == "cpu" else "cuda-ext"),
        B=B,
        T=T,
        M=M,
        sections=K,
        hop=tr.HOP,
        dtype="float32",
        direction="train-step",
        kind="training",
        min_bytes=nbytes,
    )
    benchmark.group = f"{device} training step B={B} T={T}"

    trainer.step()  # warm-up: JIT, autotuning, optimiser state
    if device == "cuda":
        info["peak_mem_bytes"] = tr.cuda_peak_bytes(trainer)
        info["peak_mem_method"] = "torch.cuda.max_memory_allocated"
        times = lb.cuda_event_times(trainer.step, max_time=bench_env.max_time, min_rounds=3, max_rounds=20)
        lb.record_cuda_times(benchmark, times)
    else:
        rounds = 2 if bench_env.quick else 3
        benchmark.pedantic(trainer.step, rounds=rounds, warmup_rounds=0, iterations=1)
        key = (impl, bench_env.quick)
        if key not in _cpu_peaks:  # one child process per implementation measures every T
            _cpu_peaks[key] = tr.cpu_peak_bytes(impl, list(tr.QUICK_T if bench_env.quick else tr.TRAIN_T))
        info["peak_mem_bytes"] = _cpu_peaks[key].get(T)
        info["peak_mem_method"] = "child process VmHWM rise (MALLOC_MMAP_THRESHOLD_=65536)"

    if benchmark.stats is None:
        return
    med = float(benchmark.stats.stats.median)
    info["median_s"] = med
    info["gbps"] = nbytes / med / 1e9
    info["pct_of_copy"] = 100.0 * bench_env.copy_seconds(device, nbytes) / med
