"""Mean-field prediction per grid cell, and the depth boundary fitted to a measured map.

For an MLP with hidden σ_w², σ_b² (Schoenholz et al. 2017, "Deep Information Propagation"):

    χ₁   = σ_w² E[φ′(√q* z)²]                          at the length fixed point q*
    c*   the stable fixed point of the correlation map
         c ← (σ_w² E[φ(u₁)φ(u₂)] + σ_b²) / q*,   u₁ = √q* z₁,  u₂ = √q*(c z₁ + √(1−c²) z₂)
    χ_c  = σ_w² E[φ′(u₁)φ′(u₂)]  at c*                  (= χ₁ in the ordered phase, where c* = 1)
    ξ_c  = −1/ln χ_c                                   the depth over which correlations are forgotten

A network is predicted trainable while its depth L ≤ c·ξ_c; the paper's maps give c ≈ 6.
ξ_c is finite on both sides of the edge of chaos (χ₁ = 1) and diverges there. Where c* = 1
is the only fixed point with χ₁ > 1 (unbounded φ such as ReLU, whose q* grows without bound)
ξ_c is undefined (NaN).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

import numpy as np
import torch

from ..activations import ACTIVATIONS
from ..config import SimConfig
from .. import theory
from .cell import one_torch_thread

DEFAULT_C = 6.0
N_HERMITE = 64
_Z, _W = np.polynomial.hermite_e.hermegauss(N_HERMITE)
_W = _W / math.sqrt(2.0 * math.pi)                       # weights of E[f(z)], z ~ N(0, 1)
Z1, Z2 = np.meshgrid(_Z, _Z, indexing="ij")
W2 = np.outer(_W, _W)


def applies(cfg: SimConfig) -> bool:
    """Whether the prediction describes `cfg` (a plain MLP the mean-field recursion covers)."""
    return cfg.architecture == "mlp" and theory.not_applicable(cfg) is None


def _phi(name: str, slope: float, u: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return ACTIVATIONS[name].make(slope)(torch.from_numpy(u)).numpy()


def _dphi(name: str, slope: float, u: np.ndarray) -> np.ndarray:
    return ACTIVATIONS[name].derivative(torch.from_numpy(u), slope).numpy()


def correlation_map(name: str, slope: float, sw2: float, sb2: float, q: float, c: float) -> tuple[float, float]:
    """(c_next, χ at c): one step of the correlation map at correlation c, and its slope
    σ_w² E[φ′(u₁)φ′(u₂)], with 2-D Gauss–Hermite quadrature (N_HERMITE² nodes).

    The map divides by σ_w² E[φ(u₁)²] + σ_b² from the same quadrature (= q* at the fixed point),
    so that c = 1 maps to 1 exactly and the map's small errors cancel near c = 1."""
    s = math.sqrt(q)
    u1 = s * Z1
    u2 = s * (c * Z1 + math.sqrt(max(1.0 - c * c, 0.0)) * Z2)
    f1, f2 = _phi(name, slope, u1), _phi(name, slope, u2)
    d1, d2 = _dphi(name, slope, u1), _dphi(name, slope, u2)
    norm = sw2 * float((W2 * f1 * f1).sum()) + sb2
    c_next = (sw2 * float((W2 * f1 * f2).sum()) + sb2) / norm if norm > 0 else 1.0
    return c_next, sw2 * float((W2 * d1 * d2).sum())


@dataclass(frozen=True)
class Prediction:
    """The mean-field numbers of one config (NaN where undefined)."""

    sigma_w2: float
    sigma_b2: float
    chi1: float
    chi_c: float
    xi_c: float

    def boundary(self, c: float = DEFAULT_C) -> float:
        """The predicted trainable depth c·ξ_c."""
        return c * self.xi_c


def predict(cfg: SimConfig) -> Prediction:
    """χ₁, χ_c and ξ_c for the hidden layers of `cfg` (NaN for configs the theory does not cover)."""
    sw2, sb2 = theory.hidden_sigma_w2(cfg), cfg.bias_std ** 2
    if not applies(cfg):
        return Prediction(sw2, sb2, math.nan, math.nan, math.nan)
    with one_torch_thread():
        chi1, chi_c = _chis(cfg.activation, cfg.leaky_slope, sw2, sb2)
    xi = -1.0 / math.log(chi_c) if 0.0 < chi_c < 1.0 else (math.inf if chi_c == 1.0 else math.nan)
    return Prediction(sw2, sb2, chi1, chi_c, xi)


C_BISECTIONS = 50
C_EDGE = 1e-9   # c* above 1 − C_EDGE is as good as 1: χ_c is read at 1 − C_EDGE


