"""Theory views: mean-field overlay and χ sentence, phase diagram, depth sweep, Jacobian spectrum.

`TheoryController(state)` makes a "Theory" dock (tabs: phase diagram, depth sweep,
Jacobian spectrum; `toggle_action` shows it, key H), a toggle button and a χ label
for the status bar, and emits `profileChanged` (the plots' dashed mean-field
curves) for the config the worker applied. It reads the configs from a
`app.state.RunState` and changes one only through `RunState.request_config`.
Everything costly runs on `app.jobs` threads; the GUI thread only draws.
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QObject, QRectF, Qt, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox, QDockWidget, QHBoxLayout, QLabel, QProgressBar, QPushButton, QSpinBox, QTabWidget, QVBoxLayout,
    QWidget,
)

from core import ConfigError, SimConfig
from core import theory
from core.config import MAX_DEPTH
from core.jacobian import MAX_DIRECTIONS, check_supported
from core.jacobian import spectrum as jacobian_spectrum
from core.sweep import OVER, geometric_depths, sweep

from .elided_label import ElidedLabel
from .jobs import JobSlot, time_left
from .legends import legend_below
from .plot_kit import LABEL_STYLE, TICK_FONT

LOG_CHI_RANGE = 1.0   # colour scale of the phase diagram: χ from 1/10 to 10
CHI_EXPLANATION = ("Mean-field χ (Poole et al. 2016, Schoenholz et al. 2017): the factor by which the squared "
                   "gradient norm changes per layer going back, averaged over this network's layers. The dashed "
                   "curves in the plots are the same prediction.")


def _colormap(name: str, fallback: str = "viridis") -> pg.ColorMap:
    try:
        return pg.colormap.get(name)
    except Exception:  # noqa: BLE001 - colour maps are optional data files
        return pg.colormap.get(fallback)


def _plot(title: str, bottom: str, left: str) -> pg.PlotWidget:
    w = pg.PlotWidget()
    p = w.getPlotItem()
    p.setTitle(title, size="12pt")
    p.setLabel("bottom", bottom, **LABEL_STYLE)
    p.setLabel("left", left, **LABEL_STYLE)
    for side in ("bottom", "left"):
        p.getAxis(side).setTickFont(TICK_FONT)
        p.getAxis(side).enableAutoSIPrefix(False)
    p.showGrid(x=True, y=True, alpha=0.2)
    return w


# --- phase diagram ------------------------------------------------------------------------------
class PhaseView(QWidget):
    """log10 χ(q*) over (σ_w², σ_b²) for the current activation; click to set init_gain / bias_std."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.slot = JobSlot("PhaseGridJob", self)
        self.grid: theory.PhaseGrid | None = None
        self._key = None
        # (short titles: the dock shares the scenario panel's narrow column; a longer one was cut)
        self.plot = _plot("χ over (σ_w², σ_b²)",
                          "σ_w² of the hidden layers", "σ_b²")
        self.image = pg.ImageItem()
        self.cmap = _colormap("CET-D1")
        self.image.setLookupTable(self.cmap.getLookupTable(nPts=256))
        self.plot.addItem(self.image)
        self.bar = pg.ColorBarItem(values=(-LOG_CHI_RANGE, LOG_CHI_RANGE), colorMap=self.cmap, interactive=False,
                                   label="log₁₀ χ")
        self.bar.setImageItem(self.image, insert_in=self.plot.getPlotItem())
        self.critical = pg.PlotDataItem(pen=pg.mkPen("k", width=3))
        self.marker = pg.ScatterPlotItem(symbol="star", size=20, brush="#ffd600", pen=pg.mkPen("k", width=1.5))
        legend = legend_below(self.plot.getPlotItem(), columns=1)   # (2 columns were wider than the dock)
        self.plot.addItem(self.critical)
        self.plot.addItem(self.marker)
        legend.addItem(self.critical, "edge of chaos")
        legend.addItem(self.marker, "this config")
        self.note = QLabel("Click a point to set init gain (or init std) and bias std.")
        self.note.setWordWrap(True)
        col = QVBoxLayout(self)
        col.setContentsMargins(2, 6, 2, 6)   # (the plot, its colour bar and legend need the width)
        col.addWidget(self.plot, 1)
        col.addWidget(self.note)
        self.plot.scene().sigMouseClicked.connect(self._clicked)
        self.slot.done.connect(self._show_grid)
        self.slot.error.connect(self.note.setText)

    def current_point(self, cfg: SimConfig) -> tuple[float, float]:
        return theory.hidden_sigma_w2(cfg), cfg.bias_std ** 2

    def set_config(self, cfg: SimConfig) -> None:
        sw2, sb2 = self.current_point(cfg)
        sw2_max = max(4.0, math.ceil(sw2 * 1.25))
        sb2_max = max(0.25, math.ceil(sb2 * 1.25 * 4) / 4)
        self.marker.setData([sw2], [sb2])
        key = (cfg.activation, cfg.leaky_slope, sw2_max, sb2_max)
        if key != self._key:
            self._key = key
            act, slope = cfg.activation, cfg.leaky_slope

            def job(progress, cancelled):
                grid = theory.phase_grid(act, slope, sw2_max, sb2_max)
                return grid, theory.critical_sigma_w2(act, slope, grid.sb2)

            self.slot.start(job)
        reason = theory.not_applicable(cfg)
        self.note.setText(("Note: " + reason + ". " if reason else "")
                          + "Click a point to set init gain (or init std) and bias std.")

    def _show_grid(self, result) -> None:
        grid, crit = result
        self.grid = grid
        self.image.setImage(np.clip(grid.log_chi, -LOG_CHI_RANGE, LOG_CHI_RANGE), autoLevels=False)
        self.image.setLevels((-LOG_CHI_RANGE, LOG_CHI_RANGE))
        dw, db = grid.sw2[1] - grid.sw2[0], grid.sb2[1] - grid.sb2[0]
        self.image.setRect(QRectF(grid.sw2[0] - dw / 2, grid.sb2[0] - db / 2, grid.sw2[-1] - grid.sw2[0] + dw,
                                  grid.sb2[-1] - grid.sb2[0] + db))
        inside = np.isfinite(crit) & (crit <= grid.sw2[-1])
        self.critical.setData(crit[inside], grid.sb2[inside])
        self.plot.setXRange(0, grid.sw2[-1], padding=0.01)
        self.plot.setYRange(0, grid.sb2[-1], padding=0.01)

    def pick(self, sw2: float, sb2: float) -> None:
        """Set the config to (σ_w², σ_b²) through the state's request_config, as a control edit does."""
        cfg = self.state.requested
        new = cfg.replace(**theory.config_for(cfg, max(sw2, 1e-6), max(sb2, 0.0)))
        if new != cfg:
            try:
                self.state.request_config(new)
            except ConfigError as exc:  # e.g. the memory check: the config stays as it was
                self.note.setText(str(exc))

    def _clicked(self, event) -> None:
        if self.grid is None or event.button() != Qt.MouseButton.LeftButton:
            return
        vb = self.plot.getPlotItem().vb
        if not vb.sceneBoundingRect().contains(event.scenePos()):
            return
        p = vb.mapSceneToView(event.scenePos())
        if 0 < p.x() <= self.grid.sw2[-1] * 1.01 and -0.01 <= p.y() <= self.grid.sb2[-1] * 1.01:
            self.pick(p.x(), p.y())


