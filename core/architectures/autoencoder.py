"""`autoencoder`: a residual fully connected autoencoder trained to reproduce its input.

    h_1 = φ(norm(W_1 x + b_1))                 (encoder: the D input features → `width` units)
    h_l = h_{l−1} + φ(norm(W_l h_{l−1} + b_l))  for l = 2..depth (residual layers)
    x̂ = W_out h_depth + b_out                  (decoder: back to the D features)
    loss = mean over the batch and the features of (x̂ − x)²

It is the residual MLP (core.model.Network) with a readout of D outputs and the mean
squared error against the input batch in place of cross-entropy, so every probe point,
statistic and init is the residual MLP's; grad_noise is defined (each layer is one Linear).
The code between encoder and decoder has `width` units: with width < D the network has to
compress. Accuracy does not apply (NaN). Takes any data set of flat vectors (images
flattened); the labels are not used.

With skips, ∂x̂/∂h_1 = I + Σ_l (terms through each residual branch), a sum of one term
per layer, which is why a deep residual autoencoder's gradient is large and its training
noisy with small batches (the noisy-gradient reference note).
"""
from __future__ import annotations

from dataclasses import fields

import torch

from ..config import SimConfig
from ..inits import INITS, init_bias
from ..model import Network
from .base import Architecture


class ResidualAutoencoder(Network):
    """The residual Network with a D-output readout (x̂, the reconstruction of x [batch, D])."""

    def __init__(self, cfg: SimConfig, input_dim: int):
        super().__init__(cfg, input_dim, input_dim)
        self.residual = True


def build_autoencoder(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int,
                      generator: torch.Generator) -> ResidualAutoencoder:
    """A ResidualAutoencoder for inputs of `input_shape` (flattened; n_classes is not used) on the CPU,
    every Linear initialized by the scheme in `cfg`."""
    net = ResidualAutoencoder(cfg, int(torch.Size(input_shape).numel()))
    init = INITS[cfg.init]
    with torch.no_grad():
        for lin in [*net.linears, net.readout]:
            init(lin.weight, cfg, generator)
            init_bias(lin.bias, cfg, generator)
    return net


_UNUSED = {"forget_bias", "norm_position", "heads", "pool_every", "seq_len"}
ARCHITECTURE = Architecture(name="autoencoder", noun="layer", uses=frozenset(f.name for f in fields(SimConfig)) - _UNUSED,
                            build=build_autoencoder, reconstruct=True)
