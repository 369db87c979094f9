"""tritonlpc.audio: every addition against a plain sequential float64 reference, gradients,
and argument errors, on every backend (the Triton kernels in the interpreter without CUDA,
with small T there)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import tritonlpc
from tritonlpc import _reference, audio
from tritonlpc.audio import compressor as comp_mod
from tritonlpc.testing import assert_rel_close

F64 = torch.float64


def _T(backend, full: int, interpreted: int = 12) -> int:
    return interpreted if backend.interpreted else full


def _smooth_coeffs(B: int, T: int, gen: torch.Generator, radius: float = 0.9):
    """Slowly varying stable biquad denominators and random numerators, float64."""
    t = torch.linspace(0, 1, T, dtype=F64)
    r = radius * (0.6 + 0.4 * torch.rand(B, 1, generator=gen, dtype=F64))
    th = math.pi * (0.1 + 0.6 * torch.rand(B, 1, generator=gen, dtype=F64)) * (1 + 0.5 * t)
    a = torch.stack([-2 * r * torch.cos(th), (r * r).expand(B, T)], -1)
    b = torch.randn(B, 1, 3, generator=gen, dtype=F64) + 0.1 * torch.randn(B, T, 3, generator=gen, dtype=F64)
    return b, a


def _ref_iir(x, b, a, zx=None, zy=None):
    """Sequential direct form I: y[n] = sum_k b[n,k] x[n-k] - sum_i a[n,i-1] y[n-i]."""
    B, T = x.shape
    K, M = b.shape[2] - 1, a.shape[2]
    xs = [zx[:, k] for k in range(K)] if zx is not None else [x.new_zeros(B) for _ in range(K)]
    ys = [zy[:, i] for i in range(M)] if zy is not None else [x.new_zeros(B) for _ in range(M)]
    out = []
    for n in range(T):
        acc = b[:, n, 0] * x[:, n]
        for k in range(1, K + 1):
            acc = acc + b[:, n, k] * xs[k - 1]
        for i in range(1, M + 1):
            acc = acc - a[:, n, i - 1] * ys[i - 1]
        out.append(acc)
        xs = [x[:, n]] + xs[:-1] if K else xs
        ys = [acc] + ys[:-1] if M else ys
    return torch.stack(out, 1)


def _ref_smooth(f, at, rt, zi):
    prev, out = zi, []
    for n in range(f.shape[1]):
        beta = torch.where(f[:, n] < prev, at, rt)
        prev = beta * f[:, n] + (1 - beta) * prev
        out.append(prev)
    return torch.stack(out, 1)


# --------------------------------------------------------------------------- FIR / IIR
def test_fir_matches_reference_and_streams():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(2, 30, generator=gen, dtype=F64)
    b = torch.randn(2, 30, 4, generator=gen, dtype=F64)
    zi = torch.randn(2, 3, generator=gen, dtype=F64)
    y, zf = audio.time_varying_fir(x, b, zi, return_zf=True)
    ref = _ref_iir(x, b, x.new_zeros(2, 30, 0), zi)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    y1, z1 = audio.time_varying_fir(x[:, :2], b[:, :2], zi, return_zf=True)  # T < K
    y2 = audio.time_varying_fir(x[:, 2:], b[:, 2:], z1)
    torch.testing.assert_close(torch.cat([y1, y2], 1), y, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(zf, x[:, -3:].flip(1))


@pytest.mark.parametrize("K,M", [(2, 2), (0, 3), (4, 5), (3, 0)])
def test_iir_matches_reference(backend, K, M):
    T = _T(backend, 64, 12)
    gen = torch.Generator().manual_seed(K * 10 + M)
    x = torch.randn(2, T, generator=gen, dtype=F64)
    b = torch.randn(2, T, K + 1, generator=gen, dtype=F64)
    a = 0.3 / max(M, 1) * torch.tanh(torch.randn(2, 1, M, generator=gen, dtype=F64)) + 0.01 * torch.randn(
        2, T, M, generator=gen, dtype=F64
    )
    zx, zy = torch.randn(2, K, generator=gen, dtype=F64), torch.randn(2, M, generator=gen, dtype=F64)
    dev = backend.device
    y = audio.time_varying_iir(x.to(dev), b.to(dev), a.to(dev), (zx.to(dev), zy.to(dev)))
    torch.testing.assert_close(y.cpu(), _ref_iir(x, b, a, zx, zy), rtol=1e-10, atol=1e-10)


def test_iir_block_streaming_equals_one_call(backend):
    T = _T(backend, 50, 12)
    gen = torch.Generator().manual_seed(1)
    b, a = _smooth_coeffs(2, T, gen)
    x = torch.randn(2, T, generator=gen, dtype=F64)
    dev = backend.device
    x, b, a = x.to(dev), b.to(dev), a.to(dev)
    full = audio.time_varying_biquad(x, b, a)
    cut = T // 3
    y1, state = audio.time_varying_biquad(x[:, :cut], b[:, :cut], a[:, :cut], return_zf=True)
    y2 = audio.time_varying_biquad(x[:, cut:], b[:, cut:], a[:, cut:], state)
    torch.testing.assert_close(torch.cat([y1, y2], 1), full, rtol=1e-10, atol=1e-12)


def test_iir_gradients_match_reference(backend):
    T = _T(backend, 40, 10)
    gen = torch.Generator().manual_seed(2)
    b, a = _smooth_coeffs(2, T, gen)
    x = torch.randn(2, T, generator=gen, dtype=F64)
    zx, zy = torch.randn(2, 2, generator=gen, dtype=F64), torch.randn(2, 2, generator=gen, dtype=F64)
    g = torch.randn(2, T, generator=gen, dtype=F64)
    leaves = [t.clone().requires_grad_() for t in (x, b, a, zx, zy)]
    ref = torch.autograd.grad(_ref_iir(*leaves), leaves, g)
    dev_leaves = [t.detach().to(backend.device).requires_grad_() for t in leaves]
    y = audio.time_varying_iir(dev_leaves[0], dev_leaves[1], dev_leaves[2], (dev_leaves[3], dev_leaves[4]))
    got = torch.autograd.grad(y, dev_leaves, g.to(backend.device))
    for gg, rr in zip(got, ref):
        torch.testing.assert_close(gg.cpu(), rr, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize(
    "dtype,B,T,K,H",
    [
        (F64, 3, 37, 2, 8),  # odd T, a power-of-two hop; odd B (rows in parallel)
        (torch.complex128, 2, 23, 3, 5),  # a hop that is not a power of two
        (F64, 1, 2, 4, 3),  # T < K: past inputs only
        (F64, 2, 19, 1, None),  # per-sample taps
    ],
)
def test_fir_kernels_interpolate_frames_and_reduce_their_gradient(dtype, B, T, K, H):
    """The Numba FIR (CPU) against the sequential reference, per-sample taps and frames alike;
    the frames' gradient is the interpolation's transpose of the per-sample one."""
    gen = torch.Generator().manual_seed(T + K)
    F = T if H is None else (T - 1) // H + 2
    x, b, zi = (torch.randn(*s, generator=gen, dtype=dtype) for s in ((B, T), (B, F, K + 1), (B, K)))
    xs, bs, zs = (t.clone().requires_grad_() for t in (x, b, zi))
    y = audio.time_varying_fir(xs, bs, zs, hop=H)
    xr, br, zr = (t.clone().requires_grad_() for t in (x, b, zi))
    ref = _ref_iir(xr, br if H is None else _reference.interpolate(br, H, T), xr.new_zeros(B, T, 0), zr)
    assert_rel_close(y, ref.detach(), 1e-12)
    g = torch.randn(B, T, generator=gen, dtype=dtype)
    for got, exp in zip(torch.autograd.grad(y, (xs, bs, zs), g), torch.autograd.grad(ref, (xr, br, zr), g)):
        assert_rel_close(got, exp, 1e-12)


def test_fir_frames_double_backward_and_expanded_taps():
    gen = torch.Generator().manual_seed(4)
    x, b = torch.randn(1, 7, generator=gen, dtype=F64), torch.randn(1, 4, 3, generator=gen, dtype=F64)
    args = [t.clone().requires_grad_() for t in (x, b)]
    assert gradgradcheck(lambda x, b: audio.time_varying_fir(x, b, hop=3), args)
    taps = args[1][:, :1].expand(1, 4, 3)  # constant frames, stride 0: read in place
    y = audio.time_varying_fir(args[0], taps, hop=3)
    assert_rel_close(y, audio.time_varying_fir(args[0], taps[:, :1].expand(1, 7, 3)), 1e-14)
    (gb,) = torch.autograd.grad(y.sum(), args[1])
    assert_rel_close(
        gb,
        torch.autograd.grad(
            _ref_iir(args[0], taps[:, :1].expand(1, 7, 3), x.new_zeros(1, 7, 0), x.new_zeros(1, 2)).sum(), args[1]
        )[0],
        1e-12,
    )


def test_iir_gradcheck_and_forward_ad():
    gen = torch.Generator().manual_seed(3)
    b, a = _smooth_coeffs(1, 9, gen)
    x = torch.randn(1, 9, generator=gen, dtype=F64)
    zx, zy = torch.randn(1, 2, generator=gen, dtype=F64), torch.randn(1, 2, generator=gen, dtype=F64)
    args = [t.clone().requires_grad_() for t in (x, b, a, zx, zy)]
    assert gradcheck(lambda x, b, a, zx, zy: audio.time_varying_iir(x, b, a, (zx, zy)), args, check_forward_ad=True)


def test_iir_float32_and_expanded_coefficients():
    gen = torch.Generator().manual_seed(4)
    T = 200
    b0, a0 = audio.biquad_lowpass(torch.tensor([800.0, 3000.0]), 0.9, 48000)
    x = torch.randn(2, T, generator=gen)
    y = audio.time_varying_biquad(x, b0[:, None].expand(2, T, 3), a0[:, None].expand(2, T, 2))
    ref = _ref_iir(x.double(), b0.double()[:, None].expand(2, T, 3), a0.double()[:, None].expand(2, T, 2))
    assert y.dtype == torch.float32
    torch.testing.assert_close(y.double(), ref, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------------------------- designs
def _resp(b, a, w):
    z = torch.exp(-1j * torch.as_tensor(w, dtype=F64))
    num = b[..., 0] + b[..., 1] * z + b[..., 2] * z * z
    return num / (1 + a[..., 0] * z + a[..., 1] * z * z)


def test_rbj_designs():
    fs, fc, q = 48000.0, torch.tensor([500.0, 4000.0], dtype=F64), 2.0
    w0 = 2 * math.pi * fc / fs
    b, a = audio.biquad_lowpass(fc, q, fs)
    assert b.shape == (2, 3) and a.shape == (2, 2)
    torch.testing.assert_close(_resp(b, a, 0.0).abs(), torch.ones(2, dtype=F64))
    torch.testing.assert_close(_resp(b, a, math.pi).abs(), torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)
    torch.testing.assert_close(_resp(b, a, w0).abs(), torch.full((2,), q, dtype=F64))
    b, a = audio.biquad_highpass(fc, q, fs)
    torch.testing.assert_close(_resp(b, a, math.pi).abs(), torch.ones(2, dtype=F64))
    torch.testing.assert_close(_resp(b, a, w0).abs(), torch.full((2,), q, dtype=F64))
    b, a = audio.biquad_bandpass(fc, q, fs)
    torch.testing.assert_close(_resp(b, a, w0).abs(), torch.ones(2, dtype=F64))
    b, a = audio.biquad_notch(fc, q, fs)
    torch.testing.assert_close(_resp(b, a, w0).abs(), torch.zeros(2, dtype=F64), atol=1e-12, rtol=0)
    b, a = audio.biquad_allpass(fc, q, fs)
    for w in (0.1, 1.0, 2.5):
        torch.testing.assert_close(_resp(b, a, w).abs(), torch.ones(2, dtype=F64))
    b, a = audio.biquad_peak(fc, q, torch.tensor([6.0, -12.0], dtype=F64), fs)
    torch.testing.assert_close(_resp(b, a, w0).abs(), torch.tensor([10 ** (6 / 20), 10 ** (-12 / 20)], dtype=F64))


def test_design_broadcasts_and_differentiates():
    fc = torch.full((3, 50), 1000.0, dtype=F64, requires_grad=True)
    q = torch.linspace(0.5, 4, 50, dtype=F64, requires_grad=True)
    b, a = audio.biquad_lowpass(fc, q, 48000)
    assert b.shape == (3, 50, 3) and a.shape == (3, 50, 2)
    assert gradcheck(
        lambda f, q: audio.biquad_peak(f, q, 3.0, 48000),
        (fc[:1, :4].detach().clone().requires_grad_(), q[:4].detach().clone().requires_grad_()),
    )


def test_allpass_coefficient_phase():
    fs, f = 48000.0, torch.tensor([100.0, 1000.0, 9000.0], dtype=F64)
    p = audio.allpass_coefficient(f, fs)
    z = torch.exp(-1j * 2 * math.pi * f / fs)
    H = (p + z) / (1 + p * z)
    torch.testing.assert_close(H.abs(), torch.ones(3, dtype=F64))
    torch.testing.assert_close(torch.angle(H), torch.full((3,), -math.pi / 2, dtype=F64))


def test_first_order_allpass_matches_reference(backend):
    T = _T(backend, 60, 12)
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(2, T, generator=gen, dtype=F64)
    p = 0.8 * torch.sin(torch.linspace(0, 3, T, dtype=F64)).expand(2, T)
    y = audio.first_order_allpass(x.to(backend.device), p.to(backend.device)).cpu()
    ref, xp, yp = [], torch.zeros(2, dtype=F64), torch.zeros(2, dtype=F64)
    for n in range(T):
        yp = p[:, n] * x[:, n] + xp - p[:, n] * yp
        xp = x[:, n]
        ref.append(yp)
    torch.testing.assert_close(y, torch.stack(ref, 1), rtol=1e-10, atol=1e-12)


def _ref_phaser(x, p, N, k):
    """Sample-by-sample cascade of N time-varying sections, feedback with one-sample delay."""
    B, T = x.shape
    xs, ys, last, out = [x.new_zeros(B)] * N, [x.new_zeros(B)] * N, x.new_zeros(B), []
    for n in range(T):
        u = x[:, n] + k * last
        for s in range(N):
            v = p[:, n] * u + xs[s] - p[:, n] * ys[s]
            xs[s], ys[s], u = u, v, v
        last = u
        out.append(u)
    return torch.stack(out, 1)


@pytest.mark.parametrize("N", [1, 4])
def test_phaser_coefficients_equal_cascade_for_constant_p(backend, N):
    T = _T(backend, 80, 12)
    gen = torch.Generator().manual_seed(N)
    x = torch.randn(2, T, generator=gen, dtype=F64)
    p = torch.tensor([[-0.7], [0.3]], dtype=F64).expand(2, T)
    b, a = audio.phaser_coefficients(p, N, 0.6)
    assert b.shape == (2, T, N + 1) and a.shape == (2, T, N + 1)
    y = audio.time_varying_iir(x.to(backend.device), b.to(backend.device), a.to(backend.device)).cpu()
    torch.testing.assert_close(y, _ref_phaser(x, p, N, 0.6), rtol=1e-9, atol=1e-10)


def test_phaser_coefficients_time_varying_close_to_cascade():
    T = 400
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(1, T, generator=gen, dtype=F64)
    p = (-0.5 + 0.3 * torch.sin(torch.linspace(0, 0.2, T, dtype=F64)))[None]  # |dp/dn| ~ 1.5e-4
    b, a = audio.phaser_coefficients(p, 4, 0.5)
    y = audio.time_varying_iir(x, b, a)
    ref = _ref_phaser(x, p, 4, 0.5)
    assert ((y - ref).square().sum() / ref.square().sum()) < 1e-5  # differs by O(dp/dn) only
    b1, a1 = audio.phaser_coefficients(p, 1)  # one section, no feedback: exact
    torch.testing.assert_close(audio.time_varying_iir(x, b1, a1), audio.first_order_allpass(x, p))


def test_phaser_coefficients_gradient_at_zero():
    p = torch.tensor([0.0, 0.4], dtype=F64, requires_grad=True)
    k = torch.tensor(0.3, dtype=F64, requires_grad=True)
    assert gradcheck(lambda p, k: audio.phaser_coefficients(p, 4, k), (p, k))


# --------------------------------------------------------------------------- compressor
def _tie_free_gain(B, T, gen):
    """Target gains whose steps keep f[n] away from the smoothed state (no decision ties)."""
    levels = 0.2 + 0.8 * torch.rand(B, max(-(-T // 6), 1), generator=gen, dtype=F64)
    return levels.repeat_interleave(6, dim=1)[:, :T].contiguous()


def test_attack_release_matches_reference(backend):
    T = _T(backend, 200, 27)  # the Triton kernel walks blocks of 4 or 8 samples: a partial last block
    gen = torch.Generator().manual_seed(8)
    f = torch.rand(3, T, generator=gen, dtype=F64)
    at = torch.tensor([0.5, 0.3, 0.9], dtype=F64)
    rt = torch.tensor([0.05, 0.2, 0.01], dtype=F64)
    zi = torch.tensor([1.0, 0.4, 0.0], dtype=F64)
    dev = backend.device
    g = audio.attack_release_smoothing(f.to(dev), at.to(dev), rt.to(dev), zi.to(dev))
    torch.testing.assert_close(g.cpu(), _ref_smooth(f, at, rt, zi), rtol=1e-12, atol=1e-14)
    g32 = audio.attack_release_smoothing(f.float().to(dev), 0.5, 0.05)
    assert g32.dtype == torch.float32
    torch.testing.assert_close(
        g32.cpu().double(),
        _ref_smooth(f, at[:1].expand(3) * 0 + 0.5, torch.full((3,), 0.05, dtype=F64), torch.ones(3, dtype=F64)),
        rtol=1e-5,
        atol=1e-6,
    )


def test_attack_release_gradients_match_reference(backend):
    T = _T(backend, 120, 27)
    gen = torch.Generator().manual_seed(9)
    f = _tie_free_gain(2, T, gen)
    at, rt, zi = (
        torch.tensor([0.3, 0.6], dtype=F64),
        torch.tensor([0.05, 0.1], dtype=F64),
        torch.tensor([0.9, 0.5], dtype=F64),
    )
    g = torch.randn(2, T, generator=gen, dtype=F64)
    leaves = [t.clone().requires_grad_() for t in (f, at, rt, zi)]
    ref = torch.autograd.grad(_ref_smooth(*leaves), leaves, g)
    dl = [t.detach().to(backend.device).requires_grad_() for t in leaves]
    got = torch.autograd.grad(audio.attack_release_smoothing(*dl), dl, g.to(backend.device))
    for gg, rr in zip(got, ref):
        torch.testing.assert_close(gg.cpu(), rr, rtol=1e-9, atol=1e-11)


def test_attack_release_gradcheck(backend):
    T = _T(backend, 30, 8)
    gen = torch.Generator().manual_seed(10)
    dev = backend.device
    f = _tie_free_gain(2, T, gen).to(dev).requires_grad_()
    at = torch.tensor([0.3, 0.6], dtype=F64, device=dev, requires_grad=True)
    rt = torch.tensor([0.05, 0.1], dtype=F64, device=dev, requires_grad=True)
    zi = torch.tensor([0.9, 0.5], dtype=F64, device=dev, requires_grad=True)
    assert gradcheck(
        audio.attack_release_smoothing, (f, at, rt, zi), check_forward_ad=not backend.interpreted, eps=1e-7
    )


def test_attack_release_double_backward():
    gen = torch.Generator().manual_seed(11)
    f = _tie_free_gain(1, 18, gen).requires_grad_()
    at = torch.tensor([0.4], dtype=F64, requires_grad=True)
    rt = torch.tensor([0.1], dtype=F64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda f, a, r: audio.attack_release_smoothing(f, a, r), (f, at, rt), eps=1e-7)


def test_attack_release_backward_runs_on_reverse_scan(backend, monkeypatch):
    """The backward is the backend's reverse kernel (neg_a, decay coefficients), not a loop."""
    module = tritonlpc._dispatch.backend_object(torch.zeros(1, device=backend.device))
    calls = []
    original = module.reverse

    def spy(g, a, conj_a=False, neg_a=False, **kw):
        calls.append((tuple(a.shape), neg_a))
        return original(g, a, conj_a, neg_a, **kw)

    monkeypatch.setattr(module, "reverse", spy)
    T = _T(backend, 50, 10)
    f = torch.rand(2, T, dtype=torch.float32, device=backend.device, requires_grad=True)
    audio.attack_release_smoothing(f, 0.3, 0.05).sum().backward()
    assert calls == [((2, T, 1), True)]


