"""Time-invariant filters in one pass (forward, real dtypes): coefficients read once per program.

``lti_tdf2_pass_kernel`` runs scipy's transposed direct form II of order ``N <= 4`` (padded to 4
with zero coefficients, which add exact zeros); ``lti_sos4_pass_kernel`` four second-order
sections ``[b0, b1, b2, 1, a1, a2]`` in cascade, every section's two states updated per sample
before the next sample is read (longer cascades: one launch per group of four, padded with
pass-through sections ``[1, 0, 0, 1, 0, 0]``). Coefficients and states live in registers for the
whole walk; one lane a row (``BLOCK_R`` rows a program), so the kernels fill a GPU only with
thousands of rows: short batches of long signals need the time-parallel schedules of the
all-pole backend. Coefficient rows are shared (stride 0) or one per signal row. The states ``z``
are read as the initial states and overwritten with the final ones. Launched through
:func:`.launch.launch`; ``tritonlpc.signal`` uses :func:`tdf2` and :func:`sos_cascade` for CUDA
tensors when no gradient is wanted.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .launch import launch

__all__ = ["lti_tdf2_pass_kernel", "lti_sos4_pass_kernel", "tdf2", "sos_cascade", "BLOCK_R"]

BLOCK_R = 32  # rows a program: one warp


@triton.jit
def _tdf2_step(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3):
    """One sample ``v`` through the order-4 form: ``(out, s0, s1, s2, s3)``."""
    o = b0 * v + s0
    return o, b1 * v + s1 - a1 * o, b2 * v + s2 - a2 * o, b3 * v + s3 - a3 * o, b4 * v - a4 * o


@triton.jit
def _section(b0, b1, b2, a1, a2, v, s0, s1):
    """One second-order section on one sample ``v``: ``(out, s0, s1)``."""
    o = b0 * v + s0
    return o, b1 * v + s1 - a1 * o, b2 * v - a2 * o


@triton.jit
def _coef(ptr, row, k, ok, CDT: tl.constexpr):
    """``ptr[row + k]`` where ``ok`` (else 0) in the accumulation dtype ``CDT``."""
    return tl.load(ptr + row + k, mask=ok, other=0.0).to(CDT)


@triton.jit
def _load4(ptr, row, ok, CDT: tl.constexpr):
    """``ptr[row + 0..3]`` (four state values)."""
    return _coef(ptr, row, 0, ok, CDT), _coef(ptr, row, 1, ok, CDT), _coef(ptr, row, 2, ok, CDT), _coef(ptr, row, 3, ok, CDT)  # fmt: skip


@triton.jit
def _store4(ptr, row, s0, s1, s2, s3, ok):
    tl.store(ptr + row, s0, mask=ok)
    tl.store(ptr + row + 1, s1, mask=ok)
    tl.store(ptr + row + 2, s2, mask=ok)
    tl.store(ptr + row + 3, s3, mask=ok)


@triton.jit
def _sample(xrow, r, t, sxt, ok, T, CDT: tl.constexpr):
    """``x[t]`` of the program's rows ``r`` (0 past the end; the comparison is made a tensor of
    ``r``'s shape for the interpreter)."""
    return _coef(xrow, t * sxt, 0, ok & (r * 0 + t < T), CDT)


@triton.jit(do_not_specialize=["R", "T"])
def lti_tdf2_pass_kernel(
    x_ptr, b_ptr, a_ptr, z_ptr, y_ptr, sxr, sxt, scr, R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr
):  # fmt: skip
    """``y`` `(R, T)` (contiguous) of rows ``x`` (strides ``sxr, sxt``) through ``b``, ``a``
    `(1 or R, 5)` (coefficient row stride ``scr``: 0 for one filter), states ``z`` `(R, 4)`."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    c = r.to(tl.int64) * scr
    b0, b1, b2 = _coef(b_ptr, c, 0, ok, CDT), _coef(b_ptr, c, 1, ok, CDT), _coef(b_ptr, c, 2, ok, CDT)
    b3, b4 = _coef(b_ptr, c, 3, ok, CDT), _coef(b_ptr, c, 4, ok, CDT)
    a1, a2 = _coef(a_ptr, c, 1, ok, CDT), _coef(a_ptr, c, 2, ok, CDT)
    a3, a4 = _coef(a_ptr, c, 3, ok, CDT), _coef(a_ptr, c, 4, ok, CDT)
    zr = r.to(tl.int64) * 4
    s0, s1, s2, s3 = _load4(z_ptr, zr, ok, CDT)
    xrow = x_ptr + r.to(tl.int64) * sxr
    v = _sample(xrow, r, 0, sxt, ok, T, CDT)
    for t in range(T):
        nxt = _sample(xrow, r, t + 1, sxt, ok, T, CDT)  # ahead of this step's store
        o, s0, s1, s2, s3 = _tdf2_step(b0, b1, b2, b3, b4, a1, a2, a3, a4, v, s0, s1, s2, s3)
        tl.store(y_ptr + r.to(tl.int64) * T + t, o, mask=ok)
        v = nxt
    _store4(z_ptr, zr, s0, s1, s2, s3, ok)


@triton.jit
def _section_coefs(q_ptr, c, k: tl.constexpr, ok, CDT: tl.constexpr):
    """Section ``k``'s ``(b0, b1, b2, a1, a2)`` of the coefficient rows at ``c``."""
    base = c + 6 * k
    b0, b1, b2 = _coef(q_ptr, base, 0, ok, CDT), _coef(q_ptr, base, 1, ok, CDT), _coef(q_ptr, base, 2, ok, CDT)
    return b0, b1, b2, _coef(q_ptr, base, 4, ok, CDT), _coef(q_ptr, base, 5, ok, CDT)