# --- depth sweep ---------------------------------------------------------------------------------
class SweepView(QWidget):
    """‖∂L/∂z¹‖ / ‖∂L/∂z^L‖ against depth for every init scheme (or activation), in a background job."""

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self.slot = JobSlot("DepthSweepJob", self)
        self.result = None
        self.over = QComboBox()
        self.over.addItems(list(OVER))
        self.over.setToolTip("Compare every init scheme with the current activation, or every activation "
                             "with the current init scheme")
        self.max_depth = QSpinBox()
        self.max_depth.setRange(1, MAX_DEPTH)
        self.max_depth.setValue(50)
        self.max_depth.setToolTip("Depths 1..N on a geometric grid; each point is a real network of that depth")
        self.run_button = QPushButton("Run sweep")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.bar = QProgressBar()
        self.status = QLabel("")
        row = QHBoxLayout()   # (two rows: one was wider than the dock's column beside the plots)
        for label, w in (("over", self.over), ("max depth", self.max_depth)):
            row.addWidget(QLabel(label))
            row.addWidget(w)
        row.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.run_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.bar, 1)
        self.plot = _plot("Gradient ratio by depth", "depth (hidden layers)",
                          "‖∂L/∂z¹‖ / ‖∂L/∂z^L‖ (log)")
        self.plot.getPlotItem().getAxis("left").setLogMode(False, True)
        self.legend = legend_below(self.plot.getPlotItem(), columns=3)
        self.curves: dict[str, pg.PlotDataItem] = {}
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addLayout(buttons)
        col.addWidget(self.plot, 1)
        col.addWidget(self.status)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.cancel)
        self.slot.progress.connect(self._progress)
        self.slot.done.connect(self._show)
        self.slot.error.connect(self._failed)
        self.slot.busyChanged.connect(self._busy)

    def run(self) -> None:
        cfg, over = self.state.requested, self.over.currentText()
        depths = geometric_depths(self.max_depth.value())
        self.bar.setRange(0, len(OVER[over]) * len(depths))
        self.bar.setValue(0)
        self.status.setText(f"sweeping {len(OVER[over])} {over}s × {len(depths)} depths …")
        self.slot.start(lambda progress, cancelled: sweep(cfg, depths, over, progress, cancelled))

    def cancel(self) -> None:
        if self.slot.busy():
            self.slot.cancel()
            self.status.setText("sweep cancelled")

    def _busy(self, busy: bool) -> None:
        self.run_button.setEnabled(not busy)
        self.cancel_button.setEnabled(busy)

    def _progress(self, done: int, total: int) -> None:
        self.bar.setMaximum(total)
        self.bar.setValue(done)

    def _failed(self, message: str) -> None:
        self.status.setText(f"sweep failed: {message}")

    def _show(self, result) -> None:
        self.result = result
        self.legend.clear()
        for item in self.curves.values():
            self.plot.removeItem(item)
        self.curves.clear()
        x = np.asarray(result.depths, dtype=np.float64)
        for i, name in enumerate(result.names):
            with np.errstate(divide="ignore", invalid="ignore"):
                y = np.log10(result.ratio[name])
            ok = np.isfinite(y)
            curve = pg.PlotDataItem(x[ok], y[ok],
                                    pen=pg.mkPen(pg.intColor(i, len(result.names)), width=2), symbol="o",
                                    symbolSize=5, symbolBrush=pg.intColor(i, len(result.names)))
            self.plot.addItem(curve)
            self.legend.addItem(curve, name if ok.any() else f"{name} (no gradient)")
            self.curves[name] = curve
        self.bar.setValue(self.bar.maximum())
        self.status.setText(f"done: {len(result.names)} {result.over}s, depths {result.depths[0]}..{result.depths[-1]}")


