"""The gradient-noise tab: the statistic of core/noise.py per layer, and over steps."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pyqtgraph as pg

from core import Snapshot

from ..canvas import ScrollingLayoutWidget
from ..history import History
from ..legends import legend_in
from ..plot_kit import (LABEL_STYLE, LAYER_COLORS, MAX_OVERLAY, TICK_FONT, TITLE_SIZE, cache_unchanging, dotted_line,
                        label_curves, layer_ticks, line, log_guide, set_dotted_line, style)
from ..plot_math import layer_prefix, layer_span, safe_log10
from .empty_note import EmptyNote
from .plot_panel import PANEL_FLOOR_HEIGHT, PANEL_MIN_HEIGHT


class NoisePanel(ScrollingLayoutWidget):
    """The gradient-noise statistic: per layer for the drawn snapshot, and over steps.

    grad_noise = √((1 − N/n)·tr Σ̂/N) / ‖Ḡ‖ (core/noise.py): the standard error of the
    step's weight gradient over its norm. It falls like 1/√N with the effective batch N
    while the mean gradient dominates; near 1 (the dashed line) the step is mostly noise.
    """

    def __init__(self, parent=None):
        super().__init__(parent, floor_height=PANEL_FLOOR_HEIGHT, min_height=PANEL_MIN_HEIGHT)
        self.drawn_step: int | None = None
        self.noun = "layer"
        self.ci.layout.setSpacing(8)
        self.per_layer = self.addPlot(row=0, col=0, colspan=2)
        style(self.per_layer, "Gradient noise per layer: √((1 − N/n)·tr Σ̂ / N) / ‖∂L/∂W‖",
              "layer (input → output)", "noise : signal (log)")
        self.per_layer.getAxis("left").setLogMode(False, True)
        log_guide(self.per_layer, "noise = signal")
        self.layer_curve, self.layer_dots = dotted_line(self.per_layer, "#6a1b9a")
        self.note = pg.TextItem("", color="#7a4f00", anchor=(0, 0))
        self.note.setFont(TICK_FONT)
        self.per_layer.addItem(self.note, ignoreBounds=True)
        self.over_steps = self.addPlot(row=1, col=0)
        style(self.over_steps, "Gradient noise over steps", "training step", "noise : signal (log)")
        self.over_steps.getAxis("left").setLogMode(False, True)
        log_guide(self.over_steps, "noise = signal")
        self.legend = self.over_steps.legend = legend_in(self.ci, row=1, col=1)
        self.median_curve = line(self.over_steps, pg.mkPen("k", width=3), "median over layers")
        self.step_curves = [line(self.over_steps, pg.mkPen(c, width=1.5)) for c in LAYER_COLORS[:MAX_OVERLAY]]
        cache_unchanging([self.per_layer, self.over_steps, self.legend])
        self.empty = EmptyNote(self.over_steps)

    def set_layer_noun(self, noun: str) -> None:
        """'layer', or 'time step' for a recurrent network (as PlotPanel.set_layer_noun)."""
        if noun == self.noun:
            return
        self.noun = noun
        self.per_layer.setTitle(f"Gradient noise per {noun}: √((1 − N/n)·tr Σ̂ / N) / ‖∂L/∂W‖", size=TITLE_SIZE)
        self.per_layer.getAxis("bottom").setLabel(f"{noun} ({layer_span(noun)})", **LABEL_STYLE)

    def show_snapshot(self, snap: Snapshot, history: History, layers: list[int]) -> None:
        """Redraw from `snap` (per layer) and `history` (over steps, the curves of `layers`, 1-based)."""
        noise = np.asarray(snap.layers.grad_noise, dtype=np.float64)
        logs, zero, _ = safe_log10(noise)
        x = np.arange(1, snap.depth + 1, dtype=np.float64)
        finite = logs[np.isfinite(logs)]
        floor = math.floor(float(finite.min())) - 1 if finite.size else -3.0
        defined = bool(finite.size or zero.any())
        set_dotted_line(self.layer_curve, self.layer_dots, x, np.where(zero, floor, logs))
        self.note.setText("" if defined else "undefined: needs ≥ 2 examples per step and a non-zero gradient")
        self.note.setPos(0.6, 0.0)
        self.per_layer.setXRange(0.5, snap.depth + 0.5, padding=0)
        layer_ticks(self.per_layer, "bottom", snap.depth)
        self.per_layer.setYRange(min(floor, -1.0), max(float(finite.max()) if finite.size else 0.0, 0.0) + 0.3,
                                 padding=0)
        self._show_over_steps(history, layers)
        self.refit()
        self.drawn_step = snap.step

    def _show_over_steps(self, history: History, layers: list[int]) -> None:
        self.empty.show_if(len(history) == 0)
        if len(history) == 0:
            for curve in (self.median_curve, *self.step_curves):
                curve.setData([], [])
            return
        steps = history.noise_steps().astype(np.float64)             # (measured with the snapshots only)
        logs, _, _ = safe_log10(history.grad_noise())                 # [H, L]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows: nothing to draw there
            median = np.nanmedian(logs, axis=1)
        self.median_curve.setData(steps, median, connect="finite")
        for i, curve in enumerate(self.step_curves):
            curve.setData(*((steps, logs[:, layers[i] - 1]) if i < len(layers) else ([], [])), connect="finite")
        label_curves(self.legend, self.step_curves, layers, layer_prefix(self.noun))
