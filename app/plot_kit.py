"""The drawing toolkit every plot of the app is made with (pyqtgraph items and styling).

Items are created once and updated with setData; each class here exists because pyqtgraph's own
item cost a measurable part of a frame (the docstrings say how much):
  Line            a curve drawn 1 px wide once it is dense
  Dots            a curve's data points, one drawPoints call
  Markers         a scatter that costs nothing while empty
  IndexedImage    a heatmap of colour indices, looked up to RGBA once per update
and the helpers that style a plot (`style`), add curves (`line`, `dotted_line`), set data only
when it changes (`set_points`, `retitle`, `fit_range`, `label_curves`) and cache what rarely
changes (`cache_unchanging`).

Importing this module sets pyqtgraph's global options (white background, row-major images).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem

from .plot_math import drawable
from .workarounds.none_refcount import pin_none_refcount

pin_none_refcount()  # idempotent; covers `app` imported as a namespace package (see app/workarounds)
pg.setConfigOptions(imageAxisOrder="row-major", background="w", foreground="k", antialias=False)

MAX_OVERLAY = 6            # layers drawn one curve each (histograms, update ratios, noise)
DENSE_POINTS = 200         # a line with more points is drawn 1 px wide, without dots (see Line)
LAYER_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")
ZERO_COLOR = "#00bcd4"     # cyan: exactly zero (an exact 0, or underflow)
BAD_COLOR = "#ff00ff"      # magenta: NaN / Inf
TICK_FONT = QFont()
TICK_FONT.setPointSize(11)
LABEL_STYLE = {"font-size": "12pt"}
TITLE_SIZE = "13pt"


# --- styling --------------------------------------------------------------------------
def style(plot: pg.PlotItem, title: str, bottom: str, left: str) -> None:
    """Give `plot` the app's title size, axis labels and tick font, without SI prefixes."""
    plot.setTitle(title, size=TITLE_SIZE)
    for name, text in (("bottom", bottom), ("left", left)):
        axis = plot.getAxis(name)
        axis.setLabel(text, **LABEL_STYLE)
        axis.setTickFont(TICK_FONT)
    # (also on the hidden top and right axes: with SI prefixes on, every range change re-sets an
    # axis label's HTML, about 50 µs an axis, on every frame and every resize)
    for axis in plot.axes.values():
        axis["item"].enableAutoSIPrefix(False)
    # no grid: pyqtgraph repaints grid lines through every axis QPicture (≈4 ms per axis per frame)


def retitle(plot: pg.PlotItem, title: str) -> None:
    """Set `plot`'s title, only when it changes (setTitle re-lays out the plot)."""
    if plot.titleLabel.text != title:
        plot.setTitle(title, size=TITLE_SIZE)


FEW_LAYERS = 5   # up to this many layers, a layer axis is ticked at every whole layer


def layer_ticks(plot: pg.PlotItem, axis: str, depth: int) -> None:
    """Tick the layer axis `axis` ('bottom' or 'left') of `plot` at whole layers when there are few:
    on the range 0.5–1.5 of a single layer pyqtgraph would label 0.6, 0.8, … (no such layers). Only
    a change of spacing touches the axis (a new spacing repaints its cached picture)."""
    item = plot.getAxis(axis)
    spacing = 1.0 if depth <= FEW_LAYERS else None
    if getattr(item, "layer_spacing", "auto") != spacing:
        item.layer_spacing = spacing
        if spacing is None:
            item.setTickSpacing()
        else:
            item.setTickSpacing(spacing, spacing)


def log_guide(plot: pg.PlotItem, text: str, at: float = 0.0) -> None:
    """A dashed horizontal line at 10**at on a log10 axis, labelled `text` near its left end."""
    # the label's left edge (not its centre) at 2 % of the width: a centred label ran past the axis when
    # the text is magnified and was cut ("ise = signal")
    plot.addItem(pg.InfiniteLine(pos=at, angle=0, pen=pg.mkPen("#444", width=1.5, style=Qt.PenStyle.DashLine),
                                 label=text, labelOpts={"position": 0.02, "color": "#444",
                                                        "anchors": [(0, 0), (0, 1)]}))


def lookup_table(cmap_name: str, low: str | None, high: str | None) -> np.ndarray:
    """256-entry RGBA LUT (uint8): 1..254 the colour map, 0 and 255 the special colours `low`, `high`."""
    lut = pg.colormap.get(cmap_name).getLookupTable(0.0, 1.0, 256, alpha=True)
    if low is not None:
        lut[0] = QColor(low).getRgb()
    if high is not None:
        lut[255] = QColor(high).getRgb()
    return lut


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


# --- items ----------------------------------------------------------------------------
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
        """Draw `index` (colour indices, [rows, columns]) through the table."""
        self.index = index
        self.setImage(self.lut[index], autoLevels=False)


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


# --- adding and updating items --------------------------------------------------------
def line(plot: pg.PlotItem, pen, name: str | None = None) -> Line:
    """A Line added to `plot` (and to its legend as `name`, if given)."""
    curve = Line(pen)
    plot.addItem(curve)
    if name is not None:
        plot.legend.addItem(curve, name)
    return curve


def dotted_line(plot: pg.PlotItem, color: str, name: str | None = None) -> tuple[Line, Dots]:
    """A curve with a dot at each point, while there are at most DENSE_POINTS (see set_dotted_line)."""
    curve = line(plot, pg.mkPen(color, width=2.5), name)
    dots = Dots(color, 6)
    plot.addItem(dots)
    return curve, dots


def set_dotted_line(curve: Line, dots: Dots, x: np.ndarray, y: np.ndarray) -> None:
    """Draw y over x, broken at non-finite values, with a dot at each finite point while there are
    at most DENSE_POINTS of them (denser dots would only merge into a thicker line)."""
    x, y = drawable(x, y)
    curve.setData(x, y, connect="finite")
    ok = np.isfinite(y) if len(x) <= DENSE_POINTS else np.zeros(len(x), bool)
    dots.setData(x[ok], y[ok])


def clear_curve(curve: pg.PlotCurveItem) -> None:
    """Empty `curve`, unless it is empty already (clearing an empty curve still costs a bounds pass)."""
    if curve.xData is not None and len(curve.xData):
        curve.setData([], [])


def set_points(scatter: pg.ScatterPlotItem, x: np.ndarray, y: np.ndarray) -> None:
    """scatter.setData, skipped when it is empty and stays empty (the usual case for the markers
    of zeros and NaN/Inf, and not free: ~50 µs per call)."""
    if len(x) or len(scatter.data):
        scatter.setData(x=x, y=y)
