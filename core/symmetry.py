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

# At most this many values per layer are read: whole batch rows (examples), the first
# ones, as stats.histograms does. 8192 values estimate a variance share to ≈ √(2/8192) ≈ 2 %.
UNIT_SPREAD_MAX_VALUES = 8_192


def unit_spread(a: Tensor, max_values: int = UNIT_SPREAD_MAX_VALUES) -> np.ndarray:
    """How different the units of each layer are, [L], from activations a [L, B, W]:

        unit_spread = √( E_b[ Var_i a_bi ] / Var_{b,i} a_bi )  ∈ [0, 1]

    the rms over examples b of the spread across units i, relative to the layer's std.
    By the law of total variance Var_{b,i} a = E_b[Var_i a_bi] + Var_b[E_i a_bi], so it is 1
    when the per-example mean is the same for every example and 0 exactly when, in every
    example, all units output the same value. Copies of one unit give 0 up to float32
    rounding (≈ 1e-7); differently initialized units give a value of order 1.

    NaN for a layer of one unit, or one whose values are all equal (no variance to
    split) or not finite. Cost: O(R·W) per layer on the first R = min(B, ⌈max_values/W⌉)
    rows, in float64; the spread is measured from unit 1's value in the same example,
    so copies do not lose it to cancellation.
    """
    L, B, W = a.shape
    if W < 2:
        return np.full(L, np.nan)
    rows = max(1, min(B, -(-max_values // W)))
    x = a[:, :rows].detach().double()                       # [L, R, W]
    within = (x - x[:, :, :1]).var(dim=2, unbiased=False).mean(dim=1)
    total = x.reshape(L, -1).var(dim=1, unbiased=False)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.sqrt(within.cpu().numpy() / total.cpu().numpy())
    ratio[~np.isfinite(ratio)] = np.nan
    return np.minimum(ratio, 1.0)  # within ≤ total exactly; rounding may exceed it by an ulp
