"""Saved sessions: one or more named configurations, optionally with their recorded snapshots.

File format (JSON, UTF-8, written atomically)::

    {
      "schema": "vanishing-point/session",   # identifies the file; anything else is refused
      "version": 1,                          # format version; a newer one is refused, not guessed at
      "configs": {                           # one entry per named configuration, in order
        "main": {
          "config": {<SimConfig fields>},    # required; omitted fields take their defaults
          "snapshots": [<Snapshot.to_dict()>, ...],           # optional, oldest first
          "curve": {"step": [...], "loss": [...], "accuracy": [...]}  # optional
        }
      }
    }

A window saves its one configuration as "main"; an A/B comparison saves two
names ("a", "b", ...). `snapshots` are the recorded training snapshots in the
same JSON form as ``python -m core run`` (non-finite numbers as null, with the
non-finite flags and counts kept). `curve` is the loss/accuracy curve over
steps, which may reach further back than the stored snapshots.

Reading is all-or-nothing: a damaged (not JSON, truncated), foreign (JSON but
not a session) or newer-version file, or any bad part inside, raises
`SessionError` naming the problem, and nothing is returned.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from .config import ConfigError, SimConfig
from .files import atomic_write_text
from .snapshot import Snapshot, from_json_float, json_float

SCHEMA = "vanishing-point/session"
VERSION = 1
MAIN = "main"


class SessionError(ConfigError):
    """A session file cannot be read or written; the message says which and why."""

    def __init__(self, message: str):
        super().__init__("session", message)


@dataclass(frozen=True)
class Curve:
    """Loss and accuracy over steps (equal-length tuples)."""

    step: tuple[int, ...] = ()
    loss: tuple[float, ...] = ()
    accuracy: tuple[float, ...] = ()

    def to_dict(self) -> dict[str, list]:
        return {"step": list(self.step), "loss": [json_float(v) for v in self.loss],
                "accuracy": [json_float(v) for v in self.accuracy]}


@dataclass(frozen=True)
class Entry:
    """One named configuration and what was recorded with it."""

    config: SimConfig
    snapshots: tuple[Snapshot, ...] = ()
    curve: Curve | None = None

    def to_dict(self, with_snapshots: bool = True) -> dict[str, Any]:
        out: dict[str, Any] = {"config": self.config.to_dict()}
        if with_snapshots and self.snapshots:
            out["snapshots"] = [s.to_dict() for s in self.snapshots]
        if with_snapshots and self.curve is not None:
            out["curve"] = self.curve.to_dict()
        return out


@dataclass(frozen=True)
class Session:
    """Named configurations, in order; `main` is the window's own."""

    entries: Mapping[str, Entry] = field(default_factory=dict)

    @classmethod
    def single(cls, config: SimConfig, snapshots=(), curve: Curve | None = None) -> "Session":
        return cls({MAIN: Entry(config, tuple(snapshots), curve)})

    @property
    def main(self) -> Entry:
        """The "main" entry, or the first one when there is no "main"."""
        return self.entries.get(MAIN) or next(iter(self.entries.values()))

    def to_json(self, with_snapshots: bool = True) -> str:
        doc = {"schema": SCHEMA, "version": VERSION,
               "configs": {name: e.to_dict(with_snapshots) for name, e in self.entries.items()}}
        return json.dumps(doc, allow_nan=False) + "\n"


def save_session(path: Path | str, session: Session, with_snapshots: bool = True) -> None:
    """Write `session` to `path` atomically (readers see the old file or the new one)."""
    if not session.entries:
        raise SessionError("a session needs at least one configuration")
    text = session.to_json(with_snapshots)
    try:
        atomic_write_text(Path(path), text)
    except OSError as exc:
        raise SessionError(f"cannot write {path}: {exc.strerror or exc}") from None


def load_session(path: Path | str) -> Session:
    """Read a session file; SessionError (naming the file and the problem) if it is not a valid one."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SessionError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise SessionError(f"{path} is a folder, not a session file") from None
    except UnicodeDecodeError:
        raise SessionError(f"{path} is not a text file (not UTF-8), so not a session") from None
    except OSError as exc:
        raise SessionError(f"cannot read {path}: {exc.strerror or exc}") from None
    return parse_session(text, path.name)


def parse_session(text: str, source: str = "session") -> Session:
    """Parse session JSON text; `source` names it in error messages."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SessionError(f"{source} is not valid JSON: damaged or truncated ({exc.msg} at line {exc.lineno} "
                           f"column {exc.colno})") from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise SessionError(f"{source} is not a Vanishing Point session (no \"schema\": \"{SCHEMA}\"); "
                           "a bare configuration opens as CONFIG.json on the command line")
    version = doc.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise SessionError(f"{source}: \"version\" must be a positive integer, got {version!r}")
    if version > VERSION:
        raise SessionError(f"{source} was saved by a newer Vanishing Point (session format version {version}; "
                           f"this one reads up to {VERSION}); update the program to open it")
    configs = doc.get("configs")
    if not isinstance(configs, dict) or not configs:
        raise SessionError(f"{source}: \"configs\" must be a non-empty object of named configurations")
    return Session({str(name): _entry(raw, f"{source}: configs.{name}") for name, raw in configs.items()})


def _entry(raw: Any, where: str) -> Entry:
    if not isinstance(raw, dict) or "config" not in raw:
        raise SessionError(f"{where}: expected an object with a \"config\"")
    unknown = set(raw) - {"config", "snapshots", "curve"}
    if unknown:
        raise SessionError(f"{where}: unknown key(s) {', '.join(sorted(map(repr, unknown)))}")
    config_data = raw["config"]
    if not isinstance(config_data, dict):
        raise SessionError(f"{where}.config: expected an object of config fields")
    try:
        config = SimConfig.from_partial(config_data)
    except ConfigError as exc:
        raise SessionError(f"{where}.config: {exc}") from None
    snaps_raw = raw.get("snapshots", [])
    if not isinstance(snaps_raw, list):
        raise SessionError(f"{where}.snapshots: expected a list")
    try:
        snapshots = tuple(Snapshot.from_dict(s, f"snapshots[{i}]") for i, s in enumerate(snaps_raw))
        curve = _curve(raw["curve"]) if raw.get("curve") is not None else None
    except ValueError as exc:
        raise SessionError(f"{where}.{exc}") from None
    depths = {s.depth for s in snapshots}
    if depths - {config.depth}:
        raise SessionError(f"{where}.snapshots: layer counts {sorted(depths)} do not match the config's "
                           f"depth {config.depth}")
    return Entry(config, snapshots, curve)


def _curve(raw: Any) -> Curve:
    if not isinstance(raw, dict):
        raise ValueError("curve: expected an object with step, loss and accuracy lists")
    lists = {}
    for key in ("step", "loss", "accuracy"):
        value = raw.get(key)
        if not isinstance(value, list):
            raise ValueError(f"curve.{key}: expected a list")
        lists[key] = value
    if not len(lists["step"]) == len(lists["loss"]) == len(lists["accuracy"]):
        raise ValueError("curve: step, loss and accuracy must have the same length")
    if not all(isinstance(s, int) and not isinstance(s, bool) for s in lists["step"]):
        raise ValueError("curve.step: expected integers")
    return Curve(tuple(lists["step"]),
                 tuple(from_json_float(v, "curve.loss") for v in lists["loss"]),
                 tuple(from_json_float(v, "curve.accuracy") for v in lists["accuracy"]))

