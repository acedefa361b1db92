"""The live plots of a run, in one GraphicsLayoutWidget painted once per frame.

Rows and views (each view's module says what it draws):
  top     ActivationMap (activation_map.py)    Histograms (histograms.py)
  middle  GradientsPerLayer (gradients.py)     GradientHistory (gradient_history.py)
  bottom  LossAccuracy (loss.py)               UpdateRatios (updates.py)

Every item is created once; `show_snapshot()` only calls setData/setImage. Legends sit beside or
under their plot, never over the data (app/legends.py). Log axes are drawn by plotting log10
values on an axis in log-label mode, so a value that underflowed to exactly 0 can be placed at
the axis floor and marked instead of silently vanishing, and NaN/Inf get their own markers.
"""
from __future__ import annotations

import math
import time

import pyqtgraph as pg

from core import Snapshot

from ..canvas import ScrollingLayoutWidget
from ..history import History
from ..plot_kit import MAX_OVERLAY, cache_unchanging
from ..plot_math import auto_layers
from .activation_map import ActivationMap
from .gradient_history import GradientHistory
from .gradients import GradientsPerLayer
from .histograms import Histograms
from .layer_scale import use_per_layer
from .loss import LossAccuracy
from .updates import UpdateRatios

PANEL_FLOOR_HEIGHT = 500   # px: three rows of plots laid out lower crush the middle one (see canvas.py)
ROW_STRETCH = (4, 5, 4)    # top, middle, bottom (the gradient row also holds its legend's two lines)
PANEL_MIN_HEIGHT = 400     # px: docks give way before the panel gets lower (and scrolls)
HIGHLIGHT_COLOR = "#ff8f00"  # the frame around the plots a scenario points at


