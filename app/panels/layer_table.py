"""The per-layer table (shown on demand): a Qt model over a snapshot's per-layer arrays, and its view."""
from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QModelIndex, Qt
from PySide6.QtWidgets import QHeaderView, QTableView

from core import Snapshot

COLUMNS = (
    ("layer", "Layer", None),
    ("act_mean", "Mean", "{:.3g}"),
    ("act_std", "Std", "{:.3g}"),
    ("saturated_frac", "Saturated %", "pct"),
    ("dead_frac", "Dead %", "pct"),
    ("grad_norm", "Grad norm", "{:.3e}"),
    ("update_to_weight", "Update:weight", "{:.2e}"),
    ("grad_noise", "Grad noise", "{:.3g}"),
)


class LayerTableModel(QAbstractTableModel):
    """One row per layer of the shown snapshot, one column per entry of COLUMNS."""

    def __init__(self) -> None:
        super().__init__()
        self.snapshot: Snapshot | None = None
        self.first_header = COLUMNS[0][1]

    def set_layer_noun(self, noun: str) -> None:
        """Head the first column 'Layer' or, for a recurrent network, 'Time step'."""
        self.first_header = noun.capitalize()
        self.headerDataChanged.emit(Qt.Orientation.Horizontal, 0, 0)

    def set_snapshot(self, snap: Snapshot) -> None:
        """Show `snap`'s figures (the rows are kept while the depth is)."""
        if self.snapshot is not None and self.snapshot.depth == snap.depth:
            self.snapshot = snap
            self.dataChanged.emit(self.index(0, 0), self.index(snap.depth - 1, len(COLUMNS) - 1))
        else:
            self.beginResetModel()
            self.snapshot = snap
            self.endResetModel()

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if self.snapshot is None or parent.isValid() else self.snapshot.depth

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return self.first_header if section == 0 else COLUMNS[section][1]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if role != Qt.ItemDataRole.DisplayRole or self.snapshot is None:
            return None
        name, _, fmt = COLUMNS[index.column()]
        if name == "layer":
            return str(index.row() + 1)
        value = float(getattr(self.snapshot.layers, name)[index.row()])
        return cell_text(value, fmt)


def cell_text(value: float, fmt: str) -> str:
    """`value` as a cell shows it: `fmt`, or 'pct' for a percentage; NaN as '—' (as 'NaN' for a
    gradient norm), ±Inf as 'Inf' / '-Inf'."""
    if math.isnan(value):
        return "—" if fmt != "{:.3e}" else "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if fmt == "pct":
        return f"{100 * value:.1f}"
    return fmt.format(value)


class LayerTable(QTableView):
    """The table's view: stretched columns, alternating row colours, no row numbers."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_ = LayerTableModel()
        self.setModel(self.model_)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.setAlternatingRowColors(True)