@triton.jit(do_not_specialize=["R", "T"])
def lti_sos4_pass_kernel(
    x_ptr, q_ptr, z_ptr, y_ptr, sxr, sxt, sqr, R, T, BLOCK_R: tl.constexpr, CDT: tl.constexpr
):  # fmt: skip
    """``y`` `(R, T)` (contiguous) of rows ``x`` (strides ``sxr, sxt``) through four sections
    ``q`` `(1 or R, 4, 6)` (row stride ``sqr``: 0 for one cascade), states ``z`` `(R, 4, 2)`."""
    r = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    ok = r < R
    c = r.to(tl.int64) * sqr
    p0, p1, p2, p4, p5 = _section_coefs(q_ptr, c, 0, ok, CDT)
    u0, u1, u2, u4, u5 = _section_coefs(q_ptr, c, 1, ok, CDT)
    v0, v1, v2, v4, v5 = _section_coefs(q_ptr, c, 2, ok, CDT)
    w0, w1, w2, w4, w5 = _section_coefs(q_ptr, c, 3, ok, CDT)
    zr = r.to(tl.int64) * 8
    s00, s01, s10, s11 = _load4(z_ptr, zr, ok, CDT)
    s20, s21, s30, s31 = _load4(z_ptr, zr + 4, ok, CDT)
    xrow = x_ptr + r.to(tl.int64) * sxr
    v = _sample(xrow, r, 0, sxt, ok, T, CDT)
    for t in range(T):
        nxt = _sample(xrow, r, t + 1, sxt, ok, T, CDT)  # ahead of this step's store
        h, s00, s01 = _section(p0, p1, p2, p4, p5, v, s00, s01)
        h, s10, s11 = _section(u0, u1, u2, u4, u5, h, s10, s11)
        h, s20, s21 = _section(v0, v1, v2, v4, v5, h, s20, s21)
        h, s30, s31 = _section(w0, w1, w2, w4, w5, h, s30, s31)
        tl.store(y_ptr + r.to(tl.int64) * T + t, h, mask=ok)
        v = nxt
    _store4(z_ptr, zr, s00, s01, s10, s11, ok)
    _store4(z_ptr, zr + 4, s20, s21, s30, s31, ok)


def _cdt(x: torch.Tensor):
    return tl.float64 if x.dtype == torch.float64 else tl.float32


def _grid(R: int):
    return (triton.cdiv(R, BLOCK_R),)


def tdf2(b: torch.Tensor, a: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``y`` of rows ``x`` `(R, T)` (real, any strides) through ``b``, ``a`` `(1 or R, N+1)`
    (``a[:, 0] == 1``, ``1 <= N <= 4``) from states ``z`` `(R, N)` (overwritten with the final
    states). Returns a new contiguous ``y``."""
    R, T = x.shape
    N = z.shape[1]
    pad = torch.nn.functional.pad
    b4, a4 = pad(b, (0, 4 - N)).contiguous(), pad(a, (0, 4 - N)).contiguous()
    z4 = pad(z, (0, 4 - N)).contiguous()
    y = torch.empty(R, T, dtype=x.dtype, device=x.device)
    launch(
        lti_tdf2_pass_kernel, _grid(R), x_ptr=x, b_ptr=b4, a_ptr=a4, z_ptr=z4, y_ptr=y, sxr=x.stride(0),
        sxt=x.stride(1), scr=0 if b4.shape[0] == 1 else 5, R=R, T=T, BLOCK_R=BLOCK_R, CDT=_cdt(x), num_warps=1,
    )  # fmt: skip
    z.copy_(z4[:, :N])
    return y


def sos_cascade(sos: torch.Tensor, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """``y`` of rows ``x`` `(R, T)` (real) through the sections ``sos`` `(1 or R, n, 6)` from
    states ``z`` `(R, n, 2)` (overwritten with the final states), one pass a group of four."""
    R, T = x.shape
    n = sos.shape[1]
    y = x
    for k in range(0, n, 4):
        m = min(4, n - k)
        q = torch.zeros(sos.shape[0], 4, 6, dtype=sos.dtype, device=sos.device)
        q[:, :, 0] = q[:, :, 3] = 1  # pass-through sections past the end
        q[:, :m] = sos[:, k : k + m]
        zk = torch.zeros(R, 4, 2, dtype=z.dtype, device=z.device)
        zk[:, :m] = z[:, k : k + m]
        out = torch.empty(R, T, dtype=x.dtype, device=x.device)
        launch(
            lti_sos4_pass_kernel, _grid(R), x_ptr=y, q_ptr=q, z_ptr=zk, y_ptr=out, sxr=y.stride(0), sxt=y.stride(1),
            sqr=0 if q.shape[0] == 1 else 24, R=R, T=T, BLOCK_R=BLOCK_R, CDT=_cdt(x), num_warps=1,
        )  # fmt: skip
        z[:, k : k + m] = zk[:, :m]
        y = out
    return y
