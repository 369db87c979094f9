"""tritonlpc.signal against scipy.signal (float64 oracle): results, states, errors, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

scipy_signal = pytest.importorskip("scipy.signal")

import tritonlpc  # noqa: E402
from conftest import BACKENDS  # noqa: E402
from tritonlpc import signal as ts  # noqa: E402

T64 = dict(dtype=torch.float64)


def _t(v: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(v))


def _stable_a(rng: np.random.Generator, order: int, a0: float = 1.7) -> np.ndarray:
    """Random stable denominator (poles inside radius 0.9) scaled by ``a0`` (!= 1)."""
    poles = []
    for _ in range(order // 2):
        p = rng.uniform(0.2, 0.9) * np.exp(1j * rng.uniform(0, np.pi))
        poles += [p, np.conj(p)]
    if order % 2:
        poles.append(rng.uniform(-0.9, 0.9))
    return a0 * np.real(np.poly(poles)) if poles else np.array([a0])


def _stable_sos(rng: np.random.Generator, n: int) -> np.ndarray:
    sos = np.empty((n, 6))
    for s in range(n):
        sos[s, :3] = rng.standard_normal(3)
        sos[s, 3:] = _stable_a(rng, 2, a0=1.0)
    return sos


def _close(actual: torch.Tensor, expected: np.ndarray, tol: float = 1e-12) -> None:
    np.testing.assert_allclose(actual.detach().numpy(), expected, rtol=tol, atol=tol)


# ---------------------------------------------------------------------------------------------
# lfilter, lfilter_zi, lfiltic


@pytest.mark.parametrize("nb, na", [(4, 3), (2, 5), (3, 3), (1, 3), (4, 1), (2, 2), (7, 6), (1, 1)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_lfilter_matches_scipy(nb, na, axis):
    rng = np.random.default_rng(nb * 10 + na + axis)
    b, a = rng.standard_normal(nb), _stable_a(rng, na - 1)
    x = rng.standard_normal({0: (40, 5, 3), 1: (5, 40, 3), -1: (5, 3, 40)}[axis])
    y = ts.lfilter(_t(b), _t(a), _t(x), axis=axis)
    _close(y, scipy_signal.lfilter(b, a, x, axis=axis))
    N = max(nb, na) - 1
    zshape = list(x.shape)
    zshape[axis] = N
    zi = rng.standard_normal(zshape)
    y, zf = ts.lfilter(_t(b), _t(a), _t(x), axis=axis, zi=_t(zi))
    y_ref, zf_ref = scipy_signal.lfilter(b, a, x, axis=axis, zi=zi)
    _close(y, y_ref)
    _close(zf, zf_ref)


@pytest.mark.parametrize("T", [0, 1, 2, 5])
def test_lfilter_shorter_than_state(T):
    """T < N: the unconsumed part of zi stays in zf."""
    rng = np.random.default_rng(T)
    b, a = rng.standard_normal(6), _stable_a(rng, 3)
    x, zi = rng.standard_normal((2, T)), rng.standard_normal((2, 5))
    y, zf = ts.lfilter(_t(b), _t(a), _t(x), zi=_t(zi))
    if T == 0:  # scipy 1.17 returns uninitialised memory as zf here; the state is unchanged
        assert y.shape == (2, 0)
        _close(zf, zi)
        return
    y_ref, zf_ref = scipy_signal.lfilter(b, a, x, zi=zi)
    _close(y, y_ref)
    _close(zf, zf_ref)


def test_lfilter_streaming_blocks():
    rng = np.random.default_rng(1)
    b, a = rng.standard_normal(3), _stable_a(rng, 4)
    x = _t(rng.standard_normal((2, 64)))
    z = torch.zeros(2, 4, **T64)
    parts = []
    for blk in x.split([10, 1, 30, 23], dim=1):
        y, z = ts.lfilter(_t(b), _t(a), blk, zi=z)
        parts.append(y)
    _close(torch.cat(parts, 1), scipy_signal.lfilter(b, a, x.numpy()))


def test_lfilter_zi_and_lfiltic():
    rng = np.random.default_rng(2)
    for nb, na in [(4, 3), (2, 5), (3, 1), (1, 1)]:
        b, a = rng.standard_normal(nb), _stable_a(rng, na - 1)
        if max(nb, na) > 1:
            _close(ts.lfilter_zi(_t(b), _t(a)), scipy_signal.lfilter_zi(b, a))
        else:  # scipy 1.17 raises inside scipy.linalg.companion; the state is empty
            assert ts.lfilter_zi(_t(b), _t(a)).shape == (0,)
        y, x = rng.standard_normal(7), rng.standard_normal(2)
        _close(ts.lfiltic(_t(b), _t(a), _t(y), _t(x)), scipy_signal.lfiltic(b, a, y, x))
        _close(ts.lfiltic(_t(b), _t(a), _t(y[:1])), scipy_signal.lfiltic(b, a, y[:1]))
    # a step input from lfilter_zi * x[0] has no transient
    b, a = scipy_signal.butter(3, 0.2)
    step = torch.ones(1, 20, **T64)
    y, _ = ts.lfilter(_t(b), _t(a), step, zi=ts.lfilter_zi(_t(b), _t(a))[None])
    _close(y, np.full((1, 20), b.sum() / a.sum()), 1e-10)
    # Python sequences are accepted, as in scipy
    _close(ts.lfilter_zi(list(b), list(a)), scipy_signal.lfilter_zi(b, a))


def test_batched_coefficients():
    """Leading dimensions of b and a: a filter per row, broadcast with x's other dimensions."""
    rng = np.random.default_rng(3)
    B = rng.standard_normal((3, 1, 3))
    A = np.stack([_stable_a(rng, 2) for _ in range(3)])[:, None]  # (3, 1, 3)
    x = rng.standard_normal((3, 4, 30))
    zi = rng.standard_normal((3, 4, 2))
    y, zf = ts.lfilter(_t(B), _t(A), _t(x), zi=_t(zi))
    for i in range(3):
        y_ref, zf_ref = scipy_signal.lfilter(B[i, 0], A[i, 0], x[i], zi=zi[i])
        _close(y[i], y_ref)
        _close(zf[i], zf_ref)
    _close(ts.lfilter_zi(_t(B), _t(A))[:, 0], np.stack([scipy_signal.lfilter_zi(B[i, 0], A[i, 0]) for i in range(3)]))
    # time along axis 0, filters along the last dimension
    xt = rng.standard_normal((25, 3))
    y = ts.lfilter(_t(B[:, 0]), _t(A[:, 0]), _t(xt), axis=0)
    _close(y, np.stack([scipy_signal.lfilter(B[i, 0], A[i, 0], xt[:, i]) for i in range(3)], 1))


