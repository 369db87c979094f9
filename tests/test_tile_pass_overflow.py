"""The tile pass kernels where the scan of one tile's row maps overflows (issue 21, item 1).

On a GPU ``tl.associative_scan`` is a tree: it composes runs of row maps before applying them to
the state, so a tile holding a stretch of growth (poles of radius 2^10 for 14 samples: 2^140,
past float32's 2^128) gives an infinite product even where a tiny state through it stays finite.
Triton's interpreter scans in order, so here the interpreter's generic scan is swapped for a
Hillis-Steele tree (:func:`_tree_scan`, on a GPU the compiled scan is a tree anyway). Checked:
(1) the fallback (every tile swept row by row, ``tile_walk=True``) is the float64 reference on
ordinary inputs and on growth then decay; (2) in tree order the plain scan of such a tile
overflows, and the pass kernels detect it and stay finite, forward and adjoint. Tiles of 4 rows
of 8 samples.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator
from unittest import mock

import numpy as np
import pytest
import torch

from tritonlpc import _reference
from tritonlpc.testing import assert_rel_close, growth_then_decay, make_inputs, wide_dtype

triton = pytest.importorskip("triton")
tl = triton.language
from tritonlpc.backends.triton.tile_scan import fold_map, row_map, scan, states  # noqa: E402

pytestmark = pytest.mark.skipif(
    not (torch.cuda.is_available() or os.environ.get("TRITON_INTERPRET") == "1"),
    reason="needs CUDA or TRITON_INTERPRET=1",
)
DEV = "cuda" if torch.cuda.is_available() else "cpu"
TILE = dict(block_t=32, steps=8)  # 4 rows of 8 samples
T, START, K, GROWTH, TINY = 64, 41, 14, 1024.0, 1e-30  # the stretch: rows 1-2 of tile 1 (both directions)


@contextlib.contextmanager
def _tree_scan() -> Iterator[None]:
    """Within the block, the interpreter's generic ``tl.associative_scan`` combines in the
    Hillis-Steele order (rounds ``d = 1, 2, 4, ...``: element ``i >= d`` becomes
    ``combine(element i - d, element i)``), a tree as in compiled code. Nothing to do on a GPU."""
    if torch.cuda.is_available():
        yield
        return
    from triton.runtime import interpreter

    def scan(self, inputs):
        data = [np.array(t.handle.data) for t in inputs]
        n = data[0].shape[self.axis]
        d = 1
        while d < n:  # whole (power-of-two) blocks: element i - d (wrapped round) and element i
            left = [self.to_tensor(np.roll(v, d, self.axis), t.dtype) for v, t in zip(data, inputs)]
            right = [self.to_tensor(v.copy(), t.dtype) for v, t in zip(data, inputs)]
            with np.errstate(all="ignore"):
                out = self.combine_fn.fn(*left, *right)
            keep = (np.arange(n) >= d).reshape([-1 if k == self.axis else 1 for k in range(data[0].ndim)])
            data = [np.where(keep, o.handle.data, v) for v, o in zip(data, out if isinstance(out, tuple) else (out,))]
            d *= 2
        return [self.to_tensor(v, t.dtype) for v, t in zip(data, inputs)]

    with mock.patch.object(interpreter.ScanOps, "generic_scan", scan):
        yield


def _hi(t: torch.Tensor) -> torch.Tensor:
    return t.detach().cpu().to(wide_dtype(t.dtype))


def _check(x, a, zi, g, tol, **knobs):
    """The Triton backend's ``y`` and its ``grad_x, grad_a, grad_zi`` against the float64
    reference: finite wherever the reference in ``x``'s dtype is, and close to it."""
    from tritonlpc.backends.triton.backend import BACKEND

    xs, as_, zs = (_hi(t).requires_grad_() for t in (x, a, zi))
    y = _reference.allpole(xs, as_, zs)
    expected = (y.detach(), *torch.autograd.grad(y, (xs, as_, zs), _hi(g)))
    got = (BACKEND.forward(x, a, zi, **knobs), *BACKEND.backward(g, a, y.detach().to(x.dtype), zi, True, True, **knobs))
    for name, out, exp in zip(("y", "grad_x", "grad_a", "grad_zi"), got, expected):
        assert torch.isfinite(exp.to(x.dtype)).all(), name  # the recursion in x's dtype stays finite
        assert torch.isfinite(out).all(), name
        assert_rel_close(out, exp, tol)
    return expected


def _stretch(M: int, dtype: torch.dtype):
    """Growth then decay in tile 1, a tiny state entering it (forward from ``x[36]``, adjoint
    from ``g[60]``) and a tiny ``zi``."""
    a = growth_then_decay(T, M, dtype, START, K, GROWTH).to(DEV)
    x = torch.zeros(1, T, dtype=dtype, device=DEV)
    g = torch.zeros(1, T, dtype=dtype, device=DEV)
    x[0, 36] = TINY
    g[0, 60] = TINY
    zi = torch.full((1, M), TINY, dtype=dtype, device=DEV)
    return x, a, zi, g


