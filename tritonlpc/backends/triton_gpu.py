"""Triton backend: chunked parallel scan (forward) and reverse scan (backward), any order M.

Implements the contract of :mod:`tritonlpc.backends` on CUDA tensors, and on CPU tensors when
Triton's interpreter is on (``TRITON_INTERPRET=1``, how CI tests these kernels).

Schedule ("chunked", three launches per direction). Time is cut into ``C`` chunks of length
``L`` per row; vector lanes of a program are chunks, so rows *and* chunks run in parallel:

1. **summary** (grid ``B x C/BLOCK_C``): every lane walks its chunk once, running ``M + 1``
   recursions side by side: the zero-state response to the input and the ``M`` responses to a
   unit initial state. Their end states are the chunk's affine map ``s -> P_c s + h_c`` (the
   product of the chunk's companion matrices and its zero-state end state).
2. **carry** (grid ``B``): a short sequential scan over the chunks' affine maps, from ``zi``
   (forward) or from the zero state after the last sample (reverse), writing each chunk's start
   state; the reverse carry also yields ``dL/dzi = C[0]^T lambda[0]``.
3. **output** (grid ``B x C/BLOCK_C``): every lane re-runs its chunk from its start state and
   writes ``y`` — or, in reverse, ``u = dL/dx`` and, fused in the same pass,
   ``dL/da[n, j] = -u[n] conj(y[n-1-j])``.

The forward recursion keeps the last ``M`` outputs in a circular buffer of ``MP`` slots (M
rounded up to a power of two); the coefficient row is loaded with rotated offsets so one step
is a dot product and a masked write, O(M). The reverse recursion is the transposed direct form
``lam_j[n] = g[n][j=0] - conj(A[n+1, j]) lam_0[n+1] + lam_{j+1}[n+1]``: its shift is a rotation
of the buffer's base, and it reads ``a`` in place at time ``n+1`` (no flipped or padded copy).
``M`` is a compile-time constant (small orders get their own specialised kernels).

Everything is read through strides (an expanded ``a`` costs nothing), offsets are int64,
complex tensors are read through real views with complex arithmetic in the kernel, float16 and
bfloat16 are accumulated in float32, no atomics are used (results are bit-identical run to run)
and nothing synchronises with the host (CUDA-graph capturable). Scratch per call:
``B * C * (M + 1) * MP`` values for the summaries, small next to the signal.
"""

from __future__ import annotations

import contextlib
import os
from typing import ContextManager, Optional, Tuple

import torch
import triton
import triton.language as tl

__all__ = ["forward", "backward", "reverse", "SUPPORTS_HALF"]

SUPPORTS_HALF = True
_HALF = (torch.float16, torch.bfloat16)


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


# =========================================================================== kernels
@triton.jit
def _cmul(ar, ai, br, bi, IS_COMPLEX: tl.constexpr):
    if IS_COMPLEX:
        return ar * br - ai * bi, ar * bi + ai * br
    else:
        return ar * br, ai


@triton.jit
def _load_coef(ptr, off, mask, IS_COMPLEX: tl.constexpr, CONJ: tl.constexpr, NEG: tl.constexpr, ACC: tl.constexpr):
    """Load A = (-)a (conjugated if CONJ) as (re, im); im is zero for real dtypes."""
    re = tl.load(ptr + off, mask=mask, other=0.0).to(ACC)
    if IS_COMPLEX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(ACC)
    else:
        im = tl.zeros_like(re)
    if NEG:
        re = -re
        im = -im
    if CONJ:
        im = -im
    return re, im


@triton.jit
def _load_val(ptr, off, mask, IS_COMPLEX: tl.constexpr, ACC: tl.constexpr):
    re = tl.load(ptr + off, mask=mask, other=0.0).to(ACC)
    if IS_COMPLEX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(ACC)
    else:
        im = tl.zeros_like(re)
    return re, im


