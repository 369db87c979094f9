"""Numba plumbing shared by the CPU kernels: where compiled code is cached, and when a
``parallel=True`` kernel may run (fork, threads, threading layers).

**On-disk cache.** :func:`jit` compiles like ``njit(cache=True)`` (a cached kernel is stale
once any kernel module changed, not only its own file: it includes helpers from the others) and
caches where Numba can
(``NUMBA_CACHE_DIR`` if set, else the package's ``__pycache__``, else Numba's user-wide cache
directory, ``$XDG_CACHE_HOME/numba`` or ``~/.cache/numba``). When none of these is writable
(a read-only system or container install without a writable home), it caches in
``<tempdir>/tritonlpc-numba-cache-<uid>`` (``tempfile.gettempdir()``: ``$TMPDIR`` or
``/tmp``), a directory private to the user; if that cannot be made safely either, kernels are
compiled in every process. ``cache_dir(kernel)`` says which directory a kernel uses.

**Parallel kernels.** Numba runs ``prange`` loops on its threading layer (``tbb``, ``omp`` or
``workqueue``, whichever it finds). Two of them have limits that :func:`launch_parallel`
works around by running the kernel's serial twin (the same body compiled without
``parallel``) instead:

* GNU OpenMP is not fork-safe: a process forked after Numba started its OpenMP threads (a
  DataLoader worker, ``multiprocessing`` with ``fork``) is killed by Numba at its first
  parallel launch. Such a child runs every kernel serially (DataLoader workers run torch with
  one thread anyway).
* ``workqueue`` is not thread-safe: two threads launching parallel kernels at once abort the
  process. One launch runs in parallel at a time; a call arriving meanwhile runs serially.
"""

from __future__ import annotations

import os
import stat
import tempfile
import threading
import types
from typing import Any, Callable, Dict, List, Literal, Optional, Tuple

import numba
import numpy as np
from numba.core import caching

__all__ = [
    "jit",
    "variant",
    "jit_twins",
    "launch",
    "launch_parallel",
    "parallel_allowed",
    "cache_dir",
    "coef",
    "affine",
]

# contract: a * b + c may be one fused multiply-add (one rounding instead of two; the recursion
# is latency-bound, and a fused step halves the chain). No reassociation: sums keep their order.
_OPTIONS: Dict[str, Any] = dict(nogil=True, error_model="numpy", fastmath={"contract"})


# --------------------------------------------------------------------------- on-disk cache
def _private_tmp_dir() -> Optional[str]:
    """``<tempdir>/tritonlpc-numba-cache-<uid>``, created private (0700); ``None`` if it is not
    ours or others can write to it (a cache directory is code we will load)."""
    path = os.path.join(tempfile.gettempdir(), f"tritonlpc-numba-cache-{os.getuid()}")
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
        st = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or st.st_mode & 0o022:
        return None
    return path


def _kernel_sources_stamp() -> Tuple[Tuple[str, int, int], ...]:
    """``(name, size, mtime)`` of every kernel module (``backends/_numba_*.py``). A compiled kernel
    includes the helpers it calls from other modules, while Numba's index only checks the kernel's
    own file: a cached kernel is fresh only while every kernel module is unchanged."""
    here = os.path.dirname(os.path.abspath(__file__))
    stamp = []
    for name in sorted(os.listdir(here)):
        if name.startswith("_numba_") and name.endswith(".py"):
            st = os.stat(os.path.join(here, name))
            stamp.append((name, st.st_size, st.st_mtime_ns))
    return tuple(stamp)


_SOURCES_STAMP = _kernel_sources_stamp()


class _StampedLocator:
    """A cache locator mixin: the source stamp is the kernel's own file's and every kernel module's."""

    def get_source_stamp(self) -> Any:
        return (super().get_source_stamp(), _SOURCES_STAMP)  # type: ignore[misc]


class _TmpDirLocator(_StampedLocator, caching.UserProvidedCacheLocator):
    """Like ``NUMBA_CACHE_DIR``, with the private temp directory as the root."""

    def __init__(self, py_func: Callable, py_file: str):
        super().__init__(py_func, py_file)
        self._cache_path = os.path.join(_TMP_ROOT or "", self.get_suitable_cache_subpath(py_file))

    @classmethod
    def from_function(cls, py_func: Callable, py_file: str):
        if _TMP_ROOT is None:
            return None
        return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)


