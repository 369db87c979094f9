"""Delay-line effects (tritonlpc.audio.delay, tritonlpc.audio.modulation) against plain float64
loops of their definitions, gradcheck, block streaming and argument errors, on every backend
(the Triton kernels in the interpreter on CPU: tiny shapes)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck

import tritonlpc
from tritonlpc.audio import chorus, comb_filter, feedback_delay_network, flanger, fractional_delay, lfo_delay

F64 = torch.float64


# --------------------------------------------------------------------------- float64 references
def ref_comb(x, d, g, zi, c, feedback):
    """y[n] = c x[n] + g[n] v(n - d[n]), v = y (feedback) or x, linear interpolation."""
    B, T = x.shape
    x = x.double().tolist()
    d = torch.as_tensor(d, dtype=F64).expand(B, T).tolist()
    g = torch.as_tensor(g, dtype=F64).expand(B, T).tolist()
    zi = zi.double().tolist() if zi is not None else [[] for _ in range(B)]
    out = []
    for b in range(B):
        y = [0.0] * T
        v, L = (y if feedback else x[b]), len(zi[b])

        def read(j, v=v, h=zi[b], L=L):
            return v[j] if j >= 0 else (h[L + j] if j >= -L else 0.0)

        for n in range(T):
            k = math.floor(d[b][n])
            f = d[b][n] - k
            y[n] = c * x[b][n] + g[b][n] * ((1 - f) * read(n - k) + f * read(n - k - 1))
        out.append(y)
    return torch.tensor(out, dtype=F64)


def ref_fdn(x, m, A, bi, co, dg, zi):
    B, T = x.shape
    N, L = len(m), max(m)
    A = A.double()
    A = (A[None, None] if A.dim() == 2 else A[:, None] if A.dim() == 3 else A).expand(B, T, N, N).tolist()
    bi, co = bi.double().expand(B, N).tolist(), co.double().expand(B, N).tolist()
    dg = torch.as_tensor(dg, dtype=F64).expand(B).tolist()
    zi = zi.double().tolist() if zi is not None else [[[0.0] * L for _ in range(N)] for _ in range(B)]
    x = x.double().tolist()
    out = []
    for b in range(B):
        s = [[0.0] * T for _ in range(N)]
        y = [0.0] * T
        for n in range(T):
            r = [s[j][n - m[j]] if n >= m[j] else zi[b][j][L + n - m[j]] for j in range(N)]
            y[n] = sum(co[b][j] * r[j] for j in range(N)) + dg[b] * x[b][n]
            for i in range(N):
                s[i][n] = bi[b][i] * x[b][n] + sum(A[b][n][i][j] * r[j] for j in range(N))
        out.append(y)
    return torch.tensor(out, dtype=F64)


def _rand(*shape, gen, lo=-1.0, hi=1.0):
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=F64)


def _check_grads(backend, fn, ins):
    """gradcheck on Numba; in the Triton interpreter (slow) one backward against Numba's."""
    if not backend.interpreted:
        assert gradcheck(fn, ins)
        return
    outs = fn(*ins)
    outs = outs if isinstance(outs, tuple) else (outs,)
    gen = torch.Generator().manual_seed(0)
    gos = [torch.randn(o.shape, generator=gen, dtype=o.dtype) for o in outs]
    got = torch.autograd.grad(outs, ins, gos)
    with tritonlpc.use_backend("numba"):
        want = torch.autograd.grad(fn(*ins), ins, gos)
    for g, w in zip(got, want):
        torch.testing.assert_close(g, w, rtol=1e-10, atol=1e-12)


def _off_integer(d):
    """Move delays away from integers (the delay gradient jumps there)."""
    return d.floor() + 0.2 + 0.6 * (d - d.floor())


