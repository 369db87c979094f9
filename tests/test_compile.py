"""torch.compile(fullgraph=True) through the custom ops, and opcheck of their registrations."""

from __future__ import annotations

import pytest
import torch
from torch.library import opcheck

import tritonlpc
from inputs import make_inputs
from test_api import assert_rel_close


def _loss(x, a, zi):
    y, zf = tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)
    h = tritonlpc.linear_recurrence(0.5 * torch.tanh(a[..., 0]), y, zi[:, 0])
    return (y.square()).mean() + zf.sum() + h.abs().mean()


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


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.complex128])
def test_opcheck(backend, dtype):
    x, a, zi = make_inputs(2, 12, 2, dtype, seed=1, device=backend.device)
    for neg in (False, True):
        opcheck(torch.ops.tritonlpc.allpole.default, (x.requires_grad_(), a.requires_grad_(), zi.requires_grad_(), neg))
        x, a, zi = x.detach(), a.detach(), zi.detach()
        for need_a, need_zi in ((True, True), (False, False)):
            opcheck(torch.ops.tritonlpc.allpole_backward.default, (x, a, x, zi, neg, need_a, need_zi))
