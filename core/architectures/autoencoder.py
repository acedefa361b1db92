"""`autoencoder`: a residual fully connected autoencoder trained to reproduce its input.

    h_1 = φ(norm(W_1 x + b_1))                 (encoder: the D input features → `width` units)
    h_l = h_{l−1} + φ(norm(W_l h_{l−1} + b_l))  for l = 2..depth (residual layers)
    x̂ = W_out h_depth + b_out                  (decoder: back to the D features)
    loss = mean over the batch and the features of (x̂ − x)²

It is the residual MLP (core.architectures.mlp.Network) with a readout of D outputs and the mean
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

import torch

from ..config import SimConfig
from ..inits import init_layers
from .base import NETWORK_FIELDS, TRAINING_FIELDS, Architecture
from .mlp import Network


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
    init_layers([*net.linears, net.readout], cfg, generator)
    return net


UNUSED_REASONS = {
    "forget_bias": "The forget bias is the LSTM's forget-gate bias; the autoencoder has no gates.",
    "norm_position": "norm_position places the transformer's LayerNorm; the autoencoder normalizes after "
                     "each Linear.",
    "heads": "Attention heads belong to the transformer; the autoencoder has no attention.",
    "pool_every": "Pooling is the CNN's; the autoencoder's layers are fully connected.",
    "seq_len": "seq_len is the transformer's sequence length; the autoencoder reads flat vectors.",
}
ARCHITECTURE = Architecture(name="autoencoder", noun="layer", uses=TRAINING_FIELDS | NETWORK_FIELDS,
                            build=build_autoencoder, reconstruct=True, unused_reasons=UNUSED_REASONS)
