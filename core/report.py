"""Where a NaN/Inf appeared, worded once for the CLI, the A/B comparison, the diagnoses and the GUI.

A snapshot that went non-finite carries the step, the 1-based layer where the
NaN/Inf first appeared (None when it was only in the loss) and the stage of the
pass ('forward', 'loss', 'backward', 'update'). A recurrent network's entries
are time steps, so the caller names the noun: ``layer_noun(config)``.
"""
from __future__ import annotations

from .config import RECURRENT_ARCHITECTURES, SimConfig
from .snapshot import Snapshot

# What went non-finite at each stage of the pass.
STAGE_QUANTITY = {"forward": "activation", "loss": "loss", "backward": "gradient", "update": "weight update"}


def layer_noun(config: SimConfig) -> str:
    """What one per-layer entry is: a 'layer', or a recurrent network's 'time step'."""
    return "time step" if config.architecture in RECURRENT_ARCHITECTURES else "layer"


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