# --------------------------------------------------------------------------- comb / fractional delay
@pytest.mark.parametrize("feedback", [True, False])
def test_comb_matches_reference(backend, feedback):
    gen = torch.Generator().manual_seed(1)
    B, T = 2, 37
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _rand(B, T, gen=gen, lo=1.0, hi=6.0)
    g = _rand(B, T, gen=gen, lo=-0.9, hi=0.9)
    zi = torch.randn(B, 7, generator=gen, dtype=F64)
    for zz in (zi, None):
        y = comb_filter(x, d, g, feedback=feedback, zi=zz)
        torch.testing.assert_close(y, ref_comb(x, d, g, zz, 1.0, feedback), rtol=1e-12, atol=1e-12)
    y = fractional_delay(x, d - 1.0, zi=zi)
    torch.testing.assert_close(y, ref_comb(x, d - 1.0, 1.0, zi, 0.0, False), rtol=1e-12, atol=1e-12)
    # numbers, broadcast tensors and float32
    y32 = comb_filter(x.float(), d[:1].float(), 0.5, feedback=feedback)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), ref_comb(x, d[:1].float(), 0.5, None, 1.0, feedback), rtol=1e-5, atol=1e-5)
    y = comb_filter(x, 3.25, g[0], feedback=feedback)
    torch.testing.assert_close(y, ref_comb(x, 3.25, g[0], None, 1.0, feedback), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("feedback", [True, False])
def test_comb_streams_in_blocks(backend, feedback):
    gen = torch.Generator().manual_seed(2)
    B, T = 2, 30
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _rand(B, T, gen=gen, lo=1.0, hi=5.5)
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8)
    whole, zf_whole = comb_filter(x, d, g, feedback=feedback, return_zf=True)
    assert zf_whole.shape == (B, math.floor(float(d.max())) + 1)
    zi = torch.zeros(B, 6, dtype=F64)
    parts = []
    for s in (slice(0, 4), slice(4, 17), slice(17, T)):  # the first block is shorter than zi
        y, zi = comb_filter(x[:, s], d[:, s], g[:, s], feedback=feedback, zi=zi, return_zf=True)
        parts.append(y)
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(zi[:, -zf_whole.shape[1] :], zf_whole)


@pytest.mark.parametrize("kind", ["feedback", "feedforward", "fractional"])
def test_comb_gradcheck(backend, kind):
    gen = torch.Generator().manual_seed(3)
    B, T = 2, 10
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _off_integer(_rand(B, T, gen=gen, lo=1.0, hi=4.0))
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8)
    zi = torch.randn(B, 5, generator=gen, dtype=F64)
    ins = [t.requires_grad_() for t in (x, d, g, zi)]
    if kind == "fractional":
        fn = lambda x, d, g, zi: fractional_delay(x, d, zi=zi, return_zf=True)[0] * g  # noqa: E731
    else:
        fn = lambda x, d, g, zi: comb_filter(x, d, g, feedback=kind == "feedback", zi=zi, return_zf=True)  # noqa: E731
    _check_grads(backend, fn, ins)


def test_comb_delay_gradient_is_the_interpolation_slope():
    x = torch.tensor([[1.0, 3.0, 7.0, 0.0, 0.0]], dtype=F64)
    d = torch.full((1, 5), 1.5, dtype=F64, requires_grad=True)
    y = fractional_delay(x, d)
    torch.testing.assert_close(y.detach(), torch.tensor([[0.0, 0.5, 2.0, 5.0, 3.5]], dtype=F64))
    y.sum().backward()
    # dy[n]/dd[n] = x[n-2] - x[n-1]
    torch.testing.assert_close(d.grad, torch.tensor([[0.0, -1.0, -2.0, -4.0, 7.0]], dtype=F64))


def test_tensor_delay_below_minimum_and_nan():
    x = torch.ones(1, 6, dtype=F64)
    d = torch.tensor([[0.2, 1.0, float("nan"), 1.0, 1.0, 1.0]], dtype=F64, requires_grad=True)
    y = comb_filter(x, d, 0.5)
    ref = ref_comb(x, torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0, 1.0]]), 0.5, None, 1.0, True)
    assert y[0, 2].isnan() and torch.equal(y[0, :2], ref[0, :2])
    (y[0, :2].sum()).backward()
    assert d.grad[0, 0] == 0  # clamped to 1: no gradient


