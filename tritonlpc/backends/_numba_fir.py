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
    interval,
    line,
    on_line,
    order,
    weight,
)
from ._numba_support import jit_twins, launch, launch_parallel

__all__ = ["fir_forward", "fir_backward"]


def _fir_py(x, b, zi, g, out, gb, gzi, backward, need_b):
    """One walk over rows, intervals and taps (``prange`` over rows), two bodies:

    * forward (``backward`` false): ``out (B,T) = sum_k b[:, n, k] x[:, n-k]``, taps summed from
      ``k = 0`` up (``g``, ``gb``, ``gzi`` unused);
    * backward, for ``g = dL/dy``: ``out = dL/dx`` (tap 0 stores, interval by interval, before a
      later tap adds to a sample), ``gzi`` (zeros on entry) accumulates, ``gb`` receives the taps'
      gradient if ``need_b``.
    """
    B, T = x.shape
    K1 = order(b)
    zero = np.zeros(1, out.dtype)[0]
    for row in prange(B):
        n = 0
        while n < T:
            base, r0, _, r1 = interval(b, n, 0, T)
            for k in range(K1):
                c = line(b, row, base, k)
                e = (zero, zero)  # the tap's frame-gradient sums over the interval
                for r in range(r0, r1):
                    m, w = base + r, weight(b, r)
                    bk = on_line(c, b, row, m, k, w)
                    past = x[row, m - k] if m >= k else zi[row, k - m - 1]  # (inline: a helper was 80x slower)
                    if not backward:
                        v = bk * past
                        out[row, m] = v if k == 0 else out[row, m] + v
                        continue
                    gm = g[row, m]
                    v = bk.conjugate() * gm
                    if k == 0:
                        out[row, m] = v
                    elif m >= k:
                        out[row, m - k] += v
                    else:
                        gzi[row, k - m - 1] += v
                    if need_b:
                        e = gadd(gb, e, row, m, k, gm * past.conjugate(), w)
                if backward and need_b:
                    gflush(gb, e, row, base, k)
            n = base + r1


fir_rows, fir_rows_serial = jit_twins(_fir_py, "_fir_rows")


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


def _grads(b: torch.Tensor, hop: Optional[int], need_b: bool, dtype: torch.dtype) -> Tuple[Any, ...]:
    """``(dL/db or None, frame accumulators or None, the kernel's gb argument)``; the forward
    passes the same argument types (``need_b`` false), so both share one compiled kernel."""
    gb = torch.empty(b.shape, dtype=dtype) if need_b else None
    if hop is None:
        return gb, None, gb.numpy() if gb is not None else torch.zeros(1, 1, 1, dtype=dtype).numpy()
    acc = torch.zeros(2, *b.shape, dtype=dtype) if need_b else torch.zeros(2, 1, 1, 1, dtype=dtype)
    return gb, acc, frames_grad_arg(acc, hop)  # summed per interval into acc, see ._numba_frames


def fir_forward(x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int]) -> torch.Tensor:
    """``y (B,T)`` of ``x (B,T)``, taps ``b`` `(B,T,K+1)` (or frames `(B,F,K+1)` with ``hop``) and
    past inputs ``zi (B,K)``, all CPU tensors of one dtype."""
    y = torch.empty(x.shape, dtype=x.dtype)
    if x.numel():
        none = torch.zeros(1, 1, dtype=x.dtype).numpy()  # the backward's arrays, untouched
        args = (_view(x), _taps(b, hop), _view(zi), none, y.numpy(), _grads(b, hop, False, x.dtype)[2], none)
        _launch(fir_rows, fir_rows_serial, x.shape[0], *args, False, False)
    return y


def fir_backward(
    g: torch.Tensor, x: torch.Tensor, b: torch.Tensor, zi: torch.Tensor, hop: Optional[int], need_b: bool
) -> Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]:
    """``(dL/dx, dL/db or None, dL/dzi)`` of :func:`fir_forward` for ``g = dL/dy``."""
    gx, gzi = torch.empty(x.shape, dtype=x.dtype), torch.zeros(zi.shape, dtype=x.dtype)
    gb, acc, grads = _grads(b, hop, need_b, x.dtype)
    if x.numel():
        args = (_view(x), _taps(b, hop), _view(zi), _view(g), gx.numpy(), grads, gzi.numpy())
        _launch(fir_rows, fir_rows_serial, x.shape[0], *args, True, need_b)
    if acc is not None and gb is not None:
        frames_grad(acc, gb)
    return gx, gb, gzi
