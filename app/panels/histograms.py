"""Histograms of a handful of layers' activations, beside a table of their pre-activation mean / std
(z = W·a + b), activation mean / std and saturated %."""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from core import Snapshot

from ..legends import StatsLegend
from ..plot_kit import LABEL_STYLE, LAYER_COLORS, MAX_OVERLAY, TITLE_SIZE, fit_range, style
from ..plot_math import layer_prefix, layer_scales, short_number
from .layer_scale import PER_LAYER_AXIS


# z: the pre-activation W·a + b (preact_mean, preact_std); a: the activation φ(z)
LEGEND_HEADER = ("", "z mean", "z std", "a mean", "a std", "sat", "")


class Histograms:
    """The overlaid histograms in cell (0, col) of `row`, their table in (0, col + 1)."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, "", "activation value", "density")
        self.legend = StatsLegend(LEGEND_HEADER, rows=MAX_OVERLAY,
                                  widest=("L200", "-0.123", "0.123", "-0.123", "0.123", "100%", ""))
        row.addItem(self.legend, row=0, col=col + 1)
        row.layout.setAlignment(self.legend, Qt.AlignmentFlag.AlignTop)
        self.curves = [
            pg.PlotCurveItem(pen=pg.mkPen(c, width=2.5)) for c in LAYER_COLORS[:MAX_OVERLAY]  # steps: see show
        ]
        for curve in self.curves:
            self.plot.addItem(curve)
        self.prefix = "L"
        self.locked: tuple[float, float] | None = None        # a fixed common value range (lock scales)
        self.per_layer = False
        self.axis_text = "activation value"

    def unchanging(self) -> list:
        """The items to paint from a cache (not the table: its figures change with every frame)."""
        return [self.plot]

    def set_layer_noun(self, noun: str) -> None:
        """Title and table names in the noun of one entry of a snapshot's per-layer arrays."""
        self.plot.setTitle(f"Histograms of selected {noun}s", size=TITLE_SIZE)
        self.prefix = layer_prefix(noun)

    def show(self, snap: Snapshot, layers: list[int], per_layer: bool = False) -> None:
        """Draw the density of each of `layers` (1-based), and list its statistics; with `per_layer`,
        the density of value ÷ the layer's std (each layer's std is in the table beside)."""
        ls = snap.layers
        self.per_layer = per_layer and self.locked is None
        scales = layer_scales(ls.act_std) if self.per_layer else np.ones(snap.depth)
        text = f"{PER_LAYER_AXIS} (a std: beside)" if self.per_layer else "activation value"
        if text != self.axis_text:
            self.axis_text = text
            self.plot.getAxis("bottom").setLabel(text, **LABEL_STYLE)
        rows = []
        x_lo, x_hi, y_hi = math.inf, -math.inf, 0.0
        for i, curve in enumerate(self.curves):
            if i >= len(layers):
                curve.setVisible(False)  # (its stale data stays, hidden)
                continue
            k = layers[i] - 1
            counts = ls.act_hist_counts[k].astype(np.float64)
            edges = np.asarray(ls.act_hist_edges[k], dtype=np.float64) / scales[k]
            width = np.diff(edges)
            total = counts.sum()
            density = counts / (total * width) if total > 0 else counts
            curve.setVisible(True)
            curve.setData(edges, density, stepMode="center")  # (a PlotCurveItem refuses it with no data)
            x_lo, x_hi = min(x_lo, float(edges[0])), max(x_hi, float(edges[-1]))
            if np.isfinite(density).any():
                y_hi = max(y_hi, float(np.nanmax(density)))
            bad = int(ls.act_nonfinite[k])
            rows.append((LAYER_COLORS[i], (f"{self.prefix}{layers[i]}",
                                           short_number(ls.preact_mean[k]), short_number(ls.preact_std[k]),
                                           short_number(ls.act_mean[k]), short_number(ls.act_std[k]),
                                           f"{100 * ls.saturated_frac[k]:.0f}%",
                                           f"⚠ {bad} NaN/Inf" if bad else "")))
        self.legend.set_rows(rows)
        if self.locked is not None:
            self.plot.setXRange(*self.locked, padding=0)
        else:
            fit_range(self.plot, "x", x_lo, x_hi)
        fit_range(self.plot, "y", 0.0, y_hi if y_hi > 0 else 1.0)
