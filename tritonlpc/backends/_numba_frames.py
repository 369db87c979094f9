"""How the Numba kernels read coefficients and write their gradient: per sample, or from control
frames interpolated in registers (``hop=``; the math is :func:`tritonlpc._reference.interpolate`).

A kernel's ``a`` argument is either the per-sample array `(B,T,M)` or the tuple
``(frames (B,F,M), hop, w (hop,), log2(hop) or -1)`` (:func:`frames_arg`), and its ``grad_a`` argument either
the per-sample array or ``(acc (2,B,F,M), hop, w, log2(hop) or -1)`` (:func:`frames_grad_arg`). The kernels read
through :func:`at` / :func:`order` and write through :func:`put` / :func:`put2`, which Numba
resolves at compile time by the argument's type: per-sample calls compile to the plain array
accesses (the same code as without these helpers), frame calls to a separate specialisation.

Frame gradients are sums; they are accumulated without races and in a fixed order: sample
``n`` of interval ``j = n // hop`` adds ``(1 - w) g`` to ``acc[0, b, j]`` and ``w g`` to
``acc[1, b, j + 1]``, so each entry of ``acc`` is written by the samples of one interval only,
in the kernel's (fixed) order; a chunked schedule aligns its chunks to whole intervals. The
frames' gradient is ``acc[0] + acc[1]`` (:func:`frames_grad`).
"""

from __future__ import annotations

from typing import Tuple

import numpy as np
import torch
from numba import types
from numba.extending import overload

from .._reference import interpolation_weights
from ._numba_support import jit

__all__ = ["at", "order", "put", "put2", "frames_arg", "frames_grad_arg", "frames_grad"]


def at(a, b, n, i):  # typed by Numba
    """The coefficient ``a[b, n, i]`` (interpolated from the frames for a frames tuple)."""
    return a[b, n, i]


def order(a):  # typed by Numba
    """The filter order ``M`` of a coefficient argument."""
    return a.shape[2]


def put(ga, b, n, j, v):  # typed by Numba
    """Store ``dL/da[b, n, j] = v`` (per sample), or add it to the frames' accumulators."""
    ga[b, n, j] = v


def put2(ga, b0, b1, n, j, v0, v1):  # typed by Numba
    """:func:`put` for two rows at once; ``b1 == b0`` (an odd batch's last row, run paired with
    itself) is written once."""
    ga[b0, n, j] = v0
    ga[b1, n, j] = v1


@jit(inline="always")
def _interval(n, hop, shift):
    """``(n // hop, n % hop)`` for ``n >= 0``: a shift and a mask when ``hop`` is a power of two
    (``shift = log2(hop)``; an integer division costs tens of cycles, several times a sample),
    else the division (``shift = -1``)."""
    if shift >= 0:
        return n >> shift, n & (hop - 1)
    j = n // hop
    return j, n - j * hop


@jit
def _interpolated(a, b, n, i):
    f, hop, w, shift = a
    j, r = _interval(n, hop, shift)
    lo = f[b, j, i]
    return lo + w[r] * (f[b, j + 1, i] - lo)


@jit
def _accumulate(ga, b, n, j, v):
    acc, hop, w, shift = ga
    k, r = _interval(n, hop, shift)
    hi = w[r] * v
    acc[0, b, k, j] += v - hi
    acc[1, b, k + 1, j] += hi


# The overloads are inlined into the kernels (Numba IR): the per-sample forms are then the plain
# array accesses, with nothing between the kernel's loop and the load or store; the frame forms
# are calls of the jitted functions above.
@overload(at, inline="always")
def _at(a, b, n, i):
    if isinstance(a, types.Array):
        return lambda a, b, n, i: a[b, n, i]
    return lambda a, b, n, i: _interpolated(a, b, n, i)


@overload(order, inline="always")
def _order(a):
    if isinstance(a, types.Array):
        return lambda a: a.shape[2]
    return lambda a: a[0].shape[2]


@overload(put, inline="always")
def _put(ga, b, n, j, v):
    if isinstance(ga, types.Array):

        def store(ga, b, n, j, v):
            ga[b, n, j] = v

        return store
    return lambda ga, b, n, j, v: _accumulate(ga, b, n, j, v)


@overload(put2, inline="always")
def _put2(ga, b0, b1, n, j, v0, v1):
    if isinstance(ga, types.Array):

        def store(ga, b0, b1, n, j, v0, v1):
            ga[b0, n, j] = v0
            ga[b1, n, j] = v1

        return store

    def accumulate(ga, b0, b1, n, j, v0, v1):
        _accumulate(ga, b0, n, j, v0)
        if b1 != b0:
            _accumulate(ga, b1, n, j, v1)

    return accumulate


def _weights(hop: int, dtype: torch.dtype) -> np.ndarray:
    return interpolation_weights(hop, dtype).numpy()


Frames = Tuple[np.ndarray, int, np.ndarray, int]


def _shift(hop: int) -> int:
    return hop.bit_length() - 1 if hop & (hop - 1) == 0 else -1


def frames_arg(frames: np.ndarray, hop: int, dtype: torch.dtype) -> Frames:
    """The kernels' coefficient argument for control ``frames`` every ``hop`` samples."""
    return frames, hop, _weights(hop, dtype), _shift(hop)


def frames_grad_arg(acc: torch.Tensor, hop: int) -> Frames:
    """The kernels' ``grad_a`` argument accumulating into ``acc (2,B,F,M)`` (zeros)."""
    return acc.numpy(), hop, _weights(hop, acc.dtype), _shift(hop)


def frames_grad(acc: torch.Tensor, out: torch.Tensor) -> None:
    """``out (B,F,M) = acc[0] + acc[1]``: the frames' gradient."""
    torch.add(acc[0], acc[1], out=out)
