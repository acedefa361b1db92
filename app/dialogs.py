"""File dialogs and message boxes behind one small object, so tests can replace them and never block."""
from __future__ import annotations

import re

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMessageBox, QWidget


def with_suffix(path: str, selected_filter: str) -> str:
    """`path`, with the first extension of the chosen filter ('CSV (*.csv)') added if it has none of them."""
    suffixes = re.findall(r"\*(\.[\w.]+)", selected_filter)
    if not path or not suffixes or any(path.lower().endswith(s) for s in suffixes):
        return path
    return path + suffixes[0]


class Dialogs:
    """The window's questions to the user. Each returns '' when cancelled."""

    def __init__(self, parent: QWidget):
        self.parent = parent

    def open_path(self, caption: str, filters: str) -> str:
        return QFileDialog.getOpenFileName(self.parent, caption, "", filters)[0]

    def save_path(self, caption: str, filters: str, suggested: str) -> str:
        path, chosen = QFileDialog.getSaveFileName(self.parent, caption, suggested, filters)
        return with_suffix(path, chosen)

    def choose(self, title: str, label: str, items: list[str]) -> str:
        item, ok = QInputDialog.getItem(self.parent, title, label, items, 0, False)
        return item if ok else ""

    def error(self, title: str, message: str) -> None:
        QMessageBox.warning(self.parent, title, message)
