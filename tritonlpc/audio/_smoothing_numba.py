"""Numba CPU kernel of the attack/release gain smoother (data-dependent forward only).

One sequential walk through time per row (rows in parallel)::

    zeta[n] = f[n] < g[n-1]                       (attack: the gain is falling)
    beta[n] = alpha_attack if zeta[n] else alpha_release
    g[n]    = beta[n] f[n] + (1 - beta[n]) g[n-1],     g[-1] = zi

The backward pass needs no kernel of its own: given ``zeta`` it is the reverse scan of the
linear recurrence, run by the tritonlpc backend (see :mod:`tritonlpc.audio.compressor`).
"""

from __future__ import annotations

import numpy as np
import torch
from numba import prange

from ..backends._numba_support import jit, launch, launch_parallel, variant

__all__ = ["smooth"]


def _smooth_rows_py(f, at, rt, zi, out, zeta, one):  # pragma: no cover - compiled
    B, T = f.shape
    for b in prange(B):
        prev = zi[b]
        a = at[b]
        r = rt[b]
        for t in range(T):
            x = f[b, t]
            if x < prev:
                beta = a
                zeta[b, t] = 1
            else:
                beta = r
                zeta[b, t] = 0
            prev = beta * x + (one - beta) * prev
            out[b, t] = prev


_smooth_rows = jit(parallel=True)(variant(_smooth_rows_py, "_smooth_rows"))
_smooth_rows_serial = jit(variant(_smooth_rows_py, "_smooth_rows_serial"))


def smooth(f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor):
    """``f (B,T)``, ``at, rt, zi (B,)`` of one real dtype on the CPU -> ``(g (B,T), zeta (B,T) bool)``."""
    B, T = f.shape
    out = torch.empty(B, T, dtype=f.dtype)
    zeta = torch.empty(B, T, dtype=torch.uint8)
    if B and T:
        one = np.ones(1, dtype=out.numpy().dtype)[0]
        arrs = [t.detach().contiguous().numpy() for t in (f, at, rt, zi)]
        args = (*arrs, out.numpy(), zeta.numpy(), one)
        if B > 1:
            launch_parallel(_smooth_rows, _smooth_rows_serial, *args)
        else:  # one row: waking the thread pool only costs
            launch(_smooth_rows_serial, *args)
    return out, zeta.view(torch.bool)
