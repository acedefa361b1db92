"""Loss and accuracy over steps: loss on the left axis, accuracy (0–1) on the right.

The title is the legend: its two words are drawn in the curves' colours.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

from ..history import History
from ..plot_kit import LABEL_STYLE, TICK_FONT, Line, fit_range, line, style
from ..plot_math import drawable
from .empty_note import EmptyNote

LOSS_COLOR, ACC_COLOR = "#d62728", "#2ca02c"


class LossAccuracy:
    """The plot in cell (0, col) of `row`; accuracy is drawn in a second ViewBox on the right axis."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, f'<span style="color:{LOSS_COLOR}">Loss</span> and <span style="color:{ACC_COLOR}">'
                         f'accuracy</span>', "training step", "loss")
        self.loss_curve = line(self.plot, pg.mkPen(LOSS_COLOR, width=2.5))
        # The accuracy box is a child of the loss box, covering its rect: it moves with it. A box
        # placed in the scene and given the loss box's scene rect on each resize missed every move
        # without a resize (a row above grew, the plot shifted down) and drew an accuracy of 0.56
        # some 34 px too low, even under the axis.
        self.acc_view = pg.ViewBox()
        self.acc_view.setParentItem(self.plot.vb)
        self.plot.vb.sigResized.connect(lambda: self.acc_view.setGeometry(self.plot.vb.rect()))
        self.plot.showAxis("right")
        right = self.plot.getAxis("right")
        right.linkToView(self.acc_view)
        right.setLabel("accuracy", **LABEL_STYLE)
        right.setTickFont(TICK_FONT)
        right.enableAutoSIPrefix(False)
        self.acc_view.setXLink(self.plot)
        self.acc_view.setYRange(0, 1)
        self.acc_view.setMouseEnabled(y=False)
        self.acc_curve = Line(pg.mkPen(ACC_COLOR, width=2.5))
        self.acc_view.addItem(self.acc_curve)
        self.empty = EmptyNote(self.plot, ("bottom", "left", "right"))

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot]

    def show(self, history: History) -> None:
        """Draw the loss and accuracy of every recorded step."""
        steps = np.asarray(history.steps, dtype=np.float64)
        self.empty.show_if(len(steps) == 0)
        loss = np.asarray(history.loss, dtype=np.float64)
        self.loss_curve.setData(*drawable(steps, loss), connect="finite")
        self.acc_curve.setData(steps, np.asarray(history.accuracy, dtype=np.float64), connect="finite")
        if len(steps):
            fit_range(self.plot, "x", float(steps[0]), float(steps[-1]), grow=0.25)
            finite = loss[np.isfinite(loss)]
            if finite.size:
                fit_range(self.plot, "y", 0.0, float(finite.max()))
