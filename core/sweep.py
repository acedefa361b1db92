"""Depth sweep: how the first layer's gradient compares with the last's as depth grows.

For each init scheme (or activation) and each depth, a network of exactly that depth
is built from the config and probed once; the value is ‖∂L/∂z¹‖ / ‖∂L/∂z^L‖ of that
probe. Real per-depth networks are used rather than reading every ratio off one deep
probe: the deep probe's ratio for layer l is that of a net whose last L − l layers sit
between layer l and the readout, which is a different network (different readout
input, different loss gradient). To keep the cost down the default depths are a
geometric grid (1, 2, 3, 4, 6, 8, 11, 16, ...), where a log-depth axis needs them.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from .config import ACTIVATION_NAMES, INIT_NAMES, MAX_DEPTH, ConfigError, SimConfig
from .simulator import Simulator
from .snapshot import json_float

OVER = {"init": INIT_NAMES, "activation": ACTIVATION_NAMES}
CSV_COLUMNS = ("over", "name", "depth", "ratio", "first_grad_norm", "last_grad_norm")


class Cancelled(Exception):
    """The sweep was cancelled between two probes."""


def geometric_depths(max_depth: int, per_octave: int = 2) -> list[int]:
    """1..max_depth on a geometric grid with `per_octave` points per doubling, max_depth included."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise ConfigError("max_depth", f"{max_depth} is out of range; allowed 1..{MAX_DEPTH}")
    n = int(math.ceil(per_octave * math.log2(max_depth))) + 1 if max_depth > 1 else 1
    grid = {int(round(2 ** (k / per_octave))) for k in range(n)}
    return sorted(d for d in grid | {max_depth} if d <= max_depth)


def check_depths(depths: Sequence[int]) -> list[int]:
    """Sorted unique depths, each in 1..MAX_DEPTH (ConfigError('depths', ...) otherwise)."""
    if not depths:
        raise ConfigError("depths", "expected at least one depth")
    bad = [d for d in depths if not 1 <= d <= MAX_DEPTH]
    if bad:
        raise ConfigError("depths", f"{bad[0]} is out of range; allowed 1..{MAX_DEPTH}")
    return sorted(set(depths))


@dataclass(frozen=True)
class SweepResult:
    """ratio[name] is an array over `depths` (NaN where the last layer's gradient is 0 or non-finite)."""

    over: str
    depths: tuple[int, ...]
    names: tuple[str, ...]
    ratio: dict[str, np.ndarray]
    first: dict[str, np.ndarray]
    last: dict[str, np.ndarray]

    def rows(self) -> list[dict]:
        """One flat row per (name, depth), for CSV."""
        return [{"over": self.over, "name": n, "depth": d, "ratio": json_float(self.ratio[n][i]),
                 "first_grad_norm": json_float(self.first[n][i]), "last_grad_norm": json_float(self.last[n][i])}
                for n in self.names for i, d in enumerate(self.depths)]

    def to_dict(self) -> dict:
        return {"over": self.over, "depths": list(self.depths),
                "series": {n: [json_float(v) for v in self.ratio[n]] for n in self.names}}


def probe_ratio(cfg: SimConfig) -> tuple[float, float]:
    """(‖∂L/∂z¹‖, ‖∂L/∂z^L‖) of one probe of `cfg`."""
    g = Simulator(cfg).probe().layers.grad_norm
    return float(g[0]), float(g[-1])


def sweep(cfg: SimConfig, depths: Sequence[int], over: str = "init",
          progress: Callable[[int, int], None] | None = None,
          cancelled: Callable[[], bool] | None = None) -> SweepResult:
    """Probe `cfg` at every depth for every init scheme (over='init') or activation.

    `progress(done, total)` is called after each probe; `cancelled()` is checked before
    each one and raises `Cancelled` when true (so a cancel takes effect within one probe).
    """
    if over not in OVER:
        raise ConfigError("over", f"unknown value {over!r}; allowed: {', '.join(OVER)}")
    depths = check_depths(depths)
    names = OVER[over]
    total, done = len(names) * len(depths), 0
    first = {n: np.full(len(depths), np.nan) for n in names}
    last = {n: np.full(len(depths), np.nan) for n in names}
    for name in names:
        for i, depth in enumerate(depths):
            if cancelled is not None and cancelled():
                raise Cancelled()
            first[name][i], last[name][i] = probe_ratio(cfg.replace(**{over: name, "depth": depth}))
            done += 1
            if progress is not None:
                progress(done, total)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = {n: np.where(last[n] > 0, first[n] / last[n], np.nan) for n in names}
    return SweepResult(over, tuple(depths), tuple(names), ratio, first, last)
