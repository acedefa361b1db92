"""Recurrent networks unrolled over `depth` time steps: a vanilla Elman cell ('rnn') and an LSTM ('lstm').

Each time step plays the part of a layer: the statistics of step t are those of
the pre-activation z_t, the hidden state h_t and ∂loss/∂z_t, so every per-layer
plot and export works unchanged. The weights are written out explicitly so that
the configured init scheme reaches every matrix, the recurrent W_hh included.

rnn:   z_t = W_hh h_{t−1} + W_xh x_t + b,  h_t = φ(norm(z_t)),  h_0 = 0
lstm:  z_t = W_hh h_{t−1} + W_xh x_t + b = [i; f; g; o] pre-activations (4·width, torch's order),
       i, f, o = σ(·) (gates),  g = φ(·) (candidate),
       c_t = f ⊙ c_{t−1} + i ⊙ g,  h_t = o ⊙ φ(c_t)
φ is the configured activation (tanh, the textbook choice, by default); the gates
always use the sigmoid, which is what makes them gates. The readout reads h_T.

A sequence input x is [batch, T, features]. A plain vector input [batch, features]
(the 2-D data sets) is presented at the first step only, with no input afterwards:
the unrolled network is then exactly a depth-T MLP whose layers share one weight
matrix, and the label must be carried through all T steps.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..activations import ACTIVATIONS, max_abs_derivative
from ..config import SimConfig
from ..inits import INITS, init_bias
from ..trace import Trace
from .base import NETWORK_FIELDS, TRAINING_FIELDS, Architecture
from .layers import UninitializedLinear

GATES = {"rnn": 1, "lstm": 4}
_SIGMOID_MAX_DERIV = 0.25


class GateLayerNorm(nn.Module):
    """LayerNorm over each gate's `width` units separately, with a gain and shift per unit.

    With one gate it is nn.LayerNorm(width). Normalizing per example, it needs no
    batch statistics and behaves the same at every time step (Ba et al. 2016).
    """

    def __init__(self, gates: int, width: int):
        super().__init__()
        self.gates, self.width = gates, width
        self.weight = nn.Parameter(torch.ones(gates * width))
        self.bias = nn.Parameter(torch.zeros(gates * width))

    def forward(self, z: Tensor) -> Tensor:
        u = F.layer_norm(z.view(-1, self.gates, self.width), (self.width,))
        return torch.addcmul(self.bias, u.view(z.shape), self.weight)


class RecurrentCell(nn.Module):
    """An Elman RNN or an LSTM unrolled over cfg.depth steps, then a Linear readout of h_T
    (the model alone: an exported script copies this class)."""

    def __init__(self, cfg: SimConfig, input_dim: int, n_classes: int):
        super().__init__()
        self.kind = cfg.architecture
        self.steps = cfg.depth
        self.width = width = cfg.width
        self.gates = gates = GATES[cfg.architecture]
        self.has_norm = cfg.normalization == "layernorm"
        self.w_hh = nn.Parameter(torch.empty(gates * width, width))      # [G·W, W]
        self.w_xh = nn.Parameter(torch.empty(gates * width, input_dim))  # [G·W, D]
        self.bias = nn.Parameter(torch.empty(gates * width))
        self.norm = GateLayerNorm(gates, width) if self.has_norm else nn.Identity()
        self.act = ACTIVATIONS[cfg.activation].make(cfg.leaky_slope)
        self.readout = UninitializedLinear(width, n_classes)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        B = x.shape[0]
        h = x.new_zeros(B, self.width)
        c = x.new_zeros(B, self.width) if self.gates == 4 else None
        if x.dim() == 3:
            inputs = F.linear(x, self.w_xh, self.bias).unbind(1)   # T × [B, G·W], one matmul for all steps
        else:
            inputs = (F.linear(x, self.w_xh, self.bias),)
        no_input = x.new_zeros(B, x.shape[-1])
        for t in range(self.steps):
            h_prev = h
            drive = inputs[t] if t < len(inputs) else self.bias
            z = torch.addmm(drive, h, self.w_hh.t()) if t > 0 else drive.expand(B, -1)
            u = self.norm(z) if self.has_norm else z
            if c is None:
                h = self.act(u)
            else:
                i, f, g, o = u.chunk(4, dim=1)
                c = torch.sigmoid(f) * c + torch.sigmoid(i) * self.act(g)
                h = torch.sigmoid(o) * self.act(c)
            if trace is not None:  # the step's input [h_{t−1} | x_t], for its weight gradient
                x_t = (x[:, t] if x.dim() == 3 else x) if t < len(inputs) else no_input
                trace.record(z, u, h, torch.cat([h_prev.detach(), x_t], dim=1))
        return self.readout(h)


class RecurrentNetwork(RecurrentCell):
    """A RecurrentCell with what the Simulator measures of it."""

    def __init__(self, cfg: SimConfig, input_dim: int, n_classes: int):
        super().__init__(cfg, input_dim, n_classes)
        self._activation, self._slope = ACTIVATIONS[cfg.activation], cfg.leaky_slope
        self._max_deriv = max_abs_derivative(cfg.activation, cfg.leaky_slope)

    # --- what the Simulator reports per step ---------------------------------------
    def hidden_weights(self) -> list[Tensor]:
        """The cell's weight matrices, shared by every step: [W_hh, W_xh]."""
        return [self.w_hh, self.w_xh]

    def per_layer(self, per_weight: np.ndarray) -> np.ndarray:
        """Per-step values from per-matrix norms: the norm of the whole cell matrix
        [W_hh | W_xh] (the root of the summed squares), the same at every step."""
        return np.full(self.steps, float(np.sqrt(np.sum(np.square(per_weight)))))

    def layer_weight_grad_norms(self, trace: Trace, by_id: dict[int, float]) -> np.ndarray:
        """‖∂loss/∂W⁽ᵗ⁾‖ per step t: the gradient of the copy of [W_hh | W_xh] used at step t.

        Back-propagation through time sums these per-step terms into the shared
        gradient; each is δ_tᵀ [h_{t−1} | x_t] with δ_t = ∂loss/∂z_t, so a step the
        gradient no longer reaches contributes nothing to learning.
        """
        deltas = torch.stack([_grad_or_zero(z) for z in trace.z])  # [T, B, G·W]
        inputs = torch.stack(trace.h)                               # [T, B, W + D]
        return _outer_norm_sq(deltas, inputs).sqrt().double().cpu().numpy()

    def abs_derivative(self, trace: Trace) -> Tensor | None:
        """|φ′| at every unit's nonlinearity input, stacked [T, B, 4·W], for saturation; None for
        the Elman cell, whose one nonlinearity is the configured activation.

        For the LSTM, the sigmoid gates' derivative is rescaled so that its maximum
        equals the configured activation's: saturation then means the same thing,
        "below 5 % of the largest slope", for gates and candidate alike.
        """
        if self.gates == 1:
            return None
        u = torch.stack([t.detach() for t in trace.u])
        i, f, g, o = u.chunk(4, dim=2)
        scale = self._max_deriv / _SIGMOID_MAX_DERIV
        gate = lambda v: torch.sigmoid(v).mul_(torch.sigmoid(-v)).mul_(scale)  # noqa: E731 - σ′ = σ(v)·σ(−v)
        return torch.cat([gate(i), gate(f), self._activation.derivative(g, self._slope).abs_(), gate(o)], dim=2)


