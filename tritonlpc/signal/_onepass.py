"""The time-invariant fast path: one kernel pass over the signal with the coefficients read once.

On CPU (:mod:`tritonlpc.backends._numba_lti`), forward and backward: ``lfilter`` runs scipy's
transposed direct form II with the coefficients and the state in registers, ``sosfilt`` every
section of a cascade in the same pass (groups of four sections); the backward is one reverse
pass of the adjoint recursion (its derivation is in the kernel module), reading the saved input
and output, with the coefficient gradients summed over time inside the kernel. Double backward
(a backward that builds a graph) goes through the composite path
(:func:`._lti.lfilter_composite`, differentiable to any order). ``reverse=True`` runs a filter
from the last sample to the first on reversed NumPy views (no copy). On the Triton backend
(:mod:`tritonlpc.backends.triton.lti_pass`), real dtypes, the same forward and backward passes
(``lfilter`` of order <= 4; ``reverse`` on reversed views too), and for few long rows their
time-parallel schedule (:mod:`tritonlpc.backends.triton.lti_chunks`: chunks chained by ``A^L``).
One autograd Function per filter runs either kernel set (:class:`_Numba`, :class:`_Triton`: the
same four calls); a call that records no graph runs the kernels without it.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from torch import Tensor

from ..backends import _numba_lti as kernels
from ._lti import lfilter_composite

__all__ = ["kernel_for", "lfilter_onepass", "sos_onepass"]


_KERNEL_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def kernel_for(x: torch.Tensor, *others: Optional[torch.Tensor]) -> Optional[str]:
    """Which one-pass kernels run this call, if any: ``"numba"`` (CPU tensors on the Numba
    backend), ``"triton"`` (the Triton backend, real dtypes); ``None`` under torch.compile,
    forward-mode AD or a functorch transform (those take the composite path)."""
    if torch.compiler.is_compiling() or x.dtype not in _KERNEL_DTYPES:
        return None
    ts = [x, *(t for t in others if t is not None)]
    if any(torch._C._functorch.is_functorch_wrapped_tensor(t) for t in ts):  # vmap / grad transforms
        return None
    if torch.autograd.forward_ad._current_level >= 0:  # inside forward-mode AD: tensors may be dual
        return None
    from .. import backend_for  # noqa: PLC0415  (the public selection: use_backend, TRITONLPC_BACKEND)

    backend = backend_for(x)
    return backend if backend == "numba" or (backend == "triton" and not x.is_complex()) else None


def _graph_wanted(*ts: Optional[Tensor]) -> bool:
    """Whether autograd records this call (grad mode on, a tensor requires a gradient)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in ts)


def _data(t: torch.Tensor) -> torch.Tensor:
    """``t`` without autograd history and lazy conjugate/negative bits (each step only where it
    applies: a small call counts every torch op)."""
    return (t.detach() if t.requires_grad else t).resolve_conj().resolve_neg()


def _np(t: torch.Tensor) -> np.ndarray:
    """A C-contiguous NumPy view of ``t`` (a copy only where ``t`` is not contiguous)."""
    return _data(t).contiguous().numpy()


def _signal(t: torch.Tensor) -> np.ndarray:
    """A NumPy view of the signal ``t`` `(R, T)` with its own strides (rows of a time axis that
    was not last are read in place: no copy)."""
    return _data(t).numpy()


def _np_or_zeros(t: Optional[torch.Tensor], shape: Tuple[int, ...], like: np.ndarray) -> np.ndarray:
    """A writable copy of ``t`` (a state or its gradient, overwritten by the kernels), or zeros."""
    return _np(t).copy() if t is not None else np.zeros(shape, dtype=like.dtype)


def _coef_grad(g: Union[np.ndarray, torch.Tensor], c: torch.Tensor) -> torch.Tensor:
    """Per-row coefficient gradients ``g`` summed over rows when ``c`` is one filter for all."""
    out = torch.as_tensor(g)
    if c.shape[0] == 1:
        out = out.sum(0, keepdim=True)
    return out.to(c.dtype)


def _asked(
    need: Sequence[bool], grads: Sequence[Any], coefs: Sequence[torch.Tensor]
) -> Tuple[Optional[torch.Tensor], ...]:
    """A backward's result: ``grads`` where autograd asked for them (``ctx.needs_input_grad``,
    one entry per forward input; ``None`` elsewhere and for the inputs past ``grads``), the
    first ``len(coefs)`` being coefficient gradients (:func:`_coef_grad` of each)."""
    out: list = [None] * len(need)
    for i, g in enumerate(grads):
        if need[i]:
            out[i] = _coef_grad(g, coefs[i]) if i < len(coefs) else g
    return tuple(out)