@triton.jit
def _store_val(ptr, off, re, im, mask, IS_COMPLEX: tl.constexpr):
    tl.store(ptr + off, re.to(ptr.dtype.element_ty), mask=mask)
    if IS_COMPLEX:
        tl.store(ptr + off + 1, im.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _fwd_chunks_kernel(
    X, A, S, Y, H,
    T, C, L,
    sxb, sxt, sab, sat, sam, syb, syt,
    M: tl.constexpr, MP: tl.constexpr, R: tl.constexpr, BLOCK_C: tl.constexpr, NC: tl.constexpr,
    SUMMARY: tl.constexpr, IS_COMPLEX: tl.constexpr, CONJ: tl.constexpr, NEG: tl.constexpr, ACC: tl.constexpr,
):
    """Forward, phase 1 (SUMMARY: M+1 runs, raw end states to H) or phase 3 (1 run from S, y to Y)."""
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64) * BLOCK_C + tl.arange(0, BLOCK_C)
    s_idx = tl.arange(0, MP)
    r_idx = tl.arange(0, R)
    lane_ok = c < C
    t0 = c * L
    Lc = tl.minimum(T - t0, L)
    slot_ok = s_idx < M
    s3 = s_idx[None, None, :]
    r3 = r_idx[None, :, None]
    if SUMMARY:
        # run 0: zero state; run r >= 1: unit initial state y[t0-r] = 1, which sits in slot M-r.
        st_r = tl.where((r3 >= 1) & (s3 == M - r3), 1.0, 0.0).to(ACC) + tl.zeros((BLOCK_C, R, MP), ACC)
        st_i = tl.zeros((BLOCK_C, R, MP), ACC)
    else:
        # y[t0-1-k] sits in slot (-1-k) mod M = M-1-k.
        off = ((b * C + c)[:, None] * MP + (M - 1 - s_idx)[None, :]) * NC
        v_r, v_i = _load_val(S, off, lane_ok[:, None] & slot_ok[None, :], IS_COMPLEX, ACC)
        st_r = v_r[:, None, :] + tl.zeros((BLOCK_C, R, MP), ACC)
        st_i = v_i[:, None, :] + tl.zeros((BLOCK_C, R, MP), ACC)
    for t in range(0, L):
        n = t0 + t
        valid = lane_ok & (t < Lc)
        lag = (t + M - 1 - s_idx) % M  # the lag whose history value sits in slot s
        a_off = b * sab + n[:, None] * sat + lag[None, :] * sam
        a_r, a_i = _load_coef(A, a_off, valid[:, None] & slot_ok[None, :], IS_COMPLEX, CONJ, NEG, ACC)
        x_r, x_i = _load_val(X, b * sxb + n * sxt, valid, IS_COMPLEX, ACC)
        p_r, p_i = _cmul(st_r, st_i, a_r[:, None, :], a_i[:, None, :], IS_COMPLEX)
        first = r_idx[None, :] == 0
        acc_r = tl.where(first, x_r[:, None], 0.0) - tl.sum(p_r, axis=2)
        acc_i = tl.where(first, x_i[:, None], 0.0) - tl.sum(p_i, axis=2)
        upd = (s3 == t % M) & valid[:, None, None]
        st_r = tl.where(upd, acc_r[:, :, None], st_r)
        if IS_COMPLEX:
            st_i = tl.where(upd, acc_i[:, :, None], st_i)
        if not SUMMARY:
            _store_val(Y, b * syb + n * syt, tl.sum(acc_r, axis=1), tl.sum(acc_i, axis=1), valid, IS_COMPLEX)
    if SUMMARY:
        off = (((b * C + c)[:, None, None] * R + r3) * MP + s3) * NC
        _store_val(H, off, st_r, st_i, lane_ok[:, None, None] & (s3 < M), IS_COMPLEX)


