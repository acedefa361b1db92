"""Grid axes: ``FIELD=LO:HI:N[:log]`` specs, their values, and the cells of a grid.

An axis is any numeric `SimConfig` field, or one of the mean-field coordinates
`sigma_w2` (σ_w² of the hidden layers, set through the init scheme's gain or std by
`core.theory.config_for`) and `sigma_b2` (σ_b² = bias_std²). Values are

    linear:  LO + (HI − LO)·i/(N − 1)          i = 0..N−1
    log:     LO·(HI/LO)^(i/(N − 1))

(N = 1 gives LO). Integer fields round each value and refuse specs whose rounded
values repeat. Every mistake raises `GridError` with one line naming the spec.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, fields
from typing import Any

from ..config import ConfigError, SimConfig, _suggest
from .. import theory

MEAN_FIELD_AXES = ("sigma_w2", "sigma_b2")
NUMERIC_FIELDS = tuple(f.name for f in fields(SimConfig) if f.type in ("int", "float"))
AXIS_FIELDS = NUMERIC_FIELDS + MEAN_FIELD_AXES
MAX_AXIS_POINTS = 1000


class GridError(ValueError):
    """A grid cannot be defined or run as asked; the message is one line for the user."""


@dataclass(frozen=True)
class Axis:
    """One axis of a grid: `field` takes `values` (ascending); `log` says how they are spaced."""

    field: str
    values: tuple[float, ...]
    log: bool = False

    @property
    def is_integer(self) -> bool:
        return self.field in NUMERIC_FIELDS and _kind(self.field) == "int"

    @property
    def label(self) -> str:
        """The axis title: σ_w² and σ_b² for the mean-field coordinates, else the field name."""
        return {"sigma_w2": "σ_w²", "sigma_b2": "σ_b²"}.get(self.field, self.field)

    def spec(self) -> str:
        """The spec text that gives this axis back (for saved files)."""
        lo, hi = self.values[0], self.values[-1]
        return f"{self.field}={lo:g}:{hi:g}:{len(self.values)}" + (":log" if self.log else "")

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "values": list(self.values), "log": self.log}


def _kind(name: str) -> str:
    return next(f.type for f in fields(SimConfig) if f.name == name)


def parse_axis(text: str, option: str = "axis") -> Axis:
    """The `Axis` of a ``FIELD=LO:HI:N[:log]`` spec; `option` (e.g. '--x') prefixes errors."""
    head = f"{option} {text!r}"
    if "=" not in text:
        raise GridError(f"{head}: expected FIELD=LO:HI:N[:log], e.g. depth=10:100:10")
    name, rest = (s.strip() for s in text.split("=", 1))
    if name not in AXIS_FIELDS:
        raise GridError(f"{head}: unknown field {name!r}; a numeric config field is needed"
                        + _suggest(name, AXIS_FIELDS))
    parts = [p.strip() for p in rest.split(":")]
    log = len(parts) == 4 and parts[3].lower() == "log"
    if len(parts) not in (3, 4) or (len(parts) == 4 and not log):
        raise GridError(f"{head}: expected LO:HI:N or LO:HI:N:log after '{name}='")
    try:
        lo, hi = float(parts[0]), float(parts[1])
    except ValueError:
        raise GridError(f"{head}: LO and HI must be numbers, got {parts[0]!r} and {parts[1]!r}") from None
    try:
        n = int(parts[2])
    except ValueError:
        raise GridError(f"{head}: N must be a whole number of points, got {parts[2]!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise GridError(f"{head}: LO and HI must be finite numbers")
    if not 1 <= n <= MAX_AXIS_POINTS:
        raise GridError(f"{head}: N must be 1..{MAX_AXIS_POINTS}, got {n}")
    if lo > hi:
        raise GridError(f"{head}: LO {lo:g} is above HI {hi:g}; write the axis from low to high")
    if log and lo <= 0:
        raise GridError(f"{head}: log spacing needs LO and HI > 0, got LO = {lo:g}")
    if n == 1:
        raw = [lo]
    elif log:
        raw = [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]
    else:
        raw = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    axis = Axis(name, tuple(raw), log)
    if axis.is_integer:
        ints = tuple(int(round(v)) for v in raw)
        if len(set(ints)) != len(ints):
            raise GridError(f"{head}: {name} is an integer and {n} points between {lo:g} and {hi:g} repeat "
                            f"after rounding; use N <= {len(set(ints))}")
        axis = Axis(name, tuple(float(v) for v in ints), log)
    return axis


def apply_axis(cfg: SimConfig, field: str, value: float) -> SimConfig:
    """`cfg` with the axis `field` set to `value` (validated: ConfigError names the field)."""
    if field == "sigma_w2":
        return cfg.replace(**theory.config_for(cfg, value, cfg.bias_std ** 2))
    if field == "sigma_b2":
        if value < 0:
            raise ConfigError("sigma_b2", f"{value:g} is out of range; allowed >= 0")
        return cfg.replace(bias_std=math.sqrt(value))
    return cfg.replace(**{field: int(round(value)) if _kind(field) == "int" else value})


@dataclass(frozen=True)
class Cell:
    """One training of a grid: column ix, row iy, seed index k, and its full config."""

    ix: int
    iy: int
    k: int
    x: float
    y: float
    config: SimConfig

    @property
    def key(self) -> tuple[int, int, int]:
        return (self.ix, self.iy, self.k)


@dataclass(frozen=True)
class GridSpec:
    """A grid: the base config, two axes, the training length and the number of seeds per cell.

    Seed k of a cell trains with config.seed = base.seed + k, so every result is fixed
    by the spec, wherever it runs.
    """

    base: SimConfig
    x: Axis
    y: Axis
    steps: int
    seeds: int = 1

    def __post_init__(self) -> None:
        if self.steps < 1:
            raise GridError(f"--steps must be at least 1, got {self.steps}")
        if self.seeds < 1:
            raise GridError(f"--seeds must be at least 1, got {self.seeds}")
        if self.x.field == self.y.field:
            raise GridError(f"--x and --y both set {self.x.field!r}; the two axes need different fields")

    def config_at(self, x: float, y: float, k: int = 0) -> SimConfig:
        """The config of the cell at axis values (x, y), seed index k.

        A mean-field axis (sigma_w2, sigma_b2) is applied after the other one, so that the gain
        is set for the cell's own width and init (config_for reads them)."""
        cfg = self.base.replace(seed=self.base.seed + k)
        pairs = sorted(((self.x, x), (self.y, y)), key=lambda p: p[0].field in MEAN_FIELD_AXES)
        for axis, value in pairs:
            try:
                cfg = apply_axis(cfg, axis.field, value)
            except ConfigError as exc:
                raise GridError(f"{axis.field} = {value:g} gives an invalid config: {exc}") from None
        return cfg

    def cells(self) -> list["Cell"]:
        """Every cell, row by row (y outer, x inner, then seeds); GridError on the first invalid one."""
        return [Cell(ix, iy, k, x, y, self.config_at(x, y, k))
                for iy, y in enumerate(self.y.values) for ix, x in enumerate(self.x.values)
                for k in range(self.seeds)]

    @property
    def size(self) -> int:
        return len(self.x.values) * len(self.y.values) * self.seeds

    @property
    def grid_id(self) -> str:
        """A short fingerprint of everything that fixes the results (to refuse resuming another grid)."""
        text = json.dumps({"base": self.base.to_dict(), "x": self.x.to_dict(), "y": self.y.to_dict(),
                           "steps": self.steps}, sort_keys=True)
        return hashlib.sha1(text.encode()).hexdigest()[:12]

    def to_dict(self) -> dict[str, Any]:
        return {"config": self.base.to_dict(), "x": self.x.to_dict(), "y": self.y.to_dict(),
                "steps": self.steps, "seeds": self.seeds, "grid_id": self.grid_id}
