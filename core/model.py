"""The network: `depth` hidden layers of Linear → [normalization] → activation, then a readout."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from .activations import ACTIVATIONS
from .config import RECURRENT_ARCHITECTURES, SimConfig
from .inits import INITS, init_bias


@dataclass
class Trace:
    """Per-hidden-layer tensors kept by an instrumented forward pass.

    z: linear outputs (before normalization), u: activation inputs (after
    normalization; the same tensors as z without one), a: activation outputs,
    h: each layer's input (x for layer 1; [batch, input_dim]). Each is a list of
    `depth` tensors of shape [batch, width]. The recurrent cells (RecurrentCell)
    keep one entry per time step, with h the step's input [h_{t−1} | x_t].
    """

    z: list[Tensor] = field(default_factory=list)
    u: list[Tensor] = field(default_factory=list)
    a: list[Tensor] = field(default_factory=list)
    h: list[Tensor] = field(default_factory=list)


def _norm(cfg: SimConfig) -> nn.Module:
    if cfg.normalization == "batchnorm":
        return nn.BatchNorm1d(cfg.width)
    if cfg.normalization == "layernorm":
        return nn.LayerNorm(cfg.width)
    return nn.Identity()


class UninitializedLinear(nn.Linear):
    """nn.Linear without torch's default initialization: the builders initialize every weight
    and bias with the configured scheme, and drawing the default first cost as much again."""

    def reset_parameters(self) -> None:
        pass


class Network(nn.Module):
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
                z.retain_grad()
                trace.z.append(z)
                trace.u.append(u)
                trace.a.append(a)
                trace.h.append(h)
            h = h + a if self.residual and i > 0 else a
        return self.readout(h)

    def hidden_weights(self) -> list[Tensor]:
        return [lin.weight for lin in self.linears]

    def per_layer(self, per_weight: np.ndarray) -> np.ndarray:
        """Per-layer values from the norms of hidden_weights(): one matrix per layer."""
        return per_weight

    def layer_weight_grad_norms(self, trace: Trace, by_id: dict[int, float]) -> np.ndarray:
        """‖∂loss/∂W_l‖ per hidden layer, from the parameters' gradient norms by id."""
        return np.array([by_id.get(id(w), 0.0) for w in self.hidden_weights()])


# --- TEMPORARY hook (replaced by core.architectures' registry at merge) ---------------------------
_PLUGINS = {"cnn": ("cnn", "ARCHITECTURE"), "residual_cnn": ("cnn", "RESIDUAL_ARCHITECTURE"),
            "transformer": ("transformer", "ARCHITECTURE"), "autoencoder": ("autoencoder", "ARCHITECTURE")}


def plugin_architecture(name: str):
    """TEMPORARY: the Architecture of cnn, residual_cnn, transformer or autoencoder, else None."""
    if name not in _PLUGINS:
        return None
    import importlib
    module, attr = _PLUGINS[name]
    return getattr(importlib.import_module(f".architectures.{module}", __package__), attr)
# --- end of the TEMPORARY hook ---------------------------------------------------------------------


def build_network(cfg: SimConfig, input_dim: int, n_classes: int, generator: torch.Generator,
                  input_shape: tuple[int, ...] | None = None) -> nn.Module:
    """The network `cfg` describes, initialized, on the CPU: `build_mlp` for mlp and residual,
    core.recurrent.build_recurrent for rnn and lstm."""
    plugin = plugin_architecture(cfg.architecture)  # TEMPORARY hook (see above)
    if plugin is not None:
        return plugin.build(cfg, tuple(input_shape) if input_shape else (input_dim,), n_classes, generator)
    if cfg.architecture in RECURRENT_ARCHITECTURES:
        from .recurrent import build_recurrent  # core.recurrent builds on this module's Trace
        return build_recurrent(cfg, input_dim, n_classes, generator)
    return build_mlp(cfg, input_dim, n_classes, generator)


def build_mlp(cfg: SimConfig, input_dim: int, n_classes: int, generator: torch.Generator) -> Network:
    """A feed-forward (mlp or residual) Network on the CPU with every Linear initialized by the scheme in `cfg`."""
    net = Network(cfg, input_dim, n_classes)
    init = INITS[cfg.init]
    with torch.no_grad():
        for lin in [*net.linears, net.readout]:
            init(lin.weight, cfg, generator)
            init_bias(lin.bias, cfg, generator)
    return net
