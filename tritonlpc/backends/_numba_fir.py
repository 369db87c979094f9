"""Numba CPU kernels of the time-varying FIR filter ``y[n] = sum_k b[n, k] x[n-k]`` and its
backward, with per-sample taps or control frames interpolated in registers (``hop=``).

``x[m]`` for ``m < 0`` is ``zi[-m-1]`` (past inputs, newest first). The taps ``b`` are read through
:mod:`._numba_frames` (per-sample array or frames tuple), interval by interval, one tap at a time:
a tap's frame pair is loaded once per interval. The backward writes ``dL/dx = sum_k conj(b[n+k, k])
g[n+k]`` (scattered from each ``n``), ``dL/dzi`` and ``dL/db[n, k] = g[n] conj(x[n-k])`` (for frames:
summed per interval in registers, in a fixed order). Rows run in parallel (``prange``); every
entry point has a parallel and a serial twin (:mod:`._numba_support`).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np
import torch
from numba import prange

from ._numba_frames import (
    frames_arg,
    frames_grad,
    frames_grad_arg,
    gadd,
    gflush,
    interval_up,
    line,
    on_line,
    order,
    weight,
)
from ._numba_support import jit_twins, launch, launch_parallel

__all__ = ["fir_forward", "fir_backward"]


def _fwd_py(x, b, zi, y):
    """``y (B,T) = sum_k b[:, n, k] x[:, n-k]``; ``y`` is overwritten (taps summed from ``k = 0`` up)."""
    B, T = x.shape
    K1 = order(b)
    for row in prange(B):
        n = 0
        while n < T:
            base, r0, r1 = interval_up(b, n, T)
            for k in range(K1):
                c = line(b, row, base, k)
                for r in range(r0, r1):
                    m = base + r
                    past = x[row, m - k] if m >= k else zi[row, k - m - 1]  # (inline: a helper was 80x slower)
                    v = on_line(c, b, row, m, k, weight(b, r)) * past
                    y[row, m] = v if k == 0 else y[row, m] + v
            n = base + r1


fir_fwd, fir_fwd_serial = jit_twins(_fwd_py, "_fir_fwd")


def _bwd_py(g, x, b, zi, gx, gb, gzi, need_b):
    """Gradients of :func:`fir_fwd` for the output gradient ``g``: ``gx`` is overwritten (tap 0
    stores, interval by interval, before any later tap adds to a sample), ``gzi`` (zeros on entry)
    accumulates, ``gb`` receives the taps' gradient (only if ``need_b``)."""
    B, T = g.shape
    K1 = order(b)
    zero = np.zeros(1, gx.dtype)[0]
    for row in prange(B):
        n = 0
        while n < T:
            base, r0, r1 = interval_up(b, n, T)
            for k in range(K1):
                c = line(b, row, base, k)
                e = (zero, zero)  # the tap's frame-gradient sums over the interval
                for r in range(r0, r1):
                    m, w = base + r, weight(b, r)
                    gm = g[row, m]
                    v = on_line(c, b, row, m, k, w).conjugate() * gm
                    if k == 0:
                        gx[row, m] = v
                    elif m >= k:
                        gx[row, m - k] += v
                    else:
                        gzi[row, k - m - 1] += v
                    if need_b:
                        past = x[row, m - k] if m >= k else zi[row, k - m - 1]
                        e = gadd(gb, e, row, m, k, gm * past.conjugate(), w)
                if need_b:
                    gflush(gb, e, row, base, k)
            n = base + r1


fir_bwd, fir_bwd_serial = jit_twins(_bwd_py, "_fir_bwd")


# --------------------------------------------------------------------------- launching (torch tensors)
def _view(t: torch.Tensor) -> np.ndarray:
    return t.detach().resolve_conj().resolve_neg().numpy()


def _taps(b: torch.Tensor, hop: Optional[int]) -> Any:
    return _view(b) if hop is None else frames_arg(_view(b), hop, b.dtype)


def _launch(parallel: Any, serial: Any, B: int, *args: Any) -> None:
    if B > 1:
        launch_parallel(parallel, serial, *args)
    else:  # one row: waking the thread pool only costs
        launch(serial, *args)


def fir_forward(x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int]) -> torch.Tensor:
    """``y (B,T)`` of ``x (B,T)``, taps ``b`` `(B,T,K+1)` (or frames `(B,F,K+1)` with ``hop``) and
    past inputs ``zi (B,K)``, all CPU tensors of one dtype."""
    y = torch.empty(x.shape, dtype=x.dtype)
    if x.numel():
        _launch(fir_fwd, fir_fwd_serial, x.shape[0], _view(x), _taps(b, hop), _view(zi), y.numpy())
    return y


def fir_backward(
    g: torch.Tensor, x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int], need_b: bool
) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """``(dL/dx, dL/db or None, dL/dzi)`` of :func:`fir_forward` for ``g = dL/dy``."""
    B, T = x.shape
    gx, gzi = torch.empty(B, T, dtype=x.dtype), torch.zeros(zi.shape, dtype=x.dtype)
    gb = torch.empty(b.shape, dtype=x.dtype) if need_b else None
    acc = None
    grads: Any = gb.numpy() if gb is not None else np.zeros((1, 1, 1), _view(x).dtype)
    if hop is not None:  # frames: summed per interval into acc (2, B, F, K+1), see ._numba_frames
        acc = torch.zeros(2, *b.shape, dtype=x.dtype) if need_b else torch.zeros(2, 1, 1, 1, dtype=x.dtype)
        grads = frames_grad_arg(acc, hop)
    if x.numel():
        args = (_view(g), _view(x), _taps(b, hop), _view(zi), gx.numpy(), grads, gzi.numpy(), need_b)
        _launch(fir_bwd, fir_bwd_serial, B, *args)
    if acc is not None and gb is not None:
        frames_grad(acc, gb)
    return gx, gb, gzi