def test_compressor_matches_reference_and_gradcheck():
    gen = torch.Generator().manual_seed(12)
    T = 64
    x = 0.5 * torch.randn(2, T, generator=gen, dtype=F64)
    ct, ratio, at, rt, mk = -12.0, 4.0, 0.2, 0.02, 3.0
    y = audio.feedforward_compressor(x, ct, ratio, at, rt, mk, rms_alpha=0.3)
    e, energy = torch.zeros(2, dtype=F64), []
    for n in range(T):
        e = 0.3 * x[:, n] ** 2 + 0.7 * e
        energy.append(e)
    level = 10 * torch.log10(torch.stack(energy, 1) + 1e-8)
    gdb = -(1 - 1 / ratio) * torch.relu(level - ct)
    ref = (
        x
        * _ref_smooth(
            10 ** (gdb / 20), torch.full((2,), at, dtype=F64), torch.full((2,), rt, dtype=F64), torch.ones(2, dtype=F64)
        )
        * 10 ** (mk / 20)
    )
    torch.testing.assert_close(y, ref, rtol=1e-10, atol=1e-12)
    params = [torch.tensor(v, dtype=F64, requires_grad=True) for v in (ct, ratio, at, rt, mk, 0.3)]
    assert gradcheck(
        lambda *p: audio.feedforward_compressor(x[:, :24], *p[:5], rms_alpha=p[5]), params, eps=1e-7, atol=1e-6
    )


