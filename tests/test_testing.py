"""tritonlpc.testing: the shared helpers themselves (fast, CPU only)."""

from __future__ import annotations

import pytest
import torch

from tritonlpc import _reference
from tritonlpc.testing import (
    TOL,
    assert_rel_close,
    make_inputs,
    reference,
    rel_error,
    stable_coefficients,
)


def test_make_inputs_values_are_pinned():
    """The tests' thresholds were set on these inputs: a change of the generation shows here."""
    x, a, zi = make_inputs(2, 50, 3, torch.float64, seed=5)
    expected_a = torch.tensor([0.9947908657823545, 0.39346508423052307, 0.04348947812107457], dtype=torch.float64)
    torch.testing.assert_close(a[1, 17], expected_a, rtol=1e-14, atol=0)
    torch.testing.assert_close(x[0, :2], torch.tensor([-1.0104897615190667, -0.5618478835148287], dtype=torch.float64))
    assert zi[1, 2].item() == pytest.approx(0.42241254637500636, rel=1e-14)
    _, ac, _ = make_inputs(1, 20, 2, torch.complex128, seed=2)
    expected_c = torch.tensor(
        [0.9061159282916409 - 1.0704594320646204j, -0.09095824792105639 - 0.4679233653334124j], dtype=torch.complex128
    )
    torch.testing.assert_close(ac[0, 13], expected_c, rtol=1e-14, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.complex64, torch.complex128])
def test_make_inputs_dtypes_and_reproducible(dtype):
    x, a, zi = make_inputs(3, 40, 5, dtype, seed=1)
    assert (x.shape, a.shape, zi.shape) == ((3, 40), (3, 40, 5), (3, 5))
    assert x.dtype == a.dtype == zi.dtype == dtype
    for u, v in zip((x, a, zi), make_inputs(3, 40, 5, dtype, seed=1)):
        assert torch.equal(u, v)
    assert not torch.equal(a, make_inputs(3, 40, 5, dtype, seed=2)[1])


@pytest.mark.parametrize("M,complex_poles", [(1, False), (2, False), (5, False), (16, False), (4, True), (20, True)])
@pytest.mark.parametrize("n_knots", [2, 8])
def test_stable_coefficients_give_bounded_filters(M, complex_poles, n_knots):
    g = torch.Generator().manual_seed(M)
    a = stable_coefficients(2, 3000, M, complex_poles=complex_poles, n_knots=n_knots, generator=g)
    assert a.shape == (2, 3000, M) and a.dtype == (torch.complex128 if complex_poles else torch.float64)
    x = torch.randn(2, 3000, dtype=a.dtype, generator=g)
    y = _reference.allpole(x, a)
    assert torch.isfinite(torch.view_as_real(y) if y.is_complex() else y).all()
    assert y.abs().max() < 1e4
    assert (a[:, 1:] - a[:, :-1]).abs().max() < 0.1  # slowly varying


def test_stable_coefficients_float32_on_request():
    a = stable_coefficients(2, 64, 3, dtype=torch.float32, n_knots=4, generator=torch.Generator().manual_seed(0))
    assert a.dtype == torch.float32
    ac = stable_coefficients(2, 64, 3, complex_poles=True, dtype=torch.float32, generator=torch.Generator())
    assert ac.dtype == torch.complex64
    with pytest.raises(ValueError, match="n_knots"):
        stable_coefficients(1, 4, 2, n_knots=1)


def test_rel_error_and_assert_rel_close():
    e = torch.tensor([2.0, -4.0, float("inf"), float("nan")], dtype=torch.float64)
    a = torch.tensor([2.0, -4.002, float("inf"), float("nan")])
    assert rel_error(a, e) == pytest.approx(0.002 / 4, rel=1e-3)
    assert_rel_close(a, e, 1e-3)
    with pytest.raises(AssertionError, match="relative error"):
        assert_rel_close(a, e, 1e-4)
    with pytest.raises(AssertionError, match="NaN"):
        assert_rel_close(torch.zeros(4), e, 1.0)
    with pytest.raises(AssertionError, match="inf"):
        assert_rel_close(torch.tensor([2.0, -4.0, -float("inf"), float("nan")]), e, 1.0)
    with pytest.raises(AssertionError, match="shapes"):
        assert_rel_close(torch.zeros(3), e, 1.0)
    assert rel_error(torch.zeros(2), torch.tensor([0.5, -0.25])) == 0.5  # scale at least 1


def test_reference_runs_in_float64_on_cpu():
    x, a, zi = make_inputs(2, 30, 2, torch.float32, seed=3)
    y = reference(x, a, zi)
    assert y.dtype == torch.float64
    assert torch.equal(y, _reference.allpole(x.double(), a.double(), zi.double()))
    assert TOL[torch.float32] > TOL[torch.float64]
