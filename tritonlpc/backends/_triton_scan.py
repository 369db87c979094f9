"""Triton kernels of the all-pole filter: chunked parallel scan (forward) and reverse scan.

The schedules and launch logic live in :mod:`tritonlpc.backends.triton_gpu`; this module holds
the ``@triton.jit`` code only. Conventions shared by every kernel:

* A *job* is one (row, chunk) pair, numbered ``j = b * CJ + c``; a program owns ``N``
  consecutive jobs, one per vector lane, and every lane walks its chunk's steps in lockstep
  with the others (so ``N`` chunks of one row, or ``N`` rows when a chunk is a whole row).
* Forward chunks are aligned at ``t = 0`` (``[c L, c L + L)``), reverse chunks at ``t = T``
  (``[T - c L - L, T - c L)``), so only the last job of a row can be short, and its summary is
  never needed: summaries only run for the ``C - 1`` full chunks.
* Complex tensors arrive as real views (``(..., 2)``, strides in real elements, the imaginary
  part at ``+1``); every value is a ``(re, im)`` pair, and for real dtypes the ``im`` half is a
  placeholder the ``CPLX`` constexpr keeps out of every computation.
* ``CDT`` is the accumulation dtype (float64 for float64/complex128, else float32); loads are
  converted to it and stores convert back to the output's element type.
* Offsets are int64 (job ids, times and strides are promoted before they multiply).
* Small orders (``M <= 4``, ``SMALL``) keep the state in registers, one variable per lag, and
  shift by renaming; other orders keep it in a circular buffer of ``MP`` slots (``M`` rounded
  up to a power of two) whose coefficient row is loaded with rotated offsets, so that one step
  is a dot product and a masked write (forward) or an axpy and a masked extraction (reverse).
* Integer ``%`` and ``//`` only ever see non-negative operands (the interpreter floors, CUDA
  truncates).
"""

from __future__ import annotations

import triton
import triton.language as tl


# --------------------------------------------------------------------------- helpers
@triton.jit
def _ld(ptr, off, mask, CPLX: tl.constexpr, CDT: tl.constexpr):
    """Load a value as (re, im) in CDT; zeros where masked. ``im`` is ``re`` (unused) if real."""
    re = tl.load(ptr + off, mask=mask, other=0.0).to(CDT)
    if CPLX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(CDT)
    else:
        im = re
    return re, im


@triton.jit
def _ldc(ptr, off, mask, CPLX: tl.constexpr, CONJ: tl.constexpr, NEG: tl.constexpr, CDT: tl.constexpr):
    """Load a coefficient A = (-a if NEG) conjugated if CONJ, as (re, im)."""
    re = tl.load(ptr + off, mask=mask, other=0.0).to(CDT)
    if CPLX:
        im = tl.load(ptr + off + 1, mask=mask, other=0.0).to(CDT)
        if CONJ != NEG:
            im = -im
    else:
        im = re
    if NEG:
        re = -re
    return re, im


@triton.jit
def _st(ptr, off, re, im, mask, CPLX: tl.constexpr):
    tl.store(ptr + off, re.to(ptr.dtype.element_ty), mask=mask)
    if CPLX:
        tl.store(ptr + off + 1, im.to(ptr.dtype.element_ty), mask=mask)


@triton.jit
def _fms(accr, acci, ar, ai, br, bi, CPLX: tl.constexpr):
    """acc - a * b."""
    if CPLX:
        rr = accr - (ar * br - ai * bi)
        ri = acci - (ar * bi + ai * br)
    else:
        rr = accr - ar * br
        ri = acci
    return rr, ri


@triton.jit
def _mul(ar, ai, br, bi, CPLX: tl.constexpr):
    if CPLX:
        rr = ar * br - ai * bi
        ri = ar * bi + ai * br
    else:
        rr = ar * br
        ri = ai
    return rr, ri


@triton.jit
def _hist(y_ptr, z_ptr, yrow, zrow, m, syt, szm, mask, M: tl.constexpr, CPLX: tl.constexpr, CDT: tl.constexpr):
    """y[m] of a row, from ``zi`` (``y[-k] = zi[k-1]``) for ``-M <= m < 0``; zero elsewhere."""
    vr, vi = _ld(y_ptr, yrow + m * syt, mask & (m >= 0), CPLX, CDT)
    wr, wi = _ld(z_ptr, zrow + (-1 - m) * szm, mask & (m < 0) & (m >= -M), CPLX, CDT)
    return vr + wr, vi + wi


