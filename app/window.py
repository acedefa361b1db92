"""The main window: controls on the left, plots on the right, buttons and a status bar.

The GUI thread only draws. Snapshots from the worker are stored (the latest
one wins, stale ones are simply overwritten) and recorded into a bounded
`History`; a QTimer redraws at most once per screen frame, and only when a new
snapshot arrived since the last redraw.
"""
from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QHBoxLayout, QLabel, QLineEdit, QMainWindow, QPushButton, QSplitter, QStatusBar, QTabWidget,
    QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig, Snapshot
from core.scenarios import SCENARIOS, Scenario, load_scenario

from .controls import ControlPanel
from .compat import pin_none_refcount
from .guidance import DiagnosesList, ScenarioPanel
from .history import History
from .plots import NoisePanel, PlotPanel
from .run_commands import RunCommands
from .table import LayerTable
from .worker import Delivery, WorkerThread

pin_none_refcount()  # idempotent; covers `app` imported as a namespace package (see app/compat.py)

# While training, drawing may take at most this share of wall time: the worker
# needs the GIL too, and a redraw of all plots costs ~10-30 ms offscreen.
DRAW_BUDGET = 0.12


class MainWindow(RunCommands, QMainWindow):
    """Vanishing Point's window. `shutdown()` (also run by closing) stops and joins the worker."""

    redrawn = Signal(object)  # the Snapshot just drawn

    def __init__(self, config: SimConfig | None = None, parent: QWidget | None = None):
        super().__init__(parent)
        config = config or SimConfig()
        self.setWindowTitle("Vanishing Point")
        self.history = History()
        self.latest: Snapshot | None = None
        self._dirty = False
        self._generation = 0
        self.diverged_message = ""
        self.device_reason = ""
        self._rate = 0.0
        self._rate_mark: tuple[float, int] | None = None
        self._next_draw = 0.0

        # widgets
        self.controls = ControlPanel(config)
        self.plots = PlotPanel()
        self.noise_plots = NoisePanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.plots, "Layers")
        self.tabs.addTab(self.noise_plots, "Gradient noise")
        self.tabs.setTabToolTip(1, "Noise-to-signal ratio of each layer's weight gradient, per layer and over "
                                   "steps; it shrinks like 1/√(batch_size × accumulate)")
        self.table = LayerTable()
        self.run_button = QPushButton("Run  [Space]")
        self.step_button = QPushButton("Step  [S]")
        self.reset_button = QPushButton("Reset  [R]")
        self.probe_button = QPushButton("Probe  [P]")
        self.run_button.setToolTip("Train continuously / pause (Space)")
        self.step_button.setToolTip("One training step (S)")
        self.reset_button.setToolTip("Rebuild the network from the seed: fresh weights, step 0 (R)")
        self.probe_button.setToolTip("One forward/backward pass on a fixed batch without updating (P)")
        self.layers_edit = QLineEdit()
        self.layers_edit.setPlaceholderText("auto")
        self.layers_edit.setMaximumWidth(160)
        self.layers_edit.setToolTip("Layers to overlay in the histogram and update plots, e.g. '1, 10, 20' (up to 6); empty: a spread")
        self.banner = QLabel()
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet("background: #ffebee; color: #b71c1c; padding: 4px; font-weight: bold;")
        self.banner.hide()

        bar = QHBoxLayout()
        for b in (self.run_button, self.step_button, self.reset_button, self.probe_button):
            bar.addWidget(b)
        bar.addSpacing(16)
        bar.addWidget(QLabel("Overlay layers:"))
        bar.addWidget(self.layers_edit)
        bar.addStretch(1)
        self.table_action = QAction("Layer table  [T]", self, checkable=True)
        self.table_action.setShortcut(QKeySequence("T"))
        table_button = QPushButton("Layer table  [T]")
        table_button.setCheckable(True)
        table_button.toggled.connect(self.table_action.setChecked)
        self.table_action.toggled.connect(table_button.setChecked)
        bar.addWidget(table_button)
        self.compare_windows: list[QMainWindow] = []
        self.compare_action = QAction("Compare A/B…", self)
        self.compare_action.setShortcut(QKeySequence("Ctrl+B"))
        self.compare_action.triggered.connect(self.open_compare)
        compare_button = QPushButton("Compare A/B…")
        compare_button.setToolTip("Open a window training this configuration (A) and a copy you change (B) "
                                  "side by side on the same batches (Ctrl+B)")
        compare_button.clicked.connect(self.compare_action.trigger)
        bar.addWidget(compare_button)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(2, 2, 2, 2)
        col.addLayout(bar)
        col.addWidget(self.banner)
        col.addWidget(self.tabs, 1)
        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.controls)
        split.addWidget(right)
        split.setStretchFactor(1, 1)
        split.setSizes([360, 1200])
        self.setCentralWidget(split)
        self.table_dock = QDockWidget("Per-layer statistics", self)
        self.table_dock.setWidget(self.table)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.table_dock)
        self.table_dock.hide()
        self.table_action.toggled.connect(self._toggle_table)
        self.table_dock.visibilityChanged.connect(lambda v: self.table_action.setChecked(v))
        self._applied_config = config
        self._build_guidance_docks()
        self._build_scenarios_menu()

        # status bar
        status = QStatusBar()
        self.setStatusBar(status)
        self.device_label = QLabel("device: …")
        self.rate_label = QLabel("0 steps/s")
        self.step_label = QLabel("step 0")
        self.loss_label = QLabel("loss —")
        self.lr_label = QLabel("lr —")
        self.lr_label.setToolTip("Learning rate of the drawn step (rises linearly during warm-up)")
        self.clip_label = QLabel("clips 0")
        self.message_label = QLabel("")
        for w in (self.device_label, self.rate_label, self.step_label, self.loss_label, self.lr_label,
                  self.clip_label):
            status.addPermanentWidget(w)
        status.addWidget(self.message_label, 1)
        font = QFont()
        font.setPointSize(11)
        status.setFont(font)

        # actions and shortcuts
        for text, key, slot in (("Run/Pause", "Space", self.toggle_run), ("Step", "S", self.step),
                                ("Reset", "R", self.reset), ("Probe", "P", self.probe)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
        self.addAction(self.table_action)
        self.addAction(self.compare_action)
        self.run_button.clicked.connect(self.toggle_run)
        self.step_button.clicked.connect(self.step)
        self.reset_button.clicked.connect(self.reset)
        self.probe_button.clicked.connect(self.probe)
        self.layers_edit.editingFinished.connect(self._layers_edited)
        self.tabs.currentChanged.connect(self._tab_changed)

        # worker
        self.worker_thread = WorkerThread(config)
        self.worker = self.worker_thread.worker
        self.worker.snapshotReady.connect(self._on_delivery)
        self.worker.configApplied.connect(self._on_config_applied)
        self.worker.runningChanged.connect(self._on_running_changed)
        self.worker.failed.connect(self._on_failed)
        self.worker.notice.connect(self._on_notice)
        self.controls.configChanged.connect(self._on_config_edited)
        self._make_timers()
        self.worker_thread.start()
        self._install_theory()
        self._frame.start()
        self.resize(1600, 1000)

    def _install_theory(self) -> None:
        """Theory dock (phase diagram, depth sweep, Jacobian), χ in the status bar, mean-field overlay."""
        from .theory_view import install_theory

        self.theory = install_theory(self)

    # --- commands ------------------------------------------------------------------
    def open_compare(self) -> None:
        """Open an A/B comparison window with A = the current config and B = a copy to change."""
        from core.compare import ConfigPair

        from .compare_window import CompareWindow  # it imports this module

        config = self.controls.config()
        window = CompareWindow(ConfigPair(config, config))
        self.compare_windows.append(window)
        window.show()

    # --- worker → GUI ------------------------------------------------------------
    def _on_delivery(self, d: Delivery) -> None:
        if d.generation != self._generation:
            self._generation = d.generation
            self.history.clear()
            self._rate_mark = None
        self.history.add(d.snapshot)
        self.latest = d.snapshot
        self._dirty = True
        if d.snapshot.kind == "step":
            now = time.perf_counter()
            if self._rate_mark is None:
                self._rate_mark = (now, d.snapshot.step)
            else:
                t0, s0 = self._rate_mark
                if now - t0 >= 0.5:
                    self._rate = (d.snapshot.step - s0) / (now - t0)
                    self._rate_mark = (now, d.snapshot.step)

    def _on_config_applied(self, config: SimConfig, reason: str) -> None:
        self._applied_config = config
        self.device_reason = reason
        self.device_label.setText(f"device: {reason}")

    def _on_running_changed(self, running: bool) -> None:
        self.run_button.setText("Pause  [Space]" if running else "Run  [Space]")
        if not running:
            self._rate = 0.0
            self._rate_mark = None

    def _on_failed(self, message: str) -> None:
        self.diverged_message = message
        self.banner.setText(message)
        self.banner.show()
        self.message_label.setText(message)

    def _on_notice(self, message: str) -> None:
        self.message_label.setText(message)
        self.banner.setText(message)
        self.banner.setStyleSheet("background: #fff8e1; color: #7a4f00; padding: 4px;")
        self.banner.show()

    def _clear_divergence(self) -> None:
        if self.diverged_message:
            self.diverged_message = ""
            self.banner.hide()
            self.banner.setStyleSheet("background: #ffebee; color: #b71c1c; padding: 4px; font-weight: bold;")
            self.message_label.setText("")

    # --- GUI → worker --------------------------------------------------------------
    def _on_config_edited(self, config: SimConfig) -> None:
        self._send_config(config)

    def _layers_edited(self) -> None:
        text = self.layers_edit.text().replace(",", " ").split()
        try:
            layers = [int(t) for t in text]
        except ValueError:
            self.message_label.setText(f"Overlay layers: expected numbers like '1, 10, 20', got {self.layers_edit.text()!r}")
            return
        self.plots.set_selected_layers(layers or None)
        self._dirty = self.latest is not None

    def _tab_changed(self, _index: int) -> None:
        self._dirty = self.latest is not None  # a tab is drawn only while shown: bring it up to date

    def _toggle_table(self, on: bool) -> None:
        self.table_dock.setVisible(on)
        if on and self.latest is not None:
            self.table.model_.set_snapshot(self.latest)

    # --- drawing ---------------------------------------------------------------------
    def redraw(self) -> None:
        """Draw the latest snapshot if it is new (called by the frame timer)."""
        if not self._dirty or self.latest is None:
            return
        now = time.perf_counter()
        if now < self._next_draw:
            return  # stay within the drawing budget; the newest snapshot is drawn next time
        self._dirty = False
        snap = self.latest
        self.plots.show_snapshot(snap, self.history)
        self.plots.update()  # one paint, on the next pass of the event loop
        if self.tabs.currentWidget() is self.noise_plots:
            self.noise_plots.show_snapshot(snap, self.history, self.plots.layers_for(snap.depth))
            self.noise_plots.update()
        # the cost of a frame: this update plus the latest paint (timed in PlotPanel.paintEvent)
        cost = time.perf_counter() - now + self.plots.last_paint_seconds
        self._next_draw = now + (cost / DRAW_BUDGET if self.worker.is_running() else 0.0)
        if self.table_dock.isVisible():
            self.table.model_.set_snapshot(snap)
        if self.diagnoses_dock.isVisible():
            self.diagnoses.show_snapshot(snap, self._applied_config)
        self.step_label.setText(f"step {snap.step}" + (" (probe)" if snap.kind == "probe" else ""))
        self.loss_label.setText(f"loss {snap.loss:.4g}  acc {snap.accuracy:.0%}")
        self.lr_label.setText(f"lr {snap.lr:.3g}")
        self.rate_label.setText(f"{self._rate:.0f} steps/s")
        self.clip_label.setText(f"clips {self.history.clip_events}")
        self.redrawn.emit(snap)

    # --- scenarios and diagnoses ---------------------------------------------------------
    def _build_guidance_docks(self) -> None:
        """The scenario panel (right, shown when a scenario is chosen) and the diagnoses list (bottom)."""
        self.scenario_panel = ScenarioPanel()
        self.scenario_panel.runRequested.connect(self._run_scenario)
        self.scenario_dock = QDockWidget("Scenario", self)
        self.scenario_dock.setObjectName("scenario_dock")
        self.scenario_dock.setWidget(self.scenario_panel)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.scenario_dock)
        self.scenario_dock.hide()
        self.diagnoses = DiagnosesList()
        self.diagnoses_dock = QDockWidget("Diagnoses", self)
        self.diagnoses_dock.setObjectName("diagnoses_dock")
        self.diagnoses_dock.setWidget(self.diagnoses)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.diagnoses_dock)
        self.diagnoses_dock.visibilityChanged.connect(self._diagnoses_shown)

    def _build_scenarios_menu(self) -> None:
        """Scenarios menu: every scenario by title, then the two panels' show/hide toggles."""
        menu = self.menuBar().addMenu("&Scenarios")
        self.scenario_actions: dict[str, QAction] = {}
        for name in SCENARIOS:
            try:
                title = SCENARIOS[name].title
            except ConfigError as exc:  # a damaged file: listed, disabled, with the reason
                action = menu.addAction(f"{name} (cannot be loaded)")
                action.setToolTip(str(exc))
                action.setEnabled(False)
                continue
            action = menu.addAction(title)
            action.triggered.connect(lambda _=False, n=name: self.choose_scenario(n))
            self.scenario_actions[name] = action
        menu.setToolTipsVisible(True)
        menu.addSeparator()
        for dock, text in ((self.scenario_dock, "Show scenario panel"), (self.diagnoses_dock, "Show diagnoses")):
            toggle = dock.toggleViewAction()
            toggle.setText(text)
            menu.addAction(toggle)

    def choose_scenario(self, name: str) -> Scenario:
        """Pause, load the scenario's config through the normal config path and show its text."""
        scenario = load_scenario(name)
        self.set_running(False)
        self.controls.set_config(scenario.config)
        self._on_config_edited(scenario.config)
        self.show_scenario(scenario)
        return scenario

    def show_scenario(self, scenario: Scenario) -> None:
        """Show a scenario's text in the scenario panel (the config is not touched)."""
        self.scenario_panel.show_scenario(scenario)
        self.scenario_dock.show()
        self.message_label.setText(f"Scenario: {scenario.title}. Predict first, then run it.")

    def _run_scenario(self, steps: int) -> None:
        """From a fresh network (same seed): train `steps` steps, or probe when 0."""
        self.reset()
        if steps:
            self.set_running(True, until=steps)

    def _diagnoses_shown(self, visible: bool) -> None:
        if visible and self.latest is not None:
            self.diagnoses.show_snapshot(self.latest, self._applied_config)

    # --- teardown -----------------------------------------------------------------------
    def shutdown(self) -> None:
        """Also shut down the comparison windows opened from here. Idempotent."""
        for window in self.compare_windows:
            window.shutdown()
        self.theory.shutdown()
        super().shutdown()