def _composite_vjp(
    fn: Callable[..., Sequence[torch.Tensor]],
    inputs: Sequence[Optional[torch.Tensor]],
    grads: Sequence[Optional[torch.Tensor]],
) -> Tuple[Optional[torch.Tensor], ...]:
    """The backward of ``fn`` (the composite path) with its graph kept (double backward)."""
    with torch.enable_grad():
        outs = fn(*inputs)
    need = [(i, t) for i, t in enumerate(inputs) if t is not None and t.requires_grad]
    pairs = [(o, g) for o, g in zip(outs, grads) if g is not None]
    got = torch.autograd.grad(
        [o for o, _ in pairs],
        [t for _, t in need],
        [g for _, g in pairs],
        create_graph=True,
        allow_unused=True,
    )
    res: list = [None] * len(inputs)
    for (i, _), gi in zip(need, got):
        res[i] = gi
    return tuple(res)


def _time(v: np.ndarray, reverse: bool) -> np.ndarray:
    """Rows ``v`` `(R, T)` in processing order: a reversed view (no copy) when ``reverse``."""
    return v[:, ::-1] if reverse else v


def _signals(
    x: torch.Tensor, y: torch.Tensor, g: Optional[torch.Tensor], reverse: bool
) -> Tuple[np.ndarray, np.ndarray, np.ndarray, torch.Tensor, np.ndarray]:
    """The backward's ``x``, ``y``, output gradient and a new ``gx`` tensor, with NumPy views of
    all four in processing order."""
    xn = _time(_signal(x), reverse)
    gx = torch.empty(x.shape, dtype=x.dtype)
    gn = _time(_signal(g), reverse) if g is not None else np.zeros(x.shape, gx.numpy().dtype)
    return xn, _time(_signal(y), reverse), gn, gx, _time(gx.numpy(), reverse)


def _reversed(fn: Callable[..., Tuple[torch.Tensor, torch.Tensor]], reverse: bool):
    """``fn(*coefs, x, zi) -> (y, zf)`` run back in time when ``reverse`` (by flips: the
    composite path)."""
    if not reverse:
        return fn

    def run(*args: Any) -> Tuple[torch.Tensor, torch.Tensor]:
        *coefs, x, zi = args
        y, zf = fn(*coefs, x.flip(-1), zi)
        return y.flip(-1), zf

    return run


def _lfilter_pair(
    b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor]
) -> Tuple[torch.Tensor, torch.Tensor]:
    y, zf = lfilter_composite(b, a, x, zi, True)
    assert zf is not None
    return y, zf


def _or_zeros(t: Optional[torch.Tensor], *shape: int, like: torch.Tensor) -> torch.Tensor:
    """A copy of ``t`` (a state or its gradient, overwritten by the kernels), or zeros."""
    return t.clone() if t is not None else like.new_zeros(shape)


class _Numba:
    """The one-pass kernels on CPU tensors (NumPy views; ``reverse`` without copies)."""

    @staticmethod
    def lfilter(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], reverse: bool):
        xn = _time(_signal(x), reverse)
        z = _np_or_zeros(zi, (x.shape[0], b.shape[-1] - 1), xn)
        y = torch.empty(x.shape, dtype=x.dtype)
        kernels.tdf2(_np(b), _np(a), xn, z, _time(y.numpy(), reverse))
        return y, torch.from_numpy(z)

    @staticmethod
    def lfilter_adjoint(
        b: Tensor, a: Tensor, x: Tensor, y: Tensor, gy: Optional[Tensor], gzf: Optional[Tensor], reverse: bool
    ):
        xn, yn, gn, gx, gxn = _signals(x, y, gy, reverse)
        z = _np_or_zeros(gzf, (x.shape[0], b.shape[-1] - 1), xn)
        gb, ga = kernels.tdf2_adjoint(np.conj(_np(b)), np.conj(_np(a)), xn, yn, gn, z, gxn)
        return gb, ga, gx, torch.from_numpy(z)

    @staticmethod
    def sos(sos: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], reverse: bool, keep: bool):
        xn = _time(_signal(x), reverse)
        z = _np_or_zeros(zi, (x.shape[0], sos.shape[1], 2), xn)
        y = torch.empty(x.shape, dtype=x.dtype)
        kept = kernels.sos_cascade(_np(sos), xn, z, _time(y.numpy(), reverse), keep)  # for the backward
        return y, torch.from_numpy(z), kept

    @staticmethod
    def sos_adjoint(
        sos: Tensor, x: Tensor, kept: Any, y: Tensor, gy: Optional[Tensor], gzf: Optional[Tensor], reverse: bool
    ):
        xn, yn, gn, gx, gxn = _signals(x, y, gy, reverse)
        z = _np_or_zeros(gzf, (x.shape[0], sos.shape[1], 2), xn)
        return kernels.sos_cascade_adjoint(np.conj(_np(sos)), xn, kept, yn, gn, z, gxn), gx, torch.from_numpy(z)


