"""Per-layer statistics, computed on the device over all hidden layers at once.

The hidden layers' tensors are stacked into one [depth, batch, width] tensor and
each statistic is a single fused reduction over it; only [depth]-sized results
(and [depth, bins] histograms) go to the CPU. Non-finite values never reach a
histogram bin or a moment: they are counted per layer and the layer flagged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

HIST_BINS = 50
# Histograms use at most this many values per layer: whole batch rows, the first
# ones, so every unit of the layer is represented. The batch is itself a sample
# of the data, and binning every value of a large batch would cost more than the
# training step (see bench/). Moments, saturation and dead units use every value.
HIST_MAX_VALUES = 8_192  # sampling error of a bin holding p of the values: √(p(1−p)/8192) < 0.6 %
# A unit is saturated where its slope is under 5 % of the activation's steepest:
# |φ′(u)| < SATURATION_FRACTION · max|φ′|.
SATURATION_FRACTION = 0.05
# Above this ratio of mean² to variance the one-pass variance E[x²] − E[x]² loses
# precision in float32; such layers are recomputed with a two-pass formula.
_CANCELLATION_RATIO = 1e3


@dataclass(frozen=True)
class Moments:
    mean: np.ndarray      # [L] float64
    std: np.ndarray       # [L] population std (divides by N), float64
    nonfinite: np.ndarray  # [L] count of NaN/Inf entries


def moments(x: Tensor | Sequence[Tensor], sq_norms: np.ndarray | None = None) -> Moments:
    """Mean and population std of each layer of x (stacked [L, ...], or L equal-sized
    tensors, which saves stacking them) over the finite entries.

    One pass each for Σx and ‖x‖² (var = ‖x‖²/N − mean²; ‖x‖² may be given as `sq_norms`
    when the caller has it); layers that hold a NaN/Inf, overflow, or would lose precision
    to cancellation are redone exactly in float64.
    """
    if isinstance(x, Tensor):
        flat = x.reshape(x.shape[0], -1)
        total = flat.sum(1).double().cpu().numpy()
        if sq_norms is None:
            sq_norms = torch.linalg.vector_norm(flat, dim=1).double().cpu().numpy() ** 2
    else:
        flat = [t.reshape(-1) for t in x]
        total = torch.stack([t.sum() for t in flat]).double().cpu().numpy()
        if sq_norms is None:
            sq_norms = torch.stack(torch._foreach_norm(flat)).double().cpu().numpy() ** 2
    n = flat[0].numel()
    mean = total / n
    with np.errstate(invalid="ignore", over="ignore"):
        var = sq_norms / n - mean**2
        redo = ~np.isfinite(total) | ~np.isfinite(sq_norms) | (var * _CANCELLATION_RATIO < mean**2)
    nonfinite = np.zeros(len(mean), dtype=np.int64)
    for i in np.flatnonzero(redo):
        row = flat[i]
        finite = torch.isfinite(row)
        nonfinite[i] = int(n - finite.sum())
        vals = row[finite].double()
        if len(vals) == 0:
            mean[i] = var[i] = np.nan
        else:
            m = vals.mean()
            mean[i], var[i] = float(m), float((vals - m).square().mean())
    return Moments(mean, np.sqrt(np.maximum(var, 0.0)), nonfinite)


def histograms(x: Tensor, bins: int = HIST_BINS, max_values: int = HIST_MAX_VALUES) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer histograms of x [L, B, W] over the finite values, each on its own range.

    Uses the first ⌈max_values / W⌉ rows of the batch. Returns counts [L, bins]
    (int64) and edges [L, bins+1] (float64); the last bin is closed, like NumPy's.
    """
    L, B, W = x.shape
    rows = max(1, min(B, -(-max_values // W)))
    flat = x[:, :rows].reshape(L, -1)
    lo = flat.amin(1).double().cpu().numpy()
    hi = flat.amax(1).double().cpu().numpy()
    bad = ~(np.isfinite(lo) & np.isfinite(hi))
    for i in np.flatnonzero(bad):  # NaN/Inf present: range of the finite values only
        finite = flat[i][torch.isfinite(flat[i])]
        lo[i], hi[i] = (float(finite.min()), float(finite.max())) if len(finite) else (-0.5, 0.5)
    span = hi - lo
    with np.errstate(divide="ignore", over="ignore"):
        # a zero, overflowing or denormal span (bins/span beyond float32) is drawn as one bin
        flat_range = ~(span > 0) | ~np.isfinite(span) | ~(bins / span < 1e37)
    # pad by ±0.5, or relatively where |lo| is so large that lo ± 0.5 == lo in float64
    pad = np.maximum(0.5, np.abs(lo) * 1e-3)
    lo = np.where(flat_range, lo - pad, lo)
    hi = np.where(flat_range, lo + 2 * pad, hi)
    scale = bins / (hi - lo)
    as_dev = lambda a: torch.as_tensor(a, dtype=x.dtype, device=x.device).view(L, 1)  # noqa: E731
    pos = torch.sub(flat, as_dev(lo)).mul_(as_dev(scale))  # (x − lo)·scale ∈ [0, bins]: cannot overflow
    pos.clamp_(0, bins - 1)
    if bad.any():
        pos.masked_fill_(~torch.isfinite(flat), bins)  # NaN/Inf go to a discarded extra bin
    # int32 is enough (L·(bins+1) ≪ 2³¹) and halves the bytes written by the conversion
    idx = pos.int().add_(torch.arange(0, L * (bins + 1), bins + 1, device=x.device, dtype=torch.int32).view(L, 1))
    counts = torch.bincount(idx.view(-1), minlength=L * (bins + 1)).view(L, bins + 1)[:, :bins]
    edges = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, bins + 1)[None, :]
    return counts.cpu().numpy(), edges


def saturation(deriv: Tensor, max_deriv: float) -> tuple[np.ndarray, np.ndarray]:
    """From |φ′| [L, B, W]: (share of entries with |φ′| < 5 % of max|φ′|,
    share of units whose φ′ is 0 for every example of the batch). Overwrites `deriv`."""
    L, B, W = deriv.shape
    dead = torch.count_nonzero(deriv.amax(dim=1) == 0, dim=1)
    # count the entries below the threshold as −Σ sign(min(|φ′| − thr, 0)): float arithmetic
    # is several times faster than a boolean mask here. Rows (≤ 4096 ones) sum exactly in
    # float32; the per-layer total is summed in float64 so it stays exact past 2²⁴.
    below = deriv.sub_(SATURATION_FRACTION * max_deriv).clamp_(max=0).sign_()  # −1 where below, else 0
    sat = 0.0 - below.sum(dim=2).sum(dim=1, dtype=torch.float64).cpu().numpy()  # 0 − (−0) is +0
    for i in np.flatnonzero(~np.isfinite(sat)):  # a NaN φ′ stays NaN above: count the rest
        sat[i] = 0.0 - float(torch.nansum(below[i], dtype=torch.float64))
    return (sat / (B * W), dead.cpu().numpy() / W)


def norms(tensors: list[Tensor]) -> np.ndarray:
    """Frobenius norm of each tensor, in one fused call, as float64 [len].

    A norm that overflows float32 although every entry is finite (‖g‖ > 3.4e38,
    as in an exploding network) is recomputed in float64, so it stays a number.
    """
    if not tensors:
        return np.zeros(0)
    out = torch.stack(torch._foreach_norm(tensors)).double().cpu().numpy()
    for i in np.flatnonzero(np.isinf(out)):
        out[i] = float(torch.linalg.vector_norm(tensors[i].double()))
    return out
