"""Triton backend kernels against the float64 sequential reference.

Without CUDA the kernels run in Triton's interpreter (``TRITON_INTERPRET=1``, set by
``conftest.py``) at small sizes: every order class (tile scans ``M <= 4``, per-lane walks
above), both schedules forced at tiny tiles (4 samples) and chunks (8), other tile/chunk
splits, ``T`` around their boundaries and below ``M``, flags, strides, expanded ``a``,
unstable stretches (overflowing maps over a zero state), determinism and empty inputs. With
CUDA the same tests run on the GPU, plus the ``gpu`` tests at real sizes (reference: the Numba
backend in float64, itself tested against the reference).

Half precision (measured, B=3, T=40, M in 1..8, vs float64 on the same rounded inputs):
relative L2 error about 3.5e-3 for bfloat16 (``y``, ``grad_x``, ``grad_zi``; ``grad_a`` about
6.5e-3 because ``y`` itself arrives in bfloat16) and 3e-4 for float16 — the rounding of the
stored outputs; the float32 accumulation adds nothing visible. Tested bounds: 1e-2 / 1e-3.
"""

from __future__ import annotations

import os

import pytest
import torch

if not torch.cuda.is_available() and os.environ.get("TRITON_INTERPRET") != "1":
    pytest.skip("needs CUDA or TRITON_INTERPRET=1 (set before triton is imported)", allow_module_level=True)

tg = pytest.importorskip("tritonlpc.backends.triton.backend", reason="triton is not importable")
from tritonlpc import _reference  # noqa: E402
from tritonlpc.backends.triton.plan import TILE_ORDERS  # noqa: E402
from tritonlpc.testing import TOL, assert_rel_close, make_inputs  # noqa: E402

CUDA = torch.cuda.is_available()
DEV = "cuda" if CUDA else "cpu"
gpu = pytest.mark.skipif(not CUDA, reason="needs a CUDA GPU")

# Tiny tiles (orders <= 4; a three-phase chunk is a tile) of 4 rows of 2 samples or 2 rows of 4,
# and walk chunks of 8 (M > 4), so that small T crosses their boundaries.
BT, CHUNK = 8, 8
THREE = dict(block_t=BT, steps=2, chunk_len=CHUNK, schedule="three-phase")
SINGLE = dict(block_t=BT, steps=4, schedule="single")
SCHEDULES = [THREE, SINGLE]
SCHEDULE_IDS = ["three-phase", "single"]


def _hi(t):
    return t.detach().cpu().to(torch.complex128 if t.dtype.is_complex else torch.float64)


def _inputs(B, T, M, dtype, seed=0):
    x, a, zi = make_inputs(B, T, M, dtype, seed=seed, device=DEV)
    g = torch.randn(B, T, dtype=dtype, generator=torch.Generator().manual_seed(seed + 1)).to(DEV)
    return x, a, zi, g


def _ref(x, a, zi, g, neg=False, conj=False):
    """Reference y and (grad_x, grad_a, grad_zi) by autograd of the sequential filter."""
    xs, as_, zs = [_hi(t).requires_grad_() for t in (x, a, zi)]
    y = _reference.allpole(xs, as_, zs, neg_a=neg, conj_a=conj)
    return y.detach(), torch.autograd.grad(y, (xs, as_, zs), _hi(g))


def _check_all(x, a, zi, g, tol, neg, **kw):
    y = tg.BACKEND.forward(x, a, zi, neg_a=neg, **kw)
    assert y.dtype == x.dtype and y.device == x.device and y.is_contiguous()
    y_ref, grads_ref = _ref(x, a, zi, g, neg=neg)
    assert_rel_close(y, y_ref, tol)
    grads = tg.BACKEND.backward(g, a, y, zi, True, True, neg_a=neg, **kw)
    for got, exp in zip(grads, grads_ref):
        assert got.dtype == g.dtype and got.is_contiguous()
        assert_rel_close(got, exp, tol)
    conj = not neg  # both values of both flags over a test's T values
    u = tg.BACKEND.reverse(g, a, conj_a=conj, neg_a=neg, **kw)
    assert_rel_close(u, _reference.reverse(_hi(g), _hi(a), conj_a=conj, neg_a=neg), tol)
    yc = tg.BACKEND.forward(x, a, zi, conj_a=conj, **kw)
    assert_rel_close(yc, _reference.allpole(_hi(x), _hi(a), _hi(zi), conj_a=conj), tol)


