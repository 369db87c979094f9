"""Time-invariant filters over few long rows: chunks of every row in parallel, chained by one matrix power.

The one-pass kernels (:mod:`.lti_pass`) run one lane a row, so a batch of a few long rows leaves a
GPU idle. Here every row is cut into ``C`` chunks of ``L`` samples (and a tail of ``T mod L``), a
lane a chunk, in three phases:

1. every chunk's end state from a zero start state (outputs not written);
2. the carry, a program a row: ``S[c+1] = P S[c] + h[c]`` from ``S[0] = zi``, where ``P = A^L`` is
   the filter's state-transition matrix ``A`` to the power ``L``: the same for every chunk (the
   filter does not vary in time), computed once a call on the device in the compute dtype, ``A``
   by one launch of the first phase's kernel on unit states (its own recursion: the step is not
   written twice), its power by squaring (``torch.linalg.matrix_power``);
3. every chunk again from its start state ``S[c]``, writing the outputs (and a cascade's kept
   section inputs); the tail is one more launch of the same kernel from ``S[C]``, ending in the
   final state.

The backward runs the adjoint recursion of :mod:`.lti_pass` back in time the same way: the tail
first (from the final state's gradient), chunk maps ``(A^T)^L``, the carry from the last chunk to
the first, then every chunk from the gradient at its end, writing ``gx`` and its lane's
coefficient sums (float64); a row's sums over its chunks are added by ``torch.sum`` (a fixed order:
bit-identical run to run, no atomics). A cascade runs by groups of four sections as there, a
group's eight states one vector (``P`` is ``8 x 8``, held by the carry only: a chunk lane keeps the
same registers as a one-pass lane). ``reverse`` walks reversed views as there.

Overflow: one ``isfinite`` reduction over the carried states (a device sync a call, a group);
where ``A^L`` or a chunk's state is not finite (an unstable filter, a signal holding inf or NaN)
the call runs the one-pass kernels instead, whose sequential recursion stays finite wherever the
filter's output does. An unstable filter whose states stay finite runs chunked: the chunk maps
carry the same growth as the recursion, so the result is the recursion's up to rounding relative
to that growth.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import triton
import triton.language as tl

from ..base import check_knob
from . import lti_pass
from .launch import accumulation_type, launch
from .lti_pass import (
    BLOCK_R,
    pad4,
    sample,
    section,
    section_adjoint,
    sos4_start,
    sos_group,
    store4,
    store_sums,
    tdf2_start,
    tdf2_step,
    walk_signals,
)
from .plan import SCHEDULES, next_pow2

__all__ = [
    "lti_tdf2_chunk_kernel",
    "lti_sos4_chunk_kernel",
    "lti_tdf2_chunk_adjoint_kernel",
    "lti_sos4_chunk_adjoint_kernel",
    "lti_chunk_carry_kernel",
    "plan_lti",
    "tdf2",
    "tdf2_adjoint",
    "sos_cascade",
    "sos_cascade_adjoint",
    "TIME_PARALLEL_MIN_T",
]

# Untuned until a GPU run (bench/README.md): rows this long, fewer than ROWS_PER_SM an SM, run chunked.
TIME_PARALLEL_MIN_T = 1 << 14
ROWS_PER_SM = 32  # one-pass lanes an SM: below one warp an SM, each SM waits on one serial walk
MIN_CHUNK = 64


def plan_lti(
    R: int, T: int, *, sm_count: int = 132, schedule: Optional[str] = None, chunk_len: Optional[int] = None
) -> int:
    """The chunk length of the time-parallel schedule for ``R`` rows of ``T`` samples, or 0 for the
    one-pass kernels (pure).

    Chunked when the rows are few (``R < ROWS_PER_SM * sm_count``: one lane a row then leaves each SM
    a warp or less, latency-bound; with many more rows the one-pass kernels approach the memory
    bound, where the chunks' second read of the input costs) and long (``T >=
    TIME_PARALLEL_MIN_T``), in chunks of about ``sqrt(T)`` samples (a power of two, at least
    ``MIN_CHUNK``): the carry's walk over a row's chunks and a chunk's own walk then take about as
    many steps. Both thresholds are untuned until a GPU run (``bench/test_signal.py``'s CUDA rows
    and their ``-onepass`` twins). ``schedule`` (``"single"``:
    one pass; ``"three-phase"``: chunked) and ``chunk_len`` (any length >= 1; chunked) force a
    schedule (tests).

    Raises:
        ValueError: a knob out of range, naming it.
    """
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES} or None, got {schedule!r}")
    check_knob("chunk_len", chunk_len)
    if chunk_len is not None:
        if schedule == "single":
            raise ValueError("chunk_len only applies to the 'three-phase' schedule")
        return int(chunk_len)
    wanted = R < ROWS_PER_SM * sm_count and T >= TIME_PARALLEL_MIN_T
    if schedule == "single" or (schedule is None and not wanted):
        return 0
    return max(MIN_CHUNK, next_pow2(int(max(T, 1) ** 0.5)))


# --------------------------------------------------------------------------- kernels
@triton.jit
def _lanes(R, C, L, c0, t_base, NSLOT, BLOCK_R: tl.constexpr):
    """The program's lanes, chunk ``c`` of row ``row`` each: ``(lane, row, slot, t0, ok)``, ``slot``
    the chunk's place ``row * NSLOT + c0 + c`` in the per-chunk buffers, ``t0 = t_base + c * L`` its
    first sample in processing order."""
    lane = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    row, c = (lane // C).to(tl.int64), (lane % C).to(tl.int64)
    return lane, row, row * NSLOT + c0 + c, t_base + c * L, lane < R * C


@triton.heuristics({"STORE": lambda args: args["y_ptr"] is not None})
@triton.jit(do_not_specialize=["R", "C", "L", "c0", "t_base", "NSLOT"])
def lti_tdf2_chunk_kernel(
    x_ptr, b_ptr, a_ptr, z_ptr, y_ptr, sxr, sxt, syr, syt, scr, R, C, L, c0, t_base, NSLOT,
    BLOCK_R: tl.constexpr, CDT: tl.constexpr, STORE: tl.constexpr,
):  # fmt: skip
    """Chunks of ``L`` samples from ``t_base`` (processing order), ``C`` a row, of rows ``x`` (strides
    ``sxr, sxt``) through :func:`.lti_pass.lti_tdf2_pass_kernel`'s filter ``b``, ``a`` (row stride
    ``scr``) from the states ``z`` `(R, NSLOT, 4)` at slots ``c0 + c`` (overwritten with the chunks'
    end states); ``STORE``: the outputs to ``y`` (strides ``syr, syt``)."""
    lane, row, slot, t0, ok = _lanes(R, C, L, c0, t_base, NSLOT, BLOCK_R)
    b0, b1, b2, b3, b4, a1, a2, a3, a4, s0, s1, s2, s3 = tdf2_start(b_ptr, a_ptr, z_ptr, row * scr, slot * 4, ok, CDT)  # fmt: skip
    xs = x_ptr + row * sxr + t0 * sxt
    nxt = sample(xs, lane, 0, sxt, ok, L, CDT)
    for t in range(L):
        v, nxt = nxt, sample(xs, lane, t + 1, sxt, ok, L, CDT)
        o, s0, s1, s2, s3 = tdf2_step(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3)
        if STORE:
            tl.store(y_ptr + row * syr + (t0 + t) * syt, o, mask=ok)
    store4(z_ptr, slot * 4, s0, s1, s2, s3, ok)


@triton.heuristics({"STORE": lambda args: args["y_ptr"] is not None, "KEEP": lambda args: args["k_ptr"] is not None})
@triton.jit(do_not_specialize=["R", "C", "L", "c0", "t_base", "NSLOT", "skr"])
def lti_sos4_chunk_kernel(
    x_ptr, q_ptr, z_ptr, y_ptr, k_ptr, sxr, sxt, syr, syt, sqr, skr, skp, R, C, L, c0, t_base, NSLOT,
    BLOCK_R: tl.constexpr, CDT: tl.constexpr, STORE: tl.constexpr, KEEP: tl.constexpr,
):  # fmt: skip
    """:func:`lti_tdf2_chunk_kernel` for :func:`.lti_pass.lti_sos4_pass_kernel`'s four sections ``q``
    (row stride ``sqr``), states ``z`` `(R, NSLOT, 4, 2)`; ``KEEP``: the inputs of sections 1-3 to
    ``k`` `(3, R, skr)` (processing order, planes ``skp`` apart)."""
    lane, row, slot, t0, ok = _lanes(R, C, L, c0, t_base, NSLOT, BLOCK_R)
    p0, p1, p2, p4, p5, u0, u1, u2, u4, u5, v0, v1, v2, v4, v5, w0, w1, w2, w4, w5, s00, s01, s10, s11, s20, s21, s30, s31 = sos4_start(q_ptr, z_ptr, row * sqr, slot * 8, ok, CDT)  # fmt: skip
    xs = x_ptr + row * sxr + t0 * sxt
    if STORE:
        ys = y_ptr + row * syr + t0 * syt
    if KEEP:
        ks = k_ptr + row * skr + t0
    nxt = sample(xs, lane, 0, sxt, ok, L, CDT)
    for t in range(L):
        v, nxt = nxt, sample(xs, lane, t + 1, sxt, ok, L, CDT)
        h1, s00, s01 = section(p0, p1, p2, p4, p5, v, s00, s01)
        h2, s10, s11 = section(u0, u1, u2, u4, u5, h1, s10, s11)
        h3, s20, s21 = section(v0, v1, v2, v4, v5, h2, s20, s21)
        h, s30, s31 = section(w0, w1, w2, w4, w5, h3, s30, s31)
        if STORE:
            tl.store(ys + t * syt, h, mask=ok)
        if KEEP:
            tl.store(ks + t, h1, mask=ok)
            tl.store(ks + skp + t, h2, mask=ok)
            tl.store(ks + 2 * skp + t, h3, mask=ok)
    store4(z_ptr, slot * 8, s00, s01, s10, s11, ok)
    store4(z_ptr, slot * 8 + 4, s20, s21, s30, s31, ok)


@triton.heuristics({"FULL": lambda args: args["gx_ptr"] is not None})
@triton.jit(do_not_specialize=["R", "C", "L", "c0", "t_base", "NSLOT"])
def lti_tdf2_chunk_adjoint_kernel(
    x_ptr, y_ptr, g_ptr, b_ptr, a_ptr, z_ptr, gx_ptr, gb_ptr, ga_ptr, sxr, sxt, syr, syt, sgr, sgt, sgxr, sgxt, scr,
    R, C, L, c0, t_base, NSLOT, BLOCK_R: tl.constexpr, CDT: tl.constexpr, FULL: tl.constexpr,
):  # fmt: skip
    """The adjoint of :func:`lti_tdf2_chunk_kernel`, every chunk from its last sample to its first:
    ``g`` (strides ``sgr, sgt``) the output gradient, ``z`` `(R, NSLOT, 4)` the state gradients at
    the chunks' ends (overwritten with those at their starts); ``FULL``: with the forward's input
    ``x`` and output ``y``, the input gradient to ``gx`` and every lane's coefficient sums to ``gb``,
    ``ga`` `(R, NSLOT, 5)` (float64), as :func:`.lti_pass.lti_tdf2_adjoint_kernel`."""
    lane, row, slot, t0, ok = _lanes(R, C, L, c0, t_base, NSLOT, BLOCK_R)
    b0, b1, b2, b3, b4, a1, a2, a3, a4, l0, l1, l2, l3 = tdf2_start(b_ptr, a_ptr, z_ptr, row * scr, slot * 4, ok, CDT)  # fmt: skip
    k = tl.zeros([BLOCK_R], dtype=tl.float64)
    kb0, kb1, kb2, kb3, kb4, ka1, ka2, ka3, ka4 = k, k, k, k, k, k, k, k, k
    gs = g_ptr + row * sgr + t0 * sgt
    gv = sample(gs, lane, L - 1, sgt, ok, L, CDT)
    if FULL:
        xs, ys = x_ptr + row * sxr + t0 * sxt, y_ptr + row * syr + t0 * syt
        xv, yv = sample(xs, lane, L - 1, sxt, ok, L, CDT), sample(ys, lane, L - 1, syt, ok, L, CDT)
    for i in range(L):
        t = L - 1 - i
        on = ok & (lane * 0 + t > 0)  # the next (earlier) sample's loads, ahead of this step's store
        e, gv = gv - a4 * l3 - a3 * l2 - a2 * l1 - a1 * l0, sample(gs, lane, t - 1, sgt, on, L, CDT)
        if FULL:
            xd, yd = xv.to(tl.float64), yv.to(tl.float64)
            xv, yv = sample(xs, lane, t - 1, sxt, on, L, CDT), sample(ys, lane, t - 1, syt, on, L, CDT)
            gx = b4 * l3 + b3 * l2 + b2 * l1 + b1 * l0 + b0 * e
            tl.store(gx_ptr + row * sgxr + (t0 + t) * sgxt, gx, mask=ok)
            e0, e1, e2, e3 = l0.to(tl.float64), l1.to(tl.float64), l2.to(tl.float64), l3.to(tl.float64)
            kb0, kb1, kb2, kb3, kb4 = kb0 + e.to(tl.float64) * xd, kb1 + e0 * xd, kb2 + e1 * xd, kb3 + e2 * xd, kb4 + e3 * xd  # fmt: skip
            ka1, ka2, ka3, ka4 = ka1 - e0 * yd, ka2 - e1 * yd, ka3 - e2 * yd, ka4 - e3 * yd
        l0, l1, l2, l3 = e, l0, l1, l2
    store4(z_ptr, slot * 4, l0, l1, l2, l3, ok)
    if FULL:
        store4(gb_ptr, slot * 5, kb0, kb1, kb2, kb3, ok)
        tl.store(gb_ptr + slot * 5 + 4, kb4, mask=ok)
        store4(ga_ptr, slot * 5 + 1, ka1, ka2, ka3, ka4, ok)


@triton.jit
def _section_lags(b0, b1, b2, a1, a2, g, l0, l1):
    """One section's adjoint without its sums: ``(gradient of its input, l0, l1)``."""
    e = g - a2 * l1 - a1 * l0
    return b2 * l1 + b1 * l0 + b0 * e, e, l0


