"""Gradient magnitude per layer: ‖∂L/∂z‖ and ‖∂L/∂W‖ on a log axis, with vanishing/exploding bands.

The bands lie BAND_DECADES below and above the last layer's ‖∂L/∂z‖ (the dashed reference).
A gradient of exactly 0 is drawn at the axis floor and marked; NaN/Inf are marked at the top.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from core import Snapshot

from ..legends import legend_below
from ..plot_kit import (BAD_COLOR, LABEL_STYLE, TICK_FONT, TITLE_SIZE, ZERO_COLOR, Markers, clear_curve, dotted_line,
                        layer_ticks, line, set_dotted_line, set_points, style)
from ..plot_math import along, drawable, layer_span, least_covered, safe_log10

BAND_DECADES = 2.0         # vanishing/exploding bands: 100× below/above the output layer
RANGE_SLACK_DECADES = 2.0  # the norm axis may show this many decades more than the data needs


class GradientsPerLayer:
    """The plot in cell (0, col) of `row`, its legend under it."""

    def __init__(self, row: pg.GraphicsLayout, col: int):
        self.plot = row.addPlot(row=0, col=col)
        self.locked: tuple[float, float] | None = None   # a fixed norm range (lock scales)
        style(self.plot, "", "", "norm (log scale)")
        self.plot.getAxis("left").setLogMode(False, True)
        self.plot.disableAutoRange()
        self.band_vanish = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                               brush=pg.mkBrush(30, 100, 255, 45), pen=pg.mkPen(None))
        self.band_explode = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                                brush=pg.mkBrush(255, 40, 40, 45), pen=pg.mkPen(None))
        for band in (self.band_vanish, self.band_explode):
            band.setZValue(-10)
            self.plot.addItem(band, ignoreBounds=True)
        self.ref_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#555", style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.ref_line, ignoreBounds=True)
        self.vanish_text = pg.TextItem("", color="#1a4fd0", anchor=(0, 0))
        self.explode_text = pg.TextItem("", color="#c01010", anchor=(0, 0))
        for t in (self.vanish_text, self.explode_text):
            t.setFont(TICK_FONT)
            self.plot.addItem(t, ignoreBounds=True)
        self.legend = legend_below(self.plot, columns=3)
        self.curve, self.dots = dotted_line(self.plot, "#1f77b4", "‖∂L/∂z‖ activations")
        self.weight_curve = line(self.plot, pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine),
                                 "‖∂L/∂W‖ weights")
        self.zero = Markers(symbol="t", size=12, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.bad = Markers(symbol="x", size=14, brush=BAD_COLOR, pen=pg.mkPen(BAD_COLOR, width=2))
        self.plot.addItem(self.zero)
        self.plot.addItem(self.bad)
        self.legend.addItem(self.zero, "0 (exact or underflow)")   # (zero init gives exact zeros)
        self.legend.addItem(self.bad, "NaN / Inf")
        self.theory: pg.PlotCurveItem | None = None   # the mean-field prediction, once added

    def unchanging(self) -> list:
        """The items to paint from a cache (plot_kit.cache_unchanging)."""
        return [self.plot, self.legend]

    def set_layer_noun(self, noun: str) -> None:
        """Title, axis and band labels in the noun of one entry of a snapshot's per-layer arrays."""
        self.plot.setTitle(f"Gradient magnitude per {noun}", size=TITLE_SIZE)
        self.plot.getAxis("bottom").setLabel(f"{noun} ({layer_span(noun)})", **LABEL_STYLE)
        self.vanish_text.setText(f"vanishing: < 1/100 of the last {noun}")
        self.explode_text.setText(f"exploding: > 100× the last {noun}")

    def show(self, snap: Snapshot) -> None:
        """Draw `snap`'s gradient norms per layer, and place the bands around its last layer's."""
        ls = snap.layers
        x = np.arange(1, snap.depth + 1, dtype=np.float64)
        g, g_zero, g_bad = safe_log10(ls.grad_norm)
        w, w_zero, w_bad = safe_log10(ls.weight_grad_norm)
        finite = np.concatenate([g[np.isfinite(g)], w[np.isfinite(w)]])
        ref_val = g[-1] if np.isfinite(g[-1]) else (float(finite.max()) if finite.size else 0.0)
        lo = float(finite.min()) if finite.size else ref_val - 4
        hi = float(finite.max()) if finite.size else ref_val + 1
        floor = math.floor(min(lo, ref_val - BAND_DECADES - 0.5)) - 1.0
        top = math.ceil(max(hi, ref_val + BAND_DECADES + 0.5)) + 2.0
        if self.locked is not None:   # "lock scales": a fixed norm range (zeros and NaN at its edges)
            floor, top = math.log10(self.locked[0]) + 0.5, math.log10(self.locked[1])
        else:
            # Keep the view while it holds [floor − 0.5, top] and is at most RANGE_SLACK_DECADES
            # taller. The smallest gradient crossing a decade back and forth moved the axis on most
            # frames at depth 200, and every move regenerates all four axes' ticks (≈ 2 ms each).
            v0, v1 = self.plot.vb.viewRange()[1]
            if v0 <= floor - 0.5 and top <= v1 and (v1 - v0) - (top - floor + 0.5) <= RANGE_SLACK_DECADES:
                floor, top = v0 + 0.5, v1
        set_dotted_line(self.curve, self.dots, x, np.where(g_zero, floor, g))
        self.weight_curve.setData(*drawable(x, np.where(w_zero, floor, w)), connect="finite")
        zx = np.concatenate([x[g_zero], x[w_zero]])
        set_points(self.zero, zx, np.full(len(zx), floor))
        bx = np.concatenate([x[g_bad], x[w_bad]])
        set_points(self.bad, bx, np.full(len(bx), top - 0.3))
        self.band_vanish.setRegion((floor - 5, ref_val - BAND_DECADES))
        self.band_explode.setRegion((ref_val + BAND_DECADES, top + 5))
        self.ref_line.setValue(ref_val)
        self.plot.setXRange(0.5, snap.depth + 0.5, padding=0)
        layer_ticks(self.plot, "bottom", snap.depth)
        self.plot.setYRange(floor - 0.5, top, padding=0)
        curves = [along(x, np.where(g_zero, floor, g)), along(x, np.where(w_zero, floor, w))]
        if self.theory is not None and self.theory.xData is not None:
            curves.append(along(self.theory.xData, self.theory.yData))
        cx, cy = (np.concatenate(parts) for parts in zip(*curves))
        self.place_band_label(self.vanish_text, (0.5, snap.depth + 0.5), (floor - 0.5, ref_val - BAND_DECADES), cx, cy)
        self.place_band_label(self.explode_text, (0.5, snap.depth + 0.5), (ref_val + BAND_DECADES, top), cx, cy)

    def place_band_label(self, text: pg.TextItem, xs: tuple[float, float], ys: tuple[float, float],
                         cx: np.ndarray, cy: np.ndarray) -> None:
        """Put a band's label in the corner of its visible part (x range `xs`, y range `ys`) where it
        covers the fewest points of the curves (cx, cy); the top-left one on a tie."""
        vb = self.plot.vb
        (x0, x1), (y0, y1) = xs, ys
        lo, hi = self.plot.viewRange()[1]
        y0, y1 = max(y0, lo), min(y1, hi)
        box = text.textItem.boundingRect()
        # data units per screen px (a layout not yet sized: the label's default corner)
        ux = (x1 - x0) / vb.width() if vb.width() > 1 else 0.0
        uy = (hi - lo) / vb.height() if vb.height() > 1 else 0.0
        w, h = box.width() * ux, box.height() * uy
        left, right = x0 + 0.1, x1 - 0.1
        corners = [((left, y1), (0, 0), (left, left + w, y1 - h, y1)),       # top-left
                   ((right, y1), (1, 0), (right - w, right, y1 - h, y1)),    # top-right
                   ((left, y0), (0, 1), (left, left + w, y0, y0 + h)),       # bottom-left
                   ((right, y0), (1, 1), (right - w, right, y0, y0 + h))]    # bottom-right
        pos, anchor, _ = corners[least_covered([c[2] for c in corners], cx, cy)]
        text.setAnchor(anchor)
        text.setPos(*pos)

    # ---------- mean-field overlay (core.theory) ----------
    def add_theory(self) -> None:
        """Create the overlay's dashed line and its legend entry (drawn by `show_theory`)."""
        self.theory = line(self.plot, pg.mkPen("#2e7d32", width=2.5, style=Qt.PenStyle.DashLine), "mean field")

    def show_theory(self, profile, snap: Snapshot) -> None:
        """Draw the predicted ‖∂L/∂z‖ per layer, anchored at the measured last layer; nothing without
        a profile of this depth."""
        if self.theory is None:
            return
        if profile is None or len(profile.q) != snap.depth:
            clear_curve(self.theory)
            return
        y = np.arange(1, snap.depth + 1, dtype=np.float64)
        last = snap.layers.grad_norm[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(last * profile.grad_ratio) if last > 0 and np.isfinite(last) else np.full(len(y), np.nan)
        self.theory.setData(*drawable(y, logs), connect="finite")
