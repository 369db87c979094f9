"""Every kernel variant the Triton planner launches compiles for sm_90 (Hopper) without spills.

No GPU needed: ``bench/sm90.py`` records the launches of real calls (on CPU tensors, nothing
runs) and compiles each distinct specialisation with Triton's own binder for sm_90, reading
registers and spills from ``ptxas -v``. The set compiled here (``bench/sm90.py variants``)
covers every kernel of both schedules and directions at every tile order in float32, the
register-heaviest tile configuration (complex128, M = 3) and the walk path (M = 5); ``--full`` (every
dtype, gradient flag, layout and alignment) is run by hand and its output kept in
``bench/README.md``. The table of registers, shared memory and warps is printed (``pytest -s``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")
ROOT = Path(__file__).resolve().parents[1]
SHARDS = 2  # two processes: compiling is single-threaded and this machine has two cores


def test_every_variant_compiles_for_sm90_without_spills(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")  # compile for real, not from a cache
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "sm90.py"),
                "variants",
                "--shard",
                f"{i}/{SHARDS}",
                "--json",
                str(tmp_path / f"{i}.json"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for i in range(SHARDS)
    ]
    outs = [p.communicate(timeout=1800)[0] for p in procs]
    for p, out in zip(procs, outs):
        if p.returncode != 0 and "ptxas" in out and "No such file" in out:
            pytest.skip("Triton's ptxas is not available on this platform")
        assert p.returncode == 0, out
    print("\n".join(line for out in outs for line in out.splitlines() if not line.startswith("#")))
    variants = [v for i in range(SHARDS) for v in json.loads((tmp_path / f"{i}.json").read_text())["variants"]]
    names = {v["kernel"] for v in variants}
    tile = {f"tile_{d}_{phase}_kernel" for d in ("fwd", "rev") for phase in ("pass", "summary")} | {"tile_carry_kernel"}
    walk = {f"walk_{d}_{phase}_kernel" for d in ("fwd", "rev") for phase in ("pass", "summary")} | {"walk_carry_kernel"}
    lti = {"lti_tdf2_pass_kernel", "lti_sos4_pass_kernel"}  # tritonlpc.signal's one-pass kernels
    assert tile | walk | lti <= names, f"kernels never launched: {(tile | walk | lti) - names}"
    spilling = [(v["kernel"], v["regs"], v["spill_stores"], v["spill_loads"]) for v in variants if v["spills"]]
    assert not spilling, f"variants that spill (kernel, registers, spill stores, spill loads): {spilling}"
    assert all(v["regs"] <= 255 and v["num_warps"] >= 1 for v in variants)
