"""Compute backends: one :class:`~tritonlpc.backends.base.Backend` object each.

``numba_cpu.BACKEND`` (CPU tensors) and ``triton.backend.BACKEND`` (CUDA tensors; CPU tensors under
``TRITON_INTERPRET=1``) are instances of subclasses of :class:`tritonlpc.backends.base.Backend`,
which owns the public methods below (device check, output allocation, empty shapes, the
``grad_a`` argument check) and leaves each backend only its kernels. Backends know nothing about
autograd, validation or dispatch: they receive tensors that :mod:`tritonlpc._validation` already
checked, and return plain tensors. Everything else (the autograd Functions in
:mod:`tritonlpc.core` / :mod:`tritonlpc.recurrence`, the custom ops in :mod:`tritonlpc._ops`,
:mod:`tritonlpc.audio`, :mod:`tritonlpc.distributed`) gets its backend from
:func:`tritonlpc._dispatch.backend_object`. ``Backend.supports_half``: the backend takes
float16/bfloat16 as they are, accumulating in float32 (else the public functions cast to float32). Keyword arguments past
the contract's are kernel knobs (schedule overrides for tests and benchmarks).

Contract (every backend implements it identically; the math is in :mod:`tritonlpc._reference`):

``forward(x, a, zi, conj_a=False, neg_a=False) -> y``
    ``y[n] = x[n] - sum_{i=1..M} A[n,i-1] y[n-i]``, ``y[-k] = zi[k-1]``, with ``A = a``
    (``-a`` if ``neg_a``; conjugated if ``conj_a``).
    ``x (B,T)``, ``a (B,T,M)``, ``zi (B,M)``; one dtype among float32, float64, complex64,
    complex128 (and float16/bfloat16 where ``supports_half``); one device; **any strides** (``a`` may be expanded with stride 0 on any dim,
    and must be read in place, never copied). ``B``, ``T`` may be 0; ``T < M`` is allowed.
    Returns a new contiguous ``y (B,T)``.

``backward(g, a, y, zi, need_grad_a, need_grad_zi, neg_a=False) -> (grad_x, grad_a, grad_zi)``
    The fused vector-Jacobian product of ``forward(x, a, zi, conj_a=False, neg_a)`` in torch's
    convention for complex numbers (conjugates, as torch autograd gives them)::

        u[n]          = g[n] - sum_{i=1..M} conj(A[n+i, i-1]) u[n+i]     (n+i >= T: 0)
        grad_x        = u
        grad_A[n,i-1] = -u[n] * conj(y[n-i])             (y[n-i] = zi[i-n-1] when n < i)
        grad_zi[k-1]  = -sum_{n=0..M-k} conj(A[n, n+k-1]) u[n]

    and ``grad_a = -grad_A`` when ``neg_a`` (the gradient w.r.t. the tensor passed in).
    One reverse pass reading ``a`` at shifted times in place. ``y`` may be ``None`` when
    ``need_grad_a`` is false. ``grad_a`` (contiguous ``(B,T,M)``) / ``grad_zi`` (``(B,M)``) are
    ``None`` when not needed.

``reverse(g, a, conj_a=False, neg_a=False) -> u``
    Only the reverse recursion ``u[n] = g[n] - sum_i A[n+i,i-1] u[n+i]`` (note: conjugated
    only if ``conj_a``). Used by the differentiable (double-backward) path.

``smooth(f, at, rt, zi) -> (g, zeta)``
    The attack/release gain smoother of :mod:`tritonlpc.audio` (data-dependent, sequential in
    time)::

        zeta[n] = f[n] < g[n-1],   beta[n] = at if zeta[n] else rt,
        g[n]    = beta[n] f[n] + (1 - beta[n]) g[n-1],    g[-1] = zi

    ``f (B,T)``, ``at, rt, zi (B,)`` of one real dtype (float32/float64); returns new
    ``g (B,T)`` and ``zeta (B,T)`` (bool).

``summary(v, a, *, neg_a=False, adjoint=False, hop=None) -> SliceMap(P, h, e)`` or ``SliceMap(None, k, None)``
    The affine map ``s_end = P 2**e s_start + h`` (``P (B,M,M)`` a mantissa, ``e (B,)`` int32
    its power-of-two exponent, ``h (B,M)``) of filtering the slice ``x = v`` (state
    ``s = (y[n], ..., y[n-M+1])``), or with ``adjoint`` the constant part ``k`` of
    ``dL/ds_start = P^H mu + k`` for ``g = dL/dy = v`` (torch's complex convention), in one
    pass over the slice; definitions in :func:`tritonlpc._reference.slice_map` /
    :func:`tritonlpc._reference.adjoint_slice_map`. ``a`` any strides, read in place (control
    frames ``(B,F,M)`` with ``hop``, interpolated in the kernel as in ``forward``); ``T``
    may be 0 (``P = I``, ``h = k = 0``) or smaller than ``M``. Used by
    :mod:`tritonlpc.distributed` (one summary and one forward per call on a later rank).
"""
