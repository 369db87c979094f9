"""Gradients of control frames (``hop=``): ``dL/da`` reduced to the frames inside the kernels.

With ``hop = H`` the coefficients are frames ``f`` every ``H`` samples and sample ``n`` of
interval ``j = n // H`` uses ``a[n] = (1 - w) f_j + w f_{j+1}``, ``w = n / H - j``
(:func:`tritonlpc._reference.interpolate`), so ``dL/df_j`` collects ``(1 - w) dL/da[n]`` over
interval ``j`` and ``w dL/da[n]`` over interval ``j - 1``. The adjoint pass kernels never store
``dL/da[n]``: each *unit* of a row (a tile on the tile path, a chunk on the walk path) sums it per
interval it touches and stores, per interval slot, ``(sum (1 - w) g, sum w g)`` to the scratch
``part (B, units, slots, 2, M W)`` (:func:`tile_frame_sums`, :func:`walk_frame_sums`); then
:func:`frames_grad` adds the units' slots of each frame in a fixed order (units ascending). No
atomics: the same bits run to run. Scratch: ``2 M`` values per interval and unit (a few per
tile or chunk), never `(B, T, M)`.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl

from .lang import entry, mul, store
from .launch import Call, launch
from .plan import next_pow2

__all__ = ["tile_frame_sums", "walk_frame_sums", "frames_grad_kernel", "frames_grad"]


@triton.jit
def _sums(acc, e: tl.constexpr, g, m):
    """``(acc[e] + g, acc[e + 1] + m g)``: a sum and a sum weighted by the sample's index ``m``."""
    return acc[e] + g, acc[e + 1] + g * m


@triton.jit
def tile_frame_sums(
    p_ptr, us, Y, lo, b, t, n_tiles, sign, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, R: tl.constexpr,
    S: tl.constexpr, HOP: tl.constexpr, KC: tl.constexpr,
):  # fmt: skip
    """Store tile ``t``'s interval sums of ``grad_a[n, i] = -sign u[n] conj(y[n-1-i])`` to
    ``part[b, t, s]`` for its ``KC`` interval slots (``s = j - t R S // HOP``).

    ``us``, ``Y``: a reverse tile's ``u`` and ``y[n-1-i]`` in processing order (row ``r`` holds
    ``lo[r] + S - 1 - jj``). A row's ``S`` samples lie in its interval ``j = lo // HOP`` and, when
    ``HOP`` is not a multiple of ``S``, the next (``HOP >= S``); with ``m`` a sample's index in the
    row, ``sum w g = (r0 sum g + sum m g) / HOP`` (``r0 = lo - j HOP``). The rows' sums are then
    added per slot across the tile (``tl.sum``, a fixed order)."""
    W: tl.constexpr = 2 if CPLX else 1
    MW: tl.constexpr = M * W
    SPLIT: tl.constexpr = HOP % S != 0
    j = lo // HOP
    nb = (j + 1) * HOP - lo  # the row's first sample in interval j + 1 (SPLIT)
    r0 = (lo - j * HOP).to(CDT)
    slot = j - (t * (R * S)) // HOP
    base = p_ptr + (b * n_tiles + t) * (KC * 2 * MW)
    NA: tl.constexpr = 4 if SPLIT else 2
    acc = ()  # per entry: sum g over interval j, sum m g (and the same over interval j + 1 if SPLIT)
    for _k in tl.static_range(NA * MW):
        acc = acc + (tl.zeros_like(r0),)
    for jj in tl.static_range(S):  # u and y[n-1-i] of a sample die once added (as in _grad_a)
        m = S - 1 - jj
        ur, ui = entry(us, jj, CPLX)
        nxt = ()
        for i in tl.static_range(M):
            hr, hi = entry(Y, jj * M + i, CPLX)
            pr, pi = mul(ur, ui, hr, -hi, CPLX)
            for c in tl.static_range(W):
                g = -sign * pr if c == 0 else -sign * pi
                if SPLIT:
                    gb = tl.where(m >= nb, g, 0.0)
                    g = g - gb
                    nxt = nxt + _sums(acc, NA * (i * W + c), g, m) + _sums(acc, NA * (i * W + c) + 2, gb, m)
                else:
                    nxt = nxt + _sums(acc, NA * (i * W + c), g, m)
        acc = nxt
    for e in tl.static_range(MW):
        hi_a = (r0 * acc[NA * e] + acc[NA * e + 1]) / HOP  # to frame j + 1; the rest to frame j
        lo_a = acc[NA * e] - hi_a
        if SPLIT:
            hi_b = (acc[NA * e + 3] - nb.to(CDT) * acc[NA * e + 2]) / HOP
            lo_b = acc[NA * e + 2] - hi_b
        for s in tl.static_range(KC):
            to_j = tl.where(slot == s, lo_a, 0.0)
            to_j1 = tl.where(slot == s, hi_a, 0.0)
            if SPLIT:
                to_j += tl.where(slot + 1 == s, lo_b, 0.0)
                to_j1 += tl.where(slot + 1 == s, hi_b, 0.0)
            tl.store(base + s * (2 * MW) + e, tl.sum(to_j, axis=0))
            tl.store(base + s * (2 * MW) + MW + e, tl.sum(to_j1, axis=0))


