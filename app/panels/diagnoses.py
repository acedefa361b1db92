"""The diagnoses list: one line per diagnosis of the latest snapshot (core.diagnoses), by severity."""
from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QListWidget, QListWidgetItem, QWidget

from core import SimConfig, Snapshot
from core.diagnoses import Diagnosis, diagnose

SEVERITY_COLOURS = {"error": "#c62828", "warning": "#b26a00"}


class DiagnosesList(QListWidget):
    """One line per diagnosis of the latest snapshot, coloured by severity."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWordWrap(True)
        self.diagnoses: list[Diagnosis] = []

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override: a few lines high
        return QSize(600, 80)

    def show_snapshot(self, snapshot: Snapshot, config: SimConfig) -> None:
        found = diagnose(snapshot, config)
        if found == self.diagnoses and self.count():
            return  # unchanged: no widget churn on every frame
        self.diagnoses = found
        self.clear()
        if not found:
            item = QListWidgetItem("no problems found")
            item.setForeground(QBrush(QColor("#2e7d32")))
            self.addItem(item)
        for d in found:
            item = QListWidgetItem(f"{d.severity}: {d.message}")
            item.setForeground(QBrush(QColor(SEVERITY_COLOURS[d.severity])))
            self.addItem(item)

    def lines(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]
