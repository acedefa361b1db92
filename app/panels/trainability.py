"""The "Trainability map" view: a grid of trainings over two config axes, with the mean-field boundary.

A heat map of the chosen metric fills in as cells finish; the dashed curve is the predicted
boundary L = c·ξ_c (c = 6) where one axis is depth and the other changes ξ_c. The grid runs on
a `GridJob` thread (core.grid on Dask: a local cluster, or the scheduler address stored in the
settings), never on the GUI thread; Cancel stops it. A click on a cell emits `configPicked` with
that cell's config (seed index 0), for the window's one config path.
"""
from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSettings, Qt, QThread, Signal, Slot
from PySide6.QtWidgets import (
    QComboBox, QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout, QWidget,
)

from core import ConfigError, SimConfig
from core.grid.meanfield import boundary_curve
from core.grid.scenarios import grid_scenario_names, load_grid_scenario
from core.grid import (DEFAULT_C, METRICS, GridError, GridFile, GridSpec, connect, fit_rows, parse_axis,
                       require_dask, run_grid)

from .. import settings as remembered
from ..plot_kit import LABEL_STYLE, TICK_FONT
from ..torch_threads import confine_to_one_thread

METRIC_TITLES = {"accuracy": "training accuracy", "held_out_accuracy": "held-out accuracy", "loss": "training loss",
                 "grad_ratio": "log₁₀ ‖∂L/∂z¹‖/‖∂L/∂z^L‖ at init"}
DEFAULT_X, DEFAULT_Y, DEFAULT_STEPS = "sigma_w2=1:4:7", "depth=4:64:9:log", 300


