"""Checks of :mod:`tritonlpc.distributed`, run inside every rank of a spawned gloo group.

``tests/test_distributed.py`` spawns one process group per world size and runs :func:`worker`
in each process: every check in :data:`CHECKS` runs on all ranks in order (the checks call
collectives, so ranks must stay in step) and each rank records ``"ok"`` or the traceback. The
reference for every check is one process holding the whole signal, which each rank computes
itself from the same seeded inputs.
"""

from __future__ import annotations

import datetime
import gc
import json
import os
import sys
import traceback
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import torch
import torch.distributed as dist

WORLD = {"rank": 0, "size": 1}
CHECKS: List[Callable[[], None]] = []


def check(fn: Callable[[], None]) -> Callable[[], None]:
    CHECKS.append(fn)
    return fn


def rank() -> int:
    return WORLD["rank"]


def size() -> int:
    return WORLD["size"]


# --------------------------------------------------------------------------- helpers
def close(name: str, got: Optional[torch.Tensor], want: Optional[torch.Tensor], rtol: float) -> None:
    """``got`` matches ``want`` to ``rtol`` times want's largest magnitude (plus a floor)."""
    assert got is not None and want is not None, f"{name}: got {got is None and 'None'}, want {want is None and 'None'}"
    assert got.shape == want.shape, f"{name}: shape {tuple(got.shape)} != {tuple(want.shape)}"
    if want.numel() == 0:
        return
    scale = want.abs().max().item() + 1.0
    err = (got.to(want.dtype) - want).abs().max().item()
    assert err <= rtol * scale, f"{name}: max error {err:.3e} > {rtol:.1e} * {scale:.3g}"


def bounds(lengths: Sequence[int]) -> tuple:
    start = sum(lengths[: rank()])
    return start, start + lengths[rank()]


def gathered(t: torch.Tensor) -> List[torch.Tensor]:
    out = [torch.empty_like(t) for _ in range(size())]
    dist.all_gather(out, t.contiguous())
    return out


def tol(dtype: torch.dtype) -> float:
    return 1e-10 if dtype in (torch.float64, torch.complex128) else 2e-5


def weights(B: int, T: int, M: int, dtype: torch.dtype, seed: int = 7):
    g = torch.Generator().manual_seed(seed)
    real = torch.complex128 if dtype.is_complex else torch.float64
    return torch.randn(B, T, dtype=real, generator=g).to(dtype), torch.randn(B, M, dtype=real, generator=g).to(dtype)


def loss_of(y: torch.Tensor, zf: Optional[torch.Tensor], w: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """A loss reaching every output and, through ``zf``, the final state (real part)."""
    total = (w.to(y.dtype) * y).sum()
    if zf is not None:
        total = total + (v.to(zf.dtype) * zf).sum()
    return total.real if total.is_complex() else total


def expect_error(kind: type, text: str, call: Callable[[], object]) -> None:
    try:
        call()
    except kind as exc:
        assert text in str(exc), f"{kind.__name__} without {text!r}: {exc}"
        return
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"expected {kind.__name__} containing {text!r}, got {type(exc).__name__}: {exc}") from exc
    raise AssertionError(f"expected {kind.__name__} containing {text!r}, nothing raised")


# --------------------------------------------------------------------------- all-pole filter
CASES_2 = [(3, 17), (1, 9), (12, 0), (0, 7)]
CASES_4 = [(5, 1, 0, 14), (0, 2, 3, 6), (4, 4, 4, 4), (1, 0, 2, 9)]


def lpc_case(M: int, dtype: torch.dtype, lengths: Sequence[int], with_zi: bool, expanded: bool, B: int = 2) -> None:
    """Sharded vs one process: y, zf (bit-identical on every rank), grads of x, a (or the
    expanded a0), zi; float32 also against the float64 single-process result."""
    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    T = sum(lengths)
    x, a, zi = make_inputs(B, T, M, dtype, seed=M + T)
    a0 = a[:, 0].clone()  # an expanded, time-invariant variant
    w, v = weights(B, T, M, dtype)
    s, e = bounds(lengths)

    def leaves(dt: torch.dtype):
        xs = x.to(dt).clone().requires_grad_()
        coef = (a0 if expanded else a).to(dt).clone().requires_grad_()
        z = zi.to(dt).clone().requires_grad_() if with_zi else None
        full = coef[:, None].expand(B, T, M) if expanded else coef
        return xs, coef, z, full

    ref = {}
    for dt in {dtype, torch.complex128 if dtype.is_complex else torch.float64}:
        xs, coef, z, full = leaves(dt)
        y, zf = tritonlpc.sample_wise_lpc(xs, full, z, return_zf=True)
        loss_of(y, zf, w, v).backward()
        ref[dt] = dict(
            y=y[:, s:e],
            zf=zf,
            gx=xs.grad[:, s:e],
            gc=coef.grad if expanded else coef.grad[:, s:e],
            gzi=z.grad if z is not None else None,
        )

    xs, coef, z, full = leaves(dtype)
    xl = xs.detach()[:, s:e].requires_grad_()
    cl = coef.detach().requires_grad_() if expanded else coef.detach()[:, s:e].requires_grad_()
    al = cl[:, None].expand(B, e - s, M) if expanded else cl
    zl = z if rank() == 0 else None
    y, zf = td.sample_wise_lpc(xl, al, zl, return_zf=True, offset=s)
    loss_of(y, zf if rank() == size() - 1 else None, w[:, s:e], v).backward()
    got = dict(y=y, zf=zf, gx=xl.grad, gc=cl.grad, gzi=z.grad if rank() == 0 and z is not None else None)
    if expanded:  # every rank holds part of a0's gradient
        dist.all_reduce(got["gc"])
    assert all(torch.equal(zf, other) for other in gathered(zf)), "zf differs between ranks"
    for dt, want in ref.items():
        r = tol(dtype) if dt == dtype else 1e-4
        for key in ("y", "zf", "gx", "gc") + (("gzi",) if rank() == 0 and with_zi else ()):
            close(f"{key} ({dt})", got[key], want[key], r)


