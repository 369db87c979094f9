"""Time-invariant filters in one pass (real dtypes), forward and backward: coefficients read once per program.

``lti_tdf2_pass_kernel`` runs scipy's transposed direct form II of order ``N <= 4`` (padded to 4
with zero coefficients, which add exact zeros); ``lti_sos4_pass_kernel`` four second-order
sections ``[b0, b1, b2, 1, a1, a2]`` in cascade, every section's two states updated per sample
before the next sample is read (longer cascades: one launch per group of four, padded with
pass-through sections ``[1, 0, 0, 1, 0, 0]``), keeping the inputs of sections 1-3 for the
backward when asked. Coefficients and states live in registers for the whole walk; one lane a
row (``BLOCK_R`` rows a program), so the kernels fill a GPU only with thousands of rows: short
batches of long signals need the time-parallel schedules of the all-pole backend. Coefficient
rows are shared (stride 0) or one per signal row. The states ``z`` are read as the initial
states and overwritten with the final ones. Every signal is read or written through a row and a
time stride; ``reverse=True`` hands the kernels a view at the last sample with a negative time
stride, so a filter runs back in time without a copy (``filtfilt``'s second pass).

The adjoint kernels (``lti_tdf2_adjoint_kernel``, ``lti_sos4_adjoint_kernel``) walk back in time
with the adjoint recursion of ``tritonlpc/backends/_numba_lti.py`` (derived there), reading the
saved input and output (and the kept section inputs): the input gradient, the state gradient,
and each row's coefficient gradients summed over time in float64 in the lane that owns the row,
in a fixed order (no atomics); rows sharing a filter are summed afterwards by
``torch.sum`` (deterministic). Launched through :func:`.launch.launch`; ``tritonlpc.signal``
uses :func:`tdf2`, :func:`sos_cascade` and their adjoints for CUDA tensors.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import triton
import triton.language as tl

from .launch import accumulation_type, launch

__all__ = [
    "lti_tdf2_pass_kernel",
    "lti_sos4_pass_kernel",
    "lti_tdf2_adjoint_kernel",
    "lti_sos4_adjoint_kernel",
    "tdf2",
    "tdf2_adjoint",
    "sos_cascade",
    "sos_cascade_adjoint",
    "sos_keep_rows",
    "BLOCK_R",
    "walk_signals",
    "sos_group",
    "pad4",
    "tdf2_start",
    "tdf2_step",
    "sos4_start",
    "section",
    "section_adjoint",
    "sample",
    "store4",
    "store_sums",
]

BLOCK_R = 32  # rows a program: one warp


@triton.jit
def _tdf2_step(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3):
    """One sample ``v`` through the order-4 form: ``(out, s0, s1, s2, s3)``."""
    o = b0 * v + s0
    return o, b1 * v + s1 - a1 * o, b2 * v + s2 - a2 * o, b3 * v + s3 - a3 * o, b4 * v - a4 * o


@triton.jit
def _section(b0, b1, b2, a1, a2, v, s0, s1):
    """One second-order section on one sample ``v``: ``(out, s0, s1)``."""
    o = b0 * v + s0
    return o, b1 * v + s1 - a1 * o, b2 * v - a2 * o


@triton.jit
def _coef(ptr, row, k, ok, CDT: tl.constexpr):
    """``ptr[row + k]`` where ``ok`` (else 0) in the accumulation dtype ``CDT``."""
    return tl.load(ptr + row + k, mask=ok, other=0.0).to(CDT)


@triton.jit
def _load4(ptr, row, ok, CDT: tl.constexpr):
    """``ptr[row + 0..3]`` (four state values)."""
    return _coef(ptr, row, 0, ok, CDT), _coef(ptr, row, 1, ok, CDT), _coef(ptr, row, 2, ok, CDT), _coef(ptr, row, 3, ok, CDT)  # fmt: skip


@triton.jit
def _store4(ptr, row, s0, s1, s2, s3, ok):
    tl.store(ptr + row, s0, mask=ok)
    tl.store(ptr + row + 1, s1, mask=ok)
    tl.store(ptr + row + 2, s2, mask=ok)
    tl.store(ptr + row + 3, s3, mask=ok)


@triton.jit
def _sample(xrow, r, t, sxt, ok, T, CDT: tl.constexpr):
    """``x[t]`` of the program's rows ``r`` (0 past the end; the comparison is made a tensor of
    ``r``'s shape for the interpreter)."""
    return _coef(xrow, t * sxt, 0, ok & (r * 0 + t < T), CDT)


