"""Shared fixtures.

Without CUDA, the Triton kernels are tested in Triton's CPU interpreter: ``TRITON_INTERPRET``
must be set before ``triton`` is first imported, so it is set here, before any test module
imports tritonlpc's Triton backend. ``_interpreter_patch`` then takes the interpreter's redundant
re-patching of ``triton.language`` out of every nested helper call (the same interpreted code,
several times faster).
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Iterator, List

import torch

if "TRITON_INTERPRET" not in os.environ and not torch.cuda.is_available():
    os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402

import tritonlpc  # noqa: E402

if os.environ.get("PYTEST_XDIST_WORKER"):
    # Under `pytest -n`, every core already runs a worker: torch's intra-op pool would
    # oversubscribe the cores (spinning pools stall on busy cores). This worker's Numba pool keeps
    # its threads, so the parallel kernels still run in parallel; the heavy subprocesses (example
    # CLIs, the GPU session's dry run) get one thread each where they are started.
    torch.set_num_threads(1)

if os.environ.get("TRITON_INTERPRET") == "1":
    import _interpreter_patch  # noqa: E402

    _interpreter_patch.install()  # the interpreter without its redundant re-patching (see the module)


@dataclass(frozen=True)
class Backend:
    """A backend under test and the device its tensors live on."""

    name: str
    device: str

    @property
    def interpreted(self) -> bool:
        return self.name == "triton" and self.device == "cpu"

    def __str__(self) -> str:
        return f"{self.name}-{self.device}"


def _triton_importable() -> bool:
    try:
        importlib.import_module("tritonlpc.backends.triton.backend")
    except Exception:  # triton missing or backend not importable on this platform
        return False
    return True


def available_backends() -> List[Backend]:
    backends = [Backend("numba", "cpu")]
    if _triton_importable():
        if torch.cuda.is_available():
            backends.append(Backend("triton", "cuda"))
        elif os.environ.get("TRITON_INTERPRET") == "1":
            backends.append(Backend("triton", "cpu"))
    return backends


BACKENDS = available_backends()


@pytest.fixture(params=BACKENDS, ids=str)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each available backend, selected with ``tritonlpc.use_backend`` for the test."""
    b: Backend = request.param
    with tritonlpc.use_backend(b.name):
        yield b


def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """Long tests first, longest first (``@pytest.mark.slow(seconds=...)``), the rest in their
    order: under ``pytest -n`` a long test started last would keep one worker busy alone."""

    def seconds(item: pytest.Item) -> float:
        mark = item.get_closest_marker("slow")
        return -float(mark.kwargs.get("seconds", 10)) if mark is not None else 0.0

    items.sort(key=seconds)  # stable


def pytest_report_header(config: pytest.Config) -> str:
    return (
        f"tritonlpc backends under test: {', '.join(map(str, BACKENDS))}; "
        f"TRITON_INTERPRET={os.environ.get('TRITON_INTERPRET', '0')}; "
        f"CUDA: {torch.cuda.get_device_name() if torch.cuda.is_available() else 'none'}"
    )
