"""The command line's output side: the JSON/CSV documents, the one CSV writer, the atomic --out,
and the recording loop with its progress bar on stderr."""
from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Any, Iterable, Sequence

from ..config import SimConfig
from ..files import atomic_write_text
from ..snapshot import CSV_COLUMNS, Snapshot
from .args import EXIT_BAD_INPUT


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


class Progress:
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


def record_steps(engine: Any, steps: int, every: int, quiet: bool) -> tuple[list[Any], Any]:
    """Train `engine` (a Simulator, or an A/B Comparer: `steps_done` and `step(n)`) up to `steps` steps,
    recording every `every`-th; stop at the first non-finite record. Returns (the records, that
    non-finite record or None)."""
    recorded: list[Any] = []
    progress = Progress(steps, quiet)
    try:
        while engine.steps_done < steps:
            target = min(steps, (engine.steps_done // every + 1) * every)
            snap = engine.step(target - engine.steps_done)
            recorded.append(snap)
            progress.update(engine.steps_done)
            if snap.nonfinite:
                return recorded, snap
    finally:
        progress.close()
    return recorded, None
