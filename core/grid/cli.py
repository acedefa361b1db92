"""``python -m core grid``: train a grid of networks over two config axes on Dask distributed.

    python -m core grid [CONFIG] [--scenario NAME] --x FIELD=LO:HI:N[:log] --y FIELD=LO:HI:N[:log]
        --steps S [--metric accuracy|held_out_accuracy|loss|grad_ratio] [--seeds K] --out FILE
        [--resume FILE] [--workers N | --scheduler tcp://HOST:PORT] [--format json|csv] [--quiet]

`--scenario` names a grid scenario (resources/grids; it gives the config, axes, steps and
metric, which the options override) or a teaching scenario (its config only). Writes FILE
after every cell; prints the metric's table (mean over seeds) and the fitted boundary on
stdout. Exit status: 0 done; 2 bad input or unreachable scheduler (one `error:` line);
4 some cells failed twice (listed on stderr, the rest written); 130 interrupted (Ctrl+C:
what was done is kept, `--resume FILE` continues).
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Any

from .. import memory
from ..cli_kit import UsageError, add_config_arguments, config_from_args, load_config
from ..config import ConfigError
from .output import METRICS, GridFile, fit_rows
from .progress import GridProgress, duration
from .run import CONNECT_TIMEOUT, connect, require_dask, run_grid
from .scenarios import grid_scenario_names, load_grid_scenario
from .spec import GridError, GridSpec, parse_axis

COMMAND = "grid"
EXIT_BAD_INPUT = 2
EXIT_CELLS_FAILED = 4
EXIT_INTERRUPTED = 130


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the `grid` subcommand to an argparse subparsers object; `handle(args)` handles it."""

    p = subparsers.add_parser(COMMAND, help="train a grid of networks over two config axes (trainability map)")
    add_config_arguments(p)
    p.add_argument("--x", metavar="FIELD=LO:HI:N[:log]", help="the horizontal axis, e.g. sigma_w2=1:4:13")
    p.add_argument("--y", metavar="FIELD=LO:HI:N[:log]", help="the vertical axis, e.g. depth=10:100:10")
    p.add_argument("--steps", type=int, help="training steps per network")
    p.add_argument("--metric", choices=tuple(METRICS), help="what the printed table shows (default accuracy)")
    p.add_argument("--seeds", type=int, help="networks per cell, seeds config.seed + 0..K-1 (default 1)")
    p.add_argument("--out", help="the results file, .json or .csv (rewritten atomically after every cell)")
    p.add_argument("--resume", metavar="FILE", help="skip the cells FILE holds already (writes to FILE unless --out)")
    p.add_argument("--format", choices=("json", "csv"), help="default: from the --out suffix")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, help="local cluster size (default: one worker per core)")
    where.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="run on this running Dask cluster")
    p.add_argument("--connect-timeout", type=float, default=CONNECT_TIMEOUT, metavar="S",
                   help=f"seconds to reach --scheduler (default {CONNECT_TIMEOUT:g})")
    p.add_argument("--quiet", action="store_true", help="no progress bar on stderr")
    return p


def spec_from_args(args: argparse.Namespace) -> tuple[GridSpec, str]:
    """The grid the arguments describe, and the metric; GridError/ConfigError/UsageError on bad input."""

    metric, steps, seeds, x, y = args.metric, args.steps, args.seeds, args.x, args.y
    if args.scenario is not None and args.scenario in grid_scenario_names():
        scenario = load_grid_scenario(args.scenario)
        base = load_config(args.config, args.set, scenario.spec.base)
        x_axis = parse_axis(x, "--x") if x else scenario.spec.x
        y_axis = parse_axis(y, "--y") if y else scenario.spec.y
        steps = scenario.spec.steps if steps is None else steps
        seeds = scenario.spec.seeds if seeds is None else seeds
        metric = metric or scenario.metric
    else:
        base, _ = config_from_args(args)
        for option, value in (("--x", x), ("--y", y), ("--steps", steps)):
            if value is None:
                raise GridError(f"{option} is required (or --scenario NAME of a grid scenario: "
                                f"{', '.join(grid_scenario_names()) or 'none installed'})")
        x_axis, y_axis = parse_axis(x, "--x"), parse_axis(y, "--y")
    spec = GridSpec(base, x_axis, y_axis, steps, 1 if seeds is None else seeds)
    check_cells_fit(spec)  # every cell's config must be valid, and fit, before anything runs
    return spec, metric or "accuracy"