@triton.jit
def _jobs(CJ, n_jobs, N: tl.constexpr):
    """Job ids of this program's lanes (int64), their validity, row and chunk."""
    j = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    ok = j < n_jobs
    b = j // CJ
    c = j - b * CJ
    return j, ok, b, c


# --------------------------------------------------------------------------- forward
@triton.jit
def _fwd_kernel(
    x_ptr, a_ptr, s_ptr, y_ptr, p_ptr, h_ptr,
    sxb, sxt, sab, sat, sam, ssb, ssc, ssm, syb, syt,
    n_jobs, T, CJ, L, n_steps,
    M: tl.constexpr, MP: tl.constexpr, KS: tl.constexpr, N: tl.constexpr, R: tl.constexpr,
    SUMMARY: tl.constexpr, SMALL: tl.constexpr, CPLX: tl.constexpr, CONJ: tl.constexpr,
    NEG: tl.constexpr, UNROLL: tl.constexpr, CDT: tl.constexpr,
):
    """Forward walk of ``N`` chunks (lanes) of length ``L`` from ``t0 = c L``.

    SUMMARY: zero-state end state ``h`` (to ``h_ptr[j, k]``) and transition ``P`` (to
    ``p_ptr[j, k, k']``, column ``k'`` = end state from the unit start state ``y[t0-1-k'] = 1``)
    of full chunks; canonical state order ``k`` = ``y[t_end-1-k]``. Otherwise: re-run from the
    start state ``s[b, c, k] = y[t0-1-k]`` (strides ``ssb, ssc, ssm``) and write ``y``.
    """
    j, ok, b, c = _jobs(CJ, n_jobs, N)
    t0 = c * L
    Lc = tl.minimum(T - t0, L)
    xrow = b * sxb
    arow = b * sab
    yrow = b * syb
    srow = b * ssb + c * ssc
    if SMALL:
        # ---- registers: y1..y4 = y[n-1..n-4], each (N, KS); SUMMARY columns: 0 = input, 1+k = unit y[t0-1-k]
        col = tl.arange(0, KS)[None, :]
        zero = tl.zeros((N, KS), CDT)
        if SUMMARY:
            y1r = zero + (col == 1).to(CDT)
            y2r = zero + (col == 2).to(CDT)
            y3r = zero + (col == 3).to(CDT)
            y4r = zero + (col == 4).to(CDT)
            y1i = zero
            y2i = zero
            y3i = zero
            y4i = zero
        else:
            v1r, v1i = _ld(s_ptr, srow, ok, CPLX, CDT)
            y1r = zero + v1r[:, None]
            y1i = zero + v1i[:, None]
            y2r = zero
            y2i = zero
            y3r = zero
            y3i = zero
            y4r = zero
            y4i = zero
            if M >= 2:
                v2r, v2i = _ld(s_ptr, srow + ssm, ok, CPLX, CDT)
                y2r = zero + v2r[:, None]
                y2i = zero + v2i[:, None]
            if M >= 3:
                v3r, v3i = _ld(s_ptr, srow + 2 * ssm, ok, CPLX, CDT)
                y3r = zero + v3r[:, None]
                y3i = zero + v3i[:, None]
            if M >= 4:
                v4r, v4i = _ld(s_ptr, srow + 3 * ssm, ok, CPLX, CDT)
                y4r = zero + v4r[:, None]
                y4i = zero + v4i[:, None]
        for tb in range(0, n_steps, UNROLL):
            for uu in tl.static_range(UNROLL):
                n = t0 + (tb + uu)
                valid = ok & (n < t0 + Lc)
                xr, xi = _ld(x_ptr, xrow + n * sxt, valid, CPLX, CDT)
                ao = arow + n * sat
                if SUMMARY:
                    vr = tl.where(col == 0, xr[:, None], 0.0)
                    if CPLX:
                        vi = tl.where(col == 0, xi[:, None], 0.0)
                    else:
                        vi = vr
                else:
                    vr = xr[:, None]
                    vi = xi[:, None]
                cr, ci = _ldc(a_ptr, ao, valid, CPLX, CONJ, NEG, CDT)
                vr, vi = _fms(vr, vi, cr[:, None], ci[:, None], y1r, y1i, CPLX)
                if M >= 2:
                    cr, ci = _ldc(a_ptr, ao + sam, valid, CPLX, CONJ, NEG, CDT)
                    vr, vi = _fms(vr, vi, cr[:, None], ci[:, None], y2r, y2i, CPLX)
                if M >= 3:
                    cr, ci = _ldc(a_ptr, ao + 2 * sam, valid, CPLX, CONJ, NEG, CDT)
                    vr, vi = _fms(vr, vi, cr[:, None], ci[:, None], y3r, y3i, CPLX)
                if M >= 4:
                    cr, ci = _ldc(a_ptr, ao + 3 * sam, valid, CPLX, CONJ, NEG, CDT)
                    vr, vi = _fms(vr, vi, cr[:, None], ci[:, None], y4r, y4i, CPLX)
                    y4r = y3r
                    if CPLX:
                        y4i = y3i
                if M >= 3:
                    y3r = y2r
                    if CPLX:
                        y3i = y2i
                if M >= 2:
                    y2r = y1r
                    if CPLX:
                        y2i = y1i
                y1r = vr
                if CPLX:
                    y1i = vi
                if not SUMMARY:
                    _st(y_ptr, yrow + n * syt, tl.sum(vr, axis=1), tl.sum(vi, axis=1), valid, CPLX)
        if SUMMARY:
            pm = ok[:, None] & (col >= 1) & (col <= M)
            hm = ok[:, None] & (col == 0)
            pb = (j * (M * M))[:, None] + (col - 1)
            hb = (j * M)[:, None] + col * 0
            _st(p_ptr, pb * R, y1r, y1i, pm, CPLX)
            _st(h_ptr, hb * R, y1r, y1i, hm, CPLX)
            if M >= 2:
                _st(p_ptr, (pb + M) * R, y2r, y2i, pm, CPLX)
                _st(h_ptr, (hb + 1) * R, y2r, y2i, hm, CPLX)
            if M >= 3:
                _st(p_ptr, (pb + 2 * M) * R, y3r, y3i, pm, CPLX)
                _st(h_ptr, (hb + 2) * R, y3r, y3i, hm, CPLX)
            if M >= 4:
                _st(p_ptr, (pb + 3 * M) * R, y4r, y4i, pm, CPLX)
                _st(h_ptr, (hb + 3) * R, y4r, y4i, hm, CPLX)
    else:
        # ---- circular buffer: slot p holds y[t0 + tau] with p = tau mod M (tau: local time)
        p = tl.arange(0, MP)
        p3 = p[None, :, None]
        pok = p < M
        # input-driven run F (N, MP, 1); in SUMMARY also the M unit-start runs U (N, MP, MP),
        # column q starting from a 1 in slot q, i.e. at y[t0-1-k'] with k' = (-1-q) mod M.
        if SUMMARY:
            q3 = tl.arange(0, MP)[None, None, :]
            Fr = tl.zeros((N, MP, 1), CDT)
            Fi = tl.zeros((N, MP, 1), CDT)
            Ur = tl.zeros((N, MP, MP), CDT) + ((p3 == q3) & (p3 < M)).to(CDT)
            Ui = tl.zeros((N, MP, MP), CDT)
        else:
            k0 = (2 * M - 1 - p) % M  # canonical index held by slot p at tau = 0
            sr, si = _ld(s_ptr, srow[:, None] + (k0 * ssm)[None, :], ok[:, None] & pok[None, :], CPLX, CDT)
            Fr = sr[:, :, None]
            Fi = tl.zeros((N, MP, 1), CDT)
            if CPLX:
                Fi = si[:, :, None]
            Ur = Fr  # unused placeholders
            Ui = Fi
        for tb in range(0, n_steps, UNROLL):
            for uu in tl.static_range(UNROLL):
                tau = tb + uu
                n = t0 + tau
                valid = ok & (n < t0 + Lc)
                xr, xi = _ld(x_ptr, xrow + n * sxt, valid, CPLX, CDT)
                lag = (tau + 2 * M - 1 - p) % M  # slot p holds y[n-1-lag]
                cr, ci = _ldc(a_ptr, (arow + n * sat)[:, None] + (lag * sam)[None, :],
                              valid[:, None] & pok[None, :], CPLX, CONJ, NEG, CDT)
                cr = cr[:, :, None]
                ci = ci[:, :, None]
                w = p3 == tau % M
                pr, pi = _mul(Fr, Fi, cr, ci, CPLX)
                vr = xr[:, None] - tl.sum(pr, axis=1)
                Fr = tl.where(w, vr[:, None, :], Fr)
                if CPLX:
                    vi = xi[:, None] - tl.sum(pi, axis=1)
                    Fi = tl.where(w, vi[:, None, :], Fi)
                else:
                    vi = vr
                if SUMMARY:
                    qr, qi = _mul(Ur, Ui, cr, ci, CPLX)
                    Ur = tl.where(w, -tl.sum(qr, axis=1)[:, None, :], Ur)
                    if CPLX:
                        Ui = tl.where(w, -tl.sum(qi, axis=1)[:, None, :], Ui)
                else:
                    _st(y_ptr, yrow + n * syt, tl.sum(vr, axis=1), tl.sum(vi, axis=1), valid, CPLX)
        if SUMMARY:
            kout = (L + 2 * M - 1 - p3) % M  # canonical index of slot p after L steps
            kin = (2 * M - 1 - q3) % M
            m3 = ok[:, None, None] & (p3 < M) & (q3 < M)
            _st(p_ptr, ((j * (M * M))[:, None, None] + kout * M + kin) * R, Ur, Ui, m3, CPLX)
            _st(h_ptr, ((j * M)[:, None, None] + kout) * R, Fr, Fi, ok[:, None, None] & (p3 < M), CPLX)


