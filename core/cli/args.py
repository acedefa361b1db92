"""The command line's input side: the parser class, the config arguments every verb shares, and
the config they name. Bad input raises `UsageError` or `ConfigError`; `main` turns either into one
``error: ...`` line and exit status EXIT_BAD_INPUT.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Sequence

from .. import memory
from ..config import SimConfig
from ..scenarios import Scenario, load_scenario

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
    return load_config(args.config, args.set, base), scenario


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
        cfg = SimConfig.from_partial(data, cfg)
    return cfg.with_overrides(assignments)
