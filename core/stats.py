"""Per-layer statistics, one layer at a time, gathered on the device.

A "layer" is one probe point: a tensor of any shape whose first dimension is the
batch, read as `t.reshape(B, -1)` (all channels and positions of the layer are its
values; layers may differ in shape). Whole-layer reductions (Σx, ‖x‖, row norms) are
taken by the Simulator's trace the moment a layer is produced, while it sits in cache;
there is no stacking copy of whole layers into an [L, B, W] buffer. The sampled
statistics read only each layer's first rows, stacked per run of same-shape layers
(`stacked_rows`: ≤ 8192 values a layer), so a network of L equal layers costs a few
operations, not a few per layer. The small results stay on the device as 0-d, [B] or
[L, …] tensors until the Simulator moves them to the CPU, all in one transfer
(`to_host`); layers whose sums are not finite, and dead-unit candidates, are read
again afterwards (rare; one more transfer then).

Exact: means and stds (from Σx and ‖x‖², never a Welford-style reduction), norms,
dead units (a unit whose φ′ is 0 for every example of the batch: a unit dead for every
example is dead in the first rows, so only those candidates' other rows are read),
non-finite counts.
Sampled: the histograms and the saturated share, from the batch's first rows (whole
rows, so every unit of the layer is represented; the batch is itself a random sample
of the data). Non-finite values never reach a histogram bin or a moment: they are
counted per layer and the layer flagged.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
import torch
from torch import Tensor

HIST_BINS = 50
# Histograms bin at most this many values per layer: the first ⌈HIST_MAX_VALUES / units⌉
# rows. A bin holding a share p of the layer's values is then read with a sampling
# error of √(p(1−p)/4096) ≤ 0.8 % (independent values), and at most √(p(1−p)/r) over
# the r = ⌈4096/units⌉ rows when the units of one example move together.
HIST_MAX_VALUES = 4_096
# The saturated share counts at most this many values per layer, from whole rows, like the
# histograms: its standard error is √(p(1−p)/n) ≤ 0.5/√n for n independent values (≤ 0.55 %
# for n = 8192), and at most 0.5/√r over the r rows used when units saturate together.
SATURATION_MAX_VALUES = 8_192
# A unit is saturated where its slope is under 5 % of the activation's steepest:
# |φ′(u)| < SATURATION_FRACTION · max|φ′|.
SATURATION_FRACTION = 0.05
# Above this ratio of mean² to variance the one-pass variance E[x²] − E[x]² loses
# precision in float32; such layers are recomputed with a two-pass formula.
_CANCELLATION_RATIO = 1e3


def rows(t: Tensor) -> Tensor:
    """A layer as [B, values per example] (a 2-D layer itself: a snapshot asks about 300 times)."""
    return t if t.dim() == 2 else t.reshape(t.shape[0], -1)


def sampled_row_count(batch: int, units: int, max_values: int) -> int:
    """⌈max_values / units⌉, at least one row and at most the batch: how many rows a sample reads."""
    return max(1, min(batch, -(-max_values // max(1, units))))


def sample_rows(t: Tensor, max_values: int) -> Tensor:
    """The first ⌈max_values / units⌉ rows of a layer (at least one, at most all), as [r, units]."""
    flat = rows(t)
    return flat[: sampled_row_count(flat.shape[0], flat.shape[1], max_values)]


def _layers(x: Tensor | Sequence[Tensor]) -> list[Tensor]:
    """A stacked [L, B, ...] tensor or a sequence of per-layer tensors, as a list of layers."""
    return list(x.unbind(0)) if isinstance(x, Tensor) else list(x)


# --- device side: one layer's reductions, results left on the device -----------------------------
def row_sq_norms(t: Tensor) -> Tensor:
    """‖row‖² of each example of a layer, [B] float64 (their sum is ‖t‖²)."""
    return torch.linalg.vector_norm(rows(t), dim=1).double().square_()


def derivative_counts(deriv: Tensor, max_deriv: float, max_values: int = SATURATION_MAX_VALUES) -> Tensor:
    """From one layer's |φ′| (any shape, batch first): [saturated entries, dead units] as a
    float64 [2] tensor on the device (divide by `derivative_sizes`).

    Saturated: |φ′| < 5 % of max|φ′|, counted over `sample_rows` (NaN entries count as
    neither); dead: φ′ = 0 for every example of the batch (exact).
    """
    flat = rows(deriv)
    dead = (flat.sum(dim=0) == 0).sum()  # |φ′| ≥ 0: a column sums to 0 only when all of it is 0
    sample = sample_rows(flat, max_values)
    # −Σ sign(min(|φ′| − thr, 0)) counts the entries below thr: float arithmetic is faster than a
    # boolean mask here; a NaN stays NaN and is left out by nansum (exact in float32 below 2²⁴)
    below = sample.sub(SATURATION_FRACTION * max_deriv).clamp_(max=0).sign_()
    return torch.stack([torch.nansum(below).double().neg() + 0.0, dead.double()])  # (+ 0.0: never −0)


def same_shape_runs(layers: Sequence[Tensor]) -> list[tuple[int, int]]:
    """[start, end) of each run of consecutive layers whose `rows` have the same shape (an MLP's
    hidden layers are one run): the sampled statistics reduce a run at once."""
    runs, start = [], 0
    while start < len(layers):
        end, shape = start + 1, rows(layers[start]).shape
        while end < len(layers) and rows(layers[end]).shape == shape:
            end += 1
        runs.append((start, end))
        start = end
    return runs


def stacked_rows(layers: Sequence[Tensor], max_values: int) -> list[Tensor]:
    """Each run of `same_shape_runs` as its layers' `sample_rows`, stacked [G, r, units]: a copy of
    those rows only (≤ max_values values a layer), never of whole layers."""
    return [torch.stack([sample_rows(t, max_values) for t in layers[s:e]]) for s, e in same_shape_runs(layers)]


def first_rows(stack: Tensor, max_values: int) -> Tensor:
    """The first ⌈max_values / units⌉ rows (at least one) of each layer of a stacked [G, r, units]
    sample, as [G, r', units]: the `sample_rows` of a smaller budget, taken from a larger one."""
    return stack[:, : sampled_row_count(stack.shape[1], stack.shape[2], max_values)]


def sampled_derivative_counts(sources: Sequence[Tensor], abs_derivative: Callable[[Tensor], Tensor],
                              max_deriv: float, max_values: int = SATURATION_MAX_VALUES
                              ) -> tuple[Tensor, list[Tensor]]:
    """`derivative_counts` without |φ′| of whole layers: |φ′| = abs_derivative(s) (elementwise) of
    each layer's first rows only (`sample_rows`; `sources` are what abs_derivative reads: the
    activation inputs or outputs, any shape, batch first), stacked per run of equal shapes.

    Returns [L, 2] float64 on the device, (saturated entries of the sample, dead-unit candidates:
    units whose φ′ is 0 in every sample row), and each layer's candidate mask [units]. A unit dead
    for every example is dead in the sample rows, so a layer without candidates has no dead unit;
    `confirm_dead` reads the candidates' other rows (a layer whose sample is the whole batch is
    exact as it is)."""
    return sampled_derivative_counts_of(stacked_rows(sources, max_values), abs_derivative, max_deriv, max_values)


def sampled_derivative_counts_of(stacks: Sequence[Tensor], abs_derivative: Callable[[Tensor], Tensor],
                                 max_deriv: float, max_values: int = SATURATION_MAX_VALUES
                                 ) -> tuple[Tensor, list[Tensor]]:
    """`sampled_derivative_counts` of rows already stacked by `stacked_rows` (for this budget or a larger one)."""
    counts, masks, thr = [], [], SATURATION_FRACTION * max_deriv
    for stack in stacks:
        d = abs_derivative(first_rows(stack, max_values))                  # [G, r, units]
        below = d.sub(thr).clamp_(max=0).sign_()  # −1 where |φ′| < thr (see derivative_counts)
        saturated = torch.nansum(below.view(below.shape[0], -1), dim=1).double().neg() + 0.0
        candidates = d.sum(dim=1) == 0  # |φ′| ≥ 0: a column sums to 0 only when all of it is 0
        counts.append(torch.stack([saturated, candidates.sum(dim=1).double()], dim=1))
        masks.extend(candidates.unbind(0))
    return torch.cat(counts), masks


def confirm_dead(sources: Sequence[Tensor], abs_derivative: Callable[[Tensor], Tensor], masks: Sequence[Tensor],
                 candidates: np.ndarray, max_values: int = SATURATION_MAX_VALUES) -> np.ndarray:
    """Exact dead units per layer (φ′ = 0 for every example of the batch) from the counts and
    masks of `sampled_derivative_counts`: the rows past the sample are read for the candidate
    units only, and only in layers that have candidates (one more transfer, then)."""
    dead = np.array(candidates, dtype=np.float64)
    for i in np.flatnonzero(dead > 0):
        flat = rows(sources[i])
        r = sample_rows(flat, max_values).shape[0]
        if r < flat.shape[0]:
            cols = torch.nonzero(masks[i]).squeeze(1)
            rest = abs_derivative(flat[r:].index_select(1, cols))
            dead[i] = float((rest.sum(dim=0) == 0).sum())
    return dead


def derivative_sizes(t: Tensor, max_values: int = SATURATION_MAX_VALUES) -> tuple[int, int]:
    """(entries `derivative_counts` looks at for saturation, units of the layer) of a layer shaped like t."""
    B = t.shape[0]
    units = t[0].numel() if B else 0
    return sampled_row_count(B, units, max_values) * units, units


def histogram_samples(layers: Iterable[Tensor], max_values: int = HIST_MAX_VALUES) -> list[Tensor]:
    """Each layer's `sample_rows`, flattened: the values the histograms bin."""
    return [sample_rows(t, max_values).reshape(-1) for t in layers]


def histograms_device(samples: list[Tensor], bins: int = HIST_BINS) -> tuple[Tensor, Tensor]:
    """Per-layer histograms of 1-D `samples` (any lengths) over the finite values, each on its
    own range [min, max] (a constant layer gets ±0.5, or ±|x|·1e-3 past 500). Returns counts
    [L, bins] and edges [L, bins+1], float64, on the device; the last bin is closed, like NumPy's.
    Runs of equal-length samples (every layer of an MLP) are binned together."""
    counts, edges, start = [], [], 0
    while start < len(samples):
        end = start + 1
        while end < len(samples) and samples[end].numel() == samples[start].numel():
            end += 1
        c, e = _histograms_2d(torch.stack(samples[start:end]), bins)
        counts.append(c)
        edges.append(e)
        start = end
    return (counts[0], edges[0]) if len(counts) == 1 else (torch.cat(counts), torch.cat(edges))


def histograms_stacked(stacks: Sequence[Tensor], bins: int = HIST_BINS,
                       max_values: int = HIST_MAX_VALUES) -> tuple[Tensor, Tensor]:
    """`histograms_device` of stacked samples ([G, r, units] each, as `stacked_rows` makes them,
    possibly of a larger budget: `first_rows` of max_values are binned)."""
    parts = [_histograms_2d(first_rows(s, max_values).reshape(s.shape[0], -1), bins) for s in stacks]
    if len(parts) == 1:
        return parts[0]
    return torch.cat([c for c, _ in parts]), torch.cat([e for _, e in parts])


def _histograms_2d(x: Tensor, bins: int) -> tuple[Tensor, Tensor]:
    """`histograms_device` for the rows of x [L, n]."""
    L = x.shape[0]
    finite = None
    if x.device.type == "cpu":  # (a host read is free here; on a GPU it would be a sync: mask always)
        # NaN-propagating: finite bounds ⇔ every value finite (amin and amax: torch.aminmax along a
        # dimension is ~40× slower on the CPU)
        lo, hi = x.amin(1), x.amax(1)
        if not bool(torch.isfinite(lo).all() & torch.isfinite(hi).all()):
            finite = torch.isfinite(x)
    else:
        finite = torch.isfinite(x)
    if finite is not None:
        lo = torch.where(finite, x, float("inf")).amin(1)
        hi = torch.where(finite, x, float("-inf")).amax(1)
    lo, hi = lo.double(), hi.double()
    empty = ~(lo <= hi)  # no finite value at all
    lo, hi = torch.where(empty, 0.0, lo), torch.where(empty, 0.0, hi)
    span = hi - lo
    # a zero, overflowing or denormal span (bins/span beyond float32) is drawn as one bin
    flat_range = ~(span > 0) | ~torch.isfinite(span) | ~(bins / span < 1e37)
    # pad by ±0.5, or relatively where |lo| is so large that lo ± 0.5 == lo in float64
    pad = torch.clamp(lo.abs() * 1e-3, min=0.5)
    lo = torch.where(flat_range, lo - pad, lo)
    hi = torch.where(flat_range, lo + 2 * pad, hi)
    scale = bins / (hi - lo)
    # (x − lo)·scale ∈ [0, bins]: cannot overflow
    pos = torch.sub(x, lo.to(x.dtype)[:, None]).mul_(scale.to(x.dtype)[:, None]).clamp_(0, bins - 1)
    if finite is not None:
        pos.masked_fill_(~finite, bins)  # NaN/Inf go to a discarded extra bin
    # int32 is enough (L·(bins+1) ≪ 2³¹) and halves the bytes written by the conversion
    offsets = torch.arange(0, L * (bins + 1), bins + 1, device=x.device, dtype=torch.int32)[:, None]
    idx = pos.int().add_(offsets)
    counts = torch.bincount(idx.view(-1), minlength=L * (bins + 1)).view(L, bins + 1)[:, :bins]
    grid = torch.linspace(0.0, 1.0, bins + 1, dtype=torch.float64, device=x.device)
    return counts.double(), lo[:, None] + (hi - lo)[:, None] * grid[None, :]


def to_host(parts: dict[str, Tensor]) -> dict[str, np.ndarray]:
    """Move named device tensors to the CPU in one transfer (float64), keeping their shapes."""
    names = list(parts)
    # (empty parts are left out of the concatenation: they may have been made on the CPU without a device at hand)
    filled = [parts[n].reshape(-1).double() for n in names if parts[n].numel()]
    flat = torch.cat(filled).cpu().numpy() if filled else np.zeros(0)
    out, start = {}, 0
    for n in names:
        size = parts[n].numel()
        out[n] = flat[start:start + size].reshape(tuple(parts[n].shape))
        start += size
    return out


# --- host side -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Moments:
    mean: np.ndarray      # [L] float64
    std: np.ndarray       # [L] population std (divides by N), float64
    nonfinite: np.ndarray  # [L] count of NaN/Inf entries


def finish_moments(layers: Sequence[Tensor], total: np.ndarray, sq_norms: np.ndarray) -> Moments:
    """Mean and population std of each layer from Σx and ‖x‖² (var = ‖x‖²/N − mean²), over the
    finite entries: layers whose sums hold a NaN/Inf, overflow, or would lose precision to
    cancellation are redone exactly in float64 from `layers` (rare: those are read again)."""
    n = np.array([t.numel() for t in layers], dtype=np.float64)
    mean = np.array(total, dtype=np.float64) / n
    sq_norms = np.asarray(sq_norms, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        var = sq_norms / n - mean**2
        redo = ~np.isfinite(total) | ~np.isfinite(sq_norms) | (var * _CANCELLATION_RATIO < mean**2)
    nonfinite = np.zeros(len(mean), dtype=np.int64)
    for i in np.flatnonzero(redo):
        row = layers[i].reshape(-1)
        finite = torch.isfinite(row)
        nonfinite[i] = int(n[i] - finite.sum())
        vals = row[finite].double()
        if len(vals) == 0:
            mean[i] = var[i] = np.nan
        else:
            m = vals.mean()
            mean[i], var[i] = float(m), float((vals - m).square().mean())
    return Moments(mean, np.sqrt(np.maximum(var, 0.0)), nonfinite)


def moments(x: Tensor | Sequence[Tensor], sq_norms: np.ndarray | None = None) -> Moments:
    """Mean and population std of each layer of x (stacked [L, ...], or per-layer tensors of any
    shapes) over the finite entries: one pass each for Σx and ‖x‖² (‖x‖² may be given as
    `sq_norms`), then `finish_moments`."""
    layers = _layers(x)
    total = torch.stack([t.sum() for t in layers]).double()
    if sq_norms is None:
        sq = torch.stack([torch.linalg.vector_norm(t).double().square() for t in layers])
        host = to_host({"total": total, "sq": sq})
        total_np, sq_norms = host["total"], host["sq"]
    else:
        total_np = total.cpu().numpy()
    return finish_moments(layers, total_np, sq_norms)


def histograms(x: Tensor | Sequence[Tensor], bins: int = HIST_BINS,
               max_values: int = HIST_MAX_VALUES) -> tuple[np.ndarray, np.ndarray]:
    """Per-layer histograms of x (stacked [L, B, ...] or per-layer [B, ...] tensors) over the
    finite values of each layer's first ⌈max_values / units⌉ rows. Returns counts [L, bins]
    (int64) and edges [L, bins+1] (float64); see `histograms_device`."""
    counts, edges = histograms_device(histogram_samples(_layers(x), max_values), bins)
    return counts.cpu().numpy().astype(np.int64), edges.cpu().numpy()


def saturation(deriv: Tensor | Sequence[Tensor], max_deriv: float,
               max_values: int = SATURATION_MAX_VALUES) -> tuple[np.ndarray, np.ndarray]:
    """From |φ′| per layer (stacked [L, B, ...] or per-layer): (share of the sampled entries with
    |φ′| < 5 % of max|φ′|, share of units whose φ′ is 0 for every example of the batch).
    See `derivative_counts`; overwrites nothing the caller keeps beyond `deriv`."""
    layers = _layers(deriv)
    counts = torch.stack([derivative_counts(d, max_deriv, max_values) for d in layers]).cpu().numpy()
    sizes = np.array([derivative_sizes(d, max_values) for d in layers], dtype=np.float64).reshape(-1, 2)
    return counts[:, 0] / sizes[:, 0], counts[:, 1] / sizes[:, 1]


def norms(tensors: list[Tensor]) -> np.ndarray:
    """Frobenius norm of each tensor, in one fused call, as float64 [len].

    A norm that overflows float32 although every entry is finite (‖g‖ > 3.4e38,
    as in an exploding network) is recomputed in float64, so it stays a number.
    """
    if not tensors:
        return np.zeros(0)
    return finish_norms(norms_device(tensors).cpu().numpy(), tensors)


def norms_device(tensors: list[Tensor]) -> Tensor:
    """`norms` left on the device: float32 [len] from one fused call (finish with `finish_norms`)."""
    if not tensors:
        return torch.zeros(0)
    return torch.stack(torch._foreach_norm(tensors))


def finish_norms(host: np.ndarray, tensors: list[Tensor]) -> np.ndarray:
    """`norms_device`'s values on the host as float64, those that overflowed float32 redone in float64."""
    out = np.array(host, dtype=np.float64)
    for i in np.flatnonzero(np.isinf(out)):
        out[i] = float(torch.linalg.vector_norm(tensors[i].detach().double()))
    return out
