"""The update : weight ratio ‖ΔW‖ / ‖W‖ per layer over steps, on a log axis with a 1e-3 guide.

A grey band spans every layer at every step; the selected layers are drawn as curves. The
title shows the effective (warm-up) learning rate of the drawn step.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QPainterPath
from PySide6.QtWidgets import QGraphicsPathItem

from core import Snapshot

from ..history import History
from ..legends import legend_in
from ..plot_kit import (LAYER_COLORS, MAX_OVERLAY, TITLE_SIZE, ZERO_COLOR, Markers, fit_range, label_curves, line,
                        log_guide, retitle, set_points, style)
from ..plot_math import layer_prefix, nan_min_max, safe_log10, step_envelope
from .empty_note import EmptyNote


class UpdateRatios:
    """The plot in cell (0, col) of `row`, its legend in (0, col + 1)."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        style(self.plot, "", "training step", "‖ΔW‖ / ‖W‖ (log)")
        self.plot.getAxis("left").setLogMode(False, True)
        log_guide(self.plot, "1e-3", at=-3)
        # the band of all layers: one outlined polygon. (A FillBetweenItem between two curves rebuilt
        # its path from both curves' paths after each one's setData: 1.5 ms a frame at 400 steps.)
        self.band = QGraphicsPathItem()
        self.band.setPen(pg.mkPen(120, 120, 120, 110, width=0))  # (width 0: no stroking for its bounds)
        self.band.setBrush(pg.mkBrush(120, 120, 120, 60))
        self.band.setZValue(-1)
        self.plot.addItem(self.band)
        self.legend = legend_in(row, row=0, col=col + 1)
        # (a FillBetweenItem as a legend sample crashes pyqtgraph 0.14: use a filled proxy curve)
        self.band_sample = pg.PlotDataItem([0, 1], [0, 0], pen=pg.mkPen(120, 120, 120, 60), fillLevel=1,
                                           brush=pg.mkBrush(120, 120, 120, 60))
        self.legend.addItem(self.band_sample, "all layers (min–max)")
        self.zero = Markers(symbol="t", size=10, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.plot.addItem(self.zero)
        self.legend.addItem(self.zero, "exactly 0 (at floor)")
        self.curves = [line(self.plot, pg.mkPen(c, width=2)) for c in LAYER_COLORS[:MAX_OVERLAY]]
        self.noun = "layer"
        self.empty = EmptyNote(self.plot)

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot, self.legend]

    def set_layer_noun(self, noun: str) -> None:
        """Title and legend names in the noun of one entry of a snapshot's per-layer arrays."""
        self.noun = noun
        self.plot.setTitle(f"Update : weight ratio per {noun}", size=TITLE_SIZE)

    def show(self, history: History, layers: list[int]) -> None:
        """Draw the band of all layers and the curves of `layers` (1-based) over the history's steps."""
        self.empty.show_if(len(history) == 0)
        if len(history) == 0:
            for curve in self.curves:
                curve.setData([], [])
            self.band.setPath(QPainterPath())
            set_points(self.zero, np.zeros(0), np.zeros(0))
            return
        steps = history.layer_steps().astype(np.float64)
        logs, zero, _ = safe_log10(history.update_to_weight())     # [H, L]
        finite = logs[np.isfinite(logs)]
        floor = min(-8.0, math.floor(float(finite.min())) - 1) if finite.size else -8.0
        logs = np.where(zero, floor, logs)  # an update of exactly 0 sits on the floor, marked below
        lo_env, hi_env = nan_min_max(logs)
        # a step with no number in any layer (NaN: the run diverged) is left out of the band rather than
        # drawn at the floor, which reads as a ratio of ≈ 0
        known = ~np.isnan(lo_env)
        band = QPainterPath()
        if known.any():
            x, lo, hi = step_envelope(steps[known], lo_env[known], hi_env[known])
            band = pg.arrayToQPath(np.concatenate([x, x[::-1]]), np.concatenate([lo, hi[::-1]]))
            band.closeSubpath()
        self.band.setPath(band)
        for i, curve in enumerate(self.curves):
            if i < len(layers):
                curve.setData(steps, logs[:, layers[i] - 1], connect="finite")
            else:
                curve.setData([], [])
        zero_steps = steps[zero.any(axis=1)]
        set_points(self.zero, zero_steps, np.full(len(zero_steps), floor))
        label_curves(self.legend, self.curves, layers, layer_prefix(self.noun))
        fit_range(self.plot, "x", float(steps[0]), float(steps[-1]), grow=0.25)
        top = float(np.nanmax(hi_env)) if np.isfinite(hi_env).any() else -1.0
        fit_range(self.plot, "y", floor - 0.3, max(top, -2.0) + 0.3)

    def show_lr(self, snap: Snapshot) -> None:
        """Name the drawn step's effective learning rate in the title."""
        retitle(self.plot, f"Update : weight ratio per {self.noun} (lr {snap.lr:.3g})")