def test_dtypes():
    rng = np.random.default_rng(4)
    b, a = rng.standard_normal(3), _stable_a(rng, 2)
    x = rng.standard_normal((2, 50))
    ref = scipy_signal.lfilter(b, a, x)
    y32 = ts.lfilter(_t(b).float(), _t(a).float(), _t(x).float())
    assert y32.dtype == torch.float32
    np.testing.assert_allclose(y32.numpy(), ref, rtol=1e-4, atol=1e-5)
    y16 = ts.lfilter(list(b), list(a), _t(x).half())  # computed in float32, returned in float16
    assert y16.dtype == torch.float16
    np.testing.assert_allclose(y16.double().numpy(), ref, rtol=1e-2, atol=1e-2)
    assert ts.lfilter(_t(b).float(), _t(a), _t(x).float()).dtype == torch.float64  # promotion
    _close(ts.lfilter([0.5 + 1j, 0.2], list(a), _t(x)), scipy_signal.lfilter([0.5 + 1j, 0.2], a, x))  # complex list
    xc = x + 1j * rng.standard_normal((2, 50))
    bc = b + 0.5j
    _close(ts.lfilter(_t(bc), _t(a), _t(xc)), scipy_signal.lfilter(bc, a, xc))
    zi = rng.standard_normal((2, 2)) + 1j
    y, zf = ts.lfilter(_t(b), _t(a), _t(xc), zi=_t(zi))
    y_ref, zf_ref = scipy_signal.lfilter(b, a, xc, zi=zi)
    _close(y, y_ref)
    _close(zf, zf_ref)


# ---------------------------------------------------------------------------------------------
# sosfilt, sosfilt_zi


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_sosfilt_matches_scipy(axis):
    rng = np.random.default_rng(10 + axis)
    n = 5 if axis == 0 else 3  # the CPU kernel runs passes of four sections
    sos = _stable_sos(rng, n)
    x = rng.standard_normal((6, 5, 4))
    _close(ts.sosfilt(_t(sos), _t(x), axis=axis), scipy_signal.sosfilt(sos, x, axis=axis))
    zshape = [n] + list(x.shape)
    zshape[axis + 1] = 2
    zi = rng.standard_normal(zshape)
    y, zf = ts.sosfilt(_t(sos), _t(x), axis=axis, zi=_t(zi))
    y_ref, zf_ref = scipy_signal.sosfilt(sos, x, axis=axis, zi=zi)
    _close(y, y_ref)
    _close(zf, zf_ref)


def test_sosfilt_zi_and_batched_sos():
    rng = np.random.default_rng(11)
    sos = scipy_signal.butter(6, 0.15, output="sos")
    _close(ts.sosfilt_zi(_t(sos)), scipy_signal.sosfilt_zi(sos))
    x = rng.standard_normal((2, 40)) + 3.0
    zi = scipy_signal.sosfilt_zi(sos)[:, None, :] * x[:, :1]
    y, zf = ts.sosfilt(_t(sos), _t(x), zi=_t(zi))
    y_ref, zf_ref = scipy_signal.sosfilt(sos, x, zi=zi)
    _close(y, y_ref)
    _close(zf, zf_ref)
    sos_b = np.stack([_stable_sos(rng, 2) for _ in range(2)])  # (2, 2, 6): a cascade per row
    y = ts.sosfilt(_t(sos_b), _t(x))
    _close(y, np.stack([scipy_signal.sosfilt(sos_b[i], x[i]) for i in range(2)]))
    _close(ts.sosfilt_zi(_t(sos_b)), np.stack([scipy_signal.sosfilt_zi(sos_b[i]) for i in range(2)]))


# ---------------------------------------------------------------------------------------------
# filtfilt, sosfiltfilt


@pytest.mark.parametrize("padtype", ["odd", "even", "constant", None])
@pytest.mark.parametrize("axis", [0, -1])
def test_filtfilt_matches_scipy(padtype, axis):
    rng = np.random.default_rng(20)
    b, a = rng.standard_normal(4), _stable_a(rng, 2)
    sos = _stable_sos(rng, 2)
    sos[1, 2] = sos[1, 5] = 0.0  # a first-order section: scipy's default padlen counts it
    x = rng.standard_normal((60, 3)) if axis == 0 else rng.standard_normal((3, 60))
    _close(
        ts.filtfilt(_t(b), _t(a), _t(x), axis=axis, padtype=padtype),
        scipy_signal.filtfilt(b, a, x, axis=axis, padtype=padtype),
    )
    _close(
        ts.sosfiltfilt(_t(sos), _t(x), axis=axis, padtype=padtype),
        scipy_signal.sosfiltfilt(sos, x, axis=axis, padtype=padtype),
    )
    _close(
        ts.filtfilt(_t(b), _t(a), _t(x), axis=axis, padtype=padtype, padlen=7),
        scipy_signal.filtfilt(b, a, x, axis=axis, padtype=padtype, padlen=7),
    )
    _close(
        ts.sosfiltfilt(_t(sos), _t(x), axis=axis, padtype=padtype, padlen=0),
        scipy_signal.sosfiltfilt(sos, x, axis=axis, padtype=padtype, padlen=0),
    )


@pytest.mark.parametrize("axis", [0, -1])
def test_both_paths_match_scipy(axis):
    """Without gradients, CPU calls run the one-pass Numba kernels; with them, the FIR +
    all-pole decomposition. Both against scipy, with states, batched and complex."""
    rng = np.random.default_rng(50 + axis)
    b, a = rng.standard_normal(5), _stable_a(rng, 3)
    sos = _stable_sos(rng, 3)
    x = rng.standard_normal((30, 4)) if axis == 0 else rng.standard_normal((4, 30))
    zshape = (4, 4)  # N = 4 at axis, 4 rows
    sshape = (3, 2, 4) if axis == 0 else (3, 4, 2)
    zi, szi = rng.standard_normal(zshape), rng.standard_normal(sshape)
    y_ref, zf_ref = scipy_signal.lfilter(b, a, x, axis=axis, zi=zi)
    s_ref, sf_ref = scipy_signal.sosfilt(sos, x, axis=axis, zi=szi)
    ff_ref = scipy_signal.filtfilt(b, a, x, axis=axis)
    sff_ref = scipy_signal.sosfiltfilt(sos, x, axis=axis)
    for grad in (False, True):
        xt = _t(x).requires_grad_(grad)
        y, zf = ts.lfilter(_t(b), _t(a), xt, axis=axis, zi=_t(zi))
        _close(y, y_ref)
        _close(zf, zf_ref)
        y, zf = ts.sosfilt(_t(sos), xt, axis=axis, zi=_t(szi))
        _close(y, s_ref)
        _close(zf, sf_ref)
        _close(ts.filtfilt(_t(b), _t(a), xt, axis=axis), ff_ref)
        _close(ts.sosfiltfilt(_t(sos), xt, axis=axis), sff_ref)
        assert y.requires_grad == grad


