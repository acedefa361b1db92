"""``theory``, ``sweep`` and ``jacobian``: the mean-field prediction, the depth sweep and the
singular values of the hidden-to-hidden Jacobian, as JSON or CSV.

Same CONFIG/--set arguments and error conventions as `probe` and `run`.
"""
from __future__ import annotations

import argparse
import json
import sys

from .. import theory
from ..cli_kit import add_config_arguments, add_output_arguments, config_from_args, csv_text, write_output
from ..config import ConfigError, SimConfig
from ..jacobian import simulator_spectrum
from ..simulator import Simulator
from ..snapshot import json_float
from ..sweep import CSV_COLUMNS, OVER, geometric_depths, sweep

COMMANDS = ("theory", "sweep", "jacobian")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the theory, sweep and jacobian subcommands."""
    helps = {"theory": "mean-field prediction of the per-layer profile and χ",
             "sweep": "first/last layer gradient ratio against depth, per init scheme or activation",
             "jacobian": "singular values of the hidden-to-hidden Jacobian at a few probe inputs"}
    for name in COMMANDS:
        p = sub.add_parser(name, help=helps[name])
        add_config_arguments(p)
        add_output_arguments(p)
        if name == "sweep":
            p.add_argument("--max-depth", type=int, help="sweep depths 1..N on a geometric grid (default: config depth)")
            p.add_argument("--depths", help="comma-separated depths instead, e.g. 1,2,4,8")
            p.add_argument("--over", choices=tuple(OVER), default="init")
        if name == "jacobian":
            p.add_argument("--points", type=int, default=4, help="probe inputs to pool (1..64)")
            p.add_argument("--directions", type=int, default=512,
                           help="at most this many directions (exact when width <= it)")
            p.add_argument("--steps", type=int, default=0,
                           help="train this many steps first (default 0: the network at initialization)")


def handle(args: argparse.Namespace) -> int:
    """Write the document of subcommand `args.command`; the exit status."""
    cfg, _ = config_from_args(args)
    return write_output(document(args, cfg), args.out)


def _parse_depths(text: str) -> list[int]:
    try:
        return [int(t) for t in text.replace(" ", "").split(",") if t]
    except ValueError:
        raise ConfigError("depths", f"expected comma-separated integers like 1,2,4,8, got {text!r}") from None


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\r{done}/{total} probes")
        sys.stderr.flush()


def document(args: argparse.Namespace, cfg: SimConfig) -> str:
    """The document for subcommand `args.command` (ConfigError on bad input)."""
    if args.command == "theory":
        reason = theory.not_applicable(cfg)
        if reason is not None:
            raise ConfigError("init" if cfg.init in theory.NO_THEORY_INITS else "normalization"
                              if cfg.normalization != "none" else "architecture", reason)
        prof = theory.predict(cfg)
        rows = [{"layer": i + 1, "q": json_float(prof.q[i]), "act_mean": json_float(prof.act_mean[i]),
                 "act_std": json_float(prof.act_std[i]), "grad_ratio": json_float(prof.grad_ratio[i]),
                 "chi": json_float(prof.chi[i]) if i < len(prof.chi) else None} for i in range(cfg.depth)]
        if args.format == "csv":
            return csv_text(list(rows[0]), rows)
        return json.dumps({"config": cfg.to_dict(), "chi_mean": json_float(prof.chi_mean),
                           "sentence": prof.sentence, "layers": rows}, allow_nan=False) + "\n"
    if args.command == "sweep":
        if args.depths:
            depths = _parse_depths(args.depths)
        else:
            depths = geometric_depths(args.max_depth if args.max_depth is not None else cfg.depth)
        result = sweep(cfg, depths, args.over, progress=_progress)
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        if args.format == "csv":
            return csv_text(CSV_COLUMNS, result.rows())
        return json.dumps({"config": cfg.to_dict(), **result.to_dict()}, allow_nan=False) + "\n"
    # jacobian
    if not 1 <= args.points <= 64:
        raise ConfigError("points", f"{args.points} is out of range; allowed 1..64")
    if args.directions < 1:
        raise ConfigError("directions", f"{args.directions} is out of range; allowed >= 1")
    if args.steps < 0:
        raise ConfigError("steps", f"{args.steps} is out of range; allowed >= 0")
    sim = Simulator(cfg)
    if args.steps:
        snap = sim.step(args.steps, trail=False)
        if snap.nonfinite:
            raise ConfigError("steps", f"training went non-finite at step {snap.step}: no Jacobian to analyse")
    spec = simulator_spectrum(sim, min(args.points, cfg.batch_size), args.directions)
    if args.format == "csv":
        return csv_text(("index", "singular_value"),
                        ({"index": i + 1, "singular_value": float(s)} for i, s in enumerate(spec.singular_values)))
    return json.dumps({"config": cfg.to_dict(), "step": sim.steps_done, "summary": spec.summary(),
                       "singular_values": [float(s) for s in spec.singular_values]}, allow_nan=False) + "\n"
