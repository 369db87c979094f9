"""Compile the delay-effect Triton kernels (:mod:`tritonlpc.backends.triton.delay`) for sm_90
without a GPU and report registers and spills, with the machinery of ``bench/sm90.py``.

    python bench/sm90_delay.py [--full] [--json out.json]

The launches of real calls are recorded (CPU tensors, nothing runs) and each distinct
specialisation is compiled once. Default: float32, every kernel (comb forward/backward with and
without feedback, FDN forward/backward, time-invariant and time-varying A, N = 8). ``--full``
adds float64 and N = 2, 4, 16.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import List, Optional, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parent))
import torch  # noqa: E402

import sm90  # noqa: E402  (refuses to run under TRITON_INTERPRET=1)
from tritonlpc.backends._delay_operands import CombOperands, FdnOperands  # noqa: E402
from tritonlpc.backends.triton import delay as td  # noqa: E402
from tritonlpc.backends.triton.launch import recording  # noqa: E402


def record_all(full: bool) -> List[sm90.Launch]:
    B, T = 4, 4096
    dtypes = [torch.float32, torch.float64] if full else [torch.float32]
    with recording() as launches:
        for dt in dtypes:
            x = torch.empty(B, T, dtype=dt)
            d = torch.empty(B, 1, dtype=dt).expand(B, T)
            zi = torch.empty(B, 8, dtype=dt)
            for fb in (True, False):
                op = CombOperands(d, x, zi, 1.0, fb, 1.0 if fb else 0.0)
                td.comb_forward(x, op)
                td.comb_backward(x, x, op)
            for N in (2, 4, 8, 16) if full else (8,):
                m = tuple(range(7, 7 + N))
                for TA in (1, T):
                    A = torch.empty(B, TA, N, N, dtype=dt)
                    g = torch.empty(B, N, dtype=dt)
                    z = torch.empty(B, N, max(m), dtype=dt)
                    op = FdnOperands(x, m, A, g, g, torch.empty(B, dtype=dt), z)
                    y, s = td.fdn_forward(op)
                    td.fdn_backward(x, s, op, s)
    return launches


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    seen, variants = set(), []
    for launch in record_all(args.full):
        key = sm90.variant_key(launch)
        if key in seen:
            continue
        seen.add(key)
        v = sm90.compile_launch(launch, sass=False)  # registers and spills: no disassembly
        variants.append(v)
        print(
            f"{v.kernel:19s} warps={v.num_warps} regs={v.regs:3d} spill_st={v.spill_stores} "
            f"spill_ld={v.spill_loads} shared={v.shared} ({v.compile_s:.1f} s)"
        )
    if args.json:
        args.json.write_text(json.dumps({"variants": [dataclasses.asdict(v) for v in variants]}, indent=1))
    return 1 if any(v.spills for v in variants) else 0


if __name__ == "__main__":
    raise SystemExit(main())
