"""Argument checks for :mod:`tritonlpc.audio` (errors name the argument and what was seen)."""

from __future__ import annotations

from typing import Optional, Sequence, Tuple, Union

import torch

from .._validation import check_kind

__all__ = ["tensor", "same_device", "as_tensor_like", "positive_int"]


def tensor(name: str, t: object, ndim: Optional[int] = None, dims: str = "", *, real: bool = False) -> torch.Tensor:
    """``t`` must be a floating (or complex, unless ``real``) tensor with ``ndim`` dimensions."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{' of shape ' + dims if dims else ''}, got {type(t).__name__}")
    if real and not t.dtype.is_floating_point:
        raise TypeError(f"{name} must have a real floating point dtype, got {t.dtype}")
    check_kind(name, t)
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f"{name} must have shape {dims} ({ndim} dimensions), got shape {tuple(t.shape)}")
    return t


def same_device(named: Sequence[Tuple[str, Optional[torch.Tensor]]]) -> None:
    """All given tensors live on one device."""
    present = [(n, t) for n, t in named if t is not None]
    first_name, first = present[0]
    for name, t in present[1:]:
        if t.device != first.device:
            raise ValueError(f"{name} is on {t.device} but {first_name} is on {first.device}; all inputs must be on one device")


def as_tensor_like(name: str, value: Union[float, torch.Tensor], like: torch.Tensor, *, real: bool = True) -> torch.Tensor:
    """A Python number becomes a tensor of ``like``'s dtype/device; a tensor is checked."""
    if isinstance(value, bool) or not isinstance(value, (int, float, torch.Tensor)):
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(value).__name__}")
    if isinstance(value, torch.Tensor):
        return tensor(name, value, real=real)
    dtype = like.dtype if like.dtype.is_floating_point else torch.get_default_dtype()
    return torch.tensor(float(value), dtype=dtype, device=like.device)


def positive_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return value