# --------------------------------------------------------------------------- the matrix
# Tile orders (M <= 4; complex128 M <= 3) and walk orders (5, 8, 16; complex128 also 4). The
# interpreter scans rows one by one in Python, so there float32 (same kernels as float64, with
# float32 accumulation) runs at the order classes' ends and one more, and complex128 at the ends
# of its classes: M = 1, 3 (tile), 4 (walk).
_ORDERS = (1, 2, 3, 4, 5, 8, 16)
_MATRIX = [(M, torch.float64) for M in _ORDERS]
_MATRIX += [(M, torch.float32) for M in (_ORDERS if CUDA else (1, 2, 4, 5))]
_MATRIX += [(M, torch.complex128) for M in (_ORDERS if CUDA else (1, 3, 4))]


@pytest.mark.slow(seconds=10)
@pytest.mark.parametrize("M,dtype", _MATRIX, ids=lambda v: str(v).replace("torch.", ""))
def test_matrix(M, dtype):
    """forward / backward (all grads) / reverse / conj_a / neg_a, both schedules, T around the
    tile and walk chunk (8) boundaries, around a row (2 or 4 samples), and below M."""
    Ts = sorted({1, M - 1, 3, BT, BT + 1, 2 * BT + 5} - {0})
    for i, T in enumerate(Ts):
        B = 1 + 2 * (i % 2)
        x, a, zi, g = _inputs(B, T, M, dtype, seed=10 * M + i)
        _check_all(x, a, zi, g, TOL[dtype], neg=bool(i % 2), **SCHEDULES[i % 2])


@pytest.mark.parametrize(
    "kw",
    [
        dict(block_t=2, schedule="three-phase"),
        dict(block_t=16, steps=8, schedule="three-phase"),
        dict(block_t=4, steps=2, chunk_len=12),
        dict(block_t=32, steps=16, schedule="single"),
        dict(block_t=4, steps=1, schedule="single"),
        dict(chunk_len=5),
        dict(chunk_len=6),
    ],
    ids=str,
)
@pytest.mark.parametrize("M", [2, 5])
def test_tiles_and_chunks(M, kw):
    """Other tiles (tile path; chunks of 3 tiles: 7 tiles cut 3, 3, 1) and chunks (walk path;
    shorter than M at M = 5, L = 5)."""
    if (M <= TILE_ORDERS) != ("block_t" in kw):
        pytest.skip("block_t is a tile-path knob, chunk_len alone a walk-path test")
    B, T = (1, 13) if kw.get("block_t") == 2 else (1 if "chunk_len" in kw else 3, 27)  # tiles of 2: 7 tiles
    x, a, zi, g = _inputs(B, T, M, torch.float64, seed=len(kw))
    _check_all(x, a, zi, g, 1e-9, neg=True, **kw)


