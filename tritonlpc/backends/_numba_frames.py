"""How the Numba kernels read coefficients and write their gradient: per sample, or from control
frames interpolated in registers (``hop=``; the math is :func:`tritonlpc._reference.interpolate`).

A kernel's ``a`` argument is either the per-sample array `(B,T,M)` or the tuple
``(frames (B,F,M), hop, w (hop,), log2(hop) or -1)`` (:func:`frames_arg`), and its ``grad_a`` argument either
the per-sample array or ``(acc (2,B,F,M), hop, w, log2(hop) or -1)`` (:func:`frames_grad_arg`). The kernels read
through :func:`at` / :func:`order` and write through :func:`put`, which Numba
resolves at compile time by the argument's type: per-sample calls compile to the plain array
accesses (the same code as without these helpers), frame calls to a separate specialisation.

The rows kernels of orders 1 and 2 walk time interval by interval instead, so that a frame pair
is loaded once per interval and a sample costs one multiply-add per coefficient, about what a
per-sample load costs::

    base, r0, _, r1 = interval(a, n, 0, T)       # per-sample: (0, n, 0, T), one "interval"
    c = line(a, b, base, i)                      # frames: (a_f[j], a_f[j+1] - a_f[j])
    for r in range(r0, r1):
        a_n = on_line(c, a, b, base + r, i, weight(a, r))   # the same bits as at(a, b, base + r, i)

and sum their frame gradients in registers over the interval (:func:`gadd`, then one
:func:`gflush` per interval). The other kernels (orders above 2, the chunked schedule, slice
maps) find each sample's interval and weight at every read (``at``, ``put``: several times slower).

Frame gradients are sums; they are accumulated without races and in a fixed order: sample
``n`` of interval ``j = n // hop`` adds ``(1 - w) g`` to ``acc[0, b, j]`` and ``w g`` to
``acc[1, b, j + 1]``, so each entry of ``acc`` is written by the samples of one interval only,
in the kernel's (fixed) order; a chunked schedule aligns its chunks to whole intervals. The
frames' gradient is ``acc[0] + acc[1]`` (:func:`frames_grad`).
"""

from __future__ import annotations

import functools
from typing import Tuple

import numpy as np
import torch
from numba import types
from numba.extending import overload

from .._reference import interpolation_weights
from ._numba_support import jit

__all__ = [
    "at",
    "order",
    "put",
    "interval",
    "weight",
    "line",
    "on_line",
    "gadd",
    "gflush",
    "frames_arg",
    "frames_grad_arg",
    "frames_grad",
]


def at(a, b, n, i):  # typed by Numba
    """The coefficient ``a[b, n, i]`` (interpolated from the frames for a frames tuple)."""
    return a[b, n, i]


def order(a):  # typed by Numba
    """The filter order ``M`` of a coefficient argument."""
    return a.shape[2]


def put(ga, b, n, j, v):  # typed by Numba
    """Store ``dL/da[b, n, j] = v`` (per sample), or add it to the frames' accumulators."""
    ga[b, n, j] = v


# --------------------------------------------------------------------------- interval walks (typed by Numba)
def interval(a, n, t0, t1):
    """``(base, r, lo, hi)``: sample ``n = base + r`` of the interval ``[base + lo, base + hi)``,
    the part of ``n``'s interval inside ``[t0, t1)`` (per-sample: ``(0, n, t0, t1)``, all of them).
    Up in time: ``range(r, hi)``; down: ``range(r, lo - 1, -1)``."""
    return 0, n, t0, t1


def weight(a, r):
    """The interpolation weight ``r / hop`` of offset ``r`` in an interval (per-sample: unused)."""
    return 0


def line(a, b, base, i):
    """Coefficient ``i`` of row ``b`` over the interval starting at ``base``: ``(a_f[j], a_f[j+1] -
    a_f[j])`` (per-sample: unused)."""
    return 0


def on_line(c, a, b, n, i, w):
    """``a[b, n, i]``: ``c[0] + w c[1]`` from :func:`line` and :func:`weight` (per-sample: the load)."""
    return a[b, n, i]


def gadd(ga, s, b, n, j, v, w):
    """Add ``dL/dA[b, n, j] = v`` (weight ``w`` of ``n``) to the interval's register sums ``s``
    (two, to frames ``j`` and ``j + 1``); returns them (per-sample: stores ``v``, returns ``s``)."""
    ga[b, n, j] = v
    return s


def gflush(ga, s, b, base, j):
    """Add an interval's sums ``s`` (:func:`gadd`, started at ``(0, 0)``) to the accumulators
    (per-sample: nothing)."""


@jit
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
def _flush(ga, s, b, base, j):
    acc, hop, w, shift = ga
    k = _interval(base, hop, shift)[0]
    acc[0, b, k, j] += s[0]
    acc[1, b, k + 1, j] += s[1]


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


@overload(interval, inline="always")
def _interval_overload(a, n, t0, t1):
    if isinstance(a, types.Array):
        return lambda a, n, t0, t1: (0, n, t0, t1)

    def part(a, n, t0, t1):
        hop = a[1]
        r = _interval(n, hop, a[3])[1]
        base = n - r
        return base, r, max(0, t0 - base), min(hop, t1 - base)

    return part


@overload(weight, inline="always")
def _weight(a, r):
    if isinstance(a, types.Array):
        return lambda a, r: 0
    return lambda a, r: a[2][r]


@overload(line, inline="always")
def _line(a, b, base, i):
    if isinstance(a, types.Array):
        return lambda a, b, base, i: 0

    def frame_pair(a, b, base, i):
        f, hop, w, shift = a
        j = _interval(base, hop, shift)[0]
        lo = f[b, j, i]
        return lo, f[b, j + 1, i] - lo

    return frame_pair


@overload(on_line, inline="always")
def _on_line(c, a, b, n, i, w):
    if isinstance(a, types.Array):
        return lambda c, a, b, n, i, w: a[b, n, i]
    return lambda c, a, b, n, i, w: c[0] + w * c[1]


@overload(gadd, inline="always")
def _gadd(ga, s, b, n, j, v, w):
    if isinstance(ga, types.Array):

        def store(ga, s, b, n, j, v, w):
            ga[b, n, j] = v
            return s

        return store

    def add(ga, s, b, n, j, v, w):
        hi = w * v
        return s[0] + (v - hi), s[1] + hi

    return add


@overload(gflush, inline="always")
def _gflush(ga, s, b, base, j):
    if isinstance(ga, types.Array):
        return lambda ga, s, b, base, j: None

    # through a jitted call: inlined into the kernels' IR, these stores were dropped (Numba 0.68)
    return lambda ga, s, b, base, j: _flush(ga, s, b, base, j)


@functools.lru_cache(maxsize=16)
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
