"""Building blocks shared by the built-in architectures."""
from __future__ import annotations

from torch import nn


class UninitializedLinear(nn.Linear):
    """nn.Linear without torch's default initialization: the builders initialize every weight
    and bias with the configured scheme, and drawing the default first cost as much again."""

    def reset_parameters(self) -> None:
        pass
