"""Where a NaN/Inf appeared, worded once for the CLI, the A/B comparison, the diagnoses and the GUI.

A snapshot that went non-finite carries the step, the 1-based layer where the
NaN/Inf first appeared (None when it was only in the loss) and the stage of the
pass ('forward', 'loss', 'backward', 'update'). An entry is not always a layer
(a recurrent network's are time steps, a transformer's blocks), so the caller names
the noun: ``core.architectures.layer_noun(config.architecture)``.
"""
from __future__ import annotations

from .snapshot import Snapshot

# What went non-finite at each stage of the pass.
STAGE_QUANTITY = {"forward": "activation", "loss": "loss", "backward": "gradient", "update": "weight update"}


def nonfinite_location(snapshot: Snapshot, noun: str) -> str:
    """'step 41, layer 18' (with `noun` for the layer), or 'step 41' when no layer held the NaN/Inf."""
    where = f"step {snapshot.step}"
    if snapshot.nonfinite_layer is not None:
        where += f", {noun} {snapshot.nonfinite_layer}"
    return where


def nonfinite_quantity(snapshot: Snapshot) -> str:
    """What went non-finite: 'activation', 'loss', 'gradient' or 'weight update' ('value' if unknown)."""
    return STAGE_QUANTITY.get(snapshot.nonfinite_stage or "", "value")


def describe_nonfinite(snapshot: Snapshot, noun: str, stage_suffix: str = " pass") -> str:
    """'non-finite value at step 41, layer 18 (backward pass)'.

    `stage_suffix` follows the stage's name in the parentheses; the CLI's error line
    uses '' ('... (backward)')."""
    stage = snapshot.nonfinite_stage or "unknown stage"
    return f"non-finite value at {nonfinite_location(snapshot, noun)} ({stage}{stage_suffix})"