# --------------------------------------------------------------------------- FDN
@pytest.mark.parametrize("a_shape", ["NN", "BNN", "BTNN"])
def test_fdn_matches_reference(backend, a_shape):
    gen = torch.Generator().manual_seed(4)
    B, T, m = 2, 23, [2, 3, 5]
    N = len(m)
    x = torch.randn(B, T, generator=gen, dtype=F64)
    shape = {"NN": (N, N), "BNN": (B, N, N), "BTNN": (B, T, N, N)}[a_shape]
    A = 0.4 * torch.randn(*shape, generator=gen, dtype=F64)
    bi, co = torch.randn(N, generator=gen, dtype=F64), torch.randn(B, N, generator=gen, dtype=F64)
    zi = torch.randn(B, N, 5, generator=gen, dtype=F64)
    dg = torch.tensor([0.3, -0.2], dtype=F64)
    y = feedback_delay_network(x, m, A, bi, co, dg, zi=zi)
    torch.testing.assert_close(y, ref_fdn(x, m, A, bi, co, dg, zi), rtol=1e-12, atol=1e-12)
    y32 = feedback_delay_network(x.float(), m, A.float(), bi.float(), co.float(), 0.5)
    torch.testing.assert_close(
        y32.double(), ref_fdn(x, m, A.float(), bi.float(), co.float(), 0.5, None), rtol=1e-4, atol=1e-5
    )


def test_fdn_gradcheck_and_streaming(backend):
    gen = torch.Generator().manual_seed(5)
    B, T, m = 2, 8, [1, 3]
    N = len(m)
    x = torch.randn(B, T, generator=gen, dtype=F64)
    ins = [
        x,
        0.5 * torch.randn(B, T, N, N, generator=gen, dtype=F64),
        torch.randn(N, generator=gen, dtype=F64),
        torch.randn(B, N, generator=gen, dtype=F64),
        torch.tensor(0.3, dtype=F64),
        torch.randn(B, N, 3, generator=gen, dtype=F64),
    ]
    ins = [t.requires_grad_() for t in ins]

    def fn(x, A, bi, co, dg, zi):
        return feedback_delay_network(x, m, A, bi, co, dg, zi=zi, return_zf=True)

    _check_grads(backend, fn, ins)
    x, A, bi, co, dg, zi = (t.detach() for t in ins)
    whole, zf = fn(x, A, bi, co, dg, zi)
    y1, z1 = fn(x[:, :2], A[:, :2], bi, co, dg, zi)
    y2, z2 = fn(x[:, 2:], A[:, 2:], bi, co, dg, z1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), whole)
    torch.testing.assert_close(z2, zf)


# --------------------------------------------------------------------------- flanger / chorus
def test_flanger_and_chorus_match_reference():
    gen = torch.Generator().manual_seed(6)
    B, T, fs = 2, 300, 8000.0
    x = torch.randn(B, T, generator=gen, dtype=F64)
    n = torch.arange(T, dtype=F64)
    rate, fb = torch.tensor([3.0, 5.0], dtype=F64), torch.tensor([0.6, -0.4], dtype=F64)
    y = flanger(x, 0.5, 2.0, rate, 0.3, fb, 0.7, fs)
    d = (0.5 + 2.0 * 0.5 * (1 - torch.cos(2 * math.pi * rate[:, None] * n / fs + 0.3))) * fs / 1000
    w = ref_comb(x, d, fb[:, None], None, 1.0, True)
    ref = 0.3 * x + 0.7 * ref_comb(w, d, 1.0, None, 0.0, False)
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-10)
    V = 3
    y = chorus(x, V, torch.tensor([5.0, 7.0, 9.0], dtype=F64), 2.0, 1.5, 0.1, 0.4, fs)
    wet = 0
    for v, base in enumerate((5.0, 7.0, 9.0)):
        d = (base + 2.0 * 0.5 * (1 - torch.cos(2 * math.pi * 1.5 * n / fs + 0.1 + 2 * math.pi * v / V))) * fs / 1000
        wet = wet + ref_comb(x, d.expand(B, T), 1.0, None, 0.0, False) / V
    torch.testing.assert_close(y, 0.6 * x + 0.4 * wet, rtol=1e-10, atol=1e-10)


