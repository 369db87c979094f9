"""The operands of a comb or FDN call, shared by the delay kernels of every backend."""

from __future__ import annotations

from typing import NamedTuple, Tuple

import torch

__all__ = ["CombOperands", "FdnOperands"]


class CombOperands(NamedTuple):
    """A comb's ``delay, gain (B,T)``, ``zi (B,L)``, the direct gain ``c``, ``feedback`` and the
    shortest delay ``dmin``: what its forward and backward both read besides the signal."""

    d: torch.Tensor
    g: torch.Tensor
    zi: torch.Tensor
    c: float
    feedback: bool
    dmin: float


class FdnOperands(NamedTuple):
    """``x (B,T)``, integer delays ``m``, ``A (B,TA,N,N)`` (``TA`` 1 or ``T``), ``bin_, cout (B,N)``,
    ``direct (B,)``, ``zi (B,N,L)`` with ``L = max(m)``: what an FDN's forward and backward both read.
    """

    x: torch.Tensor
    m: Tuple[int, ...]
    A: torch.Tensor
    bin_: torch.Tensor
    cout: torch.Tensor
    direct: torch.Tensor
    zi: torch.Tensor
