"""Live per-layer plots (pyqtgraph). Every item is created once; `show()` only calls setData/setImage.

Panels, in one GraphicsLayoutWidget:
  act_map     layer × activation value heatmap, colour = log10 share of the layer's values
  act_hist    histograms of a handful of layers, beside a table of their mean / std / saturated %
  grad_layers ‖∂L/∂z‖ and ‖∂L/∂W‖ per layer on a log axis, vanishing/exploding bands
  grad_map    layer × step heatmap of log10 ‖∂L/∂z‖ (NaN/Inf and exact zeros coloured apart)
  loss        loss and accuracy over steps (the title, in the curves' colours, is the legend)
  update      update:weight ratio per layer over steps, log axis, 1e-3 guide; the title
              shows the effective (warm-up) learning rate of the drawn step

Legends sit beside or under their plot, never over the data (app/legends.py).

`NoisePanel` (its own tab) draws the gradient-noise statistic (core/noise.py) per
layer and over steps.

Log axes are drawn by plotting log10 values on an axis in log-label mode, so a
value that underflowed to exactly 0 can be placed at the axis floor and marked
instead of silently vanishing, and NaN/Inf get their own markers.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from core import Snapshot
from core.config import RECURRENT_ARCHITECTURES

from .canvas import ScrollingLayoutWidget
from .history import History
from .legends import StatsLegend, legend_below, legend_in
from .compat import pin_none_refcount

pin_none_refcount()  # idempotent; covers `app` imported as a namespace package (see app/compat.py)
pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=False)

GRID_BINS = 120            # common value grid of the activation heatmap
SHARE_FLOOR_LOG = -4.0     # log10 share below which the heatmap is at its darkest
BAND_DECADES = 2.0         # vanishing/exploding bands: 100× below/above the output layer
GRAD_MAP_DECADES = 12.0    # colour range of the gradient heatmap
MAX_OVERLAY = 6
PANEL_FLOOR_HEIGHT = 500   # px: three rows of plots laid out lower crush the middle one (see canvas.py)
PANEL_MIN_HEIGHT = 400     # px: docks give way before the panel gets lower (and scrolls)
DENSE_POINTS = 200         # a line with more points is drawn 1 px wide, without dots (see Line)
ENVELOPE_GROUPS = 100      # the update plot's all-layer band is drawn over at most this many runs of steps
LAYER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
ZERO_COLOR = "#00bcd4"     # cyan: exactly zero (underflow)
BAD_COLOR = "#ff00ff"      # magenta: NaN / Inf
LOSS_COLOR, ACC_COLOR = "#d62728", "#2ca02c"
TICK_FONT = QFont()
TICK_FONT.setPointSize(11)
LABEL_STYLE = {"font-size": "12pt"}
TITLE_SIZE = "13pt"


# Texts naming what one entry of Snapshot.layers is: a layer, or a recurrent network's time step.
_NOUN_TEXTS = {
    ("act_map", "title"): "Activations per {noun}",
    ("act_map", "left"): "{noun}",   # (with the span, too long for the top row on a laptop's screen)
    ("act_hist", "title"): "Histograms of selected {noun}s",
    ("grad_layers", "title"): "Gradient magnitude per {noun}",
    ("grad_layers", "bottom"): "{noun} ({span})",
    ("grad_map", "title"): "log₁₀ ‖∂L/∂z‖ over steps",
    ("grad_map", "left"): "{noun}",
    ("update_plot", "title"): "Update : weight ratio per {noun}",
}


# --- pure helpers (tested directly) -------------------------------------------------
def layer_noun(architecture: str) -> str:
    """What one entry of a snapshot's per-layer arrays is for `architecture`: 'layer' or 'time step'."""
    return "time step" if architecture in RECURRENT_ARCHITECTURES else "layer"


def layer_prefix(noun: str) -> str:
    """The short prefix naming one entry in legends: 'L' (layer 3 is L3) or 't' (time step t3)."""
    return "t" if noun == "time step" else "L"


