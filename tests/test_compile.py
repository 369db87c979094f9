"""torch.compile(fullgraph=True) through the custom ops, and opcheck of their registrations."""

from __future__ import annotations

import pytest
import torch
from torch.library import opcheck

import tritonlpc
from tritonlpc.testing import assert_rel_close, make_inputs


def _loss(x, a, zi):
    y, zf = tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)
    h = tritonlpc.linear_recurrence(0.5 * torch.tanh(a[..., 0]), y, zi[:, 0])
    return (y.square()).mean() + zf.sum() + h.abs().mean()


@pytest.mark.slow(seconds=10)
@pytest.mark.parametrize("M", [1, 3])
def test_compile_fullgraph_matches_eager(backend, M):
    torch._dynamo.reset()
    x, a, zi = make_inputs(2, 33, M, torch.float64, seed=M, device=backend.device)
    eager = [t.clone().requires_grad_() for t in (x, a, zi)]
    comp = [t.clone().requires_grad_() for t in (x, a, zi)]
    le = _loss(*eager)
    ge = torch.autograd.grad(le, eager)
    compiled = torch.compile(_loss, fullgraph=True, backend="aot_eager" if backend.interpreted else "inductor")
    lc = compiled(*comp)
    gc = torch.autograd.grad(lc, comp)
    assert_rel_close(lc, le, 1e-12)
    for g1, g2 in zip(gc, ge):
        assert_rel_close(g1, g2, 1e-12)


@pytest.mark.slow(seconds=30)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.complex128])
def test_opcheck(backend, dtype):
    if backend.interpreted and dtype != torch.complex128:
        pytest.skip("interpreter: complex128 covers the op's registration; keeps the suite fast")
    x, a, zi = make_inputs(2, 12, 2, dtype, seed=1, device=backend.device)
    for neg in (False, True):
        opcheck(torch.ops.tritonlpc.allpole.default, (x.requires_grad_(), a.requires_grad_(), zi.requires_grad_(), neg))
        x, a, zi = x.detach(), a.detach(), zi.detach()
        for need_a, need_zi in ((True, True), (False, False)):
            opcheck(torch.ops.tritonlpc.allpole_backward.default, (x, a, x, zi, neg, need_a, need_zi))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_compile_fullgraph_half_precision(backend, dtype):
    # Under torch.compile half inputs are computed in float32 (the backend, and whether it loads
    # half natively, is only known when the custom op runs); results are returned in `dtype`.
    torch._dynamo.reset()
    x, a, zi = (t.to(dtype) for t in make_inputs(2, 33, 2, torch.float32, seed=3, device=backend.device))
    eager = [t.clone().requires_grad_() for t in (x, a, zi)]
    comp = [t.clone().requires_grad_() for t in (x, a, zi)]
    le = _loss(*eager)
    ge = torch.autograd.grad(le, eager)
    compiled = torch.compile(_loss, fullgraph=True, backend="aot_eager")  # tracing is what failed
    lc = compiled(*comp)
    gc = torch.autograd.grad(lc, comp)
    assert lc.dtype == dtype
    tol = 8 * torch.finfo(dtype).eps
    assert_rel_close(lc.float(), le.float().double(), tol)
    for g1, g2 in zip(gc, ge):
        assert g1.dtype == dtype
        assert_rel_close(g1.float(), g2.double(), tol)


def test_use_backend_goes_around_a_compiled_function(backend):
    torch._dynamo.reset()
    x, a, zi = make_inputs(2, 20, 2, torch.float64, seed=4, device=backend.device)

    def inner(x, a):
        with tritonlpc.use_backend(backend.name):
            return tritonlpc.sample_wise_lpc(x, a)

    with pytest.raises(Exception, match="use_backend cannot be used inside a torch.compile'd function"):
        torch.compile(inner, fullgraph=True, backend="eager")(x, a)
    compiled = torch.compile(tritonlpc.sample_wise_lpc, fullgraph=True, backend="eager")
    with tritonlpc.use_backend(backend.name):
        assert_rel_close(compiled(x, a), tritonlpc.sample_wise_lpc(x, a), 1e-12)
