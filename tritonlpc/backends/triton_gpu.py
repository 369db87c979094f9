"""Triton backend: chunked parallel scan (forward) and reverse scan (backward), any order M.

Implements the contract of :mod:`tritonlpc.backends` on CUDA tensors, and on CPU tensors when
Triton's interpreter is on (``TRITON_INTERPRET=1``, how CI tests these kernels). The kernels
live in :mod:`tritonlpc.backends._triton_scan`; this module picks the schedule and launches.

Schedule ``"chunked"`` (parallel over batch rows *and* time). Time is cut into ``C`` chunks of
length ``L``; a *job* is one (row, chunk) pair and the vector lanes of a program are ``N``
consecutive jobs, all walking their chunks in lockstep, one sample per step:

1. **summary** (``B (C-1)`` jobs): each lane walks a full chunk running ``M + 1`` recursions
   side by side, the zero-state response to the input and the ``M`` responses to a unit start
   state; their end states are the chunk's affine map ``s -> P_c s + h_c`` (``P_c`` the product
   of the chunk's companion matrices, ``h_c`` its zero-state end state). The last chunk of a
   row is never summarised (nothing comes after it).
2. **carry** (``B`` lanes): a sequential scan over a row's chunks, ``S_0 = zi``,
   ``S_{c+1} = P_c S_c + h_c``, writing every chunk's start state (``M`` values per chunk).
3. **output** (``B C`` jobs): each lane re-runs its chunk from its start state and writes ``y``.

The reverse direction (``backward``/``reverse``) is the same three phases with chunks aligned
at the end of the signal (chunk 0 is the last ``L`` samples), running the adjoint filter in its
transposed direct form, which reads only row ``n+1`` of ``a`` at step ``n`` (in place: nothing
is flipped, padded or copied)::

    lam_j[n] = g[n] [j == 0] - A[n+1, j] lam_0[n+1] + lam_{j+1}[n+1],    u[n] = lam_0[n]

(``A`` conjugated for ``backward``), starting from ``lam[T] = 0``. Its output phase also writes
``grad_a[n, j] = -u[n] conj(y[n-1-j])`` (``+`` for ``neg_a``; ``y[-k] = zi[k-1]``), and the
lane owning ``n = 0`` takes one more step (``g[-1] = 0``) whose state is ``grad_zi``.

Schedule ``"rows"``: one chunk per row (``L = T``): no summary and no carry, one lane per row.
It does ``1/(M+2)`` of the chunked work and wins whenever the batch alone fills the GPU.

How a schedule is picked (``schedule=None``; GPU guesses, see ``_plan``): ``"rows"`` when
``B >= _ROWS_MIN_B`` lanes or ``T`` is at most one chunk; otherwise ``"chunked"`` with
``L`` chosen so that ``B C`` is about ``_TARGET_JOBS`` lanes, ``64 <= L`` and ``L >= ~sqrt(T)``
(so the carry's sequential length ``C`` does not exceed the chunk's ``L``), rounded to a
multiple of 16. ``chunk_len=`` forces ``"chunked"`` with that ``L`` (tests use tiny chunks).

Orders ``M <= 4`` keep the state in registers (one variable per lag); larger orders keep it in
a circular buffer of ``MP = next_pow2(M)`` slots, read with a rotated coefficient row, O(M)
per step; summaries carry the ``M`` unit responses as an ``(N, MP, MP)`` tile.

Everything is read through strides (an expanded ``a`` costs nothing), offsets are int64,
complex tensors are read through real views with complex arithmetic in the kernel, float16 and
bfloat16 are accumulated in float32 (``SUPPORTS_HALF``), float64/complex128 in float64. No
atomics (results are bit-identical run to run), no host synchronisation (CUDA-graph
capturable). Scratch per call: ``B (C-1) M (M+1)`` values for the summaries and ``B C M``
start states (none for ``"rows"``).

Half precision error (measured against float64 on the same rounded inputs, see
``tests/test_triton_backend.py``): relative L2 about 3.5e-3 for bfloat16 (6.5e-3 for
``grad_a``, whose ``y`` arrives in bfloat16) and 3e-4 for float16 — the rounding of the stored
outputs; the float32 accumulation adds nothing visible.
"""