@triton.jit
def _tdf2_start(b_ptr, a_ptr, z_ptr, c, zr, ok, CDT: tl.constexpr):
    """``b0 .. b4, a1 .. a4`` of the coefficient rows at ``c`` and the four states at ``zr``."""
    b0, b1, b2 = _coef(b_ptr, c, 0, ok, CDT), _coef(b_ptr, c, 1, ok, CDT), _coef(b_ptr, c, 2, ok, CDT)
    b3, b4 = _coef(b_ptr, c, 3, ok, CDT), _coef(b_ptr, c, 4, ok, CDT)
    a1, a2 = _coef(a_ptr, c, 1, ok, CDT), _coef(a_ptr, c, 2, ok, CDT)
    a3, a4 = _coef(a_ptr, c, 3, ok, CDT), _coef(a_ptr, c, 4, ok, CDT)
    s0, s1, s2, s3 = _load4(z_ptr, zr, ok, CDT)
    return b0, b1, b2, b3, b4, a1, a2, a3, a4, s0, s1, s2, s3


@triton.jit(do_not_specialize=["R", "T"])
def lti_tdf2_pass_kernel(
    x_ptr, b_ptr, a_ptr, z_ptr, y_ptr, sxr, sxt, syr, syt, scr, R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr
):  # fmt: skip
    """``y`` (strides ``syr, syt``) of rows ``x`` (strides ``sxr, sxt``) through ``b``, ``a``
    `(1 or R, 5)` (coefficient row stride ``scr``: 0 for one filter), states ``z`` `(R, 4)`."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    zr = r.to(tl.int64) * 4
    b0, b1, b2, b3, b4, a1, a2, a3, a4, s0, s1, s2, s3 = _tdf2_start(b_ptr, a_ptr, z_ptr, r.to(tl.int64) * scr, zr, ok, CDT)  # fmt: skip
    xrow = x_ptr + r.to(tl.int64) * sxr
    v = _sample(xrow, r, 0, sxt, ok, T, CDT)
    for t in range(T):
        nxt = _sample(xrow, r, t + 1, sxt, ok, T, CDT)  # ahead of this step's store
        o, s0, s1, s2, s3 = _tdf2_step(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3)
        tl.store(y_ptr + r.to(tl.int64) * syr + t * syt, o, mask=ok)
        v = nxt
    _store4(z_ptr, zr, s0, s1, s2, s3, ok)


@triton.jit
def _section_coefs(q_ptr, c, k: tl.constexpr, ok, CDT: tl.constexpr):
    """Section ``k``'s ``(b0, b1, b2, a1, a2)`` of the coefficient rows at ``c``."""
    base = c + 6 * k
    b0, b1, b2 = _coef(q_ptr, base, 0, ok, CDT), _coef(q_ptr, base, 1, ok, CDT), _coef(q_ptr, base, 2, ok, CDT)
    return b0, b1, b2, _coef(q_ptr, base, 4, ok, CDT), _coef(q_ptr, base, 5, ok, CDT)


@triton.jit
def _sos4_start(q_ptr, z_ptr, c, zr, ok, CDT: tl.constexpr):
    """The four sections' ``(b0, b1, b2, a1, a2)`` of the coefficient rows at ``c`` and the eight
    states at ``zr``."""
    p0, p1, p2, p4, p5 = _section_coefs(q_ptr, c, 0, ok, CDT)
    u0, u1, u2, u4, u5 = _section_coefs(q_ptr, c, 1, ok, CDT)
    v0, v1, v2, v4, v5 = _section_coefs(q_ptr, c, 2, ok, CDT)
    w0, w1, w2, w4, w5 = _section_coefs(q_ptr, c, 3, ok, CDT)
    s00, s01, s10, s11 = _load4(z_ptr, zr, ok, CDT)
    s20, s21, s30, s31 = _load4(z_ptr, zr + 4, ok, CDT)
    return p0, p1, p2, p4, p5, u0, u1, u2, u4, u5, v0, v1, v2, v4, v5, w0, w1, w2, w4, w5, s00, s01, s10, s11, s20, s21, s30, s31  # fmt: skip


