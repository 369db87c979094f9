#!/usr/bin/env python
"""Static model of the Triton backend on a 132-SM Hopper GPU (sm_90). No GPU, no timing.

Everything here is derived from the real launch code, never from a copy of it:

* **record**: :func:`record` runs the Triton backend on CPU tensors within the launcher's
  recording hook (:func:`tritonlpc.backends.triton.launch.recording`), so every kernel the
  planner launches for a call is captured with its grid and real arguments, and nothing runs;
* **compile**: :func:`compile_launch` builds a recorded launch for sm_90 with Triton's own
  binder (the specialisation a real launch would get: dtypes, alignment, constexprs) and reads
  registers, stack frame and spills from ``ptxas -v``, shared memory from the kernel's metadata,
  and the global loads/stores from ``cuobjdump -sass`` (the tools ship in Triton's wheel;
  ``--no-sass`` leaves the disassembly out: about 0.3 s CPU a variant, a fixed start-up cost of
  ``cuobjdump``);
* **geometry**: :func:`geometry` models a call of the GPU benchmark matrix: programs per
  kernel, resident warps as a share of what 132 SMs hold (from the compiled registers, warps and
  shared memory), bytes moved against the minimum, and the longest dependent chain.

It is a static model: it says what the hardware will be asked to do, not how fast it goes.
Run it with ``TRITON_INTERPRET`` unset (the kernels must be JIT functions)::

    python bench/sm90.py variants [--full] [--no-sass] [--json OUT]   # compile every variant, print a table
    python bench/sm90.py geometry [--json OUT] [--hop H]  # the GPU matrix's launch geometry

``tests/test_sm90.py`` runs ``variants`` in a subprocess; ``bench/report.py`` shows the
geometry JSON committed under ``bench/results/static-sm90/``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import functools
import io
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

if os.environ.get("TRITON_INTERPRET", "0") == "1":
    raise SystemExit("bench/sm90.py compiles the kernels: run it with TRITON_INTERPRET unset")

import torch  # noqa: E402
import triton  # noqa: E402
from triton.backends.compiler import GPUTarget  # noqa: E402
from triton.compiler import ASTSource  # noqa: E402
from triton.compiler.compiler import make_backend  # noqa: E402
from triton.runtime.jit import create_function_from_signature  # noqa: E402

from tritonlpc.backends.triton import lti_chunks, lti_pass  # noqa: E402
from tritonlpc.backends.triton import plan as tp  # noqa: E402
from tritonlpc.backends.triton.backend import BACKEND  # noqa: E402
from tritonlpc.backends.triton.launch import Launch, recording  # noqa: E402

TARGET = GPUTarget("cuda", 90, 32)
SM_COUNT = 132  # H100 / H200 SXM
REGS_PER_SM = 65536
MAX_WARPS_PER_SM = 64
MAX_BLOCKS_PER_SM = 32
SMEM_PER_SM = 228 * 1024
SMEM_PER_BLOCK_RESERVED = 1024
HBM_BYTES_PER_S = 4.8e12  # H200 (H100 SXM: 3.35e12)
THREAD_INSNS_PER_S = SM_COUNT * 4 * 32 * 1.98e9  # 4 warp instructions a cycle an SM at 1.98 GHz
BIN = Path(triton.__file__).parent / "backends" / "nvidia" / "bin"

DTYPES = {
    "float32": torch.float32,
    "float64": torch.float64,
    "complex64": torch.complex64,
    "complex128": torch.complex128,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


# --------------------------------------------------------------------------- recording
# Launches are recorded with the launcher's public hook (tritonlpc.backends.triton.launch.recording):
# within it the backend accepts CPU tensors and nothing runs.


def _tensors(B: int, T: int, M: int, dtype: torch.dtype, expanded: bool = False, hop: Optional[int] = None):
    x = torch.empty(B, T, dtype=dtype)
    F = T if hop is None else (T - 1) // hop + 2  # per sample, or control frames every hop samples
    a = torch.empty(B, 1, M, dtype=dtype).expand(B, F, M) if expanded else torch.empty(B, F, M, dtype=dtype)
    return x, a, torch.empty(B, M, dtype=dtype)


def record(
    B: int,
    T: int,
    M: int,
    dtype: torch.dtype,
    direction: str,
    *,
    need: Tuple[bool, bool] = (True, True),
    expanded: bool = False,
    **knobs: Any,
) -> List[Launch]:
    """The launches of one call: ``direction`` in ``fwd`` / ``bwd`` (``backward`` with the
    gradients in ``need``) / ``rev`` (``reverse``) / ``sum`` / ``sum-adjoint`` (``summary``) /
    ``lti`` / ``sos`` (the one-pass time-invariant kernels: order ``M``, ``M`` sections) and
    ``lti-bwd`` / ``sos-bwd`` (their backward; ``sos-bwd`` with the forward that keeps), ``lti-tp`` /
    ``sos-tp`` / ``lti-tp-bwd`` / ``sos-tp-bwd`` (the same on the time-parallel schedule); the knob
    ``hop``: ``a`` holds control frames."""
    x, a, zi = _tensors(B, T, M, dtype, expanded, knobs.get("hop"))
    with recording() as launches:
        if direction == "fwd":
            BACKEND.forward(x, a, zi, **knobs)
        elif direction == "bwd":
            BACKEND.backward(x, a, x, zi, need[0], need[1], **knobs)
        elif direction == "rev":
            BACKEND.reverse(x, a, conj_a=True, **knobs)
        elif direction in ("lti", "lti-bwd"):  # tritonlpc.signal's one-pass kernels: order M <= 4
            coefs = a[:1, 0, :1].expand(1, M + 1), a[:1, 0, :1].expand(1, M + 1)
            if direction == "lti":
                lti_pass.tdf2(*coefs, x, zi)
            else:
                lti_pass.tdf2_adjoint(*coefs, x, x, x, zi)
        elif direction in ("sos", "sos-bwd"):  # M sections; the backward's forward keeps their inputs
            sos, z = torch.empty(1, M, 6, dtype=dtype), torch.empty(B, M, 2, dtype=dtype)
            if direction == "sos":
                lti_pass.sos_cascade(sos, x, z)
            else:
                keep = torch.empty(lti_pass.sos_keep_rows(M), B, T, dtype=dtype)
                lti_pass.sos_cascade_adjoint(sos, x, keep, lti_pass.sos_cascade(sos, x, z, keep), x, z)
        elif direction in ("lti-tp", "lti-tp-bwd"):  # their time-parallel schedule: chunks of 64 and a tail
            coefs, z = (a[:1, 0, :1].expand(1, M + 1),) * 2, torch.zeros(B, M, dtype=dtype)  # zero states: no fallback
            if direction == "lti-tp":
                lti_chunks.tdf2(*coefs, x, z, 64)
            else:
                lti_chunks.tdf2_adjoint(*coefs, x, x, x, z, 64)
        elif direction in ("sos-tp", "sos-tp-bwd"):
            sos, z = torch.empty(1, M, 6, dtype=dtype), torch.zeros(B, M, 2, dtype=dtype)
            if direction == "sos-tp":
                lti_chunks.sos_cascade(sos, x, z, 64)
            else:
                keep = torch.empty(lti_pass.sos_keep_rows(M), B, T, dtype=dtype)
                lti_chunks.sos_cascade_adjoint(sos, x, keep, lti_chunks.sos_cascade(sos, x, z, 64, keep), x, z, 64)
        else:  # a slice summary, forward or adjoint
            BACKEND.summary(x, a, adjoint=direction == "sum-adjoint", **knobs)
    return launches


# --------------------------------------------------------------------------- compiling
@dataclasses.dataclass
class Variant:
    """One compiled kernel variant and what the sm_90 build says about it (``ptxas -v`` for
    registers, stack frame and spills; ``cuobjdump -sass`` for the memory instructions, ``None``
    where the variant was compiled without disassembling it)."""

    kernel: str
    key: str
    num_warps: int
    regs: int
    stack_frame: int
    spill_stores: int
    spill_loads: int
    shared: int
    loads: Optional[Dict[str, int]]
    stores: Optional[Dict[str, int]]
    loads_after_store_in_loop: Optional[int]
    sass_instructions: Optional[int]
    loop_instructions: Optional[int]
    loop_unroll: Optional[int]
    compile_s: float

    @property
    def spills(self) -> bool:
        return self.spill_stores > 0 or self.spill_loads > 0

    def resident_programs(self) -> int:
        """Programs one SM holds at once, limited by warps, registers, shared memory, blocks."""
        regs = -(-self.regs // 8) * 8  # allocated per thread in units of 8
        by_regs = REGS_PER_SM // (regs * 32 * self.num_warps)
        by_warps = MAX_WARPS_PER_SM // self.num_warps
        by_smem = SMEM_PER_SM // (self.shared + SMEM_PER_BLOCK_RESERVED)
        return max(0, min(by_regs, by_warps, by_smem, MAX_BLOCKS_PER_SM))


@functools.cache
def _backend():
    return make_backend(TARGET)


def _jit_fn_and_kwargs(launch: Launch) -> Tuple[Any, Dict[str, Any]]:
    kernel, kwargs = launch.kernel, dict(launch.kwargs)
    values = getattr(kernel, "values", None)
    if values is not None:  # triton.heuristics: fill in the derived constexprs
        for name, fn in values.items():
            kwargs[name] = fn(dict(kwargs))
        kernel = kernel.fn
    return kernel, kwargs


def variant_key(launch: Launch) -> str:
    """The specialisation a real launch would get (what Triton caches a compiled kernel by)."""
    fn, kwargs = _jit_fn_and_kwargs(launch)
    binder = create_function_from_signature(fn.signature, fn.params, _backend())
    _, spec, options = binder(**kwargs)
    return f"{fn.__name__}|{spec}|{sorted(options.items())}"


def _ptxas_info(ptx: str, log: str = "") -> Dict[str, int]:
    """Registers, stack frame and spill bytes from ``ptxas -v``: ``log``, the output of the
    compile's own ptxas run (Triton runs it with ``-v`` and prints it under
    ``TRITON_DUMP_PTXAS_LOG``), or when that is empty (a kernel from Triton's cache) a second run
    on the kernel's PTX (the ``ptxas-blackwell`` in Triton's wheel reads the PTX 9 of Triton >=
    3.9; older ones use ``ptxas``)."""
    if "Used" in log and "bytes stack frame" in log:
        return _parse_ptxas(log)
    arch = re.search(r"^\.target\s+(\w+)", ptx, re.M)
    with tempfile.NamedTemporaryFile("w", suffix=".ptx") as f:
        f.write(ptx)
        f.flush()
        out = ""
        for exe in ("ptxas-blackwell", "ptxas"):
            if not (BIN / exe).exists():
                continue
            r = subprocess.run(
                [str(BIN / exe), f"-arch={arch.group(1) if arch else 'sm_90a'}", "-v", f.name, "-o", os.devnull],
                capture_output=True,
                text=True,
            )
            out = r.stdout + r.stderr
            if r.returncode == 0:
                break
    return _parse_ptxas(out)


def _parse_ptxas(out: str) -> Dict[str, int]:
    stack = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", out)
    regs = re.search(r"Used (\d+) registers", out)
    if stack is None or regs is None:
        raise RuntimeError(f"cannot read ptxas -v output:\n{out}")
    return dict(
        regs=int(regs.group(1)),
        stack_frame=int(stack.group(1)),
        spill_stores=int(stack.group(2)),
        spill_loads=int(stack.group(3)),
    )


@contextlib.contextmanager
def _ptxas_log():
    """Triton prints its ptxas ``-v`` log while this is open (saves a second ptxas run a variant)."""
    knobs = triton.knobs.nvidia
    before = knobs.dump_ptxas_log
    knobs.dump_ptxas_log = True
    try:
        yield
    finally:
        knobs.dump_ptxas_log = before


def _sass(cubin: bytes) -> str:
    with tempfile.NamedTemporaryFile(suffix=".cubin") as f:
        f.write(cubin)
        f.flush()
        return subprocess.run([str(BIN / "cuobjdump"), "-sass", f.name], capture_output=True, text=True).stdout


_INSN = re.compile(r"/\*([0-9a-f]{4,})\*/\s+(?:@!?U?P\w+\s+)?([A-Z][A-Z0-9_.]*)(.*?);")


def sass_memory(sass: str) -> Tuple[Dict[str, int], Dict[str, int], int, int, int, int]:
    """Global load/store counts by width, the loads issued after a store inside the main loop
    (the longest backward branch's body: a load there may have to wait for the store), the
    instruction count (less the NOP padding at the end), the main loop's instruction count (0
    without a loop) and how many of the source loop's trips its body holds: where ptxas unrolled
    a loop ``k`` times, a remainder loop of one trip follows it (a backward branch after the
    main loop), and ``k`` is the ratio of their global loads and stores (1 without one)."""
    insns = [(int(a, 16), op, rest) for a, op, rest in _INSN.findall(sass)]
    while insns and insns[-1][1] == "NOP":  # the padding after the final EXIT
        insns.pop()
    loads: Dict[str, int] = {}
    stores: Dict[str, int] = {}
    for _, op, _ in insns:
        if op.startswith("LDG"):
            loads[op] = loads.get(op, 0) + 1
        elif op.startswith("STG"):
            stores[op] = stores.get(op, 0) + 1
    loop = (0, -1)
    for addr, op, rest in insns:
        if op.startswith("BRA"):
            t = re.search(r"0x([0-9a-f]+)", rest)
            if t and int(t.group(1), 16) < addr and addr - int(t.group(1), 16) > loop[1] - loop[0]:
                loop = (int(t.group(1), 16), addr)
    after = 0
    body = 0
    seen_store = False
    for addr, op, _ in insns:
        if loop[0] <= addr <= loop[1]:
            body += 1
            seen_store = seen_store or op.startswith("STG")
            after += int(seen_store and op.startswith("LDG"))

    def memory_ops(lo: int, hi: int) -> collections.Counter:
        return collections.Counter(op for a, op, _ in insns if lo <= a <= hi and op.startswith(("LDG", "STG")))

    unroll = 1
    main = memory_ops(*loop)
    for addr, op, rest in insns:  # a loop after the main one whose loads and stores it holds k times
        t = re.search(r"0x([0-9a-f]+)", rest) if op.startswith("BRA") else None
        if t and loop[1] < int(t.group(1), 16) < addr:
            rem = memory_ops(int(t.group(1), 16), addr)
            k = sum(main.values()) // max(1, sum(rem.values()))
            if rem and k > unroll and all(main[o] == k * n for o, n in rem.items()) and set(main) == set(rem):
                unroll = k
    return loads, stores, after, len(insns), body, unroll


_CACHE: Dict[str, Variant] = {}


def compile_launch(launch: Launch, sass: bool = True) -> Variant:
    """Compile one recorded launch for sm_90 (once per specialisation); ``sass``: also read its
    memory instructions from the disassembly."""
    key = variant_key(launch)
    cached = _CACHE.get(key)
    if cached is not None and (cached.sass_instructions is not None or not sass):
        return cached
    fn, kwargs = _jit_fn_and_kwargs(launch)
    backend = _backend()
    binder = create_function_from_signature(fn.signature, fn.params, backend)
    bound, spec, options = binder(**kwargs)
    options, signature, constexprs, attrs = fn._pack_args(backend, kwargs, bound, spec, options)
    t0 = time.perf_counter()
    log = io.StringIO()
    with _ptxas_log(), contextlib.redirect_stdout(log):
        k = triton.compile(ASTSource(fn, signature, constexprs, attrs), target=TARGET, options=options.__dict__)
    dt = time.perf_counter() - t0
    info = _ptxas_info(k.asm["ptx"], log.getvalue())
    loads, stores, after, n, body, unroll = sass_memory(_sass(k.asm["cubin"])) if sass else (None,) * 6
    v = Variant(
        fn.__name__,
        key,
        k.metadata.num_warps,
        info["regs"],
        info["stack_frame"],
        info["spill_stores"],
        info["spill_loads"],
        int(k.metadata.shared),
        loads,
        stores,
        after,
        n,
        body,
        unroll,
        dt,
    )
    _CACHE[key] = v
    return v


# --------------------------------------------------------------------------- the variant set
def variant_calls(full: bool) -> List[Tuple[str, Dict[str, Any]]]:
    """(label, ``record`` arguments) of calls that together reach every kernel variant.

    Default (the test suite): float32 at every tile order (every kernel of both schedules,
    backward with all gradients, and the adjoint alone), the register-heaviest tile configuration
    (complex128 at M = 3), the forward with a partial last tile, and the walk path at M = 5. ``full``: every dtype, every gradient flag
    combination, expanded ``a`` (no vector loads) and lengths that are not multiples of 16.
    """
    dtypes = list(DTYPES) if full else ["float32"]
    orders = [1, 2, 3, 4, 5, 8, 16, 33] if full else [1, 2, 3, 4, 5]
    needs = [(True, True), (True, False), (False, True), (False, False)] if full else [(True, True)]
    Ts = [4096, 4099] if full else [4096]  # T and strides that are multiples of 16, and not
    calls: List[Tuple[str, Dict[str, Any]]] = []

    def add(M: int, dt: str, T: int, expanded: bool = False) -> None:
        # three-phase twice: a few chunks (a one-warp carry; the tile path's stretch passes) and
        # many (a carry of full blocks; tile passes)
        for schedule, TT in (("single", T), ("three-phase", T), ("three-phase", 32 * T)):
            base = dict(B=8, T=TT, M=M, dtype=DTYPES[dt], schedule=schedule, expanded=expanded)
            if schedule == "three-phase" and M <= tp.TILE_ORDERS:
                base["stretch"] = TT == T
            tag = f"M={M} {dt} T={TT} {schedule}{' expanded' if expanded else ''}"
            calls.append((f"fwd {tag}", dict(base, direction="fwd")))
            for need in needs if TT == T else needs[:1]:
                calls.append((f"bwd{need} {tag}", dict(base, direction="bwd", need=need)))
            if full or (M <= tp.TILE_ORDERS and TT == T):
                calls.append((f"rev {tag}", dict(base, direction="rev")))

    for M in orders:
        for dt in dtypes:
            for T in Ts:
                add(M, dt, T)
            if full:
                add(M, dt, Ts[0], expanded=True)
    if not full:
        add(3, "complex128", 4096)  # the register-heaviest tile configuration
        # the forward pass with a partial last tile (WHOLE false: its masked tail after the loop)
        for M, dt in ((2, "float32"), (4, "float32"), (3, "complex128")):
            for schedule, knobs in (
                ("single", {}),
                ("three-phase", dict(stretch=False)),
                ("three-phase", dict(stretch=True)),
            ):
                tag = f"M={M} {dt} T=4160 {schedule}{' stretch' if knobs.get('stretch') else ''}"
                calls.append(
                    (
                        f"fwd {tag}",
                        dict(B=8, T=4160, M=M, dtype=DTYPES[dt], schedule=schedule, direction="fwd", **knobs),
                    )
                )
    # slice summaries (walk kernels at every order; complex128 M = 3: the walk's float64 kernels at a tile order)
    for M, dt in [(M, dt) for M in [2, 5] + ([16, 33] if full else []) for dt in dtypes] + [(3, "complex128")]:
        for direction in ("sum", "sum-adjoint"):
            calls.append(
                (f"{direction} M={M} {dt} T=4096", dict(B=8, T=4096, M=M, dtype=DTYPES[dt], direction=direction))
            )
    # control frames (hop): the tile path in both schedules (a hop a multiple of the thread's samples,
    # and one that is not), the walk path
    for M, hop, schedule in ((2, 256, "three-phase"), (2, 100, "single"), (5, 256, "three-phase")):
        base = dict(B=8, T=4096, M=M, dtype=torch.float32, schedule=schedule, hop=hop)
        for direction in ("fwd", "bwd"):
            calls.append((f"{direction} M={M} float32 T=4096 {schedule} hop={hop}", dict(base, direction=direction)))
    framed = dict(B=8, T=4096, M=2, dtype=torch.float32, hop=256)  # a rank's slice map from its frames (distributed)
    for direction in ("sum", "sum-adjoint"):
        calls.append((f"{direction} M=2 float32 T=4096 hop=256", dict(framed, direction=direction)))
    for dt in [d for d in dtypes if not d.startswith("complex")]:  # one-pass time-invariant kernels (real)
        for direction in ("lti", "sos", "lti-bwd", "sos-bwd"):
            calls.append(
                (f"{direction} M=4 {dt} T=4096", dict(B=64, T=4096, M=4, dtype=DTYPES[dt], direction=direction))
            )
            chunked = direction.replace("-", "-tp-") if "-" in direction else f"{direction}-tp"  # a tail of 3
            calls.append((f"{chunked} M=4 {dt} T=4099", dict(B=8, T=4099, M=4, dtype=DTYPES[dt], direction=chunked)))
    return calls


def distinct_launches(full: bool, only: Optional[str] = None) -> Dict[str, Tuple[str, Launch]]:
    """``{variant key: (label of the first call reaching it, its launch)}`` over the calls of
    :func:`variant_calls` (those whose label matches ``only``), in the order the calls reach them.
    Recording launches runs no kernel and compiles nothing."""
    first: Dict[str, Tuple[str, Launch]] = {}
    for label, kw in variant_calls(full):
        if only is not None and not re.search(only, label):
            continue
        for launch in record(**kw):
            first.setdefault(variant_key(launch), (label, launch))
    return first


def all_variants(
    full: bool, only: Optional[str] = None, shard: Tuple[int, int] = (0, 1), log=print, sass: bool = True
) -> List[Variant]:
    """Compile every variant the calls of :func:`variant_calls` launch, each once (``shard = (i, n)``:
    only every n-th distinct variant from the i-th, for running in parallel processes; recording
    the calls is cheap, so every process records them all and the shards never overlap; ``sass``:
    see :func:`compile_launch`)."""
    first = distinct_launches(full, only)
    seen: Dict[str, Variant] = {}
    for index, (key, (label, launch)) in enumerate(first.items()):
        if index % shard[1] != shard[0]:
            continue
        seen[key] = v = compile_launch(launch, sass)
        memory = (
            f" loads={v.loads} stores={v.stores} loads-after-store-in-loop={v.loads_after_store_in_loop}"
            if sass
            else ""
        )
        log(
            f"{v.kernel:26s} {label:48s} warps={v.num_warps} regs={v.regs:3d} stack={v.stack_frame} "
            f"spill={v.spill_stores}/{v.spill_loads} shared={v.shared}{memory} ({v.compile_s:.1f} s)"
        )
    return list(seen.values())


# --------------------------------------------------------------------------- geometry
from lpcbench import GPU_MATRIX  # noqa: E402  (the benchmark suite's GPU shapes: one list)


def _bytes_model(p: tp.Plan, B: int, T: int, M: int, dtype: torch.dtype, direction: str) -> Tuple[int, int]:
    """(bytes moved, minimum bytes) of one call from its plan: each kernel's reads and writes
    of global memory, counting a re-read of the same sample's data as another read (no cache)."""
    s = torch.empty((), dtype=dtype).element_size()
    W = 2 if dtype.is_complex else 1
    cs = 8 if dtype in (torch.float64, torch.complex128) else 4  # chunk maps and start states
    if direction == "fwd":
        minimum = B * T * (M + 2) * s  # x, a in; y out
    else:
        minimum = B * T * (2 * M + 3) * s  # g, a, y in; grad_x, grad_a out
    moved = minimum + B * M * s  # the pass kernel, and zi (read; grad_zi written)
    if p.n_chunks > 1:
        C = p.n_chunks
        K = (M * M + M) * W * cs + 4  # a map and its int32 exponent
        if p.path == "tile" and p.stretch:  # every chunk's, every thread's prefix map
            rows = p.block_t // p.steps
            moved += B * T * (1 + M) * s  # phase 1 reads x (g) and a again
            moved += B * C * rows * K + B * (C - 1) * K + B * C * (rows - 1) * K  # stored, carry, pass
        else:
            summarised = min(T, (C - 1) * p.chunk_len)
            moved += B * summarised * (1 + M) * s  # phase 1 reads x (g) and a again
            moved += 2 * B * (C - 1) * K  # maps stored and read by the carry
        moved += 2 * B * C * M * W * cs  # start states
    return moved, minimum


