"""A status-bar label that shows as much of its sentence as fits, ending in "…", never widening the window."""
from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QLabel, QStyleOption

ELIDED_MIN_WIDTH = 60  # px: the least a label asks for, whatever its text


class ElidedLabel(QLabel):
    """A one-line QLabel drawn elided ("…") when it is narrower than its text.

    `text()` is the whole sentence. Its tooltip is the whole sentence too, unless one was set
    with `setToolTip` (which then should hold the sentence itself, as the label may be cut).
    Its minimum width is small, so a long sentence is cut rather than making the window wider
    than the screen; its preferred width is the whole sentence.
    """

    def __init__(self, text: str = "", parent=None):
        super().__init__(parent)
        self._own_tip = ""
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setText(text)
        if not self._own_tip:
            super().setToolTip(text)

    def setToolTip(self, tip: str) -> None:  # noqa: N802 - Qt's name
        self._own_tip = tip
        super().setToolTip(tip or self.text())

    def is_elided(self) -> bool:
        """Whether the text is cut at the label's present width."""
        return self.fontMetrics().horizontalAdvance(self.text()) > self.contentsRect().width()

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        hint = super().minimumSizeHint()
        return QSize(min(hint.width(), ELIDED_MIN_WIDTH), hint.height())

    def paintEvent(self, _event) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        option = QStyleOption()
        option.initFrom(self)
        rect = self.contentsRect()
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, rect.width())
        self.style().drawItemText(painter, rect, int(self.alignment() | Qt.AlignmentFlag.AlignVCenter),
                                  option.palette, self.isEnabled(), shown, self.foregroundRole())
        painter.end()
