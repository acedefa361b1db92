"""Legends that sit beside or under their plot, never over its data.

`legend_below(plot, columns)` puts a pyqtgraph LegendItem in a row of its own under the plot's
x axis; `legend_in(layout, row, col)` puts one in a cell of the panel's grid. `StatsLegend` is
for entries whose text changes with every frame (a layer's mean, std and saturation).
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsLayoutItem, QSizePolicy

LEGEND_TEXT_SIZE = "10pt"
_SAMPLE = 22.0   # length of an entry's line sample, px
_GAP = 6.0       # between sample and text, and around the entries


def _fixed(legend: QGraphicsLayoutItem) -> None:
    legend.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)


class _Sample(pg.ItemSample):
    """A legend entry's sample, drawn with the item's `wide_pen` where it has one.

    A line over many points is drawn thin (app/plot_kit.py, Line); its sample keeps the line's own
    width, as the legend names the series, and would otherwise be thin or wide depending on when
    the (cached) legend was last painted.
    """

    def paint(self, painter, *args) -> None:
        pen = getattr(self.item, "wide_pen", None)
        if pen is None or not self.item.isVisible():
            return super().paint(painter, *args)
        painter.setPen(pen)
        painter.drawLine(0, 11, 20, 11)


class _LaidOutLegend(pg.LegendItem):
    """A LegendItem placed and sized by the layout it is in, with `_Sample` samples.

    (pyqtgraph's LegendItem sizes itself with setGeometry(0, 0, w, h) whenever an entry is added,
    which would show it at its parent's corner until the layout next runs.)
    """

    def __init__(self, **kwargs):
        super().__init__(sampleType=_Sample, **kwargs)
        # (pyqtgraph's legend keeps its size on screen whatever the view's scale; laid out among
        # the plots, it must scale with them: the canvas's zoom, app/canvas.py)
        self.setFlag(self.GraphicsItemFlag.ItemIgnoresTransformations, False)

    def updateSize(self) -> None:  # noqa: N802 - pyqtgraph's name
        self.updateGeometry()


def legend_below(plot: pg.PlotItem, columns: int) -> pg.LegendItem:
    """A legend laid out in `columns`, in its own row under `plot`'s x axis (inside the PlotItem);
    it is the plot's legend (`plot.legend`), as `addLegend` would make it."""
    legend = plot.legend = _LaidOutLegend(labelTextSize=LEGEND_TEXT_SIZE, colCount=columns)
    _fixed(legend)
    plot.layout.addItem(legend, 4, 1)   # PlotItem's grid: row 3 is the bottom axis, column 1 the view
    plot.layout.setAlignment(legend, Qt.AlignmentFlag.AlignHCenter)
    return legend


def legend_in(layout: pg.GraphicsLayout, row: int, col: int) -> pg.LegendItem:
    """A one-column legend in cell (row, col) of `layout`, at the cell's top left."""
    legend = _LaidOutLegend(labelTextSize=LEGEND_TEXT_SIZE)
    _fixed(legend)
    layout.addItem(legend, row=row, col=col)
    layout.layout.setAlignment(legend, Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    return legend


class StatsLegend(pg.GraphicsWidget):
    """A small table beside a plot: a line sample, a name and figures per row, under a header.

    For figures that change with every frame (a layer's mean, std and saturation). pyqtgraph's
    LegendItem lays out an HTML label per entry (about 0.2 ms per changed text), and a label that
    changes width re-lays out the panel around it. Here a change costs one repaint, and a column
    only ever widens (to the widest cell yet), so the layout moves at most a few times.
    """

    def __init__(self, header: tuple[str, ...], rows: int, widest: tuple[str, ...]):
        super().__init__()
        self.font = QFont()
        self.font.setPointSizeF(float(LEGEND_TEXT_SIZE.removesuffix("pt")))
        self._metrics = QFontMetricsF(self.font)
        self._line = self._metrics.height() + 3
        self.header = header
        self.rows: list[tuple[str, tuple[str, ...]]] = []   # (colour, cells), top to bottom
        self._widths = [0.0] * len(header)
        _fixed(self)
        self.setFixedHeight((rows + 1) * self._line + 2 * _GAP)
        self._fit([header, widest])

    def set_rows(self, rows: list[tuple[str, tuple[str, ...]]]) -> None:
        """Show `rows` [(colour, cells)], cells in the header's order; repaints only on a change."""
        if rows == self.rows:
            return
        self.rows = list(rows)
        self._fit([cells for _, cells in rows])
        self.update()

    def _fit(self, lines) -> None:
        widths = [max([w, *(self._metrics.horizontalAdvance(line[i]) for line in lines)])
                  for i, w in enumerate(self._widths)]
        if widths != self._widths:
            self._widths = widths
            self.setFixedWidth(_GAP + _SAMPLE + sum(widths) + _GAP * (len(widths) + 1))

    def paint(self, painter, *args) -> None:
        painter.setFont(self.font)
        text = pg.mkColor(pg.getConfigOption("foreground"))
        for r, (color, cells) in enumerate([(None, self.header), *self.rows]):
            top = _GAP + r * self._line
            if color is not None:
                painter.setPen(QPen(QColor(color), 2.5))
                painter.drawLine(QPointF(_GAP, top + self._line / 2), QPointF(_GAP + _SAMPLE, top + self._line / 2))
            painter.setPen(text)
            x = _GAP + _SAMPLE
            for i, (cell, width) in enumerate(zip(cells, self._widths)):
                x += _GAP
                align = Qt.AlignmentFlag.AlignLeft if i == 0 or i == len(cells) - 1 else Qt.AlignmentFlag.AlignRight
                painter.drawText(QRectF(x, top, width, self._line), align | Qt.AlignmentFlag.AlignVCenter, cell)
                x += width
