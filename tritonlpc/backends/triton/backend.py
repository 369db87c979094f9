"""The Triton backend object: the all-pole filter, its adjoint and a slice's map as parallel scans.

Implements the contract of :mod:`tritonlpc.backends` on CUDA tensors, and on CPU tensors when
Triton's interpreter is on (``TRITON_INTERPRET=1``, how CI tests these kernels). A call is
prepared once (:class:`~.launch.Call`: real views, strides, the coefficient's sign and
conjugation as scalars: compile-time constants of the tile kernels, runtime values of the
others), planned (:func:`~.plan.plan`) and run on its path's phases
(:data:`TILE`, :data:`WALK`) by the one launcher (:func:`~.launch.run`).

The backward runs the same schedules on the adjoint recursion (transposed companion maps,
reading row ``n + 1`` of ``a`` with a shifted load), with ``grad_a[n, j] = -u[n] conj(y[n-1-j])``
fused into the output pass and ``grad_zi`` from the state at the start. Everything is read
through strides in place (an expanded ``a`` costs nothing; a lazily conjugated/negated ``a``
becomes a runtime sign), offsets are int64, complex tensors are read through real views with
complex arithmetic in the kernel, float16/bfloat16 are loaded natively and accumulated in
float32, float64/complex128 in float64. No atomics (identical bits run to run), no host
synchronisation (CUDA-graph capturable), launches on the tensors' device and torch's current
stream. Scratch per call in three-phase: ``B C (M^2 + M)`` values for the chunk maps and
``B C M`` start states. Control frames (``hop``, :mod:`.frames`) are interpolated in registers where
the kernels load ``a``, and the backward reduces ``dL/da`` to the frames (interval sums per tile or
chunk, then per frame in a fixed order): no `(B, T, M)` tensor either way.

Half precision error (measured against float64 on the same rounded inputs, see
``tests/test_triton_backend.py``): relative L2 about 3.5e-3 for bfloat16 and 3e-4 for
float16 — the rounding of the stored outputs; the float32 accumulation adds nothing visible.
"""

from __future__ import annotations

import contextlib
import functools
from typing import Any, ContextManager, Optional

import torch

from ..._dispatch import interpreter_enabled
from ..base import AdjointCall, Backend, SliceMap
from .frames import frames_grad
from .launch import Call, Phases, coefficients, is_recording, real, run
from .plan import Plan, plan, plan_summary
from .smooth import smooth
from .tile_pass import tile_pass
from .tile_summary import tile_carry, tile_summary
from .walk_pass import walk_pass
from .walk_summary import slice_maps, walk_carry, walk_summary

__all__ = ["TritonBackend", "BACKEND", "TILE", "WALK"]

TILE = Phases(tile_summary, tile_carry, tile_pass)
"""Orders ``M <= 4`` (complex128 ``M <= 3``): coalesced tiles scanned across threads."""
WALK = Phases(walk_summary, walk_carry, walk_pass)
"""Higher orders: per-lane walks, a lane a chunk."""


@functools.cache
def _sm_count(index: int) -> int:
    return torch.cuda.get_device_properties(index).multi_processor_count


def _device_knobs(t: torch.Tensor) -> dict:
    if t.device.type == "cuda":
        return dict(sm_count=_sm_count(t.device.index or 0))
    return dict(interpreted=interpreter_enabled())


