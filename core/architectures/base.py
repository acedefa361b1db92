"""`Architecture`: what a network plug-in declares (see ARCH_CONTRACT).

TEMPORARY minimal copy for the cnn, transformer and autoencoder modules; the shared
version (with the registry in core/architectures/__init__.py) replaces it at merge.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from ..config import SimConfig


@dataclass(frozen=True)
class Architecture:
    """A network plug-in: its name, layer noun, the SimConfig fields it reads and its builder
    ``build(config, input_shape, n_classes, generator) -> InstrumentedNetwork`` (on the CPU)."""

    name: str
    noun: str
    uses: frozenset[str]
    build: Callable[[SimConfig, tuple[int, ...], int, torch.Generator], nn.Module]
    recurrent: bool = False
    reconstruct: bool = False
    datasets: tuple[str, ...] | None = None

    def why_unused(self, field: str) -> str | None:
        """None when the architecture reads `field`, else a sentence for the control's tooltip."""
        if field in self.uses:
            return None
        return f"'{self.name}' does not use {field}"
