"""tritonlpc.distributed on 2 and 4 CPU processes (gloo) against one process holding the whole
signal. One process group is spawned per world size; it runs every check of
``tests/_distributed_checks.py`` in order, and each check is reported here as its own test."""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from typing import Dict, Union

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import _distributed_checks as checks
from tritonlpc.testing import make_inputs

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(), reason="needs torch.distributed with gloo"
)

WORLD_SIZES = (2, 4)
NAMES = ["not_initialised"] + [fn.__name__ for fn in checks.CHECKS]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run_group(size: int, out: Path) -> Dict[int, Dict[str, str]]:
    """``{rank: {check: "ok" | traceback}}`` from one spawned group of ``size`` ranks; raises
    ``RuntimeError`` if a rank died outside a check or the group did not finish."""
    ctx = mp.start_processes(
        checks.worker, args=(size, _free_port(), str(out)), nprocs=size, join=False, start_method="spawn"
    )
    deadline = time.monotonic() + 600  # collectives time out after 120 s (see worker), so this is a last resort
    try:
        while not ctx.join(timeout=5):
            if time.monotonic() > deadline:
                for p in ctx.processes:
                    p.kill()
                raise RuntimeError(f"the {size}-process group did not finish in 600 s")
    except (mp.ProcessRaisedException, mp.ProcessExitedException) as exc:  # a worker died outside a check
        wrote = [r for r in range(size) if Path(out, f"rank{r}.json").exists()]
        raise RuntimeError(
            f"a rank of the {size}-process group failed: {exc} (ranks that wrote their report: {wrote})"
        ) from exc
    return {r: json.loads(Path(out, f"rank{r}.json").read_text()) for r in range(size)}


def _group_reports(size: int, root: Path) -> Union[Dict[int, Dict[str, str]], str]:
    """The reports of the group of ``size`` ranks, or why there are none, spawned once under
    ``root``: the first caller to create ``root/dist<size>`` (atomic) runs the group and writes
    ``result.json``; any other (another pytest-xdist worker) waits for that file."""
    d, result = root / f"dist{size}", root / f"dist{size}" / "result.json"
    try:
        d.mkdir()
    except FileExistsError:  # another worker runs this group
        deadline = time.monotonic() + 900
        while not result.exists():
            if time.monotonic() > deadline:
                return f"the {size}-process group run by another worker did not finish in 900 s"
            time.sleep(1)
    else:
        try:
            got: Union[Dict[int, Dict[str, str]], str] = _run_group(size, d)
        except RuntimeError as exc:
            got = str(exc)
        tmp = d / "result.tmp"
        tmp.write_text(json.dumps(got))
        tmp.replace(result)  # atomic: a waiting worker never reads half a file
    got = json.loads(result.read_text())
    return got if isinstance(got, str) else {int(r): checks_ for r, checks_ in got.items()}


