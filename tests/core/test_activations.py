import math

import pytest
import torch

from core.activations import ACTIVATIONS, SELU_ALPHA, SELU_SCALE, max_abs_derivative
from core.config import ACTIVATION_NAMES


def test_registry_covers_contract():
    assert tuple(ACTIVATIONS) == ACTIVATION_NAMES


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_derivative_matches_autograd(name):
    act = ACTIVATIONS[name]
    x = torch.linspace(-8, 8, 2001, dtype=torch.float64)
    x = x[x.abs() > 1e-6].requires_grad_(True)  # the ReLU family has a kink at 0
    module = act.make(0.2).double()
    (grad,) = torch.autograd.grad(module(x).sum(), x)
    torch.testing.assert_close(act.derivative(x.detach(), 0.2), grad, rtol=1e-9, atol=1e-12)
    if act.from_output is not None:
        a = module(x).detach()
        torch.testing.assert_close(act.from_output(a, 0.2), grad, rtol=1e-7, atol=1e-10)


def test_shifted_relu_is_relu_minus_half():
    x = torch.tensor([-2.0, 0.0, 3.0])
    assert ACTIVATIONS["shifted_relu"].make(0.01)(x).tolist() == [-0.5, -0.5, 2.5]


@pytest.mark.parametrize("name,expected", [
    ("sigmoid", 0.25), ("tanh", 1.0), ("relu", 1.0), ("linear", 1.0), ("softplus", 1.0),
    ("selu", SELU_SCALE * SELU_ALPHA),
    # GELU: φ′ peaks where φ″ = 0, i.e. x = √2: Φ(√2) + √2 φ(√2)
    ("gelu", 0.5 * (1 + math.erf(1.0)) + math.sqrt(2) * math.exp(-1.0) / math.sqrt(2 * math.pi)),
])
def test_max_abs_derivative(name, expected):
    assert max_abs_derivative(name) == pytest.approx(expected, rel=1e-6)
