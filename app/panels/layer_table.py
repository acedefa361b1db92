"""The per-layer table (shown on demand): a Qt model over a snapshot's per-layer arrays, and its view.

Every column is as wide as its two-line header and its widest possible cell ("-1.23e-10" in three
significant digits), fixed once per font: the figures never elide and the columns do not jump from
frame to frame.
"""
from __future__ import annotations

import math

from PySide6.QtCore import QAbstractTableModel, QEvent, QModelIndex, QSize, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QHeaderView, QTableView

from core import Snapshot

# (LayerStats field, header, format, tooltip); "sig" is three significant digits ("pos" the same, of a
# quantity that is never negative: a std, a norm, a ratio), "pct" a percentage
COLUMNS = (
    ("layer", "Layer", None, "Hidden layer, input → output"),
    ("preact_mean", "Preact\nmean", "sig", "preact_mean: mean of the pre-activation z = W·a + b"),
    ("preact_std", "Preact\nstd", "pos", "preact_std: std of the pre-activation z = W·a + b"),
    ("act_mean", "Act\nmean", "sig", "act_mean: mean of the activation a = φ(z)"),
    ("act_std", "Act\nstd", "pos", "act_std: std of the activation a = φ(z)"),
    ("saturated_frac", "Sat.\n%", "pct", "saturated_frac: share of units in the activation's flat tails"),
    ("dead_frac", "Dead\n%", "pct", "dead_frac: share of units that output 0 for every example of the batch"),
    ("grad_norm", "Grad\nnorm", "pos", "grad_norm: ‖∂L/∂z‖ of the layer"),
    ("update_to_weight", "Update:\nweight", "pos",
     "update_to_weight: ‖ΔW‖ / ‖W‖ of the last update (— for a probe)"),
    ("grad_noise", "Grad\nnoise", "pos", "grad_noise: noise-to-signal ratio of the weight gradient over the batch"),
    ("unit_spread", "Unit\nspread", "pos", "unit_spread: how different the layer's units are, 0 when all are "
                                           "copies of one unit (symmetry not broken), about 1 when random"),
)
WIDEST = {None: "1000", "sig": "-1.23e-10", "pos": "1.23e-10", "pct": "100.0"}   # the widest text a column holds
_PAD = 14  # px around a cell's text (the style's margins and the grid line)


def column(name: str) -> int:
    """The index of the column showing LayerStats field `name` (or 'layer')."""
    return [c[0] for c in COLUMNS].index(name)


def compact_number(x: float) -> str:
    """`x` in three significant digits with a short exponent: '0.123', '28', '-1.23e-5', '4.5e+19' → '4.5e19'."""
    text = f"{x:.3g}"
    if "e" in text:
        mantissa, exponent = text.split("e")
        text = f"{mantissa}e{int(exponent)}"
    return text


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
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return self.first_header if section == 0 else COLUMNS[section][1]
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMNS[section][3]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if self.snapshot is None:
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role != Qt.ItemDataRole.DisplayRole:
            return None
        name, _, fmt, _ = COLUMNS[index.column()]
        if name == "layer":
            return str(index.row() + 1)
        value = float(getattr(self.snapshot.layers, name)[index.row()])
        return cell_text(value, fmt, missing="NaN" if name == "grad_norm" else "—")


def cell_text(value: float, fmt: str, missing: str = "—") -> str:
    """`value` as a cell shows it: 'sig' or 'pos' in three significant digits (compact_number), 'pct'
    as a percentage; NaN as `missing`, ±Inf as 'Inf' / '-Inf'."""
    if math.isnan(value):
        return missing
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if fmt == "pct":
        return f"{100 * value:.1f}"
    return compact_number(value)


class LayerTable(QTableView):
    """The table's view: fitted fixed-width columns, alternating row colours, no row numbers; its
    size hint is the width that shows every column whole."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.model_ = LayerTableModel()
        self.setModel(self.model_)
        self.verticalHeader().hide()
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignCenter)
        header.setStretchLastSection(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setAlternatingRowColors(True)
        self.model_.headerDataChanged.connect(lambda *_: self.fit_columns())
        self.fit_columns()

    def column_width(self, section: int) -> int:
        """Room for `section`'s header (each of its lines) and its widest cell, in this font."""
        cells, header = QFontMetrics(self.font()), QFontMetrics(self.horizontalHeader().font())
        title = str(self.model_.headerData(section, Qt.Orientation.Horizontal))
        needed = max([header.horizontalAdvance(line) for line in title.split("\n")]
                     + [cells.horizontalAdvance(WIDEST[COLUMNS[section][2]])])
        return needed + _PAD

    def fit_columns(self) -> None:
        """Size every column to its column_width (again after a font change)."""
        for section in range(len(COLUMNS)):
            self.horizontalHeader().resizeSection(section, self.column_width(section))
        self.updateGeometry()

    def changeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:
            self.horizontalHeader().setFont(self.font())
            self.fit_columns()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override: wide enough for every column
        hint = super().sizeHint()
        width = (self.horizontalHeader().length() + 2 * self.frameWidth()
                 + self.verticalScrollBar().sizeHint().width())
        return QSize(width, hint.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override: every column whole, rows may scroll
        # (beside the diagnoses under the plots, the dock split would otherwise cut the last columns)
        return QSize(self.sizeHint().width(), super().minimumSizeHint().height())