def test_compressor_per_row_parameters_and_peak_detector():
    x = torch.randn(3, 40, dtype=F64)
    ct = torch.tensor([-20.0, -10.0, 0.0], dtype=F64)
    y = audio.feedforward_compressor(x, ct, 2.0, 0.5, 0.1)
    for i in range(3):
        torch.testing.assert_close(
            y[i : i + 1], audio.feedforward_compressor(x[i : i + 1], float(ct[i]), 2.0, 0.5, 0.1)
        )


def test_static_gain_and_time_constants():
    L = torch.linspace(-60, 0, 601, dtype=F64)
    hard = audio.compressor_static_gain(L, -20.0, 4.0)
    torch.testing.assert_close(hard, torch.where(L > -20, -(L + 20) * 0.75, torch.zeros_like(L)))
    soft = audio.compressor_static_gain(L, -20.0, 4.0, knee_db=6.0)
    assert torch.all(soft <= hard + 1e-12)  # the soft knee starts compressing below the threshold
    assert torch.all((soft - hard).abs()[(L + 20).abs() > 3] < 1e-12)
    assert soft.diff().abs().max() < 0.75 * 0.1 + 1e-9  # continuous
    for tau in (0.001, 0.1):
        a = audio.time_constant_to_alpha(tau, 48000)
        assert abs(audio.alpha_to_time_constant(a, 48000) - tau) < 1e-12
        at = audio.time_constant_to_alpha(torch.tensor(tau, dtype=F64), 48000)
        assert abs(float(at) - a) < 1e-15


