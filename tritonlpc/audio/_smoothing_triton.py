"""Triton kernel of the attack/release gain smoother (data-dependent forward only).

Each program owns ``BLOCK`` rows (one vector lane per row) and walks time sequentially, so the
rows advance in lockstep; the decision ``f[n] < g[n-1]`` is a per-lane select. Runs on CUDA
tensors and, with ``TRITON_INTERPRET=1``, on CPU tensors (how the tests exercise it). Same
math as :mod:`tritonlpc.audio._smoothing_numba`.
"""

from __future__ import annotations

import contextlib

import torch
import triton
import triton.language as tl

__all__ = ["smooth"]

_BLOCK = 32


@triton.jit
def _smooth_kernel(f_ptr, at_ptr, rt_ptr, zi_ptr, out_ptr, zeta_ptr, B, T, BLOCK: tl.constexpr):
    pid = tl.program_id(0)
    rows = pid * BLOCK + tl.arange(0, BLOCK)
    mask = rows < B
    a = tl.load(at_ptr + rows, mask=mask, other=0.0)
    r = tl.load(rt_ptr + rows, mask=mask, other=0.0)
    prev = tl.load(zi_ptr + rows, mask=mask, other=0.0)
    base = rows.to(tl.int64) * T
    for t in range(0, T):
        x = tl.load(f_ptr + base + t, mask=mask, other=0.0)
        att = x < prev
        beta = tl.where(att, a, r)
        prev = beta * x + (1.0 - beta) * prev
        tl.store(out_ptr + base + t, prev, mask=mask)
        tl.store(zeta_ptr + base + t, att.to(tl.int8), mask=mask)


def smooth(f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor):
    """``f (B,T)``, ``at, rt, zi (B,)`` of one real dtype -> ``(g (B,T), zeta (B,T) bool)``."""
    B, T = f.shape
    f, at, rt, zi = (t.contiguous() for t in (f, at, rt, zi))
    out = torch.empty(B, T, dtype=f.dtype, device=f.device)
    zeta = torch.empty(B, T, dtype=torch.int8, device=f.device)
    if B and T:
        ctx = torch.cuda.device(f.device) if f.device.type == "cuda" else contextlib.nullcontext()
        with ctx:
            _smooth_kernel[(triton.cdiv(B, _BLOCK),)](f, at, rt, zi, out, zeta, B, T, BLOCK=_BLOCK)
    return out, zeta.view(torch.bool)
