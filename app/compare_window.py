"""The A/B comparison window: one control panel editing A or B, both trained in lockstep, shared axes.

B starts as a copy of A. The A/B selector switches which config the control
panel edits; fields where B differs from A are marked (≠) and listed. An edit
of A carries over to B in every field where B still equals A, so B stays "A
plus what the user changed". A `CompareWorker` (the `SimWorker` loop driving a
`core.compare.Comparer`) trains both on its thread; the GUI thread only draws.
A NaN/Inf in either pauses both and the banner names which.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup, QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QStatusBar, QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig
from core.compare import (
    NAMES, Comparer, Comparison, ConfigPair, SessionError, describe_divergence, differing_fields, load_pair,
    save_pair,
)

from .panels.compare import SIDE_COLORS, CompareView
from .workarounds.none_refcount import pin_none_refcount
from .controls import ControlPanel
from .run_commands import RunCommands
from .state import Frame, PairState
from .worker import SimWorker, WorkerThread

pin_none_refcount()

DIFF_MARK = "≠ "
SESSION_FILTER = "Vanishing Point session (*.json)"


class CompareWorker(SimWorker):
    """The simulation worker driving a Comparer (A and B in lockstep) instead of one Simulator.

    It runs torch on one thread, probes included. Opened from a main window, whose worker keeps its
    OpenMP team as long as it lives (app.torch_threads), a second team would make both sleep and
    wake at every parallel operation: measured at 50 × 256 on 2 cores, the comparison trained 4.5
    pairs of steps a second on two threads against 6.0 on one (8.3 on two with no main window). One
    fixed count keeps a pair's numbers the same however the window was opened.
    """

    def __init__(self, config: ConfigPair):
        super().__init__(config)
        self.training_threads = self.probe_threads = 1

    def make_simulator(self, config: ConfigPair,  # type: ignore[override]
                       cpu_after: ConfigError | None = None) -> Comparer:
        return Comparer(config, cpu_after=cpu_after)

    def describe_failure(self, snap: Comparison) -> str:  # type: ignore[override]
        return f"{describe_divergence(snap, self._config)}; both runs paused. Reset or change a control to recover."


class CompareWindow(RunCommands, QMainWindow):
    """A/B comparison. `shutdown()` (also run by closing) stops and joins the worker."""

    redrawn = Signal(object)  # the Comparison just drawn

    def __init__(self, pair: ConfigPair | SimConfig | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        if not isinstance(pair, ConfigPair):
            base = pair or SimConfig()
            pair = ConfigPair(base, base)
        self.setWindowTitle("Vanishing Point: compare A/B")
        self.editing = "A"
        self.worker_thread = WorkerThread(pair, worker_class=CompareWorker)
        self.worker = self.worker_thread.worker
        self.state = PairState(self.worker, pair, self)
        self.histories = self.state.histories
        self._build_run_commands()

        # left: the A/B selector, one control panel, what differs
        self.controls = ControlPanel(pair.a, request=self._request_side)
        self.side_buttons = {}
        group = QButtonGroup(self)
        selector = QHBoxLayout()
        for side in NAMES:
            b = QPushButton(f"Edit {side}")
            b.setCheckable(True)
            b.setStyleSheet(f"QPushButton:checked {{ background: {SIDE_COLORS[side]}; color: white; "
                            "font-weight: bold; }")
            b.setToolTip(f"The controls below edit configuration {side}")
            group.addButton(b)
            selector.addWidget(b)
            self.side_buttons[side] = b
            b.clicked.connect(lambda _=False, s=side: self.edit_side(s))
        self.side_buttons["A"].setChecked(True)
        self.copy_button = QPushButton("B = A")
        self.copy_button.setToolTip("Make B a copy of A again")
        self.copy_button.clicked.connect(self.copy_a_to_b)
        selector.addWidget(self.copy_button)
        self.differs_label = QLabel()
        self.differs_label.setWordWrap(True)
        self.warning_label = QLabel()
        self.warning_label.setWordWrap(True)
        self.warning_label.setStyleSheet("color: #7a4f00;")
        left = QWidget()
        col = QVBoxLayout(left)
        col.setContentsMargins(2, 2, 2, 2)
        col.addLayout(selector)
        col.addWidget(self.differs_label)
        col.addWidget(self.warning_label)
        col.addWidget(self.controls, 1)

        # right: buttons, banner, plots
        self.view = CompareView()
        self.plots = self.view  # the name `python -m app --screenshot` looks for
        self.save_button = QPushButton("Save session…")
        self.open_button = QPushButton("Open session…")
        bar = QHBoxLayout()
        for b in self.run_buttons():
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.open_button)
        bar.addWidget(self.save_button)
        right = QWidget()
        rcol = QVBoxLayout(right)
        rcol.setContentsMargins(2, 2, 2, 2)
        rcol.addLayout(bar)
        rcol.addWidget(self.banner)
        rcol.addWidget(self.view, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([380, 1200])
        self.setCentralWidget(split)
        status = QStatusBar()
        self.setStatusBar(status)
        status.addWidget(self.message_label, 1)
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.step_label)
        self.save_button.clicked.connect(lambda: self.save_session())
        self.open_button.clicked.connect(lambda: self.open_session())

        # the plots first: they cost the most and are seen first
        self.state.frameDue.connect(self._draw_comparison)
        self._connect_state()
        self.state.configRequested.connect(self._show_pair)
        self._show_differences()
        self._start()
        self.resize(1600, 1100)

    @property
    def pair(self) -> ConfigPair:
        """The configurations A and B (as last accepted; the worker follows)."""
        return self.state.requested

    # --- commands ------------------------------------------------------------------
    def edit_side(self, side: str) -> None:
        """Point the control panel at A or B."""
        self.editing = side
        self.side_buttons[side].setChecked(True)
        self.controls.set_config(self.pair.a if side == "A" else self.pair.b)
        self._show_differences()

    def copy_a_to_b(self) -> None:
        self.set_pair(ConfigPair(self.pair.a, self.pair.a))

    def set_pair(self, pair: ConfigPair) -> None:
        """Use `pair` (shown in the controls, sent to the worker: both rebuilt from step 0).
        Raises ConfigError if a side would not fit in memory (nothing changes then)."""
        self.state.request_config(pair)

    def save_session(self, path: str | Path | None = None) -> bool:
        """Write A and B as one session file (atomically); ask for the path unless given."""
        def write(target: Path) -> str:
            save_pair(target, self.pair)
            return f"Saved A and B to {target}"

        return self._write_file("Save A/B session", SESSION_FILTER, "comparison.json", path, write)

    def open_session(self, path: str | Path | None = None) -> bool:
        """Load A and B from a session file (asked for unless given); a bad file changes nothing and
        the banner says why."""
        path = path if path is not None else self.dialogs.open_path("Open A/B session", SESSION_FILTER)
        if not path:
            return False
        try:
            pair = load_pair(path)
            self.set_pair(pair)
        except (SessionError, ConfigError) as exc:
            self.banner.show_message(f"Cannot open: {exc}", error=True)
            self.message_label.setText(f"Cannot open: {exc}")
            return False
        self.message_label.setText(f"Opened {path}")
        return True

    # --- GUI → state ----------------------------------------------------------------
    def _request_side(self, config: SimConfig) -> None:
        """The control panel's request: the edited side's new config, as a new pair."""
        note = ""
        if self.editing == "B":
            pair = ConfigPair(self.pair.a, config)
        else:
            b, note = _carry_over(self.pair, config)
            pair = ConfigPair(config, b)
        self.state.request_config(pair)  # (clears the status message)
        if note:
            self.message_label.setText(note)

    # --- state → views ---------------------------------------------------------------
    def _show_pair(self, pair: ConfigPair) -> None:
        self.banner.clear()  # a file's error goes with the change
        self.controls.set_config(pair.a if self.editing == "A" else pair.b)
        self._show_differences()

    def _show_differences(self) -> None:
        """Mark the fields where B differs from A, list them, and warn when batches cannot be shared."""
        differs = differing_fields(self.pair.a, self.pair.b)
        for name, conn in self.controls.connectors.items():
            label = _row_label(conn.widget)
            if label is None:
                continue
            text = label.text().removeprefix(DIFF_MARK)
            label.setText(DIFF_MARK + text if name in differs else text)
            label.setStyleSheet(f"color: {SIDE_COLORS['B']}; font-weight: bold;" if name in differs else "")
        if differs:
            items = [f"{k} ({getattr(self.pair.a, k)} → {getattr(self.pair.b, k)})" for k in differs]
            self.differs_label.setText("B differs from A in: " + ", ".join(items))
        else:
            self.differs_label.setText("B is a copy of A: pick “Edit B” and change something.")
        warning = self.pair.warning()
        self.warning_label.setText(f"⚠ {warning}" if warning else "")
        self.warning_label.setVisible(bool(warning))

    def _draw_comparison(self, frame: Frame) -> None:
        self.view.show_comparison(frame.snapshot, self.histories)
        self.view.repaint()

    def redraw(self) -> None:
        """Draw the latest comparison now if it is new (the state's frame clock calls this too)."""
        self.state.draw()


def _carry_over(old: ConfigPair, new_a: SimConfig) -> tuple[SimConfig, str]:
    """B after A changed: every field where B equalled A follows A, B's own changes stay; and a note
    when that would make B invalid (B then keeps its values)."""
    follow = {k: v for k, v in new_a.to_dict().items()
              if getattr(old.b, k) == getattr(old.a, k) and getattr(old.b, k) != v}
    if not follow:
        return old.b, ""
    try:
        return old.b.replace(**follow), ""
    except ConfigError as exc:
        return old.b, f"B kept its values ({exc})"


def _row_label(field_widget: QWidget) -> QLabel | None:
    """The form label of a control (ControlPanel puts each control in a cell of a QFormLayout row)."""
    cell = field_widget.parentWidget()
    form = cell.parentWidget().layout() if cell is not None and cell.parentWidget() is not None else None
    label = form.labelForField(cell) if form is not None and hasattr(form, "labelForField") else None
    return label if isinstance(label, QLabel) else None