@pytest.mark.slow(seconds=20)
@pytest.mark.parametrize(
    "M,dtype",
    [(1, torch.bfloat16), (3, torch.float16), (4, torch.bfloat16), (3, torch.complex64), (4, torch.complex64)]
    + [(3, torch.float64), (4, torch.float64), (2, torch.complex128)],
    ids=str,
)
def test_planned_steps(M, dtype):
    """The samples a thread the GPU plan gives each direction (``TILE_CONFIG``; the interpreter
    otherwise runs at most 4), at the configurations whose steps issue 22's fourth and fifth
    rounds raised: two rows a tile, three tiles and a partial one, then whole tiles only (their
    unmasked code: ``WHOLE``), both schedules."""
    from tritonlpc.backends.triton.plan import plan

    fwd_steps, rev_steps = (plan(8, 2**18, M, dtype, reverse=rev).steps for rev in (False, True))
    half = dtype in (torch.float16, torch.bfloat16)
    T_whole = 8 * max(fwd_steps, rev_steps)  # a multiple of both tiles: 2 to 4 tiles
    for T in (7 * fwd_steps + 3, T_whole):
        x, a, zi = (t.to(dtype) for t in make_inputs(2, T, M, torch.float64, seed=M + T, device=DEV))
        g = torch.randn(x.shape, generator=torch.Generator().manual_seed(T), dtype=torch.float64).to(DEV, dtype)
        y_ref, grads_ref = _ref(x, a, zi, g)
        for schedule, chunk in (("single", {}), ("three-phase", dict(chunk_len=4 * fwd_steps))):
            y = tg.BACKEND.forward(x, a, zi, block_t=2 * fwd_steps, steps=fwd_steps, schedule=schedule, **chunk)
            chunk = dict(chunk_len=4 * rev_steps) if chunk else {}
            grads = tg.BACKEND.backward(
                g, a, y, zi, True, True, block_t=2 * rev_steps, steps=rev_steps, schedule=schedule, **chunk
            )
            for got, exp in zip((y, *grads), (y_ref, *grads_ref)):
                if half:  # the rounding of the stored outputs (module docstring)
                    assert (_hi(got) - exp).norm() / exp.norm() <= 1e-2
                else:
                    assert_rel_close(got, exp, TOL[dtype])


@pytest.mark.slow(seconds=20)
@pytest.mark.parametrize("M,dtype", [(1, torch.float64), (3, torch.float64), (4, torch.complex64)], ids=str)
def test_whole_tiles(M, dtype):
    """``T`` a multiple of the tile (``WHOLE``: no masked load or store in any tile kernel; the
    reverse still masks coefficient row ``T``), two rows, contiguous and time-major ``a`` (the
    strided loads), both schedules (three phase: three chunks)."""
    x, a, zi, g = _inputs(2, 3 * BT, M, dtype, seed=M)
    y_ref, grads_ref = _ref(x, a, zi, g)
    a_tm = a.transpose(0, 1).contiguous().transpose(0, 1)  # (T, B, M) storage
    for aa, kw in ((a, THREE), (a, SINGLE), (a_tm, THREE), (a_tm, SINGLE)):
        y = tg.BACKEND.forward(x, aa, zi, **kw)
        assert_rel_close(y, y_ref, TOL[dtype])
        for got, exp in zip(tg.BACKEND.backward(g, aa, y, zi, True, True, **kw), grads_ref):
            assert_rel_close(got, exp, TOL[dtype])


@pytest.mark.parametrize("tiles", [2, 3, 4, 5])
@pytest.mark.parametrize("tail", [0, 3], ids=["whole", "partial"])
def test_forward_tile_pairs(tiles, tail):
    """The forward pass runs two whole tiles a trip (an odd one after its loop, a partial one
    after that): every count of whole tiles up to 5, with and without a partial tile, one chunk
    a row (single) and chunks of 2 or 3 tiles (three phase); and the three-phase forward's
    stretch pass on the same chunks (the last one shorter, whole or partial), against the
    reference."""
    T = tiles * BT + tail
    x, a, zi, _ = _inputs(2, T, 2, torch.float64, seed=tiles + tail)
    y_ref = _reference.allpole(_hi(x), _hi(a), _hi(zi))
    for kw in (
        SINGLE,
        *(dict(SINGLE, chunk_len=n * BT, schedule="three-phase", stretch=st) for n in (2, 3) for st in (False, True)),
    ):
        assert_rel_close(tg.BACKEND.forward(x, a, zi, **kw), y_ref, TOL[torch.float64])