from __future__ import annotations

import contextlib
import math
import os
from dataclasses import dataclass
from typing import ContextManager, Optional, Tuple

import torch
import triton
import triton.language as tl

from ._triton_scan import _carry_kernel, _fwd_kernel, _rev_kernel

__all__ = ["forward", "backward", "reverse", "SUPPORTS_HALF", "SCHEDULES"]

SUPPORTS_HALF = True
SCHEDULES = ("chunked", "rows")

# ---- launch configuration (GPU guesses; the GPU-tuning issue should revisit all of these)
_SMALL_M = 4  # orders up to this keep their state in registers
_TARGET_JOBS = 16384  # lanes wanted in flight (about 132 SMs x 128 lanes)
_ROWS_MIN_B = 8192  # with this many rows, "rows" (no time parallelism) is used
_MIN_CHUNK = 64
_MAX_CHUNK = 4096
_CARRY_LANES = 32


def _interpreted() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


def _next_pow2(n: int) -> int:
    return 1 << max(0, int(n) - 1).bit_length()


@dataclass(frozen=True)
class _Plan:
    """Chunk length ``L`` and count ``C`` per row (``C == 1``: the "rows" schedule)."""

    L: int
    C: int


def _plan(B: int, T: int, chunk_len: Optional[int], schedule: Optional[str]) -> _Plan:
    if schedule is not None and schedule not in SCHEDULES:
        raise ValueError(f"schedule must be one of {SCHEDULES} or None, got {schedule!r}")
    if chunk_len is not None:
        if isinstance(chunk_len, bool) or not isinstance(chunk_len, int) or chunk_len < 1:
            raise ValueError(f"chunk_len must be a positive int, got {chunk_len!r}")
        if schedule == "rows":
            raise ValueError("chunk_len only applies to the 'chunked' schedule")
        L = chunk_len
    elif schedule == "rows" or (schedule is None and (B >= _ROWS_MIN_B or T <= _MIN_CHUNK)):
        L = T
    else:
        L = max(_MIN_CHUNK, -(-(B * T) // _TARGET_JOBS), math.isqrt(T))
        L = min(_MAX_CHUNK, -(-L // 16) * 16)
    L = max(1, min(L, T))
    return _Plan(L, -(-T // L))


_OUT_UNROLL = 4  # steps per loop iteration in output walks (their loads issue ahead of the recursion)


def _unroll(L: int) -> int:
    """Steps per loop iteration; must divide ``L`` (summaries walk exactly ``L`` steps)."""
    for u in (4, 2):
        if L % u == 0:
            return u
    return 1


def _lanes(n_jobs: int, per_lane: int, lanes: Optional[int], budget: int = 4096) -> Tuple[int, int]:
    """(lanes per program ``N``, num_warps) for ``n_jobs`` jobs holding ``per_lane`` values each.

    GPU guess: small programs (at most 32 lanes, one warp for register-sized states, at most
    ``budget`` state values a program) so that a few thousand lanes still spread over every
    SM, and about 8 state values per thread.
    """
    if lanes is not None:
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1 or lanes & (lanes - 1):
            raise ValueError(f"lanes must be a power of two, got {lanes!r}")
        n = lanes
    elif _interpreted():  # wide numpy ops are what makes the interpreter fast
        cap = max(1, 16384 // per_lane)
        n = max(1, min(_next_pow2(n_jobs), 1 << (cap.bit_length() - 1), 256))
    else:
        cap = max(1, budget // per_lane)
        n = max(1, min(32, 1 << (cap.bit_length() - 1), _next_pow2(n_jobs)))
    return n, max(1, min(8, _next_pow2(n * per_lane) // 256))


def _real(t: torch.Tensor) -> torch.Tensor:
    """Real view of ``t`` (trailing dim 2 for complex): strides in real elements, no copy."""
    if t.is_complex():
        return torch.view_as_real(t.resolve_conj().resolve_neg())
    return t.resolve_neg()


def _coef(a: torch.Tensor, conj: bool, neg: bool) -> Tuple[torch.Tensor, bool, bool]:
    """``a`` as stored in memory (a lazy conj/neg bit becomes a kernel flag, never a copy)."""
    if a.is_complex() and a.is_conj():
        a, conj = a.conj(), not conj
    if a.is_neg():
        a, neg = torch._neg_view(a), not neg  # clears the bit; same storage, no copy
    if a.is_complex():
        return torch.view_as_real(a), conj, neg
    return a, False, neg


def _cdt(dtype: torch.dtype):
    return tl.float64 if dtype in (torch.float64, torch.complex128) else tl.float32


def _scratch_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype in (torch.float64, torch.complex128) else torch.float32


def _on_device(t: torch.Tensor) -> ContextManager:
    """Launch on the tensor's own GPU (Triton launches on the current device and stream)."""
    return torch.cuda.device(t.device) if t.device.type == "cuda" else contextlib.nullcontext()


def _check(t: torch.Tensor) -> None:
    if t.device.type != "cuda" and not _interpreted():
        raise RuntimeError("the triton backend needs CUDA tensors (or TRITON_INTERPRET=1 for CPU tensors)")


def _summary_lanes(M: int, R: int, n_jobs: int, lanes: Optional[int]) -> Tuple[int, int]:
    if M <= _SMALL_M:
        return _lanes(n_jobs, M * _next_pow2(M + 1) * R, lanes)
    return _lanes(n_jobs, _next_pow2(M) ** 2 * R, lanes, budget=2048)


def _output_lanes(M: int, R: int, n_jobs: int, lanes: Optional[int]) -> Tuple[int, int]:
    if M <= _SMALL_M:
        return _lanes(n_jobs, M * R, lanes)
    return _lanes(n_jobs, _next_pow2(M) * R, lanes, budget=512)


def _carry(P: torch.Tensor, H: torch.Tensor, S: torch.Tensor, zr: Optional[torch.Tensor], B: int, C: int,
           M: int, R: int, cplx: bool, cdt) -> None:
    """Phase 2: ``S[b, 0] = zi[b]`` (zeros if ``zr`` is None), ``S[b, c+1] = P[b, c] S[b, c] + H[b, c]``."""
    MP = _next_pow2(M)
    if _interpreted():
        N, warps = min(256, _next_pow2(B)), 1
    else:  # a lane holds an (MP, MP) map (twice: one prefetched); keep <= ~2048 values a program
        N = max(1, min(_CARRY_LANES, _next_pow2(B), 2048 // (MP * MP * R)))
        N = 1 << (N.bit_length() - 1)
        e = N * MP * MP * R
        warps = 1 if e <= 512 else 4 if e <= 2048 else 8
    z = zr if zr is not None else S
    _carry_kernel[(triton.cdiv(B, N),)](
        P, H, S, z, zr.stride(0) if zr is not None else 0, zr.stride(1) if zr is not None else 0,
        B, C, M=M, MP=MP, N=N, R=R, CPLX=cplx, ZERO_INIT=zr is None, CDT=cdt, num_warps=warps,
    )


def forward(
    x: torch.Tensor,
    a: torch.Tensor,
    zi: torch.Tensor,
    conj_a: bool = False,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
    lanes: Optional[int] = None,
) -> torch.Tensor:
    """``y[n] = x[n] - sum_i A[n,i-1] y[n-i]``, ``y[-k] = zi[k-1]``; ``A = (-)a``, conjugated if ``conj_a``.

    Args:
        x: ``(B, T)``; a: ``(B, T, M)``; zi: ``(B, M)``; one dtype, one device, any strides.
        chunk_len: chunk length ``L`` (forces the ``"chunked"`` schedule); default: by shape.
        schedule: ``"chunked"``, ``"rows"`` or ``None`` (pick by shape, see the module doc).
        lanes: chunks per program (a power of two); default: by shape and device.

    Returns:
        ``y``, a new contiguous ``(B, T)`` tensor of ``x``'s dtype.
    """
    _check(x)
    B, T, M = a.shape
    y = torch.empty((B, T), dtype=x.dtype, device=x.device)
    if B == 0 or T == 0:
        return y
    plan = _plan(B, T, chunk_len, schedule)
    L, C = plan.L, plan.C
    cplx = x.is_complex()
    R = 2 if cplx else 1
    ar, conj, neg = _coef(a, conj_a, neg_a)
    xr, zr, yr = _real(x), _real(zi), _real(y)
    cdt = _cdt(x.dtype)
    small = M <= _SMALL_M
    common = dict(M=M, MP=_next_pow2(M), R=R, SMALL=small, CPLX=cplx, CONJ=conj, NEG=neg, CDT=cdt)
    xs = (xr.stride(0), xr.stride(1), ar.stride(0), ar.stride(1), ar.stride(2))
    ys = (yr.stride(0), yr.stride(1))
    with _on_device(x):
        if C == 1:
            S, ss = zr, (zr.stride(0), 0, zr.stride(1))
        else:
            sdt = _scratch_dtype(x.dtype)
            P = torch.empty(B * (C - 1) * M * M * R, dtype=sdt, device=x.device)
            H = torch.empty(B * (C - 1) * M * R, dtype=sdt, device=x.device)
            S = torch.empty(B * C * M * R, dtype=sdt, device=x.device)
            ss = (C * M * R, M * R, R)
            n_jobs = B * (C - 1)
            N, w = _summary_lanes(M, R, n_jobs, lanes)
            _fwd_kernel[(triton.cdiv(n_jobs, N),)](
                xr, ar, S, yr, P, H, *xs, *ss, *ys, n_jobs, T, C - 1, L, L,
                KS=_next_pow2(M + 1) if small else 1, N=N, SUMMARY=True, UNROLL=_unroll(L),
                num_warps=w, **common,
            )
            _carry(P, H, S, zr, B, C, M, R, cplx, cdt)
        n_jobs = B * C
        N, w = _output_lanes(M, R, n_jobs, lanes)
        U = _OUT_UNROLL  # output walks may overrun their chunk (masked), so any L works
        _fwd_kernel[(triton.cdiv(n_jobs, N),)](
            xr, ar, S, yr, yr, yr, *xs, *ss, *ys, n_jobs, T, C, L, -(-L // U) * U,
            KS=1, N=N, SUMMARY=False, UNROLL=U, num_warps=w, **common,
        )
    return y


def _reverse_impl(
    g: torch.Tensor, a: torch.Tensor, y: Optional[torch.Tensor], zi: Optional[torch.Tensor],
    need_a: bool, need_zi: bool, conj_a: bool, neg_a: bool,
    chunk_len: Optional[int], schedule: Optional[str], lanes: Optional[int],
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    _check(g)
    B, T, M = a.shape
    dev = g.device
    u = torch.empty((B, T), dtype=g.dtype, device=dev)
    ga = torch.empty((B, T, M), dtype=g.dtype, device=dev) if need_a else None
    gzi = (torch.empty if T > 0 else torch.zeros)((B, M), dtype=g.dtype, device=dev) if need_zi else None
    if B == 0 or T == 0:
        return u, ga, gzi
    if need_a and (y is None or zi is None):
        raise ValueError("grad_a needs y and zi")
    plan = _plan(B, T, chunk_len, schedule)
    L, C = plan.L, plan.C
    cplx = g.is_complex()
    R = 2 if cplx else 1
    ar, conj, neg = _coef(a, conj_a, neg_a)
    gr, ur = _real(g), _real(u)
    yr = _real(y) if need_a else ur
    zr = _real(zi) if need_a else ur
    gar = _real(ga) if need_a else ur
    gzr = _real(gzi) if need_zi else ur
    cdt = _cdt(g.dtype)
    small = M <= _SMALL_M
    common = dict(M=M, MP=_next_pow2(M), R=R, SMALL=small, CPLX=cplx, CONJ=conj, NEG=neg, CDT=cdt)
    st = (
        gr.stride(0), gr.stride(1), ar.stride(0), ar.stride(1), ar.stride(2),
        yr.stride(0), yr.stride(1), zr.stride(0), zr.stride(1),
    )
    us = (ur.stride(0), ur.stride(1))
    with _on_device(g):
        if C == 1:
            S, ss = ur, (0, 0, 0)
        else:
            sdt = _scratch_dtype(g.dtype)
            P = torch.empty(B * (C - 1) * M * M * R, dtype=sdt, device=dev)
            H = torch.empty(B * (C - 1) * M * R, dtype=sdt, device=dev)
            S = torch.empty(B * C * M * R, dtype=sdt, device=dev)
            ss = (C * M * R, M * R, R)
            n_jobs = B * (C - 1)
            N, w = _summary_lanes(M, R, n_jobs, lanes)
            _rev_kernel[(triton.cdiv(n_jobs, N),)](
                gr, ar, yr, zr, S, ur, gar, gzr, P, H, *st, *ss, *us, n_jobs, T, C - 1, L, L,
                KS=_next_pow2(M + 1) if small else 1, N=N, SUMMARY=True, NEED_A=False, NEED_ZI=False,
                ZERO_INIT=False, UNROLL=_unroll(L), num_warps=w, **common,
            )
            _carry(P, H, S, None, B, C, M, R, cplx, cdt)
        n_jobs = B * C
        N, w = _output_lanes(M, R, n_jobs, lanes)
        U = _OUT_UNROLL  # output walks may overrun their chunk (masked), so any L works
        steps = L + 1 if need_zi else L  # the lane owning n = 0 takes one more step: grad_zi
        _rev_kernel[(triton.cdiv(n_jobs, N),)](
            gr, ar, yr, zr, S, ur, gar, gzr, ur, ur, *st, *ss, *us, n_jobs, T, C, L, -(-steps // U) * U,
            KS=1, N=N, SUMMARY=False, NEED_A=need_a, NEED_ZI=need_zi, ZERO_INIT=C == 1,
            UNROLL=U, num_warps=w, **common,
        )
    return u, ga, gzi


def backward(
    g: torch.Tensor,
    a: torch.Tensor,
    y: Optional[torch.Tensor],
    zi: Optional[torch.Tensor],
    need_grad_a: bool,
    need_grad_zi: bool,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
    lanes: Optional[int] = None,
) -> Tuple[torch.Tensor, Optional[torch.Tensor], Optional[torch.Tensor]]:
    """Fused VJP of :func:`forward` (``conj_a=False``) in torch's complex convention.

    Args:
        g: ``dL/dy``, ``(B, T)``; a: ``(B, T, M)``; y: the forward output ``(B, T)`` (may be
            ``None`` unless ``need_grad_a``); zi: ``(B, M)`` (needed for ``grad_a``).
        need_grad_a, need_grad_zi: which optional gradients to compute.
        neg_a: the forward used ``A = -a``; ``grad_a`` is then w.r.t. ``a``.
        chunk_len, schedule, lanes: as in :func:`forward`.

    Returns:
        ``(grad_x (B,T), grad_a (B,T,M) or None, grad_zi (B,M) or None)``, new contiguous tensors.
    """
    return _reverse_impl(g, a, y, zi, need_grad_a, need_grad_zi, True, neg_a, chunk_len, schedule, lanes)


def reverse(
    g: torch.Tensor,
    a: torch.Tensor,
    conj_a: bool = False,
    neg_a: bool = False,
    *,
    chunk_len: Optional[int] = None,
    schedule: Optional[str] = None,
    lanes: Optional[int] = None,
) -> torch.Tensor:
    """Reverse filter ``u[n] = g[n] - sum_i A[n+i,i-1] u[n+i]`` (``A = (-)a``, conjugated only if ``conj_a``).

    ``g (B, T)``, ``a (B, T, M)`` read at shifted times in place -> ``u (B, T)``. Keywords as in
    :func:`forward`.
    """
    return _reverse_impl(g, a, None, None, False, False, conj_a, neg_a, chunk_len, schedule, lanes)[0]