class GridJob(QThread):
    """Runs one grid on Dask; `rowReady(job, row)` per finished cell, then `ended(job, added, failed,
    stopped)` or `failed(job, message)`. `cancel()` stops it at its next check (about 0.2 s)."""

    # each signal carries the job itself, so the view can drop a cancelled job's late messages
    rowReady = Signal(object, object)
    boundaryReady = Signal(object, object)
    ended = Signal(object, int, int, bool)
    failed = Signal(object, str)

    def __init__(self, spec: GridSpec, scheduler: str | None, workers: int | None = None):
        super().__init__()
        self.setObjectName("GridJob")
        self.spec, self.scheduler, self.workers = spec, scheduler, workers
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:  # noqa: D401 - QThread override
        confine_to_one_thread()
        try:
            self.boundaryReady.emit(self, boundary_curve(self.spec, DEFAULT_C))
            with connect(self.scheduler, self.workers) as client:
                if self._cancel.is_set():
                    self.ended.emit(self, 0, 0, True)
                    return
                outcome = run_grid(self.spec, client, GridFile(None, self.spec), on_row=lambda row: self.rowReady.emit(self, row),
                                   should_stop=self._cancel.is_set)
        except GridError as exc:
            self.failed.emit(self, str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - reported in the view, never lost
            self.failed.emit(self, f"{type(exc).__name__}: {exc}")
            return
        self.ended.emit(self, outcome.added, len(outcome.failed), outcome.stopped)


def _axis_ticks(values: tuple[float, ...]) -> list[tuple[float, str]]:
    step = max(1, math.ceil(len(values) / 8))
    return [(i, f"{v:.3g}") for i, v in enumerate(values) if i % step == 0 or i == len(values) - 1]


class TrainabilityView(QWidget):
    """Heat map of a grid's metric over its two axes, with the mean-field boundary overlaid."""

    configPicked = Signal(SimConfig)
    runningChanged = Signal(bool)

    def __init__(self, config: SimConfig | None = None, settings: QSettings | None = None,
                 parent: QWidget | None = None):
        super().__init__(parent)
        self.base = config or SimConfig()
        self.settings = settings
        self.spec: GridSpec | None = None
        self.rows: dict[tuple[int, int, int], dict[str, Any]] = {}
        self.job: GridJob | None = None
        self._old_jobs: list[GridJob] = []
        self.values = np.zeros((0, 0))

        self.x_edit, self.y_edit = QLineEdit(DEFAULT_X), QLineEdit(DEFAULT_Y)
        for edit, tip in ((self.x_edit, "horizontal axis"), (self.y_edit, "vertical axis")):
            edit.setToolTip(f"The {tip}: FIELD=LO:HI:N or FIELD=LO:HI:N:log, FIELD a numeric config field, "
                            "or sigma_w2 / sigma_b2")
        self.steps = QSpinBox()
        self.steps.setRange(1, 100_000)
        self.steps.setValue(DEFAULT_STEPS)
        self.steps.setPrefix("steps ")
        self.metric_box = QComboBox()
        for key in METRICS:
            self.metric_box.addItem(METRIC_TITLES[key], key)
        self.scenario_box = QComboBox()
        self.scenario_box.addItem("(current configuration)", None)
        for name in grid_scenario_names():
            self.scenario_box.addItem(name, name)
        self.scenario_box.setToolTip("Start from a bundled grid scenario: its config, axes, steps and metric")
        self.run_button, self.cancel_button = QPushButton("Run grid"), QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.status = QLabel("")
        self.status.setWordWrap(True)

        self.plot = pg.PlotWidget()
        item = self.plot.getPlotItem()
        for side in ("bottom", "left"):
            item.getAxis(side).setTickFont(TICK_FONT)
        self.image = pg.ImageItem()
        cmap = pg.colormap.get("viridis")
        self.image.setLookupTable(cmap.getLookupTable(nPts=256))
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(0, 1), colorMap=cmap, interactive=False, label="")
        self.bar.setImageItem(self.image, insert_in=item)
        self.boundary = pg.PlotDataItem(pen=pg.mkPen("w", width=3, style=Qt.PenStyle.DashLine))
        self.plot.addItem(self.boundary)
        self.plot.setMouseEnabled(False, False)
        self.plot.scene().sigMouseClicked.connect(self._clicked)

        row = QHBoxLayout()
        for w in (self.scenario_box, QLabel("x"), self.x_edit, QLabel("y"), self.y_edit, self.steps, self.metric_box,
                  self.run_button, self.cancel_button):
            row.addWidget(w)
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addWidget(self.plot, 1)
        col.addWidget(self.status)
        self.run_button.clicked.connect(lambda: self.start())
        self.cancel_button.clicked.connect(self.cancel)
        self.metric_box.currentIndexChanged.connect(lambda _i: self.redraw())
        self.scenario_box.currentIndexChanged.connect(lambda _i: self._scenario_chosen())
        self._window_config = self.base

    # --- running ----------------------------------------------------------------------------------
    def set_base_config(self, config: SimConfig) -> None:
        """The config every cell starts from: the window's current one (unless a scenario is chosen)."""
        self._window_config = config
        if self.scenario_box.currentData() is None:
            self.base = config

    @Slot(object, str, str)
    def on_config_applied(self, config: SimConfig, _device: str = "", _reason: str = "") -> None:
        """The worker applied `config` (its device and sentence are not needed here)."""
        self.set_base_config(config)

    def use_scenario(self, name: str | None) -> None:
        """Take a grid scenario's config, axes, steps and metric (None: back to the window's config);
        its explanation is shown under the map."""
        index = self.scenario_box.findData(name)
        if index >= 0 and index != self.scenario_box.currentIndex():
            self.scenario_box.setCurrentIndex(index)  # calls back here through _scenario_chosen
            return
        if name is None:
            self.base = self._window_config
            self.status.setText("")
            return
        try:
            sc = load_grid_scenario(name)
        except GridError as exc:
            self.status.setText(str(exc))
            return
        self.base = sc.spec.base
        self.x_edit.setText(sc.spec.x.spec())
        self.y_edit.setText(sc.spec.y.spec())
        self.steps.setValue(sc.spec.steps)
        self.metric_box.setCurrentIndex(self.metric_box.findData(sc.metric))
        self.status.setText(f"{sc.title}. {sc.explanation}")

    def _scenario_chosen(self) -> None:
        self.use_scenario(self.scenario_box.currentData())

    def scheduler(self) -> str | None:
        return remembered.stored_scheduler(self.settings) if self.settings is not None else None

    def busy(self) -> bool:
        return self.job is not None

    def start(self, workers: int | None = None) -> bool:
        """Parse the axes and start the grid on a job thread; False (and a message) on bad input."""
        try:
            require_dask()
            spec = GridSpec(self.base, parse_axis(self.x_edit.text(), "x"), parse_axis(self.y_edit.text(), "y"),
                            self.steps.value())
            spec.cells()
        except GridError as exc:
            self.status.setText(f"Cannot run the grid: {exc}")
            return False
        self.cancel()
        self.spec, self.rows = spec, {}
        self._set_up_axes(spec)
        where = self.scheduler() or "a local Dask cluster (one worker per core, 1 torch thread each)"
        self.status.setText(f"Running {spec.size} trainings on {where}…")
        job = GridJob(spec, self.scheduler(), workers)
        queued = Qt.ConnectionType.QueuedConnection
        job.rowReady.connect(self._row, queued)
        job.boundaryReady.connect(self._show_boundary, queued)
        job.ended.connect(self._ended, queued)
        job.failed.connect(self._failed, queued)
        self.job = job
        job.start()
        self._set_running(True)
        return True

    def cancel(self) -> None:
        """Stop the running grid (its thread ends at its next check; the cells done stay on the map)."""
        if self.job is not None:
            self.job.cancel()
            self._old_jobs = [j for j in self._old_jobs if not j.isFinished()] + [self.job]
            self.job = None
            self.status.setText(f"Cancelled: {len(self.rows)} of {self.spec.size if self.spec else 0} cells done.")
            self._set_running(False)

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel and join every grid thread; whether all ended within `timeout_ms`."""
        self.cancel()
        self._old_jobs = [j for j in self._old_jobs if not j.wait(timeout_ms)]
        return not self._old_jobs

    def _set_running(self, running: bool) -> None:
        self.run_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.runningChanged.emit(running)

    @Slot(object, object)
    def _row(self, job: GridJob, row: dict[str, Any]) -> None:
        if job is not self.job:
            return
        self.rows[(row["ix"], row["iy"], row["seed_index"])] = row
        self.redraw()
        self.status.setText(f"{len(self.rows)} of {self.spec.size} cells done…")

    def _release(self, job: GridJob) -> bool:
        """Join a grid thread that has ended; whether it was the current one (then the view
        leaves its running state)."""
        job.wait()
        self._old_jobs = [j for j in self._old_jobs if j is not job]
        if job is not self.job:
            return False
        self.job = None
        self._set_running(False)
        return True

    @Slot(object, int, int, bool)
    def _ended(self, job: GridJob, added: int, failed: int, stopped: bool) -> None:
        if not self._release(job):
            return
        text = f"Done: {len(self.rows)} of {self.spec.size} cells."
        if failed:
            text += f" {failed} failed twice and are left blank."
        fit = fit_rows(self.rows.values())
        if fit is not None:
            text += (f" Boundary L = c·ξ_c: best c = {fit.c:g} ({fit.errors} of {fit.n} cells disagree)"
                     if fit.c is not None else " This map does not pin c down")
            text += f"; at c = {DEFAULT_C:g}, {fit.errors_default} disagree."
        self.status.setText(text)

    @Slot(object, str)
    def _failed(self, job: GridJob, message: str) -> None:
        if not self._release(job):
            return
        self.status.setText(f"The grid stopped: {message}")

    # --- drawing -----------------------------------------------------------------------------------
    def _set_up_axes(self, spec: GridSpec) -> None:
        nx, ny = len(spec.x.values), len(spec.y.values)
        item = self.plot.getPlotItem()
        item.setLabel("bottom", spec.x.label + (" (log spacing)" if spec.x.log else ""), **LABEL_STYLE)
        item.setLabel("left", spec.y.label + (" (log spacing)" if spec.y.log else ""), **LABEL_STYLE)
        item.getAxis("bottom").setTicks([_axis_ticks(spec.x.values)])
        item.getAxis("left").setTicks([_axis_ticks(spec.y.values)])
        self.values = np.full((nx, ny), np.nan)
        self.image.setImage(self.values, autoLevels=False)
        self.image.setRect(QRectF(-0.5, -0.5, nx, ny))
        self.plot.setXRange(-0.5, nx - 0.5, padding=0)
        self.plot.setYRange(-0.5, ny - 0.5, padding=0)
        self.boundary.setData([], [])

    @Slot(object, object)
    def _show_boundary(self, job: GridJob, curve) -> None:
        """Draw core.grid.meanfield.boundary_curve's depths in cell coordinates (index space)."""
        if job is not self.job or curve is None or self.spec is None:
            return
        along, values, depths = curve
        other, depth_axis = (self.spec.x, self.spec.y) if along == "x" else (self.spec.y, self.spec.x)
        scale = np.log if depth_axis.log else np.asarray
        top = len(depth_axis.values) - 0.5
        index = [other.values.index(v) for v in values]
        pos = np.interp(scale(np.minimum(depths, 1e6)), scale(np.array(depth_axis.values)),
                        np.arange(len(depth_axis.values)), left=-0.5, right=top)
        pos = np.clip(pos, -0.5, top)
        xs, ys = (np.array(index, float), pos) if along == "x" else (pos, np.array(index, float))
        self.boundary.setData(xs, ys)

    def metric_values(self) -> np.ndarray:
        """The chosen metric per cell, mean over seeds, [nx, ny] (NaN where no cell is done)."""
        if self.spec is None:
            return np.zeros((0, 0))
        column = METRICS[self.metric_box.currentData()]
        sums = np.zeros((len(self.spec.x.values), len(self.spec.y.values)))
        counts = np.zeros_like(sums)
        for (ix, iy, _k), row in self.rows.items():
            v = row[column]
            if isinstance(v, (int, float)) and math.isfinite(v):
                sums[ix, iy] += v
                counts[ix, iy] += 1
        with np.errstate(invalid="ignore"):
            return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)

    def redraw(self) -> None:
        if self.spec is None:
            return
        self.values = self.metric_values()
        key = self.metric_box.currentData()
        finite = self.values[np.isfinite(self.values)]
        if key in ("accuracy", "held_out_accuracy"):
            levels = (0.0, 1.0)
        elif finite.size:
            lo, hi = float(finite.min()), float(finite.max())
            levels = (lo, hi if hi > lo else lo + 1.0)
        else:
            levels = (0.0, 1.0)
        self.image.setImage(self.values, autoLevels=False, levels=levels)
        self.bar.setLevels(levels)
        self.bar.setLabel("left", METRIC_TITLES[key])

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """The (ix, iy) of the cell under view coordinates (x, y), or None outside the grid."""
        if self.spec is None:
            return None
        ix, iy = int(round(x)), int(round(y))
        if 0 <= ix < len(self.spec.x.values) and 0 <= iy < len(self.spec.y.values):
            return ix, iy
        return None

    def pick(self, ix: int, iy: int) -> SimConfig:
        """Emit and return the config of cell (ix, iy), seed index 0."""
        cfg = self.spec.config_at(self.spec.x.values[ix], self.spec.y.values[iy])
        self.configPicked.emit(cfg)
        return cfg

    def _clicked(self, event) -> None:
        if event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        point = vb.mapSceneToView(event.scenePos())
        cell = self.cell_at(point.x(), point.y())
        if cell is not None:
            self.pick(*cell)


