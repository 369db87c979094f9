"""Parity with torchlpc 0.7.2 itself (skipped when it is not installed)."""

from __future__ import annotations

import warnings

import pytest
import torch

import tritonlpc
from tritonlpc.testing import assert_rel_close, make_inputs

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torchlpc = pytest.importorskip(
        "torchlpc", reason="torchlpc is not installed (pip install --no-build-isolation torchlpc==0.7.2)"
    )

if torchlpc is tritonlpc:  # pragma: no cover - install_as_torchlpc() ran in this process
    pytest.skip("torchlpc is aliased to tritonlpc in this process", allow_module_level=True)


def _run(lib, x, a, zi, g):
    ins = [t.clone().requires_grad_() for t in (x, a, zi)]
    y, zf = lib.sample_wise_lpc(*ins, return_zf=True)
    grads = torch.autograd.grad((y, zf), ins, (g, torch.ones_like(zf)))
    return (y, zf, *grads)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
@pytest.mark.parametrize("B,T,M", [(2, 300, 1), (3, 257, 2), (1, 129, 3), (2, 64, 8)])
def test_same_outputs_and_gradients_as_torchlpc(dtype, B, T, M):
    x, a, zi = make_inputs(B, T, M, dtype, seed=T)
    g = torch.randn_like(x)
    ours = _run(tritonlpc, x, a, zi, g)
    theirs = _run(torchlpc, x, a, zi, g)
    tol = 1e-9 if dtype in (torch.float64, torch.complex128) else 1e-4
    for o, t in zip(ours, theirs):
        assert o.dtype == t.dtype and o.shape == t.shape
        assert_rel_close(o, t, tol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_same_linear_recurrence_as_torchlpc(dtype):
    x, a, zi = make_inputs(3, 200, 1, dtype, seed=2)
    decay, init = -a[..., 0], zi[:, 0]
    g = torch.randn_like(x)
    res = []
    # torchlpc 0.7.2 has no linear_recurrence (0.8 adds it): compare with its Recurrence.
    for f in (tritonlpc.linear_recurrence, torchlpc.recurrence.Recurrence.apply):
        ins = [t.clone().requires_grad_() for t in (decay, x, init)]
        h = f(*ins)
        res.append((h, *torch.autograd.grad(h, ins, g)))
    for o, t in zip(*res):
        assert_rel_close(o, t, 1e-9)


def test_same_autograd_functions_as_torchlpc():
    x, a, zi = make_inputs(2, 50, 2, torch.float64, seed=4)
    assert_rel_close(tritonlpc.core.LPC.apply(x, a, zi), torchlpc.core.LPC.apply(x, a, zi), 1e-12)
    d = -a[..., 0]
    assert_rel_close(
        tritonlpc.recurrence.Recurrence.apply(d, x, zi[:, 0]),
        torchlpc.recurrence.Recurrence.apply(d, x, zi[:, 0]),
        1e-12,
    )
