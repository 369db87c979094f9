"""Control-rate coefficients (``hop=``): the interpolation and its transpose, values and
gradients against the float64 reference on every backend, autograd of every order, the custom
op, and input validation."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import tritonlpc
from tritonlpc import _reference
from tritonlpc.core import LPC
from tritonlpc.testing import TOL, assert_rel_close, make_inputs, reference


def _req(*ts):
    return [t.detach().clone().requires_grad_() for t in ts]


# --------------------------------------------------------------------------- the interpolation
def test_interpolation_passes_through_the_frames_and_its_transpose_is_the_adjoint():
    g = torch.Generator().manual_seed(0)
    frames = torch.randn(2, 5, 3, dtype=torch.float64, generator=g)
    a = _reference.interpolate(frames, 4, 13)
    assert torch.equal(a[:, ::4], frames[:, :4])
    assert torch.allclose(a[:, 2], (frames[:, 0] + frames[:, 1]) / 2)
    grad = torch.randn(2, 13, 3, dtype=torch.float64, generator=g)
    lhs = (a * grad).sum()
    rhs = (frames * _reference.interpolate_transpose(grad, 4, 5)).sum()
    assert torch.allclose(lhs, rhs)
    assert torch.equal(_reference.interpolate(frames, 1, 4), frames[:, :4])


# --------------------------------------------------------------------------- values and gradients
@pytest.mark.parametrize(
    "dtype,B,T,M,H",
    [
        (torch.float64, 2, 37, 2, 8),  # odd T, several intervals
        (torch.float32, 1, 5, 3, 16),  # T < H, T < M... B = 1
        (torch.complex128, 3, 24, 1, 6),  # T a multiple of H, H not a power of two
        (torch.float64, 2, 9, 4, 1),  # H = 1
    ],
)
def test_values_and_gradients_match_the_reference(backend, dtype, B, T, M, H):
    if backend.interpreted and H != 8:  # one case through the public API; the kernels: test_triton_hop.py
        pytest.skip("the interpreter is slow; Triton's frame kernels are tested in test_triton_hop.py")
    x, af, zi = make_inputs(B, T, M, dtype, seed=T + H, device=backend.device, hop=H)
    xs, fs, zs = _req(x, af, zi)
    y, zf = tritonlpc.sample_wise_lpc(xs, fs, zs, return_zf=True, hop=H)
    g = torch.randn_like(y)
    grads = torch.autograd.grad(y, (xs, fs, zs), g)
    hi = torch.complex128 if dtype.is_complex else torch.float64
    xr, fr, zr = _req(*(t.cpu().to(hi) for t in (x, af, zi)))
    ref = _reference.allpole(xr, _reference.interpolate(fr, H, T), zr)
    assert_rel_close(y, ref.detach(), TOL[dtype])
    assert_rel_close(zf, _reference.end_state(ref, zr).detach(), TOL[dtype])
    for got, exp in zip(grads, torch.autograd.grad(ref, (xr, fr, zr), g.cpu().to(hi))):
        assert got.dtype == dtype and got.shape == exp.shape
        assert_rel_close(got, exp, TOL[dtype] * 5)


def test_hop_one_is_the_per_sample_filter():
    x, af, zi = make_inputs(2, 20, 2, torch.float64, seed=3, hop=1)
    y = tritonlpc.sample_wise_lpc(x, af, zi, hop=1)
    assert_rel_close(y, tritonlpc.sample_wise_lpc(x, af[:, :20], zi), 1e-14)


def test_linear_recurrence_with_frames_matches_the_reference(backend):
    g = torch.Generator().manual_seed(1)
    decay = (0.9 * torch.rand(2, 5, dtype=torch.float64, generator=g)).to(backend.device)
    x = torch.randn(2, 17, dtype=torch.float64, generator=g).to(backend.device)
    h = tritonlpc.linear_recurrence(decay, x, hop=5)
    assert_rel_close(h, reference(x, decay.unsqueeze(2), hop=5, neg_a=True), 1e-12)


def test_gradients_of_every_order():
    x, af, zi = (t.requires_grad_() for t in make_inputs(1, 7, 2, torch.complex128, seed=5, hop=3))
    fn = lambda x, a, z: tritonlpc.sample_wise_lpc(x, a, z, hop=3)  # noqa: E731
    assert gradcheck(fn, (x, af, zi), check_forward_ad=True)
    assert gradgradcheck(fn, (x, af, zi))
    decay = (0.8 * torch.rand(1, 4, dtype=torch.float64)).requires_grad_()
    xr = torch.randn(1, 8, dtype=torch.float64, requires_grad=True)
    rec = lambda d, x: tritonlpc.linear_recurrence(d, x, hop=3)  # noqa: E731
    assert gradcheck(rec, (decay, xr), check_forward_ad=True)
    assert gradgradcheck(rec, (decay, xr))


def test_custom_op_under_compile():
    x, af, zi = (t.requires_grad_() for t in make_inputs(2, 11, 2, torch.float64, seed=6, hop=4))
    fn = torch.compile(lambda x, a, z: tritonlpc.sample_wise_lpc(x, a, z, hop=4), fullgraph=True, backend="eager")
    y = fn(x, af, zi)
    assert_rel_close(y, reference(x, af, zi, hop=4), 1e-12)
    (ga,) = torch.autograd.grad(y.sum(), af)
    (ge,) = torch.autograd.grad(tritonlpc.sample_wise_lpc(x, af, zi, hop=4).sum(), af)
    assert torch.equal(ga, ge)


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "hop,frames,exc,match",
    [
        (True, 4, TypeError, "hop must be an int, got bool"),
        (2.0, 4, TypeError, "hop must be an int, got float"),
        (0, 4, ValueError, "hop must be >= 1, got 0"),
        (-3, 4, ValueError, "hop must be >= 1"),
        (3, 3, ValueError, r"^a must hold at least \(T - 1\) // hop \+ 2 = 4 frames .*got 3"),
    ],
)
def test_bad_hop_or_too_few_frames(hop, frames, exc, match):
    x = torch.zeros(2, 9)
    with pytest.raises(exc, match=match):
        tritonlpc.sample_wise_lpc(x, torch.zeros(2, frames, 2), hop=hop)
    with pytest.raises(exc, match=match):
        tritonlpc.linear_recurrence(torch.zeros(2, frames), x, hop=hop)


def test_frames_on_another_device_or_dtype_are_named():
    x, zi = torch.zeros(2, 9), torch.zeros(2, 2)
    with pytest.raises(ValueError, match="^a is on meta but x is on cpu"):
        tritonlpc.sample_wise_lpc(x, torch.zeros(2, 4, 2, device="meta"), hop=3)
    with pytest.raises(ValueError, match=r"^x must have shape \(B, T\) with B = 3"):
        tritonlpc.sample_wise_lpc(x, torch.zeros(3, 4, 2), hop=3)
    with pytest.raises(TypeError, match="^A has dtype torch.float64 but x has dtype torch.float32"):
        LPC.apply(x, torch.zeros(2, 4, 2, dtype=torch.float64), zi, False, 3)
    with pytest.raises(ValueError, match="^A must hold at least"):
        LPC.apply(x, torch.zeros(2, 3, 2), zi, False, 3)


# --------------------------------------------------------------------------- Numba kernels
@pytest.mark.slow(seconds=15)
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("M", [1, 2, 3])
@pytest.mark.parametrize("schedule,chunk_len", [("rows", None), ("chunked", 5), ("chunked", 8)])
def test_numba_schedules_interpolate_in_the_kernels(dtype, M, schedule, chunk_len):
    from tritonlpc.backends.numba_cpu import BACKEND

    B, T = 3, 29  # odd B: a row paired with itself; chunks of 5 are aligned up to whole intervals
    H = 3 if M == 3 else 4  # a power of two (shift and mask) or not (a division)
    x, af, zi = make_inputs(B, T, M, dtype, seed=M, hop=H)
    knobs = dict(hop=H, schedule=schedule, chunk_len=chunk_len)
    y = BACKEND.forward(x, af, zi, **knobs)
    hi = torch.complex128
    xr, fr, zr = _req(*(t.to(hi) for t in (x, af, zi)))
    ref = _reference.allpole(xr, _reference.interpolate(fr, H, T), zr)
    assert_rel_close(y, ref.detach(), 1e-12)
    g = torch.randn_like(x)
    gx, ga, gzi = BACKEND.backward(g, af, y, zi, True, True, **knobs)
    for got, exp in zip((gx, ga, gzi), torch.autograd.grad(ref, (xr, fr, zr), g.to(hi))):
        assert_rel_close(got, exp if dtype.is_complex else exp.real, 1e-11)
    assert torch.equal(BACKEND.reverse(g, af, conj_a=True, **knobs), gx)


@pytest.mark.slow(seconds=27)
def test_numba_frame_gradients_are_bit_identical_run_to_run():
    from tritonlpc.backends.numba_cpu import BACKEND

    x, af, zi = make_inputs(2, 3001, 2, torch.float32, seed=9, hop=64)
    g = torch.randn_like(x)
    y = BACKEND.forward(x, af, zi, hop=64, schedule="chunked", chunk_len=100)
    runs = [BACKEND.backward(g, af, y, zi, True, True, hop=64, schedule="chunked", chunk_len=100) for _ in range(3)]
    for run in runs[1:]:
        assert all(torch.equal(p, q) for p, q in zip(run, runs[0]))
    assert_rel_close(runs[0][1], BACKEND.backward(g, af, y, zi, True, True, hop=64, schedule="rows")[1], 1e-5)


def test_expanded_frames_are_read_in_place():
    x, af, zi = make_inputs(2, 19, 2, torch.float64, seed=4, hop=4)
    frozen = af[:, :1].expand(-1, af.shape[1], -1)  # stride 0 in time: a time-invariant filter
    fs = frozen.detach().requires_grad_()
    y = tritonlpc.sample_wise_lpc(x, fs, zi, hop=4)
    assert_rel_close(y, reference(x, af[:, :1].expand(-1, 19, -1), zi), 1e-12)
    (ga,) = torch.autograd.grad(y.sum(), fs)
    fr = frozen.detach().requires_grad_()
    (ge,) = torch.autograd.grad(reference(x, fr, zi, hop=4).sum(), fr)
    assert_rel_close(ga, ge, 1e-12)


# --------------------------------------------------------------------------- audio
def test_time_varying_iir_and_fir_with_frames():
    from tritonlpc.audio import time_varying_biquad, time_varying_fir, time_varying_iir

    x, af, zi = make_inputs(2, 21, 2, torch.float64, seed=8, hop=4)
    bf = torch.randn(2, af.shape[1], 3, dtype=torch.float64, requires_grad=True)
    fs = af.detach().requires_grad_()
    y = time_varying_biquad(x, bf, fs, hop=4)
    b_n, a_n = (_reference.interpolate(t, 4, 21) for t in (bf, fs))
    expected = time_varying_iir(x, b_n, a_n)
    assert_rel_close(y, expected, 1e-12)
    got, exp = torch.autograd.grad(y.sum(), (bf, fs)), torch.autograd.grad(expected.sum(), (bf, fs))
    for p, q in zip(got, exp):
        assert_rel_close(p, q, 1e-12)
    assert_rel_close(time_varying_fir(x, bf, hop=4), time_varying_fir(x, b_n), 1e-12)
    with pytest.raises(ValueError, match="^b must hold at least"):
        time_varying_fir(x, bf[:, :3], hop=4)
    with pytest.raises(ValueError, match="^a must hold at least"):
        time_varying_iir(x, bf, fs[:, :4], hop=4)


@pytest.mark.parametrize("M", [1, 2])
def test_numba_long_hops_stay_at_rounding_level_and_repeat_bit_for_bit(M):
    """The kernels walk each interval with the frames in registers (a weight per sample, no running
    sum that could drift over a long interval)."""
    from tritonlpc.backends.numba_cpu import BACKEND

    H, T = 4096, 2 * 4096 + 3  # two whole intervals and a partial one
    x, af, zi = make_inputs(1, T, M, torch.float32, seed=M + 20, hop=H)
    g = torch.randn_like(x)
    y = BACKEND.forward(x, af, zi, hop=H)
    grads = BACKEND.backward(g, af, y, zi, True, True, hop=H)
    xr, fr, zr = _req(*(t.to(torch.float64) for t in (x, af, zi)))
    ref = _reference.allpole(xr, _reference.interpolate(fr, H, T), zr)
    assert_rel_close(y, ref.detach(), TOL[torch.float32])
    for got, exp in zip(grads, torch.autograd.grad(ref, (xr, fr, zr), g.to(torch.float64))):
        assert_rel_close(got, exp, TOL[torch.float32] * 5)
    assert torch.equal(BACKEND.forward(x, af, zi, hop=H), y)
    assert all(torch.equal(p, q) for p, q in zip(BACKEND.backward(g, af, y, zi, True, True, hop=H), grads))
