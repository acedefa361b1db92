"""The W_hh spectrum view of a vanilla RNN: eigenvalues on the complex plane, and the
gradient growth ρ^t they predict beside the measured gradient per time step.

Items are created once; `show_spectrum()` only calls setData. The eigenvalues come
from the worker (core.spectrum, never computed on the GUI thread).
"""
from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt

from core import Snapshot
from core.spectrum import Spectrum

from ..canvas import ScrollingLayoutWidget
from ..legends import legend_below
from ..plot_kit import TICK_FONT, TITLE_SIZE, style
from ..plot_math import safe_log10

FLOOR_HEIGHT = 260   # px: lower, the plots' titles and legends crowd out the plots (then it scrolls)
_CIRCLE = np.exp(1j * np.linspace(0.0, 2 * math.pi, 361))


class SpectrumView(ScrollingLayoutWidget):
    """Left: eigenvalues of W_hh with the unit circle and the circle of radius ρ = max|λ|.
    Right: measured ‖∂L/∂z_t‖ per time step and the prediction ‖∂L/∂z_T‖·ρ^(T−t) (log axis)."""

    def __init__(self, parent=None):
        super().__init__(parent, floor_height=FLOOR_HEIGHT)
        self.drawn: tuple[Spectrum | None, Snapshot | None] = (None, None)
        self.plane = self.addPlot(row=0, col=0)
        style(self.plane, "Eigenvalues of W_hh", "Re λ", "Im λ")
        self.plane.setAspectLocked(True)
        legend = legend_below(self.plane, columns=3)
        dashed = pg.mkPen("#444", width=1.5, style=Qt.PenStyle.DashLine)
        self.unit = self.plane.plot(_CIRCLE.real, _CIRCLE.imag, pen=dashed, name="|λ| = 1")
        self.radius = self.plane.plot(pen=pg.mkPen("#d62728", width=1.5), name="|λ| = ρ")
        self.points = pg.ScatterPlotItem(size=6, brush=pg.mkBrush(31, 119, 180, 160), pen=None)
        self.plane.addItem(self.points)
        legend.addItem(self.points, "eigenvalues")
        self.growth = self.addPlot(row=0, col=1)
        style(self.growth, "Gradient over time steps: W<sup>t</sup> = V diag(λ)<sup>t</sup> V<sup>−1</sup>",
               "time step (first → last)", "‖∂L/∂z_t‖ (log scale)")
        self.growth.getAxis("left").setLogMode(False, True)
        legend_below(self.growth, columns=2)
        self.measured = self.growth.plot(pen=pg.mkPen("#1f77b4", width=2.5), symbol="o", symbolSize=5,
                                         symbolBrush="#1f77b4", name="measured")
        self.predicted = self.growth.plot(pen=pg.mkPen("#ff7f0e", width=2, style=Qt.PenStyle.DashLine),
                                          name="ρ<sup>T−t</sup> · ‖∂L/∂z<sub>T</sub>‖ (predicted)")
        self.message = pg.TextItem("", color="#7a4f00", anchor=(0.5, 0.5))
        self.message.setFont(TICK_FONT)
        self.plane.addItem(self.message, ignoreBounds=True)
        self.ci.layout.setColumnStretchFactor(0, 4)
        self.ci.layout.setColumnStretchFactor(1, 5)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        """The size its dock opens at: pyqtgraph's default (600 × 496) took most of a laptop's
        height from the plots."""
        return QSize(640, 320)

    def show_spectrum(self, spectrum: Spectrum | None, snap: Snapshot | None, reason: str | None = None) -> None:
        """Draw `spectrum` and the gradient of `snap`; with no spectrum, show `reason` instead."""
        self.drawn = (spectrum, snap)
        if spectrum is None:
            for item in (self.points, self.radius, self.measured, self.predicted):
                item.setData([], [])
            self.message.setText(reason or "Waiting for the eigenvalues…")
            self.plane.setTitle("Eigenvalues of W_hh", size=TITLE_SIZE)
            self.message.setPos(0, 0)
            self.plane.setRange(xRange=(-1.2, 1.2), yRange=(-1.2, 1.2))
            self.refit()
            return
        self.message.setText("")
        lam, rho = spectrum.eigenvalues, spectrum.radius
        self.points.setData(x=lam.real, y=lam.imag)
        self.radius.setData(rho * _CIRCLE.real, rho * _CIRCLE.imag)
        self.plane.setTitle(f"Eigenvalues of W_hh at step {spectrum.step}: ρ = max|λ| = {rho:.3g}", size=TITLE_SIZE)
        extent = 1.1 * max(1.0, rho)
        self.plane.setRange(xRange=(-extent, extent), yRange=(-extent, extent))
        self.refit()   # (the title, with ρ, may have widened the layout)
        if snap is None:
            return
        g = snap.layers.grad_norm
        x = np.arange(1, len(g) + 1, dtype=np.float64)
        measured, zero, _ = safe_log10(g)
        predicted, _, _ = safe_log10(spectrum.predicted_grad_norm(g))
        finite = np.concatenate([measured[np.isfinite(measured)], predicted[np.isfinite(predicted)]])
        floor = float(finite.min()) - 1.0 if finite.size else -1.0
        self.measured.setData(x, np.where(zero, floor, measured), connect="finite")
        self.predicted.setData(x, predicted, connect="finite")
        if finite.size:
            self.growth.setYRange(floor, float(finite.max()) + 0.5, padding=0)
        self.growth.setXRange(0.5, len(g) + 0.5, padding=0)

