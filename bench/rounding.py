"""Float32/complex64 error of the Numba kernels against the float64 sequential reference, for
this tree and a git revision (``--base``): did a change of summation order (or fused
multiply-adds) change the accuracy? Inputs as in the tests (``tritonlpc.testing.make_inputs``:
slowly varying stable coefficients).

Usage: python bench/rounding.py [--base main]
Prints, per (M, dtype, direction), the max |error| / max(|reference|, 1) over all outputs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT))

from ab import export_base  # noqa: E402
from tritonlpc import _reference  # noqa: E402
from tritonlpc.backends.numba_cpu import BACKEND as new  # noqa: E402
from tritonlpc.testing import make_inputs, rel_error  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--base", default="main")
    p.add_argument("--B", type=int, default=4)
    p.add_argument("--T", type=int, default=4096)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="tritonlpc-rounding-"))
    sys.path.insert(0, str(tmp))
    base_module = importlib.import_module(export_base(args.base, tmp) + ".backends.numba_cpu")
    base = getattr(base_module, "BACKEND", base_module)  # older versions: module-level functions
    print(f"{'M':>3} {'dtype':>10} {'direction':>9} {'base':>10} {'new':>10}")
    for M in (1, 2, 3, 8):
        for dtype in (torch.float32, torch.complex64):
            x, a, zi = make_inputs(args.B, args.T, M, dtype, seed=M)
            hi = torch.complex128 if dtype.is_complex else torch.float64
            ref_y = _reference.allpole(x.to(hi), a.to(hi), zi.to(hi))
            ref_u = _reference.reverse(x.to(hi), a.to(hi), conj_a=True)
            for direction, ref, run in (
                ("forward", ref_y, lambda m: m.forward(x, a, zi)),  # noqa: B023 (called in this iteration)
                ("reverse", ref_u, lambda m: m.reverse(x, a, conj_a=True)),  # noqa: B023
            ):
                print(
                    f"{M:>3} {str(dtype)[6:]:>10} {direction:>9} {rel_error(run(base), ref):10.2e} {rel_error(run(new), ref):10.2e}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
