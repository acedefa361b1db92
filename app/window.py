"""The main window: controls on the left, plots on the right, buttons and a status bar.

The GUI thread only draws. Snapshots from the worker are stored (the latest
one wins, stale ones are simply overwritten) and recorded into a bounded
`History`; a QTimer redraws at most once per screen frame, and only when a new
snapshot arrived since the last redraw.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QLineEdit, QMainWindow, QPushButton, QSizePolicy, QSplitter, QStatusBar,
    QTabWidget, QToolBar, QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig, Snapshot
from core.cli import render
from core.compare import is_pair, session_pair
from core.export_script import export_script as script_source
from core.files import atomic_write_text
from core.scenarios import SCENARIOS, Scenario, load_scenario
from core.session import Entry, Session, SessionError, load_session
from core.session import save_session as write_session

from . import settings as remembered
from .controls import ControlPanel
from .compat import pin_none_refcount
from .dialogs import Dialogs
from .exports import export_plots as write_plots
from .guidance import DiagnosesList, ScenarioPanel
from .history import History
from .jobs import time_left
from .plots import NoisePanel, PlotPanel, layer_noun
from .run_commands import RunCommands
from .spectrum import SpectrumView
from .table import LayerTable
from .worker import Delivery, SpectrumDelivery, WorkerThread

pin_none_refcount()  # idempotent; covers `app` imported as a namespace package (see app/compat.py)

# While training, drawing may take at most this share of wall time: the worker
# needs the GIL too, and a redraw of all plots costs ~10-15 ms offscreen at depth 100,
# so 15 frames/s (app/worker.py FRAMES_PER_SECOND) needs about a fifth.
DRAW_BUDGET = 0.25
DEFAULT_SIZE = (1600, 1000)
SESSION_FILTER = "Vanishing Point session (*.json)"
PLOTS_FILTER = "PNG image (*.png);;SVG drawing (*.svg)"
STATS_FILTER = "CSV table (*.csv);;JSON document (*.json)"
SCRIPT_FILTER = "Python script (*.py)"


def _spacer(width: int | None = None) -> QWidget:
    """A blank tool bar entry: `width` px wide, or taking all the room left when None."""
    spacer = QWidget()
    if width is None:
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
    else:
        spacer.setFixedWidth(width)
    return spacer


class MainWindow(RunCommands, QMainWindow):
    """Vanishing Point's window. `shutdown()` (also run by closing) stops and joins the worker.

    With `settings`, the window starts from the configuration and geometry it
    had when last closed (unless `config` is given) and remembers them on close.
    """

    redrawn = Signal(object)  # the Snapshot just drawn

    def __init__(self, config: SimConfig | None = None, parent: QWidget | None = None,
                 settings: QSettings | None = None):
        super().__init__(parent)
        self.settings = settings
        settings_notice = ""
        if config is None and settings is not None:
            config, settings_notice = remembered.stored_config(settings)
        config = config or SimConfig()
        self.dialogs = Dialogs(self)
        self.device_name = "cpu"
        self._replay = False  # showing snapshots opened from a file, not the worker's
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

        # A tool bar, not a row of widgets: what does not fit goes under its » button, so the buttons
        # never make the window wider than a laptop screen when docks take room beside the plots.
        bar = self.command_bar = QToolBar("Commands")
        bar.setMovable(False)
        bar.setFloatable(False)
        for b in (self.run_button, self.step_button, self.reset_button, self.probe_button):
            bar.addWidget(b)
        bar.addWidget(_spacer(16))
        self.overlay_label = QLabel("Overlay layers:")
        bar.addWidget(self.overlay_label)
        bar.addWidget(self.layers_edit)
        bar.addWidget(_spacer())
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
        self.compare_action.triggered.connect(lambda: self.open_compare())
        compare_button = QPushButton("Compare A/B…")
        compare_button.setToolTip("Open a window training this configuration (A) and a copy you change (B) "
                                  "side by side on the same batches (Ctrl+B)")
        compare_button.clicked.connect(self.compare_action.trigger)
        self._compare_tool = bar.addWidget(compare_button)
        right = QWidget()
        col = QVBoxLayout(right)
        col.setContentsMargins(2, 2, 2, 2)
        col.addWidget(bar)
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
        self._build_file_menu()
        self._build_guidance_docks()
        self._build_scenarios_menu()
        # W_hh spectrum (rnn): eigenvalues are computed by the worker only while this dock is open
        self.spectrum_view = SpectrumView()
        self.spectrum: SpectrumDelivery | None = None
        self.spectrum_dock = QDockWidget("W_hh spectrum (rnn)", self)
        self.spectrum_dock.setWidget(self.spectrum_view)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.spectrum_dock)
        self.spectrum_dock.hide()
        self.spectrum_action = QAction("Spectrum  [E]", self, checkable=True)
        self.spectrum_action.setShortcut(QKeySequence("E"))
        spectrum_button = QPushButton("Spectrum  [E]")
        spectrum_button.setCheckable(True)
        spectrum_button.setToolTip("Eigenvalues of the RNN's recurrent matrix W_hh and the gradient growth "
                                   "ρ^t they predict (W^t = V diag(λ)^t V⁻¹) beside the measured one (E)")
        spectrum_button.toggled.connect(self.spectrum_action.setChecked)
        self.spectrum_action.toggled.connect(spectrum_button.setChecked)
        self.spectrum_action.toggled.connect(self.spectrum_dock.setVisible)
        self.spectrum_dock.visibilityChanged.connect(self._spectrum_visibility)
        self.command_bar.insertWidget(self._compare_tool, spectrum_button)

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
        # a long device sentence is clipped (its tooltip has it whole) rather than widening the window
        self.device_label.setMinimumWidth(80)
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
        self.addAction(self.spectrum_action)
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
        self.worker.spectrumReady.connect(self._on_spectrum)
        self.controls.configChanged.connect(self._on_config_edited)
        self._make_timers()
        self.worker_thread.start()
        self._install_theory()
        self._frame.start()
        self.resize(*DEFAULT_SIZE)
        geometry = remembered.stored_geometry(settings) if settings is not None else None
        if geometry is not None:
            self.restoreGeometry(geometry)
        if settings_notice:
            self.message_label.setText(settings_notice)

    def _install_theory(self) -> None:
        """Theory dock (phase diagram, depth sweep, Jacobian), χ in the status bar, mean-field overlay."""
        from .theory_view import install_theory

        self.theory = install_theory(self)

    # --- commands ------------------------------------------------------------------
    def open_compare(self, pair=None) -> QMainWindow:
        """Open an A/B comparison window of `pair` (a core.compare.ConfigPair); by default A = the
        current config and B = a copy to change."""
        from core.compare import ConfigPair

        from .compare_window import CompareWindow  # it imports this module

        config = self.controls.config()
        window = CompareWindow(pair or ConfigPair(config, config))
        self.compare_windows.append(window)
        window.show()
        return window

    # an opened session stays on screen until the user trains, probes or resets
    def set_running(self, running: bool, until: int | None = None) -> None:
        if running:
            self._end_replay()
        super().set_running(running, until)

    def step(self) -> None:
        if not self.worker.is_running():
            self._end_replay()
        super().step()

    def reset(self) -> None:
        self._end_replay()
        super().reset()

    def probe(self) -> None:
        self._end_replay()
        super().probe()

    # --- worker → GUI ------------------------------------------------------------
    def _on_delivery(self, d: Delivery) -> None:
        if self._replay:
            return  # an opened session is on screen until the user runs, steps or changes something
        if d.generation != self._generation:
            self._generation = d.generation
            self.history.clear()
            self._rate_mark = None
        self.history.add(d.snapshot, d.trail)
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
        if not self.worker.is_running():
            self.redraw()  # a probe or a single step is drawn at once, not at the next frame tick

    def _on_config_applied(self, config: SimConfig, device: str, reason: str) -> None:
        self._applied_config = config
        self.device_reason = reason
        self.device_name = device
        self.device_label.setText(f"device: {reason}")
        self.device_label.setToolTip(f"device: {reason}")
        noun = layer_noun(config.architecture)  # arrives before the new network's first snapshot
        self.plots.set_layer_noun(noun)
        self.noise_plots.set_layer_noun(noun)
        self.table.model_.set_layer_noun(noun)
        self.table_dock.setWindowTitle(f"Per-{noun.replace(' ', '-')} statistics")
        self.overlay_label.setText(f"Overlay {noun}s:")

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
        self._end_replay()
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

    def _spectrum_visibility(self, visible: bool) -> None:
        self.spectrum_action.setChecked(visible)
        self.worker.set_spectrum_wanted(visible)
        self._dirty = visible and self.latest is not None

    def _on_spectrum(self, d: SpectrumDelivery) -> None:
        if d.generation == self._generation:
            self.spectrum = d
            self._dirty = self.latest is not None

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
        if self.spectrum_dock.isVisible():
            d = self.spectrum if self.spectrum is not None and self.spectrum.generation == self._generation else None
            self.spectrum_view.show_spectrum(d.spectrum if d else None, snap, d.reason if d else None)
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

    # --- File menu: sessions, exports, remembered state ---------------------------------
    def _build_file_menu(self) -> None:
        menu = self.menuBar().addMenu("&File")
        self.file_actions: dict[str, QAction] = {}
        for item in (
            ("open", "&Open session…", "Ctrl+O", self.open_session),
            ("save", "&Save session…", "Ctrl+S", self.save_session),
            ("save_steps", "Save session with &recorded steps…", "Ctrl+Shift+S",
             lambda: self.save_session(with_snapshots=True)),
            None,
            ("plots", "Export &plots (PNG/SVG)…", "", self.export_plots),
            ("stats", "Export s&tatistics (CSV/JSON)…", "", self.export_statistics),
            ("script", "Export PyTorch s&cript…", "", self.export_script),
            None,
            ("defaults", "Restore &defaults", "", self.restore_defaults),
        ):
            if item is None:
                menu.addSeparator()
                continue
            key, text, shortcut, slot = item
            action = QAction(text, self)
            if shortcut:
                action.setShortcut(QKeySequence(shortcut))
            action.triggered.connect(lambda *_, run=slot: run())  # drop `checked`: the slots take a path
            menu.addAction(action)
            self.file_actions[key] = action
        self.file_actions["save_steps"].setToolTip(
            "Also save the recorded snapshots (the most recent ones, up to 400 or 64 MB) and the loss curve")

    def _report(self, title: str, exc: Exception) -> None:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {message}"
        self.message_label.setText(f"{title}: {message}")
        self.dialogs.error(title, message)

    def recorded_snapshots(self) -> list[Snapshot]:
        """The recorded training snapshots (oldest first), then the latest probe if one is on screen."""
        snaps = self.history.snapshots()
        if self.latest is not None and self.latest.kind == "probe":
            snaps.append(self.latest)
        return snaps

    def open_session(self, path: str | None = None) -> bool:
        """Open a session file; on any problem show why and change nothing. Returns whether it opened."""
        path = path if path is not None else self.dialogs.open_path("Open session", SESSION_FILTER)
        if not path:
            return False
        try:
            session = load_session(path)
        except SessionError as exc:
            self._report("Cannot open the session", exc)
            return False
        if is_pair(session):  # saved by a comparison window: it opens in one
            self.open_compare(session_pair(session))
            self.message_label.setText(f"Opened {Path(path).name} as an A/B comparison, in its own window.")
            return True
        self.apply_session(session.main, Path(path).name)
        return True

    def apply_session(self, entry: Entry, source: str = "the session") -> None:
        """Show `entry`: its config in the controls and the worker (rebuilt at step 0, not run), and its
        recorded snapshots, if any, in the plots until the user runs, steps or changes a setting."""
        self.worker.set_running(False)
        self._set_config_now(entry.config)
        self._applied_config = entry.config  # the opened snapshots' config, for the diagnoses
        if not entry.snapshots:
            self._end_replay()
            self.message_label.setText(f"Opened {source}.")
            return
        self._replay = True
        self.history.restore(entry.snapshots, entry.curve)
        self.latest = entry.snapshots[-1]
        self._dirty, self._next_draw = True, 0.0
        steps = [s.step for s in entry.snapshots]
        self.message_label.setText(
            f"Opened {source}: {len(steps)} recorded snapshot(s), steps {min(steps)}–{max(steps)}. "
            "Weights are not saved: Run or Step trains afresh from step 0.")

    def _set_config_now(self, config: SimConfig) -> None:
        """Put `config` in the controls and send it to the worker at once (no throttle: it is one
        deliberate change, not a slider drag), clearing any divergence banner."""
        self._clear_divergence()
        self._throttle.stop()
        self._pending_config = None
        self.controls.set_config(config)
        self.worker.set_config(config)

    def _end_replay(self) -> None:
        if self._replay:
            self._replay = False
            self.history.clear()

    def _write_file(self, caption: str, filters: str, suggested: str, path: str | None,
                    write: Callable[[Path], str]) -> bool:
        """Ask for a path (unless given), run `write(path)` (returns the status line); on failure say why."""
        path = path if path is not None else self.dialogs.save_path(caption, filters, suggested)
        if not path:
            return False
        try:
            done = write(Path(path))
        except (OSError, ValueError) as exc:  # SessionError is a ValueError too
            self._report(f"{caption}: failed", exc)
            return False
        self.message_label.setText(done)
        return True

    def save_session(self, with_snapshots: bool = False, path: str | None = None) -> bool:
        def write(target: Path) -> str:
            config = self.controls.config()
            snaps = self.recorded_snapshots() if with_snapshots else []
            if any(s.depth != config.depth for s in snaps):
                snaps = []  # a settings change has not reached the plots yet: they belong to the old config
            curve = self.history.curve() if snaps and self.history.steps else None
            write_session(target, Session.single(config, snaps, curve))
            return f"Saved {target.name}" + (f" with {len(snaps)} snapshot(s)." if snaps else ".")

        caption = "Save session with recorded steps" if with_snapshots else "Save session"
        return self._write_file(caption, SESSION_FILTER, "session.json", path, write)

    def export_plots(self, path: str | None = None) -> bool:
        def write(target: Path) -> str:
            write_plots(self.plots.ci, target)
            return f"Exported the plots to {target.name}."

        return self._write_file("Export plots", PLOTS_FILTER, "plots.png", path, write)

    def export_statistics(self, path: str | None = None) -> bool:
        """Every recorded snapshot (and the latest probe) as CSV rows or one JSON document, like the CLI."""
        def write(target: Path) -> str:
            snaps, fmt = self.recorded_snapshots(), target.suffix.lower().lstrip(".")
            if fmt not in ("csv", "json"):
                raise ValueError(f"statistics export as .csv or .json, not {target.name!r}")
            if not snaps:
                raise ValueError("nothing recorded yet: Probe, Step or Run first")
            atomic_write_text(target, render(self.controls.config(), self.device_name, snaps, fmt))
            return f"Exported {len(snaps)} snapshot(s) to {target.name}."

        return self._write_file("Export statistics", STATS_FILTER, "statistics.csv", path, write)

    def export_script(self, path: str | None = None) -> bool:
        def write(target: Path) -> str:
            atomic_write_text(target, script_source(self.controls.config(), target.name))
            return f"Exported {target.name}: run it with python {target.name} --steps 100"

        return self._write_file("Export PyTorch script", SCRIPT_FILTER, "experiment.py", path, write)

    def restore_defaults(self) -> None:
        """Default configuration and window size; forget what was remembered."""
        self._end_replay()
        self._set_config_now(SimConfig())
        self.resize(*DEFAULT_SIZE)
        if self.settings is not None:
            remembered.forget(self.settings)
        self.message_label.setText("Restored the default settings.")

    # --- teardown -----------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Also shut down the theory jobs and the comparison windows opened from here, all within
        `timeout_ms`; remember the state. Idempotent; returns whether every thread ended."""
        if not self._closed and self.settings is not None:
            remembered.remember(self.settings, self.controls.config(), self.saveGeometry())
        left = time_left(timeout_ms)
        self.theory.cancel()  # they stop while the others are joined
        ended = [window.shutdown(left()) for window in self.compare_windows]
        ended.append(super().shutdown(left()))
        ended.append(self.theory.shutdown(left()))
        return all(ended)
