"""Skip the Triton interpreter's redundant re-patching of ``triton.language`` (tests only).

Under ``TRITON_INTERPRET=1`` a launch (``GridExecutor.__call__``) patches the language modules
its kernel sees (``tl``, ``tl.core``: builtins swapped for interpreted ones) and restores them
when it ends. Every call of a nested ``@triton.jit`` helper (``InterpretedFunction.__call__``)
patches them again, walking every member of ``tl``, ``tl.core``, ``tl.math`` and ``tl.tensor``
with ``inspect.getmembers``, although the launch's patches are still in place, and throws the
result away: in Triton 3.9 this is about 70 % of the interpreter's time on this package's kernels
(a tile kernel calls a few hundred helpers per program). :func:`install` makes a helper's patch a
no-op while a launch that already patched every language module the helper sees is running (a
helper that sees another module is patched for real once, and that module then counts as
patched: Triton never restores a helper's patches); a launch, or another Triton whose
interpreter lacks these names, goes through Triton's own code unchanged. What runs is the same interpreted
code with the same patches in place, only not patched again.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable, Dict, FrozenSet, List, Optional

REAL_PATCH_LANG: Optional[Callable[[Any], Any]] = None  # Triton's own, once install() ran


_LANG_IDS: Dict[int, FrozenSet[int]] = {}  # id of a module's globals -> ids of the language modules it sees


def _lang_ids(fn: Callable[..., Any], langs: tuple) -> FrozenSet[int]:
    """The ``langs`` a function's module sees (read once a module: its imports do not change)."""
    g = fn.__globals__
    ids = _LANG_IDS.get(id(g))
    if ids is None:
        ids = _LANG_IDS[id(g)] = frozenset(id(v) for v in g.values() if inspect.ismodule(v) and v in langs)
    return ids


def install() -> bool:
    """Install the shortcut if this Triton's interpreter has the structure it relies on."""
    try:
        import triton.language as tl
        from triton.runtime import interpreter as ti
    except Exception:
        return False
    needed = ("_patch_lang", "_LangPatchScope", "GridExecutor", "InterpretedFunction")
    if not all(hasattr(ti, name) for name in needed) or getattr(ti, "_tritonlpc_tests_patched", False):
        return False
    langs = (tl, tl.core)
    global REAL_PATCH_LANG
    REAL_PATCH_LANG = ti._patch_lang
    original_launch: Callable[..., Any] = ti.GridExecutor.__call__
    launches: List[Any] = []  # (kernel, ids of the language modules its launch patched) per running launch

    def patch_lang(fn: Any) -> Any:
        if launches:
            kernel, covered = launches[-1]
            seen = _lang_ids(fn, langs)
            if covered is None and fn is kernel:  # the launch's own patch: done for real, remembered
                launches[-1] = (kernel, seen)
            elif covered is not None and seen and seen <= covered:
                return ti._LangPatchScope()  # a helper: the launch's patches are in place
            elif covered is not None and seen:
                # A helper that sees a module the launch did not patch: patched for real. Triton
                # drops a helper's patch scope without restoring it, so its patches stay in place
                # for the rest of the launch: remembered as covered.
                launches[-1] = (kernel, covered | seen)
        assert REAL_PATCH_LANG is not None
        return REAL_PATCH_LANG(fn)

    def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
        launches.append((self.fn, None))
        try:
            return original_launch(self, *args, **kwargs)
        finally:
            launches.pop()

    ti._patch_lang = patch_lang
    ti.GridExecutor.__call__ = launch
    ti._tritonlpc_tests_patched = True
    return True