@lru_cache(maxsize=4096)
def _chis(name: str, slope: float, sw2: float, sb2: float) -> tuple[float, float]:
    """(χ₁, χ_c). In the chaotic phase c* is found by bisection on c_map(c) − c over [0, 1 − C_EDGE]:
    c_map(0) = (σ_w² E[φ]² + σ_b²)/q* ≥ 0, and just below 1 the map lies under the diagonal (slope χ₁ > 1)."""
    q = float(theory.fixed_point(name, slope, np.array(sw2), np.array(sb2)))
    chi1 = float(sw2 * theory.table(name, slope)("d2", np.array(q)))
    if not (chi1 > 1.0 and 0.0 < q < theory.Q_MAX):
        return chi1, chi1 if chi1 <= 1.0 else math.nan
    lo, hi = 0.0, 1.0 - C_EDGE
    c_top, chi_top = correlation_map(name, slope, sw2, sb2, q, hi)
    if c_top >= hi:
        return chi1, min(chi_top, 1.0)
    if correlation_map(name, slope, sw2, sb2, q, lo)[0] <= lo:
        return chi1, correlation_map(name, slope, sw2, sb2, q, lo)[1]
    for _ in range(C_BISECTIONS):
        mid = 0.5 * (lo + hi)
        if correlation_map(name, slope, sw2, sb2, q, mid)[0] > mid:
            lo = mid
        else:
            hi = mid
    return chi1, correlation_map(name, slope, sw2, sb2, q, 0.5 * (lo + hi))[1]


@dataclass(frozen=True)
class BoundaryFit:
    """The c of L = c·ξ_c that best separates trained from untrained cells.

    c: middle of the best range (None when the best range is open at either end of the
    candidates, i.e. the map does not pin c down); lo, hi: the range of c with the fewest
    disagreements; errors: how many cells disagree there, of n; errors_default: at DEFAULT_C.
    """

    c: float | None
    lo: float
    hi: float
    errors: int
    n: int
    errors_default: int

    def to_dict(self) -> dict[str, object]:
        return {"c": self.c, "c_lo": self.lo, "c_hi": self.hi, "errors": self.errors, "cells": self.n,
                "errors_at_default_c": self.errors_default, "default_c": DEFAULT_C}


C_CANDIDATES = np.round(np.arange(0.25, 40.0 + 1e-9, 0.05), 2)


def trained_threshold(n_classes: int, fraction: float = 0.5) -> float:
    """The accuracy a cell must reach to count as trained: `fraction` of the way from chance to 1."""
    chance = 1.0 / n_classes
    return chance + fraction * (1.0 - chance)


def fit_c(depths: Sequence[float], xis: Sequence[float], trained: Sequence[bool],
          candidates: Iterable[float] = C_CANDIDATES) -> BoundaryFit | None:
    """Best c over `candidates`: predicted trained ⇔ depth ≤ c·ξ_c, counted against `trained`.
    Cells with an undefined ξ_c are left out; None when no cell is left."""
    d, xi, ok = (np.asarray(a, dtype=np.float64) for a in (depths, xis, trained))
    keep = ~np.isnan(xi)   # an infinite ξ_c (exactly critical) predicts every depth trainable
    d, xi, ok = d[keep], xi[keep], ok[keep].astype(bool)
    if len(d) == 0:
        return None
    cand = np.asarray(list(candidates), dtype=np.float64)
    predicted = d[None, :] <= cand[:, None] * xi[None, :]                  # [candidates, cells]
    errors = (predicted != ok[None, :]).sum(1)
    best = int(errors.min())
    at = np.flatnonzero(errors == best)
    run_end = at[0]
    while run_end + 1 < len(cand) and errors[run_end + 1] == best:     # the first run of the minimum
        run_end += 1
    lo, hi = float(cand[at[0]]), float(cand[run_end])
    open_ended = at[0] == 0 or run_end == len(cand) - 1
    default = int((( d <= DEFAULT_C * xi) != ok).sum())
    return BoundaryFit(None if open_ended else round((lo + hi) / 2, 2), lo, hi, best, len(d), default)


def boundary_curve(spec, c: float = DEFAULT_C) -> tuple[str, list[float], list[float]] | None:
    """The predicted boundary L = c·ξ_c along a grid's non-depth axis: ('x' or 'y' for that axis,
    its values, the boundary depths), leaving out values without a prediction. None unless one
    axis of `spec` (a GridSpec) is depth."""
    if "depth" not in (spec.x.field, spec.y.field):
        return None
    along = "x" if spec.y.field == "depth" else "y"
    other, depth = (spec.x, spec.y) if along == "x" else (spec.y, spec.x)
    values, depths = [], []
    for v in other.values:
        cfg = spec.config_at(v, depth.values[0]) if along == "x" else spec.config_at(depth.values[0], v)
        xi = predict(cfg).xi_c
        if not math.isnan(xi):
            values.append(v)
            depths.append(c * xi)
    return along, values, depths
