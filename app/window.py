"""The main window: controls on the left, plots on the right, buttons and a status bar.

The GUI thread only draws. Frames from the worker go to the window's
`SingleState` (app/state.py), which keeps the latest one and a bounded
`History`; the views subscribe to it and draw at most once per screen frame,
and only when a new frame arrived since the last draw.
"""
from __future__ import annotations

import math
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget, QLabel, QLineEdit, QMainWindow, QPushButton, QSizePolicy, QSplitter, QStatusBar,
    QTabWidget, QToolBar, QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig, Snapshot
from core.cli import render
from core.compare import ConfigPair, is_pair, session_pair
from core.export_script import export_script as script_source
from core.files import atomic_write_text
from core.scenarios import SCENARIOS, Scenario, load_scenario
from core.session import Entry, Session, SessionError, load_session
from core.session import save_session as write_session

from . import settings as remembered
from .compare_window import CompareWindow
from .controls import ControlPanel
from .exports import export_plots as write_plots
from .exports import export_slide as write_slide
from .exports import slide_caption
from .recording import RecordError, Recorder
from .jobs import time_left
from .lessons import LessonFlow
from .open_files import OpenFiles
from .panels.diagnoses import DiagnosesList
from .panels.layer_table import LayerTable
from .panels.noise import NoisePanel
from .panels.plot_panel import PlotPanel
from .panels.scenario import ScenarioPanel
from .panels.spectrum import SpectrumView
from .panels.trainability import install_trainability
from .plot_math import layer_noun
from .presentation import Presentation
from .run_commands import RunCommands
from .state import Frame, SingleState
from .theory_view import TheoryController
from .workarounds.none_refcount import pin_none_refcount
from .worker import WorkerThread

pin_none_refcount()  # idempotent; covers `app` imported as a namespace package (see app/workarounds)

