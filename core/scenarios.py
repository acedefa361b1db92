"""Teaching scenarios: a config, how long to run it, and what it should show.

Each scenario is one JSON file ``resources/scenarios/NAME.json``::

    {"schema": 1, "lesson": "3b", "title": "3b. ...", "config": {SimConfig fields; omitted ones take
     defaults}, "steps": int (0 = probe only), "explanation": str, "predict": str,
     "look_for": [{"plot": one of PLOTS, "what": str}, ...],
     "open": [one of VIEWS, ...] (optional), "scales": {one of SCALES: [lo, hi], ...} (optional)}

`open` names the views the window opens when the scenario is loaded (the Layer table, the
Spectrum dock, the Gradient noise tab, ...). `scales` fixes axis and colour ranges for the window's
"lock scales" mode, so that two scenarios' pictures share them: "activations" the activation value
axis of the activation map and histograms, "gradients" the norm axis of the gradient plot
(positive norms, drawn on a log axis), "loss" the loss axis.

`lesson` is the scenario's place in the course: a chapter number and a letter ("3b" comes
after "3a" and before "10a"); the title starts with it. `SCENARIOS` maps each NAME to its
`Scenario` and iterates in lesson order (`lesson_order()`); the folder is listed when the
registry is first used and each file is parsed when first asked for, so one damaged file
cannot hide the others (it sorts last). `load_scenario(name)` raises `ConfigError`
("scenario", ...) for an unknown name or a malformed file, naming the file and field.
"""
from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import ConfigError, SimConfig, _suggest
from .data import RESOURCES

SCHEMA = 1
SCENARIO_DIR = RESOURCES / "scenarios"
# The plots a "look_for" entry may point at; every scenario file names its plots from this list.
PLOTS = ("activations", "gradients", "grad_history", "loss", "updates", "table", "spectrum", "noise",
         "diagnoses", "theory", "jacobian")
_KEYS = ("schema", "lesson", "title", "config", "steps", "explanation", "predict", "look_for")
_OPTIONAL = ("open", "scales")
# The views a scenario may open on loading, and the ranges it may fix (see the module docstring).
VIEWS = ("table", "spectrum", "noise", "diagnoses", "theory")
SCALES = ("activations", "gradients", "loss")
LESSON_PATTERN = re.compile(r"([1-9][0-9]?)([a-z])")  # chapter 1-99, then a letter: "3b", "10a"


def lesson_key(lesson: str) -> tuple[int, str]:
    """Sort key of a lesson number: ("3b" → (3, "b")), so that 9a < 10a."""
    match = LESSON_PATTERN.fullmatch(lesson)
    if match is None:
        raise ValueError(f"not a lesson number: {lesson!r} (expected a chapter and a letter, e.g. '3b')")
    return int(match.group(1)), match.group(2)


@dataclass(frozen=True)
class LookFor:
    """Where to look (`plot`, one of PLOTS) and what to see there."""

    plot: str
    what: str


@dataclass(frozen=True)
class Scenario:
    """A named experiment for a class: run `config` for `steps` steps (0: probe only)."""

    name: str
    lesson: str
    title: str
    config: SimConfig
    steps: int
    explanation: str
    predict: str
    look_for: tuple[LookFor, ...]
    open: tuple[str, ...] = ()
    scales: Mapping[str, tuple[float, float]] | None = None


def _bad(source: str, field: str, message: str) -> ConfigError:
    return ConfigError("scenario", f"{source}: field {field!r}: {message}")


