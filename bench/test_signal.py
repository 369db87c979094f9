"""tritonlpc.signal benchmarks (``kind = "signal"`` in the JSON; report.py's tables ignore them).

* ``signal-fwd``: ``tritonlpc.signal.lfilter`` (order 4, Butterworth) and ``sosfilt`` (4 sections)
  against ``scipy.signal`` (same coefficients, same dtype), forward, float64 and float32.
* ``signal-fwdbwd``: forward + backward (gradients of ``x`` and the coefficients) of the
  time-invariant path (``tritonlpc.signal``: coefficients expanded over time, never copied)
  against the time-varying path at the same shape and filter (``tritonlpc.audio.time_varying_iir``
  / ``time_varying_biquad`` with the coefficients materialised per sample), float32.

On CPU: shape (8, 2^16), ``--lpc-quick``: (2, 2^10); timed by pytest-benchmark; compare medians
within one run (same machine, same load). On CUDA (``--lpc-device cuda``, the GPU session): the
tritonlpc rows only (scipy runs on CPU; it is still the reference each call is checked against),
at (8, 2^16) and at (1, 2^20), a few long rows, where one lane a row leaves most of a GPU idle
(both take the time-parallel schedule, ``lti_chunks.plan_lti``; the ``-onepass`` rows force the
one-pass kernels, the baseline that tunes its thresholds); timed with CUDA events
(``lpcbench.cuda_event_times``).
"""

from __future__ import annotations

from typing import Callable, Tuple

import numpy as np
import pytest
import torch

scipy_signal = pytest.importorskip("scipy.signal")

import lpcbench as lb  # noqa: E402
import tritonlpc  # noqa: E402
from tritonlpc import audio  # noqa: E402
from tritonlpc import signal as ts  # noqa: E402

ORDER, SECTIONS = 4, 4
DTYPES = {"float64": torch.float64, "float32": torch.float32}


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "signal_case" in metafunc.fixturenames:
        device = metafunc.config._lpc_device  # type: ignore[attr-defined]
        quick = bool(metafunc.config.getoption("--lpc-quick"))
        metafunc.parametrize("signal_case", [pytest.param(c, id=i) for i, c in lb.signal_cases(device, quick)])


def _filters(dtype: torch.dtype, device: torch.device) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    b, a = scipy_signal.butter(ORDER, 0.1)
    sos = scipy_signal.butter(2 * SECTIONS, 0.1, output="sos")
    return tuple(torch.tensor(v, dtype=dtype, device=device) for v in (b, a, sos))  # type: ignore[return-value]


def _forward_call(op: str, impl: str, x: torch.Tensor) -> Callable[[], object]:
    b, a, sos = _filters(x.dtype, x.device)
    if impl == "scipy":
        xn, bn, an, sn = (t.numpy() for t in (x, b, a, sos))
        return (lambda: scipy_signal.lfilter(bn, an, xn)) if op == "lfilter" else (lambda: scipy_signal.sosfilt(sn, xn))
    return (lambda: ts.lfilter(b, a, x)) if op == "lfilter" else (lambda: ts.sosfilt(sos, x))


def _fwdbwd_call(op: str, impl: str, x: torch.Tensor) -> Callable[[], object]:
    B, T = x.shape
    b, a, sos = _filters(x.dtype, x.device)
    x = x.clone().requires_grad_()
    g = torch.randn(B, T, dtype=x.dtype, generator=torch.Generator().manual_seed(1)).to(x.device)
    if impl == "time-invariant":
        if op == "lfilter":
            coefs = [b.requires_grad_(), a.requires_grad_()]
            fwd = lambda: ts.lfilter(coefs[0], coefs[1], x)  # noqa: E731
        else:
            coefs = [sos.requires_grad_()]
            fwd = lambda: ts.sosfilt(coefs[0], x)  # noqa: E731
    else:  # the same filter with its coefficients materialised per sample
        if op == "lfilter":
            bt = (b / a[0]).expand(B, T, -1).contiguous().requires_grad_()
            at = (a[1:] / a[0]).expand(B, T, -1).contiguous().requires_grad_()
            coefs = [bt, at]
            fwd = lambda: audio.time_varying_iir(x, bt, at)  # noqa: E731
        else:
            coefs = []
            for s in range(SECTIONS):
                coefs += [sos[s, :3].expand(B, T, -1).contiguous(), sos[s, 4:].expand(B, T, -1).contiguous()]
            coefs = [c.requires_grad_() for c in coefs]

            def fwd() -> torch.Tensor:
                y = x
                for s in range(SECTIONS):
                    y = audio.time_varying_biquad(y, coefs[2 * s], coefs[2 * s + 1])
                return y

    inputs = [x, *coefs]
    return lambda: torch.autograd.grad(fwd(), inputs, g)


