"""`transformer`: a stack of `depth` encoder blocks (self-attention, then an MLP) on token sequences.

x [batch, T, features] is embedded, e = x·W_eᵀ + b_e + P (P the fixed sinusoidal position code
of Vaswani et al. 2017), to the model width D = `width`; then each block, with `heads` heads of
D/heads dimensions and an MLP of 4·D hidden units:

    pre  (norm_position 'pre'):   x ← x + Attn(LN₁(x)),   x ← x + MLP(LN₂(x))
    post (norm_position 'post'):  x ← LN₁(x + Attn(x)),   x ← LN₂(x + MLP(x))
    MLP(y) = W₂ φ(z) + b₂,  z = W₁ y + b₁ (the block's probe point)

and the readout averages the positions, passing first through a final LayerNorm for
Pre-LN (as in Xiong et al. 2020), then a Linear to the classes. The normalization is always
LayerNorm (`normalization` is not read); `norm_position` chooses where it sits.

Probe points (one per block): z, the MLP's pre-activation [batch, T, 4·D], and a = φ(z), the
only place the configured activation acts (softmax is attention's own nonlinearity). The
block's weight W is its six matrices W_q, W_k, W_v, W_o, W₁, W₂ together: its norm and its
gradient's norm are the root of their summed squares. Every matrix (embedding and readout
included) gets the configured init scheme, biases N(0, bias_std²), LayerNorm gain 1 and
shift 0. The layer input is not traced: the gradient-noise statistic (core.noise) needs the
rank-one per-example gradients of a single Linear layer, so grad_noise is NaN.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import ACTIVATIONS
from ..config import SEQUENCE_DATASETS, SimConfig
from ..inits import init_layers
from ..trace import Trace
from .base import NETWORK_FIELDS, TRAINING_FIELDS, Architecture
from .layers import UninitializedLinear

MLP_RATIO = 4  # the MLP's hidden width over the model width, as in Vaswani et al. 2017


def sinusoidal_positions(steps: int, dim: int) -> Tensor:
    """P[t, 2i] = sin(t / 10000^(2i/dim)), P[t, 2i+1] = cos(t / 10000^(2i/dim)); [steps, dim]."""
    t = torch.arange(steps, dtype=torch.float64).unsqueeze(1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, dim, 2, dtype=torch.float64) / dim)
    p = torch.zeros(steps, dim, dtype=torch.float64)
    p[:, 0::2] = torch.sin(t * freq)
    p[:, 1::2] = torch.cos(t * freq)[:, : dim // 2]
    return p.float()


class EncoderBlock(nn.Module):
    """Multi-head self-attention and an MLP, each with a residual path and a LayerNorm
    before it ('pre') or after the sum ('post')."""

    def __init__(self, cfg: SimConfig):
        super().__init__()
        d = cfg.width
        self.heads, self.pre = cfg.heads, cfg.norm_position == "pre"
        self.q, self.k, self.v, self.o = (UninitializedLinear(d, d) for _ in range(4))
        self.w1 = UninitializedLinear(d, MLP_RATIO * d)
        self.w2 = UninitializedLinear(MLP_RATIO * d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.act = ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)

    def attention(self, y: Tensor) -> Tensor:
        B, T, D = y.shape
        split = lambda t: t.view(B, T, self.heads, D // self.heads).transpose(1, 2)  # noqa: E731 - [B, H, T, D/H]
        out = F.scaled_dot_product_attention(split(self.q(y)), split(self.k(y)), split(self.v(y)))
        return self.o(out.transpose(1, 2).reshape(B, T, D))

    def mlp(self, y: Tensor, trace: Trace | None) -> Tensor:
        z = self.w1(y)                                      # [B, T, 4·D]
        a = self.act(z)
        if trace is not None:
            trace.record(z, z, a)
        return self.w2(a)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        if self.pre:
            x = x + self.attention(self.ln1(x))
            return x + self.mlp(self.ln2(x), trace)
        x = self.ln1(x + self.attention(x))
        return self.ln2(x + self.mlp(x, trace))

    def matrices(self) -> list[Tensor]:
        return [self.q.weight, self.k.weight, self.v.weight, self.o.weight, self.w1.weight, self.w2.weight]


class TransformerNetwork(nn.Module):
    """Embedding + position code, `depth` EncoderBlocks, mean over positions, [final LN], readout."""

    def __init__(self, cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int):
        super().__init__()
        steps, features = input_shape
        self.has_norm = False  # the probe point's activation input is z itself (the LayerNorms come before W₁)
        self.embed = UninitializedLinear(features, cfg.width)
        self.register_buffer("positions", sinusoidal_positions(steps, cfg.width), persistent=False)
        self.blocks = nn.ModuleList(EncoderBlock(cfg) for _ in range(cfg.depth))
        self.final_norm = nn.LayerNorm(cfg.width) if cfg.norm_position == "pre" else nn.Identity()
        self.readout = UninitializedLinear(cfg.width, n_classes)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        h = self.embed(x) + self.positions                  # [B, T, D]
        for block in self.blocks:
            h = block(h, trace)
        return self.readout(self.final_norm(h).mean(1))     # [B, classes]

    def hidden_weights(self) -> list[Tensor]:
        """Each block's six matrices, block by block."""
        return [w for block in self.blocks for w in block.matrices()]

    def per_layer(self, per_weight: np.ndarray) -> np.ndarray:
        """Per-block values from per-matrix norms: √(Σ of the block's six squared norms)."""
        return np.sqrt(np.square(np.asarray(per_weight)).reshape(len(self.blocks), -1).sum(1))

    def layer_weight_grad_norms(self, trace: Trace, by_id: dict[int, float]) -> np.ndarray:
        """‖∂loss/∂W‖ per block over its six matrices, from the parameters' gradient norms by id."""
        return self.per_layer(np.array([by_id.get(id(w), 0.0) for w in self.hidden_weights()]))

    def abs_derivative(self, trace: Trace) -> None:
        """Every probe point's nonlinearity is the configured activation."""
        return None


def build_transformer(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int,
                      generator: torch.Generator) -> TransformerNetwork:
    """A TransformerNetwork on the CPU with every Linear initialized by the scheme in `cfg`."""
    net = TransformerNetwork(cfg, input_shape, n_classes)
    init_layers([net.embed] + [lin for b in net.blocks for lin in (b.q, b.k, b.v, b.o, b.w1, b.w2)] + [net.readout],
                cfg, generator)
    return net


# Its LayerNorms are fixed (norm_position places them); the sequence sets have their own features per step.
USES = (TRAINING_FIELDS - {"input_dim"}) | (NETWORK_FIELDS - {"normalization"}) | {"norm_position", "heads", "seq_len"}
UNUSED_REASONS = {
    "normalization": "The transformer always normalizes with LayerNorm; norm_position chooses where it sits.",
    "input_dim": "The transformer reads the sequence data set's own features per step (8 one-hot symbols, "
                 "2 for 'adding'); input_dim sizes the flat 'gaussian' data set.",
    "forget_bias": "The forget bias is the LSTM's forget-gate bias; the transformer has no gates.",
    "pool_every": "Pooling is the CNN's; the transformer keeps every position.",
}
ARCHITECTURE = Architecture(name="transformer", noun="block", uses=USES, build=build_transformer,
                            datasets=SEQUENCE_DATASETS, unused_reasons=UNUSED_REASONS)
