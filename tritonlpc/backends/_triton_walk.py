"""Triton kernels for orders ``M > 4``: per-lane walks through time (chunked).

Above order 4 the tile scan's ``M x M`` combines cost more than they save (see
:mod:`tritonlpc.backends.triton_gpu` for the numbers), so each vector lane walks one chunk of
one row sequentially, O(M) work per sample, with the state in a circular buffer of ``MP``
slots (``M`` rounded up to a power of two) whose coefficient row is loaded with rotated
offsets: one step is a dot product and a masked write (forward), or an axpy and a masked
extraction (reverse). A program owns ``N`` lanes = ``N`` consecutive jobs (row, chunk),
numbered ``j = b * n_chunks + c``.

Three phases, as in the tile path (the carry here is a sequential loop over a row's chunks,
since an ``M x M`` map per chunk is too large for a tuple scan):

* ``_walk_{fwd,rev}_summary_kernel``: each full chunk's affine map ``s -> P s + h`` from
  ``M + 1`` runs side by side (the zero-state response to the input, and the responses to the
  ``M`` unit start states), stored as ``P (jobs, M, M)`` and ``h (jobs, M)`` in canonical state
  order (forward: index ``k`` = ``y[t-1-k]``; reverse: ``lam_k``).
* ``_walk_carry_kernel``: ``s[b, 0] = zi[b]`` (or 0), ``s[b, c+1] = P s[b, c] + h``, guarded so
  that a zero state stays zero through an overflowing map.
* ``_walk_{fwd,rev}_pass_kernel``: each chunk re-run from its start state, writing the outputs
  (reverse: ``u``, ``grad_a``, and ``grad_zi`` from the lane that owns ``n = 0``).

Forward chunks are aligned at ``t = 0`` (``[c L, c L + L)``), reverse chunks at ``t = T``
(``[T - c L - L, T - c L)``), so only the last chunk of a row in processing order can be
short, and its map is never needed. Every step's loads are issued before the previous step's
stores (loop-carried prefetch), tensors are never passed twice, offsets are int64 and the
coefficient is ``sign * a`` conjugated when ``conj == -1`` (runtime scalars).
"""

from __future__ import annotations

import triton
import triton.language as tl


@triton.jit
def _lanes(n_chunks, n_jobs, N: tl.constexpr):
    """Job ids of this program's lanes (int64), their validity, row and chunk."""
    j = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    b = j // n_chunks
    return j, j < n_jobs, b, j - b * n_chunks


@triton.jit
def _ld(ptr, off, mask, CPLX: tl.constexpr, CDT: tl.constexpr):
    """``(re, im)`` in ``CDT`` (``im`` is zeros for real dtypes); zeros where masked."""
    re = tl.load(ptr + off, mask=mask, other=0.0).to(CDT)
    if CPLX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(CDT)
    else:
        im = tl.zeros_like(re)
    return re, im


