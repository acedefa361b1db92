"""``probe``, ``run`` and ``diagnose``: one Simulator for the config, and its snapshots or diagnoses.

A run that produces a NaN/Inf stops there, still writes everything recorded, and
exits with EXIT_DIVERGED.
"""
from __future__ import annotations

import argparse
import sys

from .. import memory
from ..architectures import layer_noun
from ..cli_kit import (
    EXIT_DIVERGED, UsageError, add_config_arguments, add_output_arguments, config_from_args, record_steps, render,
    write_output,
)
from ..diagnoses import diagnose, format_diagnoses
from ..report import describe_nonfinite
from ..scenarios import Scenario
from ..simulator import Simulator, resolve_device
from ..snapshot import Snapshot


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the probe, run and diagnose subcommands."""
    for name, help_text in (("probe", "one forward/backward pass, no update"), ("run", "train and record")):
        p = sub.add_parser(name, help=help_text)
        add_config_arguments(p)
        add_output_arguments(p)
        if name == "run":
            p.add_argument("--steps", type=int, help="training steps (default: the scenario's)")
            p.add_argument("--every", type=int, default=1, help="record a snapshot every K steps")
            p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    p = sub.add_parser("diagnose", help="train N steps (0: probe) and print one line per problem found")
    add_config_arguments(p)
    p.add_argument("--steps", type=int, help="training steps before diagnosing (default: the scenario's, else 0)")


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


def handle(args: argparse.Namespace) -> int:
    """Run `probe`, `run` or `diagnose`; the exit status."""
    cfg, scenario = config_from_args(args)
    steps = _steps(args, scenario) if args.command in ("run", "diagnose") else 0
    if args.command == "run" and args.every < 1:
        raise UsageError(f"--every must be at least 1, got {args.every}")
    recorded = -(-steps // args.every) if args.command == "run" else 1
    memory.check_fits(cfg, resolve_device(cfg.device)[0], recorded_snapshots=recorded)
    sim = Simulator(cfg)
    if args.command == "diagnose":
        snap = sim.step(steps, trail=False) if steps else sim.probe()
        sys.stdout.write(format_diagnoses(diagnose(snap, sim.config)))
        return 0
    bad: Snapshot | None = None
    if args.command == "probe":
        snapshots = [sim.probe()]
    else:
        snapshots, bad = record_steps(sim, steps, args.every, args.quiet)
    status = write_output(render(cfg, str(sim.device), snapshots, args.format), args.out)
    if status:
        return status
    if bad is not None:
        print(f"error: {describe_nonfinite(bad, layer_noun(cfg.architecture), stage_suffix='')}; run stopped", file=sys.stderr)
        return EXIT_DIVERGED
    return 0