def loop_trips(launch: Launch) -> int:
    """Iterations of a kernel's main loop in one program, from its launch arguments."""
    kw = launch.kwargs
    name = launch.name
    if name == "tile_fwd_pass_kernel" and kw["PREFETCH"] and int(kw["tiles_per_chunk"]) > 1:
        return int(kw["tiles_per_chunk"]) // 2  # two tiles a trip (tile_pass; an odd one after the loop)
    if name.startswith("tile_") and name.endswith(("_pass_kernel", "_summary_kernel")):
        return int(kw["tiles_per_chunk"])
    if name == "tile_carry_kernel":
        return -(-(int(kw["n_chunks"]) - 1) // int(kw["BLOCK_C"]))
    if name == "walk_carry_kernel":
        return int(kw["n_chunks"]) - 1
    if name == "walk_rev_pass_kernel":
        return int(kw["n_steps"])
    if name.startswith("walk_"):
        return int(kw["L"])
    if name == "frames_grad_kernel":
        return 2 * int(kw["span"])  # two loops (a frame's two intervals) of span units
    return 0


def issued_instructions(launch: Launch, v: Variant) -> int:
    """Thread instructions one launch issues (a static count): every warp of every program runs
    its straight-line SASS once and its main loop's body ``loop_trips`` times (as if no branch
    were skipped; 32 threads a warp); a body that ptxas unrolled holds ``loop_unroll`` trips."""
    straight = v.sass_instructions - v.loop_instructions
    per_warp = straight + -(-v.loop_instructions * loop_trips(launch) // v.loop_unroll)  # body: loop_unroll trips
    return math.prod(launch.grid) * v.num_warps * 32 * per_warp


def geometry(B: int, T: int, M: int, dtype: str, direction: str, hop: Optional[int] = None) -> Dict[str, Any]:
    """Launch geometry of one benchmark call on a 132-SM Hopper (a static model); ``hop``: ``a``
    as control frames (the bytes model stays the per-sample one)."""
    dt = DTYPES[dtype]
    p = tp.plan(B, T, M, dt, sm_count=SM_COUNT, reverse=direction != "fwd", hop=hop)
    launches = record(B, T, M, dt, "fwd" if direction == "fwd" else "bwd", **({} if hop is None else dict(hop=hop)))
    kernels = []
    for launch in launches:
        v = compile_launch(launch)
        programs = math.prod(launch.grid)
        per_sm = v.resident_programs()
        resident = min(programs, per_sm * SM_COUNT)
        issued = issued_instructions(launch, v)
        kernels.append(
            dict(
                sass_instructions=v.sass_instructions,
                loop_instructions=v.loop_instructions,
                loop_unroll=v.loop_unroll,
                loop_trips=loop_trips(launch),
                instructions_per_sample=issued / (B * T),
                resident_programs_per_sm=resident / SM_COUNT,
                kernel=v.kernel,
                grid=list(launch.grid),
                programs=programs,
                num_warps=v.num_warps,
                regs=v.regs,
                spills=v.spills,
                shared=v.shared,
                programs_per_sm=per_sm,
                resident_warps_share=resident * v.num_warps / (SM_COUNT * MAX_WARPS_PER_SM),
                programs_per_sm_launched=programs / SM_COUNT,
            )
        )
    moved, minimum = _bytes_model(p, B, T, M, dt, direction)
    if p.path == "tile":
        n_tiles = -(-T // p.block_t)
        tpc = -(-p.chunk_len // p.block_t)
        if p.n_chunks == 1:
            chain = f"{n_tiles} tile scans of {p.block_t}"
            steps = n_tiles
        else:
            blocks = -(-(p.n_chunks - 1) // p.block_c)
            chain = f"{tpc} + {blocks} + {tpc} tile scans ({p.block_t}; carry blocks of {p.block_c})"
            if p.stretch:  # the pass runs the summary's stretches: no scan
                chain = f"{tpc} tile scans + {blocks} + {tpc} stretch trips ({p.block_t}; carry blocks of {p.block_c})"
            steps = 2 * tpc + blocks
    else:
        if p.n_chunks == 1:
            chain = f"{T} samples"
            steps = T
        else:
            chain = f"{p.chunk_len} + {p.n_chunks - 1} + {p.chunk_len} steps (summary, carry, pass)"
            steps = 2 * p.chunk_len + p.n_chunks - 1
    main = [k for k in kernels if "pass" in k["kernel"]][-1]
    per_sample = main["loop_instructions"] / main["loop_unroll"] / (p.steps if p.path == "tile" else 1)
    total = sum(k["instructions_per_sample"] for k in kernels)
    # instructions a sample the GPU can issue while HBM moves the call's minimum bytes
    budget = THREAD_INSNS_PER_S / (HBM_BYTES_PER_S / (minimum / (B * T)))
    return dict(
        instructions_per_sample=total,
        instruction_budget_per_sample=budget,
        budget_share=total / budget,
        pass_instructions_per_sample=per_sample,
        B=B,
        T=T,
        M=M,
        dtype=dtype,
        direction=direction,
        path=p.path,
        schedule=p.schedule,
        n_chunks=p.n_chunks,
        chunk_len=p.chunk_len,
        block_t=p.block_t,
        lanes=p.lanes,
        kernels=kernels,
        pass_programs=main["programs"],
        pass_programs_per_sm=main["programs"] / SM_COUNT,
        pass_resident_programs_per_sm=main["resident_programs_per_sm"],
        pass_resident_warps_share=main["resident_warps_share"],
        bytes_moved=moved,
        min_bytes=minimum,
        bytes_ratio=moved / minimum,
        chain=chain,
        chain_steps=steps,
    )


def geometry_matrix(hop: Optional[int] = None) -> List[Dict[str, Any]]:
    return [geometry(B, T, M, dt, d, hop) for (B, T, M, dt) in GPU_MATRIX for d in ("fwd", "bwd")]


SWEEP_SHAPES = ((8, 2**18), (1024, 2**14))  # three phase (few long rows) and single pass (a full batch)


def geometry_sweep() -> List[Dict[str, Any]]:
    """:func:`geometry` of every tile-path dtype and order (``M <= 4``; complex128 ``M <= 3``) at
    :data:`SWEEP_SHAPES`, both directions: the issue budget of every case the tile path runs."""
    return [
        geometry(B, T, M, dt, d)
        for dt in DTYPES
        for M in range(1, tp.TILE_ORDERS + 1)
        if tp.plan(8, 2**18, M, DTYPES[dt], sm_count=SM_COUNT).path == "tile"
        for (B, T) in SWEEP_SHAPES
        for d in ("fwd", "bwd")
    ]


def sweep_table(rows: Sequence[Dict[str, Any]]) -> str:
    """Markdown table of :func:`geometry_sweep` rows: share of the issue budget, over 1 in bold."""
    out = [
        "| dtype | M | shape | schedule | fwd: instructions a sample / budget = share | bwd: same |",
        "|---|---|---|---|---|---|",
    ]
    by = {(r["dtype"], r["M"], r["B"], r["T"], r["direction"]): r for r in rows}
    for dt, M, B, T, d in by:
        if d != "fwd":
            continue
        cells = []
        for direction in ("fwd", "bwd"):
            r = by[(dt, M, B, T, direction)]
            share = f"{r['budget_share']:.2f}"
            cells.append(
                f"{r['instructions_per_sample']:.0f} / {r['instruction_budget_per_sample']:.0f} = "
                + (f"**{share}**" if r["budget_share"] > 1 else share)
            )
        out.append(
            f"| {dt} | {M} | {B}×2^{int(math.log2(T))} | {by[(dt, M, B, T, 'fwd')]['schedule']} | {' | '.join(cells)} |"
        )
    return "\n".join(out)


def _meets(r: Dict[str, Any]) -> Tuple[bool, bool]:
    """The issue's static targets for one row: (occupancy, bytes)."""
    if r["B"] * r["T"] < 2**20:
        occ = True
    else:
        occ = r["pass_resident_warps_share"] >= 0.5 or r["pass_resident_programs_per_sm"] >= 4
    return occ, r["bytes_ratio"] <= (1.1 if r["schedule"] == "single" else 1.8)


def geometry_table(rows: Sequence[Dict[str, Any]]) -> str:
    """Markdown table of :func:`geometry_matrix` rows."""
    out = [
        "| shape (B×T×M dtype) | dir | path / schedule | chunks × len (tile) | pass kernel: programs "
        "(per SM) | resident programs per SM (regs, spills) | resident warps (share of 132×64) | bytes moved / "
        "min | SASS instructions a sample: all kernels (pass loop) / budget = share | longest chain | targets (occupancy, bytes) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        main = [k for k in r["kernels"] if "pass" in k["kernel"]][-1]
        tile = f" ({r['block_t']})" if r["path"] == "tile" else f" ({r['lanes']} lanes)"
        occ, byt = _meets(r)
        out.append(
            f"| {r['B']}×2^{int(math.log2(r['T']))}×{r['M']} {r['dtype']} | {r['direction']} | {r['path']} / "
            f"{r['schedule']} | {r['n_chunks']} × {r['chunk_len']}{tile} | {r['pass_programs']} "
            f"({r['pass_programs_per_sm']:.1f}) | {main['programs_per_sm']} ({main['regs']}, "
            f"{'yes' if main['spills'] else 'no'}) | {100 * r['pass_resident_warps_share']:.0f} % | "
            f"{r['bytes_ratio']:.2f} | {r['instructions_per_sample']:.0f} ({r['pass_instructions_per_sample']:.0f}) / "
            f"{r['instruction_budget_per_sample']:.0f} = {r['budget_share']:.2f} "
            f"| {r['chain']} | {'met' if occ else 'MISSED'}, {'met' if byt else 'MISSED'} |"
        )
    return "\n".join(out)


def geometry_report(rows: Sequence[Dict[str, Any]]) -> str:
    return f"""# Launch geometry of the Triton backend on a 132-SM Hopper (static model)

**A static model, not a measurement**: `python bench/sm90.py geometry --out DIR` (Triton
{triton.__version__}) plans each call of the GPU benchmark matrix with `tritonlpc.backends.triton.plan.plan`
(132 SMs), records its launches, compiles them for sm_90 and reads the registers with
`ptxas -v`. Resident programs per SM follow from registers (65,536 an SM, allocated in 8s),
warps (64 an SM), shared memory (228 KiB) and 32 blocks an SM; resident warps are those of
the pass kernel (the output phase) as a share of 132 × 64. Bytes moved count every kernel's
global reads and writes (a sample's inputs read twice in three phase; chunk maps, every
thread's prefix map on the tile path, and start states; no cache), against the minimum (forward: x, a in, y out; backward: g, a, y in,
grad_x, grad_a out). SASS instructions a sample (thread instructions, static): every kernel
of the call (summary, carry, pass), each warp of each program issuing its straight-line SASS
once and its main loop's body once a trip (`loop_trips` in `bench/sm90.py`: tiles a chunk,
carry blocks, samples of a walk; a body ptxas unrolled `k` times, with a remainder loop after
it, counts once every `k` trips), over the B·T samples; in brackets the pass kernel's loop body
over the samples a thread handles a trip (tile: its row of STEPS; walk: one). The budget is
what the SMs can issue while HBM moves the minimum bytes of one sample (4.8 TB/s, 132 SMs × 4
warp instructions a cycle × 1.98 GHz); a share above 1 means instruction-bound in this model.
The longest chain is the sequential work of one row: tile scans (tile path) or samples (walk
path) in the summary, carry and pass.

Targets (issue 10): resident warps at least half of capacity or at least 4 resident programs
per SM at every shape with B·T >= 2^20; bytes moved <= 1.1x the minimum in single pass,
<= 1.8x in three phase.

{geometry_table(rows)}
"""


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("variants", "geometry"))
    ap.add_argument("--full", action="store_true", help="variants: every dtype, flag and layout")
    ap.add_argument("--only", help="variants: only the calls whose label matches this regular expression")
    ap.add_argument("--shard", default="0/1", help="variants: 'i/n', every n-th distinct variant from the i-th")
    ap.add_argument("--list", action="store_true", help="variants: list the distinct variants, compile nothing")
    ap.add_argument("--no-sass", action="store_true", help="variants: registers and spills only, no disassembly")
    ap.add_argument("--json", type=Path, help="also write the results as JSON here")
    ap.add_argument("--out", type=Path, help="geometry: write geometry.json and report.md to this directory")
    ap.add_argument("--hop", type=int, help="geometry: coefficients as control frames every HOP samples")
    ap.add_argument(
        "--sweep", action="store_true", help="geometry: every tile dtype and order at two shapes (sweep.json, sweep.md)"
    )
    args = ap.parse_args(argv)
    info = dict(
        triton=triton.__version__,
        torch=torch.__version__,
        target="sm_90",
        sm_count=SM_COUNT,
        note="static model from sm_90 compiles and the planner; not a measurement",
    )
    print(f"# triton {triton.__version__}, torch {torch.__version__}, target sm_90 (static; not a measurement)")
    if args.what == "variants" and args.list:
        launches = distinct_launches(args.full, args.only)
        listed = [
            dict(kernel=_jit_fn_and_kwargs(launch)[0].__name__, key=key, label=label)
            for key, (label, launch) in launches.items()
        ]
        for v in listed:
            print(f"{v['kernel']:26s} {v['label']}")
        print(f"# {len(listed)} distinct variants (not compiled)")
        result: Any = dict(info, variants=listed)
    elif args.what == "variants":
        i, n = (int(v) for v in args.shard.split("/"))
        variants = all_variants(args.full, args.only, (i, n), sass=not args.no_sass)
        bad = [v for v in variants if v.spills]
        print(f"# {len(variants)} variants compiled, {len(bad)} spill: {sorted({v.kernel for v in bad})}")
        result = dict(info, variants=[dataclasses.asdict(v) | dict(spills=v.spills) for v in variants])
    elif args.sweep:
        rows = geometry_sweep()
        print(sweep_table(rows))
        result = dict(info, rows=rows)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "sweep.json").write_text(json.dumps(result, indent=1) + "\n")
            (args.out / "sweep.md").write_text(
                "# Issue budget of every tile dtype and order (static sm_90 model, not a measurement)\n\n"
                f"`python bench/sm90.py geometry --sweep --out DIR` (Triton {triton.__version__}): the model of "
                "`report.md` at two shapes per dtype and order; a share above 1 (bold) means instruction-bound "
                "in this model.\n\n" + sweep_table(rows) + "\n"
            )
    else:
        rows = geometry_matrix(args.hop)
        print(geometry_table(rows))
        result = dict(info, rows=rows)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "geometry.json").write_text(json.dumps(result, indent=1) + "\n")
            (args.out / "report.md").write_text(geometry_report(rows))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