@pytest.mark.filterwarnings("ignore:There is a performance drop")  # vmap: addcmul_ has no batching rule
def test_forward_ad_and_vmap():
    rng = np.random.default_rng(60)
    b, a, sos = _t(rng.standard_normal(3)), _t(_stable_a(rng, 2)), _t(_stable_sos(rng, 2))
    x, v = _t(rng.standard_normal((2, 15))), _t(rng.standard_normal((2, 15)))
    _, tangent = torch.func.jvp(lambda x: ts.lfilter(b, a, x), (x,), (v,))
    _close(tangent, scipy_signal.lfilter(b.numpy(), a.numpy(), v.numpy()))  # linear in x
    d = torch.ones_like(sos)
    d[:, 3] = 0  # sos[:, 3] stays 1
    _, tangent = torch.func.jvp(lambda s: ts.sosfilt(s, x), (sos,), (d,))
    eps = 1e-6
    fd = (ts.sosfilt(sos + eps * d, x) - ts.sosfilt(sos - eps * d, x)) / (2 * eps)
    torch.testing.assert_close(tangent, fd, rtol=1e-6, atol=1e-7)
    ys = torch.vmap(lambda r: ts.lfilter(b, a, r))(x)
    _close(ys, scipy_signal.lfilter(b.numpy(), a.numpy(), x.numpy()))


# ---------------------------------------------------------------------------------------------
# errors


def test_errors_name_the_argument():
    x = torch.randn(2, 20, **T64)
    b, a = torch.tensor([1.0, 0.5], **T64), torch.tensor([1.0, -0.5], **T64)
    with pytest.raises(ValueError, match=r"a\[0\] must be nonzero"):
        ts.lfilter(b, torch.tensor([0.0, 1.0], **T64), x)
    with pytest.raises(ValueError, match=r"a\[0\] must be nonzero"):
        ts.lfilter_zi(b, torch.tensor([0.0, 1.0], **T64))
    with pytest.raises(ValueError, match="b must have at least one coefficient"):
        ts.lfilter(torch.zeros(0, **T64), a, x)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        ts.lfilter(b, a, [1.0, 2.0])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="b must be a tensor or a sequence"):
        ts.lfilter("ab", a, x)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="axis=2 is out of range"):
        ts.lfilter(b, a, x, axis=2)
    with pytest.raises(ValueError, match=r"zi must have shape \(2, 1\)"):
        ts.lfilter(b, a, x, zi=torch.zeros(2, 3, **T64))
    with pytest.raises(ValueError, match=r"sos must have shape \(n_sections, 6\)"):
        ts.sosfilt(torch.zeros(2, 5, **T64), x)
    with pytest.raises(ValueError, match=r"sos must have shape \(n_sections, 6\)"):
        ts.sosfilt_zi(torch.zeros(6, **T64))
    sos = torch.tensor([[1.0, 0, 0, 2.0, 0, 0]], **T64)
    with pytest.raises(ValueError, match=r"sos\[:, 3\] must be all ones"):
        ts.sosfilt(sos, x)
    with pytest.raises(ValueError, match=r"zi must have shape \(1, 2, 2\)"):
        ts.sosfilt(torch.tensor([[1.0, 0, 0, 1, 0, 0]], **T64), x, zi=torch.zeros(2, 2, 2, **T64))
    with pytest.raises(ValueError, match="must be greater than padlen, which is 20"):
        ts.filtfilt(b, a, x, padlen=20)
    with pytest.raises(ValueError, match="must be greater than padlen, which is 21"):
        ts.sosfiltfilt(torch.tensor([[1.0, 0.5, 0.1, 1, -0.5, 0.1]] * 3, **T64), x)
    with pytest.raises(ValueError, match="padtype must be"):
        ts.filtfilt(b, a, x, padtype="reflect")
    with pytest.raises(ValueError, match="padlen must be >= 0"):
        ts.filtfilt(b, a, x, padlen=-1)
    with pytest.raises(ValueError, match="do not broadcast"):
        ts.lfilter(torch.ones(3, 2, **T64), a, x)
    with pytest.raises(ValueError, match="y must have at least one dimension"):
        ts.lfiltic(b, a, torch.tensor(1.0, **T64))


# ---------------------------------------------------------------------------------------------
# gradients


def test_gradcheck_lfilter():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 7, generator=g, **T64).requires_grad_()
    b = torch.randn(3, generator=g, **T64).requires_grad_()
    a = torch.tensor([1.3, -0.4, 0.2], **T64).requires_grad_()
    zi = torch.randn(2, 2, generator=g, **T64).requires_grad_()

    def f(b, a, x, zi):
        y, zf = ts.lfilter(b, a, x, zi=zi)
        return y, zf

    assert torch.autograd.gradcheck(f, (b, a, x, zi))
    assert torch.autograd.gradgradcheck(f, (b, a, x, zi))
    # a[0] exactly 1: the division by it is skipped only where no derivative flows through it
    a1 = torch.tensor([1.0, -0.4, 0.2], **T64).requires_grad_()
    assert torch.autograd.gradcheck(f, (b, a1, x, zi), check_forward_ad=True)
    y1 = ts.lfilter(b.detach(), a1.detach(), x.detach())
    _close(y1, scipy_signal.lfilter(b.detach().numpy(), a1.detach().numpy(), x.detach().numpy()))
    # complex (torch's conjugate convention), including the FIR's own backward
    c = dict(dtype=torch.complex128)
    xc = torch.randn(2, 5, generator=g, **c).requires_grad_()
    bc = torch.randn(3, generator=g, **c).requires_grad_()
    ac = torch.tensor([1.2, -0.3 + 0.2j, 0.1], **c).requires_grad_()
    zc = torch.randn(2, 2, generator=g, **c).requires_grad_()
    assert torch.autograd.gradcheck(f, (bc, ac, xc, zc))
    assert torch.autograd.gradgradcheck(f, (bc, ac, xc, zc))
    # per-row coefficients, time on axis 0
    B = torch.randn(2, 2, generator=g, **T64).requires_grad_()
    A = torch.tensor([[1.0, -0.5], [0.8, 0.3]], **T64).requires_grad_()
    assert torch.autograd.gradcheck(
        lambda B, A, x: ts.lfilter(B, A, x, axis=0), (B, A, x.detach().T.clone().requires_grad_())
    )


