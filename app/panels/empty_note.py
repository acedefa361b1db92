"""A short message shown in place of an over-steps plot that has no steps to draw.

After a probe alone (a probe-only scenario, or a fresh network) the loss, update and gradient-over-
steps plots have nothing to draw, and their axes would read "training step −0.4 … 0.4". The note
covers the plot's data area and the axes drop their numbers until the first step arrives.
"""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPen
from PySide6.QtWidgets import QGraphicsRectItem, QGraphicsTextItem

NO_STEPS = "No training steps yet: this plot fills in as the network trains (Step or Run)."
PROBE_ONLY = "This scenario is a single probe (no training): the plots above hold its figures."
_NOTE_Z = 1e6   # above the data and the grid


class EmptyNote:
    """A message over `plot`'s data area; `show_if(empty)` shows it, with the axes' numbers hidden,
    exactly while `empty` (changing the axes only when it flips)."""

    def __init__(self, plot: pg.PlotItem, axes: tuple[str, ...] = ("bottom", "left")):
        self.plot, self.axes = plot, axes
        self.text = NO_STEPS
        self.box = QGraphicsRectItem(plot.vb)   # a child of the view box, not of its data group: never scaled
        self.box.setPen(QPen(Qt.PenStyle.NoPen))
        self.box.setBrush(QBrush(QColor(255, 255, 255, 235)))
        self.box.setZValue(_NOTE_Z)
        self.label = QGraphicsTextItem(self.box)
        self.label.setDefaultTextColor(QColor("#444"))
        font = QFont()
        font.setPointSize(11)
        font.setItalic(True)
        self.label.setFont(font)
        self.box.setVisible(False)
        self.shown = False
        plot.vb.sigResized.connect(self._place)

    def set_text(self, text: str) -> None:
        """The message (NO_STEPS, PROBE_ONLY or another sentence)."""
        if text != self.text:
            self.text = text
            self._place()

    def show_if(self, empty: bool) -> None:
        if empty == self.shown:
            return
        self.shown = empty
        self.box.setVisible(empty)
        for name in self.axes:
            self.plot.getAxis(name).setStyle(showValues=not empty)
        self._place()

    def _place(self) -> None:
        rect = self.plot.vb.rect()
        self.box.setRect(QRectF(rect))
        self.label.setPlainText(self.text)
        self.label.setTextWidth(max(rect.width() - 16, 60.0))
        h = self.label.boundingRect().height()
        self.label.setPos(8, max((rect.height() - h) / 2, 0.0))
