"""Headless command line: ``python -m core probe|run|diagnose|export-script [CONFIG.json] [--scenario NAME]
[--set key=value ...]``, ``python -m core compare|theory|sweep|jacobian ...`` and ``python -m core scenarios``.

Prints one JSON document (or CSV, one row per step and layer). Bad input exits
with status 2 and a single ``error: ...`` line on stderr; a run that produces
a NaN/Inf stops there, still writes everything recorded, and exits with 3.

Each verb module has ``add_parser(subparsers)``, which adds its subcommand(s), and a
handler ``(args) -> exit status``; `VERBS` lists the pairs. A handler reports bad input by
raising UsageError or ConfigError, which `main` prints as the one error line.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from ..config import ConfigError
from . import compare, export, run, scenarios, theory
from .args import (
    EXIT_BAD_INPUT, EXIT_DIVERGED, Parser, UsageError, add_config_arguments, config_from_args, load_config,
)
from .compare import side_with_overrides
from .output import csv_text, render, write_output

__all__ = ["EXIT_BAD_INPUT", "EXIT_DIVERGED", "Parser", "UsageError", "VERBS", "add_config_arguments",
           "config_from_args", "csv_text", "load_config", "main", "render", "side_with_overrides", "write_output"]

AddParser = Callable[[argparse._SubParsersAction], None]
Handler = Callable[[argparse.Namespace], int]

# (add_parser, handler) of every verb module, in the order `python -m core --help` lists them.
VERBS: tuple[tuple[AddParser, Handler], ...] = (
    (run.add_parser, run.handle),  # probe, run, diagnose
    (scenarios.add_parser, scenarios.handle),
    (compare.add_parser, compare.handle),
    (theory.add_parser, theory.handle),  # theory, sweep, jacobian
    (export.add_parser, export.handle),  # export-script
)


def parser() -> argparse.ArgumentParser:
    """The parser of every verb in VERBS; each subcommand's namespace carries its `handler`."""
    top = Parser(prog="python -m core", description="Vanishing Point, headless.")
    sub = top.add_subparsers(dest="command", required=True, parser_class=Parser)
    for add_parser, handler in VERBS:
        before = set(sub.choices)
        add_parser(sub)
        for name in set(sub.choices) - before:
            sub.choices[name].set_defaults(handler=handler)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command line; the exit status (0, EXIT_BAD_INPUT or EXIT_DIVERGED)."""
    try:
        args = parser().parse_args(argv)
        return args.handler(args)
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
