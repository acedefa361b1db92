"""Eigenvalues of W_hh against NumPy, and the predicted growth ρ^t against the measured gradient."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from core import SimConfig, Simulator
from core.spectrum import MAX_SPECTRUM_WIDTH, Spectrum, eigenvalues, unavailable_reason

RNN = dict(architecture="rnn", device="cpu", dataset="first_token", n_samples=64, batch_size=16)


def test_eigenvalues_match_numpy():
    w = torch.randn(40, 40, generator=torch.Generator().manual_seed(0)) / 40 ** 0.5
    ours = eigenvalues(w)
    ref = np.linalg.eigvals(w.double().numpy())
    assert ours.dtype == np.complex128 and np.all(np.diff(np.abs(ours)) <= 1e-12)  # by decreasing |λ|
    # same multiset: match each reference eigenvalue to its nearest (float64 on both sides)
    assert max(np.abs(ours - r).min() for r in ref) < 1e-9
    assert np.allclose(np.sort_complex(ours), np.sort_complex(ref), atol=1e-9)


def test_orthogonal_init_puts_every_eigenvalue_on_a_circle_of_radius_gain():
    sim = Simulator(SimConfig(init="orthogonal", init_gain=0.5, depth=8, width=32, **RNN))
    spec = sim.spectrum()
    assert spec.step == 0 and spec.eigenvalues.shape == (32,) and not spec.eigenvalues.flags.writeable
    np.testing.assert_allclose(np.abs(spec.eigenvalues), 0.5, rtol=1e-5)  # gain·Q, |λ(Q)| = 1
    assert spec.radius == pytest.approx(0.5, rel=1e-5)
    sim.step()
    assert sim.spectrum().step == 1


@pytest.mark.parametrize("gain", [0.7, 1.3])
def test_linear_rnn_gradient_follows_the_predicted_growth_exactly(gain):
    # φ = identity and W_hh = gain·Q: δ_{t−1} = W_hhᵀ δ_t, and ‖gain·Qᵀ v‖ = gain‖v‖ for every v,
    # so ‖∂L/∂z_t‖ = ρ^(T−t)‖∂L/∂z_T‖ with ρ = gain exactly (float32 rounding over 20 steps: 1e-4)
    sim = Simulator(SimConfig(activation="linear", init="orthogonal", init_gain=gain, depth=20, width=24, **RNN))
    measured = sim.probe().layers.grad_norm
    predicted = sim.spectrum().predicted_grad_norm(measured)
    np.testing.assert_allclose(measured, predicted, rtol=1e-4)
    assert predicted[0] == pytest.approx(measured[-1] * gain ** 19, rel=1e-4)


def test_tanh_gradient_stays_below_the_linear_prediction():
    # |tanh′| ≤ 1 only removes growth: with an orthogonal W_hh the prediction is a strict upper bound
    sim = Simulator(SimConfig(init="orthogonal", init_gain=1.5, depth=30, width=32, **RNN))
    measured = sim.probe().layers.grad_norm
    assert np.all(measured <= sim.spectrum().predicted_grad_norm(measured) * (1 + 1e-4))


def test_spectrum_only_for_the_elman_cell_and_bounded_widths():
    assert Simulator(SimConfig(architecture="lstm", depth=3, width=8, **{k: v for k, v in RNN.items()
                                                                            if k != "architecture"})).spectrum() is None
    assert Simulator(SimConfig(depth=3, width=8, device="cpu", n_samples=64, batch_size=16)).spectrum() is None
    assert "for 'rnn'" in unavailable_reason("mlp", 8)
    assert unavailable_reason("rnn", MAX_SPECTRUM_WIDTH) is None
    assert "O(width³)" in unavailable_reason("rnn", MAX_SPECTRUM_WIDTH + 1)


def test_prediction_handles_overflow_and_empty():
    spec = Spectrum(step=0, eigenvalues=np.array([1e10 + 0j]))
    assert np.isinf(spec.predicted_grad_norm(np.ones(40))[0])
    assert Spectrum(step=0, eigenvalues=np.zeros(0, np.complex128)).radius == 0.0
