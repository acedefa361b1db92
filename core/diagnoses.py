"""Automatic diagnoses: what a Snapshot shows is wrong, and where, one line each.

`diagnose(snapshot, config)` reads only the snapshot's small per-layer arrays
(pure NumPy, O(depth)), so the GUI can call it on every redraw. Layers are
numbered from 1 (input side); flagged layers that are contiguous are reported
as one range ("layers 1–12"), in the architecture's own noun: a recurrent
network's entries are its time steps ("time steps 1–12"), a transformer's its
blocks, a CNN's its conv layers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .architectures import layer_noun
from .config import SimConfig
from .report import nonfinite_location, nonfinite_quantity
from .snapshot import Snapshot
from .stats import SATURATION_FRACTION

# --- thresholds (each with its source) -------------------------------------------------
# Vanishing: a layer's ‖∂L/∂z‖ below this fraction of the last hidden layer's (the snapshot's
# output-side reference; the readout is not a hidden layer): an error at six decades, where
# IMBALANCE_RATIO already warns at two.
VANISHING_RATIO = 1e-6
# Exploding: above this multiple of the last hidden layer's; the mirror image of VANISHING_RATIO.
EXPLODING_RATIO = 1e6
# Weaker imbalance, reported as a warning: the gradient plot's blue/red bands (100× either way).
IMBALANCE_RATIO = 1e2
# Saturation: stats counts an entry as saturated where |φ′| < SATURATION_FRACTION · max|φ′|. For tanh,
# 1 − t² < 0.05 ⟺ |t| > √0.95 ≈ 0.975: the makemore lecture's "|t| > 0.97" rule (Karpathy, "Building
# makemore part 3"), so the two definitions agree and this module reuses the one in stats.
SATURATED_TANH = math.sqrt(1.0 - SATURATION_FRACTION)
# A layer is reported when more than this share of its values is saturated (our choice: the lecture
# only says a well-initialized tanh layer should have few values in the tails).
SATURATED_LAYER_SHARE = 0.2
# Saturation only means "stuck" for activations that flatten out on both sides.
SATURATING_ACTIVATIONS = ("sigmoid", "tanh")
# Dead: a unit whose φ′ is 0 for every example of the batch (stats.dead_frac).
# Reported above this share of the layer (our choice: a freshly He-initialized deep ReLU net on 2-D
# data already has up to ~45 % of units silent over a batch of 128, measured on the spirals).
DEAD_LAYER_SHARE = 0.5
# update:data ratio ‖ΔW‖/‖W‖ per step: about 1e-3 is healthy (makemore lecture's rule of thumb, where
# it is std(lr·grad)/std(W); for zero-mean weights the two ratios coincide). Reported when more than
# UPDATE_RATIO_DECADES decades away from it either way.
UPDATE_RATIO_GUIDE = 1e-3
UPDATE_RATIO_DECADES = 1.5
# Identical units: LayerStats.unit_spread (core/symmetry.py) is 0 when every unit of a layer is a copy
# of one unit. Copies differ only by float32 round-off (a constant init measures exactly 0, and at most
# ~1e-6 after training), while independently initialized units measure about 1 (0.88 or more in every
# scenario, before and after its steps): 1e-3 sits three decades from each.
IDENTICAL_UNITS_SPREAD = 1e-3

# More ranges than this for one kind (scattered layers) are reported as one line over their span.
MAX_RANGES = 3

SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class Diagnosis:
    """One finding: `kind` (e.g. 'vanishing'), `severity` ('error' or 'warning'),
    the 1-based layer range `first`..`last` (None when not about layers) and a one-line `message`."""

    kind: str
    severity: str
    first: int | None
    last: int | None
    message: str


def layer_ranges(mask: np.ndarray) -> list[tuple[int, int]]:
    """Contiguous runs of True in `mask` as 1-based inclusive (first, last) pairs."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.concatenate(([idx[0]], idx[breaks + 1]))
    ends = np.concatenate((idx[breaks], [idx[-1]]))
    return [(int(a) + 1, int(b) + 1) for a, b in zip(starts, ends)]


def _where(first: int, last: int, noun: str) -> str:
    return f"{noun} {first}" if first == last else f"{noun}s {first}–{last}"


def _decade(x: float) -> str:
    """1e-1 style: the power of ten nearest to x (0 and inf as they are)."""
    return f"1e{round(math.log10(x))}" if 0 < x < math.inf else f"{x:g}"


def _ranges(kind: str, severity: str, mask: np.ndarray, text, noun: str) -> list[Diagnosis]:
    """One Diagnosis per contiguous range of `mask` (one over the whole span when the flagged layers
    are scattered in more than MAX_RANGES pieces); `text(idx, where)` words the finding for the
    0-based layers idx, described as `where` (with `noun` for a layer)."""
    idx = np.flatnonzero(mask)
    if len(idx) == 0:
        return []
    if np.count_nonzero(np.diff(idx) > 1) >= MAX_RANGES:
        a, b = int(idx[0]) + 1, int(idx[-1]) + 1
        return [Diagnosis(kind, severity, a, b, text(idx, f"{len(idx)} of {noun}s {a}–{b}"))]
    ranges = layer_ranges(mask)
    return [Diagnosis(kind, severity, a, b, text(np.arange(a - 1, b), _where(a, b, noun))) for a, b in ranges]


