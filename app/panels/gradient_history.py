"""The gradient heatmap over steps: layer × step, colour = log10 ‖∂L/∂z‖.

Exact zeros and NaN/Inf get colours of their own (cyan, magenta), outside the colour map.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from ..history import History
from ..legends import legend_below
from ..plot_kit import (BAD_COLOR, LABEL_STYLE, TICK_FONT, TITLE_SIZE, ZERO_COLOR, IndexedImage, fit_range,
                        layer_ticks, lookup_table, style)
from ..plot_math import colour_index, safe_log10
from .empty_note import EmptyNote

GRAD_MAP_DECADES = 12.0    # colour range of the gradient heatmap


class GradientHistory:
    """The heatmap in cell (0, col) of `row` with its legend under it, its colour bar in (0, col + 1)."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, "", "training step", "")
        self.image = IndexedImage(lookup_table("viridis", ZERO_COLOR, BAD_COLOR))
        self.plot.addItem(self.image)
        self.legend = legend_below(self.plot, columns=2)
        self.legend.addItem(pg.ScatterPlotItem(symbol="s", brush=ZERO_COLOR, pen=None), "0")
        self.legend.addItem(pg.ScatterPlotItem(symbol="s", brush=BAD_COLOR, pen=None), "NaN/Inf")
        self.bar = pg.ColorBarItem(values=(-GRAD_MAP_DECADES, 0), colorMap=pg.colormap.get("viridis"),
                                   interactive=False, label="log₁₀ norm", width=14)
        self.bar.getAxis("right").setTickFont(TICK_FONT)
        row.addItem(self.bar, row=0, col=col + 1)
        self.empty = EmptyNote(self.plot)
        self.locked: tuple[float, float] | None = None   # fixed colour levels in log10 (lock scales)

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot, self.bar, self.legend]

    def set_layer_noun(self, noun: str) -> None:
        """Title and axis in the noun of one entry of a snapshot's per-layer arrays."""
        self.plot.setTitle("log₁₀ ‖∂L/∂z‖ over steps", size=TITLE_SIZE)
        self.plot.getAxis("left").setLabel(noun, **LABEL_STYLE)

    def show(self, history: History) -> None:
        """Draw the gradient norms of every recorded step; the colour bar spans at most GRAD_MAP_DECADES."""
        self.empty.show_if(len(history) == 0)
        if len(history) == 0:
            self.image.set_index(np.zeros((1, 1), np.uint8))
            self.image.setVisible(False)
            return
        steps = history.layer_steps()
        logs, zero, bad = safe_log10(history.grad_norm().T)        # [L, H]
        finite = logs[np.isfinite(logs)]
        hi = math.ceil(float(finite.max())) if finite.size else 0.0
        lo = max(math.floor(float(finite.min())), hi - GRAD_MAP_DECADES) if finite.size else hi - 1
        if hi <= lo:
            lo = hi - 1
        if self.locked is not None:   # "lock scales": fixed colour levels
            lo, hi = self.locked
        index = colour_index(logs, lo, hi)
        index[zero] = 0
        index[bad] = 255
        self.image.setVisible(True)
        self.image.set_index(index)
        x0, x1 = float(steps[0]), float(steps[-1])
        span = max(x1 - x0, 1.0)
        L, H = index.shape
        self.image.setRect(QRectF(x0 - span / (2 * max(H - 1, 1)), 0.5, span + span / max(H - 1, 1), L))
        if tuple(self.bar.levels()) != (lo, hi):  # setLevels redraws the bar's axis, even to the same levels
            self.bar.setLevels((lo, hi))
        fit_range(self.plot, "x", x0 - span / (2 * max(H - 1, 1)), x1 + span / (2 * max(H - 1, 1)), grow=0.25)
        self.plot.setYRange(0.5, L + 0.5, padding=0)
        layer_ticks(self.plot, "left", L)