@triton.jit
def _st(ptr, off, re, im, mask, CPLX: tl.constexpr):
    tl.store(ptr + off, re.to(ptr.dtype.element_ty), mask=mask)
    if CPLX:
        tl.store(ptr + off + 1, im.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _mul(ar, ai, br, bi, CPLX: tl.constexpr):
    if CPLX:
        return ar * br - ai * bi, ar * bi + ai * br
    else:
        return ar * br, ai


@triton.jit
def _coef(a_ptr, off, mask, sign, conj, CPLX: tl.constexpr, CDT: tl.constexpr):
    """Coefficients ``sign * a`` (conjugated when ``conj == -1``) at ``off``."""
    re, im = _ld(a_ptr, off, mask, CPLX, CDT)
    return re * sign, im * (sign * conj)


# --------------------------------------------------------------------------- forward
@triton.jit
def _fwd_step_loads(
    x_ptr,
    a_ptr,
    xrow,
    arow,
    n,
    tau,
    valid,
    sxt,
    sat,
    sam,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """``x[n]`` and the coefficient row of sample ``n`` rotated to the slots at local time
    ``tau`` (slot ``p`` holds ``y[n-1-lag]``, ``lag = (tau - 1 - p) mod M``)."""
    p = tl.arange(0, MP)
    lag = (tau + 2 * M - 1 - p) % M
    xr, xi = _ld(x_ptr, xrow + n * sxt, valid, CPLX, CDT)
    cr, ci = _coef(
        a_ptr,
        (arow + n * sat)[:, None] + (lag * sam)[None, :],
        valid[:, None] & (p < M)[None, :],
        sign,
        conj,
        CPLX,
        CDT,
    )
    return xr, xi, cr, ci


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L"])
def _walk_fwd_pass_kernel(
    x_ptr,
    a_ptr,
    s_ptr,
    y_ptr,
    sxb,
    sxt,
    sab,
    sat,
    sam,
    ssb,
    ssc,
    ssm,
    n_jobs,
    T,
    n_chunks,
    L,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    N: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """``y`` of ``N`` chunks ``[c L, c L + L)`` from their start states ``s[b, c, k] = y[cL-1-k]``
    (strides ``ssb, ssc, ssm``; zeros if ``s_ptr`` is None)."""
    W: tl.constexpr = 2 if CPLX else 1
    j, ok, b, c = _lanes(n_chunks, n_jobs, N)
    t0 = c * L
    t_end = tl.minimum(t0 + L, T)
    p = tl.arange(0, MP)
    k0 = (2 * M - 1 - p) % M  # canonical index held by slot p at tau = 0
    m2 = ok[:, None] & (p < M)[None, :]
    if s_ptr is None:
        Fr = tl.zeros((N, MP), CDT)
        Fi = tl.zeros((N, MP), CDT)
    else:
        Fr, Fi = _ld(s_ptr, (b * ssb + c * ssc)[:, None] + (k0 * ssm)[None, :], m2, CPLX, CDT)
    xrow = b * sxb
    arow = b * sab
    yrow = b * T * W
    n = t0
    valid = ok & (n < t_end)
    xr, xi, cr, ci = _fwd_step_loads(x_ptr, a_ptr, xrow, arow, n, 0, valid, sxt, sat, sam, sign, conj, M, MP, CPLX, CDT)
    tau = 0
    while tau < L:
        v1 = ok & (n + 1 < t_end)  # the next step's loads, ahead of this step's store
        xr1, xi1, cr1, ci1 = _fwd_step_loads(
            x_ptr, a_ptr, xrow, arow, n + 1, tau + 1, v1, sxt, sat, sam, sign, conj, M, MP, CPLX, CDT
        )
        pr, pi = _mul(Fr, Fi, cr, ci, CPLX)
        vr = xr - tl.sum(pr, axis=1)
        vi = xi - tl.sum(pi, axis=1)
        w = (p == tau % M)[None, :]
        Fr = tl.where(w, vr[:, None], Fr)
        if CPLX:
            Fi = tl.where(w, vi[:, None], Fi)
        _st(y_ptr, yrow + n * W, vr, vi, valid, CPLX)
        xr, xi, cr, ci = xr1, xi1, cr1, ci1
        n += 1
        valid = v1
        tau += 1


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L"])
def _walk_fwd_summary_kernel(
    x_ptr,
    a_ptr,
    p_ptr,
    h_ptr,
    sxb,
    sxt,
    sab,
    sat,
    sam,
    n_jobs,
    T,
    n_chunks,
    L,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    N: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """Maps of ``N`` full chunks ``[c L, c L + L)``: the zero-state end state ``h[j, k]`` and the
    transition ``P[j, k, k']`` (column ``k'``: the end state from ``y[cL-1-k'] = 1``)."""
    j, ok, b, c = _lanes(n_chunks, n_jobs, N)
    p = tl.arange(0, MP)
    p3 = p[None, :, None]
    q3 = tl.arange(0, MP)[None, None, :]
    Fr = tl.zeros((N, MP), CDT)
    Fi = tl.zeros((N, MP), CDT)
    Ur = tl.zeros((N, MP, MP), CDT) + ((p3 == q3) & (p3 < M)).to(CDT)  # column q: a 1 in slot q
    Ui = tl.zeros((N, MP, MP), CDT)
    xrow = b * sxb
    arow = b * sab
    n = c * L
    xr, xi, cr, ci = _fwd_step_loads(x_ptr, a_ptr, xrow, arow, n, 0, ok, sxt, sat, sam, sign, conj, M, MP, CPLX, CDT)
    tau = 0
    while tau < L:
        v1 = ok & (n + 1 < c * L + L)
        xr1, xi1, cr1, ci1 = _fwd_step_loads(
            x_ptr, a_ptr, xrow, arow, n + 1, tau + 1, v1, sxt, sat, sam, sign, conj, M, MP, CPLX, CDT
        )
        pr, pi = _mul(Fr, Fi, cr, ci, CPLX)
        w = (p == tau % M)[None, :]
        Fr = tl.where(w, (xr - tl.sum(pr, axis=1))[:, None], Fr)
        qr, qi = _mul(Ur, Ui, cr[:, :, None], ci[:, :, None], CPLX)
        Ur = tl.where(w[:, :, None], -tl.sum(qr, axis=1)[:, None, :], Ur)
        if CPLX:
            Fi = tl.where(w, (xi - tl.sum(pi, axis=1))[:, None], Fi)
            Ui = tl.where(w[:, :, None], -tl.sum(qi, axis=1)[:, None, :], Ui)
        xr, xi, cr, ci = xr1, xi1, cr1, ci1
        n += 1
        tau += 1
    W: tl.constexpr = 2 if CPLX else 1
    kout = (L + 2 * M - 1 - p) % M  # canonical index of slot p after L steps
    kin = (2 * M - 1 - q3) % M
    m3 = ok[:, None, None] & (p3 < M) & (q3 < M)
    _st(p_ptr, ((j * (M * M))[:, None, None] + kout[None, :, None] * M + kin) * W, Ur, Ui, m3, CPLX)
    _st(h_ptr, ((j * M)[:, None] + kout[None, :]) * W, Fr, Fi, ok[:, None] & (p < M)[None, :], CPLX)


# --------------------------------------------------------------------------- reverse
@triton.jit
def _rev_step_loads(
    g_ptr,
    a_ptr,
    grow,
    arow,
    n,
    tau,
    valid,
    cvalid,
    sgt,
    sat,
    sam,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """``g[n]`` and row ``n + 1`` of the coefficients rotated to the slots after step ``tau``
    (slot ``p`` then holds ``lam_kk``, ``kk = (p - 1 - tau) mod M``)."""
    p = tl.arange(0, MP)
    kk = (p + 2 * M - 1 - tau % M) % M
    gr, gi = _ld(g_ptr, grow + n * sgt, valid, CPLX, CDT)
    cr, ci = _coef(
        a_ptr,
        (arow + (n + 1) * sat)[:, None] + (kk * sam)[None, :],
        cvalid[:, None] & (p < M)[None, :],
        sign,
        conj,
        CPLX,
        CDT,
    )
    return gr, gi, cr, ci


@triton.jit
def _past_outputs(
    y_ptr,
    z_ptr,
    b,
    n,
    valid,
    syb,
    syt,
    szb,
    szm,
    M: tl.constexpr,
    MP: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """``y[n-1-k]``, ``k < M``, as ``(N, MP)`` (``y[-k'] = zi[k'-1]``)."""
    p = tl.arange(0, MP)
    m = n[:, None] - 1 - p[None, :]
    mk = valid[:, None] & (p < M)[None, :]
    hr, hi = _ld(y_ptr, (b * syb)[:, None] + m * syt, mk & (m >= 0), CPLX, CDT)
    zr, zi = _ld(z_ptr, (b * szb)[:, None] + (-1 - m) * szm, mk & (m < 0), CPLX, CDT)
    return hr + zr, hi + zi


@triton.heuristics(
    {
        "NEED_A": lambda args: args["ga_ptr"] is not None,
        "NEED_ZI": lambda args: args["gz_ptr"] is not None,
    }
)
@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L", "n_steps"])
def _walk_rev_pass_kernel(
    g_ptr,
    a_ptr,
    s_ptr,
    u_ptr,
    y_ptr,
    z_ptr,
    ga_ptr,
    gz_ptr,
    sgb,
    sgt,
    sab,
    sat,
    sam,
    ssb,
    ssc,
    ssm,
    syb,
    syt,
    szb,
    szm,
    n_jobs,
    T,
    n_chunks,
    L,
    n_steps,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    N: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
    NEED_A: tl.constexpr,
    NEED_ZI: tl.constexpr,
):
    """Adjoint walk (transposed direct form) of ``N`` chunks ending at ``t1 = T - c L``::

        lam_j[n] = g[n] [j == 0] - A[n+1, j] lam_0[n+1] + lam_{j+1}[n+1],   u[n] = lam_0[n]

    from ``s[b, c, :] = lam[t1]`` (zeros if ``s_ptr`` is None), writing ``u``; ``NEED_A``:
    ``grad_a[n, k] = -sign u[n] conj(y[n-1-k])``; ``NEED_ZI``: the lane owning ``n = 0`` takes
    one more step (``n_steps = L + 1``, ``g[-1] = 0``) whose state is ``grad_zi``.
    """
    W: tl.constexpr = 2 if CPLX else 1
    j, ok, b, c = _lanes(n_chunks, n_jobs, N)
    t1 = T - c * L
    t0 = tl.maximum(t1 - L, 0)
    p = tl.arange(0, MP)
    pok = p < M
    # after tau steps lam_k sits in slot (k + tau) mod M
    if s_ptr is None:
        Fr = tl.zeros((N, MP), CDT)
        Fi = tl.zeros((N, MP), CDT)
    else:
        Fr, Fi = _ld(s_ptr, (b * ssb + c * ssc)[:, None] + (p * ssm)[None, :], ok[:, None] & pok[None, :], CPLX, CDT)
    uFr = tl.sum(tl.where((p == 0)[None, :], Fr, 0.0), axis=1)  # lam_0 = u[t1]
    uFi = tl.sum(tl.where((p == 0)[None, :], Fi, 0.0), axis=1)
    grow = b * sgb
    arow = b * sab
    urow = b * T * W
    n = t1 - 1
    gr, gi, cr, ci = _rev_step_loads(
        g_ptr,
        a_ptr,
        grow,
        arow,
        n,
        0,
        ok & (n >= t0),
        ok & (n >= t0 - 1) & (n + 1 < T),
        sgt,
        sat,
        sam,
        sign,
        conj,
        M,
        MP,
        CPLX,
        CDT,
    )
    if NEED_A:
        hr, hi = _past_outputs(y_ptr, z_ptr, b, n, ok & (n >= t0), syb, syt, szb, szm, M, MP, CPLX, CDT)
    tau = 0
    while tau < n_steps:
        valid = ok & (n >= t0)
        # the next step's loads, ahead of this step's stores
        gr1, gi1, cr1, ci1 = _rev_step_loads(
            g_ptr,
            a_ptr,
            grow,
            arow,
            n - 1,
            tau + 1,
            ok & (n - 1 >= t0),
            ok & (n - 1 >= tl.maximum(t0 - 1, t1 - n_steps)),
            sgt,
            sat,
            sam,
            sign,
            conj,
            M,
            MP,
            CPLX,
            CDT,
        )
        if NEED_A:
            hr1, hi1 = _past_outputs(y_ptr, z_ptr, b, n - 1, ok & (n - 1 >= t0), syb, syt, szb, szm, M, MP, CPLX, CDT)
        old = (p == tau % M)[None, :]
        new = (p == (tau + 1) % M)[None, :]
        dr, di = _mul(cr, ci, uFr[:, None], uFi[:, None], CPLX)
        Fr = tl.where(old, 0.0, Fr) - dr + tl.where(new, gr[:, None], 0.0)
        uFr = tl.sum(tl.where(new, Fr, 0.0), axis=1)
        if CPLX:
            Fi = tl.where(old, 0.0, Fi) - di + tl.where(new, gi[:, None], 0.0)
            uFi = tl.sum(tl.where(new, Fi, 0.0), axis=1)
        _st(u_ptr, urow + n * W, uFr, uFi, valid, CPLX)
        if NEED_A:
            qr, qi = _mul(uFr[:, None], uFi[:, None], hr, -hi, CPLX)
            _st(
                ga_ptr,
                ((b * T + n) * M)[:, None] * W + p[None, :] * W,
                -sign * qr,
                -sign * qi,
                valid[:, None] & pok[None, :],
                CPLX,
            )
            hr, hi = hr1, hi1
        if NEED_ZI:
            # after the step at n = -1 the state is grad_zi; lam_k sits in slot (k + tau + 1) mod M
            kz = (p + M - (tau + 1) % M) % M
            zm = (ok & (n == -1) & (t0 == 0))[:, None] & pok[None, :]
            _st(gz_ptr, (b * M)[:, None] * W + kz[None, :] * W, Fr, Fi, zm, CPLX)
        gr, gi, cr, ci = gr1, gi1, cr1, ci1
        n -= 1
        tau += 1


@triton.jit(do_not_specialize=["n_jobs", "T", "n_chunks", "L"])
def _walk_rev_summary_kernel(
    g_ptr,
    a_ptr,
    p_ptr,
    h_ptr,
    sgb,
    sgt,
    sab,
    sat,
    sam,
    n_jobs,
    T,
    n_chunks,
    L,
    sign,
    conj,
    M: tl.constexpr,
    MP: tl.constexpr,
    N: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """Adjoint maps ``lam[t1] -> lam[t1 - L]`` of ``N`` full chunks ending at ``t1 = T - c L``."""
    j, ok, b, c = _lanes(n_chunks, n_jobs, N)
    p = tl.arange(0, MP)
    p3 = p[None, :, None]
    q3 = tl.arange(0, MP)[None, None, :]
    Fr = tl.zeros((N, MP), CDT)
    Fi = tl.zeros((N, MP), CDT)
    Ur = tl.zeros((N, MP, MP), CDT) + ((p3 == q3) & (p3 < M)).to(CDT)
    Ui = tl.zeros((N, MP, MP), CDT)
    uFr = tl.zeros((N,), CDT)
    uFi = tl.zeros((N,), CDT)
    uUr = tl.sum(tl.where(p3 == 0, Ur, 0.0), axis=1)  # lam_0 of each unit run, (N, MP)
    uUi = tl.zeros((N, MP), CDT)
    grow = b * sgb
    arow = b * sab
    n = T - c * L - 1
    gr, gi, cr, ci = _rev_step_loads(
        g_ptr, a_ptr, grow, arow, n, 0, ok, ok & (n + 1 < T), sgt, sat, sam, sign, conj, M, MP, CPLX, CDT
    )
    tau = 0
    while tau < L:
        v1 = ok & (n - 1 >= T - c * L - L)
        gr1, gi1, cr1, ci1 = _rev_step_loads(
            g_ptr, a_ptr, grow, arow, n - 1, tau + 1, v1, v1, sgt, sat, sam, sign, conj, M, MP, CPLX, CDT
        )
        old = (p == tau % M)[None, :]
        new = (p == (tau + 1) % M)[None, :]
        dr, di = _mul(cr, ci, uFr[:, None], uFi[:, None], CPLX)
        Fr = tl.where(old, 0.0, Fr) - dr + tl.where(new, gr[:, None], 0.0)
        uFr = tl.sum(tl.where(new, Fr, 0.0), axis=1)
        er, ei = _mul(cr[:, :, None], ci[:, :, None], uUr[:, None, :], uUi[:, None, :], CPLX)
        Ur = tl.where(old[:, :, None], 0.0, Ur) - er
        uUr = tl.sum(tl.where(new[:, :, None], Ur, 0.0), axis=1)
        if CPLX:
            Fi = tl.where(old, 0.0, Fi) - di + tl.where(new, gi[:, None], 0.0)
            uFi = tl.sum(tl.where(new, Fi, 0.0), axis=1)
            Ui = tl.where(old[:, :, None], 0.0, Ui) - ei
            uUi = tl.sum(tl.where(new[:, :, None], Ui, 0.0), axis=1)
        gr, gi, cr, ci = gr1, gi1, cr1, ci1
        n -= 1
        tau += 1
    W: tl.constexpr = 2 if CPLX else 1
    kout = (p + M - L % M) % M  # canonical lam index of slot p after L steps
    m3 = ok[:, None, None] & (p3 < M) & (q3 < M)
    _st(p_ptr, ((j * (M * M))[:, None, None] + kout[None, :, None] * M + q3) * W, Ur, Ui, m3, CPLX)
    _st(h_ptr, ((j * M)[:, None] + kout[None, :]) * W, Fr, Fi, ok[:, None] & (p < M)[None, :], CPLX)


# --------------------------------------------------------------------------- carry
@triton.jit(do_not_specialize=["B", "n_chunks"])
def _walk_carry_kernel(
    p_ptr,
    h_ptr,
    z_ptr,
    s_ptr,
    szb,
    szm,
    B,
    n_chunks,
    M: tl.constexpr,
    MP: tl.constexpr,
    N: tl.constexpr,
    CPLX: tl.constexpr,
    CDT: tl.constexpr,
):
    """Sequential scan over the chunks of ``N`` rows: ``s[b, 0] = zi[b]`` (zeros if ``z_ptr`` is
    None), ``s[b, c+1] = P[b, c] s[b, c] + h[b, c]`` (products with a zero state entry are
    zero). ``P`` is ``(B, C-1, M, M)``, ``h`` ``(B, C-1, M)``, ``s`` ``(B, C, M)`` contiguous;
    the next chunk's map is loaded one iteration ahead."""
    W: tl.constexpr = 2 if CPLX else 1
    rows = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    ok = rows < B
    k = tl.arange(0, MP)
    kok = k < M
    m2 = ok[:, None] & kok[None, :]
    m3 = ok[:, None, None] & kok[None, :, None] & kok[None, None, :]
    if z_ptr is None:
        sr = tl.zeros((N, MP), CDT)
        si = tl.zeros((N, MP), CDT)
    else:
        sr, si = _ld(z_ptr, (rows * szb)[:, None] + (k * szm)[None, :], m2, CPLX, CDT)
    C1 = n_chunks - 1
    poff = (k[:, None] * M + k[None, :])[None, :, :] * W
    pr, pi = _ld(p_ptr, (rows * C1 * (M * M) * W)[:, None, None] + poff, m3, CPLX, CDT)
    hr, hi = _ld(h_ptr, (rows * C1 * M * W)[:, None] + k[None, :] * W, m2, CPLX, CDT)
    c = 0
    while c < C1:
        nb = rows * C1 + tl.minimum(c + 1, C1 - 1)  # the next map, ahead of the store (the last reloads its own)
        nr, ni = _ld(p_ptr, (nb * (M * M) * W)[:, None, None] + poff, m3, CPLX, CDT)
        gr, gi = _ld(h_ptr, (nb * M * W)[:, None] + k[None, :] * W, m2, CPLX, CDT)
        _st(s_ptr, ((rows * n_chunks + c) * M * W)[:, None] + k[None, :] * W, sr, si, m2, CPLX)
        z = (sr == 0) & (si == 0)
        mr, mi = _mul(
            tl.where(z[:, None, :], 0.0, pr), tl.where(z[:, None, :], 0.0, pi), sr[:, None, :], si[:, None, :], CPLX
        )
        sr = tl.sum(mr, axis=2) + hr
        if CPLX:
            si = tl.sum(mi, axis=2) + hi
        pr, pi, hr, hi = nr, ni, gr, gi
        c += 1
    _st(s_ptr, ((rows * n_chunks + C1) * M * W)[:, None] + k[None, :] * W, sr, si, m2, CPLX)