@triton.heuristics({"FULL": lambda args: args["gx_ptr"] is not None})
@triton.jit(do_not_specialize=["R", "C", "L", "c0", "t_base", "NSLOT", "skr"])
def lti_sos4_chunk_adjoint_kernel(
    x_ptr, k_ptr, y_ptr, g_ptr, q_ptr, z_ptr, gx_ptr, gq_ptr, sxr, sxt, syr, syt, sgr, sgt, sgxr, sgxt, sqr, skr, skp,
    R, C, L, c0, t_base, NSLOT, BLOCK_R: tl.constexpr, CDT: tl.constexpr, FULL: tl.constexpr,
):  # fmt: skip
    """:func:`lti_tdf2_chunk_adjoint_kernel` for :func:`lti_sos4_chunk_kernel`: ``z`` `(R, NSLOT, 4,
    2)`; ``FULL``: with ``x``, the kept inputs ``k`` `(3, R, skr)` (planes ``skp`` apart) and ``y``,
    ``gx`` and the lanes' sums ``gq`` `(R, NSLOT, 4, 6)` (float64, column 3 untouched)."""
    lane, row, slot, t0, ok = _lanes(R, C, L, c0, t_base, NSLOT, BLOCK_R)
    p0, p1, p2, p4, p5, u0, u1, u2, u4, u5, v0, v1, v2, v4, v5, w0, w1, w2, w4, w5, l00, l01, l10, l11, l20, l21, l30, l31 = sos4_start(q_ptr, z_ptr, row * sqr, slot * 8, ok, CDT)  # fmt: skip
    k = tl.zeros([BLOCK_R], dtype=tl.float64)
    k00, k01, k02, k03, k04, k10, k11, k12, k13, k14 = k, k, k, k, k, k, k, k, k, k
    k20, k21, k22, k23, k24, k30, k31, k32, k33, k34 = k, k, k, k, k, k, k, k, k, k
    gs, ks = g_ptr + row * sgr + t0 * sgt, row * skr + t0
    for i in range(L):
        t = L - 1 - i
        d = sample(gs, lane, t, sgt, ok, L, CDT)
        if FULL:
            h1 = sample(k_ptr + ks, lane, t, 1, ok, L, CDT)
            h2 = sample(k_ptr + skp + ks, lane, t, 1, ok, L, CDT)
            h3 = sample(k_ptr + 2 * skp + ks, lane, t, 1, ok, L, CDT)
            o = sample(y_ptr + row * syr + t0 * syt, lane, t, syt, ok, L, CDT)
            xv = sample(x_ptr + row * sxr + t0 * sxt, lane, t, sxt, ok, L, CDT)
            d, l30, l31, k30, k31, k32, k33, k34 = section_adjoint(w0, w1, w2, w4, w5, d, h3, o, l30, l31, k30, k31, k32, k33, k34)  # fmt: skip
            d, l20, l21, k20, k21, k22, k23, k24 = section_adjoint(v0, v1, v2, v4, v5, d, h2, h3, l20, l21, k20, k21, k22, k23, k24)  # fmt: skip
            d, l10, l11, k10, k11, k12, k13, k14 = section_adjoint(u0, u1, u2, u4, u5, d, h1, h2, l10, l11, k10, k11, k12, k13, k14)  # fmt: skip
            d, l00, l01, k00, k01, k02, k03, k04 = section_adjoint(p0, p1, p2, p4, p5, d, xv, h1, l00, l01, k00, k01, k02, k03, k04)  # fmt: skip
            tl.store(gx_ptr + row * sgxr + (t0 + t) * sgxt, d, mask=ok)
        else:
            d, l30, l31 = _section_lags(w0, w1, w2, w4, w5, d, l30, l31)
            d, l20, l21 = _section_lags(v0, v1, v2, v4, v5, d, l20, l21)
            d, l10, l11 = _section_lags(u0, u1, u2, u4, u5, d, l10, l11)
            d, l00, l01 = _section_lags(p0, p1, p2, p4, p5, d, l00, l01)
    store4(z_ptr, slot * 8, l00, l01, l10, l11, ok)
    store4(z_ptr, slot * 8 + 4, l20, l21, l30, l31, ok)
    if FULL:
        store_sums(gq_ptr, slot * 24, k00, k01, k02, k03, k04, ok)
        store_sums(gq_ptr, slot * 24 + 6, k10, k11, k12, k13, k14, ok)
        store_sums(gq_ptr, slot * 24 + 12, k20, k21, k22, k23, k24, ok)
        store_sums(gq_ptr, slot * 24 + 18, k30, k31, k32, k33, k34, ok)


