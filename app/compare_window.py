"""The A/B comparison window: one control panel editing A or B, both trained in lockstep, shared axes.

B starts as a copy of A. The A/B selector switches which config the control
panel edits; fields where B differs from A are marked (≠) and listed. An edit
of A carries over to B in every field where B still equals A, so B stays "A
plus what the user changed". A `CompareWorker` (the `SimWorker` loop driving a
`core.compare.Comparer`) trains both on its thread; the GUI thread only draws.
A NaN/Inf in either pauses both and the banner names which.
"""
from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QButtonGroup, QFileDialog, QHBoxLayout, QLabel, QMainWindow, QPushButton, QSplitter, QStatusBar,
    QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig
from core.compare import (
    NAMES, Comparer, Comparison, ConfigPair, SessionError, describe_divergence, differing_fields, load_pair,
    save_pair,
)

from .panels.compare import SIDE_COLORS, CompareView
from .workarounds.none_refcount import pin_none_refcount
from .controls import ControlPanel
from .history import History
from .run_commands import RunCommands
from .window import DRAW_BUDGET
from .worker import Delivery, SimWorker, WorkerThread

pin_none_refcount()

BANNER_ERROR = "background: #ffebee; color: #b71c1c; padding: 4px; font-weight: bold;"
BANNER_WARN = "background: #fff8e1; color: #7a4f00; padding: 4px;"
DIFF_MARK = "≠ "


class CompareWorker(SimWorker):
    """The simulation worker driving a Comparer (A and B in lockstep) instead of one Simulator."""

    def make_simulator(self, config: ConfigPair,  # type: ignore[override]
                       cpu_after: ConfigError | None = None) -> Comparer:
        return Comparer(config, cpu_after=cpu_after)

    def describe_failure(self, snap: Comparison) -> str:  # type: ignore[override]
        return f"{describe_divergence(snap)}; both runs paused. Reset or change a control to recover."