@triton.jit
def walk_frame_sums(
    slots, Sr, Si, Hr, Hi, qr, qi, n, valid, t0, pok, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
    HOP: tl.constexpr,
):  # fmt: skip
    """Add the walk's ``grad_a[n]`` (``q``, ``(N, MP)``, where ``valid``) to the lanes' sums over its
    interval ``j = n // HOP``, ``S = sum g`` and ``H = sum w g``; at the interval's lowest sample
    in the chunk (its last, walking down), store ``(S - H, H)`` to slot ``slots + j 2 M W``
    (``slots``: the lane's slot ``0`` less its first interval) and restart from zero."""
    W: tl.constexpr = 2 if CPLX else 1
    j = tl.maximum(n, 0) // HOP
    w = ((n - j * HOP).to(CDT) * (1.0 / tl.full((), HOP, CDT)))[:, None]
    Sr += tl.where(valid[:, None], qr, 0.0)
    Hr += tl.where(valid[:, None], w * qr, 0.0)
    if CPLX:
        Si += tl.where(valid[:, None], qi, 0.0)
        Hi += tl.where(valid[:, None], w * qi, 0.0)
    last = valid & ((n == j * HOP) | (n == t0))
    ptr = slots + (j * (2 * M * W))[:, None]
    store(ptr, 0, Sr - Hr, Si - Hi, last[:, None] & pok[None, :], CPLX)
    store(ptr, M * W, Hr, Hi, last[:, None] & pok[None, :], CPLX)
    Sr = tl.where(last[:, None], 0.0, Sr)
    Hr = tl.where(last[:, None], 0.0, Hr)
    if CPLX:
        Si = tl.where(last[:, None], 0.0, Si)
        Hi = tl.where(last[:, None], 0.0, Hi)
    return Sr, Si, Hr, Hi


@triton.jit(do_not_specialize=["T", "F", "base", "unit", "n_units", "n_slots", "span", "hop"])
def frames_grad_kernel(
    p_ptr, g_ptr, T, F, base, unit, n_units, n_slots, span, hop, MW: tl.constexpr, MWP: tl.constexpr,
    CDT: tl.constexpr, BLOCK: tl.constexpr,
):  # fmt: skip
    """``grad[b, f] = sum_u part[u, interval f, 0] + sum_u part[u, interval f - 1, 1]`` over the
    units ``u`` (ascending) that touch the interval: unit ``u`` covers samples ``[max(base + u
    unit, 0), base + (u + 1) unit)``, its slot ``s`` interval ``max(base + u unit, 0) // hop + s``;
    at most ``span`` units touch an interval. ``grad`` ``(B, F, MW)`` contiguous."""
    b = tl.program_id(0).to(tl.int64)
    f = tl.program_id(1).to(tl.int64) * BLOCK + tl.arange(0, BLOCK)
    e = tl.arange(0, MWP)
    em = (e < MW)[None, :]
    K = (T + hop - 1) // hop  # intervals that hold samples
    acc = tl.zeros((BLOCK, MWP), CDT)
    for part in tl.static_range(2):
        k = f - part
        ok = (k >= 0) & (k < K)
        k = tl.maximum(k, 0)
        u = (k * hop - base) // unit  # base <= 0: no negative division
        u_end = tl.minimum((tl.minimum(k * hop + hop, T) - 1 - base) // unit, n_units - 1)
        d = 0
        while d < span:
            s = k - tl.maximum(base + u * unit, 0) // hop
            off = (((b * n_units + u) * n_slots + s) * 2 + part) * MW
            acc += tl.load(p_ptr + off[:, None] + e[None, :], mask=(ok & (u <= u_end))[:, None] & em, other=0.0)
            u += 1
            d += 1
    tl.store(
        g_ptr + ((b * F + f) * MW)[:, None] + e[None, :], acc.to(g_ptr.dtype.element_ty), mask=(f < F)[:, None] & em
    )


def frames_grad(call: Call, part: torch.Tensor, grad: torch.Tensor) -> None:
    """Reduce the pass kernels' interval sums ``part`` (:meth:`~.launch.Call.frame_layout`) to
    the frames' gradient ``grad`` (a contiguous real view ``(B, F, M[, 2])``)."""
    base, unit, n_units, n_slots = call.frame_layout()
    B, F, MW, hop = call.B, grad.shape[1], call.M * call.W, call.hop
    block = min(64, next_pow2(F))
    launch(
        frames_grad_kernel, (B, triton.cdiv(F, block)), p_ptr=part, g_ptr=grad, T=call.T, F=F, base=base, unit=unit,
        n_units=n_units, n_slots=n_slots, span=(hop - 1) // unit + 2, hop=hop, MW=MW, MWP=next_pow2(MW),
        CDT=call.cdt, BLOCK=block, num_warps=1,
    )  # fmt: skip
