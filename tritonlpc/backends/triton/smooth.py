"""Triton kernel of the attack/release gain smoother (data-dependent forward only).

The recursion ``g[n] = beta[n] f[n] + (1 - beta[n]) g[n-1]`` with ``beta[n] = alpha_at`` when
``f[n] < g[n-1]`` (attack) else ``alpha_rt`` decides its coefficients from its own output, so it
is not a linear scan: each row is walked sequentially. Rows run side by side, one per lane (up
to 32 in a program of one warp), and time advances ``STEPS`` samples at a time: a row's next
``STEPS`` inputs are loaded as one block (32 contiguous bytes a row), issued before this
block's stores, the recursion runs over the block's columns in registers, and ``g`` and the
decisions are stored as blocks. Runs on CUDA tensors and, with ``TRITON_INTERPRET=1``, on CPU
tensors (how the tests exercise it). Same math as the Numba smoother;
launched by :func:`smooth` below.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .lang import unzip, zip_columns
from .launch import launch

__all__ = ["smooth_kernel", "smooth"]


@triton.jit(do_not_specialize=["B", "T"])
def smooth_kernel(f_ptr, at_ptr, rt_ptr, zi_ptr, g_ptr, zeta_ptr, B, T, ROWS: tl.constexpr, STEPS: tl.constexpr):
    rows = tl.program_id(0) * ROWS + tl.arange(0, ROWS)
    ok = rows < B
    a = tl.load(at_ptr + rows, mask=ok, other=0.0)
    r = tl.load(rt_ptr + rows, mask=ok, other=0.0)
    prev = tl.load(zi_ptr + rows, mask=ok, other=0.0)
    base = rows.to(tl.int64)[:, None] * T
    j = tl.arange(0, STEPS)[None, :]
    t0 = 0
    blk = tl.load(f_ptr + base + j, mask=ok[:, None] & (j < T), other=0.0)
    while t0 < T:
        t1 = t0 + STEPS
        nxt = tl.load(f_ptr + base + t1 + j, mask=ok[:, None] & (t1 + j < T), other=0.0)  # ahead of the stores
        cols = unzip(blk, STEPS, ROWS)
        gs = ()
        zs = ()
        for s in tl.static_range(STEPS):
            att = cols[s] < prev
            beta = tl.where(att, a, r)
            prev = beta * cols[s] + (1.0 - beta) * prev
            gs = gs + (prev,)
            zs = zs + (att.to(tl.int8),)
        m = ok[:, None] & (t0 + j < T)
        tl.store(g_ptr + base + t0 + j, zip_columns(gs, STEPS, ROWS), mask=m)
        tl.store(zeta_ptr + base + t0 + j, zip_columns(zs, STEPS, ROWS), mask=m)
        blk = nxt
        t0 = t1


def smooth(
    f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor, g: torch.Tensor, zeta: torch.Tensor
) -> None:
    """Fill ``g (B,T)`` and ``zeta (B,T)`` (bool): rows of one warp, 32 bytes of each row a block."""
    B, T = f.shape
    rows = min(32, triton.next_power_of_2(B))
    grid = (triton.cdiv(B, rows),)
    kw = dict(f_ptr=f, at_ptr=at, rt_ptr=rt, zi_ptr=zi, g_ptr=g, zeta_ptr=zeta.view(torch.int8), B=B, T=T)
    launch(smooth_kernel, grid, ROWS=rows, STEPS=32 // f.element_size(), num_warps=1, **kw)
