"""Sequence-parallel (time-sharded) filtering over ``torch.distributed``.

Each rank of a process group holds a contiguous time slice ``[t_r, t_{r+1})`` of the same
``B`` rows (rank order = time order; slices may be uneven, shorter than the filter order, or
empty) and calls the same function; each gets its slice of the single-process result, with
gradients of every input that match the single-process ones. A slice's effect on the filter
state is an affine map of ``M x (M+1)`` numbers and a power-of-two exponent (:mod:`.summary`),
so a forward exchanges one all-gather of those maps and a backward one all-gather of ``2·B·M``
adjoint values, whatever the slice lengths. Built on ``torch.distributed`` collectives (gloo on CPU, NCCL on GPU); the
filtering on each rank uses the backend of its tensors (Numba on CPU, Triton on CUDA).

Functions (plain tensors, or DTensors sharded on time, ``Shard(1)``, over a 1-D mesh):
    sample_wise_lpc(x, a, zi=None, return_zf=False, *, group=None, offset=None, hop=None)
    linear_recurrence(a, x, zi=None, *, group=None, offset=None, hop=None)
    time_varying_iir(x, b, a, zi=None, return_zf=False, *, group=None, offset=None, hop=None)
    time_varying_biquad(x, b, a, zi=None, return_zf=False, *, group=None, offset=None, hop=None)
    slice_summary(v, a, *, neg_a=False, adjoint=False, hop=None)   a slice's affine map (backend hook)

Control-rate coefficients (``hop=H``, as in :func:`tritonlpc.sample_wise_lpc`): every non-empty
slice starts on a frame boundary (``t_r`` a multiple of ``H``) and rank ``r`` passes the frames of
its slice plus the next one, ``a_f[:, t_r // H : (t_r + T_r - 1) // H + 2]``; the frame two ranks
share gets each rank's contribution to its gradient there (their sum is the single-process one).
Plain tensors only (a ``Shard(1)`` DTensor cannot hold the shared frame).

Example (``torchrun --nproc-per-node 2 script.py``)::

    dist.init_process_group("gloo")
    r, n = dist.get_rank(), dist.get_world_size()
    x_r, a_r = x[:, r * T // n : (r + 1) * T // n], a[:, r * T // n : (r + 1) * T // n]
    y_r = tritonlpc.distributed.sample_wise_lpc(x_r, a_r, zi if r == 0 else None)
"""

from ._iir import time_varying_biquad, time_varying_iir
from ._lpc import linear_recurrence, sample_wise_lpc
from .summary import slice_summary

__all__ = ["sample_wise_lpc", "linear_recurrence", "time_varying_iir", "time_varying_biquad", "slice_summary"]
