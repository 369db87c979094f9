"""The one place that decides which backend runs a call.

Backends: ``"numba"`` (CPU tensors) and ``"triton"`` (CUDA tensors; CPU tensors too when
``TRITON_INTERPRET=1``, which is how CI tests the Triton kernels). The requested backend is,
in order of precedence: the innermost :func:`use_backend` context, :func:`set_backend`, the
environment variable ``TRITONLPC_BACKEND``, and finally ``"auto"`` (Triton for CUDA tensors,
Numba for CPU tensors).
"""

from __future__ import annotations

import contextlib
import contextvars
import importlib
import os
from typing import TYPE_CHECKING, Any, Callable, Dict, Iterator, Optional

import torch

if TYPE_CHECKING:
    from .backends.base import Backend

__all__ = ["BACKENDS", "get_backend", "set_backend", "use_backend", "backend_for", "backend_object"]

BACKENDS = ("auto", "numba", "triton")
ENV_VAR = "TRITONLPC_BACKEND"

_MODULES = {"numba": "tritonlpc.backends.numba_cpu", "triton": "tritonlpc.backends.triton.backend"}
_global: Optional[str] = None
_loaded: Dict[str, Backend] = {}
_scoped: contextvars.ContextVar[Optional[str]] = contextvars.ContextVar("tritonlpc_backend", default=None)


def _environ_reader() -> Callable[[str], Optional[str]]:
    """``os.environ.get`` without its cost on every call.

    ``os.environ.get`` of an unset variable raises and catches a ``KeyError`` inside: about
    0.75 us, as much as the rest of the backend choice, on every kernel call. CPython's
    ``os.environ`` keeps its contents in a plain dict (``_data``, encoded keys and values) that
    ``os.environ[...] = ...``, ``del`` and ``monkeypatch.setenv`` update, so reading that dict
    sees every change ``os.environ.get`` sees (a bare ``os.putenv`` is invisible to both).
    Where the mapping is not built that way, ``os.environ.get`` itself.
    """
    env: Any = os.environ
    data, encodekey, decodevalue = (getattr(env, n, None) for n in ("_data", "encodekey", "decodevalue"))
    if not isinstance(data, dict) or encodekey is None or decodevalue is None:
        return os.environ.get
    keys: Dict[str, Any] = {}

    def read(name: str) -> Optional[str]:
        key = keys.get(name)
        if key is None:
            key = keys[name] = encodekey(name)
        value = data.get(key)
        return None if value is None else decodevalue(value)

    return read


environ_get = _environ_reader()


def _checked(name: object, source: str) -> str:
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {name!r} (from {source})")
    return name.lower()


def get_backend() -> str:
    """The requested backend name: ``"auto"``, ``"numba"`` or ``"triton"``."""
    scoped = _scoped.get()
    if scoped is not None:
        return scoped
    if _global is not None:
        return _global
    env = environ_get(ENV_VAR)
    return _checked(env, f"environment variable {ENV_VAR}") if env else "auto"


def set_backend(name: Optional[str]) -> None:
    """Set the backend for this process (``None`` falls back to ``TRITONLPC_BACKEND``/auto)."""
    global _global
    _global = None if name is None else _checked(name, "set_backend")


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Context manager selecting a backend for the calls made inside it (thread/task local).

    Example:
        >>> with tritonlpc.use_backend("numba"):
        ...     y = tritonlpc.sample_wise_lpc(x, a)
    """
    if torch.compiler.is_compiling():
        raise RuntimeError(
            "tritonlpc.use_backend cannot be used inside a torch.compile'd function; enter it around "
            "the call instead (the compiled kernels pick their backend when they run)"
        )
    token = _scoped.set(_checked(name, "use_backend"))
    try:
        yield
    finally:
        _scoped.reset(token)


def interpreter_enabled() -> bool:
    """Whether Triton runs its kernels in the CPU interpreter (``TRITON_INTERPRET=1``)."""
    return environ_get("TRITON_INTERPRET") == "1"


def backend_for(tensor: torch.Tensor) -> str:
    """The backend (``"numba"`` or ``"triton"``) a call on tensors on ``tensor``'s device uses.

    Raises:
        RuntimeError: if the requested backend cannot run on that device.
    """
    requested = get_backend()
    device = "cpu" if tensor.is_cpu else tensor.device.type  # is_cpu: no device object built
    if device == "cuda":
        if requested == "numba":
            raise RuntimeError(
                "the numba backend runs on CPU tensors only; got CUDA tensors "
                "(use backend 'auto' or 'triton', or move the tensors to the CPU)"
            )
        return "triton"
    if device == "cpu":
        if requested == "triton":
            if not interpreter_enabled():
                raise RuntimeError(
                    "the triton backend needs CUDA tensors; got CPU tensors. Set TRITON_INTERPRET=1 "
                    "before importing triton to run the Triton kernels on the CPU (slow; for testing)"
                )
            return "triton"
        return "numba"
    raise RuntimeError(f"tritonlpc has no backend for {device} tensors (supported: cpu, cuda)")


def backend_object(tensor: torch.Tensor) -> Backend:
    """The backend (a :class:`tritonlpc.backends.base.Backend`) for ``tensor``'s device, imported
    on first use: every kernel call of the package goes through the object this returns.

    Raises:
        RuntimeError: the requested backend cannot run on that device, or is not installed.
    """
    name = backend_for(tensor)
    backend = _loaded.get(name)
    if backend is None:
        try:
            backend = _loaded[name] = importlib.import_module(_MODULES[name]).BACKEND
        except ImportError as exc:  # e.g. triton not installed on this platform
            raise RuntimeError(f"the {name} backend is not available: {exc}") from exc
    return backend