def test_gradcheck_sos_filtfilt_and_states():
    g = torch.Generator().manual_seed(1)
    x = torch.randn(2, 9, generator=g, **T64).requires_grad_()
    sos = torch.tensor([[0.5, 0.2, 0.1, 1.0, -0.6, 0.2], [1.0, -0.3, 0.0, 1.0, 0.4, 0.1]], **T64).requires_grad_()
    zi = torch.randn(2, 2, 2, generator=g, **T64).requires_grad_()
    # sos[:, 3] must stay 1 (scipy's rule, checked): differentiate the other five columns
    one = torch.ones(2, 1, **T64)
    full = lambda s: torch.cat([s[:, :3], one, s[:, 3:]], 1)  # noqa: E731
    sos = sos[:, [0, 1, 2, 4, 5]].detach().requires_grad_()
    assert torch.autograd.gradcheck(lambda s, x, z: ts.sosfilt(full(s), x, zi=z), (sos, x, zi))
    assert torch.autograd.gradgradcheck(lambda s, x, z: ts.sosfilt(full(s), x, zi=z)[0], (sos, x, zi))
    b = torch.tensor([0.3, 0.2], **T64).requires_grad_()
    a = torch.tensor([1.2, -0.5], **T64).requires_grad_()
    assert torch.autograd.gradcheck(lambda b, a, x: ts.filtfilt(b, a, x, padlen=3), (b, a, x))
    assert torch.autograd.gradcheck(lambda s, x: ts.sosfiltfilt(full(s), x, padlen=2), (sos, x))
    y = torch.randn(3, generator=g, **T64).requires_grad_()
    assert torch.autograd.gradcheck(lambda b, a, y: ts.lfiltic(b, a, y, y[:1]), (b, a, y))
    assert torch.autograd.gradcheck(ts.lfilter_zi, (b, torch.tensor([1.0, -0.5, 0.2], **T64).requires_grad_()))


# ---------------------------------------------------------------------------------------------
# backends and torch.compile


@pytest.mark.parametrize("backend", BACKENDS, ids=str)
def test_backends(backend):
    """Every backend (the Triton kernels in the interpreter without CUDA) on tiny shapes."""
    rng = np.random.default_rng(30)
    b, a = rng.standard_normal(3), _stable_a(rng, 2)
    sos = _stable_sos(rng, 2)
    x, zi = rng.standard_normal((2, 12)), rng.standard_normal((2, 2))
    dev = backend.device
    with tritonlpc.use_backend(backend.name):
        y, zf = ts.lfilter(_t(b).to(dev), _t(a).to(dev), _t(x).to(dev), zi=_t(zi).to(dev))
        ys = ts.sosfilt(_t(sos).to(dev), _t(x).float().to(dev))
    y_ref, zf_ref = scipy_signal.lfilter(b, a, x, zi=zi)
    _close(y.cpu(), y_ref)
    _close(zf.cpu(), zf_ref)
    np.testing.assert_allclose(ys.cpu().numpy(), scipy_signal.sosfilt(sos, x), rtol=1e-4, atol=1e-5)


def test_compile_fullgraph():
    """One compile covering lfilter (with zi) and sosfilt, forward and backward."""
    rng = np.random.default_rng(40)
    b, a, sos = _t(rng.standard_normal(3)), _t(_stable_a(rng, 2)), _t(_stable_sos(rng, 2))
    x = _t(rng.standard_normal((2, 16))).requires_grad_()
    zi = torch.zeros(2, 2, **T64)

    def f(b, a, sos, x, zi):
        y, zf = ts.lfilter(b, a, x, zi=zi)
        return ts.sosfilt(sos, y) + zf.sum(-1, keepdim=True)

    compiled = torch.compile(f, fullgraph=True, backend="aot_eager")
    out = compiled(b, a, sos, x, zi)
    ref = f(b, a, sos, x, zi)
    torch.testing.assert_close(out, ref)
    (gc,) = torch.autograd.grad(out.sum(), x)
    (ge,) = torch.autograd.grad(ref.sum(), x)
    torch.testing.assert_close(gc, ge)


# ---------------------------------------------------------------------------------------------
# the one-pass CPU kernels with gradients (tritonlpc.signal._onepass)


def _through(t: torch.Tensor, node: str) -> bool:
    """Whether ``t``'s graph has a node named ``node`` (which path computed it)."""
    todo, seen = [t.grad_fn], set()
    while todo:
        fn = todo.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__ == node:
            return True
        todo.extend(f for f, _ in fn.next_functions)
    return False


def _adjoint_scipy(filt, g: np.ndarray) -> np.ndarray:
    """dL/dx of ``filt`` (linear in x, zero state) for the output gradient ``g``: the conjugate
    filter run back in time."""
    return filt(g[:, ::-1].conj())[:, ::-1].conj()


@pytest.mark.parametrize("N, R, per_row, dtype", [(2, 1, False, "f8"), (4, 3, True, "c16"), (6, 2, False, "f8")])
def test_onepass_lfilter_gradients(N, R, per_row, dtype):
    """The fused backward (orders padded to 4 in registers, and the generic kernel) against
    scipy (dL/dx) and the composite path (every gradient, zf's included), odd T, B = 1."""
    from tritonlpc.signal._lti import lfilter_composite, normalize

    rng = np.random.default_rng(70 + N)
    cplx = dtype == "c16"
    rnd = lambda *s: rng.standard_normal(s) + (1j * rng.standard_normal(s) if cplx else 0)  # noqa: E731
    a = np.stack([_stable_a(rng, N, a0=1.0) for _ in range(R if per_row else 1)]).astype(dtype)
    b, x, zi = rnd(a.shape[0], N + 1), rnd(R, 41), rnd(R, N)
    ins = [_t(v).requires_grad_() for v in (b, a, x, zi)]
    y, zf = ts.lfilter(ins[0], ins[1], ins[2], zi=ins[3])
    assert _through(y, "_LfilterOnePassBackward")
    gy, gz = _t(rnd(R, 41)), _t(rnd(R, N))
    got = torch.autograd.grad((y, zf), ins, (gy, gz))
    ref_ins = [_t(v).requires_grad_() for v in (b, a, x, zi)]
    ref_out = lfilter_composite(*normalize(*ref_ins[:2]), *ref_ins[2:], True)
    ref = torch.autograd.grad(ref_out, ref_ins, (gy, gz))
    for g_, r_ in zip(got, ref):
        _close(g_, r_.detach().numpy(), 1e-11)
    (gx,) = torch.autograd.grad(ts.lfilter(ins[0], ins[1], ins[2]), ins[2], gy)
    if not per_row:
        _close(gx, _adjoint_scipy(lambda v: scipy_signal.lfilter(b[0], a[0], v), gy.numpy()))