def width_slice(width: int, gate: int) -> slice:
    """Rows of gate number `gate` (0 i, 1 f, 2 g, 3 o) in the stacked LSTM matrices."""
    return slice(gate * width, (gate + 1) * width)


def _grad_or_zero(z: Tensor) -> Tensor:
    return z.grad if z.grad is not None else torch.zeros_like(z)


def _outer_norm_sq(d: Tensor, h: Tensor, max_elements: int = 1 << 24) -> Tensor:
    """‖d_tᵀ h_t‖²_F for each t, from d [T, B, P] and h [T, B, Q] → [T].

    Either directly (T·B·P·Q) or through the batch Gram matrices,
    ‖dᵀh‖² = Σ_{b,b'} (d dᵀ)_{bb'} (h hᵀ)_{bb'} (T·B²·(P+Q)), whichever is cheaper;
    a few steps at a time, so the products never hold more than `max_elements` values.
    """
    T, B, P = d.shape
    Q = h.shape[2]
    gram = B * (P + Q) < P * Q
    chunk = max(1, max_elements // (2 * B * B if gram else P * Q))
    out = []
    for s in range(0, T, chunk):
        dc, hc = d[s:s + chunk], h[s:s + chunk]
        if gram:
            out.append((torch.bmm(dc, dc.transpose(1, 2)) * torch.bmm(hc, hc.transpose(1, 2))).sum((1, 2)))
        else:
            out.append(torch.bmm(dc.transpose(1, 2), hc).square().sum((1, 2)))
    return torch.cat(out)


def build_recurrent(cfg: SimConfig, input_dim: int, n_classes: int, generator: torch.Generator) -> RecurrentNetwork:
    """A RecurrentNetwork on the CPU, initialized by `init_recurrent`."""
    return init_recurrent(RecurrentNetwork(cfg, input_dim, n_classes), cfg, generator)


def init_recurrent(net: RecurrentCell, cfg: SimConfig, generator: torch.Generator) -> RecurrentCell:
    """Initialize `net` in place and return it. Every weight matrix gets the configured init scheme:
    for the LSTM each gate's [W, W] and [W, D] block separately (each gate is its own
    linear map, so its fans are width and input_dim, not 4·width); biases ~ N(0, bias_std²),
    plus forget_bias on the LSTM's forget gate (Gers et al. 2000: with f = σ(0) = 1/2 the cell
    state, and the gradient along it, would halve at every step)."""
    init = INITS[cfg.init]
    with torch.no_grad():
        for matrix in (net.w_hh, net.w_xh):
            for block in matrix.chunk(net.gates, dim=0):
                fill = torch.empty_like(block)
                init(fill, cfg, generator)
                block.copy_(fill)
        init_bias(net.bias, cfg, generator)
        if net.gates == 4:
            net.bias[width_slice(net.width, gate=1)] += cfg.forget_bias
        init(net.readout.weight, cfg, generator)
        init_bias(net.readout.bias, cfg, generator)
    return net


def _build(cfg: SimConfig, input_shape: tuple[int, ...], n_classes: int,
           generator: torch.Generator) -> RecurrentNetwork:
    # one example is [T, features] (a sequence) or [features] (presented at the first step)
    return build_recurrent(cfg, input_shape[-1], n_classes, generator)


RNN = Architecture("rnn", "time step", TRAINING_FIELDS | NETWORK_FIELDS, _build, recurrent=True, unused_reasons={
    "forget_bias": "The forget bias is the LSTM's forget-gate bias; the Elman cell ('rnn') has no gates."})
LSTM = Architecture("lstm", "time step", TRAINING_FIELDS | NETWORK_FIELDS | {"forget_bias"}, _build, recurrent=True)
