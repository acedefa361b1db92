"""How the activation views say which scale they draw: one common value axis, or each layer's
values ÷ that layer's std (see app/panels/activation_map.py and histograms.py)."""
from __future__ import annotations

import numpy as np

from ..plot_math import spans_decades

PER_LAYER_AXIS = "value ÷ layer std"


def use_per_layer(act_std: np.ndarray, mode: str) -> bool:
    """Whether to draw activations per layer: `mode` 'per_layer', or 'auto' when the layers' stds
    span more than two decades (plot_math.spans_decades); never for 'common'."""
    if mode not in ("auto", "common", "per_layer"):
        raise ValueError(f"activation scale: expected 'auto', 'common' or 'per_layer', got {mode!r}")
    return mode == "per_layer" or (mode == "auto" and spans_decades(act_std))


def per_layer_label(act_std: np.ndarray, prefix: str = "L") -> str:
    """The value axis' label on a per-layer scale, with the first and last layers' stds on a second,
    smaller line: 'value ÷ layer std' / 'std L1 0.0138 … L20 1.54e-20'."""
    s = np.asarray(act_std, dtype=np.float64)
    if not s.size:
        return PER_LAYER_AXIS
    return (f"{PER_LAYER_AXIS}<br><span style='font-size:9pt'>std {prefix}1 {s[0]:.3g} … "
            f"{prefix}{len(s)} {s[-1]:.3g}</span>")