@triton.heuristics({"KEEP": lambda args: args["k_ptr"] is not None})
@triton.jit(do_not_specialize=["R", "T"])
def lti_sos4_pass_kernel(
    x_ptr, q_ptr, z_ptr, y_ptr, k_ptr, sxr, sxt, syr, syt, sqr, skp, R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr,
    KEEP: tl.constexpr,
):  # fmt: skip
    """``y`` (strides ``syr, syt``) of rows ``x`` (strides ``sxr, sxt``) through four sections
    ``q`` `(1 or R, 4, 6)` (row stride ``sqr``: 0 for one cascade), states ``z`` `(R, 4, 2)`;
    ``KEEP``: the inputs of sections 1-3 to ``k`` `(3, R, T)` (in processing order, rows
    contiguous, planes ``skp`` apart)."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    zr = r.to(tl.int64) * 8
    p0, p1, p2, p4, p5, u0, u1, u2, u4, u5, v0, v1, v2, v4, v5, w0, w1, w2, w4, w5, s00, s01, s10, s11, s20, s21, s30, s31 = _sos4_start(q_ptr, z_ptr, r.to(tl.int64) * sqr, zr, ok, CDT)  # fmt: skip
    xrow = x_ptr + r.to(tl.int64) * sxr
    yrow, krow = y_ptr + r.to(tl.int64) * syr, r.to(tl.int64) * T
    v = _sample(xrow, r, 0, sxt, ok, T, CDT)
    for t in range(T):
        nxt = _sample(xrow, r, t + 1, sxt, ok, T, CDT)  # ahead of this step's store
        h1, s00, s01 = _section(p0, p1, p2, p4, p5, v, s00, s01)
        h2, s10, s11 = _section(u0, u1, u2, u4, u5, h1, s10, s11)
        h3, s20, s21 = _section(v0, v1, v2, v4, v5, h2, s20, s21)
        h, s30, s31 = _section(w0, w1, w2, w4, w5, h3, s30, s31)
        tl.store(yrow + t * syt, h, mask=ok)
        if KEEP:
            tl.store(k_ptr + krow + t, h1, mask=ok)
            tl.store(k_ptr + skp + krow + t, h2, mask=ok)
            tl.store(k_ptr + 2 * skp + krow + t, h3, mask=ok)
        v = nxt
    _store4(z_ptr, zr, s00, s01, s10, s11, ok)
    _store4(z_ptr, zr + 4, s20, s21, s30, s31, ok)


# --------------------------------------------------------------------------- adjoints
@triton.jit
def _back3(grow, sgt, xrow, sxt, yrow, syt, r, t, ok, CDT: tl.constexpr):
    """``g[t], x[t], y[t]`` of the program's rows (0 before the first sample)."""
    m = ok & (r * 0 + t >= 0)
    return _coef(grow, t * sgt, 0, m, CDT), _coef(xrow, t * sxt, 0, m, CDT), _coef(yrow, t * syt, 0, m, CDT)