def _lti_chunks() -> Any:
    from ..backends.triton import lti_chunks  # noqa: PLC0415  (imports Triton)

    return lti_chunks


class _Triton:
    """The one-pass kernels of the Triton backend (real dtypes; ``reverse`` on reversed views), and
    for few long rows their time-parallel schedule (:mod:`tritonlpc.backends.triton.lti_chunks`,
    chosen by its ``plan_lti``)."""

    plan_knobs: Dict[str, Any] = {}  # plan_lti's ``schedule`` / ``chunk_len``: tests force either schedule

    @classmethod
    def _chunk_len(cls, x: Tensor) -> int:
        """The chunk length of the time-parallel schedule for rows ``x`` `(R, T)` (0: one pass; also
        while a CUDA graph is captured: the schedule's overflow check reads a flag on the host)."""
        if x.is_cuda and torch.cuda.is_current_stream_capturing():
            return 0
        sm_count = torch.cuda.get_device_properties(x.device).multi_processor_count if x.is_cuda else 132
        return _lti_chunks().plan_lti(*x.shape, sm_count=sm_count, **cls.plan_knobs)

    @classmethod
    def lfilter(cls, b: Tensor, a: Tensor, x: Tensor, zi: Optional[Tensor], reverse: bool):
        z = _or_zeros(zi, x.shape[0], b.shape[-1] - 1, like=x)
        return _lti_chunks().tdf2(b, a, x, z, cls._chunk_len(x), reverse), z

    @classmethod
    def lfilter_adjoint(
        cls, b: Tensor, a: Tensor, x: Tensor, y: Tensor, gy: Optional[Tensor], gzf: Optional[Tensor], reverse: bool
    ):
        z = _or_zeros(gzf, x.shape[0], b.shape[-1] - 1, like=x)
        g = gy if gy is not None else torch.zeros_like(x)
        gx, gb, ga = _lti_chunks().tdf2_adjoint(b, a, x, y, g, z, cls._chunk_len(x), reverse)
        return gb, ga, gx, z

    @classmethod
    def sos(cls, sos: Tensor, x: Tensor, zi: Optional[Tensor], reverse: bool, keep: bool):
        R, T = x.shape
        z = _or_zeros(zi, R, sos.shape[1], 2, like=x)
        chunks = _lti_chunks()
        kept = x.new_empty(chunks.lti_pass.sos_keep_rows(sos.shape[1]), R, T) if keep else None
        return chunks.sos_cascade(sos, x, z, cls._chunk_len(x), kept, reverse), z, kept

    @classmethod
    def sos_adjoint(
        cls, sos: Tensor, x: Tensor, kept: Any, y: Tensor, gy: Optional[Tensor], gzf: Optional[Tensor], reverse: bool
    ):
        z = _or_zeros(gzf, x.shape[0], sos.shape[1], 2, like=x)
        g = gy if gy is not None else torch.zeros_like(x)
        gx, gsos = _lti_chunks().sos_cascade_adjoint(sos, x, kept, y, g, z, cls._chunk_len(x), reverse)
        return gsos, gx, z


_KERNELS: Dict[str, Any] = {"numba": _Numba, "triton": _Triton}  # the same four calls each


