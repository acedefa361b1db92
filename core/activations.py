"""Activation functions and their derivatives.

`ACTIVATIONS` maps a name to an `Activation`: a module factory and the
closed-form derivative φ′(x) used for saturation and dead-unit statistics.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import torch
from torch import Tensor, nn

SELU_ALPHA = 1.6732632423543772
SELU_SCALE = 1.0507009873554805
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class ShiftedReLU(nn.Module):
    """relu(x) − shift: the fast.ai lesson's trick to re-centre ReLU outputs near zero."""

    def __init__(self, shift: float = 0.5):
        super().__init__()
        self.shift = shift

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x) - self.shift


@dataclass(frozen=True)
class Activation:
    """`make(slope)` builds the module; `derivative(x, slope)` is φ′(x), elementwise.

    `from_output(a, slope)`, where given, is the same φ′ written in terms of the
    output a = φ(x): cheaper, since it needs no transcendental function. Only the
    monotone activations have one, so it is never negative (it is |φ′|).
    """

    make: Callable[[float], nn.Module]
    derivative: Callable[[Tensor, float], Tensor]
    from_output: Callable[[Tensor, float], Tensor] | None = None


def _sigmoid_d(x: Tensor, _: float) -> Tensor:
    s = torch.sigmoid(x)
    return s * (1 - s)


def _tanh_d(x: Tensor, _: float) -> Tensor:
    return 1 - torch.tanh(x).square()


def _step(x: Tensor, _: float = 0.0) -> Tensor:
    return (x > 0).to(x.dtype)


def _leaky_d(x: Tensor, slope: float) -> Tensor:
    return (x > 0).to(x.dtype) * (1.0 - slope) + slope


def _elu_d(x: Tensor, _: float) -> Tensor:
    return torch.where(x > 0, torch.ones_like(x), torch.exp(torch.clamp(x, max=0)))


def _selu_d(x: Tensor, _: float) -> Tensor:
    return SELU_SCALE * torch.where(x > 0, torch.ones_like(x), SELU_ALPHA * torch.exp(torch.clamp(x, max=0)))


def _gelu_d(x: Tensor, _: float) -> Tensor:
    # d/dx [x Φ(x)] = Φ(x) + x φ(x)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2.0)))
    return cdf + x * _INV_SQRT_2PI * torch.exp(-0.5 * x.square())


def _silu_d(x: Tensor, _: float) -> Tensor:
    s = torch.sigmoid(x)
    return s * (1 + x * (1 - s))


def _softplus_d(x: Tensor, _: float) -> Tensor:
    return torch.sigmoid(x)


def _ones(x: Tensor, _: float) -> Tensor:
    return torch.ones_like(x)


def _one(a: Tensor) -> Tensor:
    return torch.ones((), dtype=a.dtype, device=a.device)


# the from_output formulas are single fused passes (a − a², 1 − a²): they run on every layer of every step
ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation(lambda s: nn.Sigmoid(), _sigmoid_d, lambda a, s: torch.addcmul(a, a, a, value=-1)),
    "tanh": Activation(lambda s: nn.Tanh(), _tanh_d, lambda a, s: torch.addcmul(_one(a), a, a, value=-1)),
    "relu": Activation(lambda s: nn.ReLU(), _step, _step),
    "leaky_relu": Activation(lambda s: nn.LeakyReLU(s), _leaky_d, _leaky_d),
    "elu": Activation(lambda s: nn.ELU(), _elu_d, lambda a, s: torch.where(a > 0, 1.0, a + 1)),
    "selu": Activation(lambda s: nn.SELU(), _selu_d,
                       lambda a, s: torch.where(a > 0, SELU_SCALE, a + SELU_SCALE * SELU_ALPHA)),
    "gelu": Activation(lambda s: nn.GELU(), _gelu_d),
    "silu": Activation(lambda s: nn.SiLU(), _silu_d),
    "softplus": Activation(lambda s: nn.Softplus(), _softplus_d, lambda a, s: -torch.expm1(-a)),
    "linear": Activation(lambda s: nn.Identity(), _ones, _ones),
    "shifted_relu": Activation(lambda s: ShiftedReLU(), _step, lambda a, s: (a > -0.5).to(a.dtype)),
}


@lru_cache(maxsize=None)
def max_abs_derivative(name: str, slope: float = 0.01) -> float:
    """sup |φ′| over a dense grid on [−30, 30] (the supremum is reached or approached there)."""
    x = torch.linspace(-30.0, 30.0, 600_001, dtype=torch.float64)
    return float(ACTIVATIONS[name].derivative(x, slope).abs().max())