@triton.jit(do_not_specialize=["R", "T"])
def lti_tdf2_adjoint_kernel(
    x_ptr, y_ptr, g_ptr, b_ptr, a_ptr, z_ptr, gx_ptr, gb_ptr, ga_ptr, sxr, sxt, syr, syt, sgr, sgt, sgxr, sgxt, scr,
    R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr,
):  # fmt: skip
    """The backward of :func:`lti_tdf2_pass_kernel` from the last sample to the first: ``x``
    (strides ``sxr, sxt``), ``y`` (``syr, syt``) the forward's input and output, ``g`` (``sgr,
    sgt``) the gradient of ``y``, ``z`` `(R, 4)` that of the final state (becomes that of the
    initial state); writes ``gx`` (``sgxr, sgxt``) and the per-row sums ``gb``, ``ga`` `(R, 5)`
    (float64)."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    zr = r.to(tl.int64) * 4
    b0, b1, b2, b3, b4, a1, a2, a3, a4, l0, l1, l2, l3 = _tdf2_start(b_ptr, a_ptr, z_ptr, r.to(tl.int64) * scr, zr, ok, CDT)  # fmt: skip
    zero = tl.zeros([BLOCK_R], dtype=tl.float64)
    kb0, kb1, kb2, kb3, kb4, ka1, ka2, ka3, ka4 = zero, zero, zero, zero, zero, zero, zero, zero, zero
    xrow, grow, yrow = x_ptr + r.to(tl.int64) * sxr, g_ptr + r.to(tl.int64) * sgr, y_ptr + r.to(tl.int64) * syr
    gv, xv, yv = _back3(grow, sgt, xrow, sxt, yrow, syt, r, T - 1, ok, CDT)
    for i in range(T):
        t = T - 1 - i
        gn, xn, yn = _back3(grow, sgt, xrow, sxt, yrow, syt, r, t - 1, ok, CDT)  # ahead of the store
        e = gv - a4 * l3 - a3 * l2 - a2 * l1 - a1 * l0
        tl.store(gx_ptr + r.to(tl.int64) * sgxr + t * sgxt, b4 * l3 + b3 * l2 + b2 * l1 + b1 * l0 + b0 * e, mask=ok)
        xd, yd, e0, e1, e2, e3 = xv.to(tl.float64), yv.to(tl.float64), l0.to(tl.float64), l1.to(tl.float64), l2.to(tl.float64), l3.to(tl.float64)  # fmt: skip
        kb0, kb1, kb2, kb3, kb4 = (
            kb0 + e.to(tl.float64) * xd,
            kb1 + e0 * xd,
            kb2 + e1 * xd,
            kb3 + e2 * xd,
            kb4 + e3 * xd,
        )
        ka1, ka2, ka3, ka4 = ka1 - e0 * yd, ka2 - e1 * yd, ka3 - e2 * yd, ka4 - e3 * yd
        l0, l1, l2, l3 = e, l0, l1, l2
        gv, xv, yv = gn, xn, yn
    _store4(z_ptr, zr, l0, l1, l2, l3, ok)
    gr = r.to(tl.int64) * 5
    _store4(gb_ptr, gr, kb0, kb1, kb2, kb3, ok)
    tl.store(gb_ptr + gr + 4, kb4, mask=ok)
    _store4(ga_ptr, gr + 1, ka1, ka2, ka3, ka4, ok)


@triton.jit
def _section_adjoint(b0, b1, b2, a1, a2, g, v, o, l0, l1, k0, k1, k2, k3, k4):
    """The adjoint of one section on one sample going back in time: ``g`` the gradient of its
    output ``o``, ``v`` its input, ``(l0, l1)`` its lags, ``k`` its coefficient sums (float64).
    Returns ``(gv, l0, l1, k0 .. k4)``: the gradient of ``v``, the new lags and sums."""
    e = g - a2 * l1 - a1 * l0
    vd, od, e0, e1 = v.to(tl.float64), o.to(tl.float64), l0.to(tl.float64), l1.to(tl.float64)
    gv = b2 * l1 + b1 * l0 + b0 * e
    return gv, e, l0, k0 + e.to(tl.float64) * vd, k1 + e0 * vd, k2 + e1 * vd, k3 - e0 * od, k4 - e1 * od


@triton.jit
def _store_sums(ptr, base, k0, k1, k2, k3, k4, ok):
    """One section's sums to columns ``b0, b1, b2, a1, a2`` (0, 1, 2, 4, 5) of ``ptr[base:]``."""
    tl.store(ptr + base, k0, mask=ok)
    tl.store(ptr + base + 1, k1, mask=ok)
    tl.store(ptr + base + 2, k2, mask=ok)
    tl.store(ptr + base + 4, k3, mask=ok)
    tl.store(ptr + base + 5, k4, mask=ok)