@triton.jit(do_not_specialize=["C"])
def lti_chunk_carry_kernel(p_ptr, h_ptr, s_ptr, spr, C, NS: tl.constexpr, BACK: tl.constexpr):
    """A row a program: the states ``s`` `(R, C + 1, NS)` at the chunk boundaries from the chunks'
    zero-start end states ``h`` `(R, C + 1, NS)` (slots ``0 .. C-1``) and the chunk map ``P`` `(1 or
    R, NS, NS)` (row stride ``spr``): ``s[c+1] = P s[c] + h[c]`` from ``s[0]``; ``BACK`` (a walk back
    in time, the adjoint): ``s[c] = P s[c+1] + h[c]`` from ``s[C]``."""
    row = tl.program_id(0).to(tl.int64)
    n = tl.arange(0, NS)
    base = row * (C + 1) * NS
    p = tl.load(p_ptr + row * spr + n[:, None] * NS + n[None, :])
    if BACK:  # chunks from the last; chunk c's result to slot c
        c, step, out = C - 1, -1, 0
        s = tl.load(s_ptr + base + C * NS + n)
    else:  # from the first; to slot c + 1
        c, step, out = 0, 1, 1
        s = tl.load(s_ptr + base + n)
    h = tl.load(h_ptr + base + c * NS + n)
    for k in range(C):
        nxt = tl.load(h_ptr + base + (c + step) * NS + n, mask=n * 0 + k + 1 < C)  # ahead of this step's store
        s = tl.sum(p * s[None, :], axis=1) + h
        tl.store(s_ptr + base + (c + out) * NS + n, s)
        c, h = c + step, nxt


