"""Forked DataLoader workers, spawned processes and threads calling the CPU kernels after the
parent did, on each Numba threading layer (see ``tritonlpc/backends/_numba_support.py``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("concurrency_script.py")


@pytest.mark.parametrize(
    "layer,modes",
    [("default", ["fork", "threads", "spawn"]), ("workqueue", ["fork", "threads"])],
)
def test_fork_spawn_and_threads(layer, modes):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "NUMBA_THREADING_LAYER": layer}
    env.pop("NUMBA_NUM_THREADS", None)
    r = subprocess.run([sys.executable, str(SCRIPT), *modes], capture_output=True, text=True, env=env, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split("\n")[:-1] == [f"ok {m}" for m in modes], r.stdout + r.stderr