class _StampedImpl(caching.CompileResultCacheImpl):
    """Numba's own locators (in order), stamped with every kernel module."""

    _locator_classes: List[Any] = [
        type(f"Stamped{c.__name__}", (_StampedLocator, c), {}) for c in caching.CompileResultCacheImpl._locator_classes
    ]


class _StampedCache(caching.FunctionCache):
    _impl_class = _StampedImpl


class _TmpDirImpl(caching.CompileResultCacheImpl):
    _locator_classes = [_TmpDirLocator]


class _TmpDirCache(caching.FunctionCache):
    _impl_class = _TmpDirImpl


_TMP_ROOT: Optional[str] = None


def _enable_cache(dispatcher: Any) -> None:
    global _TMP_ROOT
    try:
        dispatcher._cache = _StampedCache(dispatcher.py_func)  # Numba's own locators, stamped
        return
    except RuntimeError:  # "cannot cache function ...: no locator available"
        pass
    if _TMP_ROOT is None:
        _TMP_ROOT = _private_tmp_dir()
    try:
        dispatcher._cache = _TmpDirCache(dispatcher.py_func)
    except RuntimeError:  # no safe directory at all: compile in every process
        pass


def cache_dir(dispatcher: Any) -> Optional[str]:
    """The directory ``dispatcher``'s compiled code is cached in (``None``: not cached)."""
    impl = getattr(dispatcher._cache, "_impl", None)
    return impl.locator.get_cache_path() if impl is not None else None


def jit(fn: Optional[Callable] = None, **options: Any) -> Any:
    """``numba.njit`` with the project's options and the cache described above."""

    def wrap(f: Callable) -> Any:
        dispatcher = numba.njit(**_OPTIONS, **options)(f)
        _enable_cache(dispatcher)
        return dispatcher

    return wrap(fn) if fn is not None else wrap


def variant(fn: Callable, name: str) -> Callable:
    """A copy of ``fn`` under another name: Numba's on-disk cache is keyed by the function's
    qualified name, so two compilations of one body (parallel and serial) need two names."""
    new = types.FunctionType(fn.__code__, fn.__globals__, name, fn.__defaults__, fn.__closure__)
    new.__qualname__ = name
    return new


def _prange_only() -> Dict[str, bool]:
    """Numba's parallel options with only the explicit ``prange`` loops run in parallel (a new
    dict each time: Numba pops the options it reads). With ``parallel=True`` Numba also turns
    every array expression, ``np.zeros`` / ``copy`` and slice assignment of the kernel into a
    parallel loop of its own, compiled as a separate function: the chunked kernels had five of
    them for three ``prange`` loops, over the chunk maps and states (a few hundred entries). Cold
    compile, float64: forward 12.4-12.8 -> 10.9-11.0 s CPU, reverse 7.4-7.6 -> 5.7-5.8 s; the
    same results bit for bit."""
    off = ("comprehension", "inplace_binop", "setitem", "numpy", "stencil", "fusion")
    return dict.fromkeys(off, False) | {"prange": True, "reduction": True}


def jit_twins(fn: Callable, name: str) -> Tuple[Any, Any]:
    """``(parallel, serial)``: ``fn`` compiled with parallel ``prange`` loops (only, see
    :func:`_prange_only`) as ``name`` and without them as ``name + "_serial"`` (the pair
    :func:`launch_parallel` takes)."""
    return jit(parallel=_prange_only())(variant(fn, name)), jit(variant(fn, name + "_serial"))


# --------------------------------------------------------------------------- shared kernel math
@jit(inline="always")
def coef(c, conj, sgn):
    """The coefficient the recursion uses: ``c`` times ``sgn`` (``-1`` for ``neg_a``),
    conjugated if ``conj``."""
    c = c * sgn
    return c.conjugate() if conj else c


@jit
def affine(P, s, h):
    """``P @ s + h`` for a small square matrix (no BLAS), where a zero ``s[j]`` contributes exactly
    zero: the map ``P`` of an unstable stretch can overflow (inf, or NaN from inf - inf), and a
    zero state carried through it must stay zero, as in the sequential recursion, which never
    forms ``P`` (``inf * 0`` would be NaN). The same rule as :func:`tritonlpc._reference.apply_map`."""
    out = h.copy()
    for j in range(P.shape[1]):
        sj = s[j]
        if sj != 0:
            for i in range(P.shape[0]):
                out[i] += P[i, j] * sj
    return out