# --------------------------------------------------------------------------- host
class _Walk:
    """The launches of one chunk kernel (``walked``: the name of the signal it walks, ``x`` or ``g``)
    over ``R`` rows with the arguments ``full`` (second phase) or ``lean`` (first phase: outputs
    ``None``) and ``common``."""

    def __init__(self, kernel: Any, R: int, walked: str, full: Dict[str, Any], lean: Dict[str, Any], **common: Any):
        self.kernel, self.R, self.walked, self.full, self.lean, self.common = kernel, R, walked, full, lean, common

    def run(self, z: torch.Tensor, c0: int, C: int, L: int, t_base: int, full: bool) -> None:
        """``C`` chunks a row of ``L`` samples from ``t_base``, states ``z`` `(R, NSLOT, ...)` at slots
        ``c0 + c``."""
        self._launch(self.R, z, c0, C, L, t_base, {**self.common, **(self.full if full else self.lean)})

    def step_matrix(self, F: int, NS: int, like: torch.Tensor) -> torch.Tensor:
        """The walk's one-step map `(F, NS, NS)` for the ``F`` filter rows, in ``like``'s dtype: the
        first phase on one zero sample from every unit state (chunk ``j`` of row ``f`` from state
        ``j``, its end state the map's column ``j``): the kernel's own recursion, not a second copy."""
        z = torch.eye(NS, dtype=like.dtype, device=like.device).repeat(F, 1, 1)
        zero = {f"{self.walked}_ptr": like.new_zeros(F, NS), f"s{self.walked}r": NS, f"s{self.walked}t": 1}
        args = {**self.common, **self.lean}
        self._launch(F, z, 0, NS, 1, 0, {k: zero.get(k, v) for k, v in args.items()})
        return z.transpose(1, 2)

    def _launch(self, R: int, z: torch.Tensor, c0: int, C: int, L: int, t_base: int, args: Dict[str, Any]) -> None:
        if R * C:
            launch(
                self.kernel, (triton.cdiv(R * C, BLOCK_R),), **args, z_ptr=z, R=R, C=C, L=L, c0=c0, t_base=t_base,
                NSLOT=z.stride(0) // z.stride(1), BLOCK_R=BLOCK_R, num_warps=1,
            )  # fmt: skip


