"""Compute backends. Each module implements the same three kernels entry points.

Backends know nothing about autograd, validation or dispatch: they receive tensors that
:mod:`tritonlpc._validation` already checked, and return plain tensors. The autograd
Functions (:mod:`tritonlpc.core`, :mod:`tritonlpc.recurrence`) and the custom ops
(:mod:`tritonlpc._ops`) pick a backend through :func:`tritonlpc._dispatch.backend_module`.

Contract (``numba_cpu`` and ``triton_gpu`` implement it identically; the math is in
:mod:`tritonlpc._reference`):

``forward(x, a, zi, conj_a=False, neg_a=False) -> y``
    ``y[n] = x[n] - sum_{i=1..M} A[n,i-1] y[n-i]``, ``y[-k] = zi[k-1]``, with ``A = a``
    (``-a`` if ``neg_a``; conjugated if ``conj_a``).
    ``x (B,T)``, ``a (B,T,M)``, ``zi (B,M)``; one dtype among float32, float64, complex64,
    complex128; one device; **any strides** (``a`` may be expanded with stride 0 on any dim,
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
"""
