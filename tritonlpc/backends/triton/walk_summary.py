"""Walk path, summary and carry phases (orders ``M > 4`` in the three-phase schedule; every order
for a slice summary).

* ``walk_{fwd,rev}_summary_kernel``: each chunk's affine map ``s -> P s + h`` from ``M + 1``
  runs side by side (the zero-state response to the input, and the responses to the ``M`` unit
  start states), stored as ``P (rows, maps, M, M)`` and ``h (rows, maps, M)`` in canonical
  state order (forward: index ``k`` = ``y[t-1-k]``; reverse: ``lam_k``). Chunks are full
  (``L`` samples); chunk 0 starts (forward) or ends (reverse) at ``t0``.
* ``walk_carry_kernel``: ``s[r, 0] = zi[r]`` (or 0), ``s[r, c+1] = P s[r, c] + h`` (``h``
  optional), guarded so that a zero state stays zero through an overflowing map; state row
  ``r`` reads the maps of row ``r // reps`` (``reps`` states carried through one row's maps:
  how :func:`slice_maps` composes a slice's chunk maps).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
import triton
import triton.language as tl

from ..._reference import ldexp as ldexp_tensor
from .lang import load, mul, store
from .launch import Call, launch
from .plan import next_pow2, walk_carry_geometry, walk_summary_warps
from .scale import exponent, ldexp, renorm
from .walk_io import fwd_step, fwd_step_loads, lanes, rev_step, rev_step_loads

__all__ = [
    "walk_fwd_summary_kernel",
    "walk_rev_summary_kernel",
    "walk_carry_kernel",
    "walk_summary",
    "walk_carry",
    "slice_maps",
]


@triton.jit
def _unit_states(N: tl.constexpr, M: tl.constexpr, MP: tl.constexpr, CDT: tl.constexpr):
    """``(N, MP, MP)`` unit states: column ``q`` holds a 1 in slot ``q``."""
    p3 = tl.arange(0, MP)[None, :, None]
    q3 = tl.arange(0, MP)[None, None, :]
    return tl.zeros((N, MP, MP), CDT) + ((p3 == q3) & (p3 < M)).to(CDT), tl.zeros((N, MP, MP), CDT)


@triton.jit
def _renorm_units(Ur, Ui, e, CPLX: tl.constexpr):
    """The ``(N, MP, MP)`` unit responses renormalised per lane (:func:`~.scale.renorm`), the
    factors applied (``(N,)``) and the new exponents."""
    mag = tl.abs(Ur) + tl.abs(Ui) if CPLX else tl.abs(Ur)
    f, e = renorm(tl.max(tl.max(mag, axis=2), axis=1), e)
    Ur = Ur * f[:, None, None]
    if CPLX:
        Ui = Ui * f[:, None, None]
    return Ur, Ui, f, e


@triton.jit
def _store_map(
    p_ptr, h_ptr, e_ptr, i, ok, kout, kin, Ur, Ui, Fr, Fi, e, M: tl.constexpr, MP: tl.constexpr, CPLX: tl.constexpr
):  # fmt: skip
    """Store map ``i`` (``(N,)`` map indices): slot ``p`` of the end state is entry ``kout[p]``,
    unit column ``q`` is column ``kin[q]``; the mantissa ``U`` and its exponent ``e``."""
    W: tl.constexpr = 2 if CPLX else 1
    p = tl.arange(0, MP)
    p3 = p[None, :, None]
    q3 = tl.arange(0, MP)[None, None, :]
    m3 = ok[:, None, None] & (p3 < M) & (q3 < M)
    store(p_ptr, ((i * (M * M))[:, None, None] + kout[None, :, None] * M + kin[None, None, :]) * W, Ur, Ui, m3, CPLX)
    store(h_ptr, ((i * M)[:, None] + kout[None, :]) * W, Fr, Fi, ok[:, None] & (p < M)[None, :], CPLX)
    tl.store(e_ptr + i, e, mask=ok)


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "t0", "L"])
def walk_fwd_summary_kernel(
    v_ptr, a_ptr, p_ptr, h_ptr, e_ptr, svb, svt, sab, sat, sam, n_jobs, T, n_chunks, t0, L, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """Maps of ``N`` chunks ``[t0 + c L, t0 + c L + L)`` (map ``j``, the job): the zero-state
    end state ``h[k]`` and the transition ``P[k, k']`` (column ``k'``: the end state from
    ``y[start-1-k'] = 1``), as a mantissa renormalised every 8 steps and its exponent ``e``."""
    j, ok, b, c = lanes(n_chunks, n_jobs, N)
    e = tl.zeros((N,), tl.int32)
    Fr = tl.zeros((N, MP), CDT)
    Fi = tl.zeros((N, MP), CDT)
    Ur, Ui = _unit_states(N, M, MP, CDT)
    vrow = b * svb
    arow = b * sab
    n = t0 + c * L
    xr, xi, cr, ci = fwd_step_loads(
        v_ptr, a_ptr, vrow, arow, n, 0, ok, svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
    )
    tau = 0
    while tau < L:
        v1 = ok & (n + 1 < t0 + c * L + L)
        xr1, xi1, cr1, ci1 = fwd_step_loads(
            v_ptr, a_ptr, vrow, arow, n + 1, tau + 1, v1, svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
        )
        Fr, Fi, _, _ = fwd_step(Fr, Fi, xr, xi, cr, ci, tau, MP, M, CPLX)
        qr, qi = mul(Ur, Ui, cr[:, :, None], ci[:, :, None], CPLX)
        w = (tl.arange(0, MP) == tau % M)[None, :, None]
        Ur = tl.where(w, -tl.sum(qr, axis=1)[:, None, :], Ur)
        if CPLX:
            Ui = tl.where(w, -tl.sum(qi, axis=1)[:, None, :], Ui)
        if tau % 8 == 7:  # headroom 2**96 above BIG in float32: growth up to 2**12 a step
            Ur, Ui, _f, e = _renorm_units(Ur, Ui, e, CPLX)  # `_` above is CDT; f is float32
        xr, xi, cr, ci = xr1, xi1, cr1, ci1
        n += 1
        tau += 1
    p = tl.arange(0, MP)
    kout = (L + 2 * M - 1 - p) % M  # canonical index of slot p after L steps
    _store_map(p_ptr, h_ptr, e_ptr, j, ok, kout, (2 * M - 1 - p) % M, Ur, Ui, Fr, Fi, e, M, MP, CPLX)


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "t0", "L"])
def walk_rev_summary_kernel(
    v_ptr, a_ptr, p_ptr, h_ptr, e_ptr, svb, svt, sab, sat, sam, n_jobs, T, n_chunks, t0, L, sign, conj,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr, HOP: tl.constexpr,
):  # fmt: skip
    """Adjoint maps ``lam[t1] -> lam[t1 - L]`` of ``N`` chunks ending at ``t1 = t0 - c L`` (the
    coefficient row ``t1`` is read unless ``t1 = T``); the transition as a mantissa and exponent
    as in the forward."""
    j, ok, b, c = lanes(n_chunks, n_jobs, N)
    e = tl.zeros((N,), tl.int32)
    p = tl.arange(0, MP)
    p3 = p[None, :, None]
    Fr = tl.zeros((N, MP), CDT)
    Fi = tl.zeros((N, MP), CDT)
    Ur, Ui = _unit_states(N, M, MP, CDT)
    uFr = tl.zeros((N,), CDT)
    uFi = tl.zeros((N,), CDT)
    uUr = tl.sum(tl.where(p3 == 0, Ur, 0.0), axis=1)  # lam_0 of each unit run, (N, MP)
    uUi = tl.zeros((N, MP), CDT)
    vrow = b * svb
    arow = b * sab
    n = t0 - c * L - 1
    gr, gi, cr, ci = rev_step_loads(
        v_ptr, a_ptr, vrow, arow, n, 0, ok, ok & (n + 1 < T), svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
    )
    tau = 0
    while tau < L:
        v1 = ok & (n - 1 >= t0 - c * L - L)
        gr1, gi1, cr1, ci1 = rev_step_loads(
            v_ptr, a_ptr, vrow, arow, n - 1, tau + 1, v1, v1, svt, sat, sam, sign, conj, M, MP, CPLX, CDT, HOP
        )
        Fr, Fi, uFr, uFi = rev_step(Fr, Fi, uFr, uFi, gr, gi, cr, ci, tau, MP, M, CPLX)
        new = (p == (tau + 1) % M)[None, :, None]
        er, ei = mul(cr[:, :, None], ci[:, :, None], uUr[:, None, :], uUi[:, None, :], CPLX)
        Ur = tl.where((p == tau % M)[None, :, None], 0.0, Ur) - er
        uUr = tl.sum(tl.where(new, Ur, 0.0), axis=1)
        if CPLX:
            Ui = tl.where((p == tau % M)[None, :, None], 0.0, Ui) - ei
            uUi = tl.sum(tl.where(new, Ui, 0.0), axis=1)
        if tau % 8 == 7:
            Ur, Ui, f, e = _renorm_units(Ur, Ui, e, CPLX)
            uUr = uUr * f[:, None]
            if CPLX:
                uUi = uUi * f[:, None]
        gr, gi, cr, ci = gr1, gi1, cr1, ci1
        n -= 1
        tau += 1
    kout = (p + M - L % M) % M  # canonical lam index of slot p after L steps
    _store_map(p_ptr, h_ptr, e_ptr, j, ok, kout, p, Ur, Ui, Fr, Fi, e, M, MP, CPLX)


