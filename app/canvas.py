"""A pyqtgraph layout widget that scrolls rather than squeezing its plots below a legible size."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QRectF, QSizeF, Qt
from PySide6.QtGui import QTransform
from PySide6.QtWidgets import QStyle


ZOOM_FIT_STEP = 0.05
LAYOUT_DEPTH = 6   # nested layouts between a view box and the canvas's own, with room to spare


def settle_layouts() -> None:
    """Apply pending layout changes now. A graphics layout passes a change of a least size up one
    level per posted LayoutRequest (Qt's default, without instant invalidate propagation)."""
    for _ in range(LAYOUT_DEPTH):
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)


class ScrollingLayoutWidget(pg.GraphicsLayoutWidget):
    """A GraphicsLayoutWidget whose layout is never laid out smaller than its floor: the layout's
    own minimum width, and at least `floor_height` high. Below the floor the view scrolls.

    pyqtgraph fits the layout to the widget whatever its size. Squeezed (docks beside and under
    the plots on a laptop screen), the layout then spilled past the widget's right edge, clipping
    its legends, or crushed its rows until axis labels overlapped.

    The widget's own minimum height is `min_height` (≤ the floor), so a main window's docks give
    way before the plots scroll much; its minimum width is left alone, since the controls, the
    plots' minimum and a dock side by side are wider than a laptop's screen, and a window wider
    than the screen is worse than a scroll bar.

    `set_zoom(s)` magnifies everything drawn (text, lines, spacing) by s, like a browser's zoom:
    the layout is laid out at the widget's size / s and drawn scaled by s. With `data_min`
    (w, h in screen px) every plot's data area is kept at least that large; with `fit` (a
    fraction) the zoom is lowered by ZOOM_FIT_STEP, down to `fit` × itself, until the layout fits
    without scrolling (below that, it scrolls).
    """

    def __init__(self, parent=None, floor_height: int = 0, min_height: int = 0):
        super().__init__(parent)
        self.floor_height = floor_height
        self.setMinimumHeight(min_height)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._floor = QSizeF()
        self.zoom = 1.0
        self._zoom_request: tuple[float, tuple[float, float] | None, float] = (1.0, None, 1.0)

    def set_zoom(self, zoom: float, data_min: tuple[float, float] | None = None, fit: float = 1.0) -> None:
        """Draw everything `zoom` times larger (1 = as designed), keeping every plot's data area at
        least `data_min` = (w, h) screen px; where the layout would not fit, draw down to `fit` × smaller."""
        request = (zoom, data_min, fit)
        if request != self._zoom_request:
            self._zoom_request = request
            if self.isVisible():
                self.resizeEvent(None)
            else:   # (laid out when next painted: a hidden page, or a window not shown yet, needs no layout now)
                self._laid_out_for = "for another zoom"

    def data_plots(self) -> list[pg.PlotItem]:
        """The plots drawn in this widget (not their colour bars)."""
        return [item for item in self.scene().items()
                if isinstance(item, pg.PlotItem) and not isinstance(item, pg.ColorBarItem)]

    def _fit_zoom(self, width: float, height: float) -> float:
        """The zoom to draw at in a `width` × `height` px viewport, setting the plots' least data areas."""
        zoom, data_min, fit = self._zoom_request
        if data_min is None:
            return zoom
        z = zoom
        while True:
            for plot in self.data_plots():
                plot.vb.setMinimumSize(data_min[0] / z, data_min[1] / z)
            settle_layouts()   # (floor() reads the new sizes)
            if z <= zoom * fit + 1e-9:
                return z
            floor = self.floor()
            if floor.width() * z <= width - 1 and floor.height() * z <= height - 1:
                return z
            z = max(zoom * fit, z - ZOOM_FIT_STEP)

    def updateMatrix(self, propagate=True) -> None:  # noqa: N802 - pyqtgraph's name
        super().updateMatrix(propagate)
        if getattr(self, "zoom", 1.0) != 1.0:
            self.setTransform(QTransform.fromScale(self.zoom, self.zoom))
            self.sigDeviceTransformChanged.emit(self)

    def floor(self) -> QSizeF:
        """The smallest size the layout is laid out at."""
        least = self.ci.effectiveSizeHint(Qt.SizeHint.MinimumSize)
        return QSizeF(least.width(), max(least.height(), float(self.floor_height)))

    def refit(self) -> None:
        """Lay the layout out again if its floor changed (a legend grew, a label changed)."""
        # (a size change deep in the layout, such as a legend that widened, reaches the top through
        # posted LayoutRequests: handle them now, so the floor is this frame's)
        QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        if self.floor() != self._floor:
            self.resizeEvent(None)

    def resizeEvent(self, ev) -> None:  # noqa: N802 - Qt's name
        if not hasattr(self, "_floor"):   # (GraphicsLayoutWidget.__init__ lays out before ours has run)
            return super().resizeEvent(ev)
        if self.closed:
            return
        frame = 2 * self.frameWidth()
        w, h = self.width() - frame, self.height() - frame
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        self.zoom = z = self._fit_zoom(w, h)   # screen px per layout px
        settle_layouts()
        floor = self.floor()   # (the plots' least sizes follow the zoom)
        self._floor = floor
        # (a scroll bar for one direction takes room from the other)
        scroll_y = h < floor.height() * z
        scroll_x = w - (bar if scroll_y else 0) < floor.width() * z
        scroll_y = scroll_y or (scroll_x and h - bar < floor.height() * z)
        # (1 px short of the viewport: a scene rect scaled to a fraction of a pixel more shows a scroll bar)
        self.range = QRectF(0, 0, max(floor.width(), (w - (bar if scroll_y else 0) - (z != 1)) / z),
                            max(floor.height(), (h - (bar if scroll_x else 0) - (z != 1)) / z))
        pg.GraphicsView.setRange(self, self.range, padding=0, disableAutoPixel=False)
        self.updateMatrix()
        self._laid_out_for = (w, h)   # (what this call saw: a nested call may have seen a newer size)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt's name
        # (a resize during our own layout pass, e.g. when a scroll bar came or went, is handled by
        # a nested resizeEvent that the outer one then undoes with its older size: lay out again)
        frame = 2 * self.frameWidth()
        if getattr(self, "_laid_out_for", None) not in (None, (self.width() - frame, self.height() - frame)):
            self.resizeEvent(None)
        super().paintEvent(event)
