"""The walk path's per-step helpers (orders ``M > 4``, both directions).

Each vector lane walks one chunk of one row sequentially, O(M) work per sample, with the state
in a circular buffer of ``MP`` slots (``M`` rounded up to a power of two) whose coefficient row
is loaded with rotated offsets: one step is a dot product and a masked write (forward,
:func:`fwd_step`), or an axpy and a masked extraction (reverse, :func:`rev_step`). A program
owns ``N`` lanes = ``N`` consecutive jobs (row, chunk), numbered ``j = b * n_chunks + c``
(:func:`lanes`). Every step's loads are issued before the previous step's stores (loop-carried
prefetch); the coefficient is ``sign * a`` conjugated when ``conj == -1``.
"""

from __future__ import annotations

import triton
import triton.language as tl

from .lang import load, load_coef, mul

__all__ = ["lanes", "frame_row", "fwd_step_loads", "rev_step_loads", "past_outputs", "fwd_step", "rev_step"]


@triton.jit
def lanes(n_chunks, n_jobs, N: tl.constexpr):
    """Job ids of this program's lanes (int64), their validity, row and chunk."""
    j = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    b = j // n_chunks
    return j, j < n_jobs, b, j - b * n_chunks


@triton.jit
def frame_row(a_ptr, arow, n, cols, mask, sat, sign, conj, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr):
    """``sign * a[n, :]`` (conjugated when ``conj == -1``) interpolated from control frames,
    ``a[n] = f_j + (n / HOP - j) (f_{j+1} - f_j)``, ``j = n // HOP``, frame ``f`` at ``arow + f sat +
    cols`` (``(N, MP)`` offsets; zeros where not ``mask``)."""
    j = tl.maximum(n, 0) // HOP
    off = (arow + j * sat)[:, None] + cols[None, :]
    lr, li = load_coef(a_ptr, off, mask, sign, conj, CPLX, CDT)
    hr, hi = load_coef(a_ptr, off + sat, mask, sign, conj, CPLX, CDT)
    w = ((n - j * HOP).to(CDT) * (1.0 / tl.full((), HOP, CDT)))[:, None]
    return lr + w * (hr - lr), li + w * (hi - li)


@triton.jit
def fwd_step_loads(
    x_ptr, a_ptr, xrow, arow, n, tau, valid, sxt, sat, sam, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """``x[n]`` and the coefficient row of sample ``n`` rotated to the slots at local time
    ``tau`` (slot ``p`` holds ``y[n-1-lag]``, ``lag = (tau - 1 - p) mod M``)."""
    p = tl.arange(0, MP)
    lag = (tau + 2 * M - 1 - p) % M
    xr, xi = load(x_ptr, xrow + n * sxt, valid, CPLX, CDT)
    if HOP > 0:
        cr, ci = frame_row(
            a_ptr, arow, n, lag * sam, valid[:, None] & (p < M)[None, :], sat, sign, conj, CPLX, CDT, HOP
        )
    else:
        off = (arow + n * sat)[:, None] + (lag * sam)[None, :]
        cr, ci = load_coef(a_ptr, off, valid[:, None] & (p < M)[None, :], sign, conj, CPLX, CDT)
    return xr, xi, cr, ci


@triton.jit
def fwd_step(Fr, Fi, xr, xi, cr, ci, tau, MP: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """One forward step of ``(N, MP)`` states: ``y = x - sum_slots c F`` written to slot
    ``tau mod M``; returns the new state and ``y``."""
    pr, pi = mul(Fr, Fi, cr, ci, CPLX)
    vr = xr - tl.sum(pr, axis=1)
    vi = xi - tl.sum(pi, axis=1)
    w = (tl.arange(0, MP) == tau % M)[None, :]
    Fr = tl.where(w, vr[:, None], Fr)
    if CPLX:
        Fi = tl.where(w, vi[:, None], Fi)
    return Fr, Fi, vr, vi


@triton.jit
def rev_step_loads(
    g_ptr, a_ptr, grow, arow, n, tau, valid, cvalid, sgt, sat, sam, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """``g[n]`` and row ``n + 1`` of the coefficients rotated to the slots after step ``tau``
    (slot ``p`` then holds ``lam_kk``, ``kk = (p - 1 - tau) mod M``)."""
    p = tl.arange(0, MP)
    kk = (p + 2 * M - 1 - tau % M) % M
    gr, gi = load(g_ptr, grow + n * sgt, valid, CPLX, CDT)
    if HOP > 0:
        mask = cvalid[:, None] & (p < M)[None, :]
        cr, ci = frame_row(a_ptr, arow, n + 1, kk * sam, mask, sat, sign, conj, CPLX, CDT, HOP)
    else:
        off = (arow + (n + 1) * sat)[:, None] + (kk * sam)[None, :]
        cr, ci = load_coef(a_ptr, off, cvalid[:, None] & (p < M)[None, :], sign, conj, CPLX, CDT)
    return gr, gi, cr, ci


@triton.jit
def rev_step(Fr, Fi, ur, ui, gr, gi, cr, ci, tau, MP: tl.constexpr, M: tl.constexpr, CPLX: tl.constexpr):
    """One adjoint step of ``(N, MP)`` states (``u = lam_0``, ``(N,)``): ``lam_k <- lam_{k+1} -
    c_k u`` (+ ``g`` for ``k = 0``), the slot of ``lam_0`` advancing by one; returns the new
    state and its ``lam_0``. ``g`` may be a scalar zero (unit responses)."""
    p = tl.arange(0, MP)
    old = (p == tau % M)[None, :]
    new = (p == (tau + 1) % M)[None, :]
    dr, di = mul(cr, ci, ur[:, None], ui[:, None], CPLX)
    Fr = tl.where(old, 0.0, Fr) - dr + tl.where(new, gr[:, None], 0.0)
    ur = tl.sum(tl.where(new, Fr, 0.0), axis=1)
    if CPLX:
        Fi = tl.where(old, 0.0, Fi) - di + tl.where(new, gi[:, None], 0.0)
        ui = tl.sum(tl.where(new, Fi, 0.0), axis=1)
    return Fr, Fi, ur, ui


@triton.jit
def past_outputs(
    y_ptr, z_ptr, b, n, valid, syb, syt, szb, szm, M: tl.constexpr, MP: tl.constexpr, CPLX: tl.constexpr,
    CDT: tl.constexpr,
):  # fmt: skip
    """``y[n-1-k]``, ``k < M``, as ``(N, MP)`` (``y[-k'] = zi[k'-1]``)."""
    p = tl.arange(0, MP)
    m = n[:, None] - 1 - p[None, :]
    mk = valid[:, None] & (p < M)[None, :]
    hr, hi = load(y_ptr, (b * syb)[:, None] + m * syt, mk & (m >= 0), CPLX, CDT)
    zr, zi = load(z_ptr, (b * szb)[:, None] + (-1 - m) * szm, mk & (m < 0), CPLX, CDT)
    return hr + zr, hi + zi
