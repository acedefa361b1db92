"""Whether the units of a layer are still copies of one another (symmetry not broken).

Random initialization gives every unit of a layer its own weights, so for one example
the units' outputs differ about as much as one unit's output differs between examples.
A constant initialization gives every unit the same weights: they compute the same
function of the input, receive the same gradient and get the same update, so they stay
identical and the whole layer acts as a single unit.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .stats import sample_rows

# At most this many values per layer are read: whole batch rows (examples), the first ones, as
# stats.histograms does (with a quarter of its budget: this runs on every snapshot). The spread
# across units then rests on 2048 values (sampling error ≈ √(2/2048) ≈ 3 %), the spread between
# examples on ⌈2048/W⌉ rows (16 at width 128); copies of one unit read 0 whatever the sample.
UNIT_SPREAD_MAX_VALUES = 2_048


def unit_spread(a: Tensor, max_values: int = UNIT_SPREAD_MAX_VALUES) -> np.ndarray:
    """How different the units of each layer are, [L], from activations a [L, B, W]:

        unit_spread = √( E_b[ Var_i a_bi ] / Var_{b,i} a_bi )  ∈ [0, 1]

    the rms over examples b of the spread across units i, relative to the layer's std.
    By the law of total variance Var_{b,i} a = E_b[Var_i a_bi] + Var_b[E_i a_bi], so it is 1
    when the per-example mean is the same for every example and 0 exactly when, in every
    example, all units output the same value. Copies of one unit give 0 up to float32
    rounding; differently initialized units give a value of order 1 (0.88 or more in
    every scenario).

    NaN for a layer of one unit, or one whose values are all equal (no variance to split)
    or not finite. Cost: a few elementwise passes over the first R = min(B, ⌈max_values/W⌉)
    rows, O(R·W) ≤ O(max_values) per layer, and O(R) in float64. The spread across units is
    taken of the differences from unit 1 in the same example, so copies (differences exactly
    0) do not lose it to the cancellation of E[x²] − E[x]².
    """
    return spread_ratio(torch.stack([unit_spread_parts(layer, max_values) for layer in a]).cpu().numpy())


def unit_spread_parts(layer: Tensor, max_values: int = UNIT_SPREAD_MAX_VALUES) -> Tensor:
    """One layer's (E_b Var_i, Var_b E_i) of `unit_spread`, a float64 [2] tensor left on the
    device (`spread_ratio` finishes it); the layer has any shape with the batch first, read as
    [B, units]. NaN for a layer of one unit."""
    return unit_spread_parts_stacked(sample_rows(layer.detach(), max_values).unsqueeze(0))[0]


def unit_spread_parts_stacked(x: Tensor) -> Tensor:
    """`unit_spread_parts` of G layers' sampled rows at once: x [G, R, W] (as core.stats.stacked_rows
    makes them) → float64 [G, 2] on the device."""
    G, R, W = x.shape
    if W < 2:
        return torch.full((G, 2), float("nan"), dtype=torch.float64, device=x.device)
    d = x - x[:, :, :1]                                             # differences from unit 1
    d_mean = d.sum(dim=2).double() / W                              # [G, R]
    d_sq = torch.linalg.vector_norm(d, dim=2).double().square() / W
    within = (d_sq - d_mean.square()).clamp_(min=0.0).mean(dim=1)   # E_b Var_i (shift-free)
    means = x.sum(dim=2).double() / W                               # E_i a_bi, [G, R]
    between = (means - means.mean(dim=1, keepdim=True)).square().mean(dim=1)
    return torch.stack([within, between], dim=1)


def spread_ratio(parts: np.ndarray) -> np.ndarray:
    """`unit_spread` from `unit_spread_parts` per layer, [L, 2] → [L]: √(within / (within + between)),
    NaN where that is not a finite number."""
    parts = np.asarray(parts, dtype=np.float64).reshape(-1, 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(parts[:, 0] / (parts[:, 0] + parts[:, 1]))
    ratio[~np.isfinite(ratio)] = np.nan
    return ratio