class CompareWindow(RunCommands, QMainWindow):
    """A/B comparison. `shutdown()` (also run by closing) stops and joins the worker."""

    redrawn = Signal(object)  # the Comparison just drawn

    def __init__(self, pair: ConfigPair | SimConfig | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        if not isinstance(pair, ConfigPair):
            base = pair or SimConfig()
            pair = ConfigPair(base, base)
        self.setWindowTitle("Vanishing Point: compare A/B")
        self.pair = pair
        self.editing = "A"
        self.histories = {side: History() for side in NAMES}
        self.latest: Comparison | None = None
        self.diverged_message = ""
        self._dirty = False
        self._generation = 0
        self._next_draw = 0.0

        # left: the A/B selector, one control panel, what differs
        self.controls = ControlPanel(pair.a)
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
        self.run_button = QPushButton("Run  [Space]")
        self.step_button = QPushButton("Step  [S]")
        self.reset_button = QPushButton("Reset  [R]")
        self.probe_button = QPushButton("Probe  [P]")
        self.save_button = QPushButton("Save session…")
        self.open_button = QPushButton("Open session…")
        bar = QHBoxLayout()
        for b in (self.run_button, self.step_button, self.reset_button, self.probe_button):
            bar.addWidget(b)
        bar.addStretch(1)
        bar.addWidget(self.open_button)
        bar.addWidget(self.save_button)
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.hide()
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
        self.device_label = QLabel("device: …")
        self.step_label = QLabel("step 0")
        self.message_label = QLabel("")
        status.addWidget(self.message_label, 1)
        status.addPermanentWidget(self.device_label)
        status.addPermanentWidget(self.step_label)

        for text, key, slot in (("Run/Pause", "Space", self.toggle_run), ("Step", "S", self.step),
                                ("Reset", "R", self.reset), ("Probe", "P", self.probe)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.triggered.connect(slot)
            self.addAction(action)
        self.run_button.clicked.connect(self.toggle_run)
        self.step_button.clicked.connect(self.step)
        self.reset_button.clicked.connect(self.reset)
        self.probe_button.clicked.connect(self.probe)
        self.save_button.clicked.connect(self._save_dialog)
        self.open_button.clicked.connect(self._open_dialog)
        self.controls.configChanged.connect(self._on_config_edited)

        # worker
        self.worker_thread = WorkerThread(pair, worker_class=CompareWorker)
        self.worker = self.worker_thread.worker
        # bound methods of this window, never lambdas: the worker emits from its own thread, and
        # only a receiver living on the GUI thread makes Qt queue the call there (a lambda ran on
        # the worker thread and touched widgets: "Timers cannot be started from another thread")
        self.worker.snapshotReady.connect(self._on_delivery)
        self.worker.configApplied.connect(self._on_config_applied)
        self.worker.runningChanged.connect(self._on_running_changed)
        self.worker.failed.connect(self._on_failed)
        self.worker.notice.connect(self._on_notice)
        self._make_timers()
        self._show_differences()
        self.worker_thread.start()
        self._frame.start()
        self.resize(1600, 1100)

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
        """Use `pair` (shown in the controls, sent to the worker: both rebuilt from step 0)."""
        self.pair = pair
        self.controls.set_config(pair.a if self.editing == "A" else pair.b)
        self._show_differences()
        self._send_config(pair)

    def save_session(self, path: str | Path) -> None:
        """Write A and B as one session file (atomically); errors go to the banner."""
        try:
            save_pair(path, self.pair)
        except SessionError as exc:
            self._show_banner(str(exc), BANNER_ERROR)
            return
        self.message_label.setText(f"Saved A and B to {path}")

    def open_session(self, path: str | Path) -> bool:
        """Load A and B from a session file; a bad file changes nothing and the banner says why."""
        try:
            pair = load_pair(path)
        except SessionError as exc:
            self._show_banner(f"Cannot open: {exc}", BANNER_ERROR)
            return False
        self._clear_divergence()
        self.set_pair(pair)
        self.message_label.setText(f"Opened {path}")
        return True

    # --- GUI → worker ---------------------------------------------------------------
    def _on_config_edited(self, config: SimConfig) -> None:
        note = ""
        if self.editing == "B":
            pair = ConfigPair(self.pair.a, config)
        else:
            b, note = _carry_over(self.pair, config)
            pair = ConfigPair(config, b)
        self.pair = pair
        self._show_differences()
        self._send_config(pair)  # (clears the status message)
        if self.editing == "A" and note:
            self.message_label.setText(note)

    # --- worker → GUI ---------------------------------------------------------------
    def _on_delivery(self, d: Delivery) -> None:
        if d.generation != self._generation:
            self._generation = d.generation
            for h in self.histories.values():
                h.clear()
        c: Comparison = d.snapshot
        trail_a, trail_b = d.trail or ((), ())  # Comparer.trail()
        self.histories["A"].add(c.a, trail_a)
        self.histories["B"].add(c.b, trail_b)
        self.latest = c
        self._dirty = True

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

    def _on_config_applied(self, _config, _device: str, reason: str) -> None:
        self.device_label.setText(f"device: {reason}")

    def _on_running_changed(self, running: bool) -> None:
        self.run_button.setText("Pause  [Space]" if running else "Run  [Space]")

    def _on_failed(self, message: str) -> None:
        self._show_banner(message, BANNER_ERROR, diverged=True)

    def _on_notice(self, message: str) -> None:
        self._show_banner(message, BANNER_WARN)

    def _show_banner(self, message: str, style: str, diverged: bool = False) -> None:
        if diverged:
            self.diverged_message = message
        self.banner.setStyleSheet(style)
        self.banner.setText(message)
        self.banner.show()
        self.message_label.setText(message)

    def _clear_divergence(self) -> None:
        self.diverged_message = ""
        self.banner.hide()
        self.message_label.setText("")

    def _save_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save A/B session", "comparison.json", "Session (*.json)")
        if path:
            self.save_session(path)

    def _open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open A/B session", "", "Session (*.json)")
        if path:
            self.open_session(path)

    # --- drawing ----------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the latest comparison if it is new (called by the frame timer)."""
        if not self._dirty or self.latest is None:
            return
        now = time.perf_counter()
        if now < self._next_draw:
            return  # within the drawing budget, as in the main window: the worker needs the GIL too
        self._dirty = False
        c = self.latest
        self.view.show_comparison(c, self.histories)
        self.view.repaint()
        cost = time.perf_counter() - now
        self._next_draw = now + (cost / DRAW_BUDGET if self.worker.is_running() else 0.0)
        self.step_label.setText(f"step {c.step}" + (" (probe)" if c.kind == "probe" else ""))
        self.redrawn.emit(c)


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
