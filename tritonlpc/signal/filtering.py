"""scipy.signal's ``lfilter``, ``lfilter_zi``, ``lfiltic``, ``sosfilt``, ``sosfilt_zi`` on tensors.

Same names, arguments and results as scipy.signal (the state is scipy's transposed direct form
II; how it maps onto the FIR + all-pole decomposition is in ``tritonlpc/signal/_lti.py``), plus:
coefficients may carry leading batch dimensions (a filter per row), broadcast against ``x``'s
dimensions other than ``axis``; everything is differentiable in every tensor argument.
"""

from __future__ import annotations

from typing import List, Optional, Tuple, Union, overload

import torch
import torch.nn.functional as F

from ._lti import (
    ArrayLike,
    Rows,
    as_tensor,
    check_coefficients,
    check_leading_nonzero,
    check_same_device,
    check_tensor,
    hankel,
    lfilter_rows,
    matvec,
    normalize,
    promoted,
    result_dtype,
)
from ._onepass import kernel_for, sos_onepass

__all__ = ["lfilter", "lfilter_zi", "lfiltic", "sosfilt", "sosfilt_zi"]


def prepare_x(x: object) -> torch.Tensor:
    x = check_tensor("x", x)
    if x.ndim == 0:
        raise ValueError("x must have at least one dimension (the time axis), got a scalar")
    return x


def prepare_ba(
    b: ArrayLike, a: ArrayLike, x: object, zi: Optional[object] = None
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, Optional[torch.Tensor], torch.dtype, torch.dtype, bool]:
    """``(x, b, a, zi, dtype, cdtype, unit_lead)`` checked for :func:`lfilter` and ``filtfilt``:
    tensors on one device, ``a[..., 0] != 0``, the result and compute dtypes, whether ``a[0]`` is
    exactly 1 (:func:`._lti.check_leading_nonzero`)."""
    x = prepare_x(x)
    given = (b, a)  # sequences take x's dtype (float32 for half x): not promoted
    bt, at = as_tensor("b", b, x), as_tensor("a", a, x)
    check_coefficients("b", bt)
    check_coefficients("a", at)
    zt = check_tensor("zi", zi) if zi is not None else None
    check_same_device(x=x, b=bt, a=at, zi=zt)
    dtype, cdtype = result_dtype(x, *promoted(given, (bt, at)), zt)
    unit_lead = check_leading_nonzero("a", at)
    return x, bt, at, zt, dtype, cdtype, unit_lead


def prepare_sos(
    sos: ArrayLike, x: object, zi: Optional[object] = None
) -> Tuple[torch.Tensor, torch.Tensor, int, Optional[torch.Tensor], torch.dtype, torch.dtype]:
    """``(x, sos, n_sections, zi, dtype, cdtype)`` checked for :func:`sosfilt` and
    ``sosfiltfilt``."""
    x = prepare_x(x)
    st = as_tensor("sos", sos, x)
    n = check_sos(st)
    zt = check_tensor("zi", zi) if zi is not None else None
    check_same_device(x=x, sos=st, zi=zt)
    dtype, cdtype = result_dtype(x, *promoted((sos,), (st,)), zt)
    return x, st, n, zt, dtype, cdtype


def _pad_to(c: torch.Tensor, n: int) -> torch.Tensor:
    """Zero-pad (or truncate) the last dimension to ``n``."""
    m = c.shape[-1]
    return F.pad(c, (0, n - m)) if m < n else c[..., :n]