@check
def lpc_orders_dtypes_layouts() -> None:
    cases = CASES_2 if size() == 2 else CASES_4
    dtypes = (torch.float32, torch.float64, torch.complex128)
    n = 0
    for M in (1, 2, 3, 8):
        for dtype in dtypes:
            B = 5 if dtype.is_complex else 2
            lpc_case(M, dtype, cases[n % len(cases)], with_zi=n % 2 == 0, expanded=n % 3 == 1, B=B)
            n += 1


def frames_of(lengths: Sequence[int], H: int) -> slice:
    """This rank's control frames at hop ``H``: those of its slice plus the next one."""
    s, e = bounds(lengths)
    return slice(s // H, (e - 1) // H + 2)


def summed_frames(grad: torch.Tensor, F: int, lengths: Sequence[int], H: int) -> torch.Tensor:
    """Every rank's frame gradient `(B, F_r, M)` added at its frames' place in `(B, F, M)`."""
    total = grad.new_zeros(grad.shape[0], F, *grad.shape[2:])
    total[:, frames_of(lengths, H)] = grad
    dist.all_reduce(total)
    return total


def frames_case(M: int, dtype: torch.dtype, lengths: Sequence[int], H: int, B: int, with_zi: bool) -> None:
    """``hop=H``: y, zf, grads of x, zi, and of the frames summed over the ranks that hold them,
    against one process filtering the whole signal with the same frames."""
    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    T = sum(lengths)
    x, af, zi = make_inputs(B, T, M, dtype, seed=M + T + H, hop=H)
    w, v = weights(B, T, M, dtype)
    full = [t.clone().requires_grad_() for t in (x, af, zi)]
    y, zf = tritonlpc.sample_wise_lpc(full[0], full[1], full[2] if with_zi else None, return_zf=True, hop=H)
    loss_of(y, zf, w, v).backward()
    s, e = bounds(lengths)
    xl, fl = x[:, s:e].clone().requires_grad_(), af[:, frames_of(lengths, H)].clone().requires_grad_()
    zl = zi.clone().requires_grad_() if rank() == 0 and with_zi else None
    yl, zfl = td.sample_wise_lpc(xl, fl, zl, return_zf=True, hop=H, offset=s)
    loss_of(yl, zfl if rank() == size() - 1 else None, w[:, s:e], v).backward()
    what = f"M={M} {dtype} lengths={lengths} hop={H}"
    close(f"y {what}", yl, y.detach()[:, s:e], 1e-10)
    close(f"zf {what}", zfl, zf.detach(), 1e-10)
    close(f"grad x {what}", xl.grad, full[0].grad[:, s:e], 1e-10)
    close(f"grad frames {what}", summed_frames(fl.grad, af.shape[1], lengths, H), full[1].grad, 1e-10)
    if zl is not None:
        close(f"grad zi {what}", zl.grad, full[2].grad, 1e-10)


@check
def lpc_with_frames() -> None:
    """``hop=``: slices that end inside an interval (the last), span several, are shorter than
    the order or empty; float64 and complex128, B = 1; the first-order recurrence."""
    import tritonlpc
    import tritonlpc.distributed as td

    if size() == 2:
        cases = [(2, torch.float64, (8, 13), 4, 2, True), (3, torch.complex128, (2, 7), 2, 1, False)]
    else:
        cases = [(2, torch.float64, (4, 0, 8, 5), 4, 1, True), (3, torch.complex128, (2, 2, 4, 3), 2, 2, True)]
    for case in cases:
        frames_case(*case)
    lengths, H = ((6, 5), 3) if size() == 2 else ((3, 6, 0, 2), 3)
    T = sum(lengths)
    g = torch.Generator().manual_seed(5)
    decay = 0.9 + 0.09 * torch.rand(2, (T - 1) // H + 2, dtype=torch.float64, generator=g)
    x, wt = torch.randn(2, T, dtype=torch.float64, generator=g), torch.randn(2, T, dtype=torch.float64, generator=g)
    full = [t.clone().requires_grad_() for t in (decay, x)]
    (wt * tritonlpc.linear_recurrence(*full, hop=H)).sum().backward()
    s, e = bounds(lengths)
    loc = [decay[:, frames_of(lengths, H)].clone().requires_grad_(), x[:, s:e].clone().requires_grad_()]
    h = td.linear_recurrence(*loc, hop=H)
    (wt[:, s:e] * h).sum().backward()
    close("recurrence h", h, tritonlpc.linear_recurrence(decay, x, hop=H)[:, s:e], 1e-10)
    close("recurrence grad x", loc[1].grad, full[1].grad[:, s:e], 1e-10)
    close("recurrence grad decay", summed_frames(loc[0].grad, decay.shape[1], lengths, H), full[0].grad, 1e-10)
    biquad_with_frames()


def biquad_with_frames() -> None:
    """``time_varying_biquad(..., hop=2)``: frame-rate ``b`` and ``a``, the input halo across
    slices as short as ``K`` (and an empty one), zi on rank 0, return_zf."""
    import tritonlpc.distributed as td
    from tritonlpc import audio
    from tritonlpc.testing import make_inputs

    lengths, H = ((2, 9) if size() == 2 else (2, 0, 2, 5)), 2
    T = sum(lengths)
    x, a, zy = make_inputs(1, T, 2, torch.float64, seed=13, hop=H)
    g = torch.Generator().manual_seed(13)
    b = torch.randn(1, a.shape[1], 3, dtype=torch.float64, generator=g)
    zx, w = torch.randn(1, 2, dtype=torch.float64, generator=g), torch.randn(1, T, dtype=torch.float64, generator=g)
    full = [t.clone().requires_grad_() for t in (x, b, a, zx, zy)]
    y, (fx, fy) = audio.time_varying_biquad(*full[:3], (full[3], full[4]), return_zf=True, hop=H)
    ((w * y).sum() + fx.sum() + fy.sum()).backward()
    s, e = bounds(lengths)
    frames = frames_of(lengths, H)
    loc = [
        x[:, s:e].clone().requires_grad_(),
        b[:, frames].clone().requires_grad_(),
        a[:, frames].clone().requires_grad_(),
    ]
    zl = (full[3].detach().clone().requires_grad_(), full[4].detach().clone().requires_grad_()) if rank() == 0 else None
    yl, (fxl, fyl) = td.time_varying_biquad(*loc, zl, return_zf=True, hop=H)
    ((w[:, s:e] * yl).sum() + (fxl.sum() + fyl.sum()) * (rank() == size() - 1)).backward()
    close("biquad y", yl, y.detach()[:, s:e], 1e-10)
    close("biquad zf_y", fyl, fy.detach(), 1e-10)
    close("biquad grad x", loc[0].grad, full[0].grad[:, s:e], 1e-10)
    for name, got, want in (("b", loc[1], full[1]), ("a", loc[2], full[2])):
        close(f"biquad grad {name} frames", summed_frames(got.grad, want.shape[1], lengths, H), want.grad, 1e-10)
    if zl is not None:
        close("biquad grad zi_x", zl[0].grad, full[3].grad, 1e-10)
        close("biquad grad zi_y", zl[1].grad, full[4].grad, 1e-10)


@check
def lpc_half_and_promotion() -> None:
    """float16 runs in float32 and comes back in float16; float32 x with float64 a promotes."""
    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    lengths = (6, 10) if size() == 2 else (3, 0, 5, 8)
    x, a, zi = make_inputs(2, sum(lengths), 2, torch.float64, seed=3)
    s, e = bounds(lengths)
    y = td.sample_wise_lpc(x[:, s:e].half(), a[:, s:e].half(), zi.half() if rank() == 0 else None)
    assert y.dtype == torch.float16
    close(
        "half y",
        y.double(),
        tritonlpc.sample_wise_lpc(x.half().float(), a.half().float(), zi.half().float())[:, s:e].double(),
        1e-3,
    )
    y = td.sample_wise_lpc(x[:, s:e].float(), a[:, s:e], zi.float() if rank() == 0 else None)
    assert y.dtype == torch.float64


@check
def one_summary_and_one_forward_per_rank() -> None:
    """A rank after the first runs one slice summary and one forward kernel per call (rank 0:
    the forward only); the backward one adjoint summary (none on the last rank without
    ``return_zf``) and one fused backward. The same with control frames (``hop``)."""
    for hop in (None, 4):
        _count_kernels(hop)


def _count_kernels(hop: Optional[int]) -> None:
    from collections import Counter

    import tritonlpc.distributed as td
    from tritonlpc import _dispatch
    from tritonlpc.testing import make_inputs

    x, a, zi = make_inputs(1, 8 * size(), 3, torch.float64, seed=11, hop=hop)
    s, e = bounds([8] * size())
    a = a[:, s // hop : e // hop + 1] if hop else a[:, s:e]
    xl = x[:, s:e].clone().requires_grad_()
    backend = _dispatch.backend_object(xl)
    calls: Counter = Counter()

    def counted(name: str, fn: Callable) -> Callable:
        def call(*args, **kwargs):
            calls[name + ("_adjoint" if kwargs.get("adjoint") else "")] += 1
            return fn(*args, **kwargs)

        return call

    for name in ("_forward", "_adjoint", "summary"):  # instance attributes shadow the methods
        setattr(backend, name, counted(name, getattr(backend, name)))
    try:
        y = td.sample_wise_lpc(xl, a, zi if rank() == 0 else None, hop=hop)
        forward = dict(calls)
        y.square().sum().backward()
    finally:
        for name in ("_forward", "_adjoint", "summary"):
            delattr(backend, name)
    assert forward == ({"_forward": 1} if rank() == 0 else {"_forward": 1, "summary": 1}), forward
    middle = 0 < rank() < size() - 1
    assert calls["_adjoint"] == 1 and calls["summary_adjoint"] == int(middle), dict(calls)


@check
def empty_batch() -> None:
    """B = 0: shapes come out right and nothing is exchanged that could hang."""
    import tritonlpc.distributed as td

    x = torch.zeros(0, 3 + rank(), requires_grad=True)
    a = torch.zeros(0, 3 + rank(), 2)
    y, zf = td.sample_wise_lpc(x, a, return_zf=True)
    y.sum().backward()
    assert y.shape == (0, 3 + rank()) and zf.shape == (0, 2) and x.grad.shape == x.shape


@check
def recurrence_matches_one_process() -> None:
    import tritonlpc
    import tritonlpc.distributed as td

    lengths = (7, 0) if size() == 2 else (2, 9, 0, 1)
    T = sum(lengths)
    g = torch.Generator().manual_seed(5)
    decay = (0.9 + 0.09 * torch.sin(torch.linspace(0, 3, T, dtype=torch.float64))).expand(3, T).clone()
    x = torch.randn(3, T, dtype=torch.float64, generator=g)
    h0 = torch.randn(3, dtype=torch.float64, generator=g)
    w = torch.randn(3, T, dtype=torch.float64, generator=g)
    s, e = bounds(lengths)
    full = [t.clone().requires_grad_() for t in (decay, x, h0)]
    (w * tritonlpc.linear_recurrence(*full)).sum().backward()
    loc = [decay[:, s:e].clone().requires_grad_(), x[:, s:e].clone().requires_grad_()]
    z = full[2].detach().clone().requires_grad_() if rank() == 0 else None
    h = td.linear_recurrence(loc[0], loc[1], z)
    (w[:, s:e] * h).sum().backward()
    close("h", h, tritonlpc.linear_recurrence(decay, x, h0)[:, s:e], 1e-10)
    close("grad decay", loc[0].grad, full[0].grad[:, s:e], 1e-10)
    close("grad x", loc[1].grad, full[1].grad[:, s:e], 1e-10)
    if z is not None:
        close("grad zi", z.grad, full[2].grad, 1e-10)


@check
def deterministic_and_no_grad() -> None:
    """Two runs give bit-identical results; under no_grad on every rank nothing is recorded."""
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    lengths = (40, 24) if size() == 2 else (10, 20, 3, 31)
    x, a, zi = make_inputs(2, sum(lengths), 3, torch.float32, seed=11)
    s, e = bounds(lengths)
    z = zi if rank() == 0 else None
    with torch.no_grad():
        first = td.sample_wise_lpc(x[:, s:e], a[:, s:e], z, return_zf=True)
        second = td.sample_wise_lpc(x[:, s:e], a[:, s:e], z, return_zf=True)
    assert all(torch.equal(p, q) for p, q in zip(first, second))
    assert not first[0].requires_grad


@check
def zero_state_through_overflowed_map() -> None:
    """Rank 1's slice is unstable (y[n] = 2 y[n-1]) but receives zero state and zero input, so
    the sequential result is finite there and after; its map overflows float32 (2^200). The
    loss weighs only rank 0's samples, so the adjoint entering the stretch is zero as well."""
    import tritonlpc
    import tritonlpc.distributed as td

    lengths = (8, 200) if size() == 2 else (8, 200, 3, 12)
    T, M = sum(lengths), 2
    n = torch.arange(T)
    a = torch.zeros(1, T, M)
    a[0, :, 0] = torch.where((n >= 8) & (n < 208), -2.0, -0.5)
    x = torch.where(n >= 208, torch.sin(n.float()), torch.zeros(T)).unsqueeze(0)
    w = torch.where(n < 8, 1.0, 0.0).unsqueeze(0)
    s, e = bounds(lengths)
    xs, as_ = x.clone().requires_grad_(), a.clone().requires_grad_()
    y = tritonlpc.sample_wise_lpc(xs, as_)
    (w * y).sum().backward()
    xl, al = x[:, s:e].clone().requires_grad_(), a[:, s:e].clone().requires_grad_()
    yl = td.sample_wise_lpc(xl, al)
    (w[:, s:e] * yl).sum().backward()
    for name, t in (("y", yl), ("grad x", xl.grad), ("grad a", al.grad)):
        assert torch.isfinite(t).all(), f"{name} has non-finite values on rank {rank()}"
    close("y", yl, y[:, s:e], 1e-6)
    close("grad x", xl.grad, xs.grad[:, s:e], 1e-6)
    close("grad a", al.grad, as_.grad[:, s:e], 1e-6)


@check
def tiny_state_through_an_overflowing_slice_map() -> None:
    """A tiny state (from 1e-30 on rank 0) crosses rank 1's slice, which grows by 2^170 and then
    decays: its map overflows float32 unless kept with an exponent, the recursion peaks near
    1e21. The loss reaches the outputs after the stretch and ``zf`` with weights of 1e-30, so
    the adjoint that crosses rank 1's map backwards is tiny as well."""
    import tritonlpc
    import tritonlpc.distributed as td

    lengths = (8, 200) if size() == 2 else (8, 200, 3, 12)
    T, M = sum(lengths), 2
    n = torch.arange(T)
    a = torch.zeros(1, T, M)
    a[0, :, 0] = torch.where((n >= 8) & (n < 178), -2.0, -0.5)
    x = torch.where(n == 2, 1e-30, 0.0).unsqueeze(0)
    w = torch.where(n >= 178, 1e-30, 0.0).unsqueeze(0)
    v = torch.full((1, M), 1e-30)
    s, e = bounds(lengths)
    xs, as_ = x.clone().requires_grad_(), a.clone().requires_grad_()
    y, zf = tritonlpc.sample_wise_lpc(xs, as_, return_zf=True)
    ((w * y).sum() + (v * zf).sum()).backward()
    assert y.abs().max() > 1e10 and xs.grad.abs().max() > 1e10  # it did grow, both ways
    xl, al = x[:, s:e].clone().requires_grad_(), a[:, s:e].clone().requires_grad_()
    yl, zfl = td.sample_wise_lpc(xl, al, return_zf=True)
    ((w[:, s:e] * yl).sum() + (v * zfl).sum() if rank() == size() - 1 else (w[:, s:e] * yl).sum()).backward()
    for name, t in (("y", yl), ("zf", zfl), ("grad x", xl.grad), ("grad a", al.grad)):
        assert torch.isfinite(t).all(), f"{name} has non-finite values on rank {rank()}"
    close("y", yl, y[:, s:e], 1e-5)
    close("zf", zfl, zf, 1e-5)
    close("grad x", xl.grad, xs.grad[:, s:e], 1e-5)
    close("grad a", al.grad, as_.grad[:, s:e], 1e-5)


@check
def learned_zi_only_on_rank0() -> None:
    """Only rank 0 has an input that requires grad (zi): the others still join the backward."""
    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    lengths = (5, 5) if size() == 2 else (2, 3, 0, 5)
    x, a, zi = make_inputs(1, sum(lengths), 2, torch.float64, seed=2)
    s, e = bounds(lengths)
    zr = zi.clone().requires_grad_()
    tritonlpc.sample_wise_lpc(x, a, zr).sum().backward()
    z = zi.clone().requires_grad_() if rank() == 0 else None
    td.sample_wise_lpc(x[:, s:e], a[:, s:e], z).sum().backward()
    if z is not None:
        close("grad zi", z.grad, zr.grad, 1e-10)


@check
def backends_per_rank() -> None:
    """Rank 0 filters with Numba, the others with the Triton kernels (interpreted on CPU)."""
    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    if os.environ.get("TRITON_INTERPRET") != "1":
        return
    lengths = (4, 9) if size() == 2 else (4, 1, 0, 8)
    x, a, zi = make_inputs(2, sum(lengths), 2, torch.float32, seed=4)
    s, e = bounds(lengths)
    xs, as_ = x.clone().requires_grad_(), a.clone().requires_grad_()
    y, zf = tritonlpc.sample_wise_lpc(xs, as_, zi, return_zf=True)
    y.sum().backward()
    xl, al = x[:, s:e].clone().requires_grad_(), a[:, s:e].clone().requires_grad_()
    with tritonlpc.use_backend("numba" if rank() == 0 else "triton"):
        yl, zfl = td.sample_wise_lpc(xl, al, zi if rank() == 0 else None, return_zf=True)
        yl.sum().backward()
    close("y", yl, y[:, s:e], 2e-5)
    close("zf", zfl, zf, 2e-5)
    close("grad x", xl.grad, xs.grad[:, s:e], 2e-5)
    close("grad a", al.grad, as_.grad[:, s:e], 2e-5)
    # control frames (hop = 2): the Triton kernels' HOP, the summaries included
    lengths = (4, 7) if size() == 2 else (4, 2, 0, 5)
    x, af, zi = make_inputs(1, sum(lengths), 2, torch.float32, seed=5, hop=2)
    s, e = bounds(lengths)
    xs, fs = x.clone().requires_grad_(), af.clone().requires_grad_()
    y, zf = tritonlpc.sample_wise_lpc(xs, fs, zi, return_zf=True, hop=2)
    (y.sum() + zf.sum()).backward()
    xl, fl = x[:, s:e].clone().requires_grad_(), af[:, frames_of(lengths, 2)].clone().requires_grad_()
    with tritonlpc.use_backend("numba" if rank() == 0 else "triton"):
        yl, zfl = td.sample_wise_lpc(xl, fl, zi if rank() == 0 else None, return_zf=True, hop=2)
        (yl.sum() + zfl.sum() * (rank() == size() - 1)).backward()
    close("frames y", yl, y[:, s:e], 2e-5)
    close("frames zf", zfl, zf, 2e-5)
    close("frames grad x", xl.grad, xs.grad[:, s:e], 2e-5)
    close("frames grad", summed_frames(fl.grad, af.shape[1], lengths, 2), fs.grad, 2e-5)


# --------------------------------------------------------------------------- audio
@check
def iir_and_biquad() -> None:
    """FIR numerator across ranks (K = 4 > some slices) + all-pole denominator, zi on rank 0,
    return_zf; biquad; FIR only (M = 0)."""
    import tritonlpc.distributed as td
    from tritonlpc import audio
    from tritonlpc.testing import make_inputs

    lengths = (3, 14) if size() == 2 else (2, 1, 0, 11)
    T = sum(lengths)
    s, e = bounds(lengths)
    g = torch.Generator().manual_seed(9)
    for K, M in ((4, 2), (2, 2), (3, 0)):
        x, a, zy = make_inputs(2, T, max(M, 1), torch.float64, seed=K + M)
        a, zy = a[..., :M], zy[:, :M]
        b = torch.randn(2, T, K + 1, dtype=torch.float64, generator=g)
        zx = torch.randn(2, K, dtype=torch.float64, generator=g)
        w = torch.randn(2, T, dtype=torch.float64, generator=g)
        vx, vy = (
            torch.randn(2, K, dtype=torch.float64, generator=g),
            torch.randn(2, M, dtype=torch.float64, generator=g),
        )
        full = [t.clone().requires_grad_() for t in (x, b, a, zx, zy)]
        fn = audio.time_varying_biquad if (K, M) == (2, 2) else audio.time_varying_iir
        sharded = td.time_varying_biquad if (K, M) == (2, 2) else td.time_varying_iir
        y, (fx, fy) = fn(full[0], full[1], full[2], (full[3], full[4]), return_zf=True)
        ((w * y).sum() + (vx * fx).sum() + (vy * fy).sum()).backward()
        loc = [t[:, s:e].clone().requires_grad_() for t in (x, b, a)]
        zl = (
            (full[3].detach().clone().requires_grad_(), full[4].detach().clone().requires_grad_())
            if rank() == 0
            else None
        )
        yl, (fxl, fyl) = sharded(*loc, zl, return_zf=True)
        last = rank() == size() - 1
        ((w[:, s:e] * yl).sum() + ((vx * fxl).sum() + (vy * fyl).sum()) * last).backward()
        close(f"y K={K} M={M}", yl, y[:, s:e], 1e-10)
        close("zf_x", fxl, fx, 1e-10)
        close("zf_y", fyl, fy, 1e-10)
        for name, got, want in zip("xba"[: 3 if M else 2], loc, full):
            close(f"grad {name} K={K} M={M}", got.grad, want.grad[:, s:e], 1e-10)
        if zl is not None:
            close("grad zi_x", zl[0].grad, full[3].grad, 1e-10)
            if M:
                close("grad zi_y", zl[1].grad, full[4].grad, 1e-10)


# --------------------------------------------------------------------------- DTensor
@check
def dtensor_in_dtensor_out() -> None:
    """Shard(1) DTensors in (uneven, shards shorter than M, an empty shard), a Shard(1) y and a
    replicated zf out; gradients (zi's as Partial) match one process. In the 2-rank group only:
    DTensor's first use imports torch._dynamo (~3 s per process), and the layouts below already
    cover what matters (torch.chunk sizes: T=10 -> 5+5, T=4 -> 2+2 with M=3, T=1 -> 1+0)."""
    from torch.distributed.tensor import DTensor, Replicate, Shard, distribute_tensor, init_device_mesh

    import tritonlpc
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    if size() != 2:
        return
    mesh = init_device_mesh("cpu", (size(),))
    for T, M in ((10, 3), (4, 3), (1, 2)):
        x, a, zi = make_inputs(2, T, M, torch.float64, seed=T)
        w, v = weights(2, T, M, torch.float64)
        full = [t.clone().requires_grad_() for t in (x, a, zi)]
        y, zf = tritonlpc.sample_wise_lpc(*full, return_zf=True)
        loss_of(y, zf, w, v).backward()

        def leaf(t: torch.Tensor, placement) -> DTensor:
            return distribute_tensor(t, mesh, [placement]).detach().requires_grad_()

        xd, ad, zd = leaf(x, Shard(1)), leaf(a, Shard(1)), leaf(zi, Replicate())
        yd, zfd = td.sample_wise_lpc(xd, ad, zd, return_zf=True)
        assert isinstance(yd, DTensor) and tuple(yd.placements) == (Shard(1),) and yd.shape == (2, T)
        assert isinstance(zfd, DTensor) and tuple(zfd.placements) == (Replicate(),)
        loss = (distribute_tensor(w, mesh, [Shard(1)]) * yd).sum() + (
            distribute_tensor(v, mesh, [Replicate()]) * zfd
        ).sum()
        loss.full_tensor().backward()
        close("y", yd.full_tensor(), y, 1e-10)
        close("zf", zfd.full_tensor(), zf, 1e-10)
        close("grad x", xd.grad.full_tensor(), full[0].grad, 1e-10)
        close("grad a", ad.grad.full_tensor(), full[1].grad, 1e-10)
        close("grad zi", zd.grad.full_tensor(), full[2].grad, 1e-10)
    # the audio filters take DTensors the same way
    from tritonlpc import audio

    T = 9
    x, a, _ = make_inputs(1, T, 2, torch.float64, seed=1)
    b = torch.rand(1, T, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    yd = td.time_varying_biquad(*(distribute_tensor(t, mesh, [Shard(1)]) for t in (x, b, a)))
    close("biquad y", yd.full_tensor(), audio.time_varying_biquad(x, b, a), 1e-10)
    xd, ad = (distribute_tensor(t, mesh, [Shard(1)]) for t in (x, a))
    expect_error(ValueError, "hop is not supported with DTensor", lambda: td.sample_wise_lpc(xd, ad, hop=1))


# --------------------------------------------------------------------------- training
@check
def ddp_step_matches_one_process() -> None:
    """Batch-parallel DDP: one SGD step of a model using tritonlpc gives one process's parameters.
    Time-parallel: the same model on time slices (parameters replicated, gradients summed)."""
    from torch.nn.parallel import DistributedDataParallel as DDP

    import tritonlpc
    import tritonlpc.distributed as td

    class Resonator(torch.nn.Module):
        """A learnable two-pole resonator whose pole angle follows a line in time."""

        def __init__(self) -> None:
            super().__init__()
            self.theta = torch.nn.Parameter(torch.tensor([0.3, 0.6], dtype=torch.float64))
            self.log_r = torch.nn.Parameter(torch.tensor(-0.1, dtype=torch.float64))

        def coefficients(self, t: torch.Tensor) -> torch.Tensor:  # t in [0, 1], (T,)
            angle = self.theta[0] + (self.theta[1] - self.theta[0]) * t
            r = torch.exp(self.log_r)
            return torch.stack([-2 * r * torch.cos(angle), (r * r).expand_as(angle)], -1)

        def forward(self, x: torch.Tensor, t: torch.Tensor, sharded: bool = False) -> torch.Tensor:
            a = self.coefficients(t).expand(x.shape[0], -1, -1)
            return td.sample_wise_lpc(x, a) if sharded else tritonlpc.sample_wise_lpc(x, a)

    B, T = 2 * size(), 24
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, T, dtype=torch.float64, generator=g)
    target = torch.randn(B, T, dtype=torch.float64, generator=g)
    t = torch.linspace(0, 1, T, dtype=torch.float64)

    single = Resonator()
    opt = torch.optim.SGD(single.parameters(), lr=0.1)
    (single(x, t) - target).square().mean().backward()
    opt.step()
    want = [p.detach() for p in single.parameters()]

    rows = slice(2 * rank(), 2 * rank() + 2)
    ddp = DDP(Resonator())
    opt = torch.optim.SGD(ddp.parameters(), lr=0.1)
    (ddp(x[rows], t) - target[rows]).square().mean().backward()
    opt.step()
    for name, p, q in zip(("theta", "log_r"), ddp.module.parameters(), want):
        close(f"DDP {name}", p.detach(), q, 1e-12)

    lengths = [T // size()] * size()
    s, e = bounds(lengths)
    model = Resonator()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ((model(x[:, s:e], t[s:e], sharded=True) - target[:, s:e]).square().sum() / target.numel()).backward()
    for p in model.parameters():
        dist.all_reduce(p.grad)
    opt.step()
    for name, p, q in zip(("theta", "log_r"), model.parameters(), want):
        close(f"time-parallel {name}", p.detach(), q, 1e-12)


@check
def long_signal_example() -> None:
    """examples/long_signal_parallel.py in this group (0.5 s of audio, 4 steps): it prints the
    per-rank table on rank 0 and its loss goes down."""
    import contextlib
    import io
    import re

    examples = str(Path(__file__).resolve().parents[1] / "examples")
    sys.path.insert(0, examples)
    try:
        import long_signal_parallel
    finally:
        sys.path.remove(examples)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        long_signal_parallel.main(["--seconds", "0.5", "--steps", "4", "--no-progress", "--threads", "1"])
    if rank() != 0:
        return
    text = out.getvalue()
    rows = re.findall(r"^\| (\d) \| (\d+) \| [\d.]+ \| \d+ \| [\d.]+ \|$", text, flags=re.M)
    assert rows == [(str(r), str(24000 * (r + 1) // size() - 24000 * r // size())) for r in range(size())], text
    first, last = map(float, re.search(r"ESR first step ([\d.e+-]+), last step ([\d.e+-]+)", text).groups())
    assert last < first, text


# --------------------------------------------------------------------------- bad use
@check
def bad_use_raises_on_every_rank() -> None:
    import tritonlpc.distributed as td
    from tritonlpc.testing import make_inputs

    x, a, zi = make_inputs(2, 8, 2, torch.float32, seed=0)
    last = size() - 1
    cases = [
        (
            ValueError,
            "same x rows (B)",
            lambda: td.sample_wise_lpc(x[: 1 + (rank() == last)], a[: 1 + (rank() == last)]),
        ),
        (ValueError, "order (M)", lambda: td.sample_wise_lpc(x, a[..., : 1 + (rank() == last)])),
        (TypeError, "different dtypes", lambda: td.sample_wise_lpc(x.double() if rank() == last else x, a)),
        (ValueError, "rank 0 only", lambda: td.sample_wise_lpc(x, a, zi)),
        (ValueError, "not contiguous in rank order", lambda: td.sample_wise_lpc(x, a, offset=8 * (last - rank()))),
        (ValueError, "return_zf must be the same", lambda: td.sample_wise_lpc(x, a, return_zf=rank() == 0)),
        (ValueError, "K+1", lambda: td.time_varying_iir(x, a[..., :2] if rank() else a[..., :1], a)),
        (TypeError, "group must be a torch.distributed.ProcessGroup", lambda: td.sample_wise_lpc(x, a, group="world")),
        (TypeError, "x is a meta tensor", lambda: td.sample_wise_lpc(x.to("meta"), a.to("meta"))),
        (ValueError, "hop must be >= 1", lambda: td.sample_wise_lpc(x, a[:, :2], hop=0)),
        (TypeError, "hop must be an int", lambda: td.linear_recurrence(a[:, :2, 0], x, hop=2.0)),
        (
            ValueError,
            "a must hold at least (T - 1) // hop + 2 = 3 frames",
            lambda: td.sample_wise_lpc(x, a[:, :2], hop=4),
        ),
        (ValueError, "hop must be the same on every rank", lambda: td.sample_wise_lpc(x, a, hop=4 if rank() else 2)),
        (ValueError, "must start on a frame boundary", lambda: td.sample_wise_lpc(x, a[:, :4], hop=3)),
        (ValueError, "b must hold at least", lambda: td.time_varying_biquad(x, a[:, :1, :1].expand(2, 1, 3), a, hop=8)),
    ]
    for kind, text, call in cases:
        expect_error(kind, text, call)
    # invalid arguments on one rank: that rank names the argument, the others name the rank
    if rank() == last:
        expect_error(ValueError, "x must have shape (B, T)", lambda: td.sample_wise_lpc(x[0], a))
    else:
        expect_error(ValueError, f"rank(s) {last} rejected their arguments", lambda: td.sample_wise_lpc(x, a))
    expect_error(ValueError, "grad mode is disabled", lambda: _grad_mode_mismatch(x, a))
    solo = dist.new_group([0])
    if rank() == 0:  # a group of one: filters alone
        close("solo", td.sample_wise_lpc(x, a, group=solo), __import__("tritonlpc").sample_wise_lpc(x, a), 1e-6)
    else:
        expect_error(ValueError, "not a member", lambda: td.sample_wise_lpc(x, a, group=solo))
    dist.barrier()


def _grad_mode_mismatch(x: torch.Tensor, a: torch.Tensor) -> None:
    import tritonlpc.distributed as td

    xg = x.clone().requires_grad_()
    with torch.set_grad_enabled(rank() != 0):
        td.sample_wise_lpc(xg, a)


def not_initialised() -> None:
    """Before init_process_group (run by :func:`worker` first)."""
    import tritonlpc.distributed as td

    expect_error(ValueError, "not initialised", lambda: td.sample_wise_lpc(torch.zeros(1, 4), torch.zeros(1, 4, 2)))


# --------------------------------------------------------------------------- driver
def worker(rank_: int, size_: int, port: int, out_dir: str) -> None:
    """Run :func:`not_initialised`, then every check in :data:`CHECKS`; write a JSON report."""
    WORLD.update(rank=rank_, size=size_)
    torch.set_num_threads(1)
    import numba

    numba.set_num_threads(1)
    results: Dict[str, str] = {}

    def run(fn: Callable[[], None]) -> None:
        try:
            fn()
            results[fn.__name__] = "ok"
        except Exception:  # noqa: BLE001  (recorded; pytest reports it)
            results[fn.__name__] = traceback.format_exc()

    run(not_initialised)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank_, world_size=size_, timeout=datetime.timedelta(seconds=120))
    try:
        for fn in CHECKS:
            run(fn)
    finally:
        Path(out_dir, f"rank{rank_}.json").write_text(json.dumps(results))
    gc.collect()  # DDP's reducer and the checks' groups, while the groups still exist
    dist.barrier()  # no rank tears down while another still talks to it
    dist.destroy_process_group()
    # Leave without interpreter finalization: a gloo worker thread that still holds a Python
    # object then takes the GIL of a finalising interpreter, which ends the thread inside C++
    # and aborts the process ("terminate called without an active exception", SIGABRT; seen once
    # in CI on torch 2.13 after every check had run). The report is written; nothing is left.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
