"""Chunk and slice maps that cannot overflow where the recursion does not (issue 21, item 1).

A tiny state (1e-30) enters a stretch of growth (poles of radius 2^10 for 13 samples: 2^130,
past float32's 2^128) and then decays: the sequential float32 recursion peaks far below the float
range, but the map of the stretch alone overflows unless kept as a mantissa and a power-of-two
exponent. Checked against the float64 reference: the Triton three-phase schedule, tile and walk
paths (interpreter, chunks forced to 32 samples), forward and adjoint; and a slice summary applied
with :func:`tritonlpc._reference.apply_map` (the path of :mod:`tritonlpc.distributed`; the
spawned-group check is ``tiny_state_through_an_overflowing_slice_map``) on both backends.
The Numba chunked schedule has its own tests in ``test_numba_backend.py``.
"""

from __future__ import annotations

import os

import pytest
import torch

from tritonlpc import _reference
from tritonlpc.testing import assert_rel_close, growth_then_decay

TRITON = torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"
DEV = "cuda" if torch.cuda.is_available() else "cpu"
L, K, GROWTH, TINY = 32, 13, 1024.0, 1e-30


def _hi(t):
    return t.detach().cpu().to(torch.complex128 if t.dtype.is_complex else torch.float64)


def _tiny(shape, dtype, seed, tiny=TINY):
    g = torch.Generator().manual_seed(seed)
    return (tiny * torch.randn(shape, dtype=torch.complex128 if dtype.is_complex else torch.float64, generator=g)).to(
        dtype
    )


def _backend(name):
    if name == "triton":
        if not TRITON:
            pytest.skip("needs CUDA or TRITON_INTERPRET=1")
        from tritonlpc.backends.triton.backend import BACKEND
    else:
        from tritonlpc.backends.numba_cpu import BACKEND
    return BACKEND


@pytest.mark.skipif(not TRITON, reason="needs CUDA or TRITON_INTERPRET=1")
@pytest.mark.parametrize(
    "M,dtype,adjoint",
    [
        (1, torch.float32, True),
        (2, torch.complex64, True),
        (4, torch.float32, False),
        (5, torch.float32, True),
        (3, torch.complex128, False),
    ],
    ids=str,
)
def test_triton_three_phase(M, dtype, adjoint):
    """Tiles (M <= 4; a chunk is two tiles of 4 rows of 4 samples: the summary's threads run 8
    samples each, in two trips) and walks (M = 5), chunks of 32:
    the state crosses into the chunk of the stretch from the chunk before it (forward) or after
    it (adjoint; not at M = 4, to keep the interpreter's time down: the same combine as M = 1,
    2); y, grad_x, grad_a, grad_zi finite and as the float64 reference. complex128 (the float64
    renormalisation): chunks of 128, 110 samples of growth (2^1100, past float64's 2^1024) from a
    state of 1e-300. Tiles with tile passes and with stretch passes (each thread's prefix map
    applied to a tiny state: its mantissa far below 1, the state scaled first)."""
    from tritonlpc.backends.triton.backend import BACKEND
    from tritonlpc.backends.triton.plan import TILE_ORDERS, plan

    n, k, tiny = (128, 110, 1e-300) if dtype == torch.complex128 else (L, K, TINY)  # chunk, growth, state
    T = 3 * n
    knobs = dict(block_t=n // 2, steps=4, chunk_len=n) if M <= TILE_ORDERS else dict(chunk_len=n)
    p = plan(1, T, M, dtype, interpreted=True, **knobs)
    assert (p.schedule, p.n_chunks, p.chunk_len) == ("three-phase", 3, n)
    a_fwd = growth_then_decay(T, M, dtype, n + 4, k, GROWTH).to(DEV)
    a_bwd = growth_then_decay(T, M, dtype, 2 * n - 4 - k, k, GROWTH).to(DEV)
    x = torch.zeros(1, T, dtype=dtype, device=DEV)
    x[0, n - 4] = tiny
    g = torch.zeros(1, T, dtype=dtype, device=DEV)
    g[0, 2 * n + 4] = tiny
    zi = _tiny((1, M), dtype, 0, tiny).to(DEV)
    y_ref = _reference.allpole(_hi(x), _hi(a_fwd), _hi(zi))
    xs, as_, zs = (_hi(t).requires_grad_() for t in (x, a_bwd, zi))
    yb = _reference.allpole(xs, as_, zs)
    grads_ref = torch.autograd.grad(yb, (xs, as_, zs), _hi(g))
    assert y_ref.abs().max() > 1e6 and grads_ref[0].abs().max() > 1e6  # it did grow
    for extra in ({"stretch": False}, {"stretch": True}) if M <= TILE_ORDERS else ({},):  # tile or stretch passes
        results = (BACKEND.forward(x, a_fwd, zi, **knobs, **extra),)
        if adjoint:
            results += BACKEND.backward(g, a_bwd, yb.detach().to(dtype).to(DEV), zi, True, True, **knobs, **extra)
        for got, exp in zip(results, (y_ref, *grads_ref)):
            assert torch.isfinite(exp.to(dtype)).all()  # the float32 recursion stays finite
            assert torch.isfinite(got).all()
            assert_rel_close(got, exp, 1e-4)


@pytest.mark.parametrize(
    "name,M,dtype",
    [
        ("numba", 1, torch.float32),
        ("numba", 2, torch.complex64),
        ("numba", 4, torch.float32),
        ("triton", 1, torch.float32),
        ("triton", 2, torch.complex64),
        ("triton", 5, torch.float32),
    ],
)
def test_slice_map_of_an_overflowing_slice(name, M, dtype):
    """``summary`` of a slice whose transition overflows: ``P^ 2**e`` applied to a tiny start
    state (and, transposed, to a tiny end-state adjoint) gives the finite end state (start-state
    adjoint) of the float64 reference. Triton: chunks of 8, so the chunk maps are composed too."""
    backend = _backend(name)
    knobs = dict(chunk_len=8) if name == "triton" else {}
    T = K + 16
    a = growth_then_decay(T, M, dtype, 8, K, GROWTH).to(DEV if name == "triton" else "cpu")
    x, g = (_tiny((1, T), dtype, seed).to(a.device) for seed in (1, 2))
    s0, mu = (_tiny((1, M), dtype, seed) for seed in (3, 4))
    P, h, e = backend.summary(x, a, **knobs)
    k = backend.summary(g, a, adjoint=True, **knobs).h
    assert P is not None and e is not None and int(e) > 0  # the transition alone would overflow
    start = _hi(s0).requires_grad_()
    y = _reference.allpole(_hi(x), _hi(a), start)
    end = _reference.end_state(y, start)
    ((_hi(g).conj() * y).sum() + (_hi(mu).conj() * end).sum()).real.backward()
    got = (_reference.apply_map(P.cpu(), h.cpu(), s0, e.cpu()), _reference.apply_map(P.mH.cpu(), k.cpu(), mu, e.cpu()))
    for got_, exp in zip(got, (end.detach(), start.grad)):
        assert torch.isfinite(exp.to(dtype)).all() and exp.abs().max() > 1e-10  # finite, and it did grow
        assert torch.isfinite(got_).all()
        assert_rel_close(got_, exp, 1e-4)