@pytest.mark.parametrize(
    "M,dtype,schedule",
    [(1, torch.float32, "three-phase"), (2, torch.complex64, "single"), (4, torch.float32, "single")],
    ids=str,
)
def test_walk_matches_reference(M, dtype, schedule):
    """The fallback forced on every tile: ordinary inputs (T = 43: a partial last tile) and
    growth then decay, forward and adjoint, as the float64 reference (three phase with tile
    passes: its stretch passes scan no tiles)."""
    x, a, zi = make_inputs(1, 43, M, dtype, seed=M, device=DEV)
    g = make_inputs(1, 43, M, dtype, seed=10 + M, device=DEV)[0]
    knobs = dict(TILE, stretch=False) if schedule == "three-phase" else TILE
    _check(x, a, zi, g, 1e-4, schedule=schedule, tile_walk=True, **knobs)
    expected = _check(*_stretch(M, dtype), 1e-4, schedule=schedule, tile_walk=True, **knobs)
    assert expected[0].abs().max() > 1e6 and expected[1].abs().max() > 1e6  # it did grow


@triton.jit
def _end_states_kernel(x_ptr, a_ptr, o_ptr, s0, R: tl.constexpr, S: tl.constexpr):
    """The plain scan's end states of one tile of ``R`` rows of ``S`` samples (order 1, real)
    from the state ``s0``, as the pass kernels compute them."""
    r = tl.arange(0, R)
    X = ()
    A = ()
    for j in tl.static_range(S):
        X = X + (tl.load(x_ptr + r * S + j),)
        A = A + (tl.load(a_ptr + r * S + j),)
    maps = fold_map(row_map(X, A, False, 1, False, S), r == 0, (s0,), 1, False)
    tl.store(o_ptr + r, states(scan(maps, 1, False), 1, False)[0])


def test_tree_order_scan_overflows():
    """In tree order the plain scan of tile 1's row maps (the tiny state folded into row 0's)
    gives non-finite end states; in order it does not. The maps of rows 1 and 2 are each
    finite (2^70), their product is not."""
    x, a, _, _ = _stretch(1, torch.float32)
    x1, a1 = x[0, 32:].contiguous(), a[0, 32:, 0].contiguous()
    ends = {}
    for order, ctx in (("in order", contextlib.nullcontext()), ("tree", _tree_scan())):
        ends[order] = torch.empty(4, device=DEV)
        with ctx:
            _end_states_kernel[(1,)](x1, a1, ends[order], TINY, R=4, S=8)
    if not torch.cuda.is_available():  # on a GPU, "in order" is a tree too
        assert torch.isfinite(ends["in order"]).all()
    assert not torch.isfinite(ends["tree"]).all()


@pytest.mark.parametrize("M,dtype", [(1, torch.float32), (2, torch.complex64)], ids=str)
def test_silent_input_through_overflowing_rows_stays_zero(M, dtype):
    """Zero input and zero state through the stretch, the scan in tree order (single pass): the
    scan's combine does not guard zero states, so the overflowing rows give NaN end states
    (checked on the scan alone), the finite check sends the tile to the row-by-row sweep, and y,
    grad_x, grad_a and grad_zi are exactly zero, as the sequential recursion gives."""
    from tritonlpc.backends.triton.backend import BACKEND

    _, a, _, _ = _stretch(M, dtype)
    zero = torch.zeros(1, T, dtype=dtype, device=DEV)
    zi = torch.zeros(1, M, dtype=dtype, device=DEV)
    if M == 1:
        ends = torch.empty(4, device=DEV)
        with _tree_scan():
            _end_states_kernel[(1,)](zero[0, 32:].contiguous(), a[0, 32:, 0].contiguous(), ends, 0.0, R=4, S=8)
        assert torch.isnan(ends).any()  # inf * 0 in the unguarded combine
    with _tree_scan():
        y = BACKEND.forward(zero, a, zi, schedule="single", **TILE)
        grads = BACKEND.backward(zero, a, zero, zi, True, True, schedule="single", **TILE)
    for out in (y, *grads):
        assert torch.equal(out, torch.zeros_like(out))


@pytest.mark.parametrize("M,dtype", [(1, torch.float32), (2, torch.complex64)], ids=str)
def test_tree_order_pass_stays_finite(M, dtype):
    """The pass kernels with the scan in tree order: the tile passes of both schedules (every
    row's end state checked, the tile swept row by row) and three phase's stretch passes (the
    summary's scan of its threads' maps with exponents, the prefix maps applied to the chunk's
    start state): results finite and as the float64 reference."""
    with _tree_scan():
        for knobs in (dict(schedule="single"), dict(schedule="three-phase", stretch=False), dict(stretch=True)):
            expected = _check(*_stretch(M, dtype), 1e-4, **knobs, **TILE)
    assert expected[0].abs().max() > 1e6 and expected[1].abs().max() > 1e6  # it did grow


def test_tile_walk_knob_is_a_bool():
    from tritonlpc.backends.triton.plan import plan

    assert plan(1, 64, 2, torch.float32, tile_walk=True).tile_walk
    with pytest.raises(TypeError, match="tile_walk"):
        plan(1, 64, 2, torch.float32, tile_walk=1)