def test_signal_level_db_uses_recurrence(backend):
    T = _T(backend, 40, 10)
    x = torch.randn(2, T, dtype=F64)
    lvl = audio.signal_level_db(x.to(backend.device), rms_alpha=0.25).cpu()
    e, ref = torch.zeros(2, dtype=F64), []
    for n in range(T):
        e = 0.25 * x[:, n] ** 2 + 0.75 * e
        ref.append(10 * torch.log10(e + 1e-8))
    torch.testing.assert_close(lvl, torch.stack(ref, 1))
    torch.testing.assert_close(audio.signal_level_db(x), 20 * torch.log10(x.abs() + 1e-8))


# --------------------------------------------------------------------------- frequency sampling
def test_frequency_response_matches_polynomials():
    gen = torch.Generator().manual_seed(13)
    b = torch.randn(2, 5, 3, generator=gen, dtype=F64)
    a = 0.3 * torch.randn(2, 5, 2, generator=gen, dtype=F64)
    H = audio.frequency_response(b, a, 16)
    assert H.shape == (2, 5, 9) and H.dtype == torch.complex128
    w = 2 * math.pi * torch.arange(9, dtype=F64) / 16
    torch.testing.assert_close(H, _resp(b.unsqueeze(-2), a.unsqueeze(-2), w))
    assert audio.frequency_response(b.float(), a.float(), 16).dtype == torch.complex64