def _text(data: Mapping[str, Any], key: str, source: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _bad(source, key, f"expected a non-empty string, got {value!r}")
    return value.strip()


def parse_scenario(name: str, data: Any, source: str = "") -> Scenario:
    """Build a Scenario from the decoded JSON `data`; `source` names the file in errors."""
    source = source or f"{name}.json"
    if not isinstance(data, dict):
        raise ConfigError("scenario", f"{source}: expected a JSON object, got {type(data).__name__}")
    for key in data:
        if key not in _KEYS + _OPTIONAL:
            raise _bad(source, key, "unknown field" + _suggest(key, _KEYS + _OPTIONAL))
    for key in _KEYS:
        if key not in data:
            raise _bad(source, key, "missing")
    if data["schema"] != SCHEMA:
        raise _bad(source, "schema", f"version {data['schema']!r} is not supported (this program reads {SCHEMA})")
    lesson = data["lesson"]
    if not isinstance(lesson, str) or LESSON_PATTERN.fullmatch(lesson) is None:
        raise _bad(source, "lesson", f"expected a chapter number and a letter such as \"3b\", got {lesson!r}")
    title = _text(data, "title", source)
    if not title.startswith(f"{lesson}. "):
        raise _bad(source, "title", f"expected to start with the lesson number {lesson + '. '!r}, got {title!r}")
    try:
        config = SimConfig.from_partial(_mapping(data["config"], source))
    except ConfigError as exc:
        raise _bad(source, f"config.{exc.field}", str(exc).split(": ", 1)[-1]) from None
    steps = data["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
        raise _bad(source, "steps", f"expected an integer >= 0, got {steps!r}")
    look_for = data["look_for"]
    if not isinstance(look_for, list) or not look_for:
        raise _bad(source, "look_for", "expected a non-empty list of {\"plot\": ..., \"what\": ...}")
    items = []
    for i, item in enumerate(look_for):
        field = f"look_for[{i}]"
        if not isinstance(item, dict) or set(item) != {"plot", "what"}:
            raise _bad(source, field, f"expected an object with exactly 'plot' and 'what', got {item!r}")
        if item["plot"] not in PLOTS:
            raise _bad(source, f"{field}.plot", f"unknown plot {item['plot']!r}" + _suggest(item["plot"], PLOTS))
        items.append(LookFor(item["plot"], _text(item, "what", f"{source} {field}")))
    return Scenario(name=name, lesson=lesson, title=title, config=config, steps=steps,
                    explanation=_text(data, "explanation", source), predict=_text(data, "predict", source),
                    look_for=tuple(items), open=_views(data.get("open", []), source),
                    scales=_scales(data["scales"], source) if "scales" in data else None)


def _views(value: Any, source: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(source, "open", f"expected a list of view names from {', '.join(VIEWS)}, got {value!r}")
    for v in value:
        if v not in VIEWS:
            raise _bad(source, "open", f"unknown view {v!r}" + _suggest(v, VIEWS))
    return tuple(value)


def _scales(value: Any, source: str) -> dict[str, tuple[float, float]]:
    if not isinstance(value, dict) or not value:
        raise _bad(source, "scales", f"expected an object such as {{\"activations\": [-1, 1]}} with keys from "
                                     f"{', '.join(SCALES)}, got {value!r}")
    out = {}
    for key, pair in value.items():
        if key not in SCALES:
            raise _bad(source, f"scales.{key}", "unknown scale" + _suggest(key, SCALES))
        ok = (isinstance(pair, list) and len(pair) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in pair))
        if not ok or not pair[0] < pair[1] or (key == "gradients" and pair[0] <= 0):
            need = "two positive numbers [lo, hi] with lo < hi" if key == "gradients" else \
                "two finite numbers [lo, hi] with lo < hi"
            raise _bad(source, f"scales.{key}", f"expected {need}, got {pair!r}")
        out[key] = (float(pair[0]), float(pair[1]))
    return out


def _mapping(value: Any, source: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(source, "config", f"expected a JSON object of SimConfig fields, got {type(value).__name__}")
    return value


def read_scenario(path: Path) -> Scenario:
    """Parse the scenario file at `path` (its name without .json is the scenario's name)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ConfigError("scenario", f"{path.name}: not valid JSON ({exc.msg} at line {exc.lineno} "
                                      f"column {exc.colno})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("scenario", f"cannot read {path}: {exc}") from None
    return parse_scenario(path.stem, data, path.name)


def _peek_lesson(path: Path) -> tuple[int, str] | None:
    """The lesson_key of a scenario file's "lesson" field, or None when the file cannot tell
    (the error is raised when the scenario itself is loaded)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return lesson_key(data["lesson"])
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):  # sorted last; read_scenario says why
        return None


class ScenarioRegistry(Mapping[str, Scenario]):
    """name → Scenario over the *.json files of one folder, in lesson order (files whose lesson
    cannot be read last, by name), listed lazily, each parsed once on first use."""

    def __init__(self, folder: Path):
        self.folder = folder
        self._names: tuple[str, ...] | None = None
        self._cache: dict[str, Scenario] = {}

    def names(self) -> tuple[str, ...]:
        """The scenario names in lesson order."""
        if self._names is None:
            keyed = [(_peek_lesson(p), p.stem) for p in self.folder.glob("*.json")]
            keyed.sort(key=lambda item: (item[0] is None, item[0] or (0, ""), item[1]))
            self._names = tuple(name for _, name in keyed)
        return self._names

    def __getitem__(self, name: str) -> Scenario:
        if name not in self.names():
            raise KeyError(name)
        if name not in self._cache:
            self._cache[name] = read_scenario(self.folder / f"{name}.json")
        return self._cache[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __contains__(self, name: object) -> bool:
        return name in self.names()


SCENARIOS = ScenarioRegistry(SCENARIO_DIR)


def lesson_order() -> tuple[str, ...]:
    """The scenario names in lesson order ("1a", "1b", ..., "10a"): the order of the Scenarios menu."""
    return SCENARIOS.names()


def load_scenario(name: str) -> Scenario:
    """The scenario called `name`; ConfigError('scenario', ...) with the closest valid name if unknown."""
    if name not in SCENARIOS:
        names = list(SCENARIOS)
        if not names:
            raise ConfigError("scenario", f"unknown scenario {name!r}: no scenario files in {SCENARIO_DIR}")
        raise ConfigError("scenario", f"unknown scenario {name!r}" + _suggest(name, names))
    return SCENARIOS[name]