def test_onepass_sosfilt_gradients():
    """Two groups of four sections (5 sections: three pass-through ones), a cascade per row,
    complex, zi/zf: the fused backward against the composite path and scipy (dL/dx)."""
    from tritonlpc.signal._onepass import sos_composite

    rng = np.random.default_rng(80)
    sos = np.stack([_stable_sos(rng, 5) for _ in range(2)]).astype(complex)
    sos[..., :3] += 1j * rng.standard_normal((2, 5, 3))
    x = rng.standard_normal((2, 23)) + 1j * rng.standard_normal((2, 23))
    zi = rng.standard_normal((5, 2, 2)) + 0j
    ins = [_t(v).requires_grad_() for v in (sos, x, zi)]
    y, zf = ts.sosfilt(*ins[:2], zi=ins[2])
    assert _through(y, "_SosOnePassBackward")
    for i in range(2):
        y_ref, zf_ref = scipy_signal.sosfilt(sos[i], x[i], zi=zi[:, i])
        _close(y[i], y_ref)
        _close(zf[:, i], zf_ref)
    gy, gz = _t(rng.standard_normal((2, 23)) + 1j), _t(rng.standard_normal((5, 2, 2)) - 1j)
    got = torch.autograd.grad((y, zf), ins, (gy, gz))
    ref_ins = [_t(v).requires_grad_() for v in (sos, x, zi)]
    ref_out = sos_composite(ref_ins[0], ref_ins[1], ref_ins[2].permute(1, 0, 2))  # section by section
    ref = torch.autograd.grad((ref_out[0], ref_out[1].permute(1, 0, 2)), ref_ins, (gy, gz))
    for g_, r_ in zip(got, ref):
        _close(g_, r_.numpy(), 1e-11)
    (gx,) = torch.autograd.grad(ts.sosfilt(ins[0][0], ins[1]), ins[1], gy)
    _close(gx, _adjoint_scipy(lambda v: scipy_signal.sosfilt(sos[0], v), gy.numpy()))


@pytest.mark.slow(seconds=15)  # compiles the vector-lane kernels (cold Numba cache)
def test_onepass_sosfilt_lanes(monkeypatch):
    """The vectorised forward (LANES rows as lanes, the cascade's groups in one pass a tile at a
    time): 19 rows (two blocks of 8 and 3 rows on the pair kernel), T over two tiles and odd, 5
    sections (two groups), zi, a cascade per row and one for all, back in time, float32, and the
    parallel twin; against scipy."""
    from tritonlpc.backends import _numba_lti_lanes as lanes
    from tritonlpc.signal._onepass import sos_onepass

    rng = np.random.default_rng(85)
    R, T = 2 * lanes.LANES + 3, 2 * lanes.TILE + 9
    sos = np.stack([_stable_sos(rng, 5) for _ in range(R)])
    x, zi = rng.standard_normal((R, T)), rng.standard_normal((5, R, 2))
    y, zf = ts.sosfilt(_t(sos), _t(x), zi=_t(zi))
    for r in (0, 9, R - 1):
        y_ref, zf_ref = scipy_signal.sosfilt(sos[r], x[r], zi=zi[:, r])
        _close(y[r], y_ref, 1e-11)
        _close(zf[:, r], zf_ref, 1e-11)
    y_ref, zf_ref = scipy_signal.sosfilt(sos[0], x[:, ::-1], zi=zi)  # back in time
    y, zf = sos_onepass(_t(sos[:1]), _t(x), _t(zi.transpose(1, 0, 2)), "numba", reverse=True)
    _close(y, y_ref[:, ::-1], 1e-11)
    _close(zf, zf_ref.transpose(1, 0, 2), 1e-11)
    y32 = ts.sosfilt(_t(sos[0]).float(), _t(x).float())
    _close(y32.double(), scipy_signal.sosfilt(sos[0], x), 1e-4)
    serial = ts.sosfilt(_t(sos[0]), _t(x))
    monkeypatch.setattr(lanes, "PARALLEL_FROM", 0)
    _close(ts.sosfilt(_t(sos[0]), _t(x)), serial.numpy(), 0)


def test_onepass_sosfilt_chunked(monkeypatch):
    """Fewer than LANES long rows, each as LANES chunks of itself in the lanes, chained by the
    chunk map (the transition matrix to the power L): chunks of 37 samples and a tail of 5, 5
    sections, zi, back in time (sosfiltfilt), float32, two rows with a cascade each, against
    scipy; an unstable cascade (A^L overflows) falls back, writing nothing."""
    from tritonlpc.backends import _numba_lti
    from tritonlpc.backends._numba_lti_lanes import chunked

    monkeypatch.setattr(_numba_lti, "CHUNKED_FROM", 64)
    rng = np.random.default_rng(86)
    sos, T = _stable_sos(rng, 5), 8 * 37 + 5
    x, zi = rng.standard_normal(T), rng.standard_normal((5, 2))
    y, zf = ts.sosfilt(_t(sos), _t(x), zi=_t(zi))
    y_ref, zf_ref = scipy_signal.sosfilt(sos, x, zi=zi)
    _close(y, y_ref, 1e-11)
    _close(zf, zf_ref, 1e-11)
    _close(ts.sosfiltfilt(_t(sos), _t(x)), scipy_signal.sosfiltfilt(sos, x), 1e-11)
    _close(ts.sosfilt(_t(sos).float(), _t(x).float()).double(), scipy_signal.sosfilt(sos, x), 1e-4)
    two, x2 = np.stack([sos, _stable_sos(rng, 5)]), rng.standard_normal((2, T))
    y2 = ts.sosfilt(_t(two), _t(x2))
    for r in range(2):
        _close(y2[r], scipy_signal.sosfilt(two[r], x2[r]), 1e-11)
    wild = sos.copy()
    wild[0, 4:] = [-1e9, 0.0]  # a pole at 1e9
    y = np.zeros((1, T))
    A = _numba_lti._sos_transition(wild)
    assert chunked(lambda *args: None, A, x[None], np.zeros((1, 5, 2)), y) is None
    assert not y.any()


