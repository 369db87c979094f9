"""torchcomp 0.2.1 (which does ``from torchlpc import sample_wise_lpc``) runs on tritonlpc
through ``tritonlpc.install_as_torchlpc()`` and gives torchlpc's outputs and gradients.

Each library runs in its own process (both answer to the module name ``torchlpc``)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from tritonlpc.testing import assert_rel_close

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("torchcomp") is None, reason="torchcomp is not installed"),
    pytest.mark.skipif(importlib.util.find_spec("torchlpc") is None, reason="torchlpc is not installed"),
]

SCRIPT = r"""
import sys, warnings
warnings.simplefilter("ignore")
if sys.argv[1] == "tritonlpc":
    import tritonlpc; tritonlpc.install_as_torchlpc()
import torch, torchlpc, torchcomp
assert (torchlpc.__name__ == "tritonlpc") == (sys.argv[1] == "tritonlpc")
g = torch.Generator().manual_seed(0)
B, T = 3, 4000
x = torch.randn(B, T, dtype=torch.float64, generator=g) * torch.linspace(0.05, 1.5, T, dtype=torch.float64)
params = {
    "comp_thresh": torch.tensor([-10.0, -6.0, -12.0], dtype=torch.float64),
    "comp_ratio": torch.tensor([4.0, 2.5, 8.0], dtype=torch.float64),
    "exp_thresh": torch.tensor([-24.0, -20.0, -22.0], dtype=torch.float64),
    "exp_ratio": torch.tensor([0.5, 0.7, 0.3], dtype=torch.float64),
    "at": torch.tensor([0.02, 0.05, 0.01], dtype=torch.float64),
    "rt": torch.tensor([0.003, 0.001, 0.002], dtype=torch.float64),
}
leaves = {k: v.clone().requires_grad_() for k, v in params.items()}
rms_coef = torch.tensor(0.01, dtype=torch.float64, requires_grad=True)
rms = torchcomp.avg(x.square().clamp_min(1e-8), rms_coef.expand(B)).sqrt()
gain = torchcomp.compexp_gain(rms, **leaves)
lim = torchcomp.limiter_gain(x, torch.tensor(-6.0, dtype=torch.float64), leaves["at"], leaves["rt"])
loss = (gain * x).square().mean() + lim.mean()
grads = torch.autograd.grad(loss, [rms_coef, *leaves.values()])
torch.save({"gain": gain.detach(), "lim": lim.detach(), "grads": [g.detach() for g in grads]}, sys.argv[2])
"""


def _run(lib: str, out: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, lib, str(out)], capture_output=True, text=True, env=env, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return torch.load(out)


@pytest.mark.slow(seconds=15)
def test_torchcomp_on_tritonlpc_matches_torchlpc(tmp_path):
    ours = _run("tritonlpc", tmp_path / "ours.pt")
    theirs = _run("torchlpc", tmp_path / "theirs.pt")
    assert_rel_close(ours["gain"], theirs["gain"], 1e-10)
    assert_rel_close(ours["lim"], theirs["lim"], 1e-10)
    assert len(ours["grads"]) == 7
    for a, b in zip(ours["grads"], theirs["grads"]):
        assert b.abs().max() > 0  # the loss really depends on every parameter
        assert_rel_close(a, b, 1e-8)
