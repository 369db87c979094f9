"""Walk path, pass phase (orders ``M > 4``): each chunk re-run from its start state (both directions).

Forward chunks are aligned at ``t = 0`` (``[c L, c L + L)``), reverse chunks at ``t = T``
(``[T - c L - L, T - c L)``), so only the last chunk of a row in processing order can be short.
The reverse pass writes ``u``, ``grad_a``, and ``grad_zi`` from the lane that owns ``n = 0``.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
import triton
import triton.language as tl

from .frames import walk_frame_sums
from .lang import load, mul, store
from .launch import Call, launch
from .plan import next_pow2
from .walk_io import fwd_step, fwd_step_loads, lanes, past_outputs, rev_step, rev_step_loads

__all__ = ["walk_fwd_pass_kernel", "walk_rev_pass_kernel", "walk_pass"]


@triton.jit
def _start_state(
    s_ptr, off, ok, M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr
):
    """``(N, MP)`` start states at ``s_ptr + off`` (``off`` ``(N, MP)``; zeros if ``s_ptr`` is None)."""
    if s_ptr is None:
        Fr = tl.zeros((N, MP), CDT)
        Fi = tl.zeros((N, MP), CDT)
    else:
        Fr, Fi = load(s_ptr, off, ok[:, None] & (tl.arange(0, MP) < M)[None, :], CPLX, CDT)
    return Fr, Fi


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L"])
def walk_fwd_pass_kernel(
    v_ptr, a_ptr, s_ptr, o_ptr, svb, svt, sab, sat, sam, ssb, ssc, ssm, n_jobs, T, n_chunks, L, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """``y`` (``o``) of ``N`` chunks ``[c L, c L + L)`` from ``x`` (``v``) and their start states
    ``s[b, c, k] = y[cL-1-k]`` (strides ``ssb, ssc, ssm``; zeros if ``s_ptr`` is None)."""
    W: tl.constexpr = 2 if CPLX else 1
    j, ok, b, c = lanes(n_chunks, n_jobs, N)
    t0 = c * L
    t_end = tl.minimum(t0 + L, T)
    k0 = (2 * M - 1 - tl.arange(0, MP)) % M  # canonical index held by slot p at tau = 0
    Fr, Fi = _start_state(s_ptr, (b * ssb + c * ssc)[:, None] + (k0 * ssm)[None, :], ok, M, MP, N, CPLX, CDT)
    vrow = b * svb
    arow = b * sab
    orow = b * T * W
    n = t0
    valid = ok & (n < t_end)
    xr, xi, cr, ci = fwd_step_loads(
        v_ptr, a_ptr, vrow, arow, n, 0, valid, svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
    )
    tau = 0
    while tau < L:
        v1 = ok & (n + 1 < t_end)  # the next step's loads, ahead of this step's store
        xr1, xi1, cr1, ci1 = fwd_step_loads(
            v_ptr, a_ptr, vrow, arow, n + 1, tau + 1, v1, svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
        )
        Fr, Fi, vr, vi = fwd_step(Fr, Fi, xr, xi, cr, ci, tau, MP, M, CPLX)
        store(o_ptr, orow + n * W, vr, vi, valid, CPLX)
        xr, xi, cr, ci = xr1, xi1, cr1, ci1
        n += 1
        valid = v1
        tau += 1


@triton.heuristics(
    {"NEED_A": lambda args: args["ga_ptr"] is not None, "NEED_ZI": lambda args: args["gz_ptr"] is not None}
)
@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L", "n_steps", "n_slots"])
def walk_rev_pass_kernel(
    v_ptr, a_ptr, s_ptr, o_ptr, y_ptr, z_ptr, ga_ptr, gz_ptr,
    svb, svt, sab, sat, sam, ssb, ssc, ssm, syb, syt, szb, szm, n_jobs, T, n_chunks, L, n_steps, n_slots, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
    NEED_A: tl.constexpr, NEED_ZI: tl.constexpr,
):  # fmt: skip
    """Adjoint walk (transposed direct form) of ``N`` chunks ending at ``t1 = T - c L``::

        lam_j[n] = g[n] [j == 0] - A[n+1, j] lam_0[n+1] + lam_{j+1}[n+1],   u[n] = lam_0[n]

    from ``g`` (``v``) and ``s[b, c, :] = lam[t1]`` (zeros if ``s_ptr`` is None), writing ``u``
    (``o``); ``NEED_A``: ``grad_a[n, k] = -sign u[n] conj(y[n-1-k])``; ``NEED_ZI``: the lane owning
    ``n = 0`` takes one more step (``n_steps = L + 1``, ``g[-1] = 0``) whose state is ``grad_zi``.
    ``HOP > 0``: ``a`` holds control frames and ``ga`` receives per-interval sums instead
    (``n_slots`` intervals a chunk, :mod:`.frames`).
    """
    W: tl.constexpr = 2 if CPLX else 1
    j, ok, b, c = lanes(n_chunks, n_jobs, N)
    t1 = T - c * L
    t0 = tl.maximum(t1 - L, 0)
    p = tl.arange(0, MP)
    pok = p < M
    # after tau steps lam_k sits in slot (k + tau) mod M
    Fr, Fi = _start_state(s_ptr, (b * ssb + c * ssc)[:, None] + (p * ssm)[None, :], ok, M, MP, N, CPLX, CDT)
    uFr = tl.sum(tl.where((p == 0)[None, :], Fr, 0.0), axis=1)  # lam_0 = u[t1]
    uFi = tl.sum(tl.where((p == 0)[None, :], Fi, 0.0), axis=1)
    vrow = b * svb
    arow = b * sab
    orow = b * T * W
    n = t1 - 1
    gr, gi, cr, ci = rev_step_loads(
        v_ptr, a_ptr, vrow, arow, n, 0, ok & (n >= t0), ok & (n >= t0 - 1) & (n + 1 < T), svt, sat, sam, sign, conj,
        M, MP, CPLX, CDT, HOP,
    )  # fmt: skip
    if NEED_A:
        hr, hi = past_outputs(y_ptr, z_ptr, b, n, ok & (n >= t0), syb, syt, szb, szm, M, MP, CPLX, CDT)
        if HOP > 0:  # this lane's sums over its current interval: all of grad_a, and weighted
            Sr = tl.zeros((N, MP), CDT)
            Si = tl.zeros((N, MP), CDT)
            Hr = tl.zeros((N, MP), CDT)
            Hi = tl.zeros((N, MP), CDT)
            slots = (
                ga_ptr
                + (((b * n_chunks + n_chunks - 1 - c) * n_slots - t0 // HOP) * (2 * M * W))[:, None]
                + (p * W)[None, :]
            )
    tau = 0
    while tau < n_steps:
        valid = ok & (n >= t0)
        # the next step's loads, ahead of this step's stores
        gr1, gi1, cr1, ci1 = rev_step_loads(
            v_ptr, a_ptr, vrow, arow, n - 1, tau + 1, ok & (n - 1 >= t0), ok & (n - 1 >= tl.maximum(t0 - 1, t1 - n_steps)),
            svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP,
        )  # fmt: skip
        if NEED_A:
            hr1, hi1 = past_outputs(y_ptr, z_ptr, b, n - 1, ok & (n - 1 >= t0), syb, syt, szb, szm, M, MP, CPLX, CDT)
        Fr, Fi, uFr, uFi = rev_step(Fr, Fi, uFr, uFi, gr, gi, cr, ci, tau, MP, M, CPLX)
        store(o_ptr, orow + n * W, uFr, uFi, valid, CPLX)
        if NEED_A:
            qr, qi = mul_conj(uFr, uFi, hr, hi, CPLX)
            if HOP > 0:
                Sr, Si, Hr, Hi = walk_frame_sums(
                    slots, Sr, Si, Hr, Hi, -sign * qr, -sign * qi, n, valid, t0, pok, M, CPLX, CDT, HOP
                )
            else:
                off = ((b * T + n) * M)[:, None] * W + p[None, :] * W
                store(ga_ptr, off, -sign * qr, -sign * qi, valid[:, None] & pok[None, :], CPLX)
            hr, hi = hr1, hi1
        if NEED_ZI:
            # after the step at n = -1 the state is grad_zi; lam_k sits in slot (k + tau + 1) mod M
            kz = (p + M - (tau + 1) % M) % M
            zm = (ok & (n == -1) & (t0 == 0))[:, None] & pok[None, :]
            store(gz_ptr, (b * M)[:, None] * W + kz[None, :] * W, Fr, Fi, zm, CPLX)
        gr, gi, cr, ci = gr1, gi1, cr1, ci1
        n -= 1
        tau += 1


@triton.jit
def mul_conj(ur, ui, hr, hi, CPLX: tl.constexpr):
    """``u conj(h)`` for ``u`` ``(N,)`` and ``h`` ``(N, MP)``."""
    return mul(ur[:, None], ui[:, None], hr, -hi, CPLX)


def walk_pass(call: Call, starts: Optional[torch.Tensor], maps: Optional[Tuple[torch.Tensor, ...]] = None) -> None:
    """Launch the pass kernel of ``call``'s direction: ``N`` lanes a program, a lane a (row,
    chunk); ``starts`` ``(B, C, M W)`` from the carry, or ``None``: one chunk a row (``maps``,
    the summary's, are not needed)."""
    p = call.plan
    s, strides = call.pass_starts(starts)
    jobs = call.B * p.n_chunks
    if call.reverse:
        steps = p.chunk_len + 1 if call.gz is not None else p.chunk_len  # the lane owning n = 0: one more step
        kernel, extra = (
            walk_rev_pass_kernel,
            dict(n_steps=steps, n_slots=call.frame_layout()[3], **call.adjoint_outputs()),
        )
    else:
        kernel, extra = walk_fwd_pass_kernel, dict(o_ptr=call.out)
    launch(
        kernel,
        (triton.cdiv(jobs, p.lanes),),
        s_ptr=s,
        ssb=strides[0],
        ssc=strides[1],
        ssm=strides[2],
        n_jobs=jobs,
        n_chunks=p.n_chunks,
        L=p.chunk_len,
        MP=next_pow2(call.M),
        N=p.lanes,
        num_warps=p.num_warps,
        **call.common(),
        **extra,
    )