# --- Jacobian spectrum ---------------------------------------------------------------------------
class JacobianView(QWidget):
    """Histogram of log10 singular values of ∂h^L/∂h¹ for the window's network as it is now
    (a copy from the worker, analysed on a job thread), at the first inputs of its probe batch."""

    BINS = 40

    def __init__(self, state, parent: QWidget | None = None):
        super().__init__(parent)
        self.state = state
        self._awaiting: int | None = None  # points asked for, while the worker copies its network
        state.modelCopied.connect(self._start)
        self.slot = JobSlot("JacobianJob", self)
        self.spectrum = None
        self.step = 0  # the training step of the network the shown spectrum is from
        self.points = QSpinBox()
        self.points.setRange(1, 64)
        self.points.setValue(4)
        self.points.setToolTip("Inputs of the probe batch at which J is evaluated (their spectra are pooled)")
        self.run_button = QPushButton("Compute spectrum")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.summary = QLabel("Singular values of the Jacobian from the first hidden layer to the last, "
                              "for the network as it is now. Near-isometry: all close to 1.")
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("points"))
        row.addWidget(self.points)
        row.addWidget(self.run_button)
        row.addWidget(self.cancel_button)
        row.addStretch(1)
        self.plot = _plot("Singular values of ∂h^L/∂h¹", "log₁₀ singular value", "count")
        self.hist = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=pg.mkBrush(31, 119, 180, 120),
                                    pen=pg.mkPen("#1f77b4", width=2))
        self.one = pg.InfiniteLine(pos=0, angle=90, pen=pg.mkPen("#444", style=Qt.PenStyle.DashLine),
                                   label="s = 1", labelOpts={"position": 0.9})
        self.plot.addItem(self.hist)
        self.plot.addItem(self.one)
        col = QVBoxLayout(self)
        col.addLayout(row)
        col.addWidget(self.plot, 1)
        col.addWidget(self.summary)
        self.run_button.clicked.connect(self.run)
        self.cancel_button.clicked.connect(self.slot.cancel)
        self.slot.done.connect(self._show)
        self.slot.error.connect(lambda m: self.summary.setText(f"Jacobian failed: {m}"))
        self.slot.busyChanged.connect(lambda b: (self.run_button.setEnabled(not b), self.cancel_button.setEnabled(b)))

    def run(self) -> None:
        try:
            check_supported(self.state.requested)
        except ValueError as exc:
            self.summary.setText(str(exc))
            return
        self.summary.setText("computing …")
        self._awaiting = self.points.value()
        self.state.request_model_copy()

    def _start(self, copy) -> None:
        """The worker's copy of its network arrived: compute its spectrum on a job thread."""
        points, self._awaiting = self._awaiting, None
        if points is None:
            return  # asked for by someone else
        try:
            check_supported(copy.config)  # the network in use may differ from the requested one
        except ValueError as exc:
            self.summary.setText(str(exc))
            return
        self.step = copy.step
        self.slot.start(lambda progress, cancelled: jacobian_spectrum(
            copy.model, copy.config, copy.x[:points], MAX_DIRECTIONS, copy.config.seed, cancelled))

    def _show(self, spec) -> None:
        self.spectrum = spec
        s = spec.singular_values
        logs = np.log10(np.maximum(s, spec.tol if spec.tol > 0 else 1e-300))
        counts, edges = np.histogram(logs, bins=self.BINS)
        self.hist.setData(edges, counts)
        kind = "exact" if spec.exact else f"restricted to {spec.directions} random directions (spread understated)"
        self.summary.setText(
            f"Step {self.step}: {len(s)} singular values ({spec.points} inputs, {kind}). Mean squared singular value "
            f"{spec.mean_sq:.3g}; spread of ln s {spec.log_spread:.3g}; "
            f"{100 * (1 - spec.rank_fraction):.0f}% numerically zero (shown at the left edge).")