@pytest.mark.slow(seconds=12)  # compiles the vector-lane adjoints (cold Numba cache)
def test_onepass_lanes_backward():
    """The backward in the vector lanes (LANES rows a block, the rows past them on the row
    kernels): sosfilt from the forward's checkpoints (the tiles' section signals recomputed),
    5 sections (two groups), a cascade per row, back in time; lfilter's float32 adjoint
    (order 3, a filter per row); T over two backward tiles and odd; zi and zf gradients;
    against the composite path (float64); the same bits run to run."""
    from tritonlpc.backends import _numba_lti_lanes as lanes
    from tritonlpc.signal._lti import lfilter_composite
    from tritonlpc.signal._onepass import lfilter_onepass, sos_composite, sos_onepass

    rng = np.random.default_rng(87)
    R, T, n = lanes.LANES + 2, 2 * lanes.BACK_TILE + 7, lanes.LANES
    sos = np.stack([_stable_sos(rng, 5) for _ in range(R)])
    x, gy = rng.standard_normal((R, T)), rng.standard_normal((R, T))
    zi, gz = rng.standard_normal((R, 5, 2)), rng.standard_normal((R, 5, 2))

    def check(fn, inputs, grads, dtype, tol):
        ins = [_t(v).to(dtype).requires_grad_() for v in inputs]
        got = torch.autograd.grad(fn(*ins), ins, [_t(g).to(dtype) for g in grads])
        ref_ins = [_t(v).requires_grad_() for v in inputs]
        ref = torch.autograd.grad(fn(*ref_ins, composite=True), ref_ins, [_t(g) for g in grads])
        for g_, r_ in zip(got, ref):
            scale = r_.abs().max().item()
            _close(g_.double() / scale, r_.numpy() / scale, tol)
        return got

    def sosfilt(s, v, z, reverse=False, composite=False):
        if not composite:
            return sos_onepass(s, v, z, "numba", reverse=reverse)
        y, zf = sos_composite(s, v.flip(-1) if reverse else v, z)
        return y.flip(-1) if reverse else y, zf

    first = check(sosfilt, (sos, x, zi), (gy, gz), torch.float64, 1e-9)
    for p, q in zip(check(sosfilt, (sos, x, zi), (gy, gz), torch.float64, 1e-9), first):
        _close(p, q.numpy(), 0)  # a fixed order of summation: the same bits run to run
    # back in time on LANES rows: the lanes alone (fewer row kernels to compile)
    back = lambda *v, composite=False: sosfilt(*v, reverse=True, composite=composite)  # noqa: E731
    check(back, (sos[:n], x[:n], zi[:n]), (gy[:n], gz[:n]), torch.float64, 1e-9)
    b, a = rng.standard_normal((n, 4)), np.stack([_stable_a(rng, 3, a0=1.0) for _ in range(n)])
    lzi, lgz = rng.standard_normal((n, 3)), rng.standard_normal((n, 3))

    def lfilter(*v, composite=False):
        return lfilter_composite(*v, True) if composite else lfilter_onepass(*v, "numba")

    check(lfilter, (b, a, x[:n], lzi), (gy[:n], lgz), torch.float32, 2e-4)


TRITON = [b for b in BACKENDS if b.name == "triton"]


@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_onepass_kernels(backend):
    """The Triton one-pass kernels (interpreter on CPU): lfilter orders 1-4 and a cascade of 5
    sections (two launches, pass-through padding), a filter per row, more rows than a program
    holds, odd T, T = 1, zi/zf, float64 against scipy."""
    from tritonlpc.signal._onepass import kernel_for

    rng = np.random.default_rng(90)
    R, T, dev = 35, 9, backend.device
    x = rng.standard_normal((R, T))
    sos = np.stack([_stable_sos(rng, 5) for _ in range(R)])
    szi = rng.standard_normal((5, R, 2))
    with tritonlpc.use_backend("triton"):
        assert kernel_for(_t(x).to(dev)) == "triton"
        assert kernel_for(_t(x).to(dev).requires_grad_()) == "triton"
        assert kernel_for(_t(x + 0j).to(dev)) is None  # complex: the composite path
        for N in (1, 3, 4):
            b, a = rng.standard_normal(N + 1), _stable_a(rng, N)
            zi = rng.standard_normal((R, N))
            for n in (T, 1):
                y, zf = ts.lfilter(_t(b).to(dev), _t(a).to(dev), _t(x[:, :n]).to(dev), zi=_t(zi).to(dev))
                y_ref, zf_ref = scipy_signal.lfilter(b, a, x[:, :n], zi=zi)
                _close(y.cpu(), y_ref)
                _close(zf.cpu(), zf_ref)
        y, zf = ts.sosfilt(_t(sos).to(dev), _t(x).to(dev), zi=_t(szi).to(dev))
    for r in (0, R - 1):
        y_ref, zf_ref = scipy_signal.sosfilt(sos[r], x[r], zi=szi[:, r])
        _close(y[r].cpu(), y_ref)
        _close(zf[:, r].cpu(), zf_ref)


@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_onepass_gradients(backend):
    """The Triton one-pass kernels with their backward (interpreter on CPU): lfilter of order 3
    (padded to 4) with a filter per row and zi, a cascade of 5 sections (two groups, kept section
    inputs) shared by all rows, forward and back in time (reversed views, sosfiltfilt); outputs
    and every gradient against the Numba kernels', dL/dx against scipy, float64, 3 rows (masked
    lanes), odd T and T < N."""
    from tritonlpc.signal._onepass import lfilter_onepass, sos_onepass

    rng = np.random.default_rng(93)
    R, T, dev = 3, 7, backend.device
    a = np.stack([_stable_a(rng, 3, a0=1.0) for _ in range(R)])
    sos = _stable_sos(rng, 5)[None]
    b, x, zi = rng.standard_normal((R, 4)), rng.standard_normal((R, T)), rng.standard_normal((R, 3))
    cases = [
        (lfilter_onepass, [b, a, x, zi]),
        (lfilter_onepass, [b, a, x[:, :2], zi]),  # T < N
        (sos_onepass, [sos, x, rng.standard_normal((R, 5, 2))]),
    ]
    for fn, arrays in cases:
        for reverse in (False, True):
            grads = []
            for kernel, d in (("triton", dev), ("numba", "cpu")):
                ins = [_t(v).to(d).requires_grad_() for v in arrays]
                y, zf = fn(*ins, kernel, reverse=reverse)
                gy = torch.cos(torch.arange(ins[-2].numel(), dtype=torch.float64)).reshape(ins[-2].shape).to(d)
                got = torch.autograd.grad((y, zf), ins, (gy, torch.ones_like(zf)))
                grads.append([g.detach().cpu() for g in (y, zf, *got)])
                assert y.grad_fn is not None and type(y.grad_fn).__name__.endswith("OnePassBackward")
            for g_, r_ in zip(*grads):
                _close(g_, r_.numpy(), 1e-11)
    ins = [_t(v).to(dev).requires_grad_() for v in (sos[0], rng.standard_normal((R, T)))]
    with tritonlpc.use_backend("triton"):
        y = ts.sosfilt(*ins)
    assert _through(y, "_SosOnePassBackward")
    (gx,) = torch.autograd.grad(y, ins[1], _t(np.ones((R, T))).to(dev))
    _close(gx.cpu(), _adjoint_scipy(lambda v: scipy_signal.sosfilt(sos[0], v), np.ones((R, T))))