def test_frequency_sampling_gain_is_exact_and_lti_is_close():
    gen = torch.Generator().manual_seed(14)
    T, hop = 1000, 64
    x = torch.randn(2, T, generator=gen, dtype=F64)
    F = audio.num_frames(T, hop)
    assert F == 1 + T // hop and audio.frame_centers(T, hop)[-1] == (F - 1) * hop
    gain = torch.full((2, F, 1), 0.5, dtype=F64)
    torch.testing.assert_close(audio.frequency_sampling_iir(x, gain, None, 256, hop), 0.5 * x)
    b = torch.tensor([0.3, 0.2, 0.1], dtype=F64).expand(2, F, 3)
    a = torch.tensor([-0.5, 0.2], dtype=F64).expand(2, F, 2)
    y = audio.frequency_sampling_iir(x, b, a, 2048, hop, "hann", win_length=512)
    ref = _ref_iir(x, b[:, :1].expand(2, T, 3), a[:, :1].expand(2, T, 2))
    inner = slice(300, T - 300)
    err = (y - ref)[:, inner].square().sum() / ref[:, inner].square().sum()
    assert err < 1e-3, float(err)


@pytest.mark.parametrize("window", ["hann", "hamming", "sqrt_hann", torch.hann_window(32, dtype=F64)])
def test_frequency_sampling_gradcheck(window):
    gen = torch.Generator().manual_seed(15)
    T, hop = 40, 8
    F = audio.num_frames(T, hop)
    x = torch.randn(1, T, generator=gen, dtype=F64, requires_grad=True)
    b = torch.randn(1, F, 2, generator=gen, dtype=F64, requires_grad=True)
    a = (0.3 * torch.randn(1, F, 1, generator=gen, dtype=F64)).requires_grad_()
    assert gradcheck(lambda x, b, a: audio.frequency_sampling_iir(x, b, a, 32, hop, window), (x, b, a))


