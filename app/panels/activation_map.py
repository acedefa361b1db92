"""The activation heatmap: layer × activation value, colour = log10 share of the layer's values.

A layer with NaN/Inf activations is marked at the right edge; the mean-field overlay draws the
predicted mean ± std per layer over it.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt

from core import Snapshot

from ..plot_kit import (BAD_COLOR, LABEL_STYLE, TICK_FONT, TITLE_SIZE, IndexedImage, Markers, fit_range, line,
                        lookup_table, set_points, style)
from ..plot_math import colour_index, resample_histograms, value_grid

SHARE_FLOOR_LOG = -4.0     # log10 share below which the heatmap is at its darkest


class ActivationMap:
    """The heatmap in cell (0, col) of `row`, and its colour bar in (0, col + 1)."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, "", "activation value", "")
        self.image = IndexedImage(lookup_table("inferno", "#000000", None))
        self.plot.addItem(self.image)
        self.bad = Markers(symbol="t2", size=10, brush=BAD_COLOR, pen=None)
        self.plot.addItem(self.bad)
        self.bar = pg.ColorBarItem(values=(SHARE_FLOOR_LOG, 0), colorMap=pg.colormap.get("inferno"),
                                   interactive=False, label="log₁₀ share of layer", width=14)
        self.bar.getAxis("right").setTickFont(TICK_FONT)
        row.addItem(self.bar, row=0, col=col + 1)
        self.theory: tuple | None = None   # the mean-field mean − std and mean + std lines, once added

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot, self.bar]

    def set_layer_noun(self, noun: str) -> None:
        """Title and axis in the noun of one entry of a snapshot's per-layer arrays."""
        self.plot.setTitle(f"Activations per {noun}", size=TITLE_SIZE)
        self.plot.getAxis("left").setLabel(noun, **LABEL_STYLE)  # (no span: too long for the top row on a laptop)

    def show(self, snap: Snapshot) -> None:
        """Draw every layer's histogram of `snap`, resampled onto one value grid."""
        ls = snap.layers
        grid = value_grid(ls.act_hist_edges)
        share = resample_histograms(ls.act_hist_counts, ls.act_hist_edges, grid)   # [L, V]
        with np.errstate(divide="ignore"):
            logs = np.log10(share)
        index = colour_index(logs, SHARE_FLOOR_LOG, 0.0)
        index[share <= 0] = 0
        self.image.set_index(index)
        L = snap.depth
        self.image.setRect(QRectF(grid[0], 0.5, grid[-1] - grid[0], L))
        bad = np.flatnonzero(ls.act_nonfinite > 0)
        set_points(self.bad, np.full(len(bad), grid[-1]), bad + 1.0)
        fit_range(self.plot, "x", grid[0], grid[-1])
        self.plot.setYRange(0.5, L + 0.5, padding=0)

    # ---------- mean-field overlay (core.theory) ----------
    def add_theory(self) -> None:
        """Create the overlay's two dashed lines (drawn by `show_theory`)."""
        pen = pg.mkPen("#00e5ff", width=2, style=Qt.PenStyle.DashLine)
        self.theory = (line(self.plot, pen), line(self.plot, pen))

    def show_theory(self, profile, snap: Snapshot) -> None:
        """Draw the predicted activation mean ± std per layer; nothing without a profile of this depth."""
        if self.theory is None:
            return
        if profile is None or len(profile.q) != snap.depth:
            for curve in self.theory:
                curve.setData([], [])
            return
        y = np.arange(1, snap.depth + 1, dtype=np.float64)
        self.theory[0].setData(profile.act_mean - profile.act_std, y)
        self.theory[1].setData(profile.act_mean + profile.act_std, y)