def test_flanger_and_chorus_gradcheck():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, 24, generator=gen, dtype=F64)
    p = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (0.43, 0.71, 900.0, 0.2, 0.5, 0.6)]
    assert gradcheck(lambda *p: flanger(x, *p, sample_rate=8000.0), p)
    q = [torch.tensor(v, dtype=F64, requires_grad=True) for v in ([1.1, 1.6], 0.63, [700.0, 500.0], 0.3, 0.5)]
    assert gradcheck(lambda *q: chorus(x, 2, *q, sample_rate=8000.0), q)


def test_lfo_delay_range():
    d = lfo_delay(1000, 1.0, 3.0, 5.0, 0.0, 1000.0)
    assert d.shape == (1, 1000) and float(d.min()) == pytest.approx(1.0) and float(d.max()) == pytest.approx(4.0)


# --------------------------------------------------------------------------- argument errors
@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: comb_filter(x, 0.5, 0.3), "delay must be >= 1"),
        (lambda x: comb_filter(x, float("nan"), 0.3), "delay must not be NaN"),
        (lambda x: fractional_delay(x, -1.0), "delay must be >= 0"),
        (lambda x: comb_filter(x, 2.0, 1.0), "gain must be"),
        (lambda x: comb_filter(x, 2.0, -1.5), "gain must be"),
        (lambda x: comb_filter(x, 4.5, 0.3, zi=torch.zeros(2, 4)), "zi must hold at least"),
        (lambda x: comb_filter(x, 2.0, 0.3, zi=torch.zeros(3, 4)), "zi must have shape"),
        (lambda x: comb_filter(x, torch.ones(3, 10), 0.3), "delay must broadcast"),
        (lambda x: comb_filter(x[0], 2.0, 0.3), "x must have shape"),
        (lambda x: _fdn(x, [2, 0]), "delays must be integers >= 1"),
        (lambda x: _fdn(x, [2, 1.5]), "delays must be integers >= 1"),
        (lambda x: _fdn(x, []), "delays must name at least one"),
        (lambda x: _fdn(x, [2, 3], zi=torch.zeros(2, 2, 2)), "zi must have shape"),
        (lambda x: _fdn(x, [2, 3], A=torch.zeros(3, 3)), "feedback_matrix must have shape"),
        (lambda x: flanger(x, delay_ms=0.001), "delay_ms must be"),
        (lambda x: flanger(x, feedback=1.0), "feedback must be"),
        (lambda x: chorus(x, mix=1.5), "mix must be"),
        (lambda x: chorus(x, voices=0), "voices must be >= 1"),
        (lambda x: chorus(x, 2, delay_ms=torch.ones(3)), "delay_ms must have shape"),
        # the list: delay < 1 with feedback, NaN delays, FDN delays, zi length, |gain| >= 1
        (lambda x: comb_filter(x, 0.999, 0.3, zi=torch.zeros(2, 4)), "delay must be >= 1 with feedback"),
        (lambda x: comb_filter(x, float("nan"), 0.3, feedback=False), "delay must not be NaN"),
        (lambda x: fractional_delay(x, float("nan")), "delay must not be NaN"),
        (lambda x: comb_filter(x, 2.0, float("nan")), "gain must be"),
        (lambda x: _fdn(x, [3, -2]), "delays must be integers >= 1"),
        (lambda x: _fdn(x, [2.0, 3]), "delays must be integers >= 1"),
        (lambda x: fractional_delay(x, 3.5, zi=torch.zeros(2, 3)), "zi must hold at least"),
        (lambda x: flanger(x, 1.0, 3.0, sample_rate=1000.0, zi=torch.zeros(2, 4)), "zi must hold at least"),
        (lambda x: flanger(x, zi=torch.zeros(3, 400)), "zi must have shape"),
        (lambda x: chorus(x, 2, 10.0, 5.0, sample_rate=1000.0, zi=torch.zeros(2, 15)), "zi must hold at least"),
        (lambda x: chorus(x, zi=torch.zeros(1, 2000)), "zi must have shape"),
    ],
)
def test_bad_arguments_raise_value_error(call, match):
    with pytest.raises(ValueError, match=match):
        call(torch.zeros(2, 10))


