"""Numba CPU backend: fused all-pole forward and single-pass fused backward.

Implements the contract of :mod:`tritonlpc.backends` on CPU tensors (:class:`NumbaBackend`, one
instance :data:`BACKEND`) (float32, float64,
complex64, complex128; one kernel body for all, compiled per dtype on first use and cached on
disk, so a new process does not recompile). Tensors are viewed as NumPy arrays with their own
strides: an expanded (stride-0) ``a`` is read in place, never copied. Conjugation and negation
of ``a`` happen in registers.

Schedules (chosen per call by :func:`_pick_schedule`, or forced with ``schedule=``):

``"rows"``
    Parallel over batch rows (``prange``); each thread walks its rows through time, two rows
    at a time so that two independent dependency chains overlap (the recursion is
    latency-bound, not throughput-bound). Orders 1 and 2 have specialised kernels that keep
    the state in registers; any order keeps the two newest outputs in registers. Taps are
    summed oldest first with fused multiply-adds (``fastmath={"contract"}``, no
    reassociation), so one multiply-add separates an output from the next. This changes the
    rounding; against the float64 reference the error is the same or smaller than with the
    unfused newest-first sum (``bench/rounding.py``, B = 4, T = 4096, M = 1, 2, 3, 8, forward
    and reverse: float32 max error / max(|y|, 1) from 0.7-4.6e-7 to 0.5-2.4e-7; complex64
    the same or smaller in every case).
``"chunked"``
    Parallel over time as well, for small batches on many cores: time is cut into chunks;
    (1) per chunk, in parallel, the chunk's affine map (the zero-state end state and the M x M
    transition, in one pass of M + 1 lanes); (2) per row, a short sequential carry across chunks starting from
    ``zi`` (or from the zero state at the end, for the reverse filter); (3) per chunk, in
    parallel, the outputs re-run from the carried state. It does about ``M + 2`` times the
    work of ``"rows"``, so it only pays when cores outnumber rows by more than that.

    Rounding: the chunked schedule sums in another order than the sequential one, and the
    automatic choice (schedule and ``chunk_len``) depends on ``numba.get_num_threads()``, so
    results can differ in the last bits with the thread count (within the tested tolerances:
    float32 2e-4, float64 1e-9 of the largest output). Force ``schedule``/``chunk_len`` for
    results that do not depend on it.

    Unstable filters: each chunk map keeps its transition as a mantissa and a power-of-two
    exponent, renormalised while the map is built, and is applied to a state as
    ``2**e (P^ s) + h`` (:mod:`._numba_scale`): it overflows only where its product with the
    actual state does, so wherever the sequential recursion stays finite (a tiny state through
    a stretch of growth, silent input, an all-zero input) the chunked schedule does too. On a
    filter whose maps never grow past ``2**32`` the exponent stays 0 and the result is the same
    bit for bit as with plain maps.

``summary`` (the slice map of :mod:`tritonlpc.distributed`, and the chunked schedule's phase 1)
runs a slice once with ``M + 1`` lanes advanced together (the zero-state response to the input
and the ``M`` unit-state responses); its adjoint ``k`` is one reverse pass.

Kernels: :mod:`._numba_forward`, :mod:`._numba_reverse` (the backward's transposed form is
described there), :mod:`._numba_smooth`.
"""

from __future__ import annotations

import functools
from typing import Any, Dict, Optional, Tuple

import numba
import numpy as np
import torch
from torch import Tensor

from . import _numba_forward as fwd
from . import _numba_reverse as rev
from ._numba_frames import frames_arg, frames_grad, frames_grad_arg
from ._numba_smooth import smooth_rows, smooth_rows_serial
from ._numba_support import launch, launch_parallel, parallel_allowed
from .base import AdjointCall, Backend, SliceMap

__all__ = ["NumbaBackend", "BACKEND"]


# --------------------------------------------------------------------------- schedule + wrappers
def _threads() -> int:
    """Threads a parallel kernel would use here (1 where parallel kernels cannot run)."""
    return numba.get_num_threads() if parallel_allowed() else 1


