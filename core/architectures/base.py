"""`Architecture`: one entry of the architecture registry (core.architectures.ARCHITECTURES)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping

import torch
from torch import nn

from ..config import SimConfig

# Fields every architecture reads, since the Simulator reads them whatever the network: the data,
# the batches, the optimizer, clipping, the seed and the device.
TRAINING_FIELDS = frozenset({
    "architecture", "dataset", "data_file", "label_column", "input_dim", "n_samples", "batch_size", "grad_accum",
    "optimizer", "lr", "momentum", "weight_decay", "warmup_steps", "clip_mode", "clip_threshold", "seed", "device",
})
# Fields of a network of `depth` layers of `width` units with the configured activation, init and norm.
NETWORK_FIELDS = frozenset({
    "depth", "width", "activation", "leaky_slope", "init", "init_std", "init_gain", "init_mode", "bias_std",
    "normalization",
})

# (config, one example's input shape, number of classes, generator) -> an initialized network on the CPU
Builder = Callable[[SimConfig, tuple[int, ...], int, torch.Generator], nn.Module]


@dataclass(frozen=True)
class Architecture:
    """A network family: how to build it from a SimConfig, the fields it reads, and what its
    probe points are called.

    `build(config, input_shape, n_classes, generator)` returns an initialized
    core.trace.InstrumentedNetwork on the CPU; `input_shape` is one example's shape, e.g. (64,),
    or (T, F) for a sequence. `recurrent`: its probe points are the time steps of one cell.
    `reconstruct`: the network outputs its input, the loss is the mean squared error between the
    two and accuracy is not applicable (NaN). `datasets`: the data sets it accepts (None: any
    flat-vector set). `unused_reasons`: why a field outside `uses` does not apply, where a
    specific sentence says more than the generic one.
    """

    name: str
    noun: str
    uses: frozenset[str]
    build: Builder
    recurrent: bool = False
    reconstruct: bool = False
    datasets: tuple[str, ...] | None = None
    unused_reasons: Mapping[str, str] = field(default_factory=dict)

    def why_unused(self, field_name: str) -> str | None:
        """None if this architecture reads `field_name`; else a sentence saying why it does not."""
        if field_name in self.uses:
            return None
        return self.unused_reasons.get(field_name, f"'{self.name}' does not use {field_name}.")