def _on_device(t: torch.Tensor) -> ContextManager:
    """Launch on the tensor's own GPU (Triton launches on the current device and stream)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


class TritonBackend(Backend):
    """The Triton backend (:class:`tritonlpc.backends.base.Backend` on CUDA tensors, and on CPU
    tensors under ``TRITON_INTERPRET=1``).

    Kernel knobs (keyword arguments of ``forward``/``backward``/``reverse``): ``schedule``,
    ``block_t``, ``steps``, ``chunk_len``, ``lanes`` of :func:`~.plan.plan`; ``summary`` takes
    ``chunk_len`` and ``lanes`` (tests force small tiles and chunks with these).
    """

    name = "triton"
    supports_half = True
    supports_hop = True

    def check_device(self, t: torch.Tensor) -> None:
        if t.device.type != "cuda" and not interpreter_enabled() and not is_recording():
            raise RuntimeError("the triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")

    def _forward(
        self, x: torch.Tensor, a: torch.Tensor, zi: torch.Tensor, y: torch.Tensor, conj_a: bool, neg_a: bool,
        **knobs: Any,
    ) -> None:  # fmt: skip
        (B, T), M, hop = x.shape, a.shape[2], knobs.pop("hop", None)
        p = plan(B, T, M, x.dtype, **_device_knobs(x), **knobs)
        ar, sign, conj = coefficients(a, conj_a, neg_a)
        call = Call(p, False, real(x), ar, real(y), sign, conj, x.is_complex(), start=real(zi), hop=hop or 0)
        with _on_device(x):
            run(call, TILE if p.path == "tile" else WALK)

    def _adjoint(self, c: AdjointCall, **knobs: Any) -> None:
        g, a, y, zi, u, grad_a, grad_zi, conj_a, neg_a = c
        (B, T), M, hop = g.shape, a.shape[2], knobs.pop("hop", None)
        p = plan(B, T, M, g.dtype, **_device_knobs(g), reverse=True, hop=hop, **knobs)
        ar, sign, conj = coefficients(a, conj_a, neg_a)
        need_a = grad_a is not None  # then Backend.backward checked that y and zi are given
        call = Call(
            p, True, real(g), ar, real(u), sign, conj, g.is_complex(),
            y=real(y) if need_a and y is not None else None, zi=real(zi) if need_a and zi is not None else None,
            ga=real(grad_a) if grad_a is not None else None, gz=real(grad_zi) if grad_zi is not None else None,
            hop=hop or 0,
        )  # fmt: skip
        part = None
        if hop and grad_a is not None:  # the kernels write interval sums, reduced to the frames after
            _, _, units, slots = call.frame_layout()
            call.ga = part = call.scratch(B, units, slots, 2, M * call.W)
        with _on_device(g):
            run(call, TILE if p.path == "tile" else WALK)
            if part is not None and grad_a is not None:
                frames_grad(call, part, real(grad_a))

    def _smooth(
        self, f: torch.Tensor, at: torch.Tensor, rt: torch.Tensor, zi: torch.Tensor, g: torch.Tensor, zeta: torch.Tensor
    ) -> None:
        with _on_device(f):
            smooth(f, at, rt, zi, g, zeta)

    def summary(
        self,
        v: torch.Tensor,
        a: torch.Tensor,
        *,
        neg_a: bool = False,
        adjoint: bool = False,
        hop: Optional[int] = None,
        **knobs: Any,
    ) -> SliceMap:
        """The affine map of a slice in one pass over it (:mod:`tritonlpc.distributed.summary`).

        ``v (B,T)`` is ``x`` (forward: returns ``SliceMap(P^ (B,M,M), h (B,M), e (B,))``:
        ``s_end = P^ 2**e s_start + h``) or ``g = dL/dy`` (``adjoint``: returns ``(None, k (B,M))``, ``k`` = ``grad_zi`` of
        the backward from a zero state, in torch's conjugate convention); ``a (B,T,M)`` any
        strides, ``A = -a`` if ``neg_a``; or control frames ``(B,F,M)`` every ``hop`` samples
        (interpolated where the walk kernels load them). Results in ``v``'s dtype; ``T`` may be 0 or
        below ``M``. Knobs: ``chunk_len``, ``lanes`` (the walk chunks the slice is cut into; any order).
        """
        self.check_device(v)
        (B, T), M = v.shape, a.shape[2]
        if T == 0 or B == 0:
            k = v.new_zeros(B, M)
            if adjoint:
                return SliceMap(None, k, None)
            eye = torch.eye(M, dtype=v.dtype, device=v.device).expand(B, M, M).clone()
            return SliceMap(eye, k, torch.zeros(B, dtype=torch.int32, device=v.device))
        p: Plan = plan_summary(B, T, M, v.dtype, **_device_knobs(v), **knobs)
        ar, sign, conj = coefficients(a, adjoint, neg_a)
        call = Call(p, adjoint, real(v), ar, None, sign, conj, v.is_complex(), hop=hop or 0)
        with _on_device(v):
            P, h, e = slice_maps(call)
        h = _entries(h, v)
        if not adjoint:
            assert P is not None and e is not None  # forward: the map has a transition
            return SliceMap(_entries(P, v).to(v.dtype), h.to(v.dtype), e)
        # one more adjoint step: C[0]^H lam[0] (with frames, a[0] is frame 0 itself)
        A0 = (a[:, 0].conj() if v.is_complex() else a[:, 0]).to(h.dtype)
        k = (A0 if neg_a else -A0) * h[:, :1]
        k[:, :-1] += h[:, 1:]
        return SliceMap(None, k.to(v.dtype), None)


def _entries(t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """A kernel's real scratch ``(..., M W)`` as entries (complex for complex ``like``), in the
    accumulation precision."""
    if like.is_complex():
        return torch.view_as_complex(t.unflatten(-1, (-1, 2)).contiguous())
    return t


BACKEND = TritonBackend()
"""The backend object (:func:`tritonlpc._dispatch.backend_object` returns it for CUDA tensors)."""