# --------------------------------------------------------------------------- launching
_ENTRIES: Dict[Any, Callable] = {}


def _numba_type(v: Any, layout: Literal["C", "A"]) -> Any:
    """Numba's type of a kernel argument, arrays (also inside tuples) typed with ``layout``."""
    if isinstance(v, np.ndarray):
        return numba.types.Array(numba.from_dtype(v.dtype), v.ndim, layout)
    if type(v) is tuple:
        return numba.types.Tuple(tuple(_numba_type(e, layout) for e in v))
    return numba.typeof(v)


def launch(kernel: Any, *args: Any, strided: bool = False) -> None:
    """Call ``kernel`` through at most two compiled versions per dtype.

    Numba's dispatcher compiles one version per combination of array layouts, i.e. a new
    compilation of several seconds for every new mix of contiguous, strided and expanded
    arguments. Here every array is typed ``'C'`` when all of them are C-contiguous (the common
    case; the fastest code) and ``'A'`` (any strides) otherwise, and the compiled entry point is
    called directly, which also skips the dispatcher's type resolution on each call.
    ``args[0]`` is an array of the working dtype. ``strided``: ``'A'`` whatever the strides (one
    compilation for both, for kernels that touch their arguments' memory rarely).
    """
    contiguous = not strided
    framed = False  # a tuple argument (control frames, see ._numba_frames): its arrays count too
    for v in args:  # exact types (the arrays are tensors' .numpy() views): 0.74 -> 0.51 us for 6 arguments
        t = type(v)
        if t is np.ndarray:
            if not v.flags.c_contiguous:
                contiguous = False
        elif t is tuple:
            framed = True
            for e in v:
                if type(e) is np.ndarray and not e.flags.c_contiguous:
                    contiguous = False
    key = (kernel, args[0].dtype, contiguous, framed)
    entry = _ENTRIES.get(key)
    if entry is None:
        layout: Literal["C", "A"] = "C" if contiguous else "A"
        sig = tuple(_numba_type(v, layout) for v in args)
        entry = _ENTRIES[key] = kernel.compile(sig)  # loads from the on-disk cache when it can
    entry(*args)


_THREADSAFE_LAYERS = ("tbb", "omp")
_layer: Optional[str] = None  # Numba's threading layer, once its pool has started
_one_launch = threading.Lock()  # serialises parallel launches on a thread-unsafe layer
_forked_from_gnu_omp = False  # this process was forked after GNU OpenMP threads started


def _started_layer() -> Optional[str]:
    try:
        return numba.threading_layer()
    except ValueError:  # no pool started yet
        return None


def _gnu_openmp() -> bool:
    try:
        from numba.np.ufunc import omppool  # type: ignore[attr-defined]  # noqa: PLC0415  (compiled, not in numba's stubs)
    except ImportError:
        return False
    return getattr(omppool, "openmp_vendor", "GNU") == "GNU"


def _after_fork_in_child() -> None:
    global _one_launch, _forked_from_gnu_omp
    _one_launch = threading.Lock()  # a lock held by another thread at fork() stays held forever
    if _started_layer() == "omp" and _gnu_openmp():
        _forked_from_gnu_omp = True


os.register_at_fork(after_in_child=_after_fork_in_child)


def parallel_allowed() -> bool:
    """Whether parallel kernels may run in this process at all (false in a child forked after
    GNU OpenMP threads started)."""
    return not _forked_from_gnu_omp


def launch_parallel(parallel: Any, serial: Any, *args: Any, strided: bool = False) -> None:
    """:func:`launch` the ``parallel`` kernel, or its ``serial`` twin where a parallel launch
    is unsafe (see the module docstring)."""
    global _layer
    if _forked_from_gnu_omp:
        launch(serial, *args, strided=strided)
        return
    if _layer is None:
        numba.get_num_threads()  # starts the pool, which picks the layer
        _layer = _started_layer()
    if _layer in _THREADSAFE_LAYERS:
        launch(parallel, *args, strided=strided)
        return
    lock = _one_launch
    if not lock.acquire(blocking=False):  # another thread is in a parallel kernel
        launch(serial, *args, strided=strided)
        return
    try:
        launch(parallel, *args, strided=strided)
    finally:
        lock.release()
