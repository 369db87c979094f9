"""Autograd plumbing shared by the autograd Functions (:mod:`tritonlpc.core`,
:mod:`tritonlpc.recurrence`, :mod:`tritonlpc.audio.compressor`) and the public functions: when to
go through autograd at all, a fast ``Function.apply``, vmap folding, and which backend computes.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Tuple, Type, TypeVar

import torch
from torch.autograd import Function

from . import _dispatch
from ._validation import HALF_DTYPES

if TYPE_CHECKING:
    from .backends.base import Backend

__all__ = [
    "save_for_both",
    "needs_autograd",
    "precomputed_signature",
    "apply",
    "checked_apply",
    "backend_computing",
    "fused_ok",
    "flatten_vmap",
]

_is_wrapped: Callable[[torch.Tensor], bool] = torch._C._functorch.is_functorch_wrapped_tensor
_transforms_active: Callable[[], bool] = torch._C._are_functorch_transforms_active
_forward_ad = torch.autograd.forward_ad
_FunctionT = TypeVar("_FunctionT", bound=Type[Function])


def needs_autograd(*tensors: torch.Tensor) -> bool:
    """Whether a call on ``tensors`` must run through the autograd Function: a graph is being
    recorded for one of them, a forward-mode AD level or a ``torch.func`` transform is active,
    or one is a tensor subclass. Otherwise the public functions call the kernels directly,
    which saves ``Function.apply``'s bookkeeping (more than the kernel of a small call)."""
    if _transforms_active() or _forward_ad._current_level >= 0:
        return True
    grad = torch.is_grad_enabled()
    for t in tensors:
        if type(t) is not torch.Tensor or (grad and t.requires_grad):
            return True
    return False


def precomputed_signature(cls: _FunctionT) -> _FunctionT:
    """Class decorator for autograd Functions: store ``forward``'s signature on it.

    ``Function.apply`` binds its arguments with ``inspect.signature(cls.forward)`` on every
    call (for Functions with ``setup_context``), which rebuilds the signature each time (~25 µs,
    a third of a small call's overhead); ``inspect.signature`` returns a stored
    ``__signature__`` at once.
    """
    cls.forward.__signature__ = inspect.signature(cls.forward)  # type: ignore[attr-defined]  # a plain function
    return cls


def apply(cls: Type[Function], *args: Any) -> Any:
    """``cls.apply(*args)`` without the argument checks of a user's direct call
    (:func:`checked_apply`), for the package's own calls, whose arguments are prepared.

    ``forward``'s arguments are given positionally: without a ``torch.func`` transform or
    functorch wrapper around, it goes straight to torch's C++ ``apply``, skipping
    ``Function.apply``'s binding of the arguments to ``forward``'s signature (``inspect``, a few
    µs a call), which has nothing to do then."""
    if _transforms_active() or any(isinstance(t, torch.Tensor) and _is_wrapped(t) for t in args):
        return _function_apply(cls, *args)
    return super(Function, cls).apply(*args)  # type: ignore[misc]


_function_apply = Function.apply.__func__  # type: ignore[attr-defined]  # the unchecked classmethod


def checked_apply(cls: Type[Function], check: Callable[..., None], args: Any, kwargs: Any) -> Any:
    """A user's direct ``cls.apply(*args, **kwargs)`` (torchlpc's low-level API): the arguments
    bound to ``forward``'s signature and passed to ``check`` (which raises ``TypeError`` /
    ``ValueError`` naming the argument), then the Function applied."""
    bound = cls.forward.__signature__.bind(*args, **kwargs)  # type: ignore[attr-defined]
    bound.apply_defaults()
    check(*bound.args)
    return _function_apply(cls, *bound.args)


def backend_computing(t: torch.Tensor, name: str) -> Backend:
    """The backend for ``t``'s device, after checking that it computes in ``t``'s dtype (the
    low-level Functions take one dtype as it is; the public functions cast half inputs).

    Raises:
        TypeError: ``t`` (named ``name``) is a meta tensor (this runs kernels; the public
            functions propagate meta shapes), or float16/bfloat16 and the backend does not
            compute in it.
    """
    if t.is_meta:
        raise TypeError(
            f"{name} is a meta tensor; this Function runs kernels (sample_wise_lpc / linear_recurrence "
            "propagate meta shapes)"
        )
    backend = _dispatch.backend_object(t)
    if t.dtype in HALF_DTYPES and not backend.supports_half:
        raise TypeError(
            f"{name} has dtype {t.dtype}, which the {backend.name} backend does not compute in; "
            "cast the inputs to float32, or call sample_wise_lpc / linear_recurrence, which do"
        )
    return backend


def save_for_both(ctx: Any, inputs: Tuple[Any, ...], *tensors: torch.Tensor) -> None:
    """Save ``tensors`` for the backward and for forward-mode AD, and the number of inputs (the
    backward returns one gradient per input: ``hop`` may be left out)."""
    ctx.n_inputs = len(inputs)
    ctx.save_for_backward(*tensors)
    ctx.save_for_forward(*tensors)


def fused_ok(*tensors: Optional[torch.Tensor]) -> bool:
    """The fused, first-order-only backward kernel can be used (no graph, no functorch)."""
    if torch.is_grad_enabled():
        return False
    return not any(t is not None and _is_wrapped(t) for t in tensors)


def flatten_vmap(info: Any, in_dims: Tuple[Optional[int], ...], args: Tuple[Any, ...]) -> List[Any]:
    """Move vmapped dims to the front and fold them into the batch dimension."""
    out = []
    for t, d in zip(args, in_dims):
        if not isinstance(t, torch.Tensor):
            out.append(t)
            continue
        t = t.expand(info.batch_size, *t.shape) if d is None else t.movedim(d, 0)
        out.append(t.reshape(-1, *t.shape[2:]))
    return out
