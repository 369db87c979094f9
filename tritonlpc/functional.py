"""Public functions, with torchlpc's names, argument order and defaults.

Both functions validate their arguments, promote mixed dtypes to a common one (torch's type
promotion: float32 with float64 gives float64, real with complex gives complex), compute
float16/bfloat16 inputs in float32 (in the kernel, where the backend supports it) and return
the promoted dtype, then run the autograd Function (eager, when something is to be
differentiated), the backend kernel directly (eager, nothing to differentiate) or the custom op
(under ``torch.compile``).
"""

from __future__ import annotations

from typing import Literal, Optional, Tuple, Union, overload

import torch

from . import _ops  # noqa: F401  (_ops registers torch.ops.tritonlpc.*)
from ._autograd import apply, needs_autograd
from ._prepare import as_dtype, prepare
from ._reference import end_state
from ._validation import check_flag, check_hop, check_lpc, check_recurrence
from .core import LPC
from .recurrence import Recurrence

__all__ = ["sample_wise_lpc", "linear_recurrence", "lpc_checked"]


@overload
def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    return_zf: Literal[False] = ...,
    *,
    hop: Optional[int] = ...,
) -> torch.Tensor: ...
@overload
def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    *,
    return_zf: Literal[True],
    hop: Optional[int] = ...,
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def sample_wise_lpc(
    x: torch.Tensor, a: torch.Tensor, zi: Optional[torch.Tensor], return_zf: Literal[True], *, hop: Optional[int] = ...
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = ...,
    return_zf: bool = ...,
    *,
    hop: Optional[int] = ...,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]: ...


def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
    *,
    hop: Optional[int] = None,
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Time-varying all-pole (LPC) filter, sample by sample.

    .. math:: y[n] = x[n] - \sum_{i=1}^{M} a[n, i-1]\, y[n-i], \qquad y[-k] = z_i[k-1]

    Differentiable in ``x``, ``a`` and ``zi`` (also double backward, forward-mode AD and
    ``torch.func`` transforms). Runs on the backend :func:`tritonlpc.backend_for` names.

    Args:
        x (Tensor): input signal, shape `(B, T)`.
        a (Tensor): filter coefficients, shape `(B, T, M)`; ``a[:, n, i-1]`` multiplies
            ``y[n-i]``. May be expanded (e.g. ``a0[:, None].expand(-1, T, -1)`` for a
            time-invariant filter): it is read in place, never copied.
        zi (Tensor or None, optional): initial conditions ``(y[-1], ..., y[-M])``, shape
            `(B, M)`. Default: zeros.
        return_zf (bool, optional): also return the final conditions. Default: ``False``.
        hop (int or None, optional): ``a`` holds control frames `(B, F, M)` at samples
            ``0, hop, 2 hop, ...`` (``F >= (T - 1) // hop + 2``), linearly interpolated to every
            sample, ``a[n] = a_f[j] + (n/hop - j)(a_f[j+1] - a_f[j])``, ``j = n // hop``
            (:func:`tritonlpc._reference.interpolate`); the gradient w.r.t. ``a`` is the frames'.
            The Numba backend interpolates inside its kernels (no `(B, T, M)` tensor, forward or
            backward); the Triton backend interpolates in torch first. Default: per-sample ``a``.

    Returns:
        Tensor: ``y``, shape `(B, T)`; or ``(y, zf)`` if ``return_zf``, with
        ``zf = (y[T-1], ..., y[T-M])`` of shape `(B, M)` (values before the block come from
        ``zi`` when ``T < M``), so that feeding ``zf`` as the next block's ``zi`` continues
        the filter exactly.

    Raises:
        TypeError: an argument is not a tensor or has a non-floating dtype; ``hop`` is not an int.
        ValueError: shapes or devices do not match, ``M == 0``, ``hop <= 0`` or too few frames.
    """
    if hop is not None:
        hop = check_hop(hop)
    check_lpc(x, a, zi, hop=hop)
    return lpc_checked(x, a, zi, check_flag("return_zf", return_zf), hop)


def lpc_checked(
    x: torch.Tensor, a: torch.Tensor, zi: Optional[torch.Tensor], return_zf: bool, hop: Optional[int] = None
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """:func:`sample_wise_lpc` on arguments another public function already validated (as
    :func:`tritonlpc._validation.check_lpc` does): prepares the call and runs it."""
    B, _, M = a.shape
    dtype, cdtype, backend = prepare(x, x, a, zi)
    x_, a_ = as_dtype(x, cdtype), as_dtype(a, cdtype)
    zi_ = as_dtype(zi, cdtype) if zi is not None else x_.new_zeros(B, M)
    if backend is None:  # torch.compile, or meta tensors (the op's fake implementation)
        y = torch.ops.tritonlpc.allpole(x_, a_, zi_, False, hop or 0)
    elif needs_autograd(x_, a_, zi_):
        y = apply(LPC, x_, a_, zi_, False) if hop is None else apply(LPC, x_, a_, zi_, False, hop)
    else:  # nothing to differentiate: the kernel directly
        y = backend.forward(x_, a_, zi_) if hop is None else backend.forward(x_, a_, zi_, hop=hop)
    y = as_dtype(y, dtype)
    return (y, end_state(y, as_dtype(zi_, dtype))) if return_zf else y


def linear_recurrence(
    a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor] = None, *, hop: Optional[int] = None
) -> torch.Tensor:
    r"""First-order linear recurrence ``h[n] = a[n] h[n-1] + x[n]``, ``h[-1] = zi``.

    Args:
        a (Tensor): decay coefficients, shape `(B, T)`.
        x (Tensor): input, shape `(B, T)`.
        zi (Tensor or None, optional): initial state, shape `(B,)`. Default: zeros.
        hop (int or None, optional): ``a`` holds control frames `(B, F)` every ``hop`` samples,
            interpolated as in :func:`sample_wise_lpc`. Default: per-sample ``a``.

    Returns:
        Tensor: ``h``, shape `(B, T)`. Differentiable in ``a``, ``x`` and ``zi``.
    """
    if hop is not None:
        hop = check_hop(hop)
    B, _ = check_recurrence(a, x, zi, names=("a", "x", "zi"), hop=hop)
    dtype, cdtype, backend = prepare(x, a, x, zi)
    a_, x_ = as_dtype(a, cdtype), as_dtype(x, cdtype)
    zi_ = as_dtype(zi, cdtype) if zi is not None else x_.new_zeros(B)
    if backend is None:
        h = torch.ops.tritonlpc.allpole(x_, a_.unsqueeze(2), zi_.unsqueeze(1), True, hop or 0)
    elif needs_autograd(a_, x_, zi_):
        h = apply(Recurrence, a_, x_, zi_) if hop is None else apply(Recurrence, a_, x_, zi_, hop)
    else:
        h = backend.forward(x_, a_.unsqueeze(2), zi_.unsqueeze(1), neg_a=True, hop=hop)
    return as_dtype(h, dtype)
