"""Delay-effect benchmarks: the time-varying feedback comb (``tritonlpc.audio.comb_filter``)
against the same filter written as ``sample_wise_lpc`` with a sparse order-61 ``a``, and both
against the copy ceiling, in one run.

The comb's delay sweeps ``d[n] = 50 + 9 sin(...)`` (41..59 samples, fractional) with a gain
around 0.7, so ``y[n] = x[n] + g (1 - f) y[n - k] + g f y[n - k - 1]`` is the all-pole filter with
``a[n, k-1] = -g (1 - f)``, ``a[n, k] = -g f`` and zeros elsewhere (order 61). Directions:
``fwd`` and ``fwd+bwd`` (gradients of ``x``, ``delay``, ``gain`` for the comb; ``x`` and ``a``
for the all-pole form, whose ``a`` is a leaf: its construction is not timed). Each result's
``extra_info`` holds ``median_s``, ``min_bytes`` (the comb's: ``x, d, g, y`` forward, plus
``gy, y, d, g, dx, dd, dg`` backward), ``pct_of_copy`` and, for the comb, ``speedup_vs_lpc``
(the all-pole form's median in the same run over the comb's).

    pytest bench/test_delay.py --benchmark-save=delay        # CPU: (8, 2^16) float32
    pytest bench/test_delay.py --lpc-quick                   # CI smoke test, (2, 2^10)
"""

from __future__ import annotations

import math
from typing import Callable, Dict, Iterator, List, Tuple

import pytest
import torch

import lpcbench as lb
import tritonlpc
from tritonlpc.audio import comb_filter

ORDER = 61
IMPLS = ("copy", "lpc-sparse61", "comb")  # this order: the comb reads the all-pole median
DIRECTIONS = ("fwd", "fwd+bwd")
_medians: Dict[Tuple[str, int, int, str, str, str], float] = {}


def _shape(quick: bool) -> Tuple[int, int]:
    return (2, 1024) if quick else (8, 1 << 16)


def comb_inputs(B: int, T: int, device: str, seed: int = 0) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(B, T, generator=gen)
    n = torch.arange(T, dtype=torch.float64)
    phase = 2 * math.pi * torch.rand(B, 1, generator=gen, dtype=torch.float64)
    d = 50.0 + 9.0 * torch.sin(2 * math.pi * 0.5 * n / 48000 + phase)
    g = 0.7 + 0.1 * torch.sin(2 * math.pi * 3.0 * n / 48000 + phase)
    return x.to(device), d.float().to(device), g.float().to(device)


def sparse_lpc_coefficients(d: torch.Tensor, g: torch.Tensor, order: int = ORDER) -> torch.Tensor:
    """The comb as all-pole coefficients ``a (B, T, order)`` (two nonzeros a sample)."""
    k = d.floor().long()
    f = d - k
    a = torch.zeros(*d.shape, order, dtype=d.dtype, device=d.device)
    a.scatter_(2, (k - 1)[..., None], (-g * (1 - f))[..., None])
    a.scatter_(2, k[..., None], (-g * f)[..., None])
    return a


def min_bytes(B: int, T: int, direction: str) -> int:
    return (4 if direction == "fwd" else 11) * B * T * 4


def _call(impl: str, direction: str, sets: List[Tuple[torch.Tensor, ...]]) -> Callable[[], None]:
    it = iter(range(1 << 62))
    gy = torch.ones_like(sets[0][0])  # made once: not part of the timing

    def call() -> None:
        ins = sets[next(it) % len(sets)]
        if direction == "fwd":
            with torch.no_grad():
                (comb_filter(*ins) if impl == "comb" else tritonlpc.sample_wise_lpc(*ins))
            return
        y = comb_filter(*ins) if impl == "comb" else tritonlpc.sample_wise_lpc(*ins)
        torch.autograd.grad(y, ins, gy)

    return call


@pytest.fixture(params=["all", "1"], ids=lambda t: f"threads={t}")
def threads(request: pytest.FixtureRequest, bench_env) -> Iterator[str]:
    """CPU threads for torch and Numba: all (the default), or one (no thread barriers: steadier
    on a shared machine)."""
    if request.param == "all" or bench_env.device != "cpu":
        yield "all"
        return
    import numba  # noqa: PLC0415

    saved = torch.get_num_threads(), numba.get_num_threads()
    torch.set_num_threads(1)
    numba.set_num_threads(1)
    try:
        yield "1"
    finally:
        torch.set_num_threads(saved[0])
        numba.set_num_threads(saved[1])


@pytest.mark.parametrize("direction", DIRECTIONS)
@pytest.mark.parametrize("impl", IMPLS)
def test_delay(benchmark, bench_env, threads: str, impl: str, direction: str) -> None:
    device = bench_env.device
    if device == "cuda" and (threads != "all" or not torch.cuda.is_available()):
        pytest.skip("CUDA not available" if threads == "all" else "thread count: CPU only")
    B, T = _shape(bench_env.quick)
    nbytes = min_bytes(B, T, direction)
    info = benchmark.extra_info
    info.update(bench_env.common_info(device))
    info.update(impl=impl, B=B, T=T, M=ORDER, dtype="float32", direction=direction, min_bytes=nbytes, kind="delay")
    info["threads"] = threads
    benchmark.group = f"delay {B}x{T} float32 {direction} threads={threads}"
    if impl == "copy":
        call, _ = lb.make_copy_call(device, nbytes, 2 if bench_env.quick else None)
    else:
        sets = []
        for seed in range(2):
            x, d, g = comb_inputs(B, T, device, seed)
            ins = (x, d, g) if impl == "comb" else (x, sparse_lpc_coefficients(d, g))
            sets.append(tuple(t.requires_grad_(direction != "fwd") for t in ins))
        x, d, g = comb_inputs(B, T, device, 0)
        with torch.no_grad():  # sanity anchor: the two forms are one filter
            L = min(T, 4096)
            y_comb = comb_filter(x[:, :L], d[:, :L], g[:, :L])
            y_lpc = tritonlpc.sample_wise_lpc(x[:, :L], sparse_lpc_coefficients(d[:, :L], g[:, :L]))
            torch.testing.assert_close(y_comb, y_lpc, rtol=1e-3, atol=1e-3)
        info["backend"] = tritonlpc.backend_for(x)
        call = _call(impl, direction, sets)
        call()  # warm-up: compilation
    if device == "cuda":
        lb.record_cuda_times(benchmark, lb.cuda_event_times(call, max_time=bench_env.max_time, min_rounds=10))
    else:
        benchmark(call)
    if benchmark.stats is None:  # --benchmark-disable
        return
    med = float(benchmark.stats.stats.median)
    _medians[(device, B, T, direction, threads, impl)] = med
    info["median_s"] = med
    info["gbps"] = nbytes / med / 1e9
    copy = _medians.get((device, B, T, direction, threads, "copy")) or bench_env.copy_seconds(device, nbytes)
    info["pct_of_copy"] = 100.0 * copy / med
    lpc = _medians.get((device, B, T, direction, threads, "lpc-sparse61"))
    if impl == "comb" and lpc is not None:
        info["speedup_vs_lpc"] = lpc / med
