"""Singular values of the network's hidden-to-hidden Jacobian (dynamical isometry).

J(x) = ∂h^L/∂h^1 at an input x: the map from the first hidden layer's output to the
last one's. It is square (width × width), unlike ∂h^L/∂x whose rank is at most the
input dimension (2 for the toy data sets, which would leave 2 singular values to
show). For an MLP J = D_L W_L ⋯ D_2 W_2 with D_l = diag φ′(z^l); a residual layer
contributes I + D_l W_l. It is built on the device as a running product of per-layer
Jacobians applied to a block of directions, which costs depth·width²·k for k
directions instead of autograd's per-output backward passes.

For width > `max_directions`, J is applied to k = max_directions random orthonormal
directions: the singular values are those of J restricted to a random k-dimensional
subspace. Their mean square is still an unbiased estimate of J's, but the spread is
narrower than J's own, and the result says so (`exact` = False).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
from torch import Tensor

from .activations import ACTIVATIONS
from .architectures import get_architecture
from .architectures.mlp import Network
from .config import ConfigError, SimConfig

MAX_DIRECTIONS = 512
# the architectures of `Network` (the autoencoder is a residual one), whose layers jacobian_blocks walks
FEED_FORWARD = ("mlp", "residual", "autoencoder")
# Why J is not the width × width product this module computes, for the other non-recurrent architectures.
NO_JACOBIAN = {
    "cnn": "a conv layer's output is a stack of feature maps (channels × positions, shrunk by pooling), "
           "not a vector of width units",
    "transformer": "a block's output holds every position (seq_len × width), mixed by attention, "
                   "not one vector of width units",
}
NO_JACOBIAN["residual_cnn"] = NO_JACOBIAN["cnn"]


@dataclass(frozen=True)
class JacobianSpectrum:
    """Singular values of the hidden-to-hidden Jacobian J pooled over `points` inputs, sorted
    descending, and their summary statistics."""

    singular_values: np.ndarray
    points: int
    directions: int
    exact: bool
    tol: float  # numerical zero: s_max·width·ε of the computing dtype (the matrix_rank convention)

    @property
    def mean_sq(self) -> float:
        """Mean squared singular value = ‖J‖_F² / width (the mean-field ∏χ for an exact J)."""
        return float(np.mean(self.singular_values**2))

    @property
    def rank_fraction(self) -> float:
        """Share of singular values above the numerical zero `tol` (ReLU's dead units lower it)."""
        return float(np.mean(self.singular_values > self.tol))

    @property
    def log_spread(self) -> float:
        """Standard deviation of ln s over the singular values above `tol`: 0 for an isometry up to scale."""
        s = self.singular_values[self.singular_values > self.tol]
        return float(np.std(np.log(s))) if len(s) else float("nan")

    def summary(self) -> dict:
        s = self.singular_values
        return {"points": self.points, "directions": self.directions, "exact": self.exact,
                "count": int(len(s)), "mean_sq": self.mean_sq, "rank_fraction": self.rank_fraction,
                "log_spread": self.log_spread, "max": float(s.max()), "min": float(s.min()),
                "median": float(np.median(s))}


def check_supported(cfg: SimConfig) -> None:
    """ConfigError naming the field unless the Jacobian spectrum can be computed for `cfg`."""
    if cfg.architecture not in FEED_FORWARD:
        if get_architecture(cfg.architecture).recurrent:
            other = f"; for '{cfg.architecture}' use the W_hh spectrum view ('rnn')"
        else:
            why = NO_JACOBIAN.get(cfg.architecture)
            other = f", not for '{cfg.architecture}'" + (f": {why}" if why else "")
        raise ConfigError("architecture", "the Jacobian spectrum is computed for 'mlp', 'residual' and "
                                          "'autoencoder'" + other)
    if cfg.depth < 2:
        raise ConfigError("depth", "the hidden-to-hidden Jacobian needs depth >= 2")
    if cfg.normalization != "none":
        raise ConfigError("normalization", "the Jacobian spectrum is computed for normalization 'none' only "
                                           "(batchnorm couples the examples of a batch)")


def jacobian_blocks(model: Network, cfg: SimConfig, x: Tensor, directions: Tensor,
                    cancelled: Callable[[], bool] | None = None) -> Tensor:
    """J(x_p) @ directions for each input x_p: [P, width, k]. `directions` is [width, k]."""
    deriv = ACTIVATIONS[cfg.activation].derivative
    with torch.no_grad():
        h = model.act(model.linears[0](x))                                  # h^1: [P, width]
        m = directions.expand(x.shape[0], *directions.shape).clone()       # [P, width, k]
        for layer in range(1, cfg.depth):
            if cancelled is not None and cancelled():
                raise InterruptedError("cancelled")
            z = model.linears[layer](h)
            a = model.act(z)
            h = h + a if model.residual else a
            step = deriv(z, cfg.leaky_slope).unsqueeze(2) * torch.matmul(model.linears[layer].weight, m)
            m = m + step if model.residual else step
        return m


def spectrum(model: Network, cfg: SimConfig, x: Tensor, max_directions: int = MAX_DIRECTIONS,
             seed: int = 0, cancelled: Callable[[], bool] | None = None) -> JacobianSpectrum:
    """Singular values of J at the inputs `x` [P, input_dim] (see the module docstring)."""
    check_supported(cfg)
    width = cfg.width
    p = next(model.parameters())
    if width <= max_directions:
        q = torch.eye(width, dtype=p.dtype, device=p.device)
    else:
        g = torch.Generator().manual_seed(seed)
        q, _ = torch.linalg.qr(torch.randn(width, max_directions, generator=g, dtype=torch.float64))
        q = q.to(dtype=p.dtype, device=p.device)
    m = jacobian_blocks(model, cfg, x.to(p.device, p.dtype), q, cancelled)
    s = torch.linalg.svdvals(m.double()).reshape(-1).cpu().numpy()
    tol = float(s.max()) * width * torch.finfo(p.dtype).eps if len(s) else 0.0
    return JacobianSpectrum(np.sort(s)[::-1].copy(), int(x.shape[0]), int(q.shape[1]), width <= max_directions, tol)


def simulator_spectrum(sim, points: int = 4, max_directions: int = MAX_DIRECTIONS,
                       cancelled: Callable[[], bool] | None = None) -> JacobianSpectrum:
    """The spectrum of a Simulator's current network at the first `points` examples of its probe batch."""
    x = sim.probe_inputs()[:points]
    return spectrum(sim.model, sim.config, x, max_directions, sim.config.seed, cancelled)