@pytest.mark.parametrize("M,dtype", [(1, torch.float32), (3, torch.complex64)], ids=str)
def test_three_phase_runs_the_summarys_stretches(M, dtype):
    """Three phase: the summary maps every chunk (the last one in processing order too, here 2
    tiles, one partial: the forward's last, the adjoint's first) and stores every thread's prefix
    map; the carry reads each chunk's last one; the pass runs each thread's stretch from its
    predecessor's prefix, with no tile scan. The kernels launched, their grids and the results
    (y, grad_x, grad_a, grad_zi) against the reference."""
    from tritonlpc.backends.triton import launch as tl_launch

    T = 8 * BT - 3  # chunks of 3 tiles: 3, 3 and 2 (in processing order), one tile partial
    x, a, zi, g = _inputs(2, T, M, dtype, seed=M + 20)
    kw = dict(SINGLE, chunk_len=3 * BT, schedule="three-phase", stretch=True)
    with tl_launch.recording() as launches:
        tg.BACKEND.forward(x, a, zi, **kw)
        tg.BACKEND.backward(g, a, x, zi, True, True, **kw)
    assert [(r.name, r.grid) for r in launches] == [
        ("tile_summary_kernel", (2, 3)),
        ("tile_carry_kernel", (2,)),
        ("tile_fwd_stretch_pass_kernel", (2, 3)),
        ("tile_summary_kernel", (2, 3)),
        ("tile_carry_kernel", (2,)),
        ("tile_rev_stretch_pass_kernel", (2, 3)),
    ]
    K = (M * M + M) * (2 if dtype.is_complex else 1)
    assert tuple(launches[0].kwargs["p_ptr"].shape) == (2, 3, BT // 4, K)  # every thread's prefix map
    _check_all(x, a, zi, g, TOL[dtype], neg=False, **kw)
    with tl_launch.recording() as launches:  # tile passes: each chunk's map only, the last one never
        tg.BACKEND.forward(x, a, zi, **dict(kw, stretch=False))
    assert [(r.name, r.grid) for r in launches][::2] == [
        ("tile_summary_kernel", (2, 2)),
        ("tile_fwd_pass_kernel", (2, 3)),
    ]


def test_stretch_choice():
    """The plan runs stretch passes for the orders whose tile passes were issue-bound
    (``STRETCH_ORDERS``) and where the prefix maps cost at most ``STRETCH_BYTES`` of the bytes;
    never in the adjoint with control frames; ``stretch`` forces it; it must be a bool."""
    from tritonlpc.backends.triton.plan import STRETCH_ORDERS, plan

    assert (4, "c32") in STRETCH_ORDERS and plan(8, 2**18, 4, torch.complex64).stretch
    assert not plan(8, 2**18, 2, torch.float32).stretch  # 112-sample stretches: maps 3 % of the bytes
    assert plan(1, 2**24, 2, torch.float32).stretch  # 512-sample stretches: 0.7 %
    assert plan(8, 2**18, 2, torch.float32, stretch=True).stretch
    assert not plan(8, 2**18, 4, torch.complex64, stretch=False).stretch
    assert not plan(8, 2**18, 4, torch.complex64, reverse=True, hop=256).stretch
    assert not plan(1024, 2**14, 4, torch.complex64).stretch  # single pass
    with pytest.raises(TypeError, match="stretch"):
        plan(8, 2**18, 2, torch.float32, stretch=1)


@pytest.mark.slow(seconds=20)
@pytest.mark.parametrize("M", [3, 33])
def test_complex64_and_high_order(M):
    x, a, zi, g = _inputs(2, 19, M, torch.complex64 if M == 3 else torch.float64, seed=M)
    _check_all(x, a, zi, g, TOL[x.dtype], neg=False, **THREE)


@pytest.mark.parametrize("dtype,bound", [(torch.bfloat16, 1e-2), (torch.float16, 1e-3)], ids=str)
@pytest.mark.parametrize("M", [2, 5])
def test_half_precision(dtype, bound, M):
    """float16/bfloat16: loaded natively, accumulated in float32, stored in the input dtype
    (with ``neg_a``: the tile kernels put the coefficients' sign into their bits; without it,
    :func:`test_planned_steps`)."""
    x, a, zi = (t.to(dtype) for t in make_inputs(3, 21, M, torch.float64, seed=M, device=DEV))
    g = torch.randn(3, 21, generator=torch.Generator().manual_seed(5)).to(device=DEV, dtype=dtype)
    neg = True
    a = -a  # the same filter
    y = tg.BACKEND.forward(x, a, zi, neg_a=neg, **THREE)
    assert y.dtype == dtype
    y_ref, grads_ref = _ref(x, a, zi, g, neg=neg)
    grads = tg.BACKEND.backward(g, a, y, zi, True, True, neg_a=neg, **THREE)
    for got, exp in zip((y, *grads), (y_ref, *grads_ref)):
        assert got.dtype == dtype
        err = (_hi(got) - exp).norm() / exp.norm()
        assert err <= bound, f"relative L2 error {err:.3g} > {bound}"


# --------------------------------------------------------------------------- unstable stretches
def _unstable_then_stable(T, M, dtype, r_bad, r_good):
    """Real filters (conjugate pole pairs at distinct angles, ``M`` even) whose poles have radius
    ``r_bad`` over the first half and ``r_good`` after."""
    r = torch.where(torch.arange(T) < T // 2, r_bad, r_good).to(torch.float64)[:, None]
    angles = torch.linspace(0.3, 2.5, M // 2, dtype=torch.float64)
    p = torch.polar(r.expand(T, M // 2), angles.expand(T, M // 2))
    poles = torch.cat([p, p.conj()], dim=1)
    c = torch.zeros(T, M + 1, dtype=torch.complex128)
    c[:, 0] = 1
    for k in range(M):
        c[:, 1:] = c[:, 1:] - poles[:, k : k + 1] * c[:, :-1].clone()
    return c[:, 1:].real.to(dtype)[None].to(DEV)


@pytest.mark.parametrize("M", [2, 6])
@pytest.mark.parametrize("kw", SCHEDULES + [dict(block_t=16)], ids=SCHEDULE_IDS + ["planned"])
def test_zero_state_through_overflowing_maps(M, kw):
    """A silent input over an unstable stretch keeps the state exactly zero in the sequential
    recursion; the chunk and tile maps of that stretch overflow (inf), and must not turn the zero
    state into NaN (inf * 0). Same for the adjoint with a silent upstream gradient."""
    T = 96
    a = _unstable_then_stable(T, M, torch.float32, 1e6, 0.5)  # a chunk (8 samples) map overflows float32
    x = torch.zeros(1, T, device=DEV)
    x[0, T // 2 + 3] = 1.0  # one impulse after the unstable half
    zi = torch.zeros(1, M, device=DEV)
    y = tg.BACKEND.forward(x, a, zi, **kw)
    y_ref = _reference.allpole(_hi(x), _hi(a), _hi(zi))
    assert torch.isfinite(y).all()
    assert_rel_close(y, y_ref, 1e-5)
    assert torch.equal(tg.BACKEND.forward(torch.zeros_like(x), a, zi, **kw), torch.zeros_like(x))
    # adjoint: unstable (reversed in time) where the upstream gradient is silent
    a_rev = a.flip(1)
    g = x.flip(1)
    u = tg.BACKEND.reverse(g, a_rev, **kw)
    u_ref = _reference.reverse(_hi(g), _hi(a_rev))
    assert torch.isfinite(u).all()
    assert_rel_close(u, u_ref, 1e-5)


# --------------------------------------------------------------------------- flags and layouts
@pytest.mark.parametrize("M", [2, 6])
@pytest.mark.parametrize("kw", SCHEDULES, ids=SCHEDULE_IDS)
def test_backward_flags(M, kw):
    """need_grad_a / need_grad_zi: None when not asked; y and zi optional; grad_x unchanged."""
    x, a, zi, g = _inputs(3, 21, M, torch.float64, seed=M)
    y = tg.BACKEND.forward(x, a, zi, **kw)
    gx, ga, gzi = tg.BACKEND.backward(g, a, y, zi, True, True, **kw)
    for need_a, need_zi in [(False, False), (True, False), (False, True)]:
        gx2, ga2, gzi2 = tg.BACKEND.backward(g, a, y if need_a else None, zi if need_a else None, need_a, need_zi, **kw)
        assert torch.equal(gx2, gx)
        assert (ga2 is None) != need_a and (gzi2 is None) != need_zi
        if need_a:
            assert torch.equal(ga2, ga)
        if need_zi:
            assert torch.equal(gzi2, gzi)
    with pytest.raises(ValueError):
        tg.BACKEND.backward(g, a, None, zi, True, False, **kw)


@pytest.mark.slow(seconds=28)
@pytest.mark.parametrize("M", [2, 5])
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128], ids=str)
def test_strides_and_expanded(M, dtype):
    """Non-contiguous x, g, y, zi, a (time-major and expanded with stride 0): read in place,
    same results as contiguous inputs (bit for bit: same arithmetic in the same order)."""
    if not CUDA and (M == 2) == (dtype == torch.float64):
        pytest.skip("interpreter: complex at M = 2 and real at M = 5 cover both kernel families")
    B, T = 3, CHUNK + 3
    x, a, zi, g = _inputs(B, T, M, dtype, seed=M)
    a0 = a[:, 0]
    a_exp = a0[:, None].expand(B, T, M)  # time-invariant filter, stride 0 along T
    assert a_exp.stride(1) == 0
    a_tm = a.transpose(0, 1).contiguous().transpose(0, 1)  # (T, B, M) storage
    a_bexp = a[:1].expand(B, T, M)  # one filter for every row, stride 0 along B
    x_nc = torch.stack([x, x], dim=2)[..., 1]  # stride (2T, 2)
    g_nc = g.t().contiguous().t()
    zi_nc = zi.t().contiguous().t()
    # each layout under one schedule (the same kernels read the strides in both): both schedules
    for aa, kw in zip((a_exp, a_tm, a_bexp), (THREE, SINGLE, THREE)):
        a_c = aa.contiguous()
        y = tg.BACKEND.forward(x, a_c, zi, **kw)
        y_nc = tg.BACKEND.forward(x_nc, aa, zi_nc, **kw)
        assert torch.equal(y_nc, y)
        ref = tg.BACKEND.backward(g, a_c, y, zi, True, True, **kw)
        y_s = torch.stack([y, y], dim=2)[..., 0]
        for got, exp in zip(tg.BACKEND.backward(g_nc, aa, y_s, zi_nc, True, True, **kw), ref):
            assert torch.equal(got, exp)
        assert torch.equal(
            tg.BACKEND.reverse(g_nc, aa, conj_a=True, **kw), tg.BACKEND.reverse(g, a_c, conj_a=True, **kw)
        )
    y_ref, _ = _ref(x, a_exp, zi, g)
    assert_rel_close(tg.BACKEND.forward(x, a_exp, zi, **THREE), y_ref, 1e-9)


def test_lazy_conj_and_neg_views():
    """A lazily conjugated/negated ``a`` is read as the tensor it represents."""
    x, a, zi, g = _inputs(1, 19, 3, torch.complex128, seed=3)
    for a_view, kw in zip((a.conj(), torch._neg_view(a)), SCHEDULES):  # one schedule each: both
        want = a_view.resolve_conj().resolve_neg()
        assert torch.equal(tg.BACKEND.forward(x, a_view, zi, **kw), tg.BACKEND.forward(x, want, zi, **kw))
        assert torch.equal(
            tg.BACKEND.reverse(g, a_view, conj_a=True, **kw), tg.BACKEND.reverse(g, want, conj_a=True, **kw)
        )


@pytest.mark.parametrize("M", [2, 5])
def test_deterministic(M):
    x, a, zi, g = _inputs(2, 2 * CHUNK + 5, M, torch.float32, seed=1)
    for kw in SCHEDULES:
        y1, y2 = tg.BACKEND.forward(x, a, zi, **kw), tg.BACKEND.forward(x, a, zi, **kw)
        assert torch.equal(y1, y2)
        for p, q in zip(
            tg.BACKEND.backward(g, a, y1, zi, True, True, **kw), tg.BACKEND.backward(g, a, y1, zi, True, True, **kw)
        ):
            assert torch.equal(p, q)


@pytest.mark.parametrize("B,T", [(0, 5), (2, 0), (0, 0)])
def test_empty(B, T):
    x, a, zi = torch.zeros(B, T, device=DEV), torch.zeros(B, T, 3, device=DEV), torch.zeros(B, 3, device=DEV)
    y = tg.BACKEND.forward(x, a, zi)
    assert y.shape == (B, T)
    gx, ga, gzi = tg.BACKEND.backward(x, a, y, zi, True, True)
    assert gx.shape == (B, T) and ga.shape == (B, T, 3) and gzi.shape == (B, 3)
    assert not gzi.any()  # no samples: zi has no influence
    assert tg.BACKEND.reverse(x, a).shape == (B, T)


@pytest.mark.parametrize(
    "kw",
    [
        dict(schedule="nope"),
        dict(chunk_len=0),
        dict(block_t=3),
        dict(block_t=1),
        dict(lanes=6),
        dict(chunk_len=4, schedule="single"),
        dict(chunk_len=True),
        dict(steps=32),
        dict(block_t=4, steps=8),
        dict(steps=3),
        dict(block_t=4, chunk_len=6),
    ],
    ids=str,
)
def test_bad_knobs(kw):
    x, a, zi, _ = _inputs(1, 4, 1, torch.float64)
    with pytest.raises(ValueError):
        tg.BACKEND.forward(x, a, zi, **kw)


# --------------------------------------------------------------------------- slice summaries
def _end_state(y, zi):
    """``(y[T-1], ..., y[T-M])`` with ``y[-k] = zi[k-1]``."""
    M = zi.shape[1]
    return torch.cat([zi.flip(1), y], dim=1)[:, -M:].flip(1)


@pytest.mark.parametrize(
    "M,dtype,T,neg",
    [
        (1, torch.float64, 11, True),  # tile order, full chunks and a short one
        (2, torch.complex128, 1, False),  # T < M
        (2, torch.float64, 8, False),  # full chunks only
        (2, torch.float32, 0, False),  # empty slice
        (5, torch.float64, 2, True),  # walk order, T < M
        (5, torch.complex128, 11, True),
    ],
    ids=str,
)
def test_summary(M, dtype, T, neg):
    """``summary`` against float64 from the reference: ``P``'s column ``j`` is the end state of a
    zero input from ``e_j``, ``h`` the end state of ``x`` from zero, ``k`` the ``grad_zi`` of the
    adjoint from a zero state; chunks of 4 (several, and a short one)."""
    B = 2
    x, a, _, g = _inputs(B, T, M, dtype, seed=T + M)
    xs, as_, gs = _hi(x), _hi(a), _hi(g)
    zero = torch.zeros(B, M, dtype=xs.dtype)
    P_ref = torch.stack(
        [
            _end_state(_reference.allpole(torch.zeros_like(xs), as_, e, neg_a=neg), e)
            for e in torch.eye(M, dtype=xs.dtype).expand(B, M, M).unbind(1)
        ],
        dim=-1,
    )
    h_ref = _end_state(_reference.allpole(xs, as_, zero, neg_a=neg), zero)
    zi = zero.clone().requires_grad_()
    y = _reference.allpole(xs, as_, zi, neg_a=neg)
    (k_ref,) = torch.autograd.grad(y, zi, gs, allow_unused=True) if T else (zero,)
    P, h, e = tg.BACKEND.summary(x, a, neg_a=neg, chunk_len=4)
    none, k, no_e = tg.BACKEND.summary(g, a, neg_a=neg, adjoint=True, chunk_len=4)
    assert none is None and no_e is None and P.shape == (B, M, M) and h.shape == k.shape == (B, M)
    assert e.shape == (B,) and not e.any()  # P = P^ 2**e: no growth here
    assert P.dtype == h.dtype == k.dtype == dtype
    for got, exp in ((P, P_ref), (h, h_ref), (k, k_ref)):
        assert_rel_close(got, exp, TOL[dtype])


# --------------------------------------------------------------------------- GPU, real sizes
def _numba_ref(x, a, zi, g=None):
    """float64 reference at sizes the Python loop cannot do: the Numba backend on the CPU."""
    from tritonlpc.backends import numba_cpu

    xs, as_, zs = (_hi(t) for t in (x, a, zi))
    y = numba_cpu.BACKEND.forward(xs, as_, zs)
    if g is None:
        return y
    return y, numba_cpu.BACKEND.backward(_hi(g), as_, y, zs, True, True)


@gpu
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64], ids=str)
@pytest.mark.parametrize("M", [1, 2, 3, 4, 5, 8, 16])
@pytest.mark.parametrize(
    "kw",
    [{}, dict(schedule="single"), dict(schedule="three-phase"), dict(block_t=64, chunk_len=192), dict(chunk_len=1000)],
    ids=["auto", "single", "three-phase", "BT64-L192", "L1000"],
)
def test_gpu_matrix(M, dtype, kw):
    B, T = 6, 3 * 4096 + 77
    x, a, zi, g = _inputs(B, T, M, dtype, seed=M)
    y = tg.BACKEND.forward(x, a, zi, **kw)
    y_ref, grads_ref = _numba_ref(x, a, zi, g)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    assert_rel_close(y, y_ref, tol)
    for got, exp in zip(tg.BACKEND.backward(g, a, y, zi, True, True, **kw), grads_ref):
        assert_rel_close(got, exp, tol)


@gpu
@pytest.mark.parametrize("M", [1, 2, 4, 8])
def test_gpu_long_signal_float32(M):
    """T = 2^20 in float32: relative L2 error <= 1e-5 against float64 (stable, slowly varying)."""
    B, T = 2, 1 << 20
    x, a, zi, g = _inputs(B, T, M, torch.float32, seed=M)
    y = tg.BACKEND.forward(x, a, zi)
    y_ref, grads_ref = _numba_ref(x, a, zi, g)
    rel = lambda p, q: ((_hi(p) - q).norm() / q.norm()).item()  # noqa: E731
    assert rel(y, y_ref) <= 1e-5
    for got, exp in zip(tg.BACKEND.backward(g, a, y, zi, True, True), grads_ref):
        assert rel(got, exp) <= 1e-5


@gpu
def test_gpu_int64_offsets():
    """B*T*M > 2^31 elements: grad_a's offsets exceed int32. The tail of a long call must equal
    a short call on the tail that starts from the long call's state (streaming identity)."""
    B, T, M, K = 1, (1 << 26) + 3, 33, 4096
    if torch.cuda.mem_get_info()[0] < 32 * 2**30:
        pytest.skip("needs ~30 GiB of free GPU memory")
    x, a, zi, g = _inputs(B, K, M, torch.float32, seed=7)
    a0 = a[:, :1]  # one stable filter, stored (contiguously) at every sample
    xl = x.repeat(1, T // K + 1)[:, :T].contiguous()
    gl = g.repeat(1, T // K + 1)[:, :T].contiguous()
    al = a0.expand(B, T, M).contiguous()
    y = tg.BACKEND.forward(xl, al, zi)
    _, ga, _ = tg.BACKEND.backward(gl, al, y, zi, True, False)
    del al
    a_t = a0.expand(B, K, M).contiguous()
    zi_t = y[:, T - K - M : T - K].flip(1)
    y_t = tg.BACKEND.forward(xl[:, T - K :], a_t, zi_t)
    assert_rel_close(y[:, T - K :], y_t, 1e-4)
    u_t, ga_t, _ = tg.BACKEND.backward(gl[:, T - K :], a_t, y_t, zi_t, True, False)
    assert_rel_close(ga[:, T - K :], ga_t, 1e-4)


@gpu
def test_gpu_stream_and_graph():
    """Launches follow torch's current stream, and a call can be captured in a CUDA graph."""
    x, a, zi, g = _inputs(4, 5000, 2, torch.float32, seed=2)
    s = torch.cuda.Stream()
    with torch.cuda.stream(s):
        y = tg.BACKEND.forward(x, a, zi)
    s.synchronize()
    assert_rel_close(y, _numba_ref(x, a, zi), 1e-4)
    graph = torch.cuda.CUDAGraph()
    tg.BACKEND.forward(x, a, zi)  # compile outside the capture
    torch.cuda.synchronize()
    with torch.cuda.graph(graph):
        y_g = tg.BACKEND.forward(x, a, zi)
    graph.replay()
    torch.cuda.synchronize()
    assert torch.equal(y_g, y)
