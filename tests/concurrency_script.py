"""Run by tests/test_concurrency.py in a fresh process: calls from forked DataLoader workers,
spawned processes and threads after a first (parallel) call in the parent must all work and
give the parent's results bit for bit.

Usage: python concurrency_script.py fork|spawn|threads [...]   (prints "ok <mode>" per mode)
"""

from __future__ import annotations

import multiprocessing as mp
import sys
import threading

import torch

import tritonlpc
from tritonlpc import audio


def work(seed: int) -> torch.Tensor:
    """Filter (B = 4, large enough for the parallel kernels), recurrence and smoother (B = 1, 2)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(4, 1 << 13, generator=g)
    a = 0.4 * torch.rand(4, 1 << 13, 2, generator=g) - 0.2
    y = tritonlpc.sample_wise_lpc(x, a)
    h = tritonlpc.linear_recurrence(a[..., 0], x)
    f = torch.rand(2, 1 << 13, generator=g)
    s1 = audio.attack_release_smoothing(f[:1], 0.9, 0.99)
    s2 = audio.attack_release_smoothing(f, 0.9, 0.99)
    return torch.cat([y, h, s1, s2])


class Calls(torch.utils.data.Dataset):
    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> torch.Tensor:
        return work(i)


def main(modes) -> None:
    expected = [work(i) for i in range(8)]  # the parent's first calls start Numba's thread pool
    for mode in modes:
        if mode == "fork":
            loader = torch.utils.data.DataLoader(Calls(), num_workers=2, multiprocessing_context="fork")
            got = [batch[0] for batch in loader]
        elif mode == "spawn":
            with mp.get_context("spawn").Pool(1) as pool:
                got = pool.map(work, range(4))
        else:
            got = [None] * 8
            threads = [threading.Thread(target=lambda i=i: got.__setitem__(i, work(i))) for i in range(8)]  # noqa: B023 (joined below)
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        for i, r in enumerate(got):
            assert torch.equal(r, expected[i]), (mode, i)
        print("ok", mode, flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
