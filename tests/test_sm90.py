"""Every kernel variant the Triton planner launches compiles for sm_90 (Hopper) without spills.

No GPU needed: ``bench/sm90.py`` records the launches of real calls (on CPU tensors, nothing
runs) and compiles each distinct specialisation with Triton's own binder for sm_90, reading
registers and spills from ``ptxas -v``. The set compiled here (``bench/sm90.py variants``)
covers every kernel of both schedules and directions at every tile order in float32, the
register-heaviest tile configuration (complex128, M = 3), the walk path (M = 5) and control frames
(``hop=``, every kernel that reads ``a``, and the frames' gradient); ``--full`` (every
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
SHARDS = 4  # separate tests, so that pytest -n spreads the compiling over the workers (a core each)


def _sm90(tmp_path: Path, *args: str) -> dict:
    """Run ``bench/sm90.py variants *args`` for real (Triton's compiler, no interpreter, a fresh
    cache) and return its JSON; skip where Triton's ptxas cannot run."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["TRITON_CACHE_DIR"] = str(tmp_path / "cache")  # compile for real, not from a cache
    out = tmp_path / "variants.json"
    cmd = [sys.executable, str(ROOT / "bench" / "sm90.py"), "variants", *args, "--json", str(out)]
    p = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)
    if p.returncode != 0 and "ptxas" in p.stdout and "No such file" in p.stdout:
        pytest.skip("Triton's ptxas is not available on this platform")
    assert p.returncode == 0, p.stdout
    print("\n".join(line for line in p.stdout.splitlines() if not line.startswith("#")))
    return json.loads(out.read_text())


def test_the_variant_set_launches_every_kernel(tmp_path):
    """The calls of the compiled set reach every kernel of both paths, schedules and directions."""
    variants = _sm90(tmp_path, "--list")["variants"]
    names = {v["kernel"] for v in variants}
    tile = {f"tile_{d}_pass_kernel" for d in ("fwd", "rev", "fwd_stretch", "rev_stretch")}
    tile |= {"tile_summary_kernel", "tile_carry_kernel"}
    walk = {f"walk_{d}_{phase}_kernel" for d in ("fwd", "rev") for phase in ("pass", "summary")} | {"walk_carry_kernel"}
    lti = {f"lti_{k}_{d}_kernel" for k in ("tdf2", "sos4") for d in ("pass", "adjoint", "chunk", "chunk_adjoint")}
    lti |= {"lti_chunk_carry_kernel"}  # tritonlpc.signal's one-pass and time-parallel kernels
    frames = {"frames_grad_kernel"}  # control frames (hop=): the frames' gradient
    assert tile | walk | lti | frames <= names, f"kernels never launched: {(tile | walk | lti | frames) - names}"
    summaries = {v["label"][:3] for v in variants if v["kernel"] == "tile_summary_kernel"}  # REV both ways
    assert summaries >= {"fwd", "bwd"}, summaries


@pytest.mark.slow(seconds=70)
@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_variant_compiles_for_sm90_without_spills(tmp_path, shard):
    # registers and spills only: the disassembly (memory instructions; 0.3 s CPU a variant) is
    # for `bench/sm90.py variants` run by hand
    variants = _sm90(tmp_path, "--shard", f"{shard}/{SHARDS}", "--no-sass")["variants"]
    assert variants, "an empty shard compiles nothing"
    spilling = [(v["kernel"], v["regs"], v["spill_stores"], v["spill_loads"]) for v in variants if v["spills"]]
    assert not spilling, f"variants that spill (kernel, registers, spill stores, spill loads): {spilling}"
    assert all(v["regs"] <= 255 and v["num_warps"] >= 1 for v in variants)


SASS = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   LDG.E.128 R4, desc[UR4][R2.64] ;
        /*0020*/                   FFMA R4, R4, R5, R6 ;
        /*0030*/               @P0 BRA 0x50 ;
        /*0040*/                   STG.E R2, R4 ;
        /*0050*/              @!P1 BRA 0x20 ;
        /*0060*/                   EXIT ;
        /*0070*/                   BRA 0x70;
        /*0080*/                   NOP;
        /*0090*/                   NOP;
"""


UNROLLED = """
        /*0000*/                   MOV R1, c[0x0][0x28] ;
        /*0010*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0020*/                   STG.E R2, R4 ;
        /*0030*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0040*/                   STG.E R2, R4 ;
        /*0050*/              @!P1 BRA 0x10 ;
        /*0060*/                   LDG.E R4, desc[UR4][R2.64] ;
        /*0070*/                   STG.E R2, R4 ;
        /*0080*/              @!P2 BRA 0x60 ;
        /*0090*/                   EXIT ;
"""


def test_instruction_count_of_a_listing():
    """The static instruction counter of ``bench/sm90.py geometry``: 8 instructions (the NOP
    padding after EXIT left out), a loop of 4 (0x20 to the backward branch at 0x50), and a
    launch issues its straight-line code once and the loop body once a trip (two tiles a trip in a
    forward pass that prefetches), in every warp; a loop ptxas unrolled twice (a remainder loop
    of one trip after it: half its loads and stores) counts its body once every two trips."""
    code = f"""
import sys
sys.path.insert(0, {str(ROOT / "bench")!r})
import torch, sm90
loads, stores, after, n, body, unroll = sm90.sass_memory({SASS!r})
got = (loads, stores, after, n, body, unroll)
assert got == ({{"LDG.E.128": 1}}, {{"STG.E": 1}}, 0, 8, 4, 1), got
got = sm90.sass_memory({UNROLLED!r})
assert got == ({{"LDG.E": 3}}, {{"STG.E": 3}}, 1, 10, 5, 2), got
p = [l for l in sm90.record(2, 4096, 2, torch.float32, "fwd", schedule="single") if "pass" in l.name][0]
v = sm90.Variant(p.name, "", 4, 32, 0, 0, 0, 0, {{}}, {{}}, 0, n, body, 1, 0.0)
trips = sm90.loop_trips(p)
tiles = -(-4096 // (p.kwargs["ROWS"] * p.kwargs["STEPS"]))
assert tiles == p.kwargs["n_tiles"] > 1 and p.kwargs["PREFETCH"], p.kwargs
assert trips == tiles // 2, trips  # two tiles a trip when the forward pass prefetches (tile_pass)
assert sm90.issued_instructions(p, v) == 2 * 4 * 32 * (4 + 4 * trips)
v2 = sm90.Variant(p.name, "", 4, 32, 0, 0, 0, 0, {{}}, {{}}, 0, 10, 5, 2, 0.0)
assert sm90.issued_instructions(p, v2) == 2 * 4 * 32 * (5 + -(-5 * trips // 2))
"""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
