"""scipy.signal's zero-phase ``filtfilt`` and ``sosfiltfilt`` (``method='pad'``) on tensors.

The signal is extended at both ends (``padtype``), filtered forward from the steady state of
the step response scaled by its first sample, filtered backward the same way from the last
sample of the forward pass, and the extension is cut off (a view of the second pass's output).
Copies: the padded signal (one ``torch.cat``) and nothing else on the Numba one-pass kernels,
which run the backward pass on reversed NumPy views (forward and gradient); the composite path
(torch.compile, forward-mode AD, the Triton backend) reverses with ``Tensor.flip`` (torch has no
negative strides). The coefficients are expanded over time, never copied.
"""

from __future__ import annotations

from typing import Optional

import torch

from ._lti import (
    ArrayLike,
    Rows,
    lfilter_rows,
    normalize,
)
from .filtering import prepare_ba, prepare_sos, sos_rows, sos_steady_state_zi, steady_state_zi

__all__ = ["filtfilt", "sosfiltfilt"]

PADTYPES = ("odd", "even", "constant", None)


def _edge(padtype: Optional[str], padlen: Optional[int], T: int, ntaps: int) -> int:
    """The extension length at each end (scipy's ``_validate_pad``)."""
    if padtype not in PADTYPES:
        raise ValueError(f"padtype must be 'odd', 'even', 'constant' or None, got {padtype!r}")
    if padlen is not None and (isinstance(padlen, bool) or not isinstance(padlen, int)):
        raise TypeError(f"padlen must be an int or None, got {type(padlen).__name__}")
    if padlen is not None and padlen < 0:
        raise ValueError(f"padlen must be >= 0, got {padlen}")
    edge = 0 if padtype is None else (3 * ntaps if padlen is None else padlen)
    if T <= edge:
        raise ValueError(
            f"the length of x along axis ({T}) must be greater than padlen, which is {edge}"
            + (" (3 * the number of filter taps by default)" if padlen is None and padtype is not None else "")
        )
    return edge


def _extend(x: torch.Tensor, edge: int, padtype: Optional[str]) -> torch.Tensor:
    """Rows ``x`` `(R, T)` extended by ``edge`` samples at each end (odd, even or constant)."""
    if padtype is None or edge == 0:
        return x
    first, last = x[:, :1], x[:, -1:]
    if padtype == "constant":
        left, right = first.expand(-1, edge), last.expand(-1, edge)
    else:
        left, right = x[:, 1 : edge + 1].flip(-1), x[:, -edge - 1 : -1].flip(-1)
        if padtype == "odd":
            left, right = 2 * first - left, 2 * last - right
    return torch.cat([left, x, right], -1)


def filtfilt(
    b: ArrayLike,
    a: ArrayLike,
    x: torch.Tensor,
    axis: int = -1,
    padtype: Optional[str] = "odd",
    padlen: Optional[int] = None,
) -> torch.Tensor:
    """Zero-phase filtering: :func:`lfilter` forward, then backward (scipy.signal.filtfilt,
    ``method='pad'``; Gustafsson's method is not provided).

    Args:
        b (Tensor or sequence): numerator, shape `(..., K+1)`.
        a (Tensor or sequence): denominator, shape `(..., P+1)`, ``a[..., 0] != 0``; leading
            dimensions broadcast with ``x``'s other dimensions.
        x (Tensor): input, any shape, filtered along ``axis``.
        axis (int, optional): the time axis. Default: ``-1``.
        padtype (str or None, optional): extension at both ends: ``'odd'``, ``'even'``,
            ``'constant'`` or ``None`` (none). Default: ``'odd'``.
        padlen (int or None, optional): extension length. Default: ``3 * max(K+1, P+1)``.

    Returns:
        Tensor: ``y``, ``x``'s shape (broadcast with the coefficients' batch).

    Raises:
        ValueError: ``padlen`` not smaller than ``x``'s length along ``axis`` (or negative), an
            unknown ``padtype``, ``a[0] == 0``, and the errors of :func:`lfilter`.
    """
    x, b, a, _, dtype, cdtype, unit_lead = prepare_ba(b, a, x)
    rows = Rows(x, axis, b.shape[:-1], a.shape[:-1])
    edge = _edge(padtype, padlen, rows.T, max(b.shape[-1], a.shape[-1]))
    bn, an = normalize(b.to(cdtype), a.to(cdtype), unit_lead)
    B, A = rows.coef(bn), rows.coef(an)
    zi = steady_state_zi(B, A)  # (1 or R, N)
    ext = _extend(rows.x.to(cdtype), edge, padtype)
    y, _ = lfilter_rows(B, A, ext, zi * ext[:, :1], False)
    y, _ = lfilter_rows(B, A, y, zi * y[:, -1:], False, reverse=True)
    return rows.out(y[:, edge : edge + rows.T]).to(dtype)


def sosfiltfilt(
    sos: ArrayLike,
    x: torch.Tensor,
    axis: int = -1,
    padtype: Optional[str] = "odd",
    padlen: Optional[int] = None,
) -> torch.Tensor:
    """Zero-phase filtering with second-order sections: :func:`sosfilt` forward, then backward
    (scipy.signal.sosfiltfilt).

    Args:
        sos (Tensor or sequence): shape `(n_sections, 6)` or `(..., n_sections, 6)`, ``sos[..., 3] == 1``.
        x (Tensor): input, any shape, filtered along ``axis``.
        axis (int, optional): the time axis. Default: ``-1``.
        padtype (str or None, optional): ``'odd'``, ``'even'``, ``'constant'`` or ``None``. Default: ``'odd'``.
        padlen (int or None, optional): extension length. Default: scipy's
            ``3 * (2 * n_sections + 1 - min(#(b2 == 0), #(a2 == 0)))`` (with batched ``sos``, the
            largest over the batch).

    Returns:
        Tensor: ``y``, ``x``'s shape.

    Raises:
        ValueError: as :func:`filtfilt` and :func:`sosfilt`.
    """
    x, sos, n, _, dtype, cdtype = prepare_sos(sos, x)
    rows = Rows(x, axis, sos.shape[:-2])
    ntaps = 2 * n + 1
    if padlen is None and padtype is not None:  # scipy counts the sections of lower order (reads values)
        zeros = torch.minimum((sos[..., 2] == 0).sum(-1), (sos[..., 5] == 0).sum(-1))
        ntaps -= int(zeros.min())
    edge = _edge(padtype, padlen, rows.T, ntaps)
    sos_c = sos.to(cdtype)
    zi = sos_steady_state_zi(sos_c)  # (..., n, 2)
    zi_rows = [rows.coef(zi[..., s, :]) for s in range(n)]
    ext = _extend(rows.x.to(cdtype), edge, padtype)
    y, _ = sos_rows(sos_c, rows, ext, [z * ext[:, :1] for z in zi_rows], False)
    y, _ = sos_rows(sos_c, rows, y, [z * y[:, -1:] for z in zi_rows], False, reverse=True)
    return rows.out(y[:, edge : edge + rows.T]).to(dtype)