@triton.jit
def _fwd_carry_kernel(
    ZI, H, S,
    T, C, L, szb, szm,
    M: tl.constexpr, MP: tl.constexpr, R: tl.constexpr, NC: tl.constexpr,
    IS_COMPLEX: tl.constexpr, ACC: tl.constexpr,
):
    """Forward, phase 2: S[c] = start state of chunk c; S[c+1] = P_c S[c] + h_c, S[0] = zi."""
    b = tl.program_id(0).to(tl.int64)
    k = tl.arange(0, MP)
    kok = k < M
    s_r, s_i = _load_val(ZI, b * szb + k * szm, kok, IS_COMPLEX, ACC)
    for c in range(0, C):
        _store_val(S, ((b * C + c) * MP + k) * NC, s_r, s_i, kok, IS_COMPLEX)
        Lc = tl.minimum(T - c * L, L)
        src = (Lc - 1 - k + M) % M  # raw slot of canonical y[end-1-k]
        base = (b * C + c) * R
        h_r, h_i = _load_val(H, ((base + 0) * MP + src) * NC, kok, IS_COMPLEX, ACC)
        p_off = ((base + 1 + k[None, :]) * MP + src[:, None]) * NC  # P[k, j] from run j+1
        p_r, p_i = _load_val(H, p_off, kok[:, None] & kok[None, :], IS_COMPLEX, ACC)
        m_r, m_i = _cmul(p_r, p_i, s_r[None, :], s_i[None, :], IS_COMPLEX)
        s_r = tl.sum(m_r, axis=1) + h_r
        s_i = tl.sum(m_i, axis=1) + h_i


@triton.jit
def _rev_chunks_kernel(
    G, A, Yv, ZI, S, U, GA, H,
    T, C, L,
    sgb, sgt, sab, sat, sam, syb, syt, szb, szm, sub, sut,
    M: tl.constexpr, MP: tl.constexpr, R: tl.constexpr, BLOCK_C: tl.constexpr, NC: tl.constexpr,
    SUMMARY: tl.constexpr, NEED_A: tl.constexpr, IS_COMPLEX: tl.constexpr, CONJ: tl.constexpr,
    NEG: tl.constexpr, ACC: tl.constexpr,
):
    """Reverse, phase 1 (SUMMARY) or phase 3 (u to U and, if NEED_A, grad_a to GA).

    Logical lambda_j sits in slot (j + steps done) mod M; state entering a chunk is lambda[t1].
    """
    b = tl.program_id(0).to(tl.int64)
    c = tl.program_id(1).to(tl.int64) * BLOCK_C + tl.arange(0, BLOCK_C)
    s_idx = tl.arange(0, MP)
    r_idx = tl.arange(0, R)
    lane_ok = c < C
    t0 = c * L
    Lc = tl.minimum(T - t0, L)
    t1 = t0 + Lc
    slot_ok = s_idx < M
    s3 = s_idx[None, None, :]
    r3 = r_idx[None, :, None]
    if SUMMARY:
        st_r = tl.where((r3 >= 1) & (s3 == r3 - 1), 1.0, 0.0).to(ACC) + tl.zeros((BLOCK_C, R, MP), ACC)
        st_i = tl.zeros((BLOCK_C, R, MP), ACC)
    else:
        off = ((b * C + c)[:, None] * MP + s_idx[None, :]) * NC
        v_r, v_i = _load_val(S, off, lane_ok[:, None] & slot_ok[None, :], IS_COMPLEX, ACC)
        st_r = v_r[:, None, :] + tl.zeros((BLOCK_C, R, MP), ACC)
        st_i = v_i[:, None, :] + tl.zeros((BLOCK_C, R, MP), ACC)
    for t in range(0, L):
        n = t1 - 1 - t
        valid = lane_ok & (t < Lc)
        old0 = s3 == t % M
        new0 = s3 == (t + 1) % M
        u_r = tl.sum(tl.where(old0, st_r, 0.0), axis=2)  # u[n+1] = lambda_0[n+1]
        u_i = tl.sum(tl.where(old0, st_i, 0.0), axis=2)
        nxt = n + 1
        j_of_s = (s_idx - (t + 1) % M + M) % M
        a_off = b * sab + nxt[:, None] * sat + j_of_s[None, :] * sam
        a_r, a_i = _load_coef(A, a_off, (valid & (nxt < T))[:, None] & slot_ok[None, :], IS_COMPLEX, CONJ, NEG, ACC)
        d_r, d_i = _cmul(a_r[:, None, :], a_i[:, None, :], u_r[:, :, None], u_i[:, :, None], IS_COMPLEX)
        g_r, g_i = _load_val(G, b * sgb + n * sgt, valid, IS_COMPLEX, ACC)
        inject = new0 & (r3 == 0)
        n_r = tl.where(old0, 0.0, st_r) - d_r + tl.where(inject, g_r[:, None, None], 0.0)
        st_r = tl.where(valid[:, None, None], n_r, st_r)
        if IS_COMPLEX:
            n_i = tl.where(old0, 0.0, st_i) - d_i + tl.where(inject, g_i[:, None, None], 0.0)
            st_i = tl.where(valid[:, None, None], n_i, st_i)
        if not SUMMARY:
            un_r = tl.sum(tl.sum(tl.where(new0, st_r, 0.0), axis=2), axis=1)  # u[n]
            un_i = tl.sum(tl.sum(tl.where(new0, st_i, 0.0), axis=2), axis=1)
            _store_val(U, b * sub + n * sut, un_r, un_i, valid, IS_COMPLEX)
            if NEED_A:
                # grad_A[n, j] = -u[n] conj(y[n-1-j]); y[-k] = zi[k-1]; gradient w.r.t. a flips with NEG.
                k = n[:, None] - 1 - s_idx[None, :]
                m2 = valid[:, None] & slot_ok[None, :]
                y_r, y_i = _load_val(Yv, b * syb + k * syt, m2 & (k >= 0), IS_COMPLEX, ACC)
                z_r, z_i = _load_val(ZI, b * szb + (-k - 1) * szm, m2 & (k < 0), IS_COMPLEX, ACC)
                p_r = y_r + z_r
                p_i = -(y_i + z_i)
                q_r, q_i = _cmul(un_r[:, None], un_i[:, None], p_r, p_i, IS_COMPLEX)
                if not NEG:
                    q_r = -q_r
                    q_i = -q_i
                ga_off = ((b * T + n)[:, None] * M + s_idx[None, :]) * NC
                _store_val(GA, ga_off, q_r, q_i, m2, IS_COMPLEX)
    if SUMMARY:
        off = (((b * C + c)[:, None, None] * R + r3) * MP + s3) * NC
        _store_val(H, off, st_r, st_i, lane_ok[:, None, None] & (s3 < M), IS_COMPLEX)


