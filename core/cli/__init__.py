"""Headless command line: ``python -m core probe|run|diagnose|export-script [CONFIG.json] [--scenario NAME]
[--set key=value ...]``, ``python -m core compare|theory|sweep|jacobian ...`` and ``python -m core scenarios``.

Prints one JSON document (or CSV, one row per step and layer). Bad input exits
with status 2 and a single ``error: ...`` line on stderr; a run that produces
a NaN/Inf stops there, still writes everything recorded, and exits with 3.

A verb module has ``add_parser(subparsers)``, which adds its subcommand(s), and
``handle(args) -> exit status``; it raises UsageError or ConfigError for bad input, and
`main` prints that as the one error line. Verb modules take their shared arguments and
output from core.cli_kit, never from this package, so one may live anywhere; adding a verb
is one line in VERB_MODULES.
"""
from __future__ import annotations

import argparse
import importlib
import sys
from types import ModuleType
from typing import Sequence

from .. import memory
from ..cli_kit import (  # re-exported: `python -m app` and the window's export use them
    EXIT_BAD_INPUT, EXIT_DIVERGED, Parser, UsageError, add_config_arguments, config_from_args, load_config, render,
)
from ..config import ConfigError

__all__ = ["EXIT_BAD_INPUT", "EXIT_DIVERGED", "Parser", "UsageError", "VERB_MODULES", "add_config_arguments",
           "config_from_args", "load_config", "main", "parser", "render"]

# The verb modules, in the order `python -m core --help` lists their verbs.
VERB_MODULES = (
    "core.cli.run",  # probe, run, diagnose
    "core.cli.scenarios",
    "core.cli.compare",
    "core.cli.theory",  # theory, sweep, jacobian
    "core.cli.export",  # export-script
    "core.grid.cli",  # grid
)
_VERBS: tuple[ModuleType, ...] = tuple(importlib.import_module(name) for name in VERB_MODULES)


def parser() -> argparse.ArgumentParser:
    """The parser of every verb; each subcommand's namespace carries its module's `handle` as `handler`."""
    top = Parser(prog="python -m core", description="Vanishing Point, headless.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for verb in _VERBS:
        before = set(sub.choices)
        verb.add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(handler=verb.handle)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; the exit status (0, EXIT_BAD_INPUT or EXIT_DIVERGED)."""
    try:
        args = parser().parse_args(argv)
        if hasattr(args, "memory_budget"):  # (every verb that builds a network: add_config_arguments)
            memory.set_budget_mb(args.memory_budget)
        return args.handler(args)
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
