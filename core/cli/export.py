"""``export-script``: a standalone PyTorch script that trains the config."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..cli_kit import add_config_arguments, add_output_arguments, config_from_args, write_output
from ..export_script import export_script


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the export-script subcommand."""
    p = sub.add_parser("export-script", help="write a standalone PyTorch script that trains this config")
    add_config_arguments(p)
    add_output_arguments(p, formats=False)


def handle(args: argparse.Namespace) -> int:
    """Write the script to --out or stdout; the exit status."""
    cfg, _ = config_from_args(args)
    return write_output(export_script(cfg, Path(args.out).name if args.out else "experiment.py"), args.out)
