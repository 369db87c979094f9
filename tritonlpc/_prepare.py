"""The boundary where every call is decided once: validated tensors, result and compute dtype,
and the backend object. :mod:`tritonlpc.functional`, :mod:`tritonlpc.audio` and
:mod:`tritonlpc.distributed` prepare their calls here and hand the result down; the autograd
Functions and the backends trust what they get.

The half-precision rule (the one place it is written): float16/bfloat16 inputs are computed in
float32 unless the backend computes them natively (``Backend.supports_half``; it accumulates in
float32 inside the kernel), and results are returned in the promoted input dtype.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Callable, Concatenate, Optional, ParamSpec, Tuple, TypeVar

import torch

from . import _dispatch
from ._validation import HALF_DTYPES

if TYPE_CHECKING:
    from .backends.base import Backend

__all__ = ["prepare", "common_dtype", "compute_dtype", "eager_backend", "as_dtype", "flag_variant"]

P = ParamSpec("P")
R = TypeVar("R")


def common_dtype(*tensors: Optional[torch.Tensor]) -> torch.dtype:
    """The dtype the public functions compute in: torch's promotion of the inputs' dtypes.

    Real and complex inputs promote to complex; float32 and float64 to float64.
    """
    dtype = None
    for t in tensors:
        if t is not None:
            d = t.dtype
            if dtype is None:
                dtype = d
            elif d is not dtype:  # dtypes are singletons: promote only when they differ
                dtype = torch.promote_types(dtype, d)
    if dtype is None:
        raise ValueError("common_dtype needs at least one tensor")
    return dtype


def compute_dtype(dtype: torch.dtype, native_half: bool = False) -> torch.dtype:
    """The dtype kernels run in for inputs of ``dtype``: float16/bfloat16 become float32 unless
    ``native_half`` (a backend that computes them as they are)."""
    return torch.float32 if dtype in HALF_DTYPES and not native_half else dtype


def eager_backend(t: torch.Tensor) -> Optional[Backend]:
    """The backend for ``t``'s device; ``None`` under torch.compile (backend state cannot be
    traced: the custom ops pick it when they run) and for meta tensors (shapes only)."""
    if t.is_meta or torch.compiler.is_compiling():
        return None
    return _dispatch.backend_object(t)


def prepare(
    like: torch.Tensor, *tensors: Optional[torch.Tensor], native_half: bool = True
) -> Tuple[torch.dtype, torch.dtype, Optional[Backend]]:
    """Decide a call on ``tensors`` (already validated; ``None`` entries skipped) whose kernels run
    on ``like``'s device.

    Returns ``(dtype, compute, backend)``: the result's dtype (:func:`common_dtype`), the dtype
    the kernels run in (:func:`compute_dtype`; ``native_half=False``: half precision in float32
    whatever the backend, as the sharded maps need the range), and the backend
    (:func:`eager_backend`; ``None`` under torch.compile and for meta tensors).

    Raises:
        RuntimeError: the requested backend cannot run on that device.
    """
    dtype = common_dtype(*tensors)
    backend = eager_backend(like)
    compute = compute_dtype(dtype, native_half and backend is not None and backend.supports_half)
    return dtype, compute, backend


def as_dtype(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t.to(dtype)`` (the same tensor when it already has that dtype, without the call)."""
    return t if t.dtype == dtype else t.to(dtype)


def flag_variant(impl: Callable[Concatenate[bool, P], R], flag: bool, name: str, doc: str) -> Callable[P, R]:
    """The public function ``name`` (docstring ``doc``): ``impl(flag, ...)``, with ``impl``'s
    signature less its first parameter. Two public functions that differ only in a flag decided
    at the boundary (``time_varying_iir`` and ``time_varying_biquad``, which also checks that the
    coefficients are a biquad's) share one definition, their signature written once."""

    def call(*args: P.args, **kwargs: P.kwargs) -> R:
        return impl(flag, *args, **kwargs)

    sig = inspect.signature(impl)
    call.__signature__ = sig.replace(parameters=list(sig.parameters.values())[1:])  # type: ignore[attr-defined]
    call.__name__ = call.__qualname__ = name
    call.__module__, call.__doc__ = impl.__module__, doc
    return call