@triton.jit(do_not_specialize=["R", "T"])
def lti_sos4_adjoint_kernel(
    x_ptr, k_ptr, y_ptr, g_ptr, q_ptr, z_ptr, gx_ptr, gq_ptr, sxr, sxt, syr, syt, sgr, sgt, sgxr, sgxt, sqr, skp,
    R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr,
):  # fmt: skip
    """The backward of :func:`lti_sos4_pass_kernel` from the last sample to the first: ``x``
    (strides ``sxr, sxt``), ``k`` `(3, R, T)` (processing order, planes ``skp`` apart) and ``y``
    (``syr, syt``) the inputs of sections 0, 1-3 and the output, ``g`` (``sgr, sgt``) the gradient
    of ``y``, ``z`` `(R, 4, 2)` that of the final states (becomes that of the initial states);
    writes ``gx`` (``sgxr, sgxt``) and the per-row sums ``gq`` `(R, 4, 6)` (float64, column 3
    untouched)."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    zr = r.to(tl.int64) * 8
    p0, p1, p2, p4, p5, u0, u1, u2, u4, u5, v0, v1, v2, v4, v5, w0, w1, w2, w4, w5, l00, l01, l10, l11, l20, l21, l30, l31 = _sos4_start(q_ptr, z_ptr, r.to(tl.int64) * sqr, zr, ok, CDT)  # fmt: skip
    zero = tl.zeros([BLOCK_R], dtype=tl.float64)
    k00, k01, k02, k03, k04 = zero, zero, zero, zero, zero
    k10, k11, k12, k13, k14 = zero, zero, zero, zero, zero
    k20, k21, k22, k23, k24 = zero, zero, zero, zero, zero
    k30, k31, k32, k33, k34 = zero, zero, zero, zero, zero
    xrow, grow, yrow = x_ptr + r.to(tl.int64) * sxr, g_ptr + r.to(tl.int64) * sgr, y_ptr + r.to(tl.int64) * syr
    krow = r.to(tl.int64) * T
    for i in range(T):
        t = T - 1 - i
        h1 = _sample(k_ptr + krow, r, t, 1, ok, T, CDT)
        h2 = _sample(k_ptr + skp + krow, r, t, 1, ok, T, CDT)
        h3 = _sample(k_ptr + 2 * skp + krow, r, t, 1, ok, T, CDT)
        d = _sample(grow, r, t, sgt, ok, T, CDT)
        o = _sample(yrow, r, t, syt, ok, T, CDT)
        d, l30, l31, k30, k31, k32, k33, k34 = _section_adjoint(w0, w1, w2, w4, w5, d, h3, o, l30, l31, k30, k31, k32, k33, k34)  # fmt: skip
        d, l20, l21, k20, k21, k22, k23, k24 = _section_adjoint(v0, v1, v2, v4, v5, d, h2, h3, l20, l21, k20, k21, k22, k23, k24)  # fmt: skip
        d, l10, l11, k10, k11, k12, k13, k14 = _section_adjoint(u0, u1, u2, u4, u5, d, h1, h2, l10, l11, k10, k11, k12, k13, k14)  # fmt: skip
        xv = _sample(xrow, r, t, sxt, ok, T, CDT)
        d, l00, l01, k00, k01, k02, k03, k04 = _section_adjoint(p0, p1, p2, p4, p5, d, xv, h1, l00, l01, k00, k01, k02, k03, k04)  # fmt: skip
        tl.store(gx_ptr + r.to(tl.int64) * sgxr + t * sgxt, d, mask=ok)
    _store4(z_ptr, zr, l00, l01, l10, l11, ok)
    _store4(z_ptr, zr + 4, l20, l21, l30, l31, ok)
    gr = r.to(tl.int64) * 24
    _store_sums(gq_ptr, gr, k00, k01, k02, k03, k04, ok)
    _store_sums(gq_ptr, gr + 6, k10, k11, k12, k13, k14, ok)
    _store_sums(gq_ptr, gr + 12, k20, k21, k22, k23, k24, ok)
    _store_sums(gq_ptr, gr + 18, k30, k31, k32, k33, k34, ok)


def _grid(R: int):
    return (triton.cdiv(R, BLOCK_R),)


def pad4(N: int, *ts: torch.Tensor):
    """The last dimension of each tensor zero-padded by ``4 - N``, contiguous."""
    return [torch.nn.functional.pad(t, (0, 4 - N)).contiguous() for t in ts]


def _walk(t: torch.Tensor, reverse: bool) -> Tuple[torch.Tensor, int, int]:
    """Rows ``t`` `(R, T)` as a kernel walks them in processing order: ``(view, row stride, time
    stride)``; ``reverse``: from the last sample back (a view at it, negative time stride: no
    copy)."""
    if reverse:
        return t[:, t.shape[1] - 1 :], t.stride(0), -t.stride(1)
    return t, t.stride(0), t.stride(1)


def walk_signals(**named: Tuple[torch.Tensor, bool]) -> Dict[str, Any]:
    """Kernel keywords ``<n>_ptr, s<n>r, s<n>t`` of each signal ``n = (tensor, reverse)``."""
    out: Dict[str, Any] = {}
    for n, (t, reverse) in named.items():
        out[f"{n}_ptr"], out[f"s{n}r"], out[f"s{n}t"] = _walk(t, reverse)
    return out


def tdf2(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, z: torch.Tensor, reverse: bool = False) -> torch.Tensor:
    """``y`` of rows ``x`` `(R, T)` (real, any strides) through ``b``, ``a`` `(1 or R, N+1)`
    (``a[:, 0] == 1``, ``1 <= N <= 4``) from states ``z`` `(R, N)` (overwritten with the final
    states); ``reverse``: from the last sample to the first (no copies). Returns a new
    contiguous ``y``."""
    R, T = x.shape
    N = z.shape[1]
    b4, a4, z4 = pad4(N, b, a, z)
    y = torch.empty(R, T, dtype=x.dtype, device=x.device)
    launch(
        lti_tdf2_pass_kernel, _grid(R), **walk_signals(x=(x, reverse), y=(y, reverse)), b_ptr=b4, a_ptr=a4, z_ptr=z4,
        scr=0 if b4.shape[0] == 1 else 5, R=R, T=T, BLOCK_R=BLOCK_R, CDT=accumulation_type(x.dtype), num_warps=1,
    )  # fmt: skip
    z.copy_(z4[:, :N])
    return y


def tdf2_adjoint(
    b: torch.Tensor,
    a: torch.Tensor,
    x: torch.Tensor,
    y: torch.Tensor,
    g: torch.Tensor,
    z: torch.Tensor,
    reverse: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The backward of :func:`tdf2`: ``x``, ``y`` its input and output, ``g`` the gradient of
    ``y`` (any strides), ``z`` `(R, N)` that of the final state (overwritten with that of the
    initial state), ``reverse`` as there. Returns ``gx`` `(R, T)` and the per-row coefficient
    gradients ``gb``, ``ga`` `(R, N+1)` (float64; ``ga[:, 0] = 0``)."""
    R, T = x.shape
    N = z.shape[1]
    b4, a4, z4 = pad4(N, b, a, z)
    gx = torch.empty(R, T, dtype=x.dtype, device=x.device)
    gb, ga = (torch.zeros(R, 5, dtype=torch.float64, device=x.device) for _ in range(2))
    launch(
        lti_tdf2_adjoint_kernel, _grid(R), **walk_signals(x=(x, reverse), y=(y, reverse), g=(g, reverse), gx=(gx, reverse)),
        b_ptr=b4, a_ptr=a4, z_ptr=z4, gb_ptr=gb, ga_ptr=ga, scr=0 if b4.shape[0] == 1 else 5, R=R, T=T,
        BLOCK_R=BLOCK_R, CDT=accumulation_type(x.dtype), num_warps=1,
    )  # fmt: skip
    z.copy_(z4[:, :N])
    return gx, gb[:, : N + 1], ga[:, : N + 1]


