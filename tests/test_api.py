"""Public API: values against the sequential reference on every backend, streaming, dtypes,
edge cases, input validation and backend selection."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

import tritonlpc
from tritonlpc.testing import TOL, assert_rel_close, make_inputs, reference


# --------------------------------------------------------------------------- values
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.complex128, torch.complex64])
@pytest.mark.parametrize("B,T,M", [(3, 37, 1), (2, 50, 2), (1, 41, 3), (3, 33, 4), (2, 29, 8), (1, 5, 3)])
def test_sample_wise_lpc_matches_reference(backend, dtype, B, T, M):
    x, a, zi = make_inputs(B, T, M, dtype, seed=B * 100 + T + M, device=backend.device)
    y = tritonlpc.sample_wise_lpc(x, a, zi)
    assert y.dtype == dtype and y.device.type == backend.device
    assert_rel_close(y, reference(x, a, zi), TOL[dtype])
    y0 = tritonlpc.sample_wise_lpc(x, a)
    assert_rel_close(y0, reference(x, a, torch.zeros_like(zi)), TOL[dtype])


def test_high_order(backend):
    M = 64 if not backend.interpreted else 16
    x, a, zi = make_inputs(2, 3 * M + 5, M, torch.float64, seed=7, device=backend.device)
    assert_rel_close(tritonlpc.sample_wise_lpc(x, a, zi), reference(x, a, zi), 1e-9)


@pytest.mark.parametrize("dtype", [torch.float64, torch.complex128])
def test_linear_recurrence_matches_reference(backend, dtype):
    x, a, zi = make_inputs(3, 45, 1, dtype, seed=3, device=backend.device)
    decay = -a[..., 0]
    h = tritonlpc.linear_recurrence(decay, x, zi[:, 0])
    assert_rel_close(h, reference(x, a, zi), 1e-9)
    expected = torch.zeros_like(x)
    state = zi[:, 0]
    for n in range(x.shape[1]):
        state = decay[:, n] * state + x[:, n]
        expected[:, n] = state
    assert_rel_close(h, expected, 1e-9)


# --------------------------------------------------------------------------- streaming
@pytest.mark.parametrize("M", [1, 2, 5])
def test_block_streaming_equals_one_call(backend, M):
    x, a, zi = make_inputs(2, 97, M, torch.float64, seed=M, device=backend.device)
    y_full, zf_full = tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)
    gen = torch.Generator().manual_seed(M)
    state, outs, n = zi, [], 0
    while n < x.shape[1]:
        size = int(torch.randint(1, 2 * M + 9, (1,), generator=gen))  # includes blocks shorter than M
        y, state = tritonlpc.sample_wise_lpc(x[:, n : n + size], a[:, n : n + size], state, return_zf=True)
        assert state.shape == (2, M)
        outs.append(y)
        n += size
    assert_rel_close(torch.cat(outs, 1), y_full, 1e-10)
    assert_rel_close(state, zf_full, 1e-10)
    assert_rel_close(zf_full, y_full[:, -M:].flip(1), 0)


def test_zf_when_block_shorter_than_order(backend):
    x, a, zi = make_inputs(2, 2, 4, torch.float64, seed=1, device=backend.device)
    y, zf = tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)
    assert_rel_close(zf, torch.cat([y.flip(1), zi[:, :2]], 1), 0)


# --------------------------------------------------------------------------- strides, empties, NaN
def test_expanded_time_invariant_coefficients(backend):
    x, a, zi = make_inputs(3, 40, 2, torch.float64, seed=5, device=backend.device)
    a0 = a[:, 0, :].clone().requires_grad_()
    a_exp = a0.unsqueeze(1).expand(-1, x.shape[1], -1)
    assert a_exp.stride(1) == 0
    y = tritonlpc.sample_wise_lpc(x, a_exp, zi)
    y_ref = tritonlpc.sample_wise_lpc(x, a_exp.contiguous(), zi)
    assert_rel_close(y, y_ref, 1e-12)
    (g,) = torch.autograd.grad(y.sum(), a0)
    a1 = a0.detach().clone().requires_grad_()
    (g_ref,) = torch.autograd.grad(reference(x, a1.unsqueeze(1).expand(-1, x.shape[1], -1), zi).sum(), a1)
    assert_rel_close(g, g_ref, 1e-9)


def test_strided_inputs(backend):
    x, a, zi = make_inputs(4, 60, 3, torch.float64, seed=9, device=backend.device)
    xs, as_, zs = x[::2, ::2], a[::2, ::2], zi[::2]
    assert not xs.is_contiguous() and not as_.is_contiguous()
    assert_rel_close(tritonlpc.sample_wise_lpc(xs, as_, zs), reference(xs, as_, zs), 1e-9)
    a_t = a.transpose(1, 2).contiguous().transpose(1, 2)  # coefficient dim not innermost
    assert_rel_close(tritonlpc.sample_wise_lpc(x, a_t, zi), reference(x, a, zi), 1e-9)


@pytest.mark.parametrize("B,T,M", [(0, 10, 2), (3, 0, 2), (0, 0, 1)])
def test_empty(backend, B, T, M):
    x = torch.randn(B, T, dtype=torch.float64, device=backend.device, requires_grad=True)
    a = torch.zeros(B, T, M, dtype=torch.float64, device=backend.device, requires_grad=True)
    zi = torch.randn(B, M, dtype=torch.float64, device=backend.device, requires_grad=True)
    y, zf = tritonlpc.sample_wise_lpc(x, a, zi, return_zf=True)
    assert y.shape == (B, T) and zf.shape == (B, M)
    (y.sum() + zf.sum()).backward()
    assert x.grad.shape == x.shape and a.grad.shape == a.shape and zi.grad.shape == zi.shape
    assert tritonlpc.linear_recurrence(x[..., 0:T], x, zi[:, 0]).shape == (B, T)


def test_nan_and_inf_propagate_like_the_recursion(backend):
    x, a, zi = make_inputs(2, 30, 2, torch.float64, seed=2, device=backend.device)
    x[0, 10] = float("nan")
    x[1, 20] = float("inf")
    y = tritonlpc.sample_wise_lpc(x, a, zi)
    y_ref = reference(x, a, zi)
    assert_rel_close(y, y_ref, 1e-9)
    assert torch.equal(y.isinf().cpu(), y_ref.isinf())
    assert not y[0, :10].isnan().any() and y[0, 10:].isnan().all()


# --------------------------------------------------------------------------- dtypes
def test_mixed_dtypes_promote(backend):
    x, a, zi = make_inputs(2, 20, 2, torch.float64, seed=4, device=backend.device)
    y = tritonlpc.sample_wise_lpc(x.float(), a, zi.float())
    assert y.dtype == torch.float64
    assert_rel_close(y, reference(x.float(), a, zi.float()), 1e-9)
    yc = tritonlpc.sample_wise_lpc(x.to(torch.complex128), a, zi)
    assert yc.dtype == torch.complex128
    assert_rel_close(yc, reference(x, a, zi).to(torch.complex128), 1e-9)
    h = tritonlpc.linear_recurrence(-a[..., 0].float(), x, None)
    assert h.dtype == torch.float64


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_computes_in_float32(backend, dtype):
    x, a, zi = make_inputs(2, 64, 2, torch.float32, seed=6, device=backend.device)
    xh, ah, zh = x.to(dtype), a.to(dtype), zi.to(dtype)
    y = tritonlpc.sample_wise_lpc(xh, ah, zh)
    assert y.dtype == dtype
    exact = reference(xh, ah, zh)  # same (rounded) inputs, exact arithmetic
    eps = torch.finfo(dtype).eps
    assert_rel_close(y, exact, 4 * eps)  # one rounding of the float32 result (+ slack)


# --------------------------------------------------------------------------- validation
def _good(T=8, M=2, B=2):
    return torch.randn(B, T), torch.zeros(B, T, M), torch.zeros(B, M)


@pytest.mark.parametrize(
    "make,exc,match",
    [
        (lambda: (_good()[0].numpy(), _good()[1], None), TypeError, "x must be a torch.Tensor"),
        (lambda: (_good()[0], [[0.0]], None), TypeError, "a must be a torch.Tensor"),
        (lambda: (_good()[0].long(), _good()[1], None), TypeError, "x must have a floating point"),
        (lambda: (_good()[0], _good()[1].bool(), None), TypeError, "a must have a floating point"),
        (lambda: (_good()[0], _good()[1], _good()[2].int()), TypeError, "zi must have a floating point"),
        (lambda: (_good()[0][0], _good()[1], None), ValueError, r"x must have shape \(B, T\)"),
        (lambda: (_good()[0], _good()[1][0], None), ValueError, r"a must have shape \(B, T, M\)"),
        (lambda: (_good(T=9)[0], _good()[1], None), ValueError, r"x must have shape .*got \(2, 9\)"),
        (lambda: (_good(B=3)[0], _good()[1], None), ValueError, r"x must have shape .*got \(3, 8\)"),
        (lambda: (_good()[0], _good()[1], torch.zeros(2, 3)), ValueError, r"zi must have shape \(B, M\) = \(2, 2\)"),
        (lambda: (_good()[0], _good()[1], torch.zeros(2)), ValueError, r"zi must have shape \(B, M\)"),
        (lambda: (_good()[0], _good(M=0)[1], None), ValueError, "order M >= 1"),
        (lambda: (_good()[0], _good()[1].to("meta"), None), ValueError, "a is on meta but x is on cpu"),
    ],
)
def test_sample_wise_lpc_rejects_bad_input(make, exc, match):
    x, a, zi = make()
    with pytest.raises(exc, match=match):
        tritonlpc.sample_wise_lpc(x, a, zi)


@pytest.mark.parametrize(
    "args,exc,match",
    [
        ((torch.zeros(2, 5), torch.zeros(2, 6), None), ValueError, "a and x must have the same shape"),
        ((torch.zeros(2, 5), torch.zeros(2, 5), torch.zeros(3)), ValueError, r"zi must have shape \(B,\)"),
        ((torch.zeros(2, 5, dtype=torch.int32), torch.zeros(2, 5), None), TypeError, "a must have a floating"),
        ((torch.zeros(5), torch.zeros(5), None), ValueError, r"a must have shape \(B, T\)"),
    ],
)
def test_linear_recurrence_rejects_bad_input(args, exc, match):
    with pytest.raises(exc, match=match):
        tritonlpc.linear_recurrence(*args)


_X, _A, _ZI = _good()
_ENTRY_POINTS = {
    "sample_wise_lpc": lambda x=_X, a=_A, zi=_ZI, flag=False: tritonlpc.sample_wise_lpc(x, a, zi, flag),
    "linear_recurrence": lambda x=_X, a=_A, zi=_ZI, flag=False: tritonlpc.linear_recurrence(a[..., 0], x, zi[:, 0]),
    "LPC.apply": lambda x=_X, a=_A, zi=_ZI, flag=False: tritonlpc.core.LPC.apply(x, a, zi, flag),
    "Recurrence.apply": lambda x=_X, a=_A, zi=_ZI, flag=False: tritonlpc.recurrence.Recurrence.apply(
        a[..., 0], x, zi[:, 0]
    ),
    "Reverse.apply": lambda x=_X, a=_A, zi=_ZI, flag=False: tritonlpc.core.Reverse.apply(x, a, flag),
}
_LOW_LEVEL = ("LPC.apply", "Recurrence.apply", "Reverse.apply")


@pytest.mark.parametrize("entry", list(_ENTRY_POINTS))
@pytest.mark.parametrize(
    "bad,exc,match",
    [
        (
            dict(x=_X.to_sparse()),
            TypeError,
            r"^(x|impulse|g) must be a dense \(strided\) tensor, got a torch.sparse_coo",
        ),
        (dict(a=_A.to_sparse()), TypeError, r"^(a|A|decay) must be a dense"),
        (
            dict(x=_X.to(torch.complex32)),
            TypeError,
            r"^(x|impulse|g) must have a floating point or complex dtype .*complex32",
        ),
        (
            dict(a=_A.to(torch.float8_e4m3fn)),
            TypeError,
            r"^(a|A|decay) must have a floating point or complex dtype .*float8",
        ),
        (
            dict(zi=_ZI.to(torch.float8_e5m2)),
            TypeError,
            r"^(zi|initial_state) must have a floating point or complex dtype",
        ),
        (dict(flag="yes"), TypeError, r"^(return_zf|conj) must be a bool, got str"),
    ],
    ids=["sparse-x", "sparse-a", "complex32-x", "float8-a", "float8-zi", "flag"],
)
def test_entry_points_name_the_bad_argument(entry, bad, exc, match):
    if "zi" in bad and entry == "Reverse.apply":
        pytest.skip("Reverse takes no initial conditions")
    if "flag" in bad and entry in ("linear_recurrence", "Recurrence.apply"):
        pytest.skip("no flag argument")
    with pytest.raises(exc, match=match):
        _ENTRY_POINTS[entry](**bad)


def test_low_level_functions_need_their_initial_conditions():
    x, a, _ = _good()
    with pytest.raises(TypeError, match=r"^zi must be a torch.Tensor of shape \(B, M\) .*got None"):
        tritonlpc.core.LPC.apply(x, a, None)
    with pytest.raises(TypeError, match=r"^initial_state must be a torch.Tensor of shape \(B,\) .*got None"):
        tritonlpc.recurrence.Recurrence.apply(x, x, None)


def test_low_level_functions_name_a_dtype_the_backend_does_not_compute_in():
    x, a, zi = (t.half() for t in _good())
    with tritonlpc.use_backend("numba"):
        with pytest.raises(TypeError, match="x has dtype torch.float16, which the numba backend does not compute in"):
            tritonlpc.core.LPC.apply(x, a, zi)
        with pytest.raises(TypeError, match="impulse has dtype torch.float16"):
            tritonlpc.recurrence.Recurrence.apply(x, x, zi[:, 0])
        with pytest.raises(TypeError, match="g has dtype torch.float16"):
            tritonlpc.core.Reverse.apply(x, a, False)
        assert tritonlpc.sample_wise_lpc(x, a, zi).dtype == torch.float16  # the public function casts


def test_meta_tensors_propagate_shapes():
    """Meta tensors give the outputs' shapes and dtypes (the custom ops' fake implementations);
    the low-level Functions, which run kernels, name the argument."""
    from tritonlpc import audio

    def m(*shape, dtype=torch.float32):
        return torch.empty(*shape, device="meta", dtype=dtype)

    y, zf = tritonlpc.sample_wise_lpc(m(2, 5), m(2, 5, 3, dtype=torch.float64), return_zf=True)
    assert y.is_meta and y.shape == (2, 5) and zf.shape == (2, 3) and y.dtype == zf.dtype == torch.float64
    h = tritonlpc.linear_recurrence(
        m(2, 5, dtype=torch.float16), m(2, 5, dtype=torch.float16), m(2, dtype=torch.float16)
    )
    assert h.is_meta and h.shape == (2, 5) and h.dtype == torch.float16
    assert audio.feedforward_compressor(m(2, 9), -20.0, 4.0, 0.3, 0.1).shape == (2, 9)
    assert audio.time_varying_biquad(m(2, 9), m(2, 9, 3), m(2, 9, 2)).shape == (2, 9)
    with pytest.raises(TypeError, match="^x is a meta tensor"):
        tritonlpc.core.LPC.apply(m(2, 5), m(2, 5, 2), m(2, 2))
    with pytest.raises(TypeError, match="^impulse is a meta tensor"):
        tritonlpc.recurrence.Recurrence.apply(m(2, 5), m(2, 5), m(2))


def test_functions_reject_mixed_dtypes():
    x, a, zi = _good()
    with pytest.raises(TypeError, match="A has dtype torch.float64 but x has dtype torch.float32"):
        tritonlpc.core.LPC.apply(x, a.double(), zi)
    with pytest.raises(TypeError, match="impulse has dtype"):
        tritonlpc.recurrence.Recurrence.apply(x, x.double(), zi[:, 0])


# --------------------------------------------------------------------------- backend selection
def test_backend_selection(monkeypatch):
    t = torch.zeros(1)
    monkeypatch.delenv("TRITONLPC_BACKEND", raising=False)
    tritonlpc.set_backend(None)
    assert tritonlpc.get_backend() == "auto" and tritonlpc.backend_for(t) == "numba"
    monkeypatch.setenv("TRITONLPC_BACKEND", "numba")
    assert tritonlpc.get_backend() == "numba"
    monkeypatch.setenv("TRITONLPC_BACKEND", "cuda-please")
    with pytest.raises(ValueError, match="TRITONLPC_BACKEND"):
        tritonlpc.get_backend()
    monkeypatch.setenv("TRITONLPC_BACKEND", "auto")
    with tritonlpc.use_backend("triton"):
        assert tritonlpc.get_backend() == "triton"
        with tritonlpc.use_backend("numba"):
            assert tritonlpc.backend_for(t) == "numba"
        monkeypatch.setenv("TRITON_INTERPRET", "0")
        with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
            tritonlpc.backend_for(t)
        monkeypatch.setenv("TRITON_INTERPRET", "1")
        assert tritonlpc.backend_for(t) == "triton"
    assert tritonlpc.get_backend() == "auto"
    tritonlpc.set_backend("numba")
    try:
        assert tritonlpc.get_backend() == "numba"
    finally:
        tritonlpc.set_backend(None)
    with pytest.raises(ValueError, match="backend must be one of"):
        with tritonlpc.use_backend("cpu"):
            pass


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_numba_backend_refuses_cuda_tensors():
    with tritonlpc.use_backend("numba"):
        with pytest.raises(RuntimeError, match="numba backend runs on CPU tensors only"):
            tritonlpc.sample_wise_lpc(torch.zeros(1, 4, device="cuda"), torch.zeros(1, 4, 2, device="cuda"))


def test_install_as_torchlpc_in_a_fresh_process():
    code = (
        "import tritonlpc; tritonlpc.install_as_torchlpc()\n"
        "import torchlpc\n"
        "from torchlpc import sample_wise_lpc, linear_recurrence\n"
        "from torchlpc.core import LPC\n"
        "from torchlpc.recurrence import Recurrence\n"
        "assert torchlpc is tritonlpc and LPC is tritonlpc.core.LPC and Recurrence is tritonlpc.recurrence.Recurrence\n"
        "import torch; print(sample_wise_lpc(torch.ones(1, 3), torch.full((1, 3, 1), -0.5)).tolist())\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[[1.0, 1.5, 1.75]]"


@pytest.mark.parametrize(
    "argv,match",
    [
        (["--seconds", "0"], "--seconds: must be a positive finite number"),
        (["--seconds", "-1"], "--seconds: must be a positive finite number"),
        (["--seconds", "nan"], "--seconds: must be a positive finite number"),
        (["--batch", "0"], "--batch: must be a positive integer"),
        (["--device", "tpu"], "--device: must be 'cpu' or 'cuda'"),
    ]
    + ([] if torch.cuda.is_available() else [(["--device", "cuda"], "--device: 'cuda' was asked for, but CUDA")]),
)
def test_demo_rejects_bad_options(capsys, argv, match):
    from tritonlpc.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2 and match in capsys.readouterr().err
