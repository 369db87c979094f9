"""Argument checking for the whole package: the public functions, the autograd Functions and
:mod:`tritonlpc.audio`.

Every failure raises ``TypeError`` (wrong type or dtype) or ``ValueError`` (wrong shape,
device, order or value) naming the argument and what was seen. Nothing here copies data.
Parameter values (:func:`check_range`) are checked for numbers only (Python or NumPy real scalars): a tensor's values
are used as they are, since reading them would synchronise the GPU.
"""

from __future__ import annotations

import math
import numbers
from typing import Optional, Sequence, Tuple, Union

import torch

__all__ = [
    "check_kind",
    "check_tensor",
    "check_same_device",
    "check_not_meta",
    "check_lpc",
    "check_hop",
    "check_frames",
    "check_recurrence",
    "check_flag",
    "check_int",
    "check_number",
    "is_number",
    "check_range",
    "check_sample_rate",
    "as_tensor_like",
    "HALF_DTYPES",
    "DTYPES",
]

HALF_DTYPES = (torch.float16, torch.bfloat16)
# The one dtype table: what every public function accepts (the order numbers dtypes in
# tritonlpc.distributed's exchange between ranks).
DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128) + HALF_DTYPES
_SUPPORTED = "float16, bfloat16, float32, float64, complex64 or complex128"


def check_kind(name: str, t: torch.Tensor) -> None:
    """``t`` must be dense (strided) with a supported floating/complex dtype."""
    if t.dtype not in DTYPES:
        raise TypeError(f"{name} must have a floating point or complex dtype ({_SUPPORTED}), got {t.dtype}")
    if t.layout != torch.strided or t.is_nested:
        kind = "a nested" if t.is_nested else f"a {t.layout}"
        raise TypeError(f"{name} must be a dense (strided) tensor, got {kind} tensor; convert it with .to_dense()")


def check_tensor(
    name: str, t: object, ndim: Optional[int] = None, dims: str = "", *, real: bool = False
) -> torch.Tensor:
    """Check that ``t`` is a dense tensor of a supported floating (or complex, unless ``real``)
    dtype with ``ndim`` dimensions (any number if ``None``); ``dims`` names the shape."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor{' of shape ' + dims if dims else ''}, got {type(t).__name__}")
    if real and not t.dtype.is_floating_point:
        raise TypeError(f"{name} must have a real floating point dtype, got {t.dtype}")
    check_kind(name, t)
    if ndim is not None and t.dim() != ndim:
        raise ValueError(f"{name} must have shape {dims} ({ndim} dimensions), got shape {tuple(t.shape)}")
    return t


def _check_same(named: Sequence[Tuple[str, torch.Tensor]], attr: str, verb: str, exc: type, hint: str) -> None:
    """Every tensor's ``attr`` equals the first's; else ``exc`` naming both (``"{name} {verb} ..."``)."""
    first_name, first = named[0]
    want = getattr(first, attr)
    for name, t in named[1:]:
        got = getattr(t, attr)
        if got != want:
            raise exc(f"{name} {verb} {got} but {first_name} {verb} {want}; {hint}")


def _check_same_device(named: Sequence[Tuple[str, torch.Tensor]]) -> None:
    device = named[0][1].device  # the common case without a helper call: every public call checks
    for _, t in named[1:]:
        if t.device != device:
            _check_same(named, "device", "is on", ValueError, "all inputs must be on the same device")


def check_same_device(named: Sequence[Tuple[str, Optional[torch.Tensor]]]) -> None:
    """All given tensors (``None`` entries skipped) live on one device."""
    present = [(n, t) for n, t in named if t is not None]
    if len(present) > 1:
        _check_same_device(present)


def check_not_meta(named: Sequence[Tuple[str, object]]) -> None:
    """No given tensor is a meta tensor (for calls that must run, e.g. collectives).

    Raises:
        TypeError: naming the first meta tensor.
    """
    for name, t in named:
        if isinstance(t, torch.Tensor) and t.is_meta:
            raise TypeError(f"{name} is a meta tensor; tritonlpc.distributed needs tensors with data")


def _check_same_dtype(named: Sequence[Tuple[str, torch.Tensor]]) -> None:
    hint = "this low-level Function needs one dtype (the public functions promote mixed dtypes)"
    _check_same(named, "dtype", "has dtype", TypeError, hint)


def check_flag(name: str, value: object) -> bool:
    """``value`` must be a ``bool``."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be a bool, got {type(value).__name__}")
    return value