class PlotPanel(ScrollingLayoutWidget):
    """All live plots of a run; `show_snapshot(snap, history)` redraws them from one snapshot."""

    def __init__(self, parent=None):
        super().__init__(parent, floor_height=PANEL_FLOOR_HEIGHT, min_height=PANEL_MIN_HEIGHT)
        self.selected_layers: list[int] | None = None  # None: auto spread
        self.drawn_step: int | None = None
        self.drawn_snapshot: Snapshot | None = None
        self.last_paint_seconds = 0.0  # duration of the latest paint (the window's draw budget uses it)
        self.layer_noun = ""
        self.theory_profile = None
        self.highlighted: tuple[str, ...] = ()
        self.activation_scale = "auto"   # 'auto', 'common' or 'per_layer' (layer_scale.use_per_layer)
        self.locked: dict[str, tuple[float, float]] | None = None
        self.focused: list | None = None   # the views focus() shows alone (None: all, in their rows)
        self._slots: list = []
        self._units: dict = {}
        # One sub-layout per row: a column's width then follows its own row's legends and colour bars.
        self.ci.layout.setSpacing(8)
        top, middle, bottom = self.rows = tuple(self.ci.addLayout(row=r, col=0) for r in range(3))
        for row in (top, middle, bottom):
            row.layout.setSpacing(8)
            row.layout.setContentsMargins(0, 0, 0, 0)
        self.activations = ActivationMap(top, col=0)
        self.histograms = Histograms(top, col=2)
        self.gradients = GradientsPerLayer(middle, col=0)
        self.gradient_history = GradientHistory(middle, col=1)
        self.loss = LossAccuracy(bottom, col=0)
        self.updates = UpdateRatios(bottom, col=1)
        self.views = (self.activations, self.histograms, self.gradients, self.gradient_history, self.loss,
                      self.updates)
        for row, stretch in ((top, {0: 5, 2: 5}), (middle, {0: 6, 1: 5}), (bottom, {0: 6, 1: 5})):
            for col, factor in stretch.items():
                row.layout.setColumnStretchFactor(col, factor)
        for r, factor in enumerate(ROW_STRETCH):
            self.ci.layout.setRowStretchFactor(r, factor)
        cache_unchanging([item for view in self.views for item in view.unchanging()])
        self.set_layer_noun("layer")
        for view in self.views:
            view.plot.disableAutoRange()  # ranges are set from the data (see fit_range): no per-frame bounds search

    def focus(self, views: list | None = None) -> None:
        """Show only `views` (some of `self.views`), one under the other and each as wide as the
        panel, with what sits beside it in its row (colour bar, legend); None: every view in its row.

        (For a projector: two plots side by side with their axes, colour bars and legends leave
        each too little width once the text is large.)
        """
        grid = self.ci.layout
        if not self._slots:
            self._make_slots()
        for item in [*self._slots, *self.rows]:
            if item.isVisible():
                grid.removeItem(item)
                item.hide()
        for slot, view in zip(self._slots, self.views):   # every item back home
            for item, (row, r, c, rs, cs, align) in self._units[view]:
                if item.parentLayoutItem() is not row.layout:
                    slot.layout.removeItem(item)
                    row.layout.addItem(item, r, c, rs, cs)
                    row.layout.setAlignment(item, align)
        shown = self.rows if views is None else [self._slots[self.views.index(v)] for v in views]
        for view in views or ():
            slot = self._slots[self.views.index(view)]
            c0 = self._units[view][0][1][2]
            for item, (row, r, c, rs, cs, align) in self._units[view]:
                row.layout.removeItem(item)
                slot.layout.addItem(item, r, c - c0, rs, cs)
                slot.layout.setAlignment(item, align)
        for i, item in enumerate(shown):
            grid.addItem(item, i, 0)
            item.show()
        for view in self.views:   # a view's own items outside the layout (the accuracy's view box) go with it
            extra = getattr(view, "acc_view", None)
            if extra is not None and extra.parentItem() is None:
                extra.setVisible(views is None or view in views)
        for i in range(len(self.views)):
            stretch = (ROW_STRETCH[i] if views is None else 1) if i < len(shown) else 0
            grid.setRowStretchFactor(i, stretch)
        # (alone, each plot's data area has its own least size: no floor for the whole)
        self.floor_height = PANEL_FLOOR_HEIGHT if views is None else 0
        self.focused = list(views) if views is not None else None
        self.resizeEvent(None)

    def view_items(self, view) -> list:
        """`view`'s plot and the items beside it in its row (colour bar, legend)."""
        if not self._slots:
            self._make_slots()
        return [item for item, _ in self._units[view]]

    def _make_slots(self) -> None:
        """A layout per view for focus(), and each view's unit: its plot and the items beside it up
        to the next plot in its row, with where they sit at home (row, r, c, rowspan, colspan, alignment)."""
        import pyqtgraph as pg

        for row in self.rows:
            placed = {item: (min(r for r, _ in cells), min(c for _, c in cells),
                             1 + max(r for r, _ in cells) - min(r for r, _ in cells),
                             1 + max(c for _, c in cells) - min(c for _, c in cells))
                      for item, cells in row.items.items()}
            starts = sorted(((placed[view.plot][1], i) for i, view in enumerate(self.views) if view.plot in placed))
            for k, (c0, i) in enumerate(starts):
                c1 = starts[k + 1][0] if k + 1 < len(starts) else 1 << 30
                unit = [(item, (row, *pos, row.layout.alignment(item))) for item, pos in placed.items()
                        if c0 <= pos[1] < c1]
                unit.sort(key=lambda entry: entry[1][2])
                self._units[self.views[i]] = unit
        for _ in self.views:
            slot = pg.GraphicsLayout()
            slot.setParentItem(self.ci)
            slot.layout.setSpacing(8)
            slot.layout.setContentsMargins(0, 0, 0, 0)
            slot.layout.setColumnStretchFactor(0, 1)
            slot.hide()
            self._slots.append(slot)

    def paintEvent(self, event) -> None:  # noqa: N802 - Qt override
        t0 = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_seconds = time.perf_counter() - t0

    def set_layer_noun(self, noun: str) -> None:
        """Name the per-layer axes, titles and legends: 'layer', or 'time step' for a recurrent network."""
        if noun == self.layer_noun:
            return  # (every config change calls this: re-setting the texts re-lays out and repaints the plots)
        for view in (self.activations, self.histograms, self.gradients, self.gradient_history, self.updates):
            view.set_layer_noun(noun)
        self.layer_noun = noun

    def set_selected_layers(self, layers: list[int] | None) -> None:
        """Draw these layers (1-based; at most MAX_OVERLAY) in the histograms and update ratios; None: a spread."""
        self.selected_layers = sorted(set(layers))[:MAX_OVERLAY] if layers else None

    def layers_for(self, depth: int) -> list[int]:
        """The selected layers that a network of `depth` has, or else a spread of its layers."""
        chosen = [k for k in (self.selected_layers or []) if 1 <= k <= depth]
        return chosen or auto_layers(depth)

    def show_snapshot(self, snap: Snapshot, history: History) -> None:
        """Redraw every plot from `snap` (and the over-steps `history`)."""
        layers = self.layers_for(snap.depth)
        per_layer = use_per_layer(snap.layers.act_std, self.activation_scale)
        self.activations.show(snap, per_layer)
        self.histograms.show(snap, layers, per_layer)
        self.gradients.show(snap)
        self.gradient_history.show(history)
        self.loss.show(history)
        self.updates.show(history, layers)
        self.updates.show_lr(snap)
        self._show_theory(snap)
        self.refit()   # (a legend that widened may need a wider layout)
        # Apply the views' new ranges now. pyqtgraph defers them to the start of the paint, where
        # moving the items invalidates what is about to be drawn, and Qt then paints the panel twice.
        self.scene().prepareForPaint()
        self.drawn_step = snap.step
        self.drawn_snapshot = snap

    def set_locked(self, ranges: dict[str, tuple[float, float]] | None) -> dict | None:
        """Lock scales: fix the axis and colour ranges so that two runs' pictures compare. `ranges`
        (a scenario's "scales": 'activations' value range, 'gradients' norm range, 'loss') override
        the ranges on screen now, which are kept for the rest; None unlocks. Returns the locked ranges.
        The histograms' density axis stays free (its shape is what they show); the gradient map's
        colour levels follow the gradient range."""
        if ranges is None:
            self.locked = None
        else:
            x0, x1 = self.histograms.plot.viewRange()[0]
            if self.activations.per_layer:   # a per-layer picture has no common value range: take the widest
                snap = self.drawn_snapshot
                edges = snap.layers.act_hist_edges if snap is not None else [[-1.0, 1.0]]
                x0, x1 = float(min(e[0] for e in edges)), float(max(e[-1] for e in edges))
            g0, g1 = self.gradients.plot.viewRange()[1]
            l0, l1 = self.loss.plot.viewRange()[1]
            loss = (10.0 ** l0, 10.0 ** l1) if self.loss.log else (l0, l1)
            self.locked = {"activations": (x0, x1), "gradients": (10.0 ** g0, 10.0 ** g1), "loss": loss, **ranges}
        locked = self.locked or {}
        self.activations.locked = self.histograms.locked = locked.get("activations")
        self.gradients.locked = locked.get("gradients")
        self.loss.locked = locked.get("loss")
        # the gradient map's colours span the same decades as the gradient axis
        self.gradient_history.locked = (tuple(math.log10(v) for v in locked["gradients"])
                                        if "gradients" in locked else None)
        return self.locked

    def plots_named(self) -> dict[str, list]:
        """The PlotItems each scenario plot name (core.scenarios.PLOTS) stands for in this panel."""
        return {"activations": [self.activations.plot, self.histograms.plot], "gradients": [self.gradients.plot],
                "grad_history": [self.gradient_history.plot], "loss": [self.loss.plot],
                "updates": [self.updates.plot]}

    def highlight(self, names) -> None:
        """Frame the plots called `names` (scenario plot names) in HIGHLIGHT_COLOR; the others plain."""
        self.highlighted = tuple(n for n in self.plots_named() if n in set(names))
        for name, plots in self.plots_named().items():
            for plot in plots:
                plot.vb.setBorder(pg.mkPen(HIGHLIGHT_COLOR, width=3) if name in self.highlighted else None)

    def empty_notes(self) -> list:
        """The notes shown over the over-steps plots while there are no steps (panels/empty_note.py)."""
        return [self.loss.empty, self.gradient_history.empty, self.updates.empty]

    def set_theory(self, profile) -> None:
        """Dashed mean-field curves: activation mean ± std over the heatmap, and the predicted
        gradient norms (anchored at the measured last layer). None hides them."""
        if self.gradients.theory is None:
            self.activations.add_theory()
            self.gradients.add_theory()
        self.theory_profile = profile
        if self.drawn_snapshot is not None:
            self._show_theory(self.drawn_snapshot)

    def _show_theory(self, snap: Snapshot) -> None:
        self.activations.show_theory(self.theory_profile, snap)
        self.gradients.show_theory(self.theory_profile, snap)
