"""The scenario panel: the current scenario's question, its answer behind a Reveal button, and a
button that replays it."""
from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from core.scenarios import Scenario

# The views a scenario's "look for" items name, as their titles read on screen.
PLOT_NAMES = {
    "activations": "Activations per layer", "gradients": "Gradient magnitude per layer",
    "grad_history": "log₁₀ ‖∂L/∂z‖ over steps", "loss": "Loss and accuracy",
    "updates": "Update : weight ratio",
    "table": "Layer table", "diagnoses": "Diagnoses", "spectrum": "W_hh spectrum (Spectrum button, E)",
    "noise": "Gradient noise tab", "theory": "Theory: the χ sentence in the status bar and the dashed mean-field curves",
}


def _label() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setMargin(6)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
    # the text wraps to the panel's width, however narrow (a word-wrapped QLabel's own least
    # width is a guess that left lines cut off under a horizontal scroll bar)
    label.setMinimumWidth(60)
    return label


class ScenarioPanel(QWidget):
    """Title and the 'predict first' question; the explanation and what to look for on which plot
    (the answer) stay hidden until Reveal is pressed; a button replays the scenario from step 0
    (`runRequested` carries its steps; 0 = a probe). `set_modified` marks a config changed since."""

    runRequested = Signal(int)
    viewRequested = Signal(str)   # a "look for" item's plot key: its name was clicked

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = _label()
        self.answer = _label()
        self.answer.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.answer.linkActivated.connect(self._link)
        self.answer.hide()
        self.reveal_button = QPushButton("Reveal the answer")
        self.reveal_button.setToolTip("Show the explanation and what to look for (predict first)")
        self.reveal_button.clicked.connect(self.reveal)
        self.modified_label = QLabel()
        self.modified_label.setWordWrap(True)
        self.modified_label.setMargin(6)
        self.modified_label.setStyleSheet("color:#b71c1c")
        self.modified_label.hide()
        inner = QWidget()
        inner_col = QVBoxLayout(inner)
        inner_col.setContentsMargins(0, 0, 0, 0)
        inner_col.addWidget(self.modified_label)
        inner_col.addWidget(self.label)
        inner_col.addWidget(self.reveal_button)
        inner_col.addWidget(self.answer)
        inner_col.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.run_button = QPushButton()
        self.run_button.setToolTip("Rebuild the network from the seed and run the scenario's steps")
        self.run_button.clicked.connect(lambda: self.runRequested.emit(self.scenario.steps if self.scenario else 0))
        col = QVBoxLayout(self)
        col.setContentsMargins(0, 0, 0, 0)
        col.addWidget(scroll, 1)
        col.addWidget(self.run_button)
        self.scenario: Scenario | None = None
        self.modified: tuple[str, ...] = ()
        self.preferred_width: int | None = None

    def set_preferred_width(self, width: int | None) -> None:
        """The width the panel asks for (presentation mode narrows it); None: the default."""
        self.preferred_width = width
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override: a narrow side panel
        return QSize(self.preferred_width or 340, 500)

    def show_scenario(self, scenario: Scenario) -> None:
        """Show `scenario`'s title and question, its answer hidden until Reveal."""
        self.scenario = scenario
        e = html.escape
        # each view's name is a link that brings it up (another tab, a closed dock)
        looks = "".join(f"<li><a href='view:{e(item.plot)}'><b>{e(PLOT_NAMES.get(item.plot, item.plot))}</b></a>: "
                        f"{e(item.what)}</li>" for item in scenario.look_for)
        run = (f"{scenario.steps} training steps show the effect." if scenario.steps
               else "One probe (forward and backward pass, no training) shows the effect.")
        self.run_button.setText(f"Run the scenario: {scenario.steps} steps" if scenario.steps
                                else "Probe the scenario")
        self.label.setText(
            f"<h3>{e(scenario.title)}</h3>"
            f"<p style='background:#fff8e1;padding:4px'><b>Predict first:</b> {e(scenario.predict)}</p>"
            f"<p><i>{e(run)}</i></p>")
        self.answer.setText(f"<p>{e(scenario.explanation)}</p><p><b>Look for:</b></p><ul>{looks}</ul>")
        self.answer.hide()
        self.reveal_button.show()
        self.set_modified(())

    def reveal(self) -> None:
        """Show the answer: the explanation and what to look for."""
        self.answer.show()
        self.reveal_button.hide()

    def _link(self, href: str) -> None:
        if href.startswith("view:"):
            self.viewRequested.emit(href[len("view:"):])

    def revealed(self) -> bool:
        return not self.answer.isHidden()

    def set_modified(self, fields: tuple[str, ...]) -> None:
        """Say that the config has moved away from the scenario's in `fields` (none: hide the line)."""
        self.modified = tuple(fields)
        if self.scenario is None or not fields:
            self.modified_label.hide()
            return
        shown = ", ".join(fields[:4]) + (", …" if len(fields) > 4 else "")
        self.modified_label.setText(f"{self.scenario.lesson} (modified): {shown} changed since the scenario "
                                    "was loaded; its text describes the scenario's own settings.")
        self.modified_label.setToolTip("Changed: " + ", ".join(fields))
        self.modified_label.show()

    def text(self) -> str:
        """The scenario's whole text: the question, and the answer whether revealed or not."""
        return self.label.text() + self.answer.text()

    def shown_text(self) -> str:
        """The text on screen now (the answer only once revealed)."""
        return self.label.text() + (self.answer.text() if self.revealed() else "")
