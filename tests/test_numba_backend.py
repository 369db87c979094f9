"""Numba backend kernels against the sequential reference: both schedules, chunk boundaries,
flags, strides, high orders, and the on-disk compilation cache."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tritonlpc import _reference
from tritonlpc.backends import numba_cpu as nb
from tritonlpc.testing import TOL, assert_rel_close, make_inputs

SCHEDULES = [("rows", None), ("chunked", 4), ("chunked", 7), ("chunked", 16)]


def _hi(t):
    return t.to(torch.complex128 if t.dtype.is_complex else torch.float64)


def _ref_grads(x, a, zi, g, neg):
    xs, as_, zs = [_hi(t).requires_grad_() for t in (x, a, zi)]
    return torch.autograd.grad(_reference.allpole(xs, as_, zs, neg_a=neg), (xs, as_, zs), _hi(g))


@pytest.mark.slow(seconds=10)
@pytest.mark.parametrize("schedule,chunk", SCHEDULES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.complex128, torch.complex64])
@pytest.mark.parametrize("M", [1, 2, 3, 5])
def test_forward_backward_reverse(schedule, chunk, dtype, M):
    if schedule == "chunked" and dtype == torch.complex64:
        pytest.skip("complex64 chunked: the complex128 kernels' code (saves a ~20 s compile in CI)")
    # T crosses chunk boundaries with an odd tail: 3 * 16 + 5 = 53.
    x, a, zi = make_inputs(3, 53, M, dtype, seed=M)
    g = torch.randn_like(x)
    kw = dict(schedule=schedule, chunk_len=chunk)
    for neg in (False, True):
        y = nb.BACKEND.forward(x, a, zi, neg_a=neg, **kw)
        assert y.dtype == dtype and y.is_contiguous()
        assert_rel_close(y, _reference.allpole(_hi(x), _hi(a), _hi(zi), neg_a=neg), TOL[dtype])
        gx, ga, gzi = nb.BACKEND.backward(g, a, y, zi, True, True, neg_a=neg, **kw)
        for got, exp in zip((gx, ga, gzi), _ref_grads(x, a, zi, g, neg)):
            assert got.dtype == dtype
            assert_rel_close(got, exp, TOL[dtype])
        gx2, ga2, gzi2 = nb.BACKEND.backward(g, a, None, zi, False, False, neg_a=neg, **kw)
        assert ga2 is None and gzi2 is None
        assert torch.equal(gx2, gx)
    for conj in (False, True):
        u = nb.BACKEND.reverse(g, a, conj_a=conj, **kw)
        assert_rel_close(u, _reference.reverse(_hi(g), _hi(a), conj_a=conj), TOL[dtype])
        y = nb.BACKEND.forward(x, a, zi, conj_a=conj, **kw)
        assert_rel_close(y, _reference.allpole(_hi(x), _hi(a), _hi(zi), conj_a=conj), TOL[dtype])


@pytest.mark.parametrize("schedule,chunk", SCHEDULES, ids=lambda v: str(v))
@pytest.mark.parametrize("T_of_M", ["1", "M-1", "M", "M+1"])
def test_short_signals(schedule, chunk, T_of_M):
    M = 4
    T = {"1": 1, "M-1": M - 1, "M": M, "M+1": M + 1}[T_of_M]
    x, a, zi = make_inputs(2, T, M, torch.float64, seed=T)
    g = torch.randn_like(x)
    y = nb.BACKEND.forward(x, a, zi, schedule=schedule, chunk_len=chunk)
    assert_rel_close(y, _reference.allpole(x, a, zi), 1e-12)
    for got, exp in zip(
        nb.BACKEND.backward(g, a, y, zi, True, True, schedule=schedule, chunk_len=chunk), _ref_grads(x, a, zi, g, False)
    ):
        assert_rel_close(got, exp, 1e-12)


@pytest.mark.parametrize("M", [8, 16, 64])
@pytest.mark.parametrize("schedule,chunk", [("rows", None), ("chunked", 50)], ids=lambda v: str(v))
def test_high_orders(M, schedule, chunk):
    x, a, zi = make_inputs(2, 2 * M + 33, M, torch.float64, seed=M)
    g = torch.randn_like(x)
    y = nb.BACKEND.forward(x, a, zi, schedule=schedule, chunk_len=chunk)
    assert_rel_close(y, _reference.allpole(x, a, zi), 1e-9)
    for got, exp in zip(
        nb.BACKEND.backward(g, a, y, zi, True, True, schedule=schedule, chunk_len=chunk), _ref_grads(x, a, zi, g, False)
    ):
        assert_rel_close(got, exp, 1e-9)


@pytest.mark.parametrize("B", [1, 2, 5])
def test_batch_sizes_and_odd_pairs(B):
    for M in (1, 2, 3):  # M >= 3: rows advanced in pairs by one kernel
        x, a, zi = make_inputs(B, 40, M, torch.float32, seed=B)
        assert_rel_close(nb.BACKEND.forward(x, a, zi), _reference.allpole(_hi(x), _hi(a), _hi(zi)), 2e-4)


def test_expanded_and_strided_inputs_are_read_in_place():
    x, a, zi = make_inputs(3, 64, 2, torch.float64, seed=1)
    a_exp = a[:1, :1].expand(3, 64, 2)  # stride 0 over batch and time
    assert a_exp.stride()[:2] == (0, 0)
    assert nb._np(a_exp).strides[:2] == (0, 0)  # the kernel sees the stride-0 view, no copy
    x_s = torch.randn(3, 128, dtype=torch.float64)[:, ::2]
    for schedule, chunk in SCHEDULES:
        y = nb.BACKEND.forward(x_s, a_exp, zi, schedule=schedule, chunk_len=chunk)
        assert_rel_close(y, _reference.allpole(x_s, a_exp.contiguous(), zi), 1e-12)


def test_bad_schedule_arguments():
    x, a, zi = make_inputs(1, 8, 2, torch.float64)
    with pytest.raises(ValueError, match="schedule must be"):
        nb.BACKEND.forward(x, a, zi, schedule="diagonal")
    with pytest.raises(ValueError, match="chunk_len must be"):
        nb.BACKEND.forward(x, a, zi, schedule="chunked", chunk_len=0)
    g = torch.randn_like(x)
    with pytest.raises(TypeError, match="block_t"):  # a knob of the Triton backend, not this one
        nb.BACKEND.backward(g, a, None, None, False, False, block_t=64)


def test_automatic_schedule_prefers_rows_when_cores_are_few():
    assert nb._pick_schedule(8, 65536, 2, None, None)[0] == "rows" or nb.numba.get_num_threads() >= 20
    assert nb._pick_schedule(1, 100, 2, None, None)[0] == "rows"  # too short to split


@pytest.mark.slow(seconds=10)
def test_compiled_kernels_are_cached_across_processes():
    code = (
        "import torch\n"
        "from tritonlpc.backends import numba_cpu as nb, _numba_forward as f, _numba_reverse as r\n"
        "x = torch.randn(2, 50, dtype=torch.float64); a = torch.zeros(2, 50, 3, dtype=torch.float64)\n"
        "zi = torch.zeros(2, 3, dtype=torch.float64)\n"
        "y = nb.BACKEND.forward(x, a, zi, schedule='rows')\n"
        "nb.BACKEND.backward(x, a, y, zi, True, True, schedule='rows')\n"
        "count = lambda d, k: sum(getattr(d.stats, k).values())\n"
        "fwd = (f.fwd_rows, f.fwd_rows_serial); rev = (r.rev_rows, r.rev_rows_serial)\n"
        "print(sum(count(d, 'cache_hits') for d in fwd), sum(count(d, 'cache_misses') for d in fwd + rev),"
        " sum(count(d, 'cache_hits') for d in rev))\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    runs = [
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=600)
        for _ in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    hits, misses, rev_hits = map(int, runs[1].stdout.split())
    assert hits >= 1 and misses == 0 and rev_hits >= 1, runs[1].stdout


def test_cache_freshness_covers_every_kernel_module():
    """A cached kernel includes helpers from other kernel modules (e.g. ``_numba_frames``), so its
    index entry is stamped with every ``_numba_*.py``, not only its own file: editing any of them
    makes every cached kernel stale (Numba recompiles) instead of loading old code."""
    from tritonlpc.backends import _numba_forward, _numba_support

    modules = {p.name for p in Path(_numba_support.__file__).parent.glob("_numba_*.py")}
    stamp = _numba_support._kernel_sources_stamp()
    assert {name for name, _, _ in stamp} == modules and "_numba_frames.py" in modules
    locator = _numba_forward.fwd_rows_serial._cache._impl.locator
    own, every = locator.get_source_stamp()
    assert every == stamp and own is not None


def _resonator(T: int, radius: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """(1, T, 2) coefficients of a two-pole resonator with per-sample pole radius."""
    return torch.stack([-2 * radius * math.cos(0.3), radius * radius], -1)[None].to(dtype)


def test_unstable_silent_stretch_stays_finite():
    # Pole radius 1.02 over 8192 samples: a float32 chunk map of 4600 samples overflows
    # (1.02^4600 > 1e39). The sequential recursion never forms that map, and with a silent
    # input there its state is exactly zero: the chunked schedule must give the same finite
    # result as the rows schedule (the sequential recursion, checked against the reference
    # in the tests above).
    T = 1 << 14
    n = torch.arange(T)
    zi = torch.zeros(1, 2)
    a_fwd = _resonator(T, torch.where(n < T // 2, 1.02, 0.9), torch.float32)  # unstable, then stable
    x = torch.zeros(1, T)
    x[0, T // 2 + 10] = 1
    # Backward: the reverse recursion walks from T-1 down, so there the unstable stretch is last.
    a_bwd = _resonator(T, torch.where(n >= T // 2, 1.02, 0.9), torch.float32)
    g = torch.zeros(1, T)
    g[0, T // 2 - 10] = 1
    y_bwd = torch.randn(1, T)
    rows = (
        nb.BACKEND.forward(x, a_fwd, zi, schedule="rows"),
        *nb.BACKEND.backward(g, a_bwd, y_bwd, zi, True, True, schedule="rows"),
    )
    for chunk in (4600, 1000):
        kw = dict(schedule="chunked", chunk_len=chunk)
        chunked = (nb.BACKEND.forward(x, a_fwd, zi, **kw), *nb.BACKEND.backward(g, a_bwd, y_bwd, zi, True, True, **kw))
        for got, exp in zip(chunked, rows):
            assert torch.isfinite(exp).all()
            assert torch.isfinite(got).all()
            assert_rel_close(got, exp, 1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_unstable_filter_on_zeros_gives_zeros(dtype):
    # radius 1.1: every chunk map of 8192 samples overflows (1.1^8192 = inf in float64 too)
    T = 1 << 14
    a = torch.full((2, T, 1), -1.1, dtype=dtype)
    zeros = torch.zeros(2, T, dtype=dtype)
    for schedule, chunk in (("rows", None), ("chunked", 8192)):
        kw = dict(schedule=schedule, chunk_len=chunk)
        assert torch.equal(nb.BACKEND.forward(zeros, a, torch.zeros(2, 1, dtype=dtype), **kw), zeros)
        assert torch.equal(nb.BACKEND.reverse(zeros, a, **kw), zeros)


@pytest.mark.parametrize("M", [1, 2, 3])
def test_summary_of_a_long_decaying_slice(M):
    """The unit-state responses of a long stable slice decay below the smallest normal float:
    the slice map drops them (``P == 0``, no subnormal arithmetic) and keeps ``h`` exact."""
    x, a, _ = make_inputs(2, 3000, M, torch.float32, seed=M, max_radius=0.9)
    P, h, e = nb.BACKEND.summary(x, a)
    assert not e.any()
    assert torch.equal(P, torch.zeros_like(P))
    zero = torch.zeros(2, M)
    assert_rel_close(h, _reference.end_state(_reference.allpole(_hi(x), _hi(a), _hi(zero)), _hi(zero)), 1e-5)


def _growth_then_decay(T, M, dtype, start, K):
    """(1, T, M) coefficients of an M-fold pole: radius 2 over [start, start + K), 0.5 elsewhere
    (rotated by 0.3 rad for complex dtypes)."""
    n = torch.arange(T)
    r = torch.where((n >= start) & (n < start + K), 2.0, 0.5).double()
    p = r * torch.exp(1j * torch.tensor(0.3)) if dtype.is_complex else r
    a = torch.stack([math.comb(M, i) * (-p) ** i for i in range(1, M + 1)], -1)
    return a[None].to(dtype)


@pytest.mark.parametrize(
    "M,dtype", [(1, torch.float32), (2, torch.float32), (4, torch.float32), (1, torch.float64), (2, torch.complex128)]
)
@pytest.mark.slow(seconds=20)
def test_tiny_state_through_an_overflowing_chunk_map(M, dtype):
    # A tiny state crosses a stretch of growth (x 2^K) then decays: the recursion peaks far
    # below the float range, but the chunk map of the stretch (growth 2^K alone) overflows
    # unless kept with a separate exponent. Every schedule must stay finite where the
    # sequential one does, forward and in the adjoint direction.
    f32 = dtype == torch.float32
    T, K, chunk, tiny = (4096, 170, 512, 1e-30) if f32 else (8192, 1200, 2048, 1e-300)
    # the state enters the chunk of the stretch from the chunk before it (after it: reverse)
    a_fwd = _growth_then_decay(T, M, dtype, chunk + 8, K)
    a_bwd = _growth_then_decay(T, M, dtype, 2 * chunk - 8 - K, K)
    x = torch.zeros(1, T, dtype=dtype)
    x[0, chunk - 8] = tiny
    g = torch.zeros(1, T, dtype=dtype)
    g[0, 2 * chunk + 8] = tiny
    zi = torch.zeros(1, M, dtype=dtype)
    tol = 1e-4 if dtype in (torch.float32, torch.complex64) else 1e-9
    for neg in (False, True):  # neg_a: linear_recurrence's form at M = 1
        af, ab = (-a_fwd, -a_bwd) if neg else (a_fwd, a_bwd)
        y = nb.BACKEND.forward(x, af, zi, neg_a=neg, schedule="rows")
        yb = nb.BACKEND.forward(x, ab, zi, neg_a=neg, schedule="rows")
        rows = (y, *nb.BACKEND.backward(g, ab, yb, zi, True, True, neg_a=neg, schedule="rows"))
        rows += (nb.BACKEND.reverse(g, ab, neg_a=neg, schedule="rows"),)
        assert y.abs().max() > 1e10 and rows[1].abs().max() > 1e10  # it did grow
        kw = dict(schedule="chunked", chunk_len=chunk)
        chunked = (nb.BACKEND.forward(x, af, zi, neg_a=neg, **kw),)
        chunked += (*nb.BACKEND.backward(g, ab, yb, zi, True, True, neg_a=neg, **kw),)
        chunked += (nb.BACKEND.reverse(g, ab, neg_a=neg, **kw),)
        for got, exp in zip(chunked, rows):
            assert torch.isfinite(exp).all()
            assert torch.isfinite(got).all()
            assert_rel_close(got, exp, tol)


def test_issue_21_repro_on_the_chunked_schedule():
    T = 4096
    a = torch.full((1, T, 1), -0.5)
    a[:, :256] = -1.0
    a[:, 256:456] = -2.0
    x = torch.zeros(1, T)
    x[0, 0] = 1e-30
    zi = torch.zeros(1, 1)
    exp = nb.BACKEND.forward(x, a, zi, schedule="rows")
    for chunk in (256, 1024, 4096):
        got = nb.BACKEND.forward(x, a, zi, schedule="chunked", chunk_len=chunk)
        assert torch.isfinite(got).all()
        assert_rel_close(got, exp, 1e-5)