@pytest.fixture(scope="module", params=WORLD_SIZES, ids=lambda n: f"{n}proc")
def reports(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Dict[int, Dict[str, str]]:
    """``{rank: {check: "ok" | traceback}}`` of the group of ``request.param`` ranks, spawned once
    a session: pytest-xdist's ``loadgroup`` no longer keeps the ``xdist_group`` together on
    pytest 9.2 (pytest-dev/pytest-xdist#1386), and the suite's ordering (slow tests first) can
    tear this module fixture down and set it up again, so the workers share one run through
    the session's base directory."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # shared by the workers of this session
    got = _group_reports(request.param, root)
    if isinstance(got, str):
        pytest.fail(got)
    return got


@pytest.mark.slow(seconds=25)
@pytest.mark.xdist_group("distributed")  # kept together where loadgroup works (see reports)
@pytest.mark.parametrize("name", NAMES)
def test_distributed(reports: Dict[int, Dict[str, str]], name: str) -> None:
    failures = {r: res.get(name, "not run") for r, res in reports.items() if res.get(name) != "ok"}
    assert not failures, "\n".join(f"--- rank {r}:\n{text}" for r, text in failures.items())


# --------------------------------------------------------------------------- in this process
@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
@pytest.mark.parametrize("B,T,M", [(2, 9, 3), (6, 9, 2), (1, 2, 4), (3, 0, 2)])
def test_slice_summary_is_the_slice_map(backend, dtype, B, T, M) -> None:
    """``s_end = P s_start + h`` for any start state, and ``dL/ds_start = P^H mu + k`` for any
    end-state adjoint ``mu`` (checked with the float64 reference and autograd), on every backend
    (B <= M+1 and B > M+1: both branches of ``Backend.summary``'s default, used until Triton has
    its kernel)."""
    from tritonlpc import _reference
    from tritonlpc.distributed import slice_summary
    from tritonlpc.distributed.summary import end_state

    x, a, s0 = make_inputs(B, T, M, dtype, seed=T + M, device=backend.device)
    g, mu = torch.randn_like(x), torch.randn_like(s0)
    P, h, e = slice_summary(x, a)
    _, k, _ = slice_summary(g, a, adjoint=True)
    start = s0.clone().requires_grad_()
    y = _reference.allpole(x, a, start)
    end = end_state(y, start)
    assert torch.allclose(_reference.apply_map(P, h, s0, e), end.detach(), atol=1e-10)
    # a loss whose gradients (torch's convention) w.r.t. y and the end state are g and mu
    ((g.conj() * y).sum() + (mu.conj() * end).sum()).real.backward()
    assert torch.allclose(_reference.apply_map(P.mH, k, mu, e), start.grad, atol=1e-10)
    if not dtype.is_complex:  # control frames: the complex cases cover every shape
        return
    # control frames (hop = 3): the map of the coefficients interpolated to every sample
    _, frames, _ = make_inputs(B, T, M, dtype, seed=T + M + 1, device=backend.device, hop=3)
    a = _reference.interpolate(frames, 3, T)
    for got, want in zip(
        (*slice_summary(x, frames, hop=3), slice_summary(g, frames, adjoint=True, hop=3).h),
        (*slice_summary(x, a), slice_summary(g, a, adjoint=True).h),
    ):
        assert torch.allclose(got, want, rtol=1e-12, atol=1e-12)


def test_slice_summary_uses_a_backend_kernel(monkeypatch) -> None:
    """``slice_summary`` is the backend's ``summary`` kernel, arguments passed through."""
    from tritonlpc import _dispatch
    from tritonlpc.distributed import slice_summary

    x = torch.zeros(1, 4)
    kernels = _dispatch.backend_object(x)
    calls = []

    def summary(v, a, *, neg_a=False, adjoint=False, hop=None):
        calls.append((v.shape, a.shape, neg_a, adjoint, hop))
        return None, v.new_ones(1, 2)

    monkeypatch.setattr(kernels, "summary", summary, raising=False)
    assert slice_summary(x, torch.zeros(1, 4, 2), neg_a=True, adjoint=True)[1].sum() == 2
    assert slice_summary(x, torch.zeros(1, 3, 2), hop=2)[1].sum() == 2
    assert calls == [((1, 4), (1, 4, 2), True, True, None), ((1, 4), (1, 3, 2), False, False, 2)]


def test_apply_map_keeps_zero_state_zero() -> None:
    """An overflowed map (inf and NaN) applied to a zero state gives exactly its constant."""
    from tritonlpc.distributed.summary import apply_map

    P = torch.tensor([[[float("inf"), float("nan")], [1.0, float("-inf")]]])
    h = torch.tensor([[0.5, -2.0]])
    assert torch.equal(apply_map(P, h, torch.zeros(1, 2)), h)
    out = apply_map(P, h, torch.tensor([[0.0, 3.0]]))  # only the non-zero component's column counts
    assert torch.isnan(out[0, 0]) and out[0, 1] == float("-inf")
