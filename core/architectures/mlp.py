"""Feed-forward networks: `depth` hidden layers of Linear → [normalization] → activation, then a
readout; 'mlp' plain, 'residual' with a skip around every layer after the first."""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..activations import ACTIVATIONS
from ..config import SimConfig
from ..inits import init_layers
from ..trace import Trace
from .base import NETWORK_FIELDS, TRAINING_FIELDS, Architecture
from .layers import OneWeightPerLayer, UninitializedLinear


def _norm(cfg: SimConfig) -> nn.Module:
    if cfg.normalization == "batchnorm":
        return nn.BatchNorm1d(cfg.width)
    if cfg.normalization == "layernorm":
        return nn.LayerNorm(cfg.width)
    return nn.Identity()


class Network(OneWeightPerLayer, nn.Module):
    """MLP or residual MLP. Residual layers 2..depth compute h ← h + φ(norm(W h + b));
    layer 1 projects the input to `width` without a skip."""

    def __init__(self, cfg: SimConfig, input_dim: int, n_classes: int):
        super().__init__()
        self.residual = cfg.architecture == "residual"
        self.has_norm = cfg.normalization != "none"
        dims = [input_dim] + [cfg.width] * cfg.depth
        self.linears = nn.ModuleList(UninitializedLinear(dims[i], dims[i + 1]) for i in range(cfg.depth))
        self.norms = nn.ModuleList(_norm(cfg) for _ in range(cfg.depth))
        self.act = ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)
        self.readout = UninitializedLinear(cfg.width, n_classes)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        h = x
        for i, (linear, norm) in enumerate(zip(self.linears, self.norms)):
            z = linear(h)
            u = norm(z) if self.has_norm else z
            a = self.act(u)
            if trace is not None:
                trace.record(z, u, a, h)
            h = h + a if self.residual and i > 0 else a
        return self.readout(h)

    def hidden_weights(self) -> list[Tensor]:
        return [lin.weight for lin in self.linears]


def build_mlp(cfg: SimConfig, input_dim: int, n_classes: int, generator: torch.Generator) -> Network:
    """A feed-forward (mlp or residual) Network on the CPU with every Linear initialized by the scheme in `cfg`."""
    net = Network(cfg, input_dim, n_classes)
    init_layers([*net.linears, net.readout], cfg, generator)
    return net


def _build(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int, generator: torch.Generator) -> Network:
    (input_dim,) = input_shape  # a flat feature vector per example
    return build_mlp(cfg, input_dim, n_classes, generator)


_NO_FORGET_GATE = {"forget_bias": "The forget bias is the LSTM's forget-gate bias; a feed-forward network has no gates."}
MLP = Architecture("mlp", "layer", TRAINING_FIELDS | NETWORK_FIELDS, _build, unused_reasons=_NO_FORGET_GATE)
RESIDUAL = Architecture("residual", "layer", TRAINING_FIELDS | NETWORK_FIELDS, _build, unused_reasons=_NO_FORGET_GATE)
