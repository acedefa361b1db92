"""``scenarios``: list the scenarios, one ``name  title`` line each."""
from __future__ import annotations

import argparse
import sys

from ..config import ConfigError
from ..scenarios import SCENARIOS


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the scenarios subcommand."""
    sub.add_parser("scenarios", help="list the scenarios: name and title")


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


def handle(args: argparse.Namespace) -> int:
    """Print the list; exit status 0."""
    sys.stdout.write(list_scenarios())
    return 0