def _fdn(x, delays, A=None, zi=None):
    N = len(delays)
    A = torch.zeros(N, N) if A is None else A
    return feedback_delay_network(x, delays, A, torch.ones(N), torch.ones(N), zi=zi)


def test_type_errors_name_the_argument():
    x = torch.zeros(1, 8)
    with pytest.raises(TypeError, match="gain must be"):
        comb_filter(x, 2.0, "0.5")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="feedback must be a bool"):
        comb_filter(x, 2.0, 0.3, feedback=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="return_zf must be a bool"):
        chorus(x, return_zf=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="zi must be"):
        chorus(x, zi=[[0.0] * 800])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="delays must be a sequence"):
        feedback_delay_network(x, torch.tensor([1, 2]), torch.zeros(2, 2), torch.ones(2), torch.ones(2))  # type: ignore[arg-type]


def test_backend_table_uses_the_dispatch_point():
    from tritonlpc.audio import delay

    assert set(delay._KERNELS) == {"numba", "triton"}
    assert tritonlpc.backend_for(torch.zeros(1)) in delay._KERNELS


@pytest.mark.parametrize("feedback", [True, False])
def test_comb_long_blocks_match_numba(backend, feedback):
    """Several Triton programs (feed-forward) and full-width blocks (feedback: delays > BLOCK)."""
    gen = torch.Generator().manual_seed(8)
    B, T = 2, 260
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _rand(B, T, gen=gen, lo=1.0, hi=3.0)
    d[:, 40:] += 140.0  # long delays: blocks of up to BLOCK samples
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8)
    zi = torch.randn(B, 150, generator=gen, dtype=F64)
    ins = [t.requires_grad_() for t in (x, d, g, zi)]
    if backend.interpreted:  # gradients against Numba's (gradchecked above)
        _check_grads(backend, lambda x, d, g, zi: comb_filter(x, d, g, feedback=feedback, zi=zi), ins)
    y = comb_filter(x, d, g, feedback=feedback, zi=zi)
    torch.testing.assert_close(
        y.detach(), ref_comb(x.detach(), d.detach(), g.detach(), zi.detach(), 1.0, feedback), rtol=1e-12, atol=1e-12
    )


@pytest.mark.slow(seconds=12)
def test_triton_kernels_compile_for_sm90_without_spills(tmp_path):
    """Every delay kernel (float32, FDN N = 8) compiles for sm_90 with no spills (no GPU needed)."""
    pytest.importorskip("triton")
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(root), env.get("PYTHONPATH", "")])
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")
    out = tmp_path / "v.json"
    cmd = [sys.executable, str(root / "bench" / "sm90_delay.py"), "--json", str(out)]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    if p.returncode != 0 and "ptxas" in p.stdout + p.stderr and "No such file" in p.stdout + p.stderr:
        pytest.skip("Triton's ptxas is not available on this platform")
    assert p.returncode == 0, p.stdout + p.stderr
    variants = json.loads(out.read_text())["variants"]
    names = {v["kernel"] for v in variants}
    assert names == {
        "_comb_fwd_kernel",
        "_comb_bwd_kernel",
        "_comb_ff_bwd_kernel",
        "_fdn_fwd_kernel",
        "_fdn_bwd_kernel",
    }
    assert (
        len(variants) == 7
    )  # comb: 2 kinds x 2 directions (feed-forward backward: its own kernel); FDN: forward, backward x (fixed, time-varying A)
    assert all(v["spill_stores"] == 0 and v["spill_loads"] == 0 and v["regs"] <= 255 for v in variants), variants


