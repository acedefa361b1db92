"""Convolutional networks on images: `cnn` (plain) and `residual_cnn` (with identity skips).

`depth` conv layers of `width` channels, 3×3 kernels, stride 1, padding 1 (the map keeps its
size), each conv → [normalization] → activation; a 2×2 max pooling after every
`pool_every`-th layer (0: never) while the map is at least 2×2; then a global average
pooling over the positions and a Linear readout to the classes:

    z_l = conv_l(h_{l−1}),  u_l = norm(z_l),  a_l = φ(u_l)
    cnn:           h_l = a_l
    residual_cnn:  h_l = h_{l−1} + a_l for l ≥ 2 (layer 1 maps the input's channels to `width`)
    then h_l ← maxpool₂ₓ₂(h_l) when l is a multiple of pool_every

Normalization: 'batchnorm' is BatchNorm2d (per channel over the batch and every position);
'layernorm' is GroupNorm(1, width): each example normalized over all its channels and
positions together, with a gain and shift per channel, so it needs no batch statistics.

Every kernel gets the configured init scheme with torch's fans for a convolution,
fan_in = C_in·3·3 and fan_out = C_out·3·3. Per-layer statistics are over every value of
the layer's feature maps [batch, channels, H, W]. The layer input h is not traced: a
conv's per-example weight gradient is a sum over positions, not the rank-one product the
gradient-noise statistic (core.noise) relies on, so grad_noise is not defined (NaN).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from ..activations import ACTIVATIONS
from ..config import IMAGE_DATASETS, SimConfig
from ..inits import init_layers
from ..trace import Trace
from .base import NETWORK_FIELDS, TRAINING_FIELDS, Architecture
from .layers import OneWeightPerLayer, UninitializedLinear

KERNEL = 3


class UninitializedConv2d(nn.Conv2d):
    """nn.Conv2d without torch's default initialization (the builder draws every weight)."""

    def reset_parameters(self) -> None:
        pass


def conv_norm(cfg: SimConfig) -> nn.Module:
    """BatchNorm2d, GroupNorm(1, C) (a per-example layer norm over channels and positions), or nothing."""
    if cfg.normalization == "batchnorm":
        return nn.BatchNorm2d(cfg.width)
    if cfg.normalization == "layernorm":
        return nn.GroupNorm(1, cfg.width)
    return nn.Identity()


def pooled_after(cfg: SimConfig, side: int) -> list[bool]:
    """For each conv layer, whether a 2×2 max pooling follows it (every pool_every-th layer
    while the map is at least 2×2; `side` is the input's smaller side)."""
    out = []
    for layer in range(1, cfg.depth + 1):
        pool = cfg.pool_every > 0 and layer % cfg.pool_every == 0 and side >= 2
        side = side // 2 if pool else side
        out.append(pool)
    return out


class ConvNetwork(OneWeightPerLayer, nn.Module):
    """A plain or residual CNN on [batch, C, H, W] images (see the module docstring)."""

    def __init__(self, cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        channels, height, width = input_shape
        self.residual = cfg.architecture == "residual_cnn"
        self.has_norm = cfg.normalization != "none"
        ins = [channels] + [cfg.width] * (cfg.depth - 1)
        self.convs = nn.ModuleList(UninitializedConv2d(c, cfg.width, KERNEL, padding=KERNEL // 2) for c in ins)
        self.norms = nn.ModuleList(conv_norm(cfg) for _ in range(cfg.depth))
        self.act = ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)
        self.pool_after = pooled_after(cfg, min(height, width))
        self.readout = UninitializedLinear(cfg.width, n_classes)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        h = x                                                    # [B, C, H, W]
        for i, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            z = conv(h)                                          # [B, width, H, W]
            u = norm(z) if self.has_norm else z
            a = self.act(u)
            if trace is not None:
                trace.record(z, u, a)
            h = h + a if self.residual and i > 0 else a
            if self.pool_after[i]:
                h = nn.functional.max_pool2d(h, 2)
        return self.readout(h.mean((2, 3)))                      # global average pooling → [B, classes]

    def hidden_weights(self) -> list[Tensor]:
        return [conv.weight for conv in self.convs]


def build_cnn(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int, generator: torch.Generator) -> ConvNetwork:
    """A ConvNetwork on the CPU, every kernel and the readout initialized by the scheme in `cfg`."""
    net = ConvNetwork(cfg, input_shape, n_classes)
    init_layers([*net.convs, net.readout], cfg, generator)
    return net


# input_dim sizes the generated flat data sets; the image sets have their own size.
USES = (TRAINING_FIELDS - {"input_dim"}) | NETWORK_FIELDS | {"pool_every"}
UNUSED_REASONS = {
    "input_dim": "A CNN takes the image data set's own size (digits 1×8×8, stripes 1×16×16); "
                 "input_dim sizes the flat 'gaussian' data set.",
    "forget_bias": "The forget bias is the LSTM's forget-gate bias; a CNN has no gates.",
    "norm_position": "norm_position places the transformer's LayerNorm; a CNN normalizes after each conv.",
    "heads": "Attention heads belong to the transformer; a CNN has no attention.",
    "seq_len": "seq_len is the transformer's sequence length; a CNN takes images.",
}

ARCHITECTURE = Architecture(name="cnn", noun="conv layer", uses=USES, build=build_cnn, datasets=IMAGE_DATASETS,
                            unused_reasons=UNUSED_REASONS)
RESIDUAL_ARCHITECTURE = Architecture(name="residual_cnn", noun="conv layer", uses=USES, build=build_cnn,
                                     datasets=IMAGE_DATASETS, unused_reasons=UNUSED_REASONS)
