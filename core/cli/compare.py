"""``compare``: train A and B in lockstep and print both plus their difference.

B is A plus what the user changes::

    python -m core compare [CONFIG.json] [--scenario NAME] [--set k=v ...] --b init=kaiming_normal [--a k=v ...]
        [--b-config B.json] [--session S.json] [--save-session S.json]
        [--steps N] [--every K] [--format json|csv] [--out FILE]

`--set` applies to both, `--a`/`--b` (alias `--set-a`/`--set-b`) to one side.
`--b-config` starts B from another file; `--session` starts both from a saved
A/B session. Exit status as for `run`: 2 bad input, 3 a side went non-finite.
"""
from __future__ import annotations

import argparse
import json
import sys

from ..cli_kit import (
    EXIT_DIVERGED, UsageError, add_config_arguments, add_output_arguments, config_from_args, csv_text, load_config,
    record_steps, side_with_overrides, write_output,
)
from ..compare import (
    CSV_COLUMNS, Comparer, Comparison, ConfigPair, describe_divergence, differing_fields, load_pair, save_pair,
)
from ..scenarios import Scenario


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the compare subcommand."""
    p = sub.add_parser("compare", help="train A and B in lockstep on the same batches; per-layer difference")
    add_config_arguments(p)
    p.add_argument("--a", "--set-a", dest="a", action="append", default=[], metavar="KEY=VALUE",
                   help="override one field of A only")
    p.add_argument("--b", "--set-b", dest="b", action="append", default=[], metavar="KEY=VALUE",
                   help="override one field of B only")
    p.add_argument("--b-config", metavar="B.json", help="start B from this file instead of CONFIG")
    p.add_argument("--session", metavar="FILE", help="start A and B from a saved A/B session")
    p.add_argument("--save-session", metavar="FILE", help="also write A and B as a session file")
    p.add_argument("--steps", type=int, help="training steps (0: one probe pass of each; default: the scenario's, else 0)")
    p.add_argument("--every", type=int, default=1, help="record every K steps")
    add_output_arguments(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")


def pair_from_args(args: argparse.Namespace) -> tuple[ConfigPair, Scenario | None]:
    """A and B from CONFIG / --scenario / --b-config / --session, then --set (both), --a, --b;
    and the scenario named by --scenario (None without)."""
    if args.session is not None:
        if args.config is not None or args.b_config is not None or args.scenario is not None:
            raise UsageError("--session gives both configs; leave out CONFIG, --scenario and --b-config")
        base = load_pair(args.session)  # SessionError is a ConfigError: "error: session: ..."
        a, b = base.a.with_overrides(args.set), base.b.with_overrides(args.set)
        scenario = None
    else:
        a, scenario = config_from_args(args)
        b = load_config(args.b_config, args.set) if args.b_config is not None else a
    return ConfigPair(side_with_overrides("A", a, args.a), side_with_overrides("B", b, args.b)), scenario


def render_comparisons(pair: ConfigPair, device: str, comparisons: list[Comparison], fmt: str) -> str:
    """JSON {configs, device, differs_in, warning, comparisons} or CSV, one row per step and layer pair."""
    if fmt == "json":
        doc = {"configs": pair.to_dict(), "device": device, "differs_in": list(differing_fields(pair.a, pair.b)),
               "warning": pair.warning() or None, "comparisons": [c.to_dict() for c in comparisons]}
        return json.dumps(doc, allow_nan=False) + "\n"
    return csv_text(CSV_COLUMNS, (row for c in comparisons for row in c.csv_rows()))


def handle(args: argparse.Namespace) -> int:
    """Run the comparison; the exit status (a SessionError while saving is bad input, exit 2)."""
    pair, scenario = pair_from_args(args)
    if args.steps is None:
        args.steps = scenario.steps if scenario is not None else 0
    if args.steps < 0:
        raise UsageError(f"--steps must be >= 0, got {args.steps}")
    if args.every < 1:
        raise UsageError(f"--every must be at least 1, got {args.every}")
    comparer = Comparer(pair)
    if pair.warning():
        print(f"warning: {pair.warning()}", file=sys.stderr)
    bad = None
    if args.steps == 0:
        comparisons = [comparer.probe()]
    else:
        comparisons, bad = record_steps(comparer, args.steps, args.every, args.quiet)
    status = write_output(render_comparisons(pair, comparer.device, comparisons, args.format), args.out)
    if status:
        return status
    if args.save_session:
        save_pair(args.save_session, pair)
    if bad is not None:
        print(f"error: {describe_divergence(bad, pair)}; run stopped", file=sys.stderr)
        return EXIT_DIVERGED
    return 0