def _check(op: str, direction: str, impl: str, x: torch.Tensor) -> None:
    """The tritonlpc call agrees with scipy (float64 reference) before it is timed."""
    b, a, sos = _filters(torch.float64, torch.device("cpu"))
    xn = x.double().cpu().numpy()
    ref = scipy_signal.lfilter(b.numpy(), a.numpy(), xn) if op == "lfilter" else scipy_signal.sosfilt(sos.numpy(), xn)
    if direction == "fwd" and impl == "tritonlpc":
        y = _forward_call(op, impl, x)()
    elif direction == "fwd+bwd" and impl == "time-varying":
        b_, a_, sos_ = _filters(x.dtype, x.device)
        if op == "lfilter":
            B, T = x.shape
            y = audio.time_varying_iir(x, (b_ / a_[0]).expand(B, T, -1), (a_[1:] / a_[0]).expand(B, T, -1))
        else:
            y = x
            for s in range(SECTIONS):
                y = audio.time_varying_biquad(y, sos_[s, :3].expand(*x.shape, -1), sos_[s, 4:].expand(*x.shape, -1))
    else:
        return
    tol = 1e-9 if x.dtype == torch.float64 else 2e-3
    scale = float(np.abs(ref).max())
    err = float(np.abs(torch.as_tensor(y).double().cpu().numpy() - ref).max())
    assert err <= tol * scale, f"{op} {impl}: max error {err:.3g} (scale {scale:.3g})"


ONEPASS = "-onepass"  # CUDA: the Triton one-pass kernels forced, the baseline of lti_chunks.plan_lti's choice


def test_signal(benchmark, bench_env, signal_case, request, monkeypatch) -> None:
    direction, op, dtype, impl, B, T, device = signal_case
    x = torch.randn(B, T, dtype=DTYPES[dtype], generator=torch.Generator().manual_seed(0)).to(device)
    info = benchmark.extra_info
    info.update(bench_env.common_info(device))
    info.update(
        kind="signal", op=op, impl=impl, B=B, T=T, dtype=dtype, direction=direction, backend=tritonlpc.backend_for(x)
    )
    info.update(order=ORDER if op == "lfilter" else 2 * SECTIONS, sections=SECTIONS if op == "sosfilt" else None)
    benchmark.group = f"signal {op} {direction} B{B} T{T} {dtype}"
    if impl.endswith(ONEPASS):
        from tritonlpc.signal._onepass import _Triton

        monkeypatch.setattr(_Triton, "plan_knobs", {"schedule": "single"})
        impl = impl[: -len(ONEPASS)]
    _check(op, direction, impl, x)
    call = _forward_call(op, impl, x) if direction == "fwd" else _fwdbwd_call(op, impl, x)
    if device == "cuda":
        lb.record_cuda_times(
            benchmark, lb.cuda_event_times(call, max_time=bench_env.max_time, min_rounds=max(10, bench_env.min_rounds))
        )
    else:
        call()  # warm-up: Numba compilation
        benchmark(call)
    if benchmark.stats is not None:
        info["median_s"] = float(benchmark.stats.stats.median)
        request.node._signal_median = info["median_s"]  # for test_signal_summary


def test_signal_summary(request) -> None:
    """Not a benchmark: prints the ratios of the medians measured above (``-s`` to see them)."""
    medians = {}
    for item in request.session.items:
        rep = getattr(item, "_signal_median", None)
        if rep is not None:
            d, op, dt, impl, B, T, device = item.callspec.params["signal_case"]
            medians[(device, B, T, d, op, dt, impl)] = rep
    if not medians:
        pytest.skip("no signal benchmark ran in this session (or --benchmark-disable)")
    lines = []
    for (device, B, T, d, op, dt, impl), med in sorted(medians.items()):
        base = medians.get((device, B, T, d, op, dt, "scipy" if d == "fwd" else "time-varying"))
        if impl in ("tritonlpc", "time-invariant", "tritonlpc" + ONEPASS, "time-invariant" + ONEPASS):
            ratio = f", {base / med:.2f}x" if base is not None else ""
            lines.append(f"{device} ({B}, {T}) {op} {d} {dt}: {impl} {med * 1e3:.3f} ms{ratio}")
    print("\n" + "\n".join(lines))
