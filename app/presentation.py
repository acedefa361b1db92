"""Presentation mode and zoom for the main window: big text, the plots and the scenario only.

Presentation mode hides the control panel (the run buttons and their keys stay), closes every
dock but the scenario panel, which it narrows, shows the two plots the scenario's "look for"
names first, one under the other (all six with "All plots", F6), and enlarges every text: the
widgets' font to PRESENT_FONT_PT and the plots (titles, axis labels, tick labels, legends, drawn
as a whole) by PRESENT_PLOT_ZOOM, less where they would not fit (app/canvas.py). Leaving it
reopens the docks that were open. The zoom multiplies both, in either mode, and is remembered
(app/settings.py).

Sizes for a projector: the plots' tick labels are 11 pt and titles 13 pt at zoom 1
(app/plot_kit.py); drawn 1.15–1.5× larger on a 1280×720 or 1024×768 image they are 17–22 px and
20–26 px high, the widgets' text 14 pt (19 px). Projected 2 m high, 18 px is about 5 cm: readable
from the back of a 10 m room by the usual rule of 1 cm of letter height per 2–3 m. More would
not leave each plot a data area of 180 × 120 px.
"""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QFont, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget
from superqt.utils import signals_blocked

from . import settings as remembered
from .panels.plot_panel import PANEL_MIN_HEIGHT
from .zoom import zoom_in, zoom_out

PRESENT_FONT_PT = 14.0      # the widgets' text in presentation mode (scenario text, status bar, buttons)
PRESENT_PLOT_ZOOM = 1.5     # the plots, drawn magnified as a whole
STATUS_FONT_PT = 11.0       # the status bar in normal mode
PRESENT_DATA_MIN = (184, 123)   # px: every plot's data area in presentation mode (the zoom gives way first)
NORMAL_DATA_MIN = (60, 100)     # px: every plot's data area in normal mode (the plots scroll below it)
PRESENT_FIT = 0.6   # the plots' text shrinks down to this share of its size before the plots scroll...
NORMAL_FIT = 0.6    # ...and in normal mode (a laptop screen with docks open)
# the plot panel's view each "look for" plot names ("table": the per-layer figures beside the histograms)
# ("theory": its figures are the χ sentence in the status bar and the dashed mean-field curve on the
# gradient plot; the theory dock's own plots are no look-for's)
PLOT_VIEWS = {"activations": "activations", "histograms": "histograms", "table": "histograms",
              "gradients": "gradients", "theory": "gradients", "grad_history": "gradient_history", "loss": "loss", "updates": "updates"}
OVER_STEPS = ("gradient_history", "loss", "updates")
SHOWN_PLOTS = 2
# the docks presentation mode keeps open when the scenario opens them and a "look for" names them
# (their figures are on no plot of the plot panel): the plot panel then shows one plot above it
DOCK_VIEWS = ("spectrum",)
PRESENT_DOCK_HEIGHT = 0.38  # such a dock's share of the window's height
PRESENT_PANEL_MIN_HEIGHT = 200   # px: the plot panel's least height with one plot above such a dock
SCENARIO_WIDTH = (0.22, 220, 360)          # presentation: the scenario panel's share of the width, bounds (px)
NORMAL_SCENARIO_WIDTH = (0.22, 260, 340)   # normal mode: the same (a laptop's width is shared with the controls)
# normal mode: the docks under the plots (diagnoses, Layer table) at most this share of the window's
# height, so that the plots' three rows keep their height on a laptop (they scrolled, hiding the loss)
NORMAL_BOTTOM_SHARE = 0.16
NORMAL_SPECTRUM_SHARE = 0.55   # normal mode: the W_hh spectrum dock's share of the width (beside the diagnoses)


def docks_for(scenario) -> list[str]:
    """The docks (DOCK_VIEWS keys) presentation mode shows beside the plots for `scenario`: those it
    opens whose figures one of its "look for" items names."""
    if scenario is None:
        return []
    named = {item.plot for item in scenario.look_for}
    return [key for key in DOCK_VIEWS if key in scenario.open and key in named]


def plots_for(scenario, first: str | None = None) -> list[str]:
    """The plot panel's views (attribute names) presentation mode shows for `scenario` (None: no
    scenario), top to bottom.

    Two plots side by side, with their axes, colour bars and legends, leave each too little width
    once the text is large enough for a projector: presentation mode shows the SHOWN_PLOTS plots
    the scenario's "look for" names first, one under the other (then the gradients, then the
    activations); one only, when a dock of `docks_for` takes the rest of the room. A probe-only
    scenario's over-steps plots are left out: they would be empty. `first`: a view put first (a
    look-for's name clicked).
    """
    named = [PLOT_VIEWS[item.plot] for item in (scenario.look_for if scenario is not None else ())
             if item.plot in PLOT_VIEWS]
    views: list[str] = []
    for v in (*((first,) if first else ()), *named, "gradients", "activations"):
        if v not in views and not (v in OVER_STEPS and scenario is not None and scenario.steps == 0):
            views.append(v)
    return views[:1 if docks_for(scenario) else SHOWN_PLOTS]


