"""The backend contract (:mod:`tritonlpc.backends`), checked for every available backend
against the float64 reference (:mod:`tritonlpc._reference`, and autograd of it for the
gradients): ``forward`` (conj_a, neg_a), ``backward`` (every need_grad_a / need_grad_zi / neg_a
combination), ``reverse`` (conj_a, neg_a), ``smooth`` and empty shapes, with stable slowly
varying coefficients. Small shapes: the Triton kernels may run in the CPU interpreter."""

from __future__ import annotations

import itertools
from typing import Tuple

import pytest
import torch

from tritonlpc import _dispatch, _reference
from tritonlpc.backends.base import Backend
from tritonlpc.testing import assert_rel_close, make_inputs

# (B, T, M, dtype, strided): odd lengths, B = 1, T < M, complex; strided: x time-major and a
# expanded over batch (stride 0), read in place.
CASES = [
    (1, 7, 2, torch.float64, False),
    (3, 5, 3, torch.complex128, True),
    (2, 2, 3, torch.float64, True),  # T < M
    (2, 9, 1, torch.complex128, False),
]
EMPTY = [(0, 5, 2), (2, 0, 2), (0, 0, 1)]
# slice maps: M = 1, 2, 5; T < M, T = 0; complex; a expanded over batch
SUMMARY_CASES = [
    (2, 9, 1, torch.complex128, False),
    (3, 6, 2, torch.float64, True),
    (1, 3, 5, torch.complex128, True),  # T < M
    (2, 0, 2, torch.float64, False),
]
RTOL = 1e-10


def _ids(case: Tuple) -> str:
    B, T, M, dtype, strided = case
    return f"B{B}-T{T}-M{M}-{str(dtype)[6:]}{'-strided' if strided else ''}"


def _inputs(case: Tuple, device: str) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    B, T, M, dtype, strided = case
    x, a, zi = make_inputs(B, T, M, dtype, seed=B * 100 + T * 10 + M, device=device)
    g = make_inputs(B, T, M, dtype, seed=7 + T, device=device)[0]
    if strided:
        x = x.t().contiguous().t()  # time-major storage
        a = a[:1].expand(B, T, M)  # one filter for every row, stride 0 over batch
    return x, a, zi, g


def _smooth_reference(f, at, rt, zi):
    prev, gs, zs = zi, [], []
    for n in range(f.shape[1]):
        att = f[:, n] < prev
        beta = torch.where(att, at, rt)
        prev = beta * f[:, n] + (1 - beta) * prev
        gs.append(prev)
        zs.append(att)
    return torch.stack(gs, 1), torch.stack(zs, 1)


