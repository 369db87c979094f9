"""Autograd on every backend: gradients against autograd of the sequential reference,
gradcheck / gradgradcheck with forward AD, and torch.func transforms."""

from __future__ import annotations

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import tritonlpc
from tritonlpc import _reference
from tritonlpc.core import LPC
from tritonlpc.recurrence import Recurrence
from tritonlpc.testing import assert_rel_close, make_inputs


def _req(*ts):
    return [t.detach().clone().requires_grad_() for t in ts]


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128, torch.float32])
@pytest.mark.parametrize("B,T,M", [(2, 41, 1), (3, 30, 2), (1, 23, 3), (2, 19, 5), (2, 3, 4)])
def test_gradients_match_reference(backend, dtype, B, T, M):
    x, a, zi = make_inputs(B, T, M, dtype, seed=T + M, device=backend.device)
    g = torch.randn_like(x)
    xs, as_, zs = _req(x, a, zi)
    y = tritonlpc.sample_wise_lpc(xs, as_, zs)
    grads = torch.autograd.grad(y, (xs, as_, zs), g)
    hi = torch.complex128 if dtype.is_complex else torch.float64
    xr, ar, zr = _req(*(t.cpu().to(hi) for t in (x, a, zi)))
    ref = torch.autograd.grad(_reference.allpole(xr, ar, zr), (xr, ar, zr), g.cpu().to(hi))
    tol = 1e-9 if dtype in (torch.float64, torch.complex128) else 5e-4
    for got, exp in zip(grads, ref):
        assert got.dtype == dtype
        assert_rel_close(got, exp, tol)


@pytest.mark.parametrize(
    "needs", [(True, True, True), (True, False, False), (False, True, False), (False, False, True)]
)
def test_only_requested_gradients(backend, needs):
    x, a, zi = make_inputs(2, 17, 3, torch.float64, seed=1, device=backend.device)
    ins = [t.clone().requires_grad_(n) for t, n in zip((x, a, zi), needs)]
    y = LPC.apply(*ins)
    wanted = [t for t in ins if t.requires_grad]
    grads = torch.autograd.grad(y.sum(), wanted)
    xr, ar, zr = [t.clone().requires_grad_(n) for t, n in zip((x, a, zi), needs)]
    ref = torch.autograd.grad(_reference.allpole(xr, ar, zr).sum(), [t for t in (xr, ar, zr) if t.requires_grad])
    for got, exp in zip(grads, ref):
        assert_rel_close(got, exp, 1e-9)


@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("M", [1, 2, 3, 4])
@pytest.mark.parametrize("zi_grad", [True, False], ids=["zi_grad", "no_zi_grad"])
def test_gradcheck_lpc(backend, M, cplx, zi_grad):
    if backend.interpreted and (not zi_grad or (M, cplx) not in ((2, False), (1, True))):
        pytest.skip("interpreter: a subset keeps the suite fast (kernels are checked in test_triton_backend.py)")
    dtype = torch.complex128 if cplx else torch.float64
    x, a, zi = make_inputs(2, 9, M, dtype, seed=M, device=backend.device)
    x, a = _req(x, a)
    zi = zi.clone().requires_grad_(zi_grad)
    fast = backend.interpreted
    assert gradcheck(LPC.apply, (x, a, zi), check_forward_ad=True, fast_mode=fast)
    if backend.interpreted and cplx:
        return  # interpreter: double backward is checked at M = 2 real (same kernels); keeps the suite fast
    assert gradgradcheck(LPC.apply, (x, a, zi), check_fwd_over_rev=not fast, fast_mode=fast)


@pytest.mark.parametrize("cplx", [False, True], ids=["real", "complex"])
@pytest.mark.parametrize("zi_grad", [True, False], ids=["zi_grad", "no_zi_grad"])
def test_gradcheck_recurrence(backend, cplx, zi_grad):
    if backend.interpreted and (not zi_grad or cplx):
        pytest.skip("interpreter: a subset keeps the suite fast (complex: test_gradcheck_lpc, M = 1)")
    dtype = torch.complex128 if cplx else torch.float64
    x, a, zi = make_inputs(2, 11, 1, dtype, seed=11, device=backend.device)
    decay, impulse = _req(-a[..., 0], x)
    init = zi[:, 0].clone().requires_grad_(zi_grad)
    fast = backend.interpreted
    assert gradcheck(Recurrence.apply, (decay, impulse, init), check_forward_ad=True, fast_mode=fast)
    assert gradgradcheck(Recurrence.apply, (decay, impulse, init), check_fwd_over_rev=not fast, fast_mode=fast)