class TrainabilityDock:
    """The window's "Trainability map" dock, toggled from a View menu; the view in it is built the
    first time the dock is shown (so the window starts as fast as without it)."""

    def __init__(self, window):
        from PySide6.QtWidgets import QDockWidget

        self.window = window
        self._view: TrainabilityView | None = None
        self.dock = QDockWidget("Trainability map", window)
        self.dock.setObjectName("trainability_dock")
        window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.dock)
        self.dock.hide()
        window.view_menu.addAction(self.dock.toggleViewAction())
        self.dock.visibilityChanged.connect(lambda visible: visible and self.view)

    @property
    def view(self) -> TrainabilityView:
        """The view, built on first use: it starts from the config the state runs, follows the
        config the worker applies, and sends a clicked cell through the state's request_config."""
        if self._view is None:
            state = self.window.state
            view = TrainabilityView(state.requested, self.window.settings)
            state.configApplied.connect(view.on_config_applied)
            view.configPicked.connect(self._apply)
            self.dock.setWidget(view)
            self._view = view
        return self._view

    def _apply(self, config: SimConfig) -> None:
        try:
            self.window.state.request_config(config)
        except ConfigError as exc:  # e.g. the memory check: the config stays as it was
            self.view.status.setText(str(exc))

    def shutdown(self, timeout_ms: int = 60_000) -> bool:
        """Cancel and join the grid thread, if the view was ever built."""
        return self._view is None or self._view.shutdown(timeout_ms)


def install_trainability(window) -> TrainabilityDock:
    """Add the Trainability map dock and its View-menu entry to a MainWindow; the window's shutdown
    must call the returned dock's `shutdown`."""
    return TrainabilityDock(window)
