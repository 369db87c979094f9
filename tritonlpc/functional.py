"""Public functions, with torchlpc's names, argument order and defaults.

Both functions validate their arguments, promote mixed dtypes to a common one (torch's type
promotion: float32 with float64 gives float64, real with complex gives complex), compute
float16/bfloat16 inputs in float32 (in the kernel, where the backend supports it) and return
the promoted dtype, then run the autograd
Function (eager) or the custom op (under ``torch.compile``).
"""

from __future__ import annotations

from typing import Optional, Tuple, Union

import torch

from . import _dispatch, _ops  # noqa: F401  (_ops registers torch.ops.tritonlpc.*)
from ._validation import HALF_DTYPES, check_flag, check_lpc, check_recurrence, common_dtype
from .core import LPC
from .recurrence import Recurrence

__all__ = ["sample_wise_lpc", "linear_recurrence"]


def _compute_dtype(dtype: torch.dtype, like: torch.Tensor) -> torch.dtype:
    """float16/bfloat16 run in float32 unless the backend loads them natively (accumulating in
    float32 inside the kernel, which saves the conversion copies)."""
    if dtype in HALF_DTYPES and (
        # under torch.compile the backend is not known until the custom op runs
        torch.compiler.is_compiling() or not getattr(_dispatch.backend_module(like), "SUPPORTS_HALF", False)
    ):
        return torch.float32
    return dtype


def sample_wise_lpc(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: Optional[torch.Tensor] = None,
    return_zf: bool = False,
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

    Returns:
        Tensor: ``y``, shape `(B, T)`; or ``(y, zf)`` if ``return_zf``, with
        ``zf = (y[T-1], ..., y[T-M])`` of shape `(B, M)` (values before the block come from
        ``zi`` when ``T < M``), so that feeding ``zf`` as the next block's ``zi`` continues
        the filter exactly.

    Raises:
        TypeError: an argument is not a tensor or has a non-floating dtype.
        ValueError: shapes or devices do not match, or ``M == 0``.
    """
    B, T, M = check_lpc(x, a, zi)
    check_flag("return_zf", return_zf)
    dtype = common_dtype(x, a, zi)
    cdtype = _compute_dtype(dtype, x)
    x_, a_ = x.to(cdtype), a.to(cdtype)
    zi_ = zi.to(cdtype) if zi is not None else x_.new_zeros(B, M)
    if torch.compiler.is_compiling():
        y = torch.ops.tritonlpc.allpole(x_, a_, zi_, False)
    else:
        y = LPC.apply(x_, a_, zi_)
    y = y.to(dtype)
    if not return_zf:
        return y
    if T >= M:
        zf = y[:, T - M :].flip(1)
    else:
        zf = torch.cat([zi_.to(dtype).flip(1), y], dim=1)[:, T:].flip(1)
    return y, zf


def linear_recurrence(a: torch.Tensor, x: torch.Tensor, zi: Optional[torch.Tensor] = None) -> torch.Tensor:
    r"""First-order linear recurrence ``h[n] = a[n] h[n-1] + x[n]``, ``h[-1] = zi``.

    Args:
        a (Tensor): decay coefficients, shape `(B, T)`.
        x (Tensor): input, shape `(B, T)`.
        zi (Tensor or None, optional): initial state, shape `(B,)`. Default: zeros.

    Returns:
        Tensor: ``h``, shape `(B, T)`. Differentiable in ``a``, ``x`` and ``zi``.
    """
    B, _ = check_recurrence(a, x, zi, names=("a", "x", "zi"))
    dtype = common_dtype(a, x, zi)
    cdtype = _compute_dtype(dtype, x)
    a_, x_ = a.to(cdtype), x.to(cdtype)
    zi_ = zi.to(cdtype) if zi is not None else x_.new_zeros(B)
    if torch.compiler.is_compiling():
        h = torch.ops.tritonlpc.allpole(x_, a_.unsqueeze(2), zi_.unsqueeze(1), True)
    else:
        h = Recurrence.apply(a_, x_, zi_)
    return h.to(dtype)
