"""A read-only install (system or container): no writable package directory, no writable home."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

import tritonlpc

CODE = """
import torch, tritonlpc
from tritonlpc.backends import _numba_forward as fwd, _numba_reverse as rev, _numba_support as sup
assert tritonlpc.__file__.startswith({site!r}), tritonlpc.__file__
x = torch.randn(2, 64, dtype=torch.float64); a = torch.full((2, 64, 2), 0.1, dtype=torch.float64).requires_grad_()
tritonlpc.sample_wise_lpc(x, a).sum().backward()
kernels = (fwd.fwd_rows_serial, rev.rev_rows_serial)
hits = sum(sum(k.stats.cache_hits.values()) for k in kernels)
misses = sum(sum(k.stats.cache_misses.values()) for k in kernels)
print(sup.cache_dir(fwd.fwd_rows_serial), hits, misses)
"""


def _read_only_copy(root: Path) -> Path:
    site = root / "site"
    shutil.copytree(Path(tritonlpc.__file__).parent, site / "tritonlpc", ignore=shutil.ignore_patterns("__pycache__"))
    for d, _, _ in os.walk(site):
        (Path(d) / "__pycache__").touch()  # a file: even root cannot create the cache directory there
    for d, dirs, files in os.walk(site):
        for name in files + dirs:
            p = Path(d) / name
            p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    return site


@pytest.mark.slow(seconds=10)
def test_read_only_package_without_home_caches_in_private_temp_dir(tmp_path):
    site = _read_only_copy(tmp_path)
    (tmp_path / "tmp").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    env.update(
        HOME=str(site / "tritonlpc" / "__init__.py" / "home"),  # below a file: cannot exist
        TMPDIR=str(tmp_path / "tmp"),
        PYTHONPATH=os.pathsep.join([str(site), *sys.path]),
        PYTHONDONTWRITEBYTECODE="1",
    )
    code = CODE.format(site=str(site))
    # -S: no site hooks, so an editable install of the original cannot shadow the copy
    runs = [
        subprocess.run(
            [sys.executable, "-S", "-c", code], capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path
        )
        for _ in range(2)
    ]
    for r in runs:
        assert r.returncode == 0, r.stderr
    where, _, first_misses = runs[0].stdout.split()
    assert where.startswith(str(tmp_path / "tmp" / f"tritonlpc-numba-cache-{os.getuid()}")), where
    assert stat.S_IMODE(os.stat(tmp_path / "tmp" / f"tritonlpc-numba-cache-{os.getuid()}").st_mode) == 0o700
    assert int(first_misses) >= 1
    _, hits, misses = runs[1].stdout.split()
    assert int(hits) >= 2 and int(misses) == 0, runs[1].stdout  # the second process loads, not compiles
    for d, dirs, _ in os.walk(tmp_path):  # let pytest remove the copy
        for name in dirs:
            (Path(d) / name).chmod(0o755)
