"""Triton kernels of the delay-line effects (:mod:`tritonlpc.audio.delay`); same math and
launcher contract as :mod:`tritonlpc.backends._numba_delay`.

A feedback read reaches at least ``floor(d) >= 1`` samples back, so a block of samples whose
reads all land before the block depends only on the past and runs in parallel, one lane a
sample:

* **Feedback comb, forward**: a program a row walks time in blocks. At block start ``t0`` the
  lanes ``i < BLOCK`` load their delays and the block is cut at the first lane whose read
  reaches into the block (``floor(d[t0 + i]) < i + 1``): as long as the delay allows, up to
  ``BLOCK`` samples, at least one. Reads are gathers from ``y`` already written (or ``zi``).
* **Feedback comb, backward**: the same walk in reverse, a program a row, in blocks of up to
  ``COMB_BWD_BLOCK`` samples, cut where every adjoint ``acc[n]`` in the block ``[t0, t1)`` is
  final (no scatter target inside it). Each sample's adjoint goes to the two samples it read,
  and two lanes may hit one sample when the delay varies, so the block's scatter is a gather
  (:func:`_gather_block`): for each lane's target, a fixed-order ``tl.sum`` over a lanes x
  lanes match matrix adds every contribution to it, and only the first lane hitting a target
  writes it, by a plain read-modify-write.
* **Feed-forward comb / fractional delay**: fully parallel both ways, a program a
  ``(row, block)``. The backward gathers: a program owns a block of targets (``dzi`` then
  ``dx``) and visits, in order, every source sample whose reads may land there, bounded by the
  row's range of ``floor(delay)`` (``kmin``, ``kmax``, computed on the device: no
  synchronisation). Delays that jump across the whole row make every program visit the whole
  row (correct, slower).
* **FDN**: a program a row, lanes over ``(time, line)``; blocks of ``S = min(delays)``
  samples (capped at ``BLOCK``) are parallel. In the backward each line's scatter targets in a
  block are distinct, so it is a plain read-modify-write.

No kernel uses atomics: gradients are bitwise equal run to run.

**Small batches.** The recursions (the feedback comb both ways, the FDN both ways) run one
program a row (``B`` programs of four warps), each walking the whole row in blocks: at
``B = 1`` one streaming multiprocessor works and the rest of the GPU idles. Their time blocks
cannot run in parallel within a row (a block needs the one before it, forward and in reverse),
and no chunked (parallel-prefix) scheme across time blocks is implemented; batch rows to fill a
GPU. The feed-forward comb and the fractional delay (hence ``chorus``, whose voices also become
rows, and the flanger's wet read) spread each row over programs.

Within a program, a block's stores are made visible to the next block's loads by a barrier.
"""

from __future__ import annotations

from typing import Any, Tuple

import torch
import triton
import triton.language as tl

from .._delay_operands import CombOperands, FdnOperands
from .launch import launch

__all__ = ["comb_forward", "comb_backward", "fdn_forward", "fdn_backward", "COMB_BLOCK", "COMB_BWD_BLOCK", "fdn_block"]

COMB_BLOCK = 128
#: lanes of a backward block: the deterministic scatter compares every pair of lanes
#: (``BLOCK x BLOCK`` matrices), so it is narrower than the forward's to stay spill-free.
COMB_BWD_BLOCK = 64


