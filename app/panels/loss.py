"""Loss and accuracy over steps: loss on the left axis, accuracy (0–1) on the right.

The title is the legend: its two words are drawn in the curves' colours. The loss axis turns
logarithmic while the recorded loss spans more than two decades (an exploding run's 1e22 would
otherwise flatten its first steps to 0), and back when it no longer does.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg

from ..history import History
from ..plot_kit import LABEL_STYLE, TICK_FONT, Dots, Line, fit_range, line, style
from ..plot_math import drawable, isolated, safe_log10, spans_decades
from .empty_note import EmptyNote

LOSS_COLOR, ACC_COLOR = "#d62728", "#2ca02c"


class LossAccuracy:
    """The plot in cell (0, col) of `row`; accuracy is drawn in a second ViewBox on the right axis."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, f'<span style="color:{LOSS_COLOR}">Loss</span> and <span style="color:{ACC_COLOR}">'
                         f'accuracy</span>', "training step", "loss")
        self.loss_curve = line(self.plot, pg.mkPen(LOSS_COLOR, width=2.5))
        # a finite loss between non-finite ones (a run that diverged at step 2) is a dot: the
        # line joins finite neighbours only
        self.loss_dots = Dots(LOSS_COLOR, 8)
        self.plot.addItem(self.loss_dots)
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
        self.acc_dots = Dots(ACC_COLOR, 8)
        self.acc_view.addItem(self.acc_dots)
        self.empty = EmptyNote(self.plot, ("bottom", "left", "right"))
        self.log = False                                     # whether the loss axis is logarithmic now
        self.locked: tuple[float, float] | None = None       # a fixed loss range ("lock scales")

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot]

    def show(self, history: History) -> None:
        """Draw the loss and accuracy of every recorded step."""
        steps = np.asarray(history.steps, dtype=np.float64)
        self.empty.show_if(len(steps) == 0)
        loss = np.asarray(history.loss, dtype=np.float64)
        log = spans_decades(self.locked) if self.locked else spans_decades(loss)
        self.set_log(log)
        y = safe_log10(loss)[0] if log else loss
        self.loss_curve.setData(*drawable(steps, y), connect="finite")
        acc = np.asarray(history.accuracy, dtype=np.float64)
        self.acc_curve.setData(steps, acc, connect="finite")
        for dots, values in ((self.loss_dots, y), (self.acc_dots, acc)):
            lone = isolated(values)
            if lone.any() or len(dots.getData()[0]):
                dots.setData(steps[lone], values[lone])
        if len(steps):
            fit_range(self.plot, "x", float(steps[0]), float(steps[-1]), grow=0.25)
        if self.locked:
            lo, hi = self.locked
            self.plot.setYRange(*((math.log10(lo), math.log10(hi)) if log else (lo, hi)), padding=0)
            return
        finite = y[np.isfinite(y)]
        if finite.size:
            if log:
                fit_range(self.plot, "y", math.floor(float(finite.min()) - 0.5), float(finite.max()))
            else:
                fit_range(self.plot, "y", 0.0, float(finite.max()))

    def set_log(self, log: bool) -> None:
        """Draw log10(loss) on an axis labelled in powers of ten, or the loss itself."""
        if log == self.log:
            return
        self.log = log
        self.plot.getAxis("left").setLogMode(False, log)
        self.plot.setLabel("left", "loss (log)" if log else "loss", **LABEL_STYLE)
