"""What every command line of the project shares (`python -m core`'s verbs, wherever they live, and
`python -m app`): the parser class and bad-input errors, the config arguments and the config they
name, the output documents with the one CSV writer and the atomic --out, and the recording loop.

Bad input raises `UsageError` or `ConfigError`; a command line turns either into one
``error: ...`` line and exit status EXIT_BAD_INPUT. This module imports no verb.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import memory
from .config import USER_ARCHITECTURES, ConfigError, SimConfig, parse_model_ref
from .files import UnreadableFile, atomic_write_text, read_text
from .scenarios import Scenario, load_scenario
from .snapshot import CSV_COLUMNS, Snapshot

# --- input: arguments and the config they name ---------------------------------------------
EXIT_BAD_INPUT = 2
EXIT_DIVERGED = 3


class UsageError(Exception):
    """Bad command-line input (reported as one `error:` line, exit status 2)."""


class Parser(argparse.ArgumentParser):
    """An argparse parser that raises UsageError instead of printing usage and exiting."""

    def error(self, message: str) -> None:
        raise UsageError(message)


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """The positional CONFIG.json, --scenario NAME, repeatable --set key=value and --memory-budget
    shared by every entry point."""
    p.add_argument("config", nargs="?", help="a SimConfig JSON file (defaults for missing fields)")
    p.add_argument("--scenario", metavar="NAME", help="start from a scenario's config (python -m core scenarios lists them)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override one field")
    p.add_argument("--model", metavar="FILE.py:FACTORY",
                   help="your own model: FACTORY(cfg) in FILE.py returns a torch.nn.Module (architecture 'user'; "
                        "the file runs in this process, with your permissions)")
    p.add_argument("--data", metavar="FILE", help="your own data: a .csv (label column last) or .npz (arrays x, y)")
    p.add_argument("--label", metavar="COLUMN", help="the CSV's label column, by header name or 1-based number")
    p.add_argument("--memory-budget", type=float, metavar="MB",
                   help=f"refuse configurations estimated to need more than MB MiB (default: ${memory.BUDGET_ENV}, "
                        "else 90%% of the free memory)")


def add_output_arguments(p: argparse.ArgumentParser, formats: bool = True) -> None:
    """--format json|csv (unless `formats` is False) and --out FILE."""
    if formats:
        p.add_argument("--format", choices=("json", "csv"), default="json")
    p.add_argument("--out", help="write to this file (atomically) instead of stdout")


def config_from_args(args: argparse.Namespace) -> tuple[SimConfig, Scenario | None]:
    """The config named by add_config_arguments' arguments: defaults, or the scenario's config, updated
    by the CONFIG file's fields and then by --set; and the scenario (None without --scenario)."""
    scenario = load_scenario(args.scenario) if args.scenario is not None else None
    base = scenario.config if scenario is not None else SimConfig()
    cfg = load_config(args.config, [], base)
    return with_files(cfg, getattr(args, "model", None), getattr(args, "data", None),
                      getattr(args, "label", None)).with_overrides(args.set), scenario


def with_files(cfg: SimConfig, model: str | None, data: str | None, label: str | None) -> SimConfig:
    """`cfg` with --model (architecture 'user', unless already a user architecture), --data (dataset
    'file') and --label applied; paths made absolute, so a saved session opens from any folder."""
    changes: dict[str, Any] = {}
    if model is not None:
        path, factory = parse_model_ref(model)
        changes["model"] = f"{Path(path).expanduser().resolve()}:{factory}"
        if cfg.architecture not in USER_ARCHITECTURES:
            changes["architecture"] = "user"
    if data is not None:
        changes.update(dataset="file", data_file=str(Path(data).expanduser().resolve()))
    if label is not None:
        changes["label_column"] = label
    return cfg.replace(**changes) if changes else cfg


def side_with_overrides(name: str, cfg: SimConfig, assignments: list[str]) -> SimConfig:
    """`cfg` with key=value `assignments`; a bad one is a UsageError naming the side ("--b (config B): ...")."""
    try:
        return cfg.with_overrides(assignments)
    except ConfigError as exc:  # say which side the bad override was for
        raise UsageError(f"--{name.lower()} (config {name}): {exc}") from None


def load_config(path: str | None, assignments: Sequence[str], base: SimConfig | None = None) -> SimConfig:
    """`base` (default: the defaults), updated from the JSON file at `path` (if any), then from `key=value` strings."""
    cfg = base or SimConfig()
    if path is not None:
        file = Path(path)
        if file.is_dir():
            raise UsageError(f"{path} is a directory, not a config file")
        try:
            text = read_text(file, "config file")
        except UnreadableFile as exc:
            raise UsageError(str(exc)) from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise UsageError(f"{path} is nested too deeply to be a config file") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} must hold a JSON object of config fields, not a {type(data).__name__}")
        cfg = SimConfig.from_partial(data, cfg)
    return cfg.with_overrides(assignments)


# --- output: documents, the CSV writer, --out and the recording loop -----------------------
def render(cfg: SimConfig, device: str, snapshots: list[Snapshot], fmt: str) -> str:
    """The output document: JSON with config, device and snapshots, or CSV rows."""
    if fmt == "json":
        doc: dict[str, Any] = {"config": cfg.to_dict(), "device": device,
                               "snapshots": [s.to_dict() for s in snapshots]}
        return json.dumps(doc, allow_nan=False) + "\n"
    return csv_text(CSV_COLUMNS, (row for snap in snapshots for row in snap.csv_rows()))


def csv_text(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> str:
    """A header line and one line per row dict."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def write_output(text: str, out: str | None) -> int:
    """Write `text` to `out` atomically, or to stdout; 0, or EXIT_BAD_INPUT with an error line."""
    try:
        if out:
            atomic_write_text(Path(out), text)
        else:
            sys.stdout.write(text)
    except OSError as exc:
        print(f"error: cannot write {out}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


class Progress:
    """A one-line progress bar on stderr, shown only on a terminal for runs of 50+ steps."""

    def __init__(self, total: int, quiet: bool):
        self.total = total
        self.on = not quiet and total >= 50 and sys.stderr.isatty()

    def update(self, done: int) -> None:
        if self.on:
            filled = int(30 * done / self.total)
            sys.stderr.write(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done}/{self.total} steps")
            sys.stderr.flush()

    def close(self) -> None:
        if self.on:
            sys.stderr.write("\n")


def record_steps(engine: Any, steps: int, every: int, quiet: bool) -> tuple[list[Any], Any]:
    """Train `engine` (a Simulator, or an A/B Comparer: `steps_done` and `step(n, trail=)`) up to `steps` steps,
    recording every `every`-th; stop at the first non-finite record. Returns (the records, that
    non-finite record or None)."""
    recorded: list[Any] = []
    progress = Progress(steps, quiet)
    try:
        while engine.steps_done < steps:
            target = min(steps, (engine.steps_done // every + 1) * every)
            snap = engine.step(target - engine.steps_done, trail=False)  # (nothing here reads the trail)
            recorded.append(snap)
            progress.update(engine.steps_done)
            if snap.nonfinite:
                return recorded, snap
    finally:
        progress.close()
    return recorded, None
