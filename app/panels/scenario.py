"""The scenario panel: the current scenario's text, and a button that replays it."""
from __future__ import annotations

import html

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QLabel, QPushButton, QScrollArea, QVBoxLayout, QWidget

from core.scenarios import Scenario

# The views a scenario's "look for" items name, as their titles read on screen.
PLOT_NAMES = {
    "activations": "Activations per layer", "gradients": "Gradient magnitude per layer",
    "grad_history": "log₁₀ ‖∂L/∂z‖ over steps", "loss": "Loss and accuracy", "updates": "Update : weight ratio",
    "table": "Layer table", "diagnoses": "Diagnoses", "spectrum": "W_hh spectrum (Spectrum button, E)",
}


class ScenarioPanel(QWidget):
    """Title, explanation, the 'predict first' question and what to look for on which plot, and a
    button that replays the scenario from step 0 (`runRequested` carries its steps; 0 = a probe)."""

    runRequested = Signal(int)

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setMargin(6)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        # the text wraps to the panel's width, however narrow (a word-wrapped QLabel's own least
        # width is a guess that left lines cut off under a horizontal scroll bar)
        self.label.setMinimumWidth(60)
        scroll = QScrollArea()
        scroll.setWidget(self.label)
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
        self.preferred_width: int | None = None

    def set_preferred_width(self, width: int | None) -> None:
        """The width the panel asks for (presentation mode narrows it); None: the default."""
        self.preferred_width = width
        self.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override: a narrow side panel
        return QSize(self.preferred_width or 340, 500)

    def show_scenario(self, scenario: Scenario) -> None:
        self.scenario = scenario
        e = html.escape
        looks = "".join(f"<li><b>{e(PLOT_NAMES.get(item.plot, item.plot))}</b>: {e(item.what)}</li>"
                        for item in scenario.look_for)
        run = (f"{scenario.steps} training steps show the effect." if scenario.steps
               else "One probe (forward and backward pass, no training) shows the effect.")
        self.run_button.setText(f"Run the scenario: {scenario.steps} steps" if scenario.steps
                                else "Probe the scenario")
        self.label.setText(
            f"<h3>{e(scenario.title)}</h3>"
            f"<p style='background:#fff8e1;padding:4px'><b>Predict first:</b> {e(scenario.predict)}</p>"
            f"<p>{e(scenario.explanation)}</p><p><i>{e(run)}</i></p><p><b>Look for:</b></p><ul>{looks}</ul>")

    def text(self) -> str:
        return self.label.text()