def _carry(P: torch.Tensor, h: torch.Tensor, S: torch.Tensor, back: bool) -> bool:
    """The carry over ``S`` `(R, C + 1, NS)`; whether every carried state is finite."""
    R, C1, NS = S.shape
    if R and C1 > 1:
        spr = 0 if P.shape[0] == 1 else NS * NS
        launch(lti_chunk_carry_kernel, (R,), p_ptr=P, h_ptr=h, s_ptr=S, spr=spr, C=C1 - 1, NS=NS, BACK=back, num_warps=1)  # fmt: skip
    return bool(torch.isfinite(S).all())


def _chain(walk: _Walk, F: int, z: torch.Tensor, T: int, L: int, back: bool) -> Optional[torch.Tensor]:
    """The three phases of a chunked walk over rows of ``T`` samples (``back``: the adjoint, from the
    last sample) from the states ``z`` `(R, NS)` (contiguous; the gradient of the final states when
    ``back``) through ``F`` filters: the final states (the initial states' gradient), ``None`` where
    the carry overflowed."""
    (R, NS), (C, tail) = z.shape, divmod(T, L)
    S, h = z.new_zeros(R, C + 1, NS), z.new_zeros(R, C + 1, NS)
    S[:, C if back else 0] = z
    if back and tail:  # the tail first, back from the final states' gradient
        walk.run(S, C, 1, tail, C * L, True)
    walk.run(h, 0, C, L, 0, False)
    if not _carry(torch.linalg.matrix_power(walk.step_matrix(F, NS, z), L).contiguous(), h, S, back):
        return None
    walk.run(S[:, 1:] if back else S, 0, C, L, 0, True)  # lane c overwrites its own start slot: unused
    if tail and not back:
        walk.run(S, C, 1, tail, C * L, True)
    return S[:, 0] if back else S[:, C]