def test_flanger_streams_in_blocks():
    gen = torch.Generator().manual_seed(9)
    B, T, fs = 2, 200, 8000.0
    x = torch.randn(B, T, generator=gen, dtype=F64)
    kw = dict(delay_ms=0.5, depth_ms=2.0, rate_hz=7.0, feedback=0.6, mix=0.5, sample_rate=fs)
    whole = flanger(x, phase=0.3, **kw)
    zi = torch.zeros(B, 25, dtype=F64)  # >= floor(max delay) + 1 = 21
    y1, zi = flanger(x[:, :70], phase=0.3, zi=zi, return_zf=True, **kw)
    y2 = flanger(x[:, 70:], phase=0.3 + 2 * math.pi * 7.0 * 70 / fs, zi=zi, **kw)
    torch.testing.assert_close(torch.cat([y1, y2], 1), whole, rtol=1e-9, atol=1e-9)


def test_numba_kernel_never_reads_unwritten_output():
    """Reads before the history are zero, not ``y[0] * 0`` of a not yet written (NaN) output."""
    import numpy as np

    from tritonlpc.backends import _numba_delay as nd

    x = np.ones((1, 4))
    y = np.full((1, 4), np.nan)
    d = np.full((1, 4), 1.5)
    nd.comb_fwd_serial(x, y, d, np.full((1, 4), 0.5), np.zeros((1, 0)), y, 1.0, 1.0, 1.0)
    ref = ref_comb(torch.ones(1, 4, dtype=F64), 1.5, 0.5, None, 1.0, True)
    np.testing.assert_allclose(y, ref.numpy())


def test_single_line_fdn_is_a_delayed_comb(backend):
    """N = 1: s[n] = x[n] + g s[n - m], y[n] = s[n - m]."""
    gen = torch.Generator().manual_seed(10)
    x = torch.randn(2, 40, generator=gen, dtype=F64)
    one = torch.ones(1, dtype=F64)
    y = feedback_delay_network(x, [3], torch.tensor([[0.5]], dtype=F64), one, one)
    ref = fractional_delay(comb_filter(x, 3.0, 0.5), 3.0)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)


def _colliding_delays(B, T, gen, lo=-3):
    """Delays that move every sample so that many lanes read the same samples: after the first
    10 samples, each sample reads at a random integer target in ``[lo, 3]`` (``lo < 0``: in
    ``zi``) plus a fraction, so both interpolation taps of different samples collide."""
    n = torch.arange(T, dtype=F64)
    target = torch.randint(lo, 4, (B, T), generator=gen).to(F64)
    d = torch.where(
        n < 10, 1.0 + _rand(B, T, gen=gen, lo=0.2, hi=0.8), n - target + _rand(B, T, gen=gen, lo=0.2, hi=0.8)
    )
    return d


@pytest.mark.parametrize("feedback", [True, False])
def test_comb_gradients_with_colliding_reads(backend, feedback):
    """Two (or many) samples of a Triton backward block send their adjoints to one sample, in y
    and in zi: the feedback block gather and the feed-forward target gather (Numba's scatter is a
    serial loop, where collisions are no special case: gradchecked above)."""
    if backend.name == "numba":
        pytest.skip("collisions are a Triton block-scatter case; Numba's serial scatter is gradchecked above")
    gen = torch.Generator().manual_seed(11)
    B, T = 2, 30
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _colliding_delays(B, T, gen)
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8)
    zi = torch.randn(B, 5, generator=gen, dtype=F64)
    ins = [t.to(backend.device).requires_grad_() for t in (x, d, g, zi)]
    _check_grads(backend, lambda x, d, g, zi: comb_filter(x, d, g, feedback=feedback, zi=zi), ins)


@pytest.mark.parametrize("feedback", [True, False])
def test_comb_backward_is_deterministic(backend, feedback):
    """Two runs give bitwise equal gradients (colliding reads: a scatter by atomic adds could
    sum them in another order), and the Triton kernels use no atomics at all."""
    if backend.name == "triton":
        import inspect

        from tritonlpc.backends.triton import delay as triton_delay

        assert "tl.atomic_" not in inspect.getsource(triton_delay)
    gen = torch.Generator().manual_seed(12)
    B, T = 2, 90
    x = torch.randn(B, T, generator=gen, dtype=torch.float32).to(backend.device)
    d = _colliding_delays(B, T, gen).float().to(backend.device)
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8).float().to(backend.device)
    zi = torch.randn(B, 5, generator=gen, dtype=torch.float32).to(backend.device)
    gy = torch.randn(B, T, generator=gen, dtype=torch.float32).to(backend.device)
    runs = []
    for _ in range(2):
        ins = [t.clone().requires_grad_() for t in (x, d, g, zi)]
        runs.append(torch.autograd.grad(comb_filter(ins[0], ins[1], ins[2], feedback=feedback, zi=ins[3]), ins, gy))
    for a, b in zip(*runs):
        assert torch.equal(a, b)