def resample_histograms(counts: np.ndarray, edges: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Share of each layer's values in each bin of a common grid, [L, len(grid)-1].

    Each layer has its own edges [L, B+1]; values are taken as uniform within a
    bin, so the layer's cumulative count is piecewise linear and is evaluated at
    the common edges (mass is conserved; a narrow layer lands in one grid bin).
    """
    counts = np.asarray(counts, dtype=np.float64)
    L, B = counts.shape
    total = counts.sum(1)
    cum = np.concatenate([np.zeros((L, 1)), np.cumsum(counts, 1)], axis=1)   # [L, B+1]
    lo, hi = edges[:, :1], edges[:, -1:]
    width = (hi - lo) / B
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (grid[None, :] - lo) / width                                     # [L, V+1] in bins
    t = np.clip(np.nan_to_num(t, nan=0.0, posinf=B, neginf=0.0), 0, B)
    k = np.minimum(t.astype(np.int64), B - 1)
    frac = t - k
    rows = np.arange(L)[:, None]
    at = cum[rows, k] + frac * counts[rows, k]
    mass = np.diff(at, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = mass / total[:, None]
    share[~(total > 0)] = 0.0
    return share


def step_envelope(steps: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                  groups: int = ENVELOPE_GROUPS) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, lo, hi) of a band holding lo..hi at every step, drawn over at most `groups` runs of
    consecutive steps: each run's min of lo and max of hi, held from its first step to its last.

    Filling the band under 400 steps that zig-zag took Qt's raster engine 2.5 ms a frame (every
    scan line crosses hundreds of edges); over 100 runs, 0.4 ms.
    """
    k = -(-len(steps) // groups)
    if k <= 1:
        return steps, lo, hi
    pad = (-len(steps)) % k   # (the last run repeats its last step)
    runs = [np.pad(a, (0, pad), mode="edge").reshape(-1, k) for a in (steps, lo, hi)]
    x = np.column_stack([runs[0][:, 0], runs[0][:, -1]]).ravel()
    return x, np.repeat(runs[1].min(axis=1), 2), np.repeat(runs[2].max(axis=1), 2)


def value_grid(edges: np.ndarray, bins: int = GRID_BINS) -> np.ndarray:
    """Common edges spanning every layer's finite histogram range."""
    finite = edges[np.isfinite(edges)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (-1.0, 1.0)
    if not hi > lo:
        lo, hi = lo - 0.5, lo + 0.5
    return np.linspace(lo, hi, bins + 1)


def drawable(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y), or nothing when no y is finite: pyqtgraph cannot bound an all-NaN series
    (its symbols raise in boundingRect during paint, printed on stderr)."""
    return (x, y) if np.isfinite(y).any() else (np.zeros(0), np.zeros(0))


def safe_log10(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(log10 of the positive finite entries with NaN elsewhere, zero mask, non-finite mask)."""
    x = np.asarray(x, dtype=np.float64)
    bad = ~np.isfinite(x)
    zero = x == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(~bad & (x > 0), np.log10(np.where(x > 0, x, 1.0)), np.nan)
    return out, zero, bad


def auto_layers(depth: int, n: int = 5) -> list[int]:
    """A spread of 1-based layers: first, last and evenly between."""
    return sorted({int(round(v)) for v in np.linspace(1, depth, min(n, depth))})


def _lut(cmap_name: str, low: str | None, high: str | None) -> np.ndarray:
    """256-entry RGBA LUT (uint8): 1..254 the colour map, 0 and 255 special colours."""
    lut = pg.colormap.get(cmap_name).getLookupTable(0.0, 1.0, 256, alpha=True)
    if low is not None:
        lut[0] = QColor(low).getRgb()
    if high is not None:
        lut[255] = QColor(high).getRgb()
    return lut


class IndexedImage(pg.ImageItem):
    """An image of colour indices (uint8) drawn through a fixed 256-entry RGBA table.

    The colours are looked up here, once per update. Given the index and the table, pyqtgraph
    would hand Qt an Indexed8 QImage, which Qt converts on every paint: 0.7 ms for a
    100 × 200 map against 0.2 ms for the looked-up RGBA image.
    """

    def __init__(self, lut: np.ndarray):
        super().__init__()
        self.lut = lut
        self.index = np.zeros((0, 0), np.uint8)  # what is drawn, as colour indices (tests read it)

    def set_index(self, index: np.ndarray) -> None:
        self.index = index
        self.setImage(self.lut[index], autoLevels=False)


def _to_index(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map finite values to 1..254 (uint8); callers set 0 and 255 for special cells."""
    scaled = (np.nan_to_num(values, nan=lo, posinf=hi, neginf=lo) - lo) * (253.0 / max(hi - lo, 1e-12)) + 1.0
    return np.clip(scaled, 1, 254).astype(np.uint8)


def retitle(plot: pg.PlotItem, title: str) -> None:
    """Set `plot`'s title, only when it changes (setTitle re-lays out the plot)."""
    if plot.titleLabel.text != title:
        plot.setTitle(title, size=TITLE_SIZE)


def _style(plot: pg.PlotItem, title: str, bottom: str, left: str) -> None:
    plot.setTitle(title, size=TITLE_SIZE)
    for name, text in (("bottom", bottom), ("left", left)):
        axis = plot.getAxis(name)
        axis.setLabel(text, **LABEL_STYLE)
        axis.setTickFont(TICK_FONT)
        axis.enableAutoSIPrefix(False)
    # no grid: pyqtgraph repaints grid lines through every axis QPicture (≈4 ms per axis per frame)


def fit_range(plot: pg.PlotItem, axis: str, lo: float, hi: float, grow: float = 0.0, slack: float = 0.5) -> None:
    """Show [lo, hi] on `axis` ('x' or 'y') of `plot`, moving the view only when it must.

    The view is kept while it holds the data and the data fills at least `slack` of
    it: an unchanged range lets pyqtgraph reuse its cached axis pictures instead of
    regenerating ticks every frame. When it does move, `grow` adds headroom beyond
    `hi` (for series that extend with every step).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return
    if hi <= lo:
        lo, hi = lo - 0.5, lo + 0.5
    (x0, x1), (y0, y1) = plot.vb.viewRange()
    v0, v1 = (x0, x1) if axis == "x" else (y0, y1)
    if v0 <= lo and hi <= v1 and (hi - lo) >= slack * (v1 - v0):
        return
    pad = 0.02 * (hi - lo)
    new = (lo - pad, hi + pad + grow * (hi - lo))
    if axis == "x":
        plot.setXRange(*new, padding=0)
    else:
        plot.setYRange(*new, padding=0)


# --- the panel ------------------------------------------------------------------------
class PlotPanel(ScrollingLayoutWidget):
    """All live plots; `show_snapshot(snap, history)` redraws them from one snapshot."""

    def __init__(self, parent=None):
        super().__init__(parent, floor_height=PANEL_FLOOR_HEIGHT, min_height=PANEL_MIN_HEIGHT)
        self.selected_layers: list[int] | None = None  # None: auto spread
        self.drawn_step: int | None = None
        self.drawn_snapshot: Snapshot | None = None
        self.last_paint_seconds = 0.0  # duration of the latest paint (the window's draw budget uses it)
        self.layer_noun = ""
        self._build()
        self.set_layer_noun("layer")
        for plot in (self.act_map, self.act_hist, self.grad_layers, self.grad_map, self.loss, self.update_plot):
            plot.disableAutoRange()  # ranges are set from the data (see fit_range): no per-frame bounds search

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_seconds = time.perf_counter() - t0

    # ---------- construction ----------
    def _build(self) -> None:
        # One sub-layout per row: a column's width then follows its own row's legends and colour bars.
        self.ci.layout.setSpacing(8)
        top, middle, bottom = (self.ci.addLayout(row=r, col=0) for r in range(3))
        for row in (top, middle, bottom):
            row.layout.setSpacing(8)
            row.layout.setContentsMargins(0, 0, 0, 0)
        # 1a. activation heatmap
        self.act_map = top.addPlot(row=0, col=0)
        _style(self.act_map, "", "activation value", "")
        self.act_image = IndexedImage(_lut("inferno", "#000000", None))
        self.act_map.addItem(self.act_image)
        self.act_bad = Markers(symbol="t2", size=10, brush=BAD_COLOR, pen=None)
        self.act_map.addItem(self.act_bad)
        self.act_bar = pg.ColorBarItem(values=(SHARE_FLOOR_LOG, 0), colorMap=pg.colormap.get("inferno"),
                                       interactive=False, label="log₁₀ share of layer", width=14)
        self.act_bar.getAxis("right").setTickFont(TICK_FONT)
        top.addItem(self.act_bar, row=0, col=1)
        # 1b. histogram overlay
        self.act_hist = top.addPlot(row=0, col=2)
        _style(self.act_hist, "", "activation value", "density")
        self.act_legend = StatsLegend(("", "mean", "std", "sat", ""), rows=MAX_OVERLAY,
                                      widest=("L200", "-0.123", "0.123", "100%", ""))
        top.addItem(self.act_legend, row=0, col=3)
        top.layout.setAlignment(self.act_legend, Qt.AlignmentFlag.AlignTop)
        self.hist_curves = [
            pg.PlotCurveItem(pen=pg.mkPen(c, width=2.5)) for c in LAYER_COLORS[:MAX_OVERLAY]  # steps: _show_act_hist
        ]
        for curve in self.hist_curves:
            self.act_hist.addItem(curve)
        # 2. gradient magnitude per layer
        self.grad_layers = middle.addPlot(row=0, col=0)
        _style(self.grad_layers, "", "", "norm (log scale)")
        self.grad_layers.getAxis("left").setLogMode(False, True)
        self.grad_layers.disableAutoRange()
        self.band_vanish = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                               brush=pg.mkBrush(30, 100, 255, 45), pen=pg.mkPen(None))
        self.band_explode = pg.LinearRegionItem(orientation="horizontal", movable=False,
                                                brush=pg.mkBrush(255, 40, 40, 45), pen=pg.mkPen(None))
        for band in (self.band_vanish, self.band_explode):
            band.setZValue(-10)
            self.grad_layers.addItem(band, ignoreBounds=True)
        self.ref_line = pg.InfiniteLine(angle=0, pen=pg.mkPen("#555", style=Qt.PenStyle.DashLine))
        self.grad_layers.addItem(self.ref_line, ignoreBounds=True)
        self.vanish_text = pg.TextItem("", color="#1a4fd0", anchor=(0, 0))
        self.explode_text = pg.TextItem("", color="#c01010", anchor=(0, 0))
        for t in (self.vanish_text, self.explode_text):
            t.setFont(TICK_FONT)
            self.grad_layers.addItem(t, ignoreBounds=True)
        legend = legend_below(self.grad_layers, columns=3)
        self.grad_curve, self.grad_dots = _dotted_line(self.grad_layers, "#1f77b4", "‖∂L/∂z‖ activations")
        self.wgrad_curve = _line(self.grad_layers, pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine),
                                 "‖∂L/∂W‖ weights")
        self.grad_zero = Markers(symbol="t", size=12, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.grad_bad = Markers(symbol="x", size=14, brush=BAD_COLOR, pen=pg.mkPen(BAD_COLOR, width=2))
        self.grad_layers.addItem(self.grad_zero)
        self.grad_layers.addItem(self.grad_bad)
        legend.addItem(self.grad_zero, "0 (underflow)")
        legend.addItem(self.grad_bad, "NaN / Inf")
        # 3. gradient heatmap over steps
        self.grad_map = middle.addPlot(row=0, col=1)
        _style(self.grad_map, "", "training step", "")
        self.grad_image = IndexedImage(_lut("viridis", ZERO_COLOR, BAD_COLOR))
        self.grad_map.addItem(self.grad_image)
        map_legend = legend_below(self.grad_map, columns=2)
        map_legend.addItem(pg.ScatterPlotItem(symbol="s", brush=ZERO_COLOR, pen=None), "0")
        map_legend.addItem(pg.ScatterPlotItem(symbol="s", brush=BAD_COLOR, pen=None), "NaN/Inf")
        self.grad_bar = pg.ColorBarItem(values=(-GRAD_MAP_DECADES, 0), colorMap=pg.colormap.get("viridis"),
                                        interactive=False, label="log₁₀ norm", width=14)
        self.grad_bar.getAxis("right").setTickFont(TICK_FONT)
        middle.addItem(self.grad_bar, row=0, col=2)
        # 4. loss and accuracy
        self.loss = bottom.addPlot(row=0, col=0)
        # (the title is the legend: its words in the curves' colours)
        _style(self.loss, f'<span style="color:{LOSS_COLOR}">Loss</span> and <span style="color:{ACC_COLOR}">'
                          f'accuracy</span>', "training step", "loss")
        self.loss_curve = _line(self.loss, pg.mkPen(LOSS_COLOR, width=2.5))
        self.acc_view = pg.ViewBox()
        self.loss.scene().addItem(self.acc_view)
        self.loss.showAxis("right")
        right = self.loss.getAxis("right")
        right.linkToView(self.acc_view)
        right.setLabel("accuracy", **LABEL_STYLE)
        right.setTickFont(TICK_FONT)
        right.enableAutoSIPrefix(False)
        self.acc_view.setXLink(self.loss)
        self.acc_view.setYRange(0, 1)
        self.acc_view.setMouseEnabled(y=False)
        self.acc_curve = Line(pg.mkPen(ACC_COLOR, width=2.5))
        self.acc_view.addItem(self.acc_curve)
        self.loss.vb.sigResized.connect(lambda: self.acc_view.setGeometry(self.loss.vb.sceneBoundingRect()))
        # 5. update:weight ratio over steps
        self.update_plot = bottom.addPlot(row=0, col=1)
        _style(self.update_plot, "", "training step", "‖ΔW‖ / ‖W‖ (log)")
        self.update_plot.getAxis("left").setLogMode(False, True)
        guide = pg.InfiniteLine(pos=-3, angle=0, pen=pg.mkPen("#444", width=1.5, style=Qt.PenStyle.DashLine),
                                label="1e-3", labelOpts={"position": 0.05, "color": "#444"})
        self.update_plot.addItem(guide)
        # the band of all layers: one outlined polygon. (A FillBetweenItem between two curves rebuilt
        # its path from both curves' paths after each one's setData: 1.5 ms a frame at 400 steps.)
        self.env_band = QGraphicsPathItem()
        self.env_band.setPen(pg.mkPen(120, 120, 120, 110, width=0))  # (width 0: no stroking for its bounds)
        self.env_band.setBrush(pg.mkBrush(120, 120, 120, 60))
        self.env_band.setZValue(-1)
        self.update_plot.addItem(self.env_band)
        self.update_legend = legend_in(bottom, row=0, col=2)
        # (a FillBetweenItem as a legend sample crashes pyqtgraph 0.14: use a filled proxy curve)
        self._env_proxy = pg.PlotDataItem([0, 1], [0, 0], pen=pg.mkPen(120, 120, 120, 60), fillLevel=1,
                                          brush=pg.mkBrush(120, 120, 120, 60))
        self.update_legend.addItem(self._env_proxy, "all layers (min–max)")
        self.update_zero = Markers(symbol="t", size=10, brush=ZERO_COLOR, pen=pg.mkPen("k"))
        self.update_plot.addItem(self.update_zero)
        self.update_legend.addItem(self.update_zero, "exactly 0 (at floor)")
        self.update_curves = [_line(self.update_plot, pg.mkPen(c, width=2)) for c in LAYER_COLORS[:MAX_OVERLAY]]
        for row, stretch in ((top, {0: 5, 2: 5}), (middle, {0: 6, 1: 5}), (bottom, {0: 6, 1: 5})):
            for col, factor in stretch.items():
                row.layout.setColumnStretchFactor(col, factor)
        for r, factor in enumerate((4, 5, 4)):  # (the gradient row also holds its legend's two lines)
            self.ci.layout.setRowStretchFactor(r, factor)
        plots = (self.act_map, self.act_hist, self.grad_layers, self.grad_map, self.loss, self.update_plot)
        # (not the activation legend: its labels change with every frame)
        cache_unchanging([*plots, self.act_bar, self.grad_bar, legend, map_legend, self.update_legend])

    # ---------- public ----------
    def set_layer_noun(self, noun: str) -> None:
        """Name the per-layer axes, titles and legends: 'layer', or 'time step' for a recurrent network."""
        if noun == self.layer_noun:
            return  # (every config change calls this: re-setting the texts re-lays out and repaints the plots)
        span = "first → last" if noun == "time step" else "input → output"
        for (attr, part), template in _NOUN_TEXTS.items():
            text = template.format(noun=noun, span=span)
            plot = getattr(self, attr)
            if part == "title":
                plot.setTitle(text, size=TITLE_SIZE)
            else:
                plot.getAxis(part).setLabel(text, **LABEL_STYLE)
        self.vanish_text.setText(f"vanishing: < 1/100 of the last {noun}")
        self.explode_text.setText(f"exploding: > 100× the last {noun}")
        self.layer_noun = noun

    def set_selected_layers(self, layers: list[int] | None) -> None:
        self.selected_layers = sorted(set(layers))[:MAX_OVERLAY] if layers else None

    def layers_for(self, depth: int) -> list[int]:
        chosen = [k for k in (self.selected_layers or []) if 1 <= k <= depth]
        return chosen or auto_layers(depth)

    def show_snapshot(self, snap: Snapshot, history: History) -> None:
        """Redraw every plot from `snap` (and the over-steps `history`)."""
        layers = self.layers_for(snap.depth)
        self._show_act_map(snap)
        self._show_act_hist(snap, layers)
        self._show_grad_layers(snap)
        self._show_grad_map(history)
        self._show_loss(history)
        self._show_update(history, layers)
        self._show_lr(snap)
        self._show_theory(snap)
        self.refit()   # (a legend that widened may need a wider layout)
        # Apply the views' new ranges now. pyqtgraph defers them to the start of the paint, where
        # moving the items invalidates what is about to be drawn, and Qt then paints the panel twice.
        self.scene().prepareForPaint()
        self.drawn_step = snap.step
        self.drawn_snapshot = snap

    # ---------- mean-field overlay (core.theory) ----------
    def set_theory(self, profile) -> None:
        """Dashed mean-field curves: activation mean ± std over the heatmap, and the predicted
        gradient norms (anchored at the measured last layer). None hides them."""
        if not hasattr(self, "theory_act"):
            pen = pg.mkPen("#00e5ff", width=2, style=Qt.PenStyle.DashLine)
            self.theory_act = (_line(self.act_map, pen), _line(self.act_map, pen))
            self.theory_grad = _line(self.grad_layers, pg.mkPen("#2e7d32", width=2.5, style=Qt.PenStyle.DashLine),
                                     "mean field")
        self.theory_profile = profile
        if self.drawn_snapshot is not None:
            self._show_theory(self.drawn_snapshot)

    def _show_theory(self, snap: Snapshot) -> None:
        prof = getattr(self, "theory_profile", None)
        if not hasattr(self, "theory_act"):
            return
        if prof is None or len(prof.q) != snap.depth:
            for curve in (*self.theory_act, self.theory_grad):
                curve.setData([], [])
            return
        y = np.arange(1, snap.depth + 1, dtype=np.float64)
        self.theory_act[0].setData(prof.act_mean - prof.act_std, y)
        self.theory_act[1].setData(prof.act_mean + prof.act_std, y)
        last = snap.layers.grad_norm[-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            logs = np.log10(last * prof.grad_ratio) if last > 0 and np.isfinite(last) else np.full(len(y), np.nan)
        self.theory_grad.setData(*drawable(y, logs), connect="finite")

    # ---------- the panels ----------
    def _show_act_map(self, snap: Snapshot) -> None:
        ls = snap.layers
        grid = value_grid(ls.act_hist_edges)
        share = resample_histograms(ls.act_hist_counts, ls.act_hist_edges, grid)   # [L, V]
        with np.errstate(divide="ignore"):
            logs = np.log10(share)
        index = _to_index(logs, SHARE_FLOOR_LOG, 0.0)
        index[share <= 0] = 0
        self.act_image.set_index(index)
        L = snap.depth
        self.act_image.setRect(QRectF(grid[0], 0.5, grid[-1] - grid[0], L))
        bad = np.flatnonzero(ls.act_nonfinite > 0)
        _set_points(self.act_bad, np.full(len(bad), grid[-1]), bad + 1.0)
        fit_range(self.act_map, "x", grid[0], grid[-1])
        self.act_map.setYRange(0.5, L + 0.5, padding=0)

    def _show_act_hist(self, snap: Snapshot, layers: list[int]) -> None:
        ls = snap.layers
        rows = []
        x_lo, x_hi, y_hi = math.inf, -math.inf, 0.0
        for i, curve in enumerate(self.hist_curves):
            if i >= len(layers):
                curve.setVisible(False)  # (its stale data stays, hidden)
                continue
            k = layers[i] - 1
            counts = ls.act_hist_counts[k].astype(np.float64)
            edges = ls.act_hist_edges[k]
            width = np.diff(edges)
            total = counts.sum()
            density = counts / (total * width) if total > 0 else counts
            curve.setVisible(True)
            curve.setData(edges, density, stepMode="center")  # (a PlotCurveItem refuses it with no data)
            x_lo, x_hi = min(x_lo, float(edges[0])), max(x_hi, float(edges[-1]))
            if np.isfinite(density).any():
                y_hi = max(y_hi, float(np.nanmax(density)))
            bad = int(ls.act_nonfinite[k])
            rows.append((LAYER_COLORS[i], (f"{layer_prefix(self.layer_noun)}{layers[i]}", _num(ls.act_mean[k]),
                                           _num(ls.act_std[k]), f"{100 * ls.saturated_frac[k]:.0f}%",
                                           f"⚠ {bad} NaN/Inf" if bad else "")))
        self.act_legend.set_rows(rows)
        fit_range(self.act_hist, "x", x_lo, x_hi)
        fit_range(self.act_hist, "y", 0.0, y_hi if y_hi > 0 else 1.0)

    def _show_grad_layers(self, snap: Snapshot) -> None:
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
        _set_dotted_line(self.grad_curve, self.grad_dots, x, np.where(g_zero, floor, g))
        self.wgrad_curve.setData(*drawable(x, np.where(w_zero, floor, w)), connect="finite")
        zx = np.concatenate([x[g_zero], x[w_zero]])
        _set_points(self.grad_zero, zx, np.full(len(zx), floor))
        bx = np.concatenate([x[g_bad], x[w_bad]])
        _set_points(self.grad_bad, bx, np.full(len(bx), top - 0.3))
        self.band_vanish.setRegion((floor - 5, ref_val - BAND_DECADES))
        self.band_explode.setRegion((ref_val + BAND_DECADES, top + 5))
        self.ref_line.setValue(ref_val)
        self.vanish_text.setPos(0.6, ref_val - BAND_DECADES)
        self.explode_text.setPos(0.6, top)  # inside the band, under the top edge
        self.grad_layers.setXRange(0.5, snap.depth + 0.5, padding=0)
        self.grad_layers.setYRange(floor - 0.5, top, padding=0)

    def _show_grad_map(self, history: History) -> None:
        if len(history) == 0:
            self.grad_image.set_index(np.zeros((1, 1), np.uint8))
            self.grad_image.setVisible(False)
            return
        steps = history.layer_steps()
        logs, zero, bad = safe_log10(history.grad_norm().T)        # [L, H]
        finite = logs[np.isfinite(logs)]
        hi = math.ceil(float(finite.max())) if finite.size else 0.0
        lo = max(math.floor(float(finite.min())), hi - GRAD_MAP_DECADES) if finite.size else hi - 1
        if hi <= lo:
            lo = hi - 1
        index = _to_index(logs, lo, hi)
        index[zero] = 0
        index[bad] = 255
        self.grad_image.setVisible(True)
        self.grad_image.set_index(index)
        x0, x1 = float(steps[0]), float(steps[-1])
        span = max(x1 - x0, 1.0)
        L, H = index.shape
        self.grad_image.setRect(QRectF(x0 - span / (2 * max(H - 1, 1)), 0.5, span + span / max(H - 1, 1), L))
        if tuple(self.grad_bar.levels()) != (lo, hi):  # setLevels redraws the bar's axis, even to the same levels
            self.grad_bar.setLevels((lo, hi))
        fit_range(self.grad_map, "x", x0 - span / (2 * max(H - 1, 1)), x1 + span / (2 * max(H - 1, 1)), grow=0.25)
        self.grad_map.setYRange(0.5, L + 0.5, padding=0)

    def _show_loss(self, history: History) -> None:
        steps = np.asarray(history.steps, dtype=np.float64)
        loss = np.asarray(history.loss, dtype=np.float64)
        self.loss_curve.setData(*drawable(steps, loss), connect="finite")
        self.acc_curve.setData(steps, np.asarray(history.accuracy, dtype=np.float64), connect="finite")
        if len(steps):
            fit_range(self.loss, "x", float(steps[0]), float(steps[-1]), grow=0.25)
            finite = loss[np.isfinite(loss)]
            if finite.size:
                fit_range(self.loss, "y", 0.0, float(finite.max()))

    def _show_update(self, history: History, layers: list[int]) -> None:
        if len(history) == 0:
            for curve in self.update_curves:
                curve.setData([], [])
            self.env_band.setPath(QPainterPath())
            _set_points(self.update_zero, np.zeros(0), np.zeros(0))
            return
        steps = history.layer_steps().astype(np.float64)
        logs, zero, _ = safe_log10(history.update_to_weight())     # [H, L]
        finite = logs[np.isfinite(logs)]
        floor = min(-8.0, math.floor(float(finite.min())) - 1) if finite.size else -8.0
        logs = np.where(zero, floor, logs)  # an update of exactly 0 sits on the floor, marked below
        lo_env, hi_env = _nan_min_max(logs)
        x, lo, hi = step_envelope(steps, np.nan_to_num(lo_env, nan=floor), np.nan_to_num(hi_env, nan=floor))
        band = pg.arrayToQPath(np.concatenate([x, x[::-1]]), np.concatenate([lo, hi[::-1]]))
        band.closeSubpath()
        self.env_band.setPath(band)
        for i, curve in enumerate(self.update_curves):
            if i < len(layers):
                curve.setData(steps, logs[:, layers[i] - 1], connect="finite")
            else:
                curve.setData([], [])
        zero_steps = steps[zero.any(axis=1)]
        _set_points(self.update_zero, zero_steps, np.full(len(zero_steps), floor))
        label_curves(self.update_legend, self.update_curves, layers, layer_prefix(self.layer_noun))
        fit_range(self.update_plot, "x", float(steps[0]), float(steps[-1]), grow=0.25)
        top = float(np.nanmax(hi_env)) if np.isfinite(hi_env).any() else -1.0
        fit_range(self.update_plot, "y", floor - 0.3, max(top, -2.0) + 0.3)


    def _show_lr(self, snap: Snapshot) -> None:
        retitle(self.update_plot, f"Update : weight ratio per {self.layer_noun} (lr {snap.lr:.3g})")


def _nan_min_max(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise min and max ignoring NaN; NaN where a row has no number (no warning)."""
    has = ~np.isnan(x).all(axis=1)
    lo, hi = np.full(len(x), np.nan), np.full(len(x), np.nan)
    lo[has], hi[has] = np.nanmin(x[has], axis=1), np.nanmax(x[has], axis=1)
    return lo, hi


def _log_guide(plot: pg.PlotItem, text: str) -> None:
    """A dashed horizontal line at 1 on a log10 axis."""
    plot.addItem(pg.InfiniteLine(pos=0, angle=0, pen=pg.mkPen("#444", width=1.5, style=Qt.PenStyle.DashLine),
                                 label=text, labelOpts={"position": 0.05, "color": "#444"}))


class NoisePanel(ScrollingLayoutWidget):
    """The gradient-noise statistic: per layer for the drawn snapshot, and over steps.

    grad_noise = √((1 − N/n)·tr Σ̂/N) / ‖Ḡ‖ (core/noise.py): the standard error of the
    step's weight gradient over its norm. It falls like 1/√N with the effective batch N
    while the mean gradient dominates; near 1 (the dashed line) the step is mostly noise.
    """

    def __init__(self, parent=None):
        super().__init__(parent, floor_height=PANEL_FLOOR_HEIGHT, min_height=PANEL_MIN_HEIGHT)
        self.drawn_step: int | None = None
        self._noun = "layer"
        self.ci.layout.setSpacing(8)
        self.per_layer = self.addPlot(row=0, col=0, colspan=2)
        _style(self.per_layer, "Gradient noise per layer: √((1 − N/n)·tr Σ̂ / N) / ‖∂L/∂W‖",
               "layer (input → output)", "noise : signal (log)")
        self.per_layer.getAxis("left").setLogMode(False, True)
        _log_guide(self.per_layer, "noise = signal")
        self.layer_curve, self.layer_dots = _dotted_line(self.per_layer, "#6a1b9a")
        self.note = pg.TextItem("", color="#7a4f00", anchor=(0, 0))
        self.note.setFont(TICK_FONT)
        self.per_layer.addItem(self.note, ignoreBounds=True)
        self.over_steps = self.addPlot(row=1, col=0)
        _style(self.over_steps, "Gradient noise over steps", "training step", "noise : signal (log)")
        self.over_steps.getAxis("left").setLogMode(False, True)
        _log_guide(self.over_steps, "noise = signal")
        self.legend = self.over_steps.legend = legend_in(self.ci, row=1, col=1)
        self.median_curve = _line(self.over_steps, pg.mkPen("k", width=3), "median over layers")
        self.step_curves = [_line(self.over_steps, pg.mkPen(c, width=1.5)) for c in LAYER_COLORS[:MAX_OVERLAY]]
        cache_unchanging([self.per_layer, self.over_steps, self.legend])

    def set_layer_noun(self, noun: str) -> None:
        """'layer', or 'time step' for a recurrent network (see PlotPanel.set_layer_noun)."""
        if noun == self._noun:
            return
        self._noun = noun
        span = "first → last" if noun == "time step" else "input → output"
        self.per_layer.setTitle(f"Gradient noise per {noun}: √((1 − N/n)·tr Σ̂ / N) / ‖∂L/∂W‖", size=TITLE_SIZE)
        self.per_layer.getAxis("bottom").setLabel(f"{noun} ({span})", **LABEL_STYLE)

    def show_snapshot(self, snap: Snapshot, history: History, layers: list[int]) -> None:
        noise = np.asarray(snap.layers.grad_noise, dtype=np.float64)
        logs, zero, _ = safe_log10(noise)
        x = np.arange(1, snap.depth + 1, dtype=np.float64)
        finite = logs[np.isfinite(logs)]
        floor = math.floor(float(finite.min())) - 1 if finite.size else -3.0
        defined = bool(finite.size or zero.any())
        _set_dotted_line(self.layer_curve, self.layer_dots, x, np.where(zero, floor, logs))
        self.note.setText("" if defined else "undefined: needs ≥ 2 examples per step and a non-zero gradient")
        self.note.setPos(0.6, 0.0)
        self.per_layer.setXRange(0.5, snap.depth + 0.5, padding=0)
        self.per_layer.setYRange(min(floor, -1.0), max(float(finite.max()) if finite.size else 0.0, 0.0) + 0.3,
                                 padding=0)
        self._show_over_steps(history, layers)
        self.refit()
        self.drawn_step = snap.step

    def _show_over_steps(self, history: History, layers: list[int]) -> None:
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
        label_curves(self.legend, self.step_curves, layers, layer_prefix(self._noun))


def label_curves(legend: pg.LegendItem, curves: list, layers: list[int], prefix: str) -> None:
    """Name curves[i] `prefix + layers[i]` in `legend` (no entry for the curves beyond the layers).

    Only when the names shown differ, read off the legend: re-adding its entries re-lays it out.
    """
    names = [f"{prefix}{layer}" for layer in layers[:len(curves)]]
    if [label.text for sample, label in legend.items if sample.item in curves] != names:
        for curve in curves:
            legend.removeItem(curve)
        for curve, name in zip(curves, names):
            legend.addItem(curve, name)


def cache_unchanging(roots: list) -> None:
    """Paint the frames of `roots` (a PlotItem's axes and title; colour bars, legends, whole)
    from a pixmap cache.

    They change far less often than the data: a frame whose axis ranges did not move then
    blits them instead of re-rendering their text. A cached item is repainted when it calls
    update(), as pyqtgraph's items do on every change.
    """
    def walk(item) -> None:
        item.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        for child in item.childItems():
            walk(child)

    for root in roots:
        if isinstance(root, pg.PlotItem):
            for name in ("left", "bottom", "right", "top"):
                walk(root.getAxis(name))
            walk(root.titleLabel)
        else:
            walk(root)


# Lines are PlotCurveItems (with Dots for dots), not PlotDataItems: a PlotDataItem
# redoes its data-format handling on every setData, 8x the cost of its curve's own (bench/bench_gui.py).
class Line(pg.PlotCurveItem):
    """A curve drawn with its pen while it has at most DENSE_POINTS points, and 1 px wide (same
    colour and style) beyond.

    Qt's raster engine strokes a line wider than 1 px segment by segment: the update plot's five
    curves over 400 steps took 5 ms of every frame that way. Dense points hide the width anyway.
    """

    def __init__(self, pen):
        self.wide_pen = pg.mkPen(pen)  # (set first: PlotCurveItem.__init__ calls setData)
        self.thin_pen = QPen(self.wide_pen)
        self.thin_pen.setWidthF(1.0)
        super().__init__(pen=self.wide_pen)

    def setData(self, *args, **kwargs) -> None:  # noqa: N802 - pyqtgraph's name
        super().setData(*args, **kwargs)
        pen = self.thin_pen if self.xData is not None and len(self.xData) > DENSE_POINTS else self.wide_pen
        if self.opts["pen"] is not pen:
            self.setPen(pen)


def _line(plot: pg.PlotItem, pen, name: str | None = None) -> Line:
    """A curve added to `plot` (and to its legend as `name`, if given)."""
    curve = Line(pen)
    plot.addItem(curve)
    if name is not None:
        plot.legend.addItem(curve, name)
    return curve


class Dots(pg.GraphicsObject):
    """Round dots of one colour and size (px) at (x, y): a curve's data points.

    Drawn as one drawPoints call with a round-capped pen. A ScatterPlotItem does far more per
    update (a record per spot, a symbol atlas): 0.5 ms a frame for the gradient curve's 100 dots.
    """

    def __init__(self, color: str, size: float):
        super().__init__()
        self.pen = QPen(QColor(color), size, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap)
        self.pen.setCosmetic(True)
        self._x = self._y = np.zeros(0)
        self._poly = QPolygonF()
        self._bounds = QRectF()   # in data coordinates, before the dots' own size
        self._rect: QRectF | None = None

    def getData(self) -> tuple[np.ndarray, np.ndarray]:  # noqa: N802 - pyqtgraph's name
        return self._x, self._y

    def setData(self, x: np.ndarray, y: np.ndarray) -> None:  # noqa: N802 - pyqtgraph's name
        """Dots at the points (x, y), all finite."""
        self._x, self._y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self._poly = pg.functions.arrayToQPolygonF(self._x, self._y) if len(self._x) else QPolygonF()
        self._bounds = self._poly.boundingRect()
        self.prepareGeometryChange()
        self._rect = None
        self.update()

    def viewTransformChanged(self) -> None:  # noqa: N802 - pyqtgraph's name
        self.prepareGeometryChange()   # (the dots' size in data units changed)
        self._rect = None

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        if self._rect is None:
            if not len(self._x):
                self._rect = QRectF()
            else:
                px, py = self.pixelVectors()
                r = self.pen.widthF() / 2 + 1
                dx, dy = (0.0, 0.0) if px is None else (r * px.length(), r * py.length())
                self._rect = self._bounds.adjusted(-dx, -dy, dx, dy)
        return self._rect

    def paint(self, painter, *args) -> None:
        if len(self._x):
            painter.setPen(self.pen)
            painter.drawPoints(self._poly)


def _dotted_line(plot: pg.PlotItem, color: str, name: str | None = None) -> tuple[Line, Dots]:
    """A curve with a dot at each point, while there are at most DENSE_POINTS (see _set_dotted_line)."""
    curve = _line(plot, pg.mkPen(color, width=2.5), name)
    dots = Dots(color, 6)
    plot.addItem(dots)
    return curve, dots


def _set_dotted_line(curve: Line, dots: Dots, x: np.ndarray, y: np.ndarray) -> None:
    """Draw y over x, broken at non-finite values, with a dot at each finite point while there are
    at most DENSE_POINTS of them (denser dots would only merge into a thicker line)."""
    x, y = drawable(x, y)
    curve.setData(x, y, connect="finite")
    ok = np.isfinite(y) if len(x) <= DENSE_POINTS else np.zeros(len(x), bool)
    dots.setData(x[ok], y[ok])


class Markers(pg.ScatterPlotItem):
    """A ScatterPlotItem that bounds and paints nothing while it has no points.

    (pyqtgraph's bounds the point (0, 0) then, and its paint prepares an empty draw: 0.2–0.3 ms a
    frame for the activation map's NaN/Inf markers, which are usually none. Hiding the item instead
    would show an 'invisible' eye for it in its legend.)
    """

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt's name
        return super().boundingRect() if len(self.data) else QRectF()

    def paint(self, *args) -> None:
        if len(self.data):   # (Qt still paints an item whose empty bounds lie in the exposed region)
            super().paint(*args)


def _set_points(scatter: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray) -> None:
    """scatter.setData, skipped when it is empty and stays empty (the usual case for the markers
    of zeros and NaN/Inf, and not free: ~50 µs per call)."""
    if len(x) or len(scatter.data):
        scatter.setData(x=x, y=y)


def _num(x: float) -> str:
    if not math.isfinite(x):
        return str(x)
    return f"{x:.3g}"