def test_gradcheck_public_functions_with_zf(backend):
    x, a, zi = _req(*make_inputs(2, 7, 2, torch.float64, seed=3, device=backend.device))
    f = lambda x, a, zi: tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)  # noqa: E731
    assert gradcheck(f, (x, a, zi), check_forward_ad=True, fast_mode=backend.interpreted)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_func_transforms_match_reference(backend, dtype):
    x, a, zi = make_inputs(3, 8, 2, dtype, seed=5, device=backend.device)

    def ours(x, a, zi):
        return tritonlpc.sample_wise_lpc(x[None], a[None], zi[None])[0]

    def ref(x, a, zi):
        return _reference.allpole(x[None], a[None], zi[None])[0]

    args, args_cpu = (x, a, zi), (x.cpu(), a.cpu(), zi.cpu())
    if dtype.is_complex:  # jacfwd/jacrev are real-only: check vmapped jvp and vjp instead
        tangents = tuple(torch.randn_like(t) for t in args)
        got = torch.vmap(lambda *p: torch.func.jvp(ours, p[:3], p[3:])[1])(*args, *tangents)
        exp = torch.vmap(lambda *p: torch.func.jvp(ref, p[:3], p[3:])[1])(*args_cpu, *(t.cpu() for t in tangents))
        assert_rel_close(got, exp, 1e-9)
        cot = torch.randn_like(x)
        got = torch.vmap(lambda c, *p: torch.func.vjp(ours, *p)[1](c))(cot, *args)
        exp = torch.vmap(lambda c, *p: torch.func.vjp(ref, *p)[1](c))(cot.cpu(), *args_cpu)
        for g, e in zip(got, exp):
            assert_rel_close(g, e, 1e-9)
        return
    for jac in (torch.func.jacfwd, torch.func.jacrev):
        got = torch.vmap(jac(ours, argnums=(0, 1, 2)))(*args)
        exp = torch.vmap(jac(ref, argnums=(0, 1, 2)))(*args_cpu)
        for g, e in zip(got, exp):
            assert_rel_close(g, e, 1e-9)
    loss = lambda f: lambda a: f(x[0], a, zi[0]).pow(2).sum()  # noqa: E731
    assert_rel_close(torch.func.grad(loss(ours))(a[0]), torch.func.grad(loss(ref))(a[0].cpu()), 1e-9)
    assert_rel_close(torch.func.hessian(loss(ours))(a[0]), torch.func.hessian(loss(ref))(a[0].cpu()), 1e-8)


def test_vmap_over_extra_batch_dims(backend):
    x, a, zi = make_inputs(6, 15, 3, torch.float64, seed=8, device=backend.device)
    f = torch.vmap(tritonlpc.sample_wise_lpc, in_dims=(0, 0, None))
    y = f(x.view(2, 3, 15), a.view(2, 3, 15, 3), zi[:3])
    assert_rel_close(y.reshape(6, 15), _reference.allpole(x.cpu(), a.cpu(), zi[:3].repeat(2, 1).cpu()), 1e-9)
    h = torch.vmap(tritonlpc.linear_recurrence)(-a[..., 0].view(2, 3, 15), x.view(2, 3, 15))
    assert_rel_close(h.reshape(6, 15), _reference.allpole(x.cpu(), a[..., :1].cpu()), 1e-9)


def test_public_functions_without_autograd_call_the_kernel_and_agree():
    # Nothing to differentiate: the public functions call the kernels directly. Anything to
    # differentiate (a graph, a forward-AD dual level) must still go through the Functions.
    import torch.autograd.forward_ad as fwAD

    x, a, zi = make_inputs(3, 50, 2, torch.float64, seed=7)
    y = tritonlpc.sample_wise_lpc(x, a, zi)
    assert torch.equal(y, tritonlpc.core.LPC.apply(x, a, zi)) and y.grad_fn is None
    h = tritonlpc.linear_recurrence(a[..., 0], x, zi[:, 0])
    assert torch.equal(h, tritonlpc.recurrence.Recurrence.apply(a[..., 0], x, zi[:, 0]))
    with torch.no_grad():
        assert torch.equal(tritonlpc.sample_wise_lpc(x.requires_grad_(), a, zi), y)
    assert tritonlpc.sample_wise_lpc(x, a, zi).grad_fn is not None
    x = x.detach()
    t = torch.randn_like(x)
    with fwAD.dual_level():
        tangent = fwAD.unpack_dual(tritonlpc.sample_wise_lpc(fwAD.make_dual(x, t), a, zi)).tangent
        h_tangent = fwAD.unpack_dual(tritonlpc.linear_recurrence(a[..., 0], fwAD.make_dual(x, t))).tangent
    assert_rel_close(tangent, tritonlpc.sample_wise_lpc(t, a), 1e-12)
    assert_rel_close(h_tangent, tritonlpc.linear_recurrence(a[..., 0], t), 1e-12)