def tdf2(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, z: torch.Tensor, chunk_len: int, reverse: bool = False):
    """:func:`.lti_pass.tdf2` in chunks of ``chunk_len`` samples (the one-pass kernel where the
    carry overflows; ``chunk_len = 0``: that kernel)."""
    if not chunk_len:
        return lti_pass.tdf2(b, a, x, z, reverse)
    (R, T), N = x.shape, z.shape[1]
    b4, a4, z4 = pad4(N, b, a, z)
    y = torch.empty(R, T, dtype=x.dtype, device=x.device)
    io = walk_signals(x=(x, reverse), y=(y, reverse))
    lean = dict(y_ptr=None, syr=0, syt=0)
    walk = _Walk(lti_tdf2_chunk_kernel, R, "x", io, dict(io, **lean), b_ptr=b4, a_ptr=a4, scr=0 if b4.shape[0] == 1 else 5, CDT=accumulation_type(x.dtype))  # fmt: skip
    zf = _chain(walk, b4.shape[0], z4, T, chunk_len, back=False)
    if zf is None:
        return lti_pass.tdf2(b, a, x, z, reverse)
    z.copy_(zf[:, :N])
    return y


def tdf2_adjoint(
    b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, y: torch.Tensor, g: torch.Tensor, z: torch.Tensor,
    chunk_len: int, reverse: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:  # fmt: skip
    """:func:`.lti_pass.tdf2_adjoint` in chunks of ``chunk_len`` samples (the one-pass kernel where the
    carry overflows; ``chunk_len = 0``: that kernel)."""
    if not chunk_len:
        return lti_pass.tdf2_adjoint(b, a, x, y, g, z, reverse)
    (R, T), N = x.shape, z.shape[1]
    b4, a4, z4 = pad4(N, b, a, z)
    gx = torch.empty(R, T, dtype=x.dtype, device=x.device)
    gb, ga = (torch.zeros(R, T // chunk_len + 1, 5, dtype=torch.float64, device=x.device) for _ in range(2))
    full = dict(walk_signals(x=(x, reverse), y=(y, reverse), gx=(gx, reverse)), gb_ptr=gb, ga_ptr=ga)
    lean = {key: None if key.endswith("ptr") else 0 for key in full}
    common = dict(
        walk_signals(g=(g, reverse)),
        b_ptr=b4,
        a_ptr=a4,
        scr=0 if b4.shape[0] == 1 else 5,
        CDT=accumulation_type(x.dtype),
    )
    gz = _chain(_Walk(lti_tdf2_chunk_adjoint_kernel, R, "g", full, lean, **common), b4.shape[0], z4, T, chunk_len, True)  # fmt: skip
    if gz is None:
        return lti_pass.tdf2_adjoint(b, a, x, y, g, z, reverse)
    z.copy_(gz[:, :N])
    return gx, gb.sum(1)[:, : N + 1], ga.sum(1)[:, : N + 1]


def sos_cascade(
    sos: torch.Tensor, x: torch.Tensor, z: torch.Tensor, chunk_len: int, keep: Optional[torch.Tensor] = None,
    reverse: bool = False,
) -> torch.Tensor:  # fmt: skip
    """:func:`.lti_pass.sos_cascade` in chunks of ``chunk_len`` samples, a group of four sections at
    a time (the one-pass kernels where a carry overflows; ``chunk_len = 0``: those kernels)."""
    if not chunk_len:
        return lti_pass.sos_cascade(sos, x, z, keep, reverse)
    (R, T), n = x.shape, sos.shape[1]
    zf = torch.empty_like(z)
    v, rv = x, reverse  # a group's input and whether it is walked back (x; then processing order)
    for k in range(0, n, 4):
        m, q, zk = sos_group(sos, z, k)
        last = k + 4 >= n
        out = torch.empty(R, T, dtype=x.dtype, device=x.device) if last or keep is None else keep[k + 3]
        io = walk_signals(x=(v, rv), y=(out, reverse and last))
        full = dict(io, k_ptr=None if keep is None else keep[k : k + 3])
        walk = _Walk(
            lti_sos4_chunk_kernel, R, "x", full, dict(io, y_ptr=None, syr=0, syt=0, k_ptr=None),
            q_ptr=q, sqr=0 if q.shape[0] == 1 else 24, skr=T, skp=R * T, CDT=accumulation_type(x.dtype),
        )  # fmt: skip
        end = _chain(walk, q.shape[0], zk.view(R, 8), T, chunk_len, back=False)
        if end is None:
            return lti_pass.sos_cascade(sos, x, z, keep, reverse)
        zf[:, k : k + m] = end.view(R, 4, 2)[:, :m]
        v, rv = out, reverse and last
    z.copy_(zf)
    return v


def sos_cascade_adjoint(
    sos: torch.Tensor, x: torch.Tensor, keep: torch.Tensor, y: torch.Tensor, g: torch.Tensor, z: torch.Tensor,
    chunk_len: int, reverse: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """:func:`.lti_pass.sos_cascade_adjoint` in chunks of ``chunk_len`` samples (the one-pass kernels
    where a carry overflows; ``chunk_len = 0``: those kernels)."""
    if not chunk_len:
        return lti_pass.sos_cascade_adjoint(sos, x, keep, y, g, z, reverse)
    (R, T), n = x.shape, sos.shape[1]
    gsos = torch.zeros(R, n, 6, dtype=torch.float64, device=x.device)
    gz, gy = torch.empty_like(z), g
    for k in reversed(range(0, n, 4)):
        m, q, zk = sos_group(sos, z, k)
        last = k + 4 >= n
        xin, yout = (x, reverse) if k == 0 else (keep[k - 1], False), (y, reverse) if last else (keep[k + 3], False)
        gx = torch.empty(R, T, dtype=x.dtype, device=x.device)
        gq = torch.zeros(R, T // chunk_len + 1, 4, 6, dtype=torch.float64, device=x.device)
        full = dict(walk_signals(x=xin, y=yout, gx=(gx, reverse and k == 0)), k_ptr=keep[k : k + 3], gq_ptr=gq)
        lean = {key: None if key.endswith("ptr") else 0 for key in full}
        walk = _Walk(
            lti_sos4_chunk_adjoint_kernel, R, "g", full, lean, **walk_signals(g=(g, reverse and last)), q_ptr=q,
            sqr=0 if q.shape[0] == 1 else 24, skr=T, skp=R * T, CDT=accumulation_type(x.dtype),
        )  # fmt: skip
        start = _chain(walk, q.shape[0], zk.view(R, 8), T, chunk_len, back=True)
        if start is None:
            return lti_pass.sos_cascade_adjoint(sos, x, keep, y, gy, z, reverse)
        gz[:, k : k + m], gsos[:, k : k + m] = start.view(R, 4, 2)[:, :m], gq.sum(1)[:, :m]
        g = gx
    z.copy_(gz)
    return g, gsos