@triton.jit
def _rev_carry_kernel(
    A, H, S, LAM0, GZI,
    T, C, L, sab, sam,
    M: tl.constexpr, MP: tl.constexpr, R: tl.constexpr, NC: tl.constexpr,
    NEED_ZI: tl.constexpr, IS_COMPLEX: tl.constexpr, CONJ: tl.constexpr, NEG: tl.constexpr, ACC: tl.constexpr,
):
    """Reverse, phase 2: chunks right to left from lambda[T] = 0; then grad_zi = C[0]^T lambda[0]."""
    b = tl.program_id(0).to(tl.int64)
    k = tl.arange(0, MP)
    kok = k < M
    s_r = tl.zeros((MP,), ACC)
    s_i = tl.zeros((MP,), ACC)
    for cc in range(0, C):
        c = C - 1 - cc
        _store_val(S, ((b * C + c) * MP + k) * NC, s_r, s_i, kok, IS_COMPLEX)
        Lc = tl.minimum(T - c * L, L)
        src = (k + Lc) % M  # raw slot of canonical lambda_k[t0]
        base = (b * C + c) * R
        h_r, h_i = _load_val(H, ((base + 0) * MP + src) * NC, kok, IS_COMPLEX, ACC)
        q_off = ((base + 1 + k[None, :]) * MP + src[:, None]) * NC
        q_r, q_i = _load_val(H, q_off, kok[:, None] & kok[None, :], IS_COMPLEX, ACC)
        m_r, m_i = _cmul(q_r, q_i, s_r[None, :], s_i[None, :], IS_COMPLEX)
        s_r = tl.sum(m_r, axis=1) + h_r
        s_i = tl.sum(m_i, axis=1) + h_i
    if NEED_ZI:
        # grad_zi[j] = lambda_{j+1}[0] - A[0, j] lambda_0[0]   (A conjugated by CONJ)
        _store_val(LAM0, (b * MP + k) * NC, s_r, s_i, kok, IS_COMPLEX)
        tl.debug_barrier()
        nx_r, nx_i = _load_val(LAM0, (b * MP + k + 1) * NC, (k + 1) < M, IS_COMPLEX, ACC)
        u0_r = tl.sum(tl.where(k == 0, s_r, 0.0), axis=0)
        u0_i = tl.sum(tl.where(k == 0, s_i, 0.0), axis=0)
        a_r, a_i = _load_coef(A, b * sab + k * sam, kok, IS_COMPLEX, CONJ, NEG, ACC)
        p_r, p_i = _cmul(a_r, a_i, u0_r, u0_i, IS_COMPLEX)
        _store_val(GZI, (b * M + k) * NC, nx_r - p_r, nx_i - p_i, kok, IS_COMPLEX)