# --- the dock and the χ label ------------------------------------------------------------------------
class TheoryController(QObject):
    """Owns the views and the theory job; call `shutdown()` before the window closes.

    The window places `dock`, `toggle_action`, `button` and `chi_label`, and draws `profileChanged`."""

    profileChanged = Signal(object)  # the theory.Profile of the applied config, or None

    def __init__(self, state, parent: QWidget):
        super().__init__(parent)
        self.state = state
        self.profile = None
        self.profile_slot = JobSlot("TheoryProfileJob", self)
        self.phase = PhaseView(state)
        self.sweep = SweepView(state)
        self.jacobian = JacobianView(state)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.phase, "Phase diagram")
        self.tabs.addTab(self.sweep, "Depth sweep")
        self.tabs.addTab(self.jacobian, "Jacobian spectrum")
        self.dock = QDockWidget("Theory", parent)
        self.dock.setObjectName("theory_dock")
        self.dock.setWidget(self.tabs)
        self.dock.hide()
        self.toggle_action = self.dock.toggleViewAction()
        self.toggle_action.setText("Theory views  [H]")
        self.toggle_action.setShortcut(QKeySequence("H"))
        self.chi_label = ElidedLabel("χ …")
        self.chi_label.setToolTip(CHI_EXPLANATION)
        self.button = QPushButton("Theory [H]")
        self.button.setCheckable(True)
        self.button.toggled.connect(self.dock.setVisible)
        self.dock.visibilityChanged.connect(self.button.setChecked)
        self.chi_label.setMinimumWidth(80)  # clipped, rather than widening the window past the screen
        self.profile_slot.done.connect(self._show_profile)
        self.profile_slot.error.connect(lambda m: self.chi_label.setText(f"χ: {m}"))
        state.configApplied.connect(self.set_config)
        state.configRequested.connect(self.phase.set_config)  # the marker follows edits at once
        self.set_config(state.requested)

    def set_config(self, cfg: SimConfig) -> None:
        reason = theory.not_applicable(cfg)
        self.phase.set_config(cfg)
        if reason is not None:
            self.profile_slot.cancel()
            self._show_profile((None, reason))
            return
        self.profile_slot.start(lambda progress, cancelled: (theory.predict(cfg), ""))

    def _show_profile(self, result) -> None:
        profile, reason = result
        self.profile = profile
        self.profileChanged.emit(profile)
        text = profile.sentence if profile is not None else f"χ: {reason.split(':')[0]}"
        self.chi_label.setText(text)
        self.chi_label.setToolTip(f"{text}\n\n{reason or CHI_EXPLANATION}")  # (the label may be clipped)

    def slots(self) -> tuple[JobSlot, ...]:
        return self.profile_slot, self.phase.slot, self.sweep.slot, self.jacobian.slot

    def cancel(self) -> None:
        """Cancel every theory job (each stops at its next check; results are dropped)."""
        for slot in self.slots():
            slot.cancel()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel and join the theory jobs within `timeout_ms` in all; whether every thread ended."""
        self.cancel()
        left = time_left(timeout_ms)
        return all([slot.shutdown(left()) for slot in self.slots()])