def _check_smooth(be: Backend, B: int, T: int, device: str) -> None:
    gen = torch.Generator().manual_seed(B + T)
    f = torch.rand(B, T, dtype=torch.float64, generator=gen)
    at = 0.2 + 0.6 * torch.rand(B, dtype=torch.float64, generator=gen)
    rt = 0.05 + 0.2 * torch.rand(B, dtype=torch.float64, generator=gen)
    zi = torch.rand(B, dtype=torch.float64, generator=gen)
    g, zeta = be.smooth(*(t.to(device) for t in (f, at, rt, zi)))
    g_ref, zeta_ref = _smooth_reference(f, at, rt, zi)
    assert zeta.dtype == torch.bool and torch.equal(zeta.cpu(), zeta_ref)
    assert_rel_close(g, g_ref, RTOL)


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_backend_contract(backend, case):
    if backend.interpreted and case[3].is_complex and case[4]:
        pytest.skip("interpreter: strided complex is covered by test_triton_backend.py (keeps the suite fast)")
    x, a, zi, g = _inputs(case, backend.device)
    be = _dispatch.backend_object(x)
    assert isinstance(be, Backend) and be.name == backend.name
    B, T, M = a.shape

    # forward, every conj_a / neg_a
    for conj, neg in itertools.product((False, True), repeat=2):
        y = be.forward(x, a, zi, conj_a=conj, neg_a=neg)
        assert y.is_contiguous() and y.dtype == x.dtype
        assert_rel_close(y, _reference.allpole(x.cpu(), a.cpu(), zi.cpu(), conj_a=conj, neg_a=neg), RTOL)

    # reverse, every conj_a / neg_a
    for conj, neg in itertools.product((False, True), repeat=2):
        u = be.reverse(g, a, conj_a=conj, neg_a=neg)
        assert_rel_close(u, _reference.reverse(g.cpu(), a.cpu(), conj_a=conj, neg_a=neg), RTOL)

    # backward against autograd of the reference, every flag combination
    for neg in (False, True):
        xr, ar, zr = (t.detach().cpu().clone().requires_grad_() for t in (x, a, zi))
        yr = _reference.allpole(xr, ar, zr, neg_a=neg)
        gx_ref, ga_ref, gz_ref = torch.autograd.grad(yr, (xr, ar, zr), g.cpu())
        y = be.forward(x, a, zi, neg_a=neg)
        for need_a, need_zi in itertools.product((False, True), repeat=2):
            gx, ga, gz = be.backward(g, a, y if need_a else None, zi if need_a else None, need_a, need_zi, neg_a=neg)
            assert_rel_close(gx, gx_ref, RTOL)
            assert (ga is None) != need_a and (gz is None) != need_zi
            if need_a:
                assert_rel_close(ga, ga_ref, RTOL)
            if need_zi:
                assert_rel_close(gz, gz_ref, RTOL)
    with pytest.raises(ValueError, match="grad_a"):
        be.backward(g, a, None, zi, True, False)

    _check_smooth(be, B, T, backend.device)


@pytest.mark.parametrize("case", SUMMARY_CASES, ids=_ids)
def test_backend_summary(backend, case):
    """``summary``: the slice map ``(P, h)`` (``P`` as a mantissa and exponent, 0 here) and the
    adjoint's ``k`` of :mod:`tritonlpc._reference`."""
    x, a, _, g = _inputs(case, backend.device)
    be = _dispatch.backend_object(x)
    B, T, M = a.shape
    for neg in (False, True):
        P, h, e = be.summary(x, a, neg_a=neg)
        assert P is not None and P.shape == (B, M, M) and h.shape == (B, M) and P.dtype == h.dtype == x.dtype
        assert e is not None and e.shape == (B,) and e.dtype == torch.int32 and not e.any()
        P_ref, h_ref = _reference.slice_map(x.cpu(), a.cpu(), neg_a=neg)
        assert_rel_close(P, P_ref, RTOL)
        assert_rel_close(h, h_ref, RTOL)
        none, k, no_e = be.summary(g, a, neg_a=neg, adjoint=True)
        assert none is None and no_e is None and k.shape == (B, M) and k.dtype == g.dtype
        assert_rel_close(k, _reference.adjoint_slice_map(g.cpu(), a.cpu(), neg_a=neg), RTOL)


@pytest.mark.parametrize("B,T,M", EMPTY)
def test_backend_contract_empty(backend, B, T, M):
    dev = backend.device
    x, zi = torch.zeros(B, T, dtype=torch.float64, device=dev), torch.ones(B, M, dtype=torch.float64, device=dev)
    a = torch.zeros(B, T, M, dtype=torch.float64, device=dev)
    be = _dispatch.backend_object(x)
    assert be.forward(x, a, zi).shape == (B, T)
    assert be.reverse(x, a, conj_a=True).shape == (B, T)
    gx, ga, gz = be.backward(x, a, x, zi, True, True)
    assert (
        gx.shape == (B, T) and ga.shape == (B, T, M) and torch.equal(gz, torch.zeros(B, M, dtype=x.dtype, device=dev))
    )
    frames = torch.ones(B, (T - 1) // 2 + 2, M, dtype=torch.float64, device=dev)  # hop = 2: F >= 1 even at T = 0
    _, gf, _ = be.backward(x, frames, x, zi, True, True, hop=2)
    assert torch.equal(gf, torch.zeros_like(frames))
    g, zeta = be.smooth(x, zi[:, 0], zi[:, 0], zi[:, 0])
    assert g.shape == zeta.shape == (B, T) and zeta.dtype == torch.bool
