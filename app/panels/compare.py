"""A/B comparison plots: A and B side by side with shared axes, and the gradient-norm log ratio.

Rows: ‖∂L/∂z‖ per layer (log), activation std per layer (log), loss over steps (on a log axis
while A's and B's losses together span more than two decades, so a stalled 0.68 beside an
exploding 1e3 stays readable);
columns A and B, each row's two plots linked (setXLink/setYLink) and given the
same ranges, computed from both sides' data. Below, the difference view:
log₁₀(‖g_B‖/‖g_A‖) per aligned layer pair with a zero line; +∞ (A exactly 0),
−∞ (B exactly 0) and undefined values (0/0, NaN/Inf) are drawn as markers at
the edges and at 0, never left out. Items are created once; `show()` only sets data.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt

from core.compare import A_ZERO, B_ZERO, NAMES, OK, Comparison

from ..history import History
from ..legends import legend_below
from ..plot_kit import (BAD_COLOR, LABEL_STYLE, ZERO_COLOR, Dots, Markers, cache_unchanging, dotted_line, retitle,
                        set_dotted_line, set_points, style)
from ..plot_math import safe_log10, spans_decades

SIDE_COLORS = {"A": "#1f77b4", "B": "#e6550d"}
ROWS = (("grad", "‖∂L/∂z‖ per layer", "layer (input → output)", "norm (log scale)"),
        ("act", "Activation std per layer", "layer (input → output)", "std (log scale)"),
        ("loss", "Loss", "training step", "loss"))
LOG_ROWS = ("grad", "act")


def shared_log_range(*series: np.ndarray) -> tuple[float, float]:
    """(floor, top) in log10 units covering the positive finite values of every series, plus margins.

    The floor sits one decade under the smallest value: exact zeros are drawn there.
    """
    logs = np.concatenate([safe_log10(s)[0] for s in series]) if series else np.empty(0)
    finite = logs[np.isfinite(logs)]
    if not finite.size:
        return -1.0, 1.0
    return math.floor(float(finite.min())) - 1.0, math.ceil(float(finite.max())) + 0.5


class CompareView(pg.GraphicsLayoutWidget):
    """The A | B plots and the difference view; `show_comparison(c, histories)` redraws them."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.drawn: Comparison | None = None
        self.loss_log = False   # whether the shared loss axis is logarithmic now
        self.plots: dict[tuple[str, str], pg.PlotItem] = {}
        self.curves: dict[tuple[str, str], pg.PlotCurveItem] = {}
        self.dots: dict[tuple[str, str], Dots] = {}
        self.zero_marks: dict[tuple[str, str], Markers] = {}
        self.bad_marks: dict[tuple[str, str], Markers] = {}
        self.ci.layout.setSpacing(6)
        self.titles = {}
        for col, side in enumerate(NAMES):
            self.titles[side] = self.addLabel(side, row=0, col=col, size="14pt", color=SIDE_COLORS[side], bold=True)
        for r, (key, title, bottom, left) in enumerate(ROWS, start=1):
            for col, side in enumerate(NAMES):
                plot = self.addPlot(row=r, col=col)
                style(plot, f"{side}: {title}", bottom, left)
                plot.disableAutoRange()
                if key in LOG_ROWS:
                    plot.getAxis("left").setLogMode(False, True)
                self.curves[key, side], self.dots[key, side] = dotted_line(plot, SIDE_COLORS[side])
                zero = Markers(symbol="t", size=11, brush=ZERO_COLOR, pen=pg.mkPen("k"))
                bad = Markers(symbol="x", size=13, brush=BAD_COLOR, pen=pg.mkPen(BAD_COLOR, width=2))
                plot.addItem(zero)
                plot.addItem(bad)
                self.zero_marks[key, side], self.bad_marks[key, side] = zero, bad
                self.plots[key, side] = plot
            a, b = self.plots[key, "A"], self.plots[key, "B"]
            b.setXLink(a)
            b.setYLink(a)
        # the difference view, across both columns
        self.diff_plot = self.addPlot(row=len(ROWS) + 1, col=0, colspan=2)
        style(self.diff_plot, "Difference: log₁₀(‖∂L/∂z‖ of B / of A) per layer", "layer (input → output)",
               "log₁₀ ratio B/A")
        self.diff_plot.disableAutoRange()
        self.diff_plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#333", width=1.5,
                                                                              style=Qt.PenStyle.DashLine)))
        legend = legend_below(self.diff_plot, columns=2)
        self.diff_curve, self.diff_dots = dotted_line(self.diff_plot, "#6a3d9a",
                                                       "log₁₀ ratio (above 0: B's gradient is larger)")
        self.diff_plus = Markers(symbol="t1", size=13, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.diff_minus = Markers(symbol="t", size=13, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.diff_undefined = Markers(symbol="x", size=14, brush=BAD_COLOR, pen=pg.mkPen(BAD_COLOR, width=2))
        for item, label in ((self.diff_plus, "+∞: A's gradient is exactly 0"),
                            (self.diff_minus, "−∞: B's gradient is exactly 0"),
                            (self.diff_undefined, "undefined: both 0, or NaN/Inf")):
            self.diff_plot.addItem(item)
            legend.addItem(item, label)
        for r in range(1, len(ROWS) + 2):
            self.ci.layout.setRowStretchFactor(r, 3 if r <= len(ROWS) else 4)
        cache_unchanging([*self.plots.values(), self.diff_plot, legend])

    @property
    def drawn_snapshot(self) -> Comparison | None:
        return self.drawn

    @property
    def drawn_step(self) -> int | None:
        return None if self.drawn is None else self.drawn.step

    # ---------- drawing ----------
    def show_comparison(self, c: Comparison, histories: dict[str, History]) -> None:
        snaps = {"A": c.a, "B": c.b}
        depth = max(c.a.depth, c.b.depth)
        for key, field in (("grad", "grad_norm"), ("act", "act_std")):
            values = {s: np.asarray(getattr(snaps[s].layers, field), dtype=np.float64) for s in NAMES}
            floor, top = shared_log_range(*values.values())
            for side in NAMES:
                logs, zero, bad = safe_log10(values[side])
                x = np.arange(1, len(logs) + 1, dtype=np.float64)
                set_dotted_line(self.curves[key, side], self.dots[key, side], x, np.where(zero, floor, logs))
                set_points(self.zero_marks[key, side], x[zero], np.full(int(zero.sum()), floor))
                set_points(self.bad_marks[key, side], x[bad], np.full(int(bad.sum()), top - 0.2))
            self._set_range(key, (0.5, depth + 0.5), (floor - 0.3, top))
        steps = {s: np.asarray(histories[s].steps, dtype=np.float64) for s in NAMES}
        losses = {s: np.asarray(histories[s].loss, dtype=np.float64) for s in NAMES}
        self.set_loss_log(spans_decades(np.concatenate(list(losses.values()))))
        if self.loss_log:
            losses = {s: safe_log10(v)[0] for s, v in losses.items()}
        for side in NAMES:
            set_dotted_line(self.curves["loss", side], self.dots["loss", side], steps[side], losses[side])
        all_steps = np.concatenate(list(steps.values()))
        all_loss = np.concatenate(list(losses.values()))
        all_loss = all_loss[np.isfinite(all_loss)]
        x_rng = (float(all_steps.min()), float(max(all_steps.max(), all_steps.min() + 1))) if all_steps.size else (0, 1)
        if self.loss_log:
            y_rng = (math.floor(float(all_loss.min()) - 0.5), float(all_loss.max()) + 0.2)  # (a decade's tick below)
        else:
            y_rng = (0.0, float(all_loss.max()) * 1.05) if all_loss.size and all_loss.max() > 0 else (0.0, 1.0)
        self._set_range("loss", x_rng, y_rng)
        self._show_diff(c)
        for side in NAMES:
            cfg_snap = snaps[side]
            self.titles[side].setText(f"{side}: step {cfg_snap.step}, loss {cfg_snap.loss:.4g}"
                                      + ("  ⚠ NaN/Inf" if cfg_snap.nonfinite else ""))
        self.drawn = c

    def set_loss_log(self, log: bool) -> None:
        """Both loss plots on a log10 axis (labelled in powers of ten), or linear."""
        if log == self.loss_log:
            return
        self.loss_log = log
        for side in NAMES:
            self.plots["loss", side].getAxis("left").setLogMode(False, log)
            self.plots["loss", side].setLabel("left", "loss (log)" if log else "loss", **LABEL_STYLE)

    def _set_range(self, key: str, x: tuple[float, float], y: tuple[float, float]) -> None:
        for side in NAMES:  # the same ranges on both (they are linked too, for panning)
            self.plots[key, side].setRange(xRange=x, yRange=y, padding=0)

    def _show_diff(self, c: Comparison) -> None:
        d = c.diff
        x = d.layer_a.astype(np.float64)
        flags = np.asarray(d.flag)
        r = d.log10_ratio
        finite = r[np.isfinite(r)]
        m = max(0.5, float(np.abs(finite).max()) * 1.15) if finite.size else 1.0
        set_dotted_line(self.diff_curve, self.diff_dots, x, np.where(np.isfinite(r), r, np.nan))
        set_points(self.diff_plus, x[flags == A_ZERO], np.full(int((flags == A_ZERO).sum()), 0.92 * m))
        set_points(self.diff_minus, x[flags == B_ZERO], np.full(int((flags == B_ZERO).sum()), -0.92 * m))
        undefined = (flags != OK) & (flags != A_ZERO) & (flags != B_ZERO)
        set_points(self.diff_undefined, x[undefined], np.zeros(int(undefined.sum())))
        lo = float(x[0]) if len(x) else 1.0
        hi = float(x[-1]) if len(x) else 1.0
        self.diff_plot.setRange(xRange=(lo - 0.5, hi + 0.5), yRange=(-m, m), padding=0)
        shift = int(d.layer_b[0] - d.layer_a[0]) if len(x) else 0
        title = "Difference: log₁₀(‖∂L/∂z‖ of B / of A) per layer"
        if shift:
            sign = "+" if shift > 0 else "−"
            title += f" (depths differ: aligned at the output, B's layer = A's layer {sign} {abs(shift)})"
        retitle(self.diff_plot, title)

