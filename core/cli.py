"""Headless command line: ``python -m core probe|run|diagnose|export-script [CONFIG.json] [--scenario NAME]
[--set key=value ...]`` and ``python -m core scenarios``.

Prints one JSON document (or CSV, one row per step and layer). Bad input exits
with status 2 and a single ``error: ...`` line on stderr; a run that produces
a NaN/Inf stops there, still writes everything recorded, and exits with 3.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from . import cli_theory, memory
from .config import ConfigError, SimConfig
from .diagnoses import diagnose, format_diagnoses
from .export_script import export_script
from .files import atomic_write_text
from .grid import cli as grid_cli
from .scenarios import SCENARIOS, Scenario, load_scenario
from .simulator import Simulator, resolve_device
from .snapshot import CSV_COLUMNS, Snapshot

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
    p.add_argument("--memory-budget", type=float, metavar="MB",
                   help=f"refuse configurations estimated to need more than MB MiB (default: ${memory.BUDGET_ENV}, "
                        "else 90%% of the free memory)")


def config_from_args(args: argparse.Namespace) -> tuple[SimConfig, Scenario | None]:
    """The config named by add_config_arguments' arguments: defaults, or the scenario's config, updated
    by the CONFIG file's fields and then by --set; and the scenario (None without --scenario)."""
    scenario = load_scenario(args.scenario) if args.scenario is not None else None
    base = scenario.config if scenario is not None else SimConfig()
    return load_config(args.config, args.set, base), scenario


def _parser() -> argparse.ArgumentParser:
    parser = Parser(prog="python -m core", description="Vanishing Point, headless.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for name, help_text in (("probe", "one forward/backward pass, no update"), ("run", "train and record")):
        p = sub.add_parser(name, help=help_text)
        add_config_arguments(p)
        p.add_argument("--format", choices=("json", "csv"), default="json")
        p.add_argument("--out", help="write to this file (atomically) instead of stdout")
        if name == "run":
            p.add_argument("--steps", type=int, help="training steps (default: the scenario's)")
            p.add_argument("--every", type=int, default=1, help="record a snapshot every K steps")
            p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p = sub.add_parser("diagnose", help="train N steps (0: probe) and print one line per problem found")
    add_config_arguments(p)
    p.add_argument("--steps", type=int, help="training steps before diagnosing (default: the scenario's, else 0)")
    sub.add_parser("scenarios", help="list the scenarios: name and title")
    from .compare_cli import add_compare_parser  # here: compare_cli imports this module
    add_compare_parser(sub)
    cli_theory.register(sub, add_config_arguments)
    grid_cli.add_parser(sub)
    p = sub.add_parser("export-script", help="write a standalone PyTorch script that trains this config")
    add_config_arguments(p)
    p.add_argument("--out", help="write to this file (atomically) instead of stdout")
    return parser


def load_config(path: str | None, assignments: Sequence[str], base: SimConfig | None = None) -> SimConfig:
    """`base` (default: the defaults), updated from the JSON file at `path` (if any), then from `key=value` strings."""
    cfg = base or SimConfig()
    if path is not None:
        file = Path(path)
        if file.is_dir():
            raise UsageError(f"{path} is a directory, not a config file")
        try:
            text = file.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise UsageError(f"config file {path} does not exist") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {path}: {exc}") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
        except RecursionError:
            raise UsageError(f"{path} is nested too deeply to be a config file") from None
        if not isinstance(data, dict):
            raise UsageError(f"{path} must hold a JSON object of config fields, not a {type(data).__name__}")
        cfg = SimConfig.from_dict({**cfg.to_dict(), **data})
    return cfg.with_overrides(assignments)


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


class _Progress:
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


def _run(sim: Simulator, steps: int, every: int, quiet: bool) -> tuple[list[Snapshot], Snapshot | None]:
    """Train `steps` steps, recording every `every`-th; stop at the first non-finite step."""
    recorded: list[Snapshot] = []
    progress = _Progress(steps, quiet)
    try:
        while sim.steps_done < steps:
            target = min(steps, (sim.steps_done // every + 1) * every)
            snap = sim.step(target - sim.steps_done)
            recorded.append(snap)
            progress.update(sim.steps_done)
            if snap.nonfinite:
                return recorded, snap
    finally:
        progress.close()
    return recorded, None


def describe_nonfinite(snap: Snapshot) -> str:
    """'step 41, layer 18 (backward pass)' style location of a NaN/Inf."""
    where = f"step {snap.step}"
    if snap.nonfinite_layer is not None:
        where += f", layer {snap.nonfinite_layer}"
    return f"{where} ({snap.nonfinite_stage})"


def list_scenarios() -> str:
    """'name  title' lines, one per scenario (a damaged file is listed with its error)."""
    lines = []
    width = max((len(n) for n in SCENARIOS), default=0)
    for name in SCENARIOS:
        try:
            title = SCENARIOS[name].title
        except ConfigError as exc:
            title = f"(cannot be loaded: {exc})"
        lines.append(f"{name:<{width}}  {title}\n")
    return "".join(lines)


def _steps(args: argparse.Namespace, scenario: Scenario | None) -> int:
    """--steps, else the scenario's; `run` needs at least 1, `diagnose` accepts 0 (a probe)."""
    steps = args.steps if args.steps is not None else (scenario.steps if scenario is not None else None)
    least = 1 if args.command == "run" else 0
    if steps is None:
        if args.command == "run":
            raise UsageError("--steps is required (or --scenario NAME to use its steps)")
        return 0
    if steps < least:
        hint = f" (scenario {scenario.name!r} is probe-only)" if args.steps is None and scenario else ""
        raise UsageError(f"--steps must be at least {least}, got {steps}{hint}")
    return steps


def _diagnose(sim: Simulator, steps: int) -> int:
    snap = sim.step(steps) if steps else sim.probe()
    sys.stdout.write(format_diagnoses(diagnose(snap, sim.config)))
    return 0


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


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command == "compare":
            from .compare_cli import run_compare
            return run_compare(args)
        if args.command == grid_cli.COMMAND:
            return grid_cli.run(args)
        if args.command == "scenarios":
            sys.stdout.write(list_scenarios())
            return 0
        cfg, scenario = config_from_args(args)
        steps = _steps(args, scenario) if args.command in ("run", "diagnose") else 0
        if args.command == "run" and args.every < 1:
            raise UsageError(f"--every must be at least 1, got {args.every}")
        memory.set_budget_mb(getattr(args, "memory_budget", None))  # also for the theory commands' networks
        if args.command in cli_theory.COMMANDS:
            return write_output(cli_theory.run(args, cfg), args.out)
        if args.command == "export-script":
            return write_output(export_script(cfg, Path(args.out).name if args.out else "experiment.py"), args.out)
        recorded = -(-steps // args.every) if args.command == "run" else 1
        memory.check_fits(cfg, resolve_device(cfg.device)[0], recorded_snapshots=recorded)
        sim = Simulator(cfg)
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.command == "diagnose":
        return _diagnose(sim, steps)
    bad: Snapshot | None = None
    if args.command == "probe":
        snapshots = [sim.probe()]
    else:
        snapshots, bad = _run(sim, steps, args.every, args.quiet)
    status = write_output(render(cfg, str(sim.device), snapshots, args.format), args.out)
    if status:
        return status
    if bad is not None:
        print(f"error: non-finite value at {describe_nonfinite(bad)}; run stopped", file=sys.stderr)
        return EXIT_DIVERGED
    return 0