class Presentation(QObject):
    """The window's presentation mode and zoom, with their View-menu actions.

    `window` is a MainWindow: it has `controls`, `scenario_dock`, `scenario_panel`, `plots`,
    `noise_plots`, `spectrum_view`, a status bar and (optionally) `settings`.
    """

    changed = Signal()

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.presenting = False
        self.zoom = remembered.stored_zoom(window.settings) if window.settings is not None else 1.0
        self.base_font_pt = QApplication.font().pointSizeF()
        self._reopen: list[QDockWidget] = []
        self._controls_shown = True
        self.first: str | None = None   # a view shown first (put_first), until the next scenario
        menu = window.view_menu
        self.present_action = QAction("&Presentation mode", window, checkable=True)
        self.present_action.setShortcuts([QKeySequence("F5"), QKeySequence("Ctrl+Shift+P")])
        self.present_action.setToolTip("Big text, the plots and the scenario only: for a projector (F5)")
        self.present_action.toggled.connect(self.set_presenting)
        menu.addAction(self.present_action)
        menu.addSeparator()
        self.zoom_actions = {}
        for key, text, keys, slot in (
                ("in", "Zoom &in", ("Ctrl+=", "Ctrl++"), lambda: self.set_zoom(zoom_in(self.zoom))),
                ("out", "Zoom &out", ("Ctrl+-",), lambda: self.set_zoom(zoom_out(self.zoom))),
                ("reset", "&Actual size", ("Ctrl+0",), lambda: self.set_zoom(1.0))):
            action = QAction(text, window)
            action.setShortcuts([QKeySequence(k) for k in keys])
            action.triggered.connect(slot)
            menu.addAction(action)
            window.addAction(action)   # (the keys work while the menu bar is hidden too)
            self.zoom_actions[key] = action
        self.all_plots_action = QAction("All &plots in presentation mode", window, checkable=True)
        self.all_plots_action.setShortcut(QKeySequence("F6"))
        self.all_plots_action.setToolTip("Presentation mode shows the two plots the scenario names, large; "
                                        "this shows all six, with smaller text (F6)")
        self.all_plots_action.toggled.connect(lambda _: self.apply())
        menu.addAction(self.all_plots_action)
        window.addAction(self.present_action)
        window.addAction(self.all_plots_action)
        self.menu = menu
        # (opened by a key or button, the theory dock takes the scenario panel's width, not its plots'
        # 600 px, and the docks under the plots leave them their height)
        for dock in (window.theory.dock, window.table_dock, window.diagnoses_dock, window.spectrum_dock):
            dock.visibilityChanged.connect(lambda shown: shown and self.fit_scenario_panel())

    # --- what the text sizes are -------------------------------------------------------------
    def font_pt(self) -> float:
        """The widgets' point size now."""
        return (PRESENT_FONT_PT if self.presenting else self.base_font_pt) * self.zoom

    def status_font_pt(self) -> float:
        return (PRESENT_FONT_PT if self.presenting else STATUS_FONT_PT) * self.zoom

    def shown_plots(self) -> list[str] | None:
        """The plot panel's views shown alone now (attribute names), None: all."""
        if not self.presenting or self.all_plots_action.isChecked():
            return None
        return plots_for(self.window.scenario_panel.scenario, self.first)

    def put_first(self, view: str) -> None:
        """Show the plot panel's `view` (attribute name) first in presentation mode, until the next scenario."""
        self.first = view
        self.apply()

    def plot_zoom(self) -> float:
        """How much larger than designed the plots are drawn now."""
        return (PRESENT_PLOT_ZOOM if self.presenting else 1.0) * self.zoom

    # --- commands --------------------------------------------------------------------------
    def set_zoom(self, zoom: float) -> None:
        """Zoom every text by `zoom` (1 = as designed), and remember it."""
        self.zoom = zoom
        if self.window.settings is not None:
            remembered.remember_zoom(self.window.settings, zoom)
        self.apply()
        self.window.message_label.setText(f"Zoom {zoom:.0%} (Ctrl+= / Ctrl+− / Ctrl+0)")

    def set_presenting(self, on: bool) -> None:
        """Enter or leave presentation mode."""
        if on == self.presenting:
            return
        w = self.window
        self.presenting = on
        if on:
            # (isHidden, not isVisible: the window may not be shown yet, e.g. for a screenshot)
            self._controls_shown = not w.controls.isHidden()
            self._reopen = [d for d in w.findChildren(QDockWidget)
                            if d is not w.scenario_dock and not d.isHidden() and d.parent() is w]
            for dock in self._reopen:
                dock.hide()
            w.controls.hide()
            if w.scenario_panel.scenario is not None:
                w.scenario_dock.show()
            self.show_scenario_docks()
        else:
            w.controls.setVisible(self._controls_shown)
            for dock in self._reopen:
                dock.show()
            self._reopen = []
        with signals_blocked(self.present_action):
            self.present_action.setChecked(on)
        self.apply()

    def scenario_docks(self) -> list[QDockWidget]:
        """The docks shown beside the plots in presentation mode for the current scenario (docks_for)."""
        docks = {"spectrum": self.window.spectrum_dock}
        return [docks[key] for key in docks_for(self.window.scenario_panel.scenario)] if self.presenting else []

    def show_scenario_docks(self) -> None:
        """In presentation mode, show the docks the current scenario's "look for" names (docks_for)
        and close the other views' docks (those a previous scenario opened); in either mode, size the
        docks beside the plots."""
        self.first = None
        w = self.window
        if self.presenting:
            wanted = self.scenario_docks()
            for dock in w.findChildren(QDockWidget):
                if dock is not w.scenario_dock and dock.parent() is w:
                    dock.setVisible(dock in wanted)
        self.fit_scenario_panel()

    def apply(self) -> None:
        """Set every text's size for the mode and zoom."""
        w = self.window
        font = QFont(w.font())
        font.setPointSizeF(self.font_pt())
        w.setFont(font)
        w.tabs.tabBar().setVisible(not self.presenting)   # (the room for the plots; Ctrl+Tab still turns the page)
        for label in (w.device_label, w.rate_label):
            label.setVisible(not self.presenting)   # (the room has no use for them; the rest gets the width)
        # the learning rate and the clip counter stay: scenarios point at them (warm-up, clipping)
        status = QFont(w.statusBar().font())
        status.setPointSizeF(self.status_font_pt())
        w.statusBar().setFont(status)
        shown = self.shown_plots()
        w.plots.focus(None if shown is None else [getattr(w.plots, name) for name in shown])
        for page in (w.plots, w.noise_plots):   # (the tabs' least height is their pages' largest)
            page.setMinimumHeight(PRESENT_PANEL_MIN_HEIGHT if self.scenario_docks() else PANEL_MIN_HEIGHT)
        for canvas in (w.plots, w.noise_plots, w.spectrum_view):
            if self.presenting:
                canvas.set_zoom(self.plot_zoom(), PRESENT_DATA_MIN, PRESENT_FIT)
            else:
                canvas.set_zoom(self.plot_zoom(), NORMAL_DATA_MIN, NORMAL_FIT)
        self.fit_scenario_panel()
        self.changed.emit()

    def fit_scenario_panel(self) -> None:
        """Size the scenario panel (and the theory dock under it) to its share of the window's width; in
        normal mode keep the docks under the plots low; in presentation mode give a dock of docks_for its height."""
        w = self.window
        share, least, most = SCENARIO_WIDTH if self.presenting else NORMAL_SCENARIO_WIDTH
        width = int(min(most, max(least, share * w.width())))
        w.scenario_panel.set_preferred_width(width)
        # (the theory dock shares the scenario panel's column at the right: it gets the same width)
        side = [d for d in (w.scenario_dock, w.theory.dock) if not d.isHidden()]
        if side:
            w.resizeDocks(side, [width] * len(side), Qt.Orientation.Horizontal)
        if not self.presenting:
            bottom = [d for d in (w.diagnoses_dock, w.table_dock) if not d.isHidden()]
            highest = int(NORMAL_BOTTOM_SHARE * w.height())
            # (not beside the W_hh spectrum, which shares their row and needs its height)
            if bottom and w.spectrum_dock.isHidden() and max(d.height() for d in bottom) > highest:
                w.resizeDocks(bottom, [highest] * len(bottom), Qt.Orientation.Vertical)
            if not w.spectrum_dock.isHidden():   # (beside the diagnoses: its two plots need the width)
                w.resizeDocks([w.spectrum_dock], [int(NORMAL_SPECTRUM_SHARE * w.width())], Qt.Orientation.Horizontal)
        docks = [d for d in self.scenario_docks() if not d.isHidden()]   # (the window may not be shown yet)
        if docks:   # (the plot above and the dock's plots share the height)
            w.resizeDocks(docks, [int(PRESENT_DOCK_HEIGHT * w.height())] * len(docks), Qt.Orientation.Vertical)

