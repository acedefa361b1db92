"""Building blocks shared by the built-in architectures."""
from __future__ import annotations

import numpy as np
from torch import Tensor, nn

from ..trace import Trace


class UninitializedLinear(nn.Linear):
    """nn.Linear without torch's default initialization: the builders initialize every weight
    and bias with the configured scheme, and drawing the default first cost as much again."""

    def reset_parameters(self) -> None:
        pass


class OneWeightPerLayer:
    """The InstrumentedNetwork methods of a network whose probe point l has one weight,
    hidden_weights()[l], and whose nonlinearity is the configured activation (a network with
    its own overrides abs_derivative)."""

    def per_layer(self, per_weight: np.ndarray) -> np.ndarray:
        """Per-layer values from the norms of hidden_weights(): one weight per layer."""
        return per_weight

    def layer_weight_grad_norms(self, trace: Trace, by_id: dict[int, float]) -> np.ndarray:
        """‖∂loss/∂W_l‖ per probe point, from the parameters' gradient norms by id."""
        return np.array([by_id.get(id(w), 0.0) for w in self.hidden_weights()])

    def abs_derivative(self, trace: Trace) -> Tensor | list[Tensor] | None:
        """None: every probe point's nonlinearity is the configured activation."""
        return None