# --------------------------------------------------------------------------- argument errors
def test_errors_name_the_argument():
    x = torch.randn(2, 10)
    b, a = torch.randn(2, 10, 3), torch.randn(2, 10, 2)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        audio.time_varying_iir([1.0], b, a)
    with pytest.raises(TypeError, match="b must have a floating"):
        audio.time_varying_iir(x, b.long(), a)
    with pytest.raises(ValueError, match="b must have shape"):
        audio.time_varying_iir(x, b[:, :5], a)
    with pytest.raises(ValueError, match="a must have shape"):
        audio.time_varying_iir(x, b, torch.randn(2, 9, 2))
    with pytest.raises(TypeError, match="zi must be None or a pair"):
        audio.time_varying_iir(x, b, a, torch.zeros(2, 2))
    with pytest.raises(ValueError, match=r"zi\[1\] \(past outputs\) must have shape"):
        audio.time_varying_iir(x, b, a, (torch.zeros(2, 2), torch.zeros(2, 3)))
    with pytest.raises(ValueError, match="a must have shape \\(B, T, 2\\) for a biquad"):
        audio.time_varying_biquad(x, b, torch.randn(2, 10, 3))
    with pytest.raises(ValueError, match="sample_rate must be a positive"):
        audio.biquad_lowpass(torch.tensor([100.0]), 1.0, 0)
    with pytest.raises(TypeError, match="cutoff must have a real floating"):
        audio.biquad_lowpass(torch.tensor([100]), 1.0, 48000)
    with pytest.raises(TypeError, match="q must be a float"):
        audio.biquad_lowpass(torch.tensor([100.0]), "1", 48000)
    with pytest.raises(ValueError, match="n_stages must be >= 1"):
        audio.phaser_coefficients(torch.zeros(3), 0)
    with pytest.raises(ValueError, match="p must have the shape of x"):
        audio.first_order_allpass(x, torch.zeros(2, 9))
    with pytest.raises(TypeError, match="gain must have a real floating"):
        audio.attack_release_smoothing(torch.zeros(2, 5, dtype=torch.complex64), 0.1, 0.1)
    with pytest.raises(ValueError, match=r"alpha_release must be a number, a 0-d tensor or a tensor of shape \(B,\)"):
        audio.attack_release_smoothing(torch.zeros(2, 5), 0.1, torch.ones(3))
    with pytest.raises(ValueError, match="zi must have shape"):
        audio.attack_release_smoothing(torch.zeros(2, 5), 0.1, 0.1, torch.ones(3))
    with pytest.raises(
        ValueError, match=r"threshold_db must be a number, a 0-d tensor or a tensor of shape \(B,\) = \(2,\)"
    ):
        audio.feedforward_compressor(x, torch.zeros(3), 2.0, 0.1, 0.1)
    with pytest.raises(ValueError, match=r"knee_db must be a finite number in \[0, inf\)"):
        audio.compressor_static_gain(torch.zeros(3), -10.0, 2.0, knee_db=-1.0)
    with pytest.raises(ValueError, match="H must have shape"):
        audio.stft_filter(x, torch.zeros(2, 4, 5, dtype=torch.complex64), 8, 4)
    with pytest.raises(TypeError, match="H must be a complex"):
        audio.stft_filter(x, torch.zeros(2, 3, 5), 8, 4)
    with pytest.raises(ValueError, match="window must be a tensor or one of"):
        audio.frequency_sampling_iir(x, torch.ones(2, 3, 1), None, 8, 4, window="kaiser")
    with pytest.raises(ValueError, match="win_length must be <= n_fft"):
        audio.frequency_sampling_iir(x, torch.ones(2, 3, 1), None, 8, 4, win_length=16)
    with pytest.raises(ValueError, match="b must have shape \\(B, F, K\\+1\\)"):
        audio.frequency_sampling_iir(x, torch.ones(2, 4, 1), None, 8, 4)
    with pytest.raises(ValueError, match="b must have shape \\(\\*, K\\+1\\) with K\\+1 <= n_fft"):
        audio.frequency_response(torch.ones(2, 9), None, 8)
    with pytest.raises(TypeError, match=r"b must be a dense \(strided\) tensor, got a torch.sparse_coo"):
        audio.time_varying_iir(x, b.to_sparse(), a)
    with pytest.raises(TypeError, match="x must have a floating point or complex dtype .*complex32"):
        audio.time_varying_iir(x.to(torch.complex32), b, a)
    with pytest.raises(TypeError, match="gain must have a floating point or complex dtype .*float8"):
        audio.attack_release_smoothing(torch.zeros(2, 5).to(torch.float8_e4m3fn), 0.1, 0.1)


def test_public_api_exported():
    for name in audio.__all__:
        assert callable(getattr(audio, name)), name
        assert getattr(audio, name).__doc__, name
    assert comp_mod.AttackRelease is audio.AttackRelease
