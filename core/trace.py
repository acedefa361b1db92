"""What an instrumented forward pass keeps (`Trace`) and what the Simulator needs of a network
(`InstrumentedNetwork`): every architecture, built-in or a user's, meets this contract."""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import numpy as np
from torch import Tensor


@dataclass
class Trace:
    """Per-probe-point tensors kept by an instrumented forward pass (a probe point is a "layer":
    a hidden layer, a time step, a block).

    z: the pre-activations whose ∂loss/∂z is measured (linear outputs, before normalization),
    u: the activation inputs (after normalization; the same tensors as z without one),
    a: the activation outputs, h: each probe point's input (x for the first one).
    Entries may have any shape whose first dimension is the batch ([B, W] for an MLP); per-layer
    statistics treat entry t as t.reshape(B, -1), and shapes may differ from one entry to the next.
    The recurrent cells keep one entry per time step, with h the step's input [h_{t−1} | x_t].
    """

    z: list[Tensor] = field(default_factory=list)
    u: list[Tensor] = field(default_factory=list)
    a: list[Tensor] = field(default_factory=list)
    h: list[Tensor] = field(default_factory=list)

    def keep_grad(self, z: Tensor) -> None:
        """What a network's traced forward calls on each z before appending it: have backward leave
        ∂L/∂z in z.grad (module-level keep_grad). A trace that measures ∂L/∂z by itself may skip it."""
        keep_grad(z)

    def record(self, z: Tensor, u: Tensor, a: Tensor, h: Tensor | None = None) -> None:
        """Keep one probe point: `keep_grad(z)`, then append z, u, a (and h, when given)."""
        self.keep_grad(z)
        self.z.append(z)
        self.u.append(u)
        self.a.append(a)
        if h is not None:
            self.h.append(h)


def keep_grad(z: Tensor) -> None:
    """Make backward leave ∂L/∂z in z.grad, as z.retain_grad() does, without retain_grad's copy of
    it: z.grad is the gradient tensor backward hands on to z's own backward function, which only
    reads it (and summed where backward reaches z more than once). The hook holds z weakly, so z is
    freed as usual. z must not be changed in place afterwards (a user's model hands the rest of its
    network a copy of each z)."""
    ref, reached = weakref.ref(z), [False]

    def hook(g: Tensor) -> None:
        t = ref()
        if t is not None:
            t.grad = t.grad + g if reached[0] else g
            reached[0] = True

    z.register_hook(hook)


@runtime_checkable
class InstrumentedNetwork(Protocol):
    """A torch.nn.Module the Simulator can measure, probe point by probe point."""

    has_norm: bool  # whether u differs from z (a normalization between them)

    def forward(self, x: Tensor, trace: Trace | None = None) -> Tensor:
        """Logits (or, for a reconstruction, the reconstructed input); with a trace, append each
        probe point's z (after trace.keep_grad(z)), u, a and h to it."""
        ...

    def hidden_weights(self) -> list[Tensor]:
        """The weight matrices whose norms, gradients and updates are reported."""
        ...

    def per_layer(self, per_weight_norms: np.ndarray) -> np.ndarray:
        """One value per probe point from the norms of hidden_weights()."""
        ...

    def layer_weight_grad_norms(self, trace: Trace, by_id: dict[int, float]) -> np.ndarray:
        """‖∂loss/∂W‖ per probe point, given every parameter's gradient norm by id(parameter)."""
        ...

    def abs_derivative(self, trace: Trace) -> Tensor | None:
        """|φ′| at every probe point's nonlinearity input, stacked [L, B, …], for a network whose
        nonlinearity is not (only) the configured activation; None: the configured activation's."""
        ...