DEFAULT_SIZE = (1600, 1000)
SESSION_FILTER = "Vanishing Point session (*.json)"
PLOTS_FILTER = "PNG image (*.png);;SVG drawing (*.svg)"
STATS_FILTER = "CSV table (*.csv);;JSON document (*.json)"
SCRIPT_FILTER = "Python script (*.py)"
SLIDE_FILTER = "PNG image (*.png)"
RECORD_FILTER = "Animated GIF (*.gif);;MP4 video (*.mp4)"


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
        self.setWindowTitle("Vanishing Point")

        # the worker and the state the views subscribe to
        self.worker_thread = WorkerThread(config)
        self.worker = self.worker_thread.worker
        self.state = SingleState(self.worker, config, self)
        self.history = self.state.history

        # widgets
        self._build_run_commands()
        self.controls = ControlPanel(config, request=self.state.request_config)
        self.plots = PlotPanel()
        self.noise_plots = NoisePanel()
        self.state.paint_seconds = lambda: self.plots.last_paint_seconds
        self.tabs = QTabWidget()
        self.tabs.addTab(self.plots, "Layers")
        self.tabs.addTab(self.noise_plots, "Gradient noise")
        self.tabs.setTabToolTip(1, "Noise-to-signal ratio of each layer's weight gradient, per layer and over "
                                   "steps; it shrinks like 1/√(batch_size × accumulate)")
        self.table = LayerTable()
        self.layers_edit = QLineEdit()
        self.layers_edit.setPlaceholderText("auto")
        self.layers_edit.setMaximumWidth(160)
        self.layers_edit.setToolTip("Layers to overlay in the histogram and update plots, e.g. '1, 10, 20' (up to 6); empty: a spread")

        # A tool bar, not a row of widgets: what does not fit goes under its » button, so the buttons
        # never make the window wider than a laptop screen when docks take room beside the plots.
        bar = self.command_bar = QToolBar("Commands")
        bar.setMovable(False)
        bar.setFloatable(False)
        for b in self.run_buttons():
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
        # under the plots, beside the diagnoses (_build_guidance_docks): the bottom spans the window, so the
        # table's fitted columns never take the plots' width (at the right, beside an open scenario panel,
        # they left the plots 300-450 px on a 1366-1600 px screen)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.table_dock)
        self.table_dock.hide()
        self.table_action.toggled.connect(self._toggle_table)
        self.table_dock.visibilityChanged.connect(lambda v: self.table_action.setChecked(v))
        self._build_file_menu()
        self.open_files = OpenFiles(self)
        self.open_files.install(self.file_menu, before=self.file_actions["save"])
        self._build_slide_actions()
        self._build_guidance_docks()
        self._build_scenarios_menu()
        self.view_menu = self.menuBar().addMenu("&View")  # presentation, zoom and the optional docks
        # W_hh spectrum (rnn): eigenvalues are computed by the worker only while this dock is open
        self.spectrum_view = SpectrumView()
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
        self.rate_label = QLabel("0 steps/s")
        self.loss_label = QLabel("loss —")
        self.lr_label = QLabel("lr —")
        self.lr_label.setToolTip("Learning rate of the drawn step (rises linearly during warm-up)")
        self.clip_label = QLabel("clips 0")
        for w in (self.device_label, self.rate_label, self.step_label, self.loss_label, self.lr_label,
                  self.clip_label):
            status.addPermanentWidget(w)
        status.addWidget(self.message_label, 1)
        # long sentences (message, device, χ) are cut with "…", their tooltips whole (ElidedLabel),
        # rather than widening the window past the screen

        # actions and shortcuts
        self.addAction(self.table_action)
        self.addAction(self.compare_action)
        self.addAction(self.spectrum_action)
        self.layers_edit.editingFinished.connect(self._layers_edited)
        self.tabs.currentChanged.connect(self._tab_changed)

        # views subscribe to the state (the plots first: they cost the most and are seen first)
        state = self.state
        state.frameDue.connect(self._draw_plots)
        self._connect_state()
        state.configRequested.connect(self.controls.set_config)
        state.configApplied.connect(self._set_layer_noun)
        state.frameDue.connect(self._draw_table)
        state.frameDue.connect(self._draw_diagnoses)
        state.frameDue.connect(self._draw_spectrum)
        state.frameDue.connect(self._show_status)
        self._install_theory()
        self.trainability = install_trainability(self)
        self.presentation = Presentation(self)
        self.presentation.apply()
        self._start()
        self.resize(*DEFAULT_SIZE)
        geometry = remembered.stored_geometry(settings) if settings is not None else None
        if geometry is not None:
            self.restoreGeometry(geometry)
        if settings_notice:
            self.message_label.setText(settings_notice)

    def _install_theory(self) -> None:
        """Theory dock (phase diagram, depth sweep, Jacobian), χ in the status bar, mean-field overlay."""
        self.theory = TheoryController(self.state, self)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.theory.dock)
        self.addAction(self.theory.toggle_action)
        self.statusBar().addPermanentWidget(self.theory.button)
        self.statusBar().addPermanentWidget(self.theory.chi_label)
        self.theory.profileChanged.connect(self.plots.set_theory)

    def set_presenting(self, on: bool) -> None:
        """Enter or leave presentation mode (app/presentation.py)."""
        self.presentation.set_presenting(on)

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        if hasattr(self, "presentation"):
            self.presentation.fit_scenario_panel()

    # --- commands ------------------------------------------------------------------
    def open_compare(self, pair=None) -> QMainWindow:
        """Open an A/B comparison window of `pair` (a core.compare.ConfigPair); by default A = the
        current config and B = a copy to change."""
        config = self.controls.config()
        window = CompareWindow(pair or ConfigPair(config, config))
        self.compare_windows.append(window)
        window.show()
        return window

    # --- state → views --------------------------------------------------------------
    def _set_layer_noun(self, config: SimConfig) -> None:
        noun = layer_noun(config.architecture)  # arrives before the new network's first snapshot
        self.plots.set_layer_noun(noun)
        self.noise_plots.set_layer_noun(noun)
        self.table.model_.set_layer_noun(noun)
        self.table_dock.setWindowTitle(f"Per-{noun.replace(' ', '-')} statistics")
        self.overlay_label.setText(f"Overlay {noun}s:")

    def _draw_plots(self, frame: Frame) -> None:
        snap = frame.snapshot
        self.plots.show_snapshot(snap, self.history)
        self.plots.update()  # one paint, on the next pass of the event loop
        if self.tabs.currentWidget() is self.noise_plots:
            self.noise_plots.show_snapshot(snap, self.history, self.plots.layers_for(snap.depth))
            self.noise_plots.update()

    def _draw_table(self, frame: Frame) -> None:
        if self.table_dock.isVisible():
            self.table.model_.set_snapshot(frame.snapshot)

    def _draw_diagnoses(self, frame: Frame) -> None:
        if self.diagnoses_dock.isVisible():
            self.diagnoses.show_snapshot(frame.snapshot, frame.config)

    def _draw_spectrum(self, frame: Frame) -> None:
        if self.spectrum_dock.isVisible():
            d = self.state.spectrum
            d = d if d is not None and d.generation == frame.generation else None
            self.spectrum_view.show_spectrum(d.spectrum if d else None, frame.snapshot, d.reason if d else None)

    def _show_status(self, frame: Frame) -> None:
        snap = frame.snapshot
        accuracy = "" if math.isnan(snap.accuracy) else f"  acc {snap.accuracy:.0%}"   # (NaN: no classes)
        self.loss_label.setText(f"loss {snap.loss:.4g}{accuracy}")
        self.lr_label.setText(f"lr {snap.lr:.3g}")
        self.rate_label.setText(f"{self.state.rate:.0f} steps/s")
        self.clip_label.setText(f"clips {self.history.clip_events}")

    def _layers_edited(self) -> None:
        text = self.layers_edit.text().replace(",", " ").split()
        try:
            layers = [int(t) for t in text]
        except ValueError:
            self.message_label.setText(f"Overlay layers: expected numbers like '1, 10, 20', got {self.layers_edit.text()!r}")
            return
        self.plots.set_selected_layers(layers or None)
        self.state.invalidate()

    def _tab_changed(self, _index: int) -> None:
        self.state.invalidate()  # a tab is drawn only while shown: bring it up to date

    def _spectrum_visibility(self, visible: bool) -> None:
        self.spectrum_action.setChecked(visible)
        self.state.set_spectrum_wanted(visible)

    def _toggle_table(self, on: bool) -> None:
        self.table_dock.setVisible(on)
        if on and self.latest is not None:
            self.table.model_.set_snapshot(self.latest)

    def redraw(self) -> None:
        """Draw the latest snapshot now if it is new (the state's frame clock calls this too)."""
        self.state.draw()


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
        self.splitDockWidget(self.diagnoses_dock, self.table_dock, Qt.Orientation.Horizontal)
        self.diagnoses_dock.visibilityChanged.connect(self._diagnoses_shown)

    def _build_scenarios_menu(self) -> None:
        """Scenarios menu: every scenario by title in lesson order, Next / Previous, then the two
        panels' show/hide toggles."""
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
        self.lessons = LessonFlow(self, menu)
        menu.addSeparator()
        for dock, text in ((self.scenario_dock, "Show scenario panel"), (self.diagnoses_dock, "Show diagnoses")):
            toggle = dock.toggleViewAction()
            toggle.setText(text)
            menu.addAction(toggle)

    def choose_scenario(self, name: str) -> Scenario:
        """Pause, load the scenario's config through the normal config path and show its text."""
        scenario = load_scenario(name)
        self.set_running(False)
        try:
            self.state.request_config(scenario.config)
        except ConfigError as exc:  # e.g. more than the memory budget allows
            self._report(f"Cannot load the scenario {scenario.title!r}", exc)
            return scenario
        self.show_scenario(scenario)
        return scenario

    def show_scenario(self, scenario: Scenario) -> None:
        """Show a scenario's text in the scenario panel (the config is not touched)."""
        self.scenario_panel.show_scenario(scenario)
        self.scenario_dock.show()
        self.lessons.shown(scenario)
        self.presentation.show_scenario_docks()
        if self.presentation.presenting:
            self.presentation.apply()   # (its rows of plots follow the scenario)
        self.message_label.setText(f"Scenario: {scenario.title}. Predict first, then run it.")

    def _run_scenario(self, steps: int) -> None:
        """From a fresh network (same seed): train `steps` steps, or probe when 0."""
        self.reset()
        if steps:
            self.set_running(True, until=steps)

    def _diagnoses_shown(self, visible: bool) -> None:
        frame = self.state.frame
        if visible and frame is not None:
            self.diagnoses.show_snapshot(frame.snapshot, frame.config)

    # --- File menu: sessions, exports, remembered state ---------------------------------
    def _build_file_menu(self) -> None:
        menu = self.file_menu = self.menuBar().addMenu("&File")
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

    def _build_slide_actions(self) -> None:
        """File menu: slides (a plot or the whole panel at 2×, with a caption) and recording."""
        menu = self.file_menu
        before = self.file_actions["defaults"]
        slide = QAction("Export &slide of all plots (2×, captioned)…", self)
        slide.triggered.connect(lambda: self.export_slide())
        menu.insertAction(before, slide)
        self.file_actions["slide"] = slide
        plots = self.slide_menu = menu.addMenu("Export slide of &one plot")
        menu.insertMenu(before, plots)
        for view in self.plots.views:
            action = plots.addAction(view.plot.titleLabel.text or type(view).__name__)
            action.triggered.connect(lambda _=False, v=view: self.export_slide(view=v))
        plots.aboutToShow.connect(self._name_slide_plots)
        menu.insertSeparator(before)
        self.record_action = QAction("&Record…", self)
        self.record_action.setShortcut(QKeySequence("Ctrl+Shift+R"))
        self.record_action.setToolTip("Record the window as an animated GIF (or MP4), one frame per drawn "
                                      "snapshot, until Stop recording")
        self.record_action.triggered.connect(lambda: self.start_recording())
        self.stop_record_action = QAction("S&top recording", self)
        self.stop_record_action.setShortcut(QKeySequence("Ctrl+Shift+T"))
        self.stop_record_action.setEnabled(False)
        self.stop_record_action.triggered.connect(lambda: self.stop_recording())
        for action in (self.record_action, self.stop_record_action):
            menu.insertAction(before, action)
            self.addAction(action)
        menu.insertSeparator(before)
        self.recorder: Recorder | None = None

    def _name_slide_plots(self) -> None:
        for action, view in zip(self.slide_menu.actions(), self.plots.views):
            action.setText(view.plot.titleLabel.text or type(view).__name__)

    def slide_caption(self) -> str:
        """The caption of a slide: the scenario's title (if one is shown), key config fields and the step."""
        frame = self.state.frame
        scenario = self.scenario_panel.scenario if self.scenario_dock.isVisible() else None
        config = frame.config if frame is not None else self.state.config
        step = frame.snapshot.step if frame is not None else None
        return slide_caption(config, step, scenario.title if scenario is not None else None)

    def export_slide(self, path: str | None = None, view=None) -> bool:
        """Write `view` (one of `plots.views`; None: every plot shown) at 2× its size on screen, with a caption."""
        def write(target: Path) -> str:
            items = self.plots.view_items(view) if view is not None else None
            w, h = write_slide(self.plots, target, self.slide_caption(), items)
            return f"Exported a {w}×{h} slide to {target.name}."

        return self._write_file("Export slide", SLIDE_FILTER, "slide.png", path, write)

    def start_recording(self, path: str | None = None) -> bool:
        """Record the window, one frame per drawn snapshot, until `stop_recording()`."""
        if self.recorder is not None:
            return False
        path = path if path is not None else self.dialogs.save_path("Record", RECORD_FILTER, "run.gif")
        if not path:
            return False
        try:
            self.recorder = Recorder(self, path)
        except RecordError as exc:
            self._report("Cannot record", exc)
            return False
        self.redrawn.connect(self._record_frame)
        self.record_action.setEnabled(False)
        self.stop_record_action.setEnabled(True)
        self.message_label.setText(f"Recording to {Path(path).name}: File → Stop recording (Ctrl+Shift+T) writes it.")
        return True

    def _record_frame(self, _snap) -> None:
        if self.recorder is not None:
            self.recorder.grab()

    def stop_recording(self) -> bool:
        """Write the recording (atomically); returns whether it was written."""
        recorder, self.recorder = self.recorder, None
        if recorder is None:
            return False
        self.redrawn.disconnect(self._record_frame)
        self.record_action.setEnabled(True)
        self.stop_record_action.setEnabled(False)
        try:
            frames = recorder.finish()
        except (RecordError, OSError) as exc:
            self._report("Cannot write the recording", exc)
            return False
        self.message_label.setText(f"Recorded {frames} frames to {recorder.path.name}.")
        return True

    def recorded_snapshots(self) -> list[Snapshot]:
        """The recorded training snapshots (oldest first), then the latest probe if one is on screen;
        all made by `state.frame_config()`."""
        return self.state.recorded_snapshots()

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
        try:
            self.apply_session(session.main, Path(path).name)
        except ConfigError as exc:  # e.g. more than the memory budget allows
            self._report("Cannot open the session", exc)
            return False
        if session.warnings:  # the user's model or data file changed since the save
            self.message_label.setText(" ".join([self.message_label.text(), *session.warnings]))
        return True

    def apply_session(self, entry: Entry, source: str = "the session") -> None:
        """Show `entry`: its config in the controls and the worker (rebuilt at step 0, not run), and its
        recorded snapshots, if any, in the plots until the user runs, steps or changes a setting.
        Raises ConfigError (and changes nothing) when its config does not fit in memory."""
        self.state.check(entry.config)  # refuse before changing anything
        self.set_running(False)
        self.state.request_config(entry.config, now=True)  # one deliberate change: not throttled
        if not entry.snapshots:
            self.message_label.setText(f"Opened {source}.")
            return
        self.state.show_recorded(entry.config, entry.snapshots, entry.curve)
        steps = [s.step for s in entry.snapshots]
        self.message_label.setText(
            f"Opened {source}: {len(steps)} recorded snapshot(s), steps {min(steps)}–{max(steps)}. "
            "Weights are not saved: Run or Step trains afresh from step 0.")

    def save_session(self, with_snapshots: bool = False, path: str | None = None) -> bool:
        """Write the config the worker runs (with `with_snapshots`, the recorded snapshots and the
        config that made them: never the controls', which may hold a change not yet applied or refused)."""
        def write(target: Path) -> str:
            snaps = self.recorded_snapshots() if with_snapshots else []
            config = self.state.frame_config() if snaps else self.state.config
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
            atomic_write_text(target, render(self.state.frame_config(), self.state.device, snaps, fmt))
            return f"Exported {len(snaps)} snapshot(s) to {target.name}."

        return self._write_file("Export statistics", STATS_FILTER, "statistics.csv", path, write)

    def export_script(self, path: str | None = None) -> bool:
        def write(target: Path) -> str:
            atomic_write_text(target, script_source(self.controls.config(), target.name))
            return f"Exported {target.name}: run it with python {target.name} --steps 100"

        return self._write_file("Export PyTorch script", SCRIPT_FILTER, "experiment.py", path, write)

    def restore_defaults(self) -> None:
        """Default configuration and window size; forget what was remembered."""
        self.state.request_config(SimConfig(), now=True)
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
        ended.append(self.trainability.shutdown(left()))
        ended.append(self.open_files.shutdown(left()))
        return all(ended)
