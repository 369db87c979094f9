"""Control frames (``hop=``) in the Triton kernels against the float64 reference.

Without CUDA the kernels run in Triton's interpreter at tiny tiles (8 samples) and walk chunks
(8): the tile path (M <= 4) with a hop that is a multiple of a thread's samples and one that is
not (a thread's samples then reach into the next interval), the walk path (M > 4), both
schedules, hop not dividing T, T below the hop and below M, B = 1, complex64. The frames'
gradient is reduced inside the kernels (:mod:`tritonlpc.backends.triton.frames`).
"""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("needs CUDA or TRITON_INTERPRET=1 (set before triton is imported)", allow_module_level=True)

tg = pytest.importorskip("tritonlpc.backends.triton.backend", reason="triton is not importable")
from tritonlpc import _reference  # noqa: E402
from tritonlpc.backends.triton.plan import frame_slots, plan  # noqa: E402
from tritonlpc.testing import TOL, assert_rel_close, make_inputs  # noqa: E402

DEV = "cuda" if torch.cuda.is_available() else "cpu"
THREE = dict(block_t=8, steps=2, chunk_len=8, schedule="three-phase")
SINGLE = dict(block_t=8, steps=4, schedule="single")


def _hi(t):
    return t.detach().cpu().to(torch.complex128 if t.dtype.is_complex else torch.float64)


@pytest.mark.parametrize(
    "B,T,M,H,dtype,kw",
    [
        (2, 11, 2, 4, torch.float64, THREE),  # tile: hop a multiple of a thread's samples
        (1, 13, 3, 3, torch.float64, SINGLE),  # tile: a thread's samples in two intervals
        (1, 5, 2, 16, torch.float64, THREE),  # tile: T < H
        (1, 11, 1, 3, torch.complex64, SINGLE),  # tile, complex64
        (2, 23, 5, 3, torch.float64, THREE),  # walk: chunks across intervals
        (1, 3, 6, 8, torch.complex64, dict(schedule="single")),  # walk: T < M, T < H
    ],
    ids=["tile-three", "tile-split", "tile-short", "tile-c64", "walk-three", "walk-short-c64"],
)
def test_frames_match_the_reference(B, T, M, H, dtype, kw):
    """forward, backward (x, frames, zi; for B = 1 twice: the same bits) and reverse (conj, neg)."""
    x, af, zi = make_inputs(B, T, M, dtype, seed=T + H, device=DEV, hop=H)
    g = torch.randn(B, T, dtype=dtype, generator=torch.Generator().manual_seed(T)).to(DEV)
    tol = TOL[dtype]
    y = tg.BACKEND.forward(x, af, zi, hop=H, **kw)
    xr, fr, zr = (_hi(t).requires_grad_() for t in (x, af, zi))
    ref = _reference.allpole(xr, _reference.interpolate(fr, H, T), zr)
    assert_rel_close(y, ref.detach(), tol)
    grads = tg.BACKEND.backward(g, af, y, zi, True, True, hop=H, **kw)
    for got, exp in zip(grads, torch.autograd.grad(ref, (xr, fr, zr), _hi(g))):
        assert got.shape == exp.shape and got.dtype == dtype
        assert_rel_close(got, exp, tol)
    if B == 1:
        again = tg.BACKEND.backward(g, af, y, zi, True, True, hop=H, **kw)
        assert all(torch.equal(p, q) for p, q in zip(grads, again))
    u = tg.BACKEND.reverse(g, af, conj_a=True, neg_a=True, hop=H, **kw)
    a_n = _reference.interpolate(_hi(af), H, T)
    assert_rel_close(u, _reference.reverse(_hi(g), a_n, conj_a=True, neg_a=True), tol)


def test_tile_plan_for_frames():
    """A thread's samples lie within two intervals (steps <= hop), and a reverse tile within a few
    (<= 4 hop samples) and, planned, at most 8 samples a thread; the forward plans as without."""
    kw = dict(block_t=8, steps=4, schedule="single")
    p = plan(2, 64, 2, torch.float32, reverse=True, hop=3, **kw)
    assert (p.steps, p.block_t) == (2, 4)  # 2 rows of 2
    p = plan(2, 64, 2, torch.float32, reverse=True, hop=1, **dict(kw, block_t=32))
    assert (p.steps, p.block_t) == (1, 4)  # 8 rows of 1, cut to 4
    p = plan(2, 64, 2, torch.float32, hop=1, **dict(kw, block_t=32))
    assert (p.steps, p.block_t) == (1, 8)
    assert plan(2, 4096, 2, torch.float32, hop=256) == plan(2, 4096, 2, torch.float32)
    assert plan(2, 4096, 2, torch.float32, reverse=True, hop=256) == plan(2, 4096, 2, torch.float32, reverse=True)
    assert [frame_slots(8, h) for h in (0, 1, 3, 8, 16)] == [0, 8, 4, 1, 1]
    assert frame_slots(8, 16, aligned=False) == 2


def test_half_precision_frames():
    """float16 frames: loaded natively, interpolated and summed in float32, stored as float16 (the
    bound of per-sample coefficients, test_triton_backend.py)."""
    dtype, bound = torch.float16, 1e-3
    x, af, zi = (t.to(dtype) for t in make_inputs(1, 11, 2, torch.float64, seed=3, device=DEV, hop=4))
    g = torch.randn(1, 11, generator=torch.Generator().manual_seed(4)).to(device=DEV, dtype=dtype)
    y = tg.BACKEND.forward(x, af, zi, hop=4, **THREE)
    grads = tg.BACKEND.backward(g, af, y, zi, True, True, hop=4, **THREE)
    xr, fr, zr = (_hi(t).requires_grad_() for t in (x, af, zi))
    ref = _reference.allpole(xr, _reference.interpolate(fr, 4, 11), zr)
    for got, exp in zip((y, *grads), (ref.detach(), *torch.autograd.grad(ref, (xr, fr, zr), _hi(g)))):
        assert got.dtype == dtype and got.shape == exp.shape
        err = (_hi(got) - exp).norm() / exp.norm()
        assert err <= bound, f"relative L2 error {err:.3g} > {bound}"
