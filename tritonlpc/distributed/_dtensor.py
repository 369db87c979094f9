"""DTensor in, DTensor out: the sharded functions accept DTensors sharded on time (``Shard(1)``)
over a 1-D device mesh (and replicated initial states), so they compose with PyTorch's own
tensor- and context-parallel code.

The local tensors go through the plain sharded path; outputs are rebuilt with the inputs'
layout (``y``: ``Shard(1)``; final states: ``Replicate()``). Gradients of replicated inputs come
back as ``Partial(sum)`` DTensors (rank 0 holds the initial state's gradient), and the gradient
of a replicated output is taken as ``Partial`` too, so every rank's contribution is summed once.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, List, Optional, Sequence, Tuple, cast

import torch
import torch.distributed as dist

if TYPE_CHECKING:
    from torch.distributed.tensor import DeviceMesh, DTensor

__all__ = ["Layout", "unwrap"]

Named = Sequence[Tuple[str, Any]]


@dataclass
class Layout:
    """The mesh and local pieces of a DTensor call, and how to wrap its outputs."""

    mesh: DeviceMesh
    sharded_locals: List[torch.Tensor]
    replicated_locals: List[Optional[torch.Tensor]]
    group: dist.ProcessGroup
    offset: Optional[int]
    length: int  # global number of samples

    def shard(self, y: torch.Tensor) -> DTensor:
        """This rank's slice `(B, T_r)` as the time-sharded DTensor `(B, T)`."""
        from torch.distributed.tensor import DTensor, Shard

        shape = torch.Size((y.shape[0], self.length))
        return DTensor.from_local(y, self.mesh, [Shard(1)], run_check=False, shape=shape, stride=(self.length, 1))

    def replicate(self, z: torch.Tensor) -> DTensor:
        """A value every rank holds identically (e.g. ``zf``), as a replicated DTensor."""
        from torch.distributed.tensor import DTensor, Partial, Replicate

        return DTensor.from_local(z, self.mesh, [Replicate()], run_check=False, grad_placements=[Partial()])


def _mesh_of(name: str, t: DTensor, mesh: Optional[DeviceMesh]) -> DeviceMesh:
    if t.device_mesh.ndim != 1:
        raise ValueError(
            f"{name} must live on a 1-D device mesh (the ranks sharing the time axis), got a {t.device_mesh.ndim}-D mesh"
        )
    if mesh is not None and t.device_mesh != mesh:
        raise ValueError(f"{name} is on a different device mesh than the other DTensor arguments")
    return t.device_mesh


def unwrap(sharded: Named, replicated: Named, group: object, offset: object) -> Optional[Layout]:
    """Local tensors and layout of a call with DTensor arguments; ``None`` if there are none.

    Args:
        sharded: ``(name, value)`` of the time-sharded arguments (first one: the signal
            `(B, T, ...)`); each must be a DTensor with placements ``(Shard(1),)``.
        replicated: ``(name, value)`` of state arguments (``None`` or a replicated DTensor).
        group, offset: the call's own arguments, which must be ``None`` with DTensors.

    Raises:
        TypeError: DTensors mixed with plain tensors. ValueError: wrong mesh or placements.
    """
    if "torch.distributed.tensor" not in sys.modules:  # no DTensor exists yet (saves ~1 s of import)
        return None
    from torch.distributed.tensor import DTensor, Partial, Replicate, Shard

    named = [*sharded, *((n, v) for n, v in replicated if v is not None)]
    if not any(isinstance(v, DTensor) for _, v in named):
        return None
    plain = [n for n, v in named if not isinstance(v, DTensor)]
    if plain:
        raise TypeError(f"{', '.join(plain)} must be DTensors too when other arguments are DTensors")
    for name, value in (("group", group), ("offset", offset)):
        if value is not None:
            raise ValueError(f"{name} must be None with DTensor arguments (it comes from their device mesh)")
    mesh = None
    for name, t in sharded:
        mesh = _mesh_of(name, t, mesh)
        if tuple(t.placements) != (Shard(1),):
            raise ValueError(
                f"{name} must be sharded on the time dimension, placements (Shard(1),), got {tuple(t.placements)}"
            )
    for name, t in replicated:
        if t is not None:
            mesh = _mesh_of(name, t, mesh)
            if tuple(t.placements) != (Replicate(),):
                raise ValueError(f"{name} must be replicated, placements (Replicate(),), got {tuple(t.placements)}")
    mesh = cast("DeviceMesh", mesh)  # set by the loop: sharded is never empty
    signal = sharded[0][1]
    try:  # a private helper of torch's; without it the slices' order is not checked
        from torch.distributed.tensor._utils import compute_local_shape_and_global_offset

        start: Optional[int] = int(compute_local_shape_and_global_offset(signal.shape, mesh, signal.placements)[1][1])
    except ImportError:  # pragma: no cover
        start = None
    return Layout(
        mesh=mesh,
        sharded_locals=[t.to_local() for _, t in sharded],
        replicated_locals=[t.to_local(grad_placements=[Partial()]) if t is not None else None for _, t in replicated],
        group=mesh.get_group(),
        offset=start,
        length=signal.shape[1],
    )
