"""``tests/_interpreter_patch.py``: under the Triton interpreter, a nested helper call inside a
launch does not re-patch ``triton.language``, and computes what Triton's own path computes."""

from __future__ import annotations

import os

import pytest
import torch

if os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("the shortcut is for Triton's interpreter (TRITON_INTERPRET=1)", allow_module_level=True)

triton = pytest.importorskip("triton")
import triton.language as tl  # noqa: E402
from triton.runtime import interpreter as ti  # noqa: E402

import _interpreter_patch as ip  # noqa: E402


@triton.jit
def _affine(x, k):
    return tl.fma(x, k, tl.full(x.shape, 1.0, x.dtype))


@triton.jit
def _twice_affine(x):
    return _affine(_affine(x, 2.0), 0.5)  # a helper calling a helper


@triton.jit
def _kernel(X, Y, N: tl.constexpr):
    o = tl.arange(0, N)
    tl.store(Y + o, _twice_affine(tl.load(X + o)))


def test_helpers_inside_a_launch_are_not_patched_again(monkeypatch):
    if not getattr(ti, "_tritonlpc_tests_patched", False) or ip.REAL_PATCH_LANG is None:
        pytest.skip("this Triton's interpreter lacks what the shortcut relies on (the suite runs without it)")
    real, shortcut, calls = ip.REAL_PATCH_LANG, ti._patch_lang, []

    def counting(fn):
        calls.append(fn.__name__)
        return real(fn)

    x = torch.randn(16, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    monkeypatch.setattr(ip, "REAL_PATCH_LANG", counting)
    monkeypatch.setattr(ti, "_patch_lang", counting)  # Triton's own path: every helper call patches
    y_triton = torch.empty_like(x)
    _kernel[(1,)](x, y_triton, N=16)
    assert calls == ["_kernel", "_twice_affine", "_affine", "_affine"], calls

    calls.clear()
    monkeypatch.setattr(ti, "_patch_lang", shortcut)  # the shortcut: only the launch patches
    y = torch.empty_like(x)
    _kernel[(1,)](x, y, N=16)
    assert calls == ["_kernel"], calls
    assert torch.equal(y, y_triton)
    assert torch.allclose(y, (x * 2 + 1) * 0.5 + 1, rtol=1e-15, atol=0)
    assert tl.core.is_builtin(tl.fma) and tl.core.is_builtin(tl.full)  # the launch's patches were undone