@pytest.fixture
def chunked(monkeypatch):
    """The Triton LTI calls forced onto the time-parallel schedule with chunks of 8 samples."""
    from tritonlpc.signal._onepass import _Triton

    monkeypatch.setattr(_Triton, "plan_knobs", {"chunk_len": 8})
    return _Triton


@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_chunked_kernels(backend, chunked):
    """The time-parallel schedule of the Triton LTI kernels (interpreter on CPU): chunks of 8
    samples, T = 29 (three chunks and a tail of 5: orders 2 and 4) and T = 5 < 8 (the tail alone:
    order 1), 5 sections (two groups), zi/zf, a filter or cascade per row, B = 1, time along axis 0, filtfilt
    and sosfiltfilt (back in time), float64 against scipy; float32 against the one-pass kernels."""
    rng = np.random.default_rng(91)
    dev = backend.device
    x = rng.standard_normal((2, 29))
    sos, szi = _stable_sos(rng, 5), rng.standard_normal((5, 2, 2))
    with tritonlpc.use_backend("triton"):
        for N, n in ((1, 5), (2, 29), (4, 29)):
            b, a = rng.standard_normal((2, N + 1)), np.stack([_stable_a(rng, N) for _ in range(2)])
            zi = rng.standard_normal((2, N))
            y, zf = ts.lfilter(_t(b).to(dev), _t(a).to(dev), _t(x[:, :n]).to(dev), zi=_t(zi).to(dev))
            for r in range(2):
                y_ref, zf_ref = scipy_signal.lfilter(b[r], a[r], x[r, :n], zi=zi[r])
                _close(y[r].cpu(), y_ref)
                _close(zf[r].cpu(), zf_ref)
        y = ts.lfilter(_t(b[0]).to(dev), _t(a[0]).to(dev), _t(x.T).to(dev), axis=0)  # rows read with a time stride
        _close(y.cpu(), scipy_signal.lfilter(b[0], a[0], x.T, axis=0))
        y, zf = ts.sosfilt(_t(sos).to(dev), _t(x[:1]).to(dev), zi=_t(szi[:, :1]).to(dev))
        y_ref, zf_ref = scipy_signal.sosfilt(sos, x[:1], zi=szi[:, :1])
        _close(y.cpu(), y_ref)
        _close(zf.cpu(), zf_ref)
        _close(
            ts.filtfilt(_t(b[0]).to(dev), _t(a[0]).to(dev), _t(x).to(dev)).cpu(), scipy_signal.filtfilt(b[0], a[0], x)
        )
        _close(
            ts.sosfiltfilt(_t(sos).to(dev), _t(x).to(dev), padlen=10).cpu(), scipy_signal.sosfiltfilt(sos, x, padlen=10)
        )
        per_row = np.stack([sos, _stable_sos(rng, 5)])  # a cascade per row: a chunk map per row
        y = ts.sosfilt(_t(per_row).to(dev), _t(x).to(dev))
        for r in range(2):
            _close(y[r].cpu(), scipy_signal.sosfilt(per_row[r], x[r]))
        x32, sos32 = _t(x).float().to(dev), _t(sos).float().to(dev)
        got = ts.sosfilt(sos32, x32)
        chunked.plan_knobs = {"schedule": "single"}
        torch.testing.assert_close(got, ts.sosfilt(sos32, x32), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_chunked_gradients(backend, chunked):
    """The time-parallel backward (interpreter on CPU), T = 21 in chunks of 8 (a tail of 5): lfilter
    of order 3 with a filter per row and zi, forward and back in time, and a cascade of 3 sections
    (a pass-through one); outputs and every gradient against the composite path; lfilter run twice,
    bit for bit."""
    from tritonlpc.signal._lti import lfilter_composite
    from tritonlpc.signal._onepass import _reversed, lfilter_onepass, sos_composite, sos_onepass

    rng = np.random.default_rng(94)
    R, T, dev = 2, 21, backend.device
    a = np.stack([_stable_a(rng, 3, a0=1.0) for _ in range(R)])
    b, x, zi = rng.standard_normal((R, 4)), rng.standard_normal((R, T)), rng.standard_normal((R, 3))
    lfilter_pair = lambda *v: lfilter_composite(*v, True)  # noqa: E731
    sos_case = (sos_onepass, sos_composite, [_stable_sos(rng, 3)[None], x, rng.standard_normal((R, 3, 2))], False, 1)
    gy = torch.cos(torch.arange(R * T, **T64)).reshape(R, T)
    for fn, composite, arrays, reverse, runs in [(lfilter_onepass, lfilter_pair, [b, a, x, zi], r, 2) for r in (False, True)] + [sos_case]:  # fmt: skip
        ins = [_t(v).requires_grad_() for v in arrays]
        y, zf = _reversed(composite, reverse)(*ins)
        gz = torch.sin(torch.arange(zf.numel(), **T64)).reshape(zf.shape)
        ref = [y, zf, *torch.autograd.grad((y, zf), ins, (gy, gz))]
        got = []
        for _ in range(runs):
            ins = [_t(v).to(dev).requires_grad_() for v in arrays]
            y, zf = fn(*ins, "triton", reverse=reverse)
            got.append([y, zf, *torch.autograd.grad((y, zf), ins, (gy.to(dev), gz.to(dev)))])
        for g_, r_ in zip(got[0], ref):
            _close(g_.cpu(), r_.detach().numpy(), 1e-11)
        for g_, r_ in zip(got[0], got[-1]):
            assert torch.equal(g_, r_)


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # the interpreter's 0 * inf
@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_chunked_overflow(backend, chunked):
    """A pole at 1000 in float32: the chunk map A^16 (1e48) overflows, so the carry of zero states
    gives NaN; the call falls back to the one-pass kernel, whose recursion stays finite
    (the input is zero until the last 3 samples)."""
    from tritonlpc.backends.triton import lti_chunks

    dev = backend.device
    x = torch.zeros(1, 35, device=dev)
    x[0, -3:] = 1.0
    b, a = torch.ones(1, 2, device=dev), torch.tensor([[1.0, -1000.0]], device=dev)
    z = torch.zeros(1, 1, device=dev)
    y = lti_chunks.tdf2(b, a, x, z, 16)
    y_ref, zf_ref = scipy_signal.lfilter([1.0, 1.0], [1.0, -1000.0], x.cpu().double().numpy(), zi=np.zeros((1, 1)))
    assert torch.isfinite(y).all()
    _close(y.cpu().double(), y_ref, 1e-6)
    _close(z.cpu().double(), zf_ref, 1e-6)


@pytest.mark.parametrize("backend", TRITON, ids=str)
def test_triton_chunked_long_rows(backend):
    """On a GPU only (the interpreter is too slow at this length): rows of 2^16 + 3 samples take the
    planned time-parallel schedule (chunks of 256 and a tail); lfilter of order 4 and a cascade of 5
    sections with zi, forward and backward, float64, against scipy and the one-pass kernels."""
    from tritonlpc.backends.triton.lti_chunks import plan_lti
    from tritonlpc.signal._onepass import _Triton, lfilter_onepass, sos_onepass

    if backend.device == "cpu":
        pytest.skip("long rows: CUDA only")
    rng = np.random.default_rng(96)
    R, T, dev = 2, 2**16 + 3, backend.device
    assert plan_lti(R, T, sm_count=torch.cuda.get_device_properties(dev).multi_processor_count) == 256
    b, a = rng.standard_normal(5), _stable_a(rng, 4, a0=1.0)
    sos, x = _stable_sos(rng, 5), rng.standard_normal((R, T))
    cases = [(lfilter_onepass, [b[None], a[None], x, rng.standard_normal((R, 4))]), (sos_onepass, [sos[None], x, rng.standard_normal((R, 5, 2))])]  # fmt: skip
    gy = torch.cos(torch.arange(R * T, **T64)).reshape(R, T).to(dev)
    for fn, arrays in cases:
        runs = []
        for knobs in ({}, {"schedule": "single"}):
            _Triton.plan_knobs = knobs
            try:
                ins = [_t(v).to(dev).requires_grad_() for v in arrays]
                y, zf = fn(*ins, "triton")
                runs.append([y, zf, *torch.autograd.grad((y, zf), ins, (gy, torch.ones_like(zf)))])
            finally:
                _Triton.plan_knobs = {}
        ref = scipy_signal.lfilter(b, a, x, zi=arrays[-1]) if fn is lfilter_onepass else None
        if ref is not None:
            _close(runs[0][0].cpu(), ref[0], 1e-9)
        for g_, r_ in zip(*runs):
            assert float((g_ - r_).detach().abs().max()) <= 1e-9 * float(r_.detach().abs().max())


def test_triton_lti_plan():
    """The schedule of the Triton LTI kernels: one pass for many rows or short rows, chunks of about
    sqrt(T) samples for few long rows; knobs force either and are checked."""
    from tritonlpc.backends.triton.lti_chunks import plan_lti

    assert plan_lti(1, 1 << 20) == 1024
    assert plan_lti(8, 1 << 18, sm_count=132) == 512
    assert plan_lti(1, 1000) == 0 and plan_lti(132 * 32, 1 << 20) == 0 and plan_lti(132 * 32 - 1, 1 << 20) == 1024
    assert plan_lti(1, 1000, schedule="three-phase") == 64 and plan_lti(1, 1 << 20, schedule="single") == 0
    assert plan_lti(4, 100, chunk_len=7) == 7
    with pytest.raises(ValueError, match="chunk_len"):
        plan_lti(1, 100, chunk_len=0)
    with pytest.raises(ValueError, match="schedule"):
        plan_lti(1, 100, schedule="tree")


def test_onepass_reverse_time():
    """The Numba kernels run back in time on reversed views (filtfilt's second pass, no flip
    copies): against scipy on flipped signals, with zi/zf; gradcheck of both Functions."""
    from tritonlpc.signal._onepass import lfilter_onepass, sos_onepass

    rng = np.random.default_rng(95)
    b, a = rng.standard_normal(4), _stable_a(rng, 3, a0=1.0)
    sos = _stable_sos(rng, 2)
    x, zi, szi = rng.standard_normal((2, 13)), rng.standard_normal((2, 3)), rng.standard_normal((2, 2, 2))
    y, zf = lfilter_onepass(_t(b)[None], _t(a)[None], _t(x), _t(zi), "numba", reverse=True)
    y_ref, zf_ref = scipy_signal.lfilter(b, a, x[:, ::-1], zi=zi)
    _close(y, y_ref[:, ::-1])
    _close(zf, zf_ref)
    y, zf = sos_onepass(_t(sos)[None], _t(x), _t(szi), "numba", reverse=True)
    y_ref, zf_ref = scipy_signal.sosfilt(sos, x[:, ::-1], zi=szi.transpose(1, 0, 2))
    _close(y, y_ref[:, ::-1])
    _close(zf, zf_ref.transpose(1, 0, 2))
    ins = [_t(v).requires_grad_() for v in (b[None], a[None], x[:, :7], zi)]
    assert torch.autograd.gradcheck(lambda *v: lfilter_onepass(*v, "numba", reverse=True), ins)
    assert torch.autograd.gradgradcheck(lambda *v: lfilter_onepass(*v, "numba", reverse=True), ins)
    ins = [_t(v).requires_grad_() for v in (sos[None], x[:, :7], szi)]
    assert torch.autograd.gradcheck(
        lambda s, *v: sos_onepass(s.clone().index_fill_(-1, torch.tensor([3]), 1.0), *v, "numba", reverse=True), ins
    )


def test_onepass_parallel_rows(monkeypatch):
    """The parallel twins of the Numba kernels (rows in parallel, an odd last row paired with
    itself), forced on a tiny call: the same results as the serial ones, bit for bit."""
    from tritonlpc.backends import _numba_lti_lanes

    rng = np.random.default_rng(97)
    filters = [(_t(rng.standard_normal(3)), _t(_stable_a(rng, 2))), (_t(rng.standard_normal(7)), _t(_stable_a(rng, 6)))]
    sos, x = _t(_stable_sos(rng, 2)), _t(rng.standard_normal((3, 11)))

    def run():
        out = []
        for b, a in filters:  # order 2 (the order-4 register kernels) and 6 (the generic ones)
            ins = [b.clone().requires_grad_(), a.clone().requires_grad_(), x.clone().requires_grad_()]
            y = ts.lfilter(*ins)
            out += [y, *torch.autograd.grad(y, ins, torch.ones_like(y))]
        s = sos.clone().requires_grad_()
        y = ts.sosfilt(s, x)
        return out + [y, *torch.autograd.grad(y, s, torch.ones_like(y))]

    serial = run()
    monkeypatch.setattr(_numba_lti_lanes, "PARALLEL_FROM", 0)
    for p, q in zip(run(), serial):
        _close(p, q.detach().numpy(), 0)