def fdn_block(N: int) -> int:
    """Time lanes of an FDN program: ``BLOCK * NP * NP <= 2048`` (``NP``: ``N`` to a power of 2;
    more spills the backward on sm_90)."""
    NP = triton.next_power_of_2(N)
    return max(1, min(64, 2048 // (NP * NP)))


def _launch(kernel: Any, grid: Tuple[int, ...], *args: Any, **constexprs: Any) -> None:
    """Launch ``kernel`` with its arguments by name through the Triton backend's one launch point
    (so :func:`tritonlpc.backends.triton.launch.recording` records it, as ``bench/sm90_delay.py`` does)."""
    launch(kernel, grid, **dict(zip(kernel.arg_names, args)), **constexprs)


# --------------------------------------------------------------------------- comb
@triton.jit
def _read(v_ptr, zi_ptr, row_v, row_z, L, szt, j, act):
    """``v[j]`` (``j >= 0``), ``zi[L + j]`` (``-L <= j < 0``), else 0; lanes ``act`` only."""
    here = tl.load(v_ptr + row_v + j, mask=act & (j >= 0), other=0.0)
    past = tl.load(zi_ptr + row_z + (L + j) * szt, mask=act & (j < 0) & (j >= -L), other=0.0)
    return tl.where(j >= 0, here, past)


@triton.jit
def _delay_split(d_ptr, row_d, sdt, n, act, dmin, far):
    """Loads ``d[n]``; returns (clamped d, k = floor, f, is_nan, clamped below)."""
    d = tl.load(d_ptr + row_d + n * sdt, mask=act, other=dmin)
    nan = d != d
    low = d < dmin
    dc = tl.where(low | nan, dmin, d)
    dc = tl.minimum(dc, far)
    k = tl.floor(dc)
    return dc, k.to(tl.int64), dc - k, nan, low


@triton.jit(do_not_specialize=["T", "L"])
def _comb_fwd_kernel(
    x_ptr, v_ptr, d_ptr, g_ptr, zi_ptr, y_ptr, T, L,
    sxb, sxt, sdb, sdt, sgb, sgt, szb, szt, c, dmin,
    FEEDBACK: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    b = tl.program_id(0).to(tl.int64)
    i = tl.arange(0, BLOCK)
    far = (T + L + 1).to(tl.float32)
    row_v = b * T  # v is y (feedback) or a contiguous x
    t0 = 0 if FEEDBACK else tl.program_id(1) * BLOCK
    t_end = T if FEEDBACK else t0 + 1
    while t0 < t_end:
        n = t0 + i
        inb = n < T
        dc, k, f, nan, _ = _delay_split(d_ptr, b * sdb, sdt, n, inb, dmin, far)
        if FEEDBACK:  # the block ends at the first lane whose read reaches into it
            s = tl.min(tl.where((k >= i + 1) | ~inb, BLOCK, i))
        else:
            s = BLOCK
        act = inb & (i < s)
        j = n - k
        v0 = _read(v_ptr, zi_ptr, row_v, b * szb, L, szt, j, act & (dc < far))
        v1 = _read(v_ptr, zi_ptr, row_v, b * szb, L, szt, j - 1, act & (dc < far))
        x = tl.load(x_ptr + b * sxb + n * sxt, mask=act, other=0.0)
        g = tl.load(g_ptr + b * sgb + n * sgt, mask=act, other=0.0)
        y = c * x + g * ((1.0 - f) * v0 + f * v1)
        y = tl.where(nan, float("nan"), y)
        tl.store(y_ptr + row_v + n, y, mask=act)
        if FEEDBACK:
            tl.debug_barrier()
        t0 += s


@triton.jit
def _gather_block(j, a, c, live, i):
    """Deterministic scatter of one block: lane ``p`` adds ``a[p]`` to sample ``j[p]`` and
    ``c[p]`` to ``j[p] - 1``. Returns, for each lane's two targets, the total every live lane
    adds there (``tot0`` at ``j``, ``tot1`` at ``j - 1``; fixed-order ``tl.sum`` over a
    lanes x lanes match matrix) and whether the lane owns the target (the first entry, in the
    order ``(lane, side)``, that hits it), so each target is written once, by a plain
    read-modify-write."""
    D = j[None, :] - j[:, None]  # D[p, q] = j[q] - j[p]
    lq = live[None, :]
    e0 = (D == 0) & lq
    ep = (D == 1) & lq  # lane q's second read j[q] - 1 hits j[p]
    em = (D == -1) & lq  # lane q's first read hits j[p] - 1
    tot0 = tl.sum(tl.where(e0, a[None, :], 0.0) + tl.where(ep, c[None, :], 0.0), 1)
    tot1 = tl.sum(tl.where(em, a[None, :], 0.0) + tl.where(e0, c[None, :], 0.0), 1)
    before = i[None, :] < i[:, None]
    dup0 = tl.max((before & (e0 | ep)).to(tl.int32), 1)
    dup1 = tl.max((before & (e0 | em)).to(tl.int32), 1)
    return tot0, tot1, live & (dup0 == 0), live & (dup1 == 0)


@triton.jit(do_not_specialize=["T", "L"])
def _comb_bwd_kernel(
    u_ptr, acc_ptr, v_ptr, d_ptr, g_ptr, zi_ptr, dd_ptr, dg_ptr, dzi_ptr, T, L,
    sdb, sdt, sgb, sgt, szb, szt, dmin,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """Feedback comb backward: a program a row walks it in reverse (``u`` is ``acc``)."""
    b = tl.program_id(0).to(tl.int64)
    i = tl.arange(0, BLOCK)
    far = (T + L + 1).to(tl.float32)
    row = b * T  # u, acc, v, dd, dg: contiguous (B, T)
    t1 = T
    while t1 > 0:
        n = t1 - 1 - i
        ok = n >= 0
        dc, k, f, nan, low = _delay_split(d_ptr, b * sdb, sdt, n, ok, dmin, far)
        # start the block after every scatter target of its lanes: its adjoints are final
        t0 = tl.maximum(tl.maximum(t1 - BLOCK, 0), tl.max(tl.where(ok, n - k + 1, 0)).to(tl.int32))
        act = ok & (n >= t0)
        live = act & ~nan & (dc < far)
        u = tl.load(u_ptr + row + n, mask=act, other=0.0)
        j = n - k
        v0 = _read(v_ptr, zi_ptr, row, b * szb, L, szt, j, live)
        v1 = _read(v_ptr, zi_ptr, row, b * szb, L, szt, j - 1, live)
        g = tl.load(g_ptr + b * sgb + n * sgt, mask=act, other=0.0)
        dg = tl.where(nan, float("nan"), u * ((1.0 - f) * v0 + f * v1))
        dd = tl.where(nan, float("nan"), tl.where(low, 0.0, u * g * (v1 - v0)))
        tl.store(dg_ptr + row + n, dg, mask=act)
        tl.store(dd_ptr + row + n, dd, mask=act)
        w = u * g
        a = tl.where(live, w * (1.0 - f), 0.0)
        c = tl.where(live, w * f, 0.0)
        tot0, tot1, own0, own1 = _gather_block(j.to(tl.int32), a, c, live, i)
        for side in tl.static_range(2):
            js = j - side
            tot = tot0 if side == 0 else tot1
            own = own0 if side == 0 else own1
            here = own & (js >= 0)
            old = tl.load(acc_ptr + row + js, mask=here, other=0.0)
            tl.store(acc_ptr + row + js, old + tot, mask=here)
            past = own & (js < 0) & (js >= -L)
            zold = tl.load(dzi_ptr + b * L + L + js, mask=past, other=0.0)
            tl.store(dzi_ptr + b * L + L + js, zold + tot, mask=past)
        tl.debug_barrier()
        t1 = t0


@triton.jit(do_not_specialize=["T", "L"])
def _comb_ff_bwd_kernel(
    gy_ptr, dx_ptr, v_ptr, d_ptr, g_ptr, zi_ptr, dd_ptr, dg_ptr, dzi_ptr, kmin_ptr, kmax_ptr, T, L,
    sdb, sdt, sgb, sgt, szb, szt, dmin,
    BLOCK: tl.constexpr,
):  # fmt: skip
    """Feed-forward comb / fractional delay backward, a program a ``(row, block)``: ``dd, dg`` of
    the samples ``p BLOCK + i``, and the gather into the targets ``m = p BLOCK - L + i`` (``dzi``
    for ``m < 0``, else ``dx``): every sample ``n`` whose reads ``n - k[n]`` or ``n - k[n] - 1``
    may land in the block (``k`` within the row's ``[kmin, kmax]``) is visited in source blocks
    of ``BLOCK``, in order, each summed with a fixed-order ``tl.sum`` over a targets x sources
    match matrix. Each program owns its targets: plain stores, no atomics."""
    b = tl.program_id(0).to(tl.int64)
    p = tl.program_id(1)
    i = tl.arange(0, BLOCK)
    far = (T + L + 1).to(tl.float32)
    row = b * T  # gy, dx, v, dd, dg: contiguous (B, T)
    n = p * BLOCK + i
    act = n < T
    dc, k, f, nan, low = _delay_split(d_ptr, b * sdb, sdt, n, act, dmin, far)
    live = act & ~nan & (dc < far)
    u = tl.load(gy_ptr + row + n, mask=act, other=0.0)
    v0 = _read(v_ptr, zi_ptr, row, b * szb, L, szt, n - k, live)
    v1 = _read(v_ptr, zi_ptr, row, b * szb, L, szt, n - k - 1, live)
    g = tl.load(g_ptr + b * sgb + n * sgt, mask=act, other=0.0)
    tl.store(dg_ptr + row + n, tl.where(nan, float("nan"), u * ((1.0 - f) * v0 + f * v1)), mask=act)
    tl.store(dd_ptr + row + n, tl.where(nan, float("nan"), tl.where(low, 0.0, u * g * (v1 - v0))), mask=act)
    m0 = p * BLOCK - L
    m = m0 + i
    s = tl.maximum(m0 + tl.load(kmin_ptr + b), 0)
    s_end = tl.minimum(m0 + BLOCK + 1 + tl.load(kmax_ptr + b), T)
    tot = tl.zeros_like(u)
    while s < s_end:
        ns = s + i
        oks = ns < s_end
        dcs, ks, fs, nans, _ = _delay_split(d_ptr, b * sdb, sdt, ns, oks, dmin, far)
        lives = (oks & ~nans & (dcs < far))[None, :]
        ws = tl.load(gy_ptr + row + ns, mask=oks, other=0.0) * tl.load(g_ptr + b * sgb + ns * sgt, mask=oks, other=0.0)
        D = (ns - ks - m0).to(tl.int32)[None, :] - i[:, None]  # source's first read - target
        hit0 = tl.where(lives & (D == 0), (ws * (1.0 - fs))[None, :], 0.0)
        hit1 = tl.where(lives & (D == 1), (ws * fs)[None, :], 0.0)
        tot += tl.sum(hit0 + hit1, 1)
        s += BLOCK
    here = (m >= 0) & (m < T)
    old = tl.load(dx_ptr + row + m, mask=here, other=0.0)
    tl.store(dx_ptr + row + m, old + tot, mask=here)
    tl.store(dzi_ptr + b * L + L + m, tot, mask=m < 0)


def comb_forward(x: torch.Tensor, op: CombOperands) -> torch.Tensor:
    """``y (B,T)``; see :func:`tritonlpc.backends._numba_delay.comb_forward`."""
    d, g, zi, c, feedback, dmin = op
    B, T = x.shape
    y = torch.empty((B, T), dtype=x.dtype, device=x.device)
    v = y if feedback else x.contiguous()
    grid = (B,) if feedback else (B, triton.cdiv(T, COMB_BLOCK))
    if B and T:
        _launch(
            _comb_fwd_kernel, grid,
            x, v, d, g, zi, y, T, zi.shape[1], x.stride(0), x.stride(1), d.stride(0), d.stride(1),
            g.stride(0), g.stride(1), zi.stride(0), zi.stride(1), float(c), float(dmin),
            FEEDBACK=feedback, BLOCK=COMB_BLOCK,
        )  # fmt: skip
    return y


def comb_backward(
    gy: torch.Tensor, v: torch.Tensor, op: CombOperands
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(dx, dd, dg, dzi)``; see :func:`tritonlpc.backends._numba_delay.comb_backward`."""
    d, g, zi, c, feedback, dmin = op
    B, T = v.shape
    dx = gy.clone(memory_format=torch.contiguous_format) if feedback else c * gy.contiguous()
    u = dx if feedback else gy.contiguous()
    dd = torch.empty((B, T), dtype=v.dtype, device=v.device)
    dg = torch.empty_like(dd)
    dzi = torch.zeros(zi.shape, dtype=v.dtype, device=v.device)
    L = zi.shape[1]
    strides = (d.stride(0), d.stride(1), g.stride(0), g.stride(1), zi.stride(0), zi.stride(1), float(dmin))
    if B and T and feedback:
        _launch(
            _comb_bwd_kernel, (B,),
            u, dx, v.contiguous(), d, g, zi, dd, dg, dzi, T, L, *strides, BLOCK=COMB_BWD_BLOCK,
        )  # fmt: skip
    elif B and T:
        # each row's range of read offsets k = floor(delay) (as the kernel clamps it), on the device
        kk = torch.nan_to_num(d, nan=dmin).clamp(dmin, T + L).floor()
        kmin, kmax = (t.to(torch.int64).contiguous() for t in torch.aminmax(kk, dim=1))
        _launch(
            _comb_ff_bwd_kernel, (B, triton.cdiv(T + L, COMB_BWD_BLOCK)),
            u, dx, v.contiguous(), d, g, zi, dd, dg, dzi, kmin, kmax, T, L, *strides, BLOCK=COMB_BWD_BLOCK,
        )  # fmt: skip
    return dx, dd, dg, dzi


# --------------------------------------------------------------------------- FDN
@triton.jit
def _fdn_reads(s_ptr, zi_ptr, b, T, L, N, n, m, jl, act, szb, szn, szt):
    """``r[t, j] = s_j[n_t - m_j]`` from ``s (B,N,T)`` or ``zi``, shape (BLOCK, NP)."""
    src = n[:, None] - m[None, :]
    a2 = act[:, None] & (jl < N)[None, :]
    here = tl.load(s_ptr + (b * N + jl[None, :]) * T + src, mask=a2 & (src >= 0), other=0.0)
    past = tl.load(zi_ptr + b * szb + jl[None, :] * szn + (L + src) * szt, mask=a2 & (src < 0), other=0.0)
    return tl.where(src >= 0, here, past), src, a2


@triton.jit
def _fdn_row(m_ptr, bin_ptr, cout_ptr, dir_ptr, b, N, sAb, sAi, sAj, sbb, sbn, scb, scn, sdb, NP: tl.constexpr):
    """Row ``b``'s line lanes ``jl`` (mask ``okl``), delays, gains, and ``A``'s offsets and mask."""
    jl = tl.arange(0, NP)
    okl = jl < N
    m = tl.load(m_ptr + jl, mask=okl, other=1)
    bin_ = tl.load(bin_ptr + b * sbb + jl * sbn, mask=okl, other=0.0)
    cout = tl.load(cout_ptr + b * scb + jl * scn, mask=okl, other=0.0)
    dr = tl.load(dir_ptr + b * sdb)
    a_off = b * sAb + jl[None, :, None] * sAi + jl[None, None, :] * sAj
    a_ok = okl[None, :, None] & okl[None, None, :]
    return jl, okl, m, bin_, cout, dr, a_off, a_ok


@triton.jit(do_not_specialize=["T", "L", "S"])
def _fdn_fwd_kernel(
    x_ptr, m_ptr, A_ptr, bin_ptr, cout_ptr, dir_ptr, zi_ptr, s_ptr, y_ptr, T, L, S, N,
    sxb, sxt, sAb, sAt, sAi, sAj, sbb, sbn, scb, scn, sdb, szb, szn, szt,
    NP: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    b = tl.program_id(0).to(tl.int64)
    t = tl.arange(0, BLOCK)
    jl, okl, m, bin_, cout, dr, a_off, a_ok = _fdn_row(
        m_ptr, bin_ptr, cout_ptr, dir_ptr, b, N, sAb, sAi, sAj, sbb, sbn, scb, scn, sdb, NP
    )
    t0 = 0
    while t0 < T:
        n = t0 + t
        act = (t < S) & (n < T)
        r, src, a2 = _fdn_reads(s_ptr, zi_ptr, b, T, L, N, n, m, jl, act, szb, szn, szt)
        x = tl.load(x_ptr + b * sxb + n * sxt, mask=act, other=0.0)
        tl.store(y_ptr + b * T + n, tl.sum(r * cout[None, :], 1) + dr * x, mask=act)
        A = tl.load(A_ptr + a_off + n[:, None, None] * sAt, mask=act[:, None, None] & a_ok, other=0.0)
        s = bin_[None, :] * x[:, None] + tl.sum(A * r[:, None, :], 2)  # (BLOCK, NP) over lines i
        tl.store(s_ptr + (b * N + jl[None, :]) * T + n[:, None], s, mask=a2)
        tl.debug_barrier()
        t0 += S


@triton.jit(do_not_specialize=["T", "L", "S"])
def _fdn_bwd_kernel(
    gy_ptr, x_ptr, m_ptr, A_ptr, bin_ptr, cout_ptr, dir_ptr, zi_ptr, s_ptr, us_ptr, dzi_ptr,
    dx_ptr, dA_ptr, dbin_ptr, dcout_ptr, ddir_ptr, T, L, S, N,
    sgb, sgt, sxb, sxt, sAb, sAt, sAi, sAj, sbb, sbn, scb, scn, sdb, szb, szn, szt, dAb, dAt,
    NP: tl.constexpr, BLOCK: tl.constexpr, TV: tl.constexpr,
):  # fmt: skip
    b = tl.program_id(0).to(tl.int64)
    t = tl.arange(0, BLOCK)
    jl, okl, m, bin_, cout, dr, a_off, a_ok = _fdn_row(
        m_ptr, bin_ptr, cout_ptr, dir_ptr, b, N, sAb, sAi, sAj, sbb, sbn, scb, scn, sdb, NP
    )
    d_off = b * dAb + jl[None, :, None] * N + jl[None, None, :]
    acc_bin = bin_ * 0.0
    acc_cout = cout * 0.0
    acc_dir = dr * 0.0
    acc_A = tl.sum(a_ok.to(bin_.dtype) * 0.0, 0)  # (NP, NP) zeros of the working dtype
    t1 = T
    while t1 > 0:
        t0 = tl.maximum(t1 - S, 0)
        n = t0 + t
        act = n < t1
        us = tl.load(us_ptr + (b * N + jl[None, :]) * T + n[:, None], mask=act[:, None] & okl[None, :], other=0.0)
        gy = tl.load(gy_ptr + b * sgb + n * sgt, mask=act, other=0.0)
        x = tl.load(x_ptr + b * sxb + n * sxt, mask=act, other=0.0)
        tl.store(dx_ptr + b * T + n, dr * gy + tl.sum(us * bin_[None, :], 1), mask=act)
        acc_bin += tl.sum(us * x[:, None], 0)
        acc_dir += tl.sum(gy * x, 0)
        r, src, a2 = _fdn_reads(s_ptr, zi_ptr, b, T, L, N, n, m, jl, act, szb, szn, szt)
        acc_cout += tl.sum(gy[:, None] * r, 0)
        outer = us[:, :, None] * r[:, None, :]  # (BLOCK, NP i, NP j)
        if TV:
            tl.store(dA_ptr + d_off + n[:, None, None] * dAt, outer, mask=act[:, None, None] & a_ok)
        else:
            acc_A += tl.sum(outer, 0)
        A = tl.load(A_ptr + a_off + n[:, None, None] * sAt, mask=act[:, None, None] & a_ok, other=0.0)
        ur = cout[None, :] * gy[:, None] + tl.sum(A * us[:, :, None], 1)  # (BLOCK, NP) over lines j
        line = (b * N + jl[None, :]) * T + src
        back = tl.load(us_ptr + line, mask=a2 & (src >= 0), other=0.0)
        tl.store(us_ptr + line, back + ur, mask=a2 & (src >= 0))
        zline = (b * N + jl[None, :]) * L + L + src
        zback = tl.load(dzi_ptr + zline, mask=a2 & (src < 0), other=0.0)
        tl.store(dzi_ptr + zline, zback + ur, mask=a2 & (src < 0))
        tl.debug_barrier()
        t1 = t0
    tl.store(dbin_ptr + b * N + jl, acc_bin, mask=okl)
    tl.store(dcout_ptr + b * N + jl, acc_cout, mask=okl)
    tl.store(ddir_ptr + b, acc_dir)
    if not TV:
        tl.store(dA_ptr + b * dAb + jl[:, None] * N + jl[None, :], acc_A, mask=okl[:, None] & okl[None, :])


def _fdn_operands(op: FdnOperands) -> Tuple[Tuple[Any, ...], Tuple[int, ...], int, int, int]:
    """The kernels' operands ``(x, m, A, bin_, cout, direct, zi)``, their strides (``x``, ``A``,
    ``bin_``, ``cout``, ``direct``, ``zi``), and ``NP``, the block and the step ``S``."""
    x, m, A, bin_, cout, direct, zi = op
    N = len(m)
    NP = triton.next_power_of_2(N)
    block = fdn_block(N)
    S = min(min(m), block)
    mt = torch.tensor(m, dtype=torch.int64, device=x.device)
    a_strides = (A.stride(0), (A.stride(1) if A.shape[1] > 1 else 0), A.stride(2), A.stride(3))
    gains = (bin_.stride(0), bin_.stride(1), cout.stride(0), cout.stride(1), direct.stride(0))
    strides = (x.stride(0), x.stride(1), *a_strides, *gains, zi.stride(0), zi.stride(1), zi.stride(2))
    return (x, mt, A, bin_, cout, direct, zi), strides, NP, block, S


def fdn_forward(op: FdnOperands) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y (B,T), s (B,N,T))``; see :func:`tritonlpc.backends._numba_delay.fdn_forward`."""
    B, T = op.x.shape
    N = len(op.m)
    y = op.x.new_empty((B, T))
    s = op.x.new_empty((B, N, T))
    ptrs, strides, NP, block, S = _fdn_operands(op)
    if B and T:
        _launch(
            _fdn_fwd_kernel, (B,), *ptrs, s, y, T, op.zi.shape[2], S, N, *strides, NP=NP, BLOCK=block,
        )  # fmt: skip
    return y, s


def fdn_backward(gy: torch.Tensor, gs: torch.Tensor, op: FdnOperands, s: torch.Tensor) -> Tuple[torch.Tensor, ...]:
    """``(dx, dA, dbin, dcout, ddirect, dzi)``; see :func:`tritonlpc.backends._numba_delay.fdn_backward`."""
    x, A = op.x, op.A
    B, T = x.shape
    N = len(op.m)
    L = op.zi.shape[2]
    us = gs.clone(memory_format=torch.contiguous_format)
    dzi, dx, dA = x.new_zeros((B, N, L)), x.new_zeros((B, T)), x.new_zeros(A.shape)
    dbin, dcout, ddir = x.new_zeros((B, N)), x.new_zeros((B, N)), x.new_zeros((B,))
    ptrs, strides, NP, block, S = _fdn_operands(op)
    if B and T:
        tv = A.shape[1] > 1
        _launch(
            _fdn_bwd_kernel, (B,),
            gy, *ptrs, s.contiguous(), us, dzi, dx, dA, dbin, dcout, ddir, T, L, S, N, gy.stride(0), gy.stride(1),
            *strides, dA.stride(0), (dA.stride(1) if tv else 0), NP=NP, BLOCK=block, TV=tv,
        )  # fmt: skip
    return dx, dA, dbin, dcout, ddir, dzi
