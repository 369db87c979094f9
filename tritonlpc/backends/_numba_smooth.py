"""Numba CPU kernel of the attack/release gain smoother (data-dependent forward only).

One sequential walk through time per row (rows in parallel)::

    zeta[n] = f[n] < g[n-1]                       (attack: the gain is falling)
    beta[n] = alpha_attack if zeta[n] else alpha_release
    g[n]    = beta[n] f[n] + (1 - beta[n]) g[n-1],     g[-1] = zi

The backward pass needs no kernel of its own: given ``zeta`` it is the reverse scan of the
linear recurrence, run by the tritonlpc backend (see :mod:`tritonlpc.audio.compressor`). The
kernels are launched by :meth:`tritonlpc.backends.numba_cpu.NumbaBackend._smooth`.
"""

from __future__ import annotations

from numba import prange

from ._numba_support import jit_twins

__all__ = ["smooth_rows", "smooth_rows_serial"]


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


smooth_rows, smooth_rows_serial = jit_twins(_smooth_rows_py, "_smooth_rows")
