"""A pyqtgraph layout widget that scrolls rather than squeezing its plots below a legible size."""
from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QCoreApplication, QEvent, QRectF, QSizeF, Qt
from PySide6.QtWidgets import QStyle


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
    """

    def __init__(self, parent=None, floor_height: int = 0, min_height: int = 0):
        super().__init__(parent)
        self.floor_height = floor_height
        self.setMinimumHeight(min_height)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self._floor = QSizeF()

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
        self._floor = floor = self.floor()
        frame = 2 * self.frameWidth()
        w, h = self.width() - frame, self.height() - frame
        bar = self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)
        # (a scroll bar for one direction takes room from the other)
        scroll_y = h < floor.height()
        scroll_x = w - (bar if scroll_y else 0) < floor.width()
        scroll_y = scroll_y or (scroll_x and h - bar < floor.height())
        self.range = QRectF(0, 0, max(floor.width(), w - (bar if scroll_y else 0)),
                            max(floor.height(), h - (bar if scroll_x else 0)))
        pg.GraphicsView.setRange(self, self.range, padding=0, disableAutoPixel=False)
        self.updateMatrix()