def check_cells_fit(spec: GridSpec) -> None:
    """GridError naming the first cell whose network exceeds this machine's memory limit (or the
    --memory-budget), before the cluster starts; its workers would each refuse it on their own."""
    for cell in spec.cells():
        try:
            memory.check_fits(cell.config)
        except memory.MemoryLimitError as exc:
            raise GridError(f"cell {spec.x.field}={cell.x:g}, {spec.y.field}={cell.y:g}: {exc}") from None


def table(spec: GridSpec, rows: list[dict[str, Any]], metric: str) -> str:
    """The metric (mean over seeds) as a text table: one line per y value, one column per x value."""
    column = METRICS[metric]
    cells: dict[tuple[int, int], list[float]] = {}
    for r in rows:
        cells.setdefault((r["ix"], r["iy"]), []).append(r[column])
    width = 9
    corner = f"{spec.y.field} / {spec.x.field}"
    head = f"{corner:>14}" + "".join(f"{v:>{width}.4g}" for v in spec.x.values)
    lines = [f"{column} (mean over seeds)", head]
    for iy, yv in reversed(list(enumerate(spec.y.values))):
        vals = []
        for ix in range(len(spec.x.values)):
            got = [v for v in cells.get((ix, iy), []) if not math.isnan(v)]
            vals.append(f"{sum(got) / len(got):>{width}.3f}" if got else f"{'-':>{width}}")
        lines.append(f"{yv:>14.4g}" + "".join(vals))
    return "\n".join(lines) + "\n"


def fit_line(rows: list[dict[str, Any]]) -> str:
    fit = fit_rows(rows)
    if fit is None:
        return "boundary L = c·ξ_c: no mean-field prediction for these networks (MLP without normalization only)\n"
    best = (f"best-fitting c = {fit.c:g} (range {fit.lo:g}-{fit.hi:g})" if fit.c is not None
            else f"c not pinned down by this map (fewest disagreements for c in {fit.lo:g}-{fit.hi:g})")
    return (f"boundary L = c·ξ_c: {best}, {fit.errors} of {fit.n} cells disagree; "
            f"at c = 6: {fit.errors_default} disagree\n")


def handle(args: argparse.Namespace) -> int:
    """Handle `python -m core grid`; returns the exit status."""
    try:
        spec, metric = spec_from_args(args)
        out_path = args.out or args.resume
        if out_path is None:
            raise GridError("--out FILE is required (or --resume FILE)")
        out = GridFile(Path(out_path), spec, args.format)
        if args.resume:
            source = GridFile(Path(args.resume), spec, args.format)
            source.load()
            out.rows.update(source.rows)
        require_dask()
    except (GridError, ConfigError, UsageError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    progress = GridProgress(spec.size, len(out.rows), live=None if not args.quiet else False)
    outcome = None
    try:
        out.write()
        with connect(args.scheduler, args.workers, args.connect_timeout) as client:
            progress.start = progress.clock()  # the rate counts training, not the cluster's start-up
            outcome = run_grid(spec, client, out, on_row=lambda _row: progress.update(len(out.rows)))
    except GridError as exc:
        progress.close()
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        progress.close()
        print(f"interrupted: {len(out.rows)} of {spec.size} cells are saved in {out.path}; "
              f"continue with --resume {out.path}", file=sys.stderr)
        return EXIT_INTERRUPTED
    progress.close()
    rows = out.sorted_rows()
    sys.stdout.write(table(spec, rows, metric) + fit_line(rows))
    rate = progress.rate()
    print(f"{len(rows)} of {spec.size} cells in {out.path}"
          + (f" ({rate:.2f} cells/s, {duration(progress.clock() - progress.start)})" if rate else ""), file=sys.stderr)
    if outcome.failed:
        for cell, message in outcome.failed:
            print(f"failed twice: cell x={cell.x:g} y={cell.y:g} seed {cell.config.seed}: {message}", file=sys.stderr)
        return EXIT_CELLS_FAILED
    return 0