def is_number(value: object) -> bool:
    """``value`` is a real number: a Python ``int``/``float`` or a NumPy real scalar (not a
    bool, not a tensor or array)."""
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` must be an integer (a Python ``int`` or NumPy integer, not a bool) of at least
    ``minimum``; returned as an ``int``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


def check_number(name: str, value: object, low: float = -math.inf, *, low_open: bool = False) -> float:
    """``value`` must be a finite real number (:func:`is_number`) of at least ``low`` (above it
    if ``low_open``); returned as a ``float``.

    Raises:
        TypeError: not a number (a tensor included: this parameter is not differentiable).
        ValueError: out of range, naming ``name`` and the value.
    """
    if not is_number(value):
        raise TypeError(f"{name} must be a number (int or float), got {type(value).__name__}")
    check_range(name, value, low, low_open=low_open, finite=True)
    return float(value)  # type: ignore[arg-type]  # a real number


Number = Union[float, torch.Tensor]


def check_range(
    name: str,
    value: object,
    low: float = -math.inf,
    high: float = math.inf,
    *,
    low_open: bool = False,
    high_open: bool = False,
    finite: bool = False,
) -> None:
    """A Python number ``value`` must lie in the interval from ``low`` to ``high`` (open at an
    end if ``low_open``/``high_open``; NaN never does; infinities not if ``finite``).

    Tensors (and anything else: the type is checked where the value is used) pass unchecked:
    reading a tensor's values would synchronise the GPU.

    Raises:
        ValueError: naming ``name`` and the value.
    """
    if not is_number(value):
        return
    v = float(value)  # type: ignore[arg-type]  # a real number
    ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)  # NaN: False
    if not ok or (finite and not math.isfinite(v)):
        low_open, high_open = low_open or (finite and low == -math.inf), high_open or (finite and high == math.inf)
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open else ']'}"
        kind = "a finite number" if finite else "a number"
        raise ValueError(f"{name} must be {kind} in {interval}, got {value!r}")


def check_sample_rate(sample_rate: object) -> float:
    """``sample_rate`` must be a positive finite number (:func:`check_number`); returned as a float.

    Raises:
        TypeError: not a number. ValueError: naming ``sample_rate`` and the value (NaN included).
    """
    if not is_number(sample_rate):
        raise TypeError(f"sample_rate must be a number (int or float), got {type(sample_rate).__name__}")
    if not 0 < sample_rate < math.inf:  # type: ignore[operator]  # a real number
        raise ValueError(f"sample_rate must be a positive finite number, got {sample_rate!r}")
    return float(sample_rate)  # type: ignore[arg-type]


def as_tensor_like(name: str, value: Number, like: torch.Tensor, *, real: bool = True) -> torch.Tensor:
    """A Python number becomes a 0-d tensor of ``like``'s dtype (the default dtype if ``like`` is
    not real floating point) and device; a tensor is checked (:func:`check_tensor`) and returned.

    Raises:
        TypeError: ``value`` is neither a number nor a suitable tensor.
    """
    if isinstance(value, torch.Tensor):
        return check_tensor(name, value, real=real)
    if not is_number(value):
        raise TypeError(f"{name} must be a float or a torch.Tensor, got {type(value).__name__}")
    dtype = like.dtype if like.dtype.is_floating_point else torch.get_default_dtype()
    return torch.tensor(float(value), dtype=dtype, device=like.device)


def _missing(name: str, dims: str, what: str) -> TypeError:
    return TypeError(f"{name} must be a torch.Tensor of shape {dims} ({what}; zeros for a filter at rest), got None")


def check_hop(hop: object) -> Optional[int]:
    """``hop`` is ``None`` (per-sample coefficients) or a positive int (control frames every
    ``hop`` samples); returned as an ``int`` or ``None``.

    Raises:
        TypeError: not an int (a bool included). ValueError: ``hop <= 0``.
    """
    return None if hop is None else check_int("hop", hop, 1)


def check_frames(name: str, F: int, T: int, hop: int) -> None:
    """``F`` control frames at hop ``hop`` cover ``T`` samples (``F >= (T-1)//hop + 2``).

    Raises:
        ValueError: naming ``name`` (the frames' argument).
    """
    need = (T - 1) // hop + 2
    if F < need:
        raise ValueError(
            f"{name} must hold at least (T - 1) // hop + 2 = {need} frames for T = {T} samples at hop = {hop} "
            f"(frames at samples 0, hop, 2 hop, ..., one past the last sample), got {F}"
        )


def check_lpc(
    x: object,
    a: object,
    zi: object,
    *,
    names: Tuple[str, str, str] = ("x", "a", "zi"),
    same_dtype: bool = False,
    require_zi: bool = False,
    hop: Optional[int] = None,
) -> Tuple[int, int, int]:
    """Validate ``x (B,T)``, ``a (B,T,M)`` (``(B,F,M)`` control frames with a ``hop`` already
    checked by :func:`check_hop`), ``zi (B,M)`` (or ``None`` unless ``require_zi``); returns
    ``(B, T, M)``."""
    nx, na, nz = names
    if zi is None and require_zi:
        raise _missing(nz, "(B, M)", "the initial conditions")
    x = check_tensor(nx, x, 2, "(B, T)")
    a = check_tensor(na, a, 3, "(B, T, M)" if hop is None else "(B, F, M)")
    B, T, M = a.shape
    if M < 1:
        raise ValueError(
            f"{na} must have at least one coefficient per sample (order M >= 1), got shape {tuple(a.shape)}"
        )
    if hop is not None:
        if x.shape[0] != B:
            raise ValueError(
                f"{nx} must have shape (B, T) with B = {B} to match {na} of shape (B, F, M) = {tuple(a.shape)}, got {tuple(x.shape)}"
            )
        T = x.shape[1]
        check_frames(na, a.shape[1], T, hop)
    elif tuple(x.shape) != (B, T):
        raise ValueError(
            f"{nx} must have shape (B, T) = {(B, T)} to match {na} of shape (B, T, M) = {tuple(a.shape)}, "
            f"got {tuple(x.shape)}"
        )
    named = [(nx, x), (na, a)]
    if zi is not None:
        zi = check_tensor(nz, zi, 2, "(B, M)")
        if tuple(zi.shape) != (B, M):
            raise ValueError(
                f"{nz} must have shape (B, M) = {(B, M)} to match {na} of shape {tuple(a.shape)}, got {tuple(zi.shape)}"
            )
        named.append((nz, zi))
    _check_same_device(named)
    if same_dtype:
        _check_same_dtype(named)
    return B, T, M


def check_recurrence(
    decay: object,
    impulse: object,
    init: object,
    *,
    names: Tuple[str, str, str],
    same_dtype: bool = False,
    require_init: bool = False,
    hop: Optional[int] = None,
) -> Tuple[int, int]:
    """Validate ``decay (B,T)`` (``(B,F)`` control frames with a checked ``hop``),
    ``impulse (B,T)``, ``init (B,)`` (or ``None`` unless ``require_init``); returns ``(B, T)``."""
    nd, nx, nz = names
    if init is None and require_init:
        raise _missing(nz, "(B,)", "the initial state")
    decay = check_tensor(nd, decay, 2, "(B, T)" if hop is None else "(B, F)")
    impulse = check_tensor(nx, impulse, 2, "(B, T)")
    if hop is not None:
        if decay.shape[0] != impulse.shape[0]:
            raise ValueError(
                f"{nd} and {nx} must have the same batch size B, got shapes {tuple(decay.shape)} and {tuple(impulse.shape)}"
            )
        check_frames(nd, decay.shape[1], impulse.shape[1], hop)
    elif decay.shape != impulse.shape:
        raise ValueError(
            f"{nd} and {nx} must have the same shape (B, T), got {tuple(decay.shape)} and {tuple(impulse.shape)}"
        )
    B, T = impulse.shape
    named = [(nd, decay), (nx, impulse)]
    if init is not None:
        init = check_tensor(nz, init, 1, "(B,)")
        if tuple(init.shape) != (B,):
            raise ValueError(f"{nz} must have shape (B,) = {(B,)} to match {nd}, got {tuple(init.shape)}")
        named.append((nz, init))
    _check_same_device(named)
    if same_dtype:
        _check_same_dtype(named)
    return B, T