def _pick_schedule(B: int, T: int, M: int, schedule: Optional[str], chunk_len: Optional[int]) -> Tuple[str, int]:
    threads = _threads()
    if schedule is None:
        # The chunked form does ~(M + 2)x the work; it pays when idle cores outnumber that.
        rows_busy = (B + 1) // 2
        schedule = "chunked" if T >= _CHUNKED_FROM and threads >= (M + 3) * max(rows_busy, 1) else "rows"
    if schedule not in ("rows", "chunked"):
        raise ValueError(f"schedule must be 'rows' or 'chunked', got {schedule!r}")
    if chunk_len is None:
        chunk_len = max(256, -(-T * max(B, 1) // (4 * threads)))
    if chunk_len < 1:
        raise ValueError(f"chunk_len must be >= 1, got {chunk_len}")
    return schedule, int(chunk_len)


_SERIAL_BELOW = 1 << 15  # samples x order under which one thread beats waking the pool
_CHUNKED_FROM = 4096  # shorter signals are never split in time


def _parallel_pays(B: int, T: int, M: int) -> bool:
    return B > 1 and B * T * M >= _SERIAL_BELOW and _threads() > 1


def _np(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of ``t`` (same memory and strides; lazy conjugate/negative bits resolved)."""
    if t.requires_grad:
        t = t.detach()
    if t.is_conj() or t.is_neg():
        t = t.resolve_conj().resolve_neg()
    return t.numpy()


@functools.cache
def _sign(dtype: torch.dtype, negative: bool):
    """-1 or +1 as a NumPy scalar of the real dtype matching ``dtype`` (keeps float32 kernels in float32)."""
    real = dtype.to_real() if dtype.is_complex else dtype
    return torch.tensor(-1.0 if negative else 1.0, dtype=real).numpy()[()]


@functools.cache
def _tiny(dtype: torch.dtype):
    """The smallest normal number of ``dtype``'s real dtype, as a NumPy scalar of that dtype."""
    real = dtype.to_real() if dtype.is_complex else dtype
    return torch.tensor(torch.finfo(real).tiny, dtype=real).numpy()[()]


@functools.cache
def _dummy(dtype: torch.dtype, ndim: int) -> np.ndarray:
    """A stand-in for an array the kernel is told not to touch (never written)."""
    return torch.zeros((1,) * ndim, dtype=dtype).numpy()


def _small(B: int, T: int, M: int, schedule: Optional[str], chunk_len: Optional[int]) -> bool:
    """Too small for anything but one thread walking the rows (decided without asking Numba
    for its thread count: that alone costs as much as a tenth of such a call)."""
    return schedule is None and chunk_len is None and T < _CHUNKED_FROM and B * T * M < _SERIAL_BELOW


# (rows, rows on one thread, chunked, chunked on one thread)
_FORWARD = (fwd.fwd_rows, fwd.fwd_rows_serial, fwd.fwd_chunked, fwd.fwd_chunked_serial)
_REVERSE = (rev.rev_rows, rev.rev_rows_serial, rev.rev_chunked, rev.rev_chunked_serial)


def _knobs(*, schedule: Optional[str] = None, chunk_len: Optional[int] = None) -> Tuple[Optional[str], Optional[int]]:
    """The knobs of a call, see :class:`NumbaBackend` (an unknown name raises ``TypeError``)."""
    return schedule, chunk_len


def _run(
    kernels: Tuple,
    shape: Tuple[int, ...],
    args: Tuple,
    tiny_of: Optional[torch.dtype],
    knobs: Dict[str, Any],
    align: int = 1,
) -> None:
    """Launch one of ``kernels`` (``_FORWARD`` or ``_REVERSE``) on ``args`` for ``shape = (B, T, M)``
    with this call's schedule (``knobs``, see :func:`_knobs`; the chunked kernels take the chunk
    length, rounded up to a multiple of ``align``, after ``args``, preceded by ``_tiny(tiny_of)``
    unless ``tiny_of`` is ``None``).

    ``knobs`` is passed as the dict it is: calling with an empty ``**knobs`` unpacked into
    keyword parameters took 0.18 us longer in a micro-benchmark (loaded 2-core machine)."""
    schedule, chunk_len = _knobs(**knobs) if knobs else (None, None)
    B, T, M = shape
    rows, rows_serial, chunked, chunked_serial = kernels
    if _small(B, T, M, schedule, chunk_len):
        launch(rows_serial, *args)
        return
    sched, L = _pick_schedule(B, T, M, schedule, chunk_len)
    if sched == "chunked":
        L = -(-L // align) * align
        extra = () if tiny_of is None else (_tiny(tiny_of),)
        launch_parallel(chunked, chunked_serial, *args, *extra, L)
    elif _parallel_pays(B, T, M):
        launch_parallel(rows, rows_serial, *args)
    else:
        launch(rows_serial, *args)


class NumbaBackend(Backend):
    """The Numba CPU backend (:class:`tritonlpc.backends.base.Backend` on CPU tensors).

    Kernel knobs (keyword arguments of ``forward``/``backward``/``reverse``): ``schedule``
    (``"rows"`` | ``"chunked"``) and ``chunk_len`` override the automatic choice.

    Control frames (``hop``) are interpolated in registers where the kernels read ``a``, and the
    backward reduces ``dL/da`` to the frames as it goes (:mod:`._numba_frames`; the chunked
    schedule's chunks are whole intervals of ``hop`` samples), in a fixed order.
    """

    name = "numba"
    supports_half = False
    supports_hop = True

    def _empty(self, like: torch.Tensor, shape: Tuple[int, ...], dtype: Optional[torch.dtype] = None) -> torch.Tensor:
        # CPU only: no device to pass; torch parses unpacked sizes faster than a tuple (~0.5 us)
        return torch.empty(*shape, dtype=like.dtype if dtype is None else dtype)

    def _forward(self, x: Tensor, a: Tensor, zi: Tensor, y: Tensor, conj_a: bool, neg_a: bool, **knobs: Any) -> None:
        hop = knobs.pop("hop", None) if knobs else None
        coefs = _np(a) if hop is None else frames_arg(_np(a), hop, x.dtype)
        args = (_np(x), coefs, _np(zi), y.numpy(), conj_a, _sign(x.dtype, neg_a))
        _run(_FORWARD, (*x.shape, a.shape[2]), args, x.dtype, knobs)

    def _adjoint(self, c: AdjointCall, **knobs: Any) -> None:
        g, a, y, zi, u, grad_a, grad_zi, conj_a, neg_a = c
        need_a, need_zi = grad_a is not None, grad_zi is not None
        hop = knobs.pop("hop", None)
        coefs: Any = _np(a)
        grads: Any = grad_a.numpy() if need_a else _dummy(g.dtype, 3)  # type: ignore[union-attr]  # need_a: given
        acc = None
        if hop is not None:  # frames: accumulated per interval into acc (2, B, F, M), see ._numba_frames
            coefs = frames_arg(coefs, hop, g.dtype)
            acc = torch.zeros(2, *a.shape, dtype=g.dtype) if need_a else torch.zeros(2, 1, 1, 1, dtype=g.dtype)
            grads = frames_grad_arg(acc, hop)
        args = (
            _np(g),
            coefs,
            _np(y) if need_a else _dummy(g.dtype, 2),  # type: ignore[arg-type]  # need_a: Backend.backward checked y, zi
            _np(zi) if need_a else _dummy(g.dtype, 2),  # type: ignore[arg-type]
            u.numpy(),
            grads,
            grad_zi.numpy() if need_zi else _dummy(g.dtype, 2),  # type: ignore[union-attr]  # need_zi: grad_zi is given
            need_a,
            need_zi,
            conj_a,
            _sign(g.dtype, neg_a),
        )
        _run(_REVERSE, (*g.shape, a.shape[2]), args, None, knobs, hop or 1)
        if acc is not None and need_a:
            frames_grad(acc, grad_a)  # type: ignore[arg-type]  # need_a: given

    def summary(
        self, v: Tensor, a: Tensor, *, neg_a: bool = False, adjoint: bool = False, hop: Optional[int] = None
    ) -> SliceMap:
        """The slice map, in one pass over the slice, its transition as a mantissa and exponent
        (see :meth:`Backend.summary`; frames with ``hop`` interpolated as the kernels read them)."""
        (B, T), M = v.shape, a.shape[2]
        sgn = _sign(v.dtype, neg_a)
        coefs = _np(a) if hop is None else frames_arg(_np(a), hop, v.dtype)
        if adjoint:
            k = torch.zeros(B, M, dtype=v.dtype)
            if B and T:
                self._launch_rows(rev.rev_summary, rev.rev_summary_serial, B, T, M, _np(v), coefs, k.numpy(), True, sgn)
            return SliceMap(None, k, None)
        P = torch.eye(M, dtype=v.dtype).expand(B, M, M).contiguous()
        h = torch.zeros(B, M, dtype=v.dtype)
        e = torch.zeros(B, dtype=torch.int32)
        if B and T:
            args = (_np(v), coefs, P.numpy(), h.numpy(), e.numpy(), False, sgn, _tiny(v.dtype))
            self._launch_rows(fwd.fwd_summary, fwd.fwd_summary_serial, B, T, M, *args)
        return SliceMap(P, h, e)

    @staticmethod
    def _launch_rows(parallel: object, serial: object, B: int, T: int, M: int, *args: object) -> None:
        if _parallel_pays(B, T, M):
            launch_parallel(parallel, serial, *args)
        else:
            launch(serial, *args)

    def _smooth(self, f: Tensor, at: Tensor, rt: Tensor, zi: Tensor, g: Tensor, zeta: Tensor) -> None:
        B = f.shape[0]
        out = g.numpy()
        one = np.ones(1, dtype=out.dtype)[0]
        args = (*(t.detach().numpy() for t in (f, at, rt, zi)), out, zeta.view(torch.uint8).numpy(), one)
        if B > 1:
            launch_parallel(smooth_rows, smooth_rows_serial, *args)
        else:  # one row: waking the thread pool only costs
            launch(smooth_rows_serial, *args)


BACKEND = NumbaBackend()
"""The backend object (:func:`tritonlpc._dispatch.backend_object` returns it for CPU tensors)."""