def diagnose(snapshot: Snapshot, config: SimConfig) -> list[Diagnosis]:
    """Everything the snapshot shows to be wrong, errors first, each layer range once per kind."""
    out: list[Diagnosis] = []
    ls = snapshot.layers
    noun = layer_noun(config.architecture)
    last = f"the last {noun}'s"

    def ranges(kind: str, severity: str, mask: np.ndarray, text) -> list[Diagnosis]:
        return _ranges(kind, severity, mask, text, noun)

    if snapshot.nonfinite:
        out.append(Diagnosis("nonfinite", "error", snapshot.nonfinite_layer, snapshot.nonfinite_layer,
                             f"non-finite {nonfinite_quantity(snapshot)} at {nonfinite_location(snapshot, noun)}"))
    g = ls.grad_norm
    finite = np.isfinite(g)
    ref = float(g[-1]) if len(g) else 0.0
    if ref == 0.0:
        out += ranges("zero_gradient", "error", finite & (g == 0),
                      lambda idx, w: f"{w}: gradients exactly 0 (no update can reach these weights)")
    elif math.isfinite(ref):
        with np.errstate(invalid="ignore"):
            ratio = g / ref
        out += ranges("vanishing", "error", finite & (ratio < VANISHING_RATIO),
                      lambda idx, w: f"{w}: gradients exactly 0" if not g[idx].any() else
                      f"{w}: gradients below {_decade(VANISHING_RATIO)} of {last} (vanishing)")
        out += ranges("exploding", "error", finite & (ratio > EXPLODING_RATIO),
                      lambda idx, w: f"{w}: gradients above {_decade(EXPLODING_RATIO)}× {last} (exploding)")
        weak = finite & (ratio >= VANISHING_RATIO) & (ratio < 1 / IMBALANCE_RATIO)
        out += ranges("weak_gradient", "warning", weak,
                      lambda idx, w: f"{w}: gradients below 1/{IMBALANCE_RATIO:g} of {last}")
        strong = finite & (ratio <= EXPLODING_RATIO) & (ratio > IMBALANCE_RATIO)
        out += ranges("strong_gradient", "warning", strong,
                      lambda idx, w: f"{w}: gradients above {IMBALANCE_RATIO:g}× {last}")
    with np.errstate(invalid="ignore"):  # NaN (one unit, no variance, non-finite) says nothing
        identical = ls.unit_spread < IDENTICAL_UNITS_SPREAD
    out += ranges("identical_units", "error", identical,
                  lambda idx, w: f"{w}: all units identical (symmetry not broken)")
    if config.activation in SATURATING_ACTIVATIONS:
        sat = ls.saturated_frac
        out += ranges("saturated", "warning", sat > SATURATED_LAYER_SHARE,
                      lambda idx, w: f"{w}: {np.mean(sat[idx]):.0%} saturated ({config.activation})")
    dead = ls.dead_frac
    # for a saturating activation a "dead" unit is one pinned flat (φ′ = 0 in float32) on every example
    what = "units stuck flat" if config.activation in SATURATING_ACTIVATIONS else "dead units"
    out += ranges("dead", "warning", dead > DEAD_LAYER_SHARE,
                  lambda idx, w: f"{w}: {np.mean(dead[idx]):.0%} {what} ({config.activation})")
    if snapshot.has_update:
        u = ls.update_to_weight
        with np.errstate(divide="ignore", invalid="ignore"):
            decades = np.log10(u / UPDATE_RATIO_GUIDE)
        ok = ~np.isnan(decades)  # 0/0 (zero weights) says nothing; an update of exactly 0 is "too low"
        low = ok & (decades < -UPDATE_RATIO_DECADES)
        # where the gradient itself is small (weak, vanishing or 0), raising the learning rate is not the cure
        with np.errstate(divide="ignore", invalid="ignore"):
            small_grad = finite & (g == 0) | (finite & (g / ref < 1 / IMBALANCE_RATIO) if ref > 0 else False)
        for kind, mask, why in (("update_high", ok & (decades > UPDATE_RATIO_DECADES), "learning rate too high"),
                                ("update_low", low & ~small_grad, "learning rate too low"),
                                ("update_low", low & small_grad, "small gradients there, not the learning rate")):
            out += ranges(kind, "warning", mask, lambda idx, w, why=why: (
                f"update:data ratio {_decade(float(np.median(u[idx])))} in {w} ({why})"))
    out.sort(key=lambda d: SEVERITIES.index(d.severity))
    return out


def format_diagnoses(diagnoses: list[Diagnosis]) -> str:
    """One 'severity: message' line per diagnosis, or a line saying nothing was found."""
    if not diagnoses:
        return "ok: no problems found\n"
    return "".join(f"{d.severity}: {d.message}\n" for d in diagnoses)