@pytest.mark.parametrize("numbers", [True, False])
def test_chorus_streams_in_blocks(numbers):
    """Blocks with zi/zf equal one call, with number and (learnable) tensor voice parameters."""
    gen = torch.Generator().manual_seed(13)
    B, T, fs, V = 2, 160, 8000.0, 3
    x = torch.randn(B, T, generator=gen, dtype=F64)
    delay = 0.5 if numbers else torch.tensor([0.5, 0.9, 1.3], dtype=F64, requires_grad=True)
    rate = torch.tensor([[5.0], [7.0]], dtype=F64)
    kw = dict(voices=V, delay_ms=delay, depth_ms=1.5, rate_hz=rate, mix=0.6, sample_rate=fs)
    whole, zf_whole = chorus(x, phase=0.2, return_zf=True, **kw)
    L = math.floor((0.5 + 1.5) * fs / 1000) + 1 if numbers else zf_whole.shape[1]
    assert zf_whole.shape == (B, L)
    torch.testing.assert_close(zf_whole, x[:, -L:])
    # numbers: the state's length is known up front; tensors: start from zeros that long
    parts, zi, t0 = [], (None if numbers else torch.zeros(B, L, dtype=F64)), 0
    for t1 in (11, 90, T):  # the first block is shorter than the state
        ph = 0.2 + 2 * math.pi * rate * t0 / fs
        y, zi = chorus(x[:, t0:t1], phase=ph, zi=zi, return_zf=True, **kw)
        assert zi.shape == (B, L)
        parts.append(y)
        t0 = t1
    torch.testing.assert_close(torch.cat(parts, 1), whole, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(zi, zf_whole)
    # zi is differentiable: the second block's output depends on the first block's input
    x1 = x[:, :40].clone().requires_grad_()
    _, z = chorus(x1, phase=0.2, return_zf=True, **kw)
    chorus(x[:, 40:80], phase=0.2 + 2 * math.pi * rate * 40 / fs, zi=z, **kw).sum().backward()
    assert x1.grad is not None and x1.grad[:, -L:].abs().sum() > 0 and x1.grad[:, : 40 - L].abs().sum() == 0


def test_feedforward_gradients_with_reads_beyond_the_history(backend):
    """Delays from 0 to past ``zi`` (reads of zero) and NaN in one row: the Triton gather bounds
    its sources by each row's delay range; gradients match Numba's (gradcheck on Numba)."""
    gen = torch.Generator().manual_seed(14)
    B, T = 2, 20
    x = torch.randn(B, T, generator=gen, dtype=F64)
    d = _off_integer(_rand(B, T, gen=gen, lo=0.0, hi=30.0))
    d[0, 5] = 200.0  # beyond T + L: reads zero
    g = _rand(B, T, gen=gen, lo=-0.8, hi=0.8)
    zi = torch.randn(B, 3, generator=gen, dtype=F64)
    ins = [t.to(backend.device).requires_grad_() for t in (x, d, g, zi)]
    _check_grads(backend, lambda x, d, g, zi: comb_filter(x, d, g, feedback=False, zi=zi), ins)
    x, d, g, zi = (t.detach().clone() for t in ins)
    d[1, 7] = float("nan")
    y = comb_filter(x, d, g, feedback=False, zi=zi)
    torch.testing.assert_close(y[:, :7].cpu(), ref_comb(x[:, :7], d[:, :7], g[:, :7], zi, 1.0, False))
    assert y[1, 7].isnan() and not y[0].isnan().any()