# --------------------------------------------------------------------------- reverse
@triton.jit
def _rev_kernel(
    g_ptr, a_ptr, y_ptr, z_ptr, s_ptr, u_ptr, ga_ptr, gz_ptr, p_ptr, h_ptr,
    sgb, sgt, sab, sat, sam, syb, syt, szb, szm, ssb, ssc, ssm, sub, sut,
    n_jobs, T, CJ, L, n_steps,
    M: tl.constexpr, MP: tl.constexpr, KS: tl.constexpr, N: tl.constexpr, R: tl.constexpr,
    SUMMARY: tl.constexpr, SMALL: tl.constexpr, CPLX: tl.constexpr, CONJ: tl.constexpr,
    NEG: tl.constexpr, NEED_A: tl.constexpr, NEED_ZI: tl.constexpr, ZERO_INIT: tl.constexpr,
    UNROLL: tl.constexpr, CDT: tl.constexpr,
):
    """Reverse walk (transposed direct form) of ``N`` chunks ending at ``t1 = T - c L``.

    State ``lam_j[n]`` (j < M), step ``n`` reading row ``n+1`` of ``a`` only::

        lam_j[n] = g[n] [j == 0] - A[n+1, j] lam_0[n+1] + lam_{j+1}[n+1],   u[n] = lam_0[n]

    (``A`` conjugated when ``CONJ``). SUMMARY: the affine map ``lam[t1] -> lam[t0]`` of full
    chunks (``h_ptr[j, k]``, ``p_ptr[j, k, k']``). Otherwise: run from ``s[b, c, :] = lam[t1]``
    (zeros if ``ZERO_INIT``), write ``u``; if ``NEED_A`` also ``grad_a[n, k] = -+u[n] conj(y[n-1-k])``
    and, if ``NEED_ZI``, one more step at ``n = -1`` (``g = 0``) whose state is ``grad_zi``.
    """
    j, ok, b, c = _jobs(CJ, n_jobs, N)
    t1 = T - c * L
    t0 = tl.maximum(t1 - L, 0)
    grow = b * sgb
    arow = b * sab
    yrow = b * syb
    zrow = b * szb
    urow = b * sub
    srow = b * ssb + c * ssc
    garow = b * T * M
    if SMALL:
        # ---- registers: l0..l3 = lam_0..lam_3, each (N, KS); SUMMARY columns: 0 = input, 1+k = unit lam_k
        col = tl.arange(0, KS)[None, :]
        zero = tl.zeros((N, KS), CDT)
        if SUMMARY:
            l0r = zero + (col == 1).to(CDT)
            l1r = zero + (col == 2).to(CDT)
            l2r = zero + (col == 3).to(CDT)
            l3r = zero + (col == 4).to(CDT)
            l0i = zero
            l1i = zero
            l2i = zero
            l3i = zero
        else:
            l0r = zero
            l0i = zero
            l1r = zero
            l1i = zero
            l2r = zero
            l2i = zero
            l3r = zero
            l3i = zero
            if not ZERO_INIT:
                v0r, v0i = _ld(s_ptr, srow, ok, CPLX, CDT)
                l0r = zero + v0r[:, None]
                l0i = zero + v0i[:, None]
                if M >= 2:
                    v1r, v1i = _ld(s_ptr, srow + ssm, ok, CPLX, CDT)
                    l1r = zero + v1r[:, None]
                    l1i = zero + v1i[:, None]
                if M >= 3:
                    v2r, v2i = _ld(s_ptr, srow + 2 * ssm, ok, CPLX, CDT)
                    l2r = zero + v2r[:, None]
                    l2i = zero + v2i[:, None]
                if M >= 4:
                    v3r, v3i = _ld(s_ptr, srow + 3 * ssm, ok, CPLX, CDT)
                    l3r = zero + v3r[:, None]
                    l3i = zero + v3i[:, None]
        if NEED_A:
            # history w_k = y[n-k], k = 1..M, for the current step n (shifted by one per step)
            w1r, w1i = _hist(y_ptr, z_ptr, yrow, zrow, t1 - 2, syt, szm, ok, M, CPLX, CDT)
            w2r = w1r
            w2i = w1i
            w3r = w1r
            w3i = w1i
            w4r = w1r
            w4i = w1i
            if M >= 2:
                w2r, w2i = _hist(y_ptr, z_ptr, yrow, zrow, t1 - 3, syt, szm, ok, M, CPLX, CDT)
            if M >= 3:
                w3r, w3i = _hist(y_ptr, z_ptr, yrow, zrow, t1 - 4, syt, szm, ok, M, CPLX, CDT)
            if M >= 4:
                w4r, w4i = _hist(y_ptr, z_ptr, yrow, zrow, t1 - 5, syt, szm, ok, M, CPLX, CDT)
        for tb in range(0, n_steps, UNROLL):
            for uu in tl.static_range(UNROLL):
                n = t1 - 1 - (tb + uu)
                valid = ok & (n >= t0)
                cvalid = ok & (n >= t0 - 1) & (n + 1 < T)
                gr, gi = _ld(g_ptr, grow + n * sgt, valid, CPLX, CDT)
                ao = arow + (n + 1) * sat
                if SUMMARY:
                    nr = tl.where(col == 0, gr[:, None], 0.0)
                    if CPLX:
                        ni = tl.where(col == 0, gi[:, None], 0.0)
                    else:
                        ni = nr
                else:
                    nr = gr[:, None] + zero
                    ni = gi[:, None] + zero
                if M >= 2:
                    nr = nr + l1r
                    if CPLX:
                        ni = ni + l1i
                cr, ci = _ldc(a_ptr, ao, cvalid, CPLX, CONJ, NEG, CDT)
                nr, ni = _fms(nr, ni, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                if M >= 2:
                    cr, ci = _ldc(a_ptr, ao + sam, cvalid, CPLX, CONJ, NEG, CDT)
                    if M >= 3:
                        l1r, l1i = _fms(l2r, l2i, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                    else:
                        l1r, l1i = _fms(zero, zero, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                if M >= 3:
                    cr, ci = _ldc(a_ptr, ao + 2 * sam, cvalid, CPLX, CONJ, NEG, CDT)
                    if M >= 4:
                        l2r, l2i = _fms(l3r, l3i, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                    else:
                        l2r, l2i = _fms(zero, zero, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                if M >= 4:
                    cr, ci = _ldc(a_ptr, ao + 3 * sam, cvalid, CPLX, CONJ, NEG, CDT)
                    l3r, l3i = _fms(zero, zero, cr[:, None], ci[:, None], l0r, l0i, CPLX)
                l0r = nr
                if CPLX:
                    l0i = ni
                if not SUMMARY:
                    ur = tl.sum(nr, axis=1)
                    ui = tl.sum(ni, axis=1)
                    _st(u_ptr, urow + n * sut, ur, ui, valid, CPLX)
                    if NEED_A:
                        # grad_a[n, k-1] = s u[n] conj(w_k), s = -1 (+1 for the gradient of -A)
                        if not NEG:
                            ur = -ur
                            ui = -ui
                        gao = garow + n * M
                        qr, qi = _mul(ur, ui, w1r, -w1i, CPLX)
                        _st(ga_ptr, gao * R, qr, qi, valid, CPLX)
                        if M >= 2:
                            qr, qi = _mul(ur, ui, w2r, -w2i, CPLX)
                            _st(ga_ptr, (gao + 1) * R, qr, qi, valid, CPLX)
                        if M >= 3:
                            qr, qi = _mul(ur, ui, w3r, -w3i, CPLX)
                            _st(ga_ptr, (gao + 2) * R, qr, qi, valid, CPLX)
                        if M >= 4:
                            qr, qi = _mul(ur, ui, w4r, -w4i, CPLX)
                            _st(ga_ptr, (gao + 3) * R, qr, qi, valid, CPLX)
                        # next step (n-1) needs y[n-2 .. n-1-M]
                        vr, vi = _hist(y_ptr, z_ptr, yrow, zrow, n - 1 - M, syt, szm, valid, M, CPLX, CDT)
                        if M == 1:
                            w1r = vr
                            if CPLX:
                                w1i = vi
                        if M == 2:
                            w1r = w2r
                            w2r = vr
                            if CPLX:
                                w1i = w2i
                                w2i = vi
                        if M == 3:
                            w1r = w2r
                            w2r = w3r
                            w3r = vr
                            if CPLX:
                                w1i = w2i
                                w2i = w3i
                                w3i = vi
                        if M == 4:
                            w1r = w2r
                            w2r = w3r
                            w3r = w4r
                            w4r = vr
                            if CPLX:
                                w1i = w2i
                                w2i = w3i
                                w3i = w4i
                                w4i = vi
                    if NEED_ZI:
                        zm = ok & (n == -1) & (t0 == 0)  # other lanes also reach n = -1, past their chunk
                        zo = b * (M * R)
                        _st(gz_ptr, zo, tl.sum(l0r, axis=1), tl.sum(l0i, axis=1), zm, CPLX)
                        if M >= 2:
                            _st(gz_ptr, zo + R, tl.sum(l1r, axis=1), tl.sum(l1i, axis=1), zm, CPLX)
                        if M >= 3:
                            _st(gz_ptr, zo + 2 * R, tl.sum(l2r, axis=1), tl.sum(l2i, axis=1), zm, CPLX)
                        if M >= 4:
                            _st(gz_ptr, zo + 3 * R, tl.sum(l3r, axis=1), tl.sum(l3i, axis=1), zm, CPLX)
        if SUMMARY:
            pm = ok[:, None] & (col >= 1) & (col <= M)
            hm = ok[:, None] & (col == 0)
            pb = (j * (M * M))[:, None] + (col - 1)
            hb = (j * M)[:, None] + col * 0
            _st(p_ptr, pb * R, l0r, l0i, pm, CPLX)
            _st(h_ptr, hb * R, l0r, l0i, hm, CPLX)
            if M >= 2:
                _st(p_ptr, (pb + M) * R, l1r, l1i, pm, CPLX)
                _st(h_ptr, (hb + 1) * R, l1r, l1i, hm, CPLX)
            if M >= 3:
                _st(p_ptr, (pb + 2 * M) * R, l2r, l2i, pm, CPLX)
                _st(h_ptr, (hb + 2) * R, l2r, l2i, hm, CPLX)
            if M >= 4:
                _st(p_ptr, (pb + 3 * M) * R, l3r, l3i, pm, CPLX)
                _st(h_ptr, (hb + 3) * R, l3r, l3i, hm, CPLX)
    else:
        # ---- circular buffer: after tau steps lam_k sits in slot (k + tau) mod M
        p = tl.arange(0, MP)
        p3 = p[None, :, None]
        pok = p < M
        if SUMMARY:
            q3 = tl.arange(0, MP)[None, None, :]
            Fr = tl.zeros((N, MP, 1), CDT)
            Fi = tl.zeros((N, MP, 1), CDT)
            Ur = tl.zeros((N, MP, MP), CDT) + ((p3 == q3) & (p3 < M)).to(CDT)
            Ui = tl.zeros((N, MP, MP), CDT)
            uUr = tl.sum(tl.where(p3 == 0, Ur, 0.0), axis=1)  # lam_0 of each unit run, (N, MP)
            uUi = tl.zeros((N, MP), CDT)
        else:
            if ZERO_INIT:
                Fr = tl.zeros((N, MP, 1), CDT)
                Fi = tl.zeros((N, MP, 1), CDT)
            else:
                sr, si = _ld(s_ptr, srow[:, None] + (p * ssm)[None, :], ok[:, None] & pok[None, :], CPLX, CDT)
                Fr = sr[:, :, None]
                Fi = tl.zeros((N, MP, 1), CDT)
                if CPLX:
                    Fi = si[:, :, None]
        uFr = tl.sum(tl.where(p3 == 0, Fr, 0.0), axis=1)  # lam_0 = u[t1] (N, 1)
        uFi = tl.zeros((N, 1), CDT)
        if CPLX:
            uFi = tl.sum(tl.where(p3 == 0, Fi, 0.0), axis=1)
        k = tl.arange(0, MP)
        for tb in range(0, n_steps, UNROLL):
            for uu in tl.static_range(UNROLL):
                tau = tb + uu
                n = t1 - 1 - tau
                valid = ok & (n >= t0)
                cvalid = ok & (n >= t0 - 1) & (n + 1 < T)
                r0 = tau % M
                r1 = (tau + 1) % M
                kk = (p + 2 * M - 1 - r0) % M  # the lam index slot p holds after this step
                cr, ci = _ldc(a_ptr, (arow + (n + 1) * sat)[:, None] + (kk * sam)[None, :],
                              cvalid[:, None] & pok[None, :], CPLX, CONJ, NEG, CDT)
                cr = cr[:, :, None]
                ci = ci[:, :, None]
                gr, gi = _ld(g_ptr, grow + n * sgt, valid, CPLX, CDT)
                old = p3 == r0
                new = p3 == r1
                dr, di = _mul(cr, ci, uFr[:, None, :], uFi[:, None, :], CPLX)
                Fr = tl.where(old, 0.0, Fr) - dr + tl.where(new, gr[:, None, None], 0.0)
                uFr = tl.sum(tl.where(new, Fr, 0.0), axis=1)
                if CPLX:
                    Fi = tl.where(old, 0.0, Fi) - di + tl.where(new, gi[:, None, None], 0.0)
                    uFi = tl.sum(tl.where(new, Fi, 0.0), axis=1)
                if SUMMARY:
                    er, ei = _mul(cr, ci, uUr[:, None, :], uUi[:, None, :], CPLX)
                    Ur = tl.where(old, 0.0, Ur) - er
                    uUr = tl.sum(tl.where(new, Ur, 0.0), axis=1)
                    if CPLX:
                        Ui = tl.where(old, 0.0, Ui) - ei
                        uUi = tl.sum(tl.where(new, Ui, 0.0), axis=1)
                else:
                    ur = tl.sum(uFr, axis=1)
                    ui = tl.sum(uFi, axis=1)
                    _st(u_ptr, urow + n * sut, ur, ui, valid, CPLX)
                    if NEED_A:
                        mk = valid[:, None] & (k < M)[None, :]
                        hr, hi = _hist(y_ptr, z_ptr, yrow[:, None], zrow[:, None], n[:, None] - 1 - k[None, :],
                                       syt, szm, mk, M, CPLX, CDT)
                        if not NEG:
                            ur = -ur
                            ui = -ui
                        qr, qi = _mul(ur[:, None], ui[:, None], hr, -hi, CPLX)
                        _st(ga_ptr, ((garow + n * M)[:, None] + k[None, :]) * R, qr, qi, mk, CPLX)
                    if NEED_ZI:
                        # after the step at n = -1 the state is grad_zi; lam_k sits in slot (k + tau + 1) mod M
                        kz = (p3 + M - r1) % M
                        zm = (ok & (n == -1) & (t0 == 0))[:, None, None] & (p3 < M)
                        _st(gz_ptr, (b * M)[:, None, None] * R + kz * R, Fr, Fi, zm, CPLX)
        if SUMMARY:
            Lm = L % M
            kout = (p3 + M - Lm) % M  # canonical lam index of slot p after L steps
            m3 = ok[:, None, None] & (p3 < M) & (q3 < M)
            _st(p_ptr, ((j * (M * M))[:, None, None] + kout * M + q3) * R, Ur, Ui, m3, CPLX)
            _st(h_ptr, ((j * M)[:, None, None] + kout) * R, Fr, Fi, ok[:, None, None] & (p3 < M), CPLX)


# --------------------------------------------------------------------------- carry
@triton.jit
def _carry_kernel(
    p_ptr, h_ptr, s_ptr, z_ptr, szb, szm,
    B, C,
    M: tl.constexpr, MP: tl.constexpr, N: tl.constexpr, R: tl.constexpr,
    CPLX: tl.constexpr, ZERO_INIT: tl.constexpr, CDT: tl.constexpr,
):
    """Sequential scan over the chunks of ``N`` rows: ``s[b, 0] = zi[b]`` (or 0), then
    ``s[b, c+1] = P[b, c] s[b, c] + h[b, c]`` for the ``C - 1`` summarised chunks.

    ``P`` is ``(B, C-1, M, M)``, ``h`` ``(B, C-1, M)``, ``s`` ``(B, C, M)`` (contiguous, in
    ``R`` reals per value); needs ``C >= 2``. The next chunk's ``P``/``h`` are loaded one
    iteration ahead.
    """
    rows = tl.program_id(0).to(tl.int64) * N + tl.arange(0, N)
    ok = rows < B
    k = tl.arange(0, MP)
    kok = k < M
    m2 = ok[:, None] & kok[None, :]
    m3 = ok[:, None, None] & kok[None, :, None] & kok[None, None, :]
    if ZERO_INIT:
        sr = tl.zeros((N, MP), CDT)
        si = tl.zeros((N, MP), CDT)
    else:
        sr, si = _ld(z_ptr, (rows * szb)[:, None] + (k * szm)[None, :], m2, CPLX, CDT)
        if not CPLX:
            si = tl.zeros((N, MP), CDT)
    C1 = C - 1
    poff = (k[:, None] * M + k[None, :])[None, :, :]
    # prefetch chunk 0
    base = rows * C1
    pr, pi = _ld(p_ptr, (base * (M * M))[:, None, None] * R + poff * R, m3, CPLX, CDT)
    hr, hi = _ld(h_ptr, (base * M)[:, None] * R + k[None, :] * R, m2, CPLX, CDT)
    if not CPLX:
        pi = tl.zeros((N, MP, MP), CDT)
        hi = tl.zeros((N, MP), CDT)
    for c in range(0, C1):
        _st(s_ptr, ((rows * C + c) * M)[:, None] * R + k[None, :] * R, sr, si, m2, CPLX)
        nb = rows * C1 + tl.minimum(c + 1, C1 - 1)  # the last iteration reloads its own map
        nr, ni = _ld(p_ptr, (nb * (M * M))[:, None, None] * R + poff * R, m3, CPLX, CDT)
        gr, gi = _ld(h_ptr, (nb * M)[:, None] * R + k[None, :] * R, m2, CPLX, CDT)
        mr, mi = _mul(pr, pi, sr[:, None, :], si[:, None, :], CPLX)
        sr = tl.sum(mr, axis=2) + hr
        if CPLX:
            si = tl.sum(mi, axis=2) + hi
            pi = ni
            hi = gi
        pr = nr
        hr = gr
    _st(s_ptr, ((rows * C + C1) * M)[:, None] * R + k[None, :] * R, sr, si, m2, CPLX)