class _LfilterOnePass(torch.autograd.Function):
    """``(y, zf)`` of :func:`lfilter_onepass`."""

    @staticmethod
    def forward(
        ctx: Any,
        b: torch.Tensor,
        a: torch.Tensor,
        x: torch.Tensor,
        zi: Optional[torch.Tensor],
        reverse: bool,
        kernel: str,
    ):  # type: ignore[override]
        y, zf = _KERNELS[kernel].lfilter(b, a, x, zi, reverse)
        ctx.reverse, ctx.kernel = reverse, kernel
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(b, a, x, zi, y)
        return y, zf

    @staticmethod
    def backward(ctx: Any, gy: Optional[torch.Tensor], gzf: Optional[torch.Tensor]):  # type: ignore[override]
        b, a, x, zi, y = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the backward is wanted: the composite path
            return (*_composite_vjp(_reversed(_lfilter_pair, ctx.reverse), (b, a, x, zi), (gy, gzf)), None, None)
        grads = _KERNELS[ctx.kernel].lfilter_adjoint(b, a, x, y, gy, gzf, ctx.reverse)  # (gb, ga, gx, gzi)
        return _asked(ctx.needs_input_grad, grads, (b, a))


def lfilter_onepass(
    b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], kernel: str, reverse: bool = False
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y, zf)`` of one normalised filter over rows in one kernel pass: ``b`` `(1 or R, K+1)`,
    ``a`` `(1 or R, P+1)` with ``N = max(K, P) >= 1`` (at most 4 for ``kernel="triton"``),
    ``x`` `(R, T)`, ``zi`` `(R, N)` or ``None``; ``kernel`` from :func:`kernel_for`.
    ``reverse``: the filter runs from the last sample to the first (``y`` and ``x`` in time
    order; on the Numba kernels without copies)."""
    N = max(b.shape[-1], a.shape[-1]) - 1
    pad = torch.nn.functional.pad
    b, a = (c if c.shape[-1] == N + 1 else pad(c, (0, N + 1 - c.shape[-1])) for c in (b, a))
    if not _graph_wanted(b, a, x, zi):  # no autograd node: the kernels alone
        return _KERNELS[kernel].lfilter(b, a, x, zi, reverse)
    return _LfilterOnePass.apply(b, a, x, zi, reverse, kernel)


def sos_composite(sos: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor]) -> Tuple[torch.Tensor, torch.Tensor]:
    """The cascade section by section on the composite path: ``(y, zf)``."""
    y, zfs = x, []
    for s in range(sos.shape[1]):
        y, zf = _lfilter_pair(sos[:, s, :3], sos[:, s, 3:], y, None if zi is None else zi[:, s])
        zfs.append(zf)
    return y, torch.stack(zfs, 1)


class _SosOnePass(torch.autograd.Function):
    """``(y, zf)`` of :func:`sos_onepass`."""

    @staticmethod
    def forward(ctx: Any, sos: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], reverse: bool, kernel: str):  # type: ignore[override]
        y, zf, ctx.kept = _KERNELS[kernel].sos(sos, x, zi, reverse, any(ctx.needs_input_grad))
        ctx.reverse, ctx.kernel = reverse, kernel
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(sos, x, zi, y)
        return y, zf

    @staticmethod
    def backward(ctx: Any, gy: Optional[torch.Tensor], gzf: Optional[torch.Tensor]):  # type: ignore[override]
        sos, x, zi, y = ctx.saved_tensors
        if torch.is_grad_enabled():  # a graph of the backward is wanted: the composite path
            return (*_composite_vjp(_reversed(sos_composite, ctx.reverse), (sos, x, zi), (gy, gzf)), None, None)
        grads = _KERNELS[ctx.kernel].sos_adjoint(sos, x, ctx.kept, y, gy, gzf, ctx.reverse)  # (gsos, gx, gzi)
        return _asked(ctx.needs_input_grad, grads, (sos,))


def sos_onepass(
    sos: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor], kernel: str, reverse: bool = False
) -> Tuple[torch.Tensor, torch.Tensor]:
    """``(y, zf)`` of the cascade ``sos`` `(1 or R, n, 6)` (``sos[..., 3] == 1``) over rows ``x``
    `(R, T)` from ``zi`` `(R, n, 2)` or zero, every section in one kernel pass; ``kernel`` from
    :func:`kernel_for`, ``reverse`` as in :func:`lfilter_onepass`."""
    if not _graph_wanted(sos, x, zi):
        y, zf, _ = _KERNELS[kernel].sos(sos, x, zi, reverse, False)
        return y, zf
    return _SosOnePass.apply(sos, x, zi, reverse, kernel)