@overload
def lfilter(b: ArrayLike, a: ArrayLike, x: torch.Tensor, axis: int = ..., zi: None = ...) -> torch.Tensor: ...
@overload
def lfilter(
    b: ArrayLike, a: ArrayLike, x: torch.Tensor, axis: int = ..., *, zi: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def lfilter(
    b: ArrayLike, a: ArrayLike, x: torch.Tensor, axis: int, zi: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]: ...


def lfilter(
    b: ArrayLike, a: ArrayLike, x: torch.Tensor, axis: int = -1, zi: Optional[torch.Tensor] = None
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Filter ``x`` along ``axis`` with the IIR filter ``b / a`` (scipy.signal.lfilter).

    .. math:: a[0] y[n] = \sum_{k=0}^{K} b[k] x[n-k] - \sum_{k=1}^{P} a[k] y[n-k]

    Runs the FIR part as a convolution and the all-pole part on :func:`tritonlpc.sample_wise_lpc`
    with the time-invariant ``a`` expanded over time (read in place, not copied).

    Args:
        b (Tensor or sequence): numerator, shape `(..., K+1)`.
        a (Tensor or sequence): denominator, shape `(..., P+1)`, ``a[..., 0] != 0`` (normalised away).
            Leading dimensions of ``b`` and ``a`` broadcast with ``x``'s dimensions other than
            ``axis`` (a filter per row).
        x (Tensor): input, any shape, filtered along ``axis``.
        axis (int, optional): the time axis. Default: ``-1``.
        zi (Tensor or None, optional): initial state (transposed direct form II), ``x``'s shape
            with ``max(K, P)`` at ``axis`` (size-1 dimensions broadcast), e.g. from
            :func:`lfilter_zi` or :func:`lfiltic`. Default: ``None`` (zero state, ``zf`` not returned).

    Returns:
        Tensor: ``y``, ``x``'s shape (broadcast with the coefficients' batch); or ``(y, zf)`` if
        ``zi`` is given, ``zf`` the final state, shaped like ``zi``. Dtype: the promoted dtype of
        the arguments (float16/bfloat16 computed in float32).

    Raises:
        TypeError: ``x`` or ``zi`` is not a tensor, or ``b``/``a`` cannot be converted.
        ValueError: ``a[0] == 0``, empty coefficients, ``axis`` out of range, ``zi`` of the wrong
            shape, shapes that do not broadcast, arguments on different devices.
    """
    x, b, a, zi, dtype, cdtype, unit_lead = prepare_ba(b, a, x, zi)
    rows = Rows(x, axis, b.shape[:-1], a.shape[:-1])
    bn, an = normalize(b.to(cdtype), a.to(cdtype), unit_lead)
    N = max(b.shape[-1], a.shape[-1]) - 1
    zi_rows = rows.state_in("zi", zi.to(cdtype), N) if zi is not None else None
    y, zf = lfilter_rows(rows.coef(bn), rows.coef(an), rows.x.to(cdtype), zi_rows, zi is not None)
    out = rows.out(y).to(dtype)
    if zf is None:
        return out
    return out, rows.out(zf).to(dtype)


def steady_state_zi(bn: torch.Tensor, an: torch.Tensor) -> torch.Tensor:
    """Steady-state step-response state of normalised ``(bn, an)``, shape `(..., N)`."""
    n = max(bn.shape[-1], an.shape[-1])
    if n == 1:
        return bn.new_zeros(*torch.broadcast_shapes(bn.shape[:-1], an.shape[:-1]), 0)
    bp, ap = _pad_to(bn, n), _pad_to(an, n)
    a1 = ap[..., 1:]
    # I - companion(a).T: ones on the diagonal, -1 above it, a[1:] added to the first column
    eye = torch.eye(n - 1, dtype=ap.dtype, device=ap.device)
    base = eye - torch.diag(torch.ones(n - 2, dtype=ap.dtype, device=ap.device), 1)
    e0 = eye[0]
    m = base + a1.unsqueeze(-1) * e0
    rhs = bp[..., 1:] - a1 * bp[..., :1]
    batch = torch.broadcast_shapes(m.shape[:-2], rhs.shape[:-1])
    m, rhs = m.expand(*batch, n - 1, n - 1), rhs.expand(*batch, n - 1)
    return torch.linalg.solve(m, rhs.unsqueeze(-1)).squeeze(-1)


def lfilter_zi(b: ArrayLike, a: ArrayLike) -> torch.Tensor:
    """Initial state for :func:`lfilter` that is the steady state of the step response
    (scipy.signal.lfilter_zi): ``lfilter(b, a, x, zi=lfilter_zi(b, a) * x[0])`` starts with no
    transient for a constant input.

    Args:
        b (Tensor or sequence): numerator, shape `(..., K+1)`.
        a (Tensor or sequence): denominator, shape `(..., P+1)`, ``a[..., 0] != 0``.

    Returns:
        Tensor: shape `(..., max(K, P))` (the broadcast batch of ``b`` and ``a``).

    Raises:
        ValueError: ``a[0] == 0`` (scipy strips leading zeros of ``a`` instead), empty coefficients.
    """
    b = as_tensor("b", b)
    a = as_tensor("a", a, b)
    check_coefficients("b", b)
    check_coefficients("a", a)
    check_same_device(b=b, a=a)
    dtype, cdtype = result_dtype(b, a)
    bn, an = normalize(b.to(cdtype), a.to(cdtype), check_leading_nonzero("a", a))
    return steady_state_zi(bn, an).to(dtype)


def lfiltic(b: ArrayLike, a: ArrayLike, y: ArrayLike, x: Optional[ArrayLike] = None) -> torch.Tensor:
    """Initial state for :func:`lfilter` from past outputs and inputs (scipy.signal.lfiltic).

    Args:
        b (Tensor or sequence): numerator, shape `(..., K+1)`.
        a (Tensor or sequence): denominator, shape `(..., P+1)`, ``a[..., 0] != 0``.
        y (Tensor or sequence): past outputs ``(y[-1], y[-2], ...)``, shape `(..., L)`; missing
            values are zero, values beyond ``y[-P]`` are not used.
        x (Tensor or sequence or None, optional): past inputs ``(x[-1], x[-2], ...)``, the same
            way up to ``x[-K]``. Default: zeros.

    Returns:
        Tensor: ``zi``, shape `(..., max(K, P))` (the broadcast batch of all arguments).
    """
    b = as_tensor("b", b)
    a = as_tensor("a", a, b)
    y = as_tensor("y", y, b)
    xs = as_tensor("x", x, b) if x is not None else None
    for name, c in (("b", b), ("a", a)):
        check_coefficients(name, c)
    if y.ndim == 0:
        raise ValueError("y must have at least one dimension (the past outputs), got a scalar")
    if xs is not None and xs.ndim == 0:
        raise ValueError("x must have at least one dimension (the past inputs), got a scalar")
    check_same_device(b=b, a=a, y=y, x=xs)
    dtype, cdtype = result_dtype(b, a, y, xs)
    check_leading_nonzero("a", a)
    K = max(b.shape[-1], a.shape[-1]) - 1
    bc, ac = b.to(cdtype), a.to(cdtype)
    zi = -matvec(hankel(ac, K), _pad_to(y.to(cdtype), K))
    if xs is not None:
        zi = zi + matvec(hankel(bc, K), _pad_to(xs.to(cdtype), K))
    return (zi / ac[..., :1]).to(dtype)


def check_sos(sos: torch.Tensor) -> int:
    if sos.ndim < 2 or sos.shape[-1] != 6:
        raise ValueError(f"sos must have shape (n_sections, 6) (or (..., n_sections, 6)), got {tuple(sos.shape)}")
    if sos.shape[-2] == 0:
        raise ValueError("sos must have at least one section, got shape " + str(tuple(sos.shape)))
    if not torch.compiler.is_compiling() and not bool((sos[..., 3] == 1).all()):
        raise ValueError("sos[:, 3] must be all ones (each section's a0; normalise the sections first)")
    return sos.shape[-2]


def sos_rows(
    sos: torch.Tensor,
    rows: Rows,
    x: torch.Tensor,
    zi: Optional[List[torch.Tensor]],
    want_zf: bool,
    reverse: bool = False,
) -> Tuple[torch.Tensor, List[torch.Tensor]]:
    """The sections of ``sos`` `(..., n, 6)` in cascade over rows ``x`` `(R, T)`; ``zi``: one
    `(R, 2)` state a section; ``reverse``: from the last sample to the first. Returns ``y`` and
    the sections' final states (if ``want_zf``)."""
    kernel = kernel_for(x, sos, *(zi or ())) if x.shape[-1] > 0 else None
    if kernel is not None:  # every section in one pass
        coefs = sos.unsqueeze(0) if sos.ndim == 2 else sos.expand(*rows.S, *sos.shape[-2:]).reshape(rows.R, -1, 6)
        y, z = sos_onepass(coefs, x, torch.stack(zi, 1) if zi is not None else None, kernel, reverse)
        return y, ([z[:, s] for s in range(z.shape[1])] if want_zf else [])
    zfs: List[torch.Tensor] = []
    y = x.flip(-1) if reverse else x
    for s in range(sos.shape[-2]):
        sec = sos[..., s, :]
        y, zf = lfilter_rows(
            rows.coef(sec[..., :3]), rows.coef(sec[..., 3:]), y, None if zi is None else zi[s], want_zf
        )
        if zf is not None:
            zfs.append(zf)
    return (y.flip(-1) if reverse else y), zfs


@overload
def sosfilt(sos: ArrayLike, x: torch.Tensor, axis: int = ..., zi: None = ...) -> torch.Tensor: ...
@overload
def sosfilt(
    sos: ArrayLike, x: torch.Tensor, axis: int = ..., *, zi: torch.Tensor
) -> Tuple[torch.Tensor, torch.Tensor]: ...
@overload
def sosfilt(sos: ArrayLike, x: torch.Tensor, axis: int, zi: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor]: ...


def sosfilt(
    sos: ArrayLike, x: torch.Tensor, axis: int = -1, zi: Optional[torch.Tensor] = None
) -> Union[torch.Tensor, Tuple[torch.Tensor, torch.Tensor]]:
    """Filter ``x`` along ``axis`` with cascaded second-order sections (scipy.signal.sosfilt).

    Each section runs as :func:`lfilter` does (a 3-tap convolution, then the order-2 all-pole
    filter with its coefficients expanded over time, not copied), one after the other.

    Args:
        sos (Tensor or sequence): sections ``[b0, b1, b2, 1, a1, a2]``, shape `(n_sections, 6)`,
            or `(..., n_sections, 6)` with leading dimensions broadcast with ``x``'s other
            dimensions (a cascade per row). ``sos[..., 3]`` must be 1.
        x (Tensor): input, any shape, filtered along ``axis``.
        axis (int, optional): the time axis. Default: ``-1``.
        zi (Tensor or None, optional): initial states, shape `(n_sections, ...)` with ``...``
            ``x``'s shape with 2 at ``axis`` (e.g. from :func:`sosfilt_zi`). Default: ``None``.

    Returns:
        Tensor: ``y`` (``x``'s shape); or ``(y, zf)`` if ``zi`` is given (``zf`` shaped like ``zi``).

    Raises:
        ValueError: ``sos`` not `(n, 6)`, ``sos[:, 3] != 1``, ``zi`` of the wrong shape, ``axis``
            out of range.
    """
    x, sos, n, zi, dtype, cdtype = prepare_sos(sos, x, zi)
    rows = Rows(x, axis, sos.shape[:-2])
    zi_rows = None
    if zi is not None:
        if zi.ndim == 0 or zi.shape[0] != n:
            expected = list(rows.S)
            expected.insert(rows.out_axis, 2)
            raise ValueError(f"zi must have shape {(n, *expected)} (n_sections first), got {tuple(zi.shape)}")
        zc = zi.to(cdtype)
        zi_rows = [rows.state_in("zi[s]", zc[s], 2) for s in range(n)]
    y, zfs = sos_rows(sos.to(cdtype), rows, rows.x.to(cdtype), zi_rows, zi is not None)
    out = rows.out(y).to(dtype)
    if zi is None:
        return out
    return out, torch.stack([rows.out(z) for z in zfs]).to(dtype)


def sos_steady_state_zi(sos: torch.Tensor) -> torch.Tensor:
    zis = []
    scale: Union[torch.Tensor, float] = 1.0
    for s in range(sos.shape[-2]):
        b, a = sos[..., s, :3], sos[..., s, 3:]
        zis.append(scale * steady_state_zi(b, a))
        scale = scale * b.sum(-1, keepdim=True) / a.sum(-1, keepdim=True)
    return torch.stack(zis, -2)


def sosfilt_zi(sos: ArrayLike) -> torch.Tensor:
    """Initial states for :func:`sosfilt` that are the steady state of the step response
    (scipy.signal.sosfilt_zi): each section's :func:`lfilter_zi` scaled by the DC gain of the
    sections before it.

    Args:
        sos (Tensor or sequence): shape `(n_sections, 6)` or `(..., n_sections, 6)`.

    Returns:
        Tensor: shape `(n_sections, 2)` (or `(..., n_sections, 2)`).
    """
    sos = as_tensor("sos", sos)
    check_sos(sos)
    dtype, cdtype = result_dtype(sos)
    return sos_steady_state_zi(sos.to(cdtype)).to(dtype)