def sos_group(sos: torch.Tensor, z: torch.Tensor, k: int) -> Tuple[int, torch.Tensor, torch.Tensor]:
    """Sections ``k .. k+m-1`` (``m <= 4``) padded with pass-through sections to four: ``(m, q,
    zk)``, ``q`` `(1 or R, 4, 6)` and their states ``zk`` `(R, 4, 2)` (new tensors)."""
    m = min(4, sos.shape[1] - k)
    q = torch.zeros(sos.shape[0], 4, 6, dtype=sos.dtype, device=sos.device)
    q[:, :, 0] = q[:, :, 3] = 1  # pass-through sections past the end
    q[:, :m] = sos[:, k : k + m]
    zk = torch.zeros(z.shape[0], 4, 2, dtype=z.dtype, device=z.device)
    zk[:, :m] = z[:, k : k + m]
    return m, q, zk


def sos_keep_rows(n: int) -> int:
    """How many signals :func:`sos_cascade` keeps for the backward of ``n`` sections: the inputs
    of sections ``1 .. 4 * ceil(n / 4) - 1`` (pass-through sections included)."""
    return 4 * ((n + 3) // 4) - 1


def sos_cascade(
    sos: torch.Tensor, x: torch.Tensor, z: torch.Tensor, keep: Optional[torch.Tensor] = None, reverse: bool = False
) -> torch.Tensor:
    """``y`` of rows ``x`` `(R, T)` (real) through the sections ``sos`` `(1 or R, n, 6)` from
    states ``z`` `(R, n, 2)` (overwritten with the final states), one pass a group of four;
    ``reverse``: from the last sample to the first (no copies). ``keep``
    `(sos_keep_rows(n), R, T)` (contiguous): filled with the sections' inputs (processing order)
    for :func:`sos_cascade_adjoint`."""
    R, T = x.shape
    n = sos.shape[1]
    v, rv = x, reverse  # a group's input and whether it is walked back (x; then processing order)
    for k in range(0, n, 4):
        m, q, zk = sos_group(sos, z, k)
        last = k + 4 >= n
        out = torch.empty(R, T, dtype=x.dtype, device=x.device) if last or keep is None else keep[k + 3]
        launch(
            lti_sos4_pass_kernel, _grid(R), **walk_signals(x=(v, rv), y=(out, reverse and last)), q_ptr=q, z_ptr=zk,
            k_ptr=None if keep is None else keep[k : k + 3], sqr=0 if q.shape[0] == 1 else 24, skp=R * T, R=R, T=T,
            BLOCK_R=BLOCK_R, CDT=accumulation_type(x.dtype), num_warps=1,
        )  # fmt: skip
        z[:, k : k + m] = zk[:, :m]
        v, rv = out, reverse and last
    return v


def sos_cascade_adjoint(
    sos: torch.Tensor,
    x: torch.Tensor,
    keep: torch.Tensor,
    y: torch.Tensor,
    g: torch.Tensor,
    z: torch.Tensor,
    reverse: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The backward of :func:`sos_cascade`, one reverse pass a group of four from the last:
    ``x``, ``keep``, ``y`` the forward's input, kept signals and output, ``g`` the gradient of
    ``y`` (any strides), ``z`` `(R, n, 2)` that of the final states (overwritten with that of the
    initial states), ``reverse`` as there. Returns ``gx`` `(R, T)` and the per-row gradients
    ``gsos`` `(R, n, 6)` (float64, column 3 zero)."""
    R, T = x.shape
    n = sos.shape[1]
    gsos = torch.zeros(R, n, 6, dtype=torch.float64, device=x.device)
    for k in reversed(range(0, n, 4)):
        m, q, zk = sos_group(sos, z, k)
        last = k + 4 >= n
        xin, yout = (x, reverse) if k == 0 else (keep[k - 1], False), (y, reverse) if last else (keep[k + 3], False)
        gx = torch.empty(R, T, dtype=x.dtype, device=x.device)
        gq = torch.zeros(R, 4, 6, dtype=torch.float64, device=x.device)
        launch(
            lti_sos4_adjoint_kernel, _grid(R),
            **walk_signals(x=xin, y=yout, g=(g, reverse and last), gx=(gx, reverse and k == 0)), k_ptr=keep[k : k + 3],
            q_ptr=q, z_ptr=zk, gq_ptr=gq, sqr=0 if q.shape[0] == 1 else 24, skp=R * T, R=R, T=T, BLOCK_R=BLOCK_R,
            CDT=accumulation_type(x.dtype), num_warps=1,
        )  # fmt: skip
        z[:, k : k + m], gsos[:, k : k + m] = zk[:, :m], gq[:, :m]
        g = gx
    return g, gsos


# the step helpers by public names: the time-parallel schedule (:mod:`.lti_chunks`) runs the same recursions
tdf2_start, tdf2_step, sos4_start, section = _tdf2_start, _tdf2_step, _sos4_start, _section
section_adjoint, sample, store4, store_sums = _section_adjoint, _sample, _store4, _store_sums
