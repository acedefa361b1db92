"""The activation heatmap: layer × activation value, colour = log10 share of the layer's values.

A layer with NaN/Inf activations is marked at the right edge; the mean-field overlay draws the
predicted mean ± std per layer over it.

When the layers' stds span more than two decades (too-small or too-large weights), one common value
axis shows every layer but a few as a spike at 0, in black: each layer is then drawn on its own
scale, value ÷ that layer's std, with the stds named on the axis (`per_layer`). "Lock scales"
instead fixes one common value range for every picture.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt

from core import Snapshot

from ..plot_kit import (BAD_COLOR, LABEL_STYLE, TICK_FONT, TITLE_SIZE, IndexedImage, Markers, clear_curve, fit_range,
                        layer_ticks, line, lookup_table, set_points, style)
from ..plot_math import GRID_BINS, colour_index, layer_scales, resample_histograms, value_grid
from .layer_scale import per_layer_label

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
        self.locked: tuple[float, float] | None = None   # a fixed common value range (lock scales)
        self.per_layer = False                           # drawn as value ÷ each layer's std
        self.axis_text = ""
        self.prefix = "L"

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot, self.bar]

    def set_layer_noun(self, noun: str) -> None:
        """Title and axis in the noun of one entry of a snapshot's per-layer arrays."""
        self.plot.setTitle(f"Activations per {noun}", size=TITLE_SIZE)
        self.plot.getAxis("left").setLabel(noun, **LABEL_STYLE)  # (no span: too long for the top row on a laptop)
        self.prefix = "t" if noun == "time step" else "L"

    def show(self, snap: Snapshot, per_layer: bool = False) -> None:
        """Draw every layer's histogram of `snap`, resampled onto one value grid: of the values, or with
        `per_layer` of value ÷ the layer's std (layer_scales)."""
        ls = snap.layers
        self.per_layer = per_layer and self.locked is None
        edges = np.asarray(ls.act_hist_edges, dtype=np.float64)
        if self.per_layer:
            edges = edges / layer_scales(ls.act_std)[:, None]
        grid = np.linspace(*self.locked, GRID_BINS + 1) if self.locked is not None else value_grid(edges)
        self._label(per_layer_label(ls.act_std, self.prefix) if self.per_layer else "activation value")
        share = resample_histograms(ls.act_hist_counts, edges, grid)   # [L, V]
        with np.errstate(divide="ignore"):
            logs = np.log10(share)
        index = colour_index(logs, SHARE_FLOOR_LOG, 0.0)
        index[share <= 0] = 0
        self.image.set_index(index)
        L = snap.depth
        self.image.setRect(QRectF(grid[0], 0.5, grid[-1] - grid[0], L))
        bad = np.flatnonzero(ls.act_nonfinite > 0)
        set_points(self.bad, np.full(len(bad), grid[-1]), bad + 1.0)
        if self.locked is not None:
            self.plot.setXRange(*self.locked, padding=0)
        else:
            fit_range(self.plot, "x", grid[0], grid[-1])
        self.plot.setYRange(0.5, L + 0.5, padding=0)
        layer_ticks(self.plot, "left", L)

    def _label(self, text: str) -> None:
        if text != self.axis_text:   # (a new label repaints the cached axis)
            self.axis_text = text
            self.plot.getAxis("bottom").setLabel(text, **LABEL_STYLE)

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
                clear_curve(curve)
            return
        y = np.arange(1, snap.depth + 1, dtype=np.float64)
        unit = layer_scales(snap.layers.act_std) if self.per_layer else 1.0
        self.theory[0].setData((profile.act_mean - profile.act_std) / unit, y)
        self.theory[1].setData((profile.act_mean + profile.act_std) / unit, y)
