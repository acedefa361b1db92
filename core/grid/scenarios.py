"""Bundled grid scenarios: ``resources/grids/NAME.json``.

    {"schema": 1, "title": str, "config": {SimConfig fields}, "x": "FIELD=LO:HI:N[:log]",
     "y": "FIELD=LO:HI:N[:log]", "steps": int, "seeds": int, "metric": one of METRICS,
     "explanation": str}

They live apart from the teaching scenarios (core.scenarios), whose steps run one network.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, SimConfig, _suggest
from ..data import RESOURCES
from .output import METRICS
from .spec import GridError, GridSpec, parse_axis

GRID_DIR = RESOURCES / "grids"
_KEYS = ("schema", "title", "config", "x", "y", "steps", "seeds", "metric", "explanation")


@dataclass(frozen=True)
class GridScenario:
    name: str
    title: str
    spec: GridSpec
    metric: str
    explanation: str


def grid_scenario_names(folder: Path = GRID_DIR) -> tuple[str, ...]:
    return tuple(sorted(p.stem for p in folder.glob("*.json")))


def load_grid_scenario(name: str, folder: Path = GRID_DIR) -> GridScenario:
    """The grid scenario `name`; GridError naming the file and field when it is unknown or malformed."""
    names = grid_scenario_names(folder)
    if name not in names:
        raise GridError(f"unknown grid scenario {name!r}" + _suggest(name, names))
    path = folder / f"{name}.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise GridError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(data, dict) or set(data) != set(_KEYS):
        raise GridError(f"{path.name}: expected exactly the fields {', '.join(_KEYS)}")
    if data["metric"] not in METRICS:
        raise GridError(f"{path.name}: field 'metric': unknown {data['metric']!r}" + _suggest(data["metric"], METRICS))
    try:
        config = SimConfig.from_dict({**SimConfig().to_dict(), **data["config"]})
    except (ConfigError, TypeError) as exc:
        raise GridError(f"{path.name}: field 'config': {exc}") from None
    try:
        spec = GridSpec(config, parse_axis(data["x"], "x"), parse_axis(data["y"], "y"),
                        int(data["steps"]), int(data["seeds"]))
    except GridError as exc:
        raise GridError(f"{path.name}: {exc}") from None
    return GridScenario(name, str(data["title"]), spec, data["metric"], str(data["explanation"]))