def _map_ptrs(maps: Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor]) -> Dict[str, Any]:
    """The keywords of chunk maps ``(P^, h, e)`` for the kernels that write (summary) or read
    (carry) them."""
    return {"p_ptr": maps[0], "h_ptr": maps[1], "e_ptr": maps[2]}


def _summary_launch(call: Call, n_chunks: int, t0: int, L: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    p, M, W = call.plan, call.M, call.W
    jobs = call.B * n_chunks
    P, h = call.scratch(call.B, n_chunks, M, M * W), call.scratch(call.B, n_chunks, M * W)
    E = torch.empty(call.B, n_chunks, dtype=torch.int32, device=call.v.device)
    launch(
        walk_rev_summary_kernel if call.reverse else walk_fwd_summary_kernel,
        (triton.cdiv(jobs, p.lanes),),
        **_map_ptrs((P, h, E)),
        n_jobs=jobs,
        n_chunks=n_chunks,
        t0=t0,
        L=L,
        MP=next_pow2(M),
        N=p.lanes,
        num_warps=walk_summary_warps(p.lanes, M, W),
        **call.common(),
    )
    return P, h, E


def walk_summary(call: Call) -> Tuple[torch.Tensor, ...]:
    """Phase 1: the maps ``P^ (B, C-1, M, M W)``, ``h (B, C-1, M W)``, ``e (B, C-1)`` (int32;
    ``P = P^ 2**e``) of every chunk but the last in processing order."""
    C = call.plan.n_chunks
    return _summary_launch(call, C - 1, call.T if call.reverse else 0, call.plan.chunk_len)


# --------------------------------------------------------------------------- carry
@triton.jit(do_not_specialize=["n_rows", "n_chunks"])
def walk_carry_kernel(
    p_ptr, h_ptr, e_ptr, z_ptr, s_ptr, se_ptr, szb, szm, n_rows, reps, n_chunks,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr,
):  # fmt: skip
    """Sequential scan over the chunks of ``N`` state rows: ``s[r, 0] = zi[r]`` (zeros if ``z_ptr``
    is None), ``s[r, c+1] = P[r // reps, c] s[r, c] + h[r // reps, c]`` with ``P = P^ 2**e``.

    Each step is ``2**(e + es) (P^ (s 2**-es)) + h`` (``es``: the exponent of the state's largest
    entry; products with a zero state entry are zero), so it overflows only where the state does.
    Without ``h`` (``h_ptr`` None: the columns of a product of maps) the states are kept as
    mantissas (``2**(e + es) = 1``) and their exponents written to ``se (n_rows, C)`` int32.
    ``P^`` is ``(rows, C-1, M, M)``, ``h`` ``(rows, C-1, M)``, ``e`` ``(rows, C-1)``, ``s``
    ``(n_rows, C, M)`` contiguous; the next map is loaded one iteration ahead."""
    W: tl.constexpr = 2 if CPLX else 1
    rows = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    mrows = rows // reps
    ok = rows < n_rows
    k = tl.arange(0, MP)
    kok = k < M
    m2 = ok[:, None] & kok[None, :]
    m3 = ok[:, None, None] & kok[None, :, None] & kok[None, None, :]
    if z_ptr is None:
        sr = tl.zeros((N, MP), CDT)
        si = tl.zeros((N, MP), CDT)
    else:
        sr, si = load(z_ptr, (rows * szb)[:, None] + (k * szm)[None, :], m2, CPLX, CDT)
    es = tl.zeros((N,), tl.int32)  # without h: the state's exponent
    C1 = n_chunks - 1
    poff = (k[:, None] * M + k[None, :])[None, :, :] * W
    pr, pi = load(p_ptr, (mrows * C1 * (M * M) * W)[:, None, None] + poff, m3, CPLX, CDT)
    pe = tl.load(e_ptr + mrows * C1, mask=ok, other=0)
    if h_ptr is not None:
        hr, hi = load(h_ptr, (mrows * C1 * M * W)[:, None] + k[None, :] * W, m2, CPLX, CDT)
    c = 0
    while c < C1:
        nb = mrows * C1 + tl.minimum(c + 1, C1 - 1)  # the next map, ahead of the store (the last reloads its own)
        nr, ni = load(p_ptr, (nb * (M * M) * W)[:, None, None] + poff, m3, CPLX, CDT)
        ne = tl.load(e_ptr + nb, mask=ok, other=0)
        if h_ptr is not None:
            gr, gi = load(h_ptr, (nb * M * W)[:, None] + k[None, :] * W, m2, CPLX, CDT)
        else:
            tl.store(se_ptr + rows * n_chunks + c, es, mask=ok)
        store(s_ptr, ((rows * n_chunks + c) * M * W)[:, None] + k[None, :] * W, sr, si, m2, CPLX)
        z = (sr == 0) & (si == 0)
        ks = exponent(tl.max(tl.abs(sr) + tl.abs(si), axis=1), CDT)
        sr = ldexp(sr, -ks[:, None], CDT)
        if CPLX:
            si = ldexp(si, -ks[:, None], CDT)
        mr, mi = mul(
            tl.where(z[:, None, :], 0.0, pr), tl.where(z[:, None, :], 0.0, pi), sr[:, None, :], si[:, None, :], CPLX
        )
        sr = tl.sum(mr, axis=2)
        if CPLX:
            si = tl.sum(mi, axis=2)
        if h_ptr is not None:
            sr = ldexp(sr, (pe + ks)[:, None], CDT) + hr
            if CPLX:
                si = ldexp(si, (pe + ks)[:, None], CDT) + hi
            hr, hi = gr, gi
        else:
            es += pe + ks
        pr, pi, pe = nr, ni, ne
        c += 1
    store(s_ptr, ((rows * n_chunks + C1) * M * W)[:, None] + k[None, :] * W, sr, si, m2, CPLX)
    if h_ptr is None:
        tl.store(se_ptr + rows * n_chunks + C1, es, mask=ok)


def _carry_launch(
    call: Call,
    maps: Tuple[torch.Tensor, Optional[torch.Tensor], torch.Tensor],
    z: Optional[torch.Tensor],
    rows: int,
    reps: int,
    n_chunks: int,
) -> Tuple[torch.Tensor, Optional[torch.Tensor]]:
    """The carry over ``maps = (P^, h, e)`` (``h`` None: mantissas, and their exponents)."""
    M, W = call.M, call.W
    h = maps[1]
    starts = call.scratch(rows, n_chunks, M * W)
    exps = None if h is not None else torch.empty(rows, n_chunks, dtype=torch.int32, device=starts.device)
    n, warps = walk_carry_geometry(rows, M, W)
    launch(
        walk_carry_kernel,
        (triton.cdiv(rows, n),),
        **_map_ptrs(maps),
        z_ptr=z,
        s_ptr=starts,
        se_ptr=exps,
        szb=z.stride(0) if z is not None else 0,
        szm=z.stride(1) if z is not None else 0,
        n_rows=rows,
        reps=reps,
        n_chunks=n_chunks,
        M=M,
        MP=next_pow2(M),
        N=n,
        CPLX=call.cplx,
        CDT=call.cdt,
        num_warps=warps,
    )
    return starts, exps


def walk_carry(call: Call, maps: Tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Phase 2: the chunks' start states ``(B, C, M W)`` from ``call.start`` (or zeros)."""
    P, h, E = maps
    return _carry_launch(call, (P, h, E), call.start, call.B, 1, call.plan.n_chunks)[0]


def slice_maps(call: Call) -> Tuple[Optional[torch.Tensor], torch.Tensor, Optional[torch.Tensor]]:
    """The map of the whole slice (``T >= 1``; chunks of ``call.plan.chunk_len``): forward
    ``(P^ (B, M, M W), h (B, M W), e (B,))`` with ``P = P^ 2**e``; reverse
    ``(None, lam[0] (B, M W), None)`` from ``lam[T] = 0``.

    The chunk maps in processing order (forward: the short chunk ``[0, T mod L)`` first, then
    full chunks; reverse: full chunks down from ``T``, then the short one), then composed by the
    carry: ``h`` carries the zero state through them, column ``q`` of ``P`` the unit state ``e_q``
    through their linear parts (a mantissa and exponent per column; the map takes the largest
    exponent where it passes 32, else 0, the columns scaled to it).
    """
    B, T, M, W = call.B, call.T, call.M, call.W
    L = call.plan.chunk_len
    full, tail = divmod(T, L)
    maps = []  # in processing order
    if full:
        maps.append(_summary_launch(call, full, T if call.reverse else tail, L))
    if tail:
        maps.insert(len(maps) if call.reverse else 0, _summary_launch(call, 1, tail if call.reverse else 0, tail))
    P, h, E = (torch.cat(m, dim=1) for m in zip(*maps)) if len(maps) > 1 else maps[0]
    n_maps = full + (tail > 0)
    h_end = _carry_launch(call, (P, h, E), None, B, 1, n_maps + 1)[0][:, n_maps]
    if call.reverse:
        return None, h_end, None
    units = call.scratch(B * M, M, W).zero_()
    units[:, :, 0] = torch.eye(M, dtype=units.dtype, device=units.device).repeat(B, 1)
    cols, exps = _carry_launch(call, (P, None, E), units, B * M, M, n_maps + 1)
    assert exps is not None  # no h: the columns come with exponents
    e_cols = exps[:, n_maps].view(B, M)
    e = e_cols.max(dim=1).values
    e = torch.where(e > 32, e, 0)  # 0 unless the map grew past BIG (2**32): then P^ is the plain map
    cols = ldexp_tensor(cols[:, n_maps].view(B, M, M * W), (e_cols - e[:, None])[:, :, None])
    return cols.view(B, M, M, W).transpose(1, 2).reshape(B, M, M * W), h_end, e
