"""The NumPy side of the plots: resampling, log scales, ranges, layer choices and names, number texts.

No Qt and no pyqtgraph here (a test imports this module with Qt blocked): every function
takes and returns arrays, numbers or strings, so each is tested against a direct computation.
"""
from __future__ import annotations

import math

import numpy as np

from core.architectures import layer_noun  # noqa: F401 - the registry's noun, re-exported for the views

GRID_BINS = 120            # common value grid of the activation heatmap
ENVELOPE_GROUPS = 100      # the update plot's all-layer band is drawn over at most this many runs of steps


# Legend prefixes of the nouns that are not a kind of layer (a conv layer is 'L' too).
_PREFIXES = {"time step": "t", "block": "B"}


def layer_prefix(noun: str) -> str:
    """The short prefix naming one entry in legends: 'L' (layer 3, conv layer 3: L3),
    't' (time step t3) or 'B' (block B3)."""
    return _PREFIXES.get(noun, "L")


def layer_span(noun: str) -> str:
    """The direction a per-layer axis runs in: 'input → output', or 'first → last' for time steps."""
    return "first → last" if noun == "time step" else "input → output"


def resample_histograms(counts: np.ndarray, edges: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of each layer's values in each bin of a common grid, [L, len(grid)-1].

    Each layer has its own edges [L, B+1]; values are taken as uniform within a
    bin, so the layer's cumulative count is piecewise linear and is evaluated at
    the common edges (mass is conserved; a narrow layer lands in one grid bin).
    """
    counts = np.asarray(counts, dtype=np.float64)
    L, B = counts.shape
    total = counts.sum(1)
    cum = np.concatenate([np.zeros((L, 1)), np.cumsum(counts, 1)], axis=1)   # [L, B+1]
    lo, hi = edges[:, :1], edges[:, -1:]
    width = (hi - lo) / B
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (grid[None, :] - lo) / width                                     # [L, V+1] in bins
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=B, neginf=0.0), 0, B)
    k = np.minimum(t.astype(np.int64), B - 1)
    frac = t - k
    rows = np.arange(L)[:, None]
    at = cum[rows, k] + frac * counts[rows, k]
    mass = np.diff(at, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = mass / total[:, None]
    share[~(total > 0)] = 0.0
    return share


def step_envelope(steps: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  groups: int = ENVELOPE_GROUPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, lo, hi) of a band holding lo..hi at every step, drawn over at most `groups` runs of
    consecutive steps: each run's min of lo and max of hi, held from its first step to its last.

    Filling the band under 400 steps that zig-zag took Qt's raster engine 2.5 ms a frame (every
    scan line crosses hundreds of edges); over 100 runs, 0.4 ms.
    """
    k = -(-len(steps) // groups)
    if k <= 1:
        return steps, lo, hi
    pad = (-len(steps)) % k   # (the last run repeats its last step)
    runs = [np.pad(a, (0, pad), mode="edge").reshape(-1, k) for a in (steps, lo, hi)]
    x = np.column_stack([runs[0][:, 0], runs[0][:, -1]]).ravel()
    return x, np.repeat(runs[1].min(axis=1), 2), np.repeat(runs[2].max(axis=1), 2)


def value_grid(edges: np.ndarray, bins: int = GRID_BINS) -> np.ndarray:
    """Common edges spanning every layer's finite histogram range."""
    finite = edges[np.isfinite(edges)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return np.linspace(lo, hi, bins + 1)


def drawable(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), or nothing when no y is finite: pyqtgraph cannot bound an all-NaN series
    (its symbols raise in boundingRect during paint, printed on stderr)."""
    return (x, y) if np.isfinite(y).any() else (np.zeros(0), np.zeros(0))


def isolated(y: np.ndarray) -> np.ndarray:
    """Mask of the finite values with no finite neighbour on either side: a line joining only
    finite points (connect="finite") draws nothing for them, so they need a symbol."""
    ok = np.isfinite(np.asarray(y, dtype=np.float64))
    before = np.concatenate(([False], ok[:-1]))
    after = np.concatenate((ok[1:], [False]))
    return ok & ~before & ~after


def least_covered(boxes: list[tuple[float, float, float, float]], x: np.ndarray, y: np.ndarray) -> int:
    """Index of the box (x0, x1, y0, y1) that holds the fewest of the points (x, y) (the first on a tie)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    counts = [int(np.count_nonzero((x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))) for x0, x1, y0, y1 in boxes]
    return counts.index(min(counts))


def along(x: np.ndarray, y: np.ndarray, per_unit: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """Points along the line through the finite (x, y), `per_unit` per unit of x: what a drawn curve covers."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 2:
        return x, y
    fine = np.linspace(x[0], x[-1], max(2, int((x[-1] - x[0]) * per_unit) + 1))
    return fine, np.interp(fine, x, y)


def safe_log10(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log10 of the positive finite entries with NaN elsewhere, zero mask, non-finite mask)."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    zero = x == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(~bad & (x > 0), np.log10(np.where(x > 0, x, 1.0)), np.nan)
    return out, zero, bad


def auto_layers(depth: int, n: int = 5) -> list[int]:
    """A spread of 1-based layers: first, last and evenly between."""
    return sorted({int(round(v)) for v in np.linspace(1, depth, min(n, depth))})


def nan_min_max(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise min and max ignoring NaN; NaN where a row has no number (no warning)."""
    has = ~np.isnan(x).all(axis=1)
    lo, hi = np.full(len(x), np.nan), np.full(len(x), np.nan)
    lo[has], hi[has] = np.nanmin(x[has], axis=1), np.nanmax(x[has], axis=1)
    return lo, hi


def colour_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map values on [lo, hi] to colour indices 1..254 (uint8), clipped: 1 + 253·(v − lo)/(hi − lo).

    NaN and −Inf map to 1, +Inf to 254; callers set 0 and 255 for their special cells.
    """
    scaled = (np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) * (253.0 / max(hi - lo, 1e-12)) + 1.0
    return np.clip(scaled, 1, 254).astype(np.uint8)


def short_number(x: float) -> str:
    """`x` in three significant digits ('0.123', '-1.23e-05'), or 'nan' / 'inf' / '-inf'."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"


SPAN_DECADES = 2.0   # a quantity spanning more than this many decades goes on a log or per-layer scale


def spans_decades(values: np.ndarray, decades: float = SPAN_DECADES) -> bool:
    """Whether the positive finite `values` span more than `decades` decades: max / min > 10**decades."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    return bool(v.size) and float(v.max()) > float(v.min()) * 10.0 ** decades


def layer_scales(std: np.ndarray) -> np.ndarray:
    """Each layer's unit for a per-layer axis: its std where positive and finite, else 1
    (a layer of equal values, or NaN, is drawn as it is)."""
    s = np.asarray(std, dtype=np.float64)
    return np.where(np.isfinite(s) & (s > 0), s, 1.0)