# =========================================================================== launch helpers
def _check_device(t: torch.Tensor) -> None:
    if t.device.type != "cuda" and os.environ.get("TRITON_INTERPRET", "0") != "1":
        raise RuntimeError("the triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")


def _real(t: torch.Tensor) -> torch.Tensor:
    """A real view (trailing dim 2 for complex) of ``t``: strides in real elements, no copy."""
    return torch.view_as_real(t.resolve_conj().resolve_neg()) if t.is_complex() else t.resolve_neg()


def _acc_dtype(dtype: torch.dtype):
    return tl.float64 if dtype in (torch.float64, torch.complex128) else tl.float32


def _plan(B: int, T: int, M: int, chunk_len: Optional[int], schedule: Optional[str]) -> Tuple[int, int]:
    """Chunk length L and chunk count C: enough lanes to fill the GPU, short carries."""
    if schedule not in (None, "chunked"):
        raise ValueError(f"schedule must be 'chunked' (the only Triton schedule), got {schedule!r}")
    if chunk_len is None:
        chunks_per_row = max(1, min(1024, 16384 // max(B, 1)))
        chunk_len = max(16, -(-T // chunks_per_row))
    if chunk_len < 1:
        raise ValueError(f"chunk_len must be >= 1, got {chunk_len}")
    return int(chunk_len), -(-T // int(chunk_len))


def _blocks(C: int, R: int, MP: int) -> Tuple[int, int]:
    """Lanes (chunks) per program for the output and the summary phase (powers of two)."""
    out = min(64, _next_pow2(C))
    summ = max(1, min(out, 4096 // (R * MP)))
    return out, 1 << (summ.bit_length() - 1)


def _on_device(t: torch.Tensor) -> ContextManager:
    """Launch on the tensor's own GPU (Triton launches on the current device and stream)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


def forward(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: torch.Tensor,
    conj_a: bool = False,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
) -> torch.Tensor:
    """``y[n] = x[n] - sum_i A[n,i-1] y[n-i]``; ``x (B,T)``, ``a (B,T,M)``, ``zi (B,M)`` -> ``y (B,T)``.

    ``chunk_len`` overrides the chunk length (tests use tiny chunks to cross boundaries).
    """
    _check_device(x)
    B, T, M = a.shape
    y = torch.empty(B, T, dtype=x.dtype, device=x.device)
    if B == 0 or T == 0:
        return y
    L, C = _plan(B, T, M, chunk_len, schedule)
    MP, R, NC = _next_pow2(M), _next_pow2(M + 1), 2 if x.is_complex() else 1
    cplx, acc = x.is_complex(), _acc_dtype(x.dtype)
    xr, ar, zr, yr = _real(x), _real(a), _real(zi), _real(y)
    sdt = torch.float64 if acc == tl.float64 else torch.float32
    S = torch.empty(B, C, MP, NC, dtype=sdt, device=x.device)
    # one chunk: no summary pass; the carry then only writes S[0] = zi
    H = (torch.empty if C > 1 else torch.zeros)(B, C, R, MP, NC, dtype=sdt, device=x.device)
    blk_out, blk_sum = _blocks(C, R, MP)
    common = dict(M=M, MP=MP, NC=NC, IS_COMPLEX=cplx, ACC=acc)
    with _on_device(x):
        strides = (xr.stride(0), xr.stride(1), ar.stride(0), ar.stride(1), ar.stride(2), yr.stride(0), yr.stride(1))
        if C > 1:
            _fwd_chunks_kernel[(B, triton.cdiv(C, blk_sum))](
                xr, ar, S, yr, H, T, C, L, *strides,
                R=R, BLOCK_C=blk_sum, SUMMARY=True, CONJ=conj_a, NEG=neg_a, **common,
            )
        _fwd_carry_kernel[(B,)](zr, H, S, T, C, L, zr.stride(0), zr.stride(1), R=R, **common)
        _fwd_chunks_kernel[(B, triton.cdiv(C, blk_out))](
            xr, ar, S, yr, H, T, C, L, *strides,
            R=1, BLOCK_C=blk_out, SUMMARY=False, CONJ=conj_a, NEG=neg_a, **common,
        )
    return y


def _reverse_impl(g, a, y, zi, need_a, need_zi, conj, neg, chunk_len, schedule):
    _check_device(g)
    B, T, M = a.shape
    dev = g.device
    u = torch.empty(B, T, dtype=g.dtype, device=dev)
    ga = torch.empty(B, T, M, dtype=g.dtype, device=dev) if need_a else None
    gzi = torch.zeros(B, M, dtype=g.dtype, device=dev) if need_zi else None
    if B == 0 or T == 0:
        return u, ga, gzi
    L, C = _plan(B, T, M, chunk_len, schedule)
    MP, R, NC = _next_pow2(M), _next_pow2(M + 1), 2 if g.is_complex() else 1
    cplx, acc = g.is_complex(), _acc_dtype(g.dtype)
    sdt = torch.float64 if acc == tl.float64 else torch.float32
    gr, ar, ur = _real(g), _real(a), _real(u)
    yr = _real(y) if need_a else ur
    zr = _real(zi) if (need_a and zi is not None) else ur
    gar = _real(ga) if need_a else ur
    gzr = _real(gzi) if need_zi else ur
    summary = C > 1 or need_zi  # grad_zi needs lambda[0], which the carry gets from the summaries
    S = torch.empty(B, C, MP, NC, dtype=sdt, device=dev)
    H = (torch.empty if summary else torch.zeros)(B, C, R, MP, NC, dtype=sdt, device=dev)
    lam0 = torch.empty(B, MP, NC, dtype=sdt, device=dev) if need_zi else S
    blk_out, blk_sum = _blocks(C, R, MP)
    common = dict(M=M, MP=MP, NC=NC, IS_COMPLEX=cplx, CONJ=conj, NEG=neg, ACC=acc)
    strides = (
        gr.stride(0), gr.stride(1), ar.stride(0), ar.stride(1), ar.stride(2),
        yr.stride(0), yr.stride(1), zr.stride(0), zr.stride(1) if zr.dim() > 1 else 0,
        ur.stride(0), ur.stride(1),
    )
    with _on_device(g):
        if summary:
            _rev_chunks_kernel[(B, triton.cdiv(C, blk_sum))](
                gr, ar, yr, zr, S, ur, gar, H, T, C, L, *strides,
                R=R, BLOCK_C=blk_sum, SUMMARY=True, NEED_A=False, **common,
            )
        _rev_carry_kernel[(B,)](
            ar, H, S, lam0, gzr, T, C, L, ar.stride(0), ar.stride(2), R=R, NEED_ZI=need_zi, **common
        )
        _rev_chunks_kernel[(B, triton.cdiv(C, blk_out))](
            gr, ar, yr, zr, S, ur, gar, H, T, C, L, *strides,
            R=1, BLOCK_C=blk_out, SUMMARY=False, NEED_A=need_a, **common,
        )
    return u, ga, gzi


def backward(
    g: torch.Tensor,
    a: torch.Tensor,
    y: Optional[torch.Tensor],
    zi: Optional[torch.Tensor],
    need_grad_a: bool,
    need_grad_zi: bool,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Fused VJP of :func:`forward`: ``(grad_x (B,T), grad_a (B,T,M) | None, grad_zi (B,M) | None)``."""
    if need_grad_a and (y is None or zi is None):
        raise ValueError("backward needs y and zi to compute grad_a")
    return _reverse_impl(g, a, y, zi, need_grad_a, need_grad_zi, True, neg_a, chunk_len, schedule)


def reverse(
    g: torch.Tensor,
    a: torch.Tensor,
    conj_a: bool = False,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
) -> torch.Tensor:
    """``u[n] = g[n] - sum_i A[n+i,i-1] u[n+i]``; ``g (B,T)``, ``a (B,T,M)`` -> ``u (B,T)``."""
    return _reverse_impl(g, a, None, None, False, False, conj_a, neg_a, chunk_len, schedule)[0]
