"""Grid results on disk: one row per cell and seed, as JSON or CSV, rewritten atomically
after every finished cell so that an interrupted grid keeps what it did and can resume.

JSON: {"schema", "grid": GridSpec.to_dict(), "rows": [...], "failed": [...], "fit": ...}.
CSV: the same rows, one per line, with the grid's fingerprint in the `grid_id` column.
Non-finite numbers are null in JSON and empty in CSV.
"""
from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any, Iterable, Mapping

from ..files import UnreadableFile, atomic_write_text, read_text
from .cell import RESULT_COLUMNS
from .meanfield import DEFAULT_C, BoundaryFit, Prediction, fit_c, trained_threshold
from .spec import Cell, GridError, GridSpec

SCHEMA = 1
ID_COLUMNS = ("grid_id", "x_field", "y_field", "ix", "iy", "seed_index", "x", "y", "seed")
THEORY_COLUMNS = ("sigma_w2", "sigma_b2", "depth", "chi1", "chi_c", "xi_c", "boundary_depth")
COLUMNS = ID_COLUMNS + THEORY_COLUMNS + RESULT_COLUMNS
METRICS = {"accuracy": "accuracy", "held_out_accuracy": "held_out_accuracy", "loss": "loss",
           "grad_ratio": "log10_grad_ratio_init"}
_INT_COLUMNS = {"ix", "iy", "seed_index", "seed", "depth", "steps_done", "n_held_out", "n_classes"}
_TEXT_COLUMNS = {"grid_id", "x_field", "y_field"}


def make_row(spec: GridSpec, cell: Cell, theory: Prediction, result: Mapping[str, Any]) -> dict[str, Any]:
    """The output row of one cell: identity, the mean-field columns and the measurements."""
    row: dict[str, Any] = {"grid_id": spec.grid_id, "x_field": spec.x.field, "y_field": spec.y.field,
                           "ix": cell.ix, "iy": cell.iy, "seed_index": cell.k, "x": cell.x, "y": cell.y,
                           "seed": cell.config.seed, "sigma_w2": theory.sigma_w2, "sigma_b2": theory.sigma_b2,
                           "depth": cell.config.depth, "chi1": theory.chi1, "chi_c": theory.chi_c,
                           "xi_c": theory.xi_c, "boundary_depth": theory.boundary(DEFAULT_C)}
    row.update({k: result[k] for k in RESULT_COLUMNS})
    return row


def row_key(row: Mapping[str, Any]) -> tuple[int, int, int]:
    return (int(row["ix"]), int(row["iy"]), int(row["seed_index"]))


def is_trained(row: Mapping[str, Any], fraction: float = 0.5) -> bool:
    """Trained: not diverged, and training accuracy at least `fraction` of the way from chance to 1."""
    return (not row["diverged"]) and row["accuracy"] >= trained_threshold(int(row["n_classes"]), fraction)


def fit_rows(rows: Iterable[Mapping[str, Any]], fraction: float = 0.5) -> BoundaryFit | None:
    """The best c of L = c·ξ_c over the rows that have a mean-field prediction (see meanfield.fit_c)."""
    rows = [r for r in rows if not _nan(r["xi_c"])]
    if not rows:
        return None
    return fit_c([r["depth"] for r in rows], [r["xi_c"] for r in rows], [is_trained(r, fraction) for r in rows])


def _nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)


def _json_value(v: Any) -> Any:
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _csv_value(v: Any) -> Any:
    return "" if isinstance(v, float) and not math.isfinite(v) else v


def output_format(path: Path, fmt: str | None = None) -> str:
    """'csv' or 'json': `fmt` if given, else from the file's suffix (.csv → csv, otherwise json)."""
    if fmt:
        return fmt
    return "csv" if Path(path).suffix.lower() == ".csv" else "json"


class GridFile:
    """The rows done so far, written to `path` (atomically) after each `add`; kept in memory only
    when `path` is None."""

    def __init__(self, path: Path | None, spec: GridSpec, fmt: str | None = None):
        self.path = None if path is None else Path(path)
        self.spec, self.fmt = spec, output_format(self.path or Path("grid.json"), fmt)
        self.rows: dict[tuple[int, int, int], dict[str, Any]] = {}
        self.failed: dict[tuple[int, int, int], str] = {}

    def add(self, row: dict[str, Any]) -> None:
        self.rows[row_key(row)] = row
        self.failed.pop(row_key(row), None)
        self.write()

    def add_failed(self, cell: Cell, message: str) -> None:
        self.failed[cell.key] = message
        self.write()

    def sorted_rows(self) -> list[dict[str, Any]]:
        return [self.rows[k] for k in sorted(self.rows, key=lambda k: (k[1], k[0], k[2]))]

    def text(self) -> str:
        rows = self.sorted_rows()
        if self.fmt == "csv":
            buf = io.StringIO()
            writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: _csv_value(r[k]) for k in COLUMNS} for r in rows)
            return buf.getvalue()
        fit = fit_rows(rows)
        doc = {"schema": SCHEMA, "grid": self.spec.to_dict(), "cells": self.spec.size, "done": len(rows),
               "rows": [{k: _json_value(r[k]) for k in COLUMNS} for r in rows],
               "failed": [{"ix": k[0], "iy": k[1], "seed_index": k[2], "error": m}
                          for k, m in sorted(self.failed.items())],
               "fit": None if fit is None else fit.to_dict()}
        return json.dumps(doc, allow_nan=False) + "\n"

    def write(self) -> None:
        if self.path is None:
            return
        try:
            atomic_write_text(self.path, self.text())
        except OSError as exc:
            raise GridError(f"cannot write {self.path}: {exc}") from None

    def load(self) -> int:
        """Read the rows already in `path` (for --resume); how many. GridError if the file holds
        another grid or cannot be read."""
        for row in read_rows(self.path, self.fmt):
            if row.get("grid_id") != self.spec.grid_id:
                raise GridError(f"{self.path} holds another grid (grid_id {row.get('grid_id')}, this one is "
                                f"{self.spec.grid_id}): same config, axes and --steps are needed to resume")
            if row["seed_index"] < self.spec.seeds:
                self.rows[row_key(row)] = row
        return len(self.rows)


def read_rows(path: Path, fmt: str | None = None) -> list[dict[str, Any]]:
    """The rows of a grid file (numbers parsed, NaN for null/empty); GridError if unreadable."""
    path = Path(path)
    try:
        text = read_text(path, "--resume:")
    except UnreadableFile as exc:
        raise GridError(str(exc)) from None
    try:
        if output_format(path, fmt) == "csv":
            raw = list(csv.DictReader(io.StringIO(text)))
        else:
            doc = json.loads(text)
            raw = doc["rows"] if isinstance(doc, dict) and isinstance(doc.get("rows"), list) else None
            if raw is None:
                raise ValueError("no 'rows' list")
        return [_parse_row(r) for r in raw]
    except (ValueError, KeyError, TypeError) as exc:
        raise GridError(f"{path} is not a grid file ({exc})") from None


def _parse_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    for k in COLUMNS:
        v = raw[k]
        if k in _TEXT_COLUMNS:
            row[k] = str(v)
        elif k == "diverged":
            row[k] = v if isinstance(v, bool) else str(v) == "True"
        elif k in _INT_COLUMNS:
            row[k] = int(v)
        else:
            row[k] = math.nan if v is None or v == "" else float(v)
    return row
