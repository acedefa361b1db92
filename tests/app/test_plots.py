"""The plot panels and the plot toolkit: what is drawn, where legends sit, and what each frame costs
in paints (the NumPy helpers are tested in test_plot_math.py)."""
from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainter

from app.history import History
from app.panels.noise import NoisePanel
from app.panels.plot_panel import PlotPanel
from app.plot_kit import set_dotted_line, set_points
from core import SimConfig, Simulator
from core.snapshot import frozen_array


def _shown(qtbot, widget, width: int, height: int):
    qtbot.addWidget(widget)
    widget.resize(width, height)
    widget.show()
    return widget


@pytest.fixture
def panel(qtbot):
    return _shown(qtbot, PlotPanel(), 1200, 800)


def _painted(item, width: int, height: int) -> QImage:
    """What `item.paint` draws on a white width × height image."""
    image = QImage(width, height, QImage.Format.Format_ARGB32)
    image.fill(0xFFFFFFFF)
    painter = QPainter(image)
    item.paint(painter, None)
    painter.end()
    return image


def _with_layers(snap, **arrays):
    return dataclasses.replace(snap, layers=dataclasses.replace(
        snap.layers, **{k: frozen_array(v) for k, v in arrays.items()}))


def test_zero_gradients_drawn_at_floor_and_nonfinite_marked(panel):
    snap = Simulator(SimConfig(depth=8, width=16, n_samples=128, batch_size=16)).step()
    g = np.array(snap.layers.grad_norm)
    g[0], g[1], g[2] = 0.0, 0.0, np.nan
    snap = _with_layers(snap, grad_norm=g)
    history = History()
    history.add(snap)
    panel.show_snapshot(snap, history)
    x, y = panel.gradients.curve.getData()
    assert len(x) == 8  # nothing dropped
    floor = y[0]
    assert y[1] == floor and floor < np.nanmin(np.log10(g[3:])) - 0.9
    zx, zy = panel.gradients.zero.getData()
    assert sorted(zx) == [1.0, 2.0] and set(zy) == {floor}
    bx, _ = panel.gradients.bad.getData()
    assert list(bx) == [3.0]
    (y0, y1) = panel.gradients.plot.viewRange()[1]
    assert y0 < floor  # the floor markers are inside the view
    # layer x step map: zero -> index 0, NaN -> index 255
    image = panel.gradient_history.image.index
    assert image.shape == (8, 1)
    assert image[0, 0] == 0 and image[1, 0] == 0 and image[2, 0] == 255
    assert 1 <= image[3, 0] <= 254
    # the colour bar shows the map's decades, and follows when they change (it is set only on a change)
    logs = np.log10(g[3:])
    assert panel.gradient_history.bar.levels()[1] == math.ceil(logs.max())
    bigger = _with_layers(snap, grad_norm=g * 1e3)
    history.add(bigger)
    panel.show_snapshot(bigger, history)
    assert panel.gradient_history.bar.levels()[1] == math.ceil(logs.max() + 3)


def test_panel_draws_a_thousand_layers(panel):
    snap = Simulator(SimConfig(depth=1000, width=4, n_samples=64, batch_size=8, input_dim=4)).probe()
    panel.show_snapshot(snap, History())
    assert panel.activations.image.index.shape[0] == 1000
    assert len(panel.gradients.curve.getData()[0]) == 1000
    assert panel.grab().width() > 0


@pytest.fixture
def noise_panel(qtbot):
    return _shown(qtbot, NoisePanel(), 900, 700)


def test_noise_panel_draws_the_statistic_per_layer_and_over_steps(noise_panel, panel):
    sim = Simulator(SimConfig(depth=6, width=16, n_samples=256, batch_size=16, grad_accum=2, warmup_steps=4,
                              lr=0.1))
    history = History()
    for _ in range(3):
        snap = sim.step()
        history.add(snap)
    noise_panel.show_snapshot(snap, history, [1, 6])
    x, y = noise_panel.layer_curve.getData()
    np.testing.assert_array_equal(x, np.arange(1, 7))
    np.testing.assert_allclose(y, np.log10(snap.layers.grad_noise), rtol=1e-12)
    sx, sy = noise_panel.step_curves[1].getData()
    assert list(sx) == [1, 2, 3] and sy[-1] == pytest.approx(np.log10(snap.layers.grad_noise[5]))
    _, my = noise_panel.median_curve.getData()
    assert my[-1] == pytest.approx(np.median(np.log10(snap.layers.grad_noise)))
    assert noise_panel.note.toPlainText() == ""
    # the update plot's title carries the step's effective learning rate: 3/4 of lr in warm-up
    panel.show_snapshot(snap, history)
    assert "lr 0.075" in panel.updates.plot.titleLabel.text
    assert noise_panel.grab().width() > 0


def test_noise_panel_explains_an_undefined_statistic(noise_panel):
    snap = Simulator(SimConfig(depth=3, width=8, n_samples=64, batch_size=1)).probe()
    assert np.isnan(snap.layers.grad_noise).all()
    noise_panel.show_snapshot(snap, History(), [1])
    assert "needs ≥ 2 examples" in noise_panel.note.toPlainText()


def _grey_blocks(widget, k: int = 8) -> np.ndarray:
    """The widget's rendering as mean grey levels of k × k pixel blocks."""
    image = widget.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    rgb = np.array(image.constBits(), dtype=np.uint8).reshape(image.height(), -1, 4)[:, :image.width(), :3]
    grey = rgb.astype(np.float64).mean(axis=2)
    h, w = grey.shape[0] // k * k, grey.shape[1] // k * k
    return grey[:h, :w].reshape(h // k, k, w // k, k).mean(axis=(1, 3))


def test_cached_axes_and_legends_redraw_what_changed(panel, qtbot):
    """Axes, titles, colour bars and legends paint from a pixmap cache (plot_kit.cache_unchanging):
    after snapshots that move the ranges and relabel the legends, the cached rendering is the one
    the same panel makes with no cache at all. Text drawn into a cache is anti-aliased a little
    differently, so 8 × 8 blocks are compared: that difference stays below 32 grey levels, while one
    stale axis (tick labels of the previous range) shows up as blocks 77 levels apart."""
    from PySide6.QtWidgets import QGraphicsItem

    sim = Simulator(SimConfig(depth=6, width=16, n_samples=128, batch_size=16, lr=0.5))
    history = History()
    for scale in (1.0, 1e-6, 1e4):
        snap = sim.step()
        snap = _with_layers(snap, grad_norm=np.asarray(snap.layers.grad_norm) * scale)
        history.add(snap)
        panel.show_snapshot(snap, history)
        qtbot.wait(20)  # paint (and fill the caches) between snapshots
    cached_items = [i for i in panel.scene().items() if i.cacheMode() != QGraphicsItem.CacheMode.NoCache]
    assert len(cached_items) > 50
    cached = _grey_blocks(panel)
    for item in cached_items:
        item.setCacheMode(QGraphicsItem.CacheMode.NoCache)
    assert np.abs(cached - _grey_blocks(panel)).max() < 48


def test_markers_are_cleared_when_nothing_is_left_to_mark(panel):
    snap = Simulator(SimConfig(depth=5, width=8, n_samples=64, batch_size=8)).step()
    g = np.array(snap.layers.grad_norm)
    zeroed = _with_layers(snap, grad_norm=np.where(np.arange(5) < 2, 0.0, g))
    panel.show_snapshot(zeroed, History())
    assert len(panel.gradients.zero.getData()[0]) == 2
    panel.show_snapshot(snap, History())
    assert len(panel.gradients.zero.getData()[0]) == 0
    # the dots sit on the curve's finite points
    x, y = panel.gradients.curve.getData()
    dx, dy = panel.gradients.dots.getData()
    np.testing.assert_array_equal(dx, x)
    np.testing.assert_allclose(dy, np.log10(g))


def _scene_rect(item):
    return item.mapRectToScene(item.boundingRect())


def test_legends_sit_beside_or_under_the_data_never_on_it(panel):
    """Every legend, and every entry in it, lies outside every plot's data area (its ViewBox)."""
    sim = Simulator(SimConfig(depth=12, width=16, n_samples=128, batch_size=16))
    history = History()
    for _ in range(3):
        snap = sim.step()
        history.add(snap)
    panel.show_snapshot(snap, history)
    panel.set_theory(None)  # adds the mean-field entry to the gradient legend
    views = [view.plot.vb for view in (panel.activations, panel.histograms, panel.gradients, panel.gradient_history,
                                       panel.loss, panel.updates)]
    legends = [panel.histograms.legend, panel.updates.legend, panel.gradients.legend, panel.gradient_history.legend]
    assert sum(len(legend.items) for legend in legends[1:]) == 7 + 5 + 2  # (update: 2 + 5 layers)
    assert "Loss</span> and" in panel.loss.plot.titleLabel.text  # (the loss plot's title is its legend)
    for legend in legends:
        rect = _scene_rect(legend)
        assert rect.width() > 20 and rect.height() > 10
        for vb in views:
            assert not rect.intersects(_scene_rect(vb)), (legend, vb)
        # and inside the widget: nothing is clipped at its edges
        assert panel.sceneRect().contains(rect) or panel.viewport().rect().contains(rect.toRect())
    # each beside or under its own plot
    plots = (panel.histograms.plot, panel.updates.plot, panel.gradients.plot, panel.gradient_history.plot)
    for legend, plot in zip(legends, plots):
        rect, view = _scene_rect(legend), _scene_rect(plot.vb)
        beside = rect.left() >= view.right() and rect.top() < view.bottom()
        under = rect.top() >= view.bottom() and rect.left() < view.right() and rect.right() > view.left()
        assert beside or under, plot


def test_stats_legend_rows_and_widths(qtbot):
    from app.legends import StatsLegend

    legend = StatsLegend(("", "mean", "std"), rows=3, widest=("L9", "-0.12", "0.12"))
    start = legend.width()
    legend.set_rows([("#ff0000", ("L1", "0.5", "0.25")), ("#0000ff", ("L2", "0.4", "0.2"))])
    assert legend.width() == start  # (narrower than the template)
    legend.set_rows([("#ff0000", ("L1", "-1.23e-05", "0.25"))])
    wider = legend.width()
    assert wider > start and legend.rows == [("#ff0000", ("L1", "-1.23e-05", "0.25"))]
    legend.set_rows([("#ff0000", ("L1", "0", "0"))])
    assert legend.width() == wider  # columns never narrow: the panel is not re-laid out back and forth
    legend.set_rows([])
    assert legend.rows == [] and legend.width() == wider
    legend.set_rows([("#ff0000", ("L1", "0", "0"))])
    # the row's colour and text are painted
    image = _painted(legend, int(legend.width()), int(legend.height()))
    pixels = {image.pixel(x, y) & 0xFFFFFF for x in range(image.width()) for y in range(image.height())}
    assert 0xFF0000 in pixels and 0x000000 in pixels


def test_heatmaps_draw_their_colour_indices_through_the_table(panel):
    snap = Simulator(SimConfig(depth=7, width=16, n_samples=128, batch_size=16)).step()
    history = History()
    history.add(snap)
    panel.show_snapshot(snap, history)
    for item in (panel.activations.image, panel.gradient_history.image):
        assert item.index.dtype == np.uint8 and item.index.shape[0] == 7
        np.testing.assert_array_equal(item.image, item.lut[item.index])
        assert item.qimage is None or item.qimage.format() != QImage.Format.Format_Indexed8
    panel.grab()
    assert panel.gradient_history.image.qimage.format() != QImage.Format.Format_Indexed8


def test_a_snapshot_that_moves_the_ranges_paints_once(qtbot):
    """The views' new ranges are applied before the paint (scene.prepareForPaint), not during it,
    where they invalidated the items just drawn and made Qt paint the whole panel a second time."""
    class Counting(PlotPanel):
        paints = 0

        def paintEvent(self, event):  # noqa: N802
            Counting.paints += 1
            super().paintEvent(event)

    panel = _shown(qtbot, Counting(), 1200, 800)
    snap = Simulator(SimConfig(depth=6, width=16, n_samples=128, batch_size=16)).step()
    history = History()
    history.add(snap)
    g = np.asarray(snap.layers.grad_norm)
    for scale in (1.0, 1e-8, 1e8):  # (first, the layout settles: legends fill, axes widen for their ticks)
        panel.show_snapshot(_with_layers(snap, grad_norm=g * scale), history)
        qtbot.wait(30)
    for scale in (1e-8, 1e8, 1e-8, 1e8):
        before = panel.gradients.plot.viewRange()[1]
        panel.show_snapshot(_with_layers(snap, grad_norm=g * scale), history)
        Counting.paints = 0
        panel.update()
        qtbot.wait(30)
        assert panel.gradients.plot.viewRange()[1] != before
        assert Counting.paints == 1


def test_dense_lines_are_drawn_thin_and_without_dots(panel):
    """Beyond DENSE_POINTS a line is drawn 1 px wide in its own colour and style, without dots (Qt
    strokes wider lines segment by segment); with fewer points again it gets its pen back."""
    from app.plot_kit import DENSE_POINTS

    curve, dots, wide = panel.gradients.curve, panel.gradients.dots, panel.gradients.curve.opts["pen"]
    assert wide.widthF() == 2.5
    for n, width, n_dots in ((DENSE_POINTS, 2.5, DENSE_POINTS), (DENSE_POINTS + 1, 1.0, 0), (5, 2.5, 5)):
        x = np.arange(1.0, n + 1)
        set_dotted_line(curve, dots, x, np.sin(x))
        pen = curve.opts["pen"]
        assert pen.widthF() == width and pen.color() == wide.color() and pen.style() == wide.style()
        assert len(dots.getData()[0]) == n_dots and len(curve.getData()[0]) == n
    # a dashed line stays dashed
    wgrad = panel.gradients.weight_curve
    wgrad.setData(np.arange(DENSE_POINTS + 5.0), np.zeros(DENSE_POINTS + 5))
    assert wgrad.opts["pen"].widthF() == 1.0 and wgrad.opts["pen"].style() == Qt.PenStyle.DashLine
    # the legend keeps the line's own width for its sample, whatever the line is drawn with
    x = np.arange(1.0, DENSE_POINTS + 2)
    set_dotted_line(curve, dots, x, np.sin(x))
    (sample,) = [sample for sample, _ in panel.gradients.plot.legend.items if sample.item is curve]
    image = _painted(sample, 20, 20)
    rows = {y for y in range(20) for x in range(20) if image.pixel(x, y) & 0xFFFFFF == wide.color().rgb() & 0xFFFFFF}
    assert len(rows) >= 2   # 2.5 px, where the thin line it stands for is 1 px


def test_update_band_spans_every_layer_at_every_step(panel):
    sim = Simulator(SimConfig(depth=6, width=16, n_samples=128, batch_size=16, lr=0.2))
    history = History()
    for _ in range(4):
        snap = sim.step()
        history.add(snap)
    panel.show_snapshot(snap, history)
    logs = np.log10(history.update_to_weight())            # [steps, layers], all finite here
    polygon = panel.updates.band.path().toFillPolygon()
    points = np.array([(polygon[i].x(), polygon[i].y()) for i in range(polygon.size())])
    steps = history.layer_steps().astype(float)
    lower, upper = points[:4], points[4:8][::-1]
    np.testing.assert_array_equal(lower[:, 0], steps)
    np.testing.assert_array_equal(upper[:, 0], steps)
    np.testing.assert_allclose(lower[:, 1], logs.min(axis=1))
    np.testing.assert_allclose(upper[:, 1], logs.max(axis=1))


def test_other_views_legends_are_off_the_data(qtbot, noise_panel):
    from app.panels.spectrum import SpectrumView

    spectrum = _shown(qtbot, SpectrumView(), 1000, 450)
    for plot in (noise_panel.over_steps, spectrum.plane, spectrum.growth):
        assert plot.legend is not None and plot.legend.items
        rect, view = _scene_rect(plot.legend), _scene_rect(plot.vb)
        assert rect.height() > 10 and (rect.top() >= view.bottom() or rect.left() >= view.right()), plot


def test_empty_markers_bound_nothing_and_dots_bound_their_size(panel):
    """An empty marker item must not be painted (pyqtgraph's would paint at (0, 0) every frame);
    a curve's dots bound their points plus their radius, so a repaint covers them whole."""
    markers = panel.activations.bad
    assert markers.boundingRect().isEmpty()
    set_points(markers, np.array([0.25]), np.array([3.0]))
    assert markers.boundingRect().contains(0.25, 3.0)
    set_points(markers, np.zeros(0), np.zeros(0))
    assert markers.boundingRect().isEmpty()
    snap = Simulator(SimConfig(depth=5, width=8, n_samples=64, batch_size=8)).step()
    panel.show_snapshot(snap, History())
    dots = panel.gradients.dots
    x, y = dots.getData()
    rect = dots.boundingRect()
    px, py = dots.pixelVectors()
    radius = dots.pen.widthF() / 2
    assert rect.left() <= x.min() - radius * px.length() and rect.right() >= x.max() + radius * px.length()
    assert rect.top() <= y.min() - radius * py.length() and rect.bottom() >= y.max() + radius * py.length()


def test_a_squeezed_panel_scrolls_instead_of_clipping_its_layout(panel, qtbot):
    """Below its floor (the layout's minimum width, PANEL_FLOOR_HEIGHT high) the panel lays its
    plots out at the floor and scrolls; above it the layout fills the view exactly, no scroll bars.
    A legend that widens during a run raises the floor and the layout follows."""
    from app.panels.plot_panel import PANEL_FLOOR_HEIGHT

    def laid_out():
        qtbot.wait(20)
        g = panel.ci.geometry()
        return g.width(), g.height()

    floor = panel.floor()
    assert floor.height() == PANEL_FLOOR_HEIGHT and floor.width() > 600
    panel.resize(600, 300)
    w, h = laid_out()
    assert (w, h) == (floor.width(), floor.height())
    assert panel.horizontalScrollBar().isVisible() and panel.verticalScrollBar().isVisible()
    panel.resize(1400, 900)
    w, h = laid_out()
    view = panel.viewport().size()
    assert (w, h) == (view.width(), view.height()) == (1400 - 2 * panel.frameWidth(), 900 - 2 * panel.frameWidth())
    assert not panel.horizontalScrollBar().isVisible() and not panel.verticalScrollBar().isVisible()
    # a wider legend table raises the floor; the next drawn snapshot lays the layout out again
    panel.resize(int(floor.width()) + 4, 700)
    laid_out()
    snap = Simulator(SimConfig(depth=5, width=8, n_samples=64, batch_size=8)).step()
    wide = _with_layers(snap, act_mean=np.full(5, -1.234567e-300))
    panel.show_snapshot(wide, History())
    assert panel.floor().width() > floor.width() + 4
    w, _ = laid_out()
    assert w == panel.floor().width() and panel.horizontalScrollBar().isVisible()


def test_over_steps_plots_say_why_they_are_empty(panel):
    """After a probe alone the loss, gradient-over-steps and update plots show a note over their data
    area instead of axes like 'training step −0.4 … 0.4'; the first step brings the plots back."""
    from app.panels.empty_note import PROBE_ONLY

    sim = Simulator(SimConfig(depth=4, width=8, n_samples=64, batch_size=16))
    history = History()
    panel.show_snapshot(sim.probe(), history)
    for note in panel.empty_notes():
        assert note.box.isVisible() and "No training steps" in note.label.toPlainText()
        vb = note.plot.vb
        assert note.box.mapRectToScene(note.box.rect()) == vb.mapRectToScene(vb.rect())  # covers the data area
        assert not note.plot.getAxis("bottom").style["showValues"]
    panel.loss.empty.set_text(PROBE_ONLY)
    assert panel.loss.empty.label.toPlainText() == PROBE_ONLY
    snap = sim.step()
    history.add(snap)
    panel.show_snapshot(snap, history)
    for note in panel.empty_notes():
        assert not note.box.isVisible() and note.plot.getAxis("bottom").style["showValues"]


def test_guide_line_labels_lie_whole_inside_the_data_area(qtbot):
    """The dashed guides' labels ("noise = signal", "1e-3") start inside the data area: a label centred
    near the left end ran past the axis on a narrow or magnified plot and was cut."""
    import pyqtgraph as pg

    noise, plots = _shown(qtbot, NoisePanel(), 420, 500), _shown(qtbot, PlotPanel(), 700, 700)
    sim = Simulator(SimConfig(depth=4, width=8, n_samples=64, batch_size=16, device="cpu"))
    history = History()
    for _ in range(3):
        snap = sim.step()
        history.add(snap)
    noise.show_snapshot(snap, history, [1, 4])
    plots.show_snapshot(snap, history)
    qtbot.wait(50)
    for plot in (noise.per_layer, noise.over_steps, plots.updates.plot):
        guides = [item for item in plot.items if isinstance(item, pg.InfiniteLine) and item.label is not None]
        assert guides, plot
        view = _scene_rect(plot.vb)
        for guide in guides:
            label = _scene_rect(guide.label)
            assert view.left() <= label.left() and label.right() <= view.right(), (guide.label.toPlainText(), label, view)


def test_a_single_layer_is_ticked_at_whole_layers(qtbot):
    """One layer spans 0.5–1.5 on a layer axis: its ticks are whole layers (pyqtgraph alone labels
    0.6, 0.8, …); a deep network's axis keeps pyqtgraph's own spacing."""
    plots = _shown(qtbot, PlotPanel(), 1000, 800)
    for depth in (1, 30):
        sim = Simulator(SimConfig(depth=depth, width=8, n_samples=64, batch_size=16, device="cpu"))
        history = History()
        snap = sim.probe()
        history.add(snap)
        plots.show_snapshot(snap, history)
        for plot, name in ((plots.gradients.plot, "bottom"), (plots.activations.plot, "left")):
            axis = plot.getAxis(name)
            lo, hi = plot.vb.viewRange()[0 if name == "bottom" else 1]
            ticks = [v for _, values in axis.tickValues(lo, hi, 400) for v in values]
            assert ticks and all(float(v).is_integer() for v in ticks), (depth, name, ticks)
            assert (depth == 1) == (ticks == [1.0]), (depth, name, ticks)


def test_update_band_leaves_out_a_diverged_step(panel):
    """A step whose update ratios are all NaN (the run diverged) is not drawn: the band ends at the
    last step with numbers instead of diving to the floor (which would read as a ratio of ≈ 0)."""
    sim = Simulator(SimConfig(depth=4, width=8, n_samples=64, batch_size=16, lr=0.2))
    history = History()
    for _ in range(3):
        snap = sim.step()
        history.add(snap)
    nan = _with_layers(snap, update_to_weight=np.full(snap.depth, np.nan))
    nan = dataclasses.replace(nan, step=snap.step + 1)
    history.add(nan)
    panel.show_snapshot(nan, history)
    polygon = panel.updates.band.path().toFillPolygon()
    xs = {polygon[i].x() for i in range(polygon.size())}
    assert max(xs) == snap.step and min(polygon[i].y() for i in range(polygon.size())) > -8


def test_the_gradient_axis_stays_while_the_smallest_norm_crosses_a_decade_back_and_forth(panel):
    """Each move of a plot's range regenerates its axes' ticks: the norm axis keeps its range while
    that range holds what is drawn (zeros at its floor) and is at most RANGE_SLACK_DECADES taller."""
    from app.panels.gradients import RANGE_SLACK_DECADES

    snap = Simulator(SimConfig(depth=8, width=16, n_samples=128, batch_size=16)).step()
    history = History()
    history.add(snap)

    def draw(smallest: float, scale: float = 1.0, zero: bool = False):
        g = np.logspace(smallest, 0.0, 8) * scale    # the last layer (the reference) at `scale`
        if zero:
            g[1] = 0.0
        panel.show_snapshot(_with_layers(snap, grad_norm=g, weight_grad_norm=g.copy()), history)
        return tuple(panel.gradients.plot.viewRange()[1])

    first = draw(-3.1)                    # floor ⌊−3.1⌋ − 1 = −5: the view starts at −5.5
    assert first[0] == pytest.approx(-5.5)
    assert draw(-2.9) == first             # floor −4 would do: one decade more is kept
    assert draw(-3.1) == first
    assert draw(-2.9, zero=True) == first  # a zero is drawn at the floor of the view on screen
    zx, zy = panel.gradients.zero.getData()
    assert list(zx) == [2.0, 2.0] and set(zy) == {first[0] + 0.5}   # (‖∂L/∂z‖ and ‖∂L/∂W‖)
    moved = draw(-2.9, scale=1e-6)         # six decades down: outside the view, which follows
    assert moved != first and moved[0] == pytest.approx(-10.5)   # ⌊min(−8.9, −6 − 2.5)⌋ − 1 − 0.5
    assert draw(-2.9, scale=1e-6 * 10**-RANGE_SLACK_DECADES)[0] < moved[0]   # lower again: it follows


def test_a_lone_finite_loss_between_non_finite_ones_is_drawn_as_a_dot(qtbot):
    """A run that diverges at step 2 has one finite loss: the line joins finite neighbours only, so
    the step-1 loss needs a dot of its own; points with a finite neighbour get none."""
    from types import SimpleNamespace

    import pyqtgraph as pg

    from app.panels.loss import LossAccuracy
    widget = pg.GraphicsLayoutWidget()
    qtbot.addWidget(widget)
    view = LossAccuracy(widget.ci, 0)
    nan = math.nan
    view.show(SimpleNamespace(steps=[1, 2, 3], loss=[9e14, nan, nan], accuracy=[0.45, 0.41, nan]))
    x, y = view.loss_dots.getData()
    assert x.tolist() == [1.0] and y.tolist() == [9e14]
    assert len(view.acc_dots.getData()[0]) == 0
    view.show(SimpleNamespace(steps=[1, 2], loss=[2.0, 1.5], accuracy=[0.4, 0.5]))
    assert len(view.loss_dots.getData()[0]) == 0


def test_the_zero_marker_is_labelled_for_exact_zeros_and_underflow(panel):
    """The cyan triangle marks a gradient norm of exactly 0: zero init gives exact zeros, not an
    underflow, so the label names both."""
    labels = {sample.item: label.text for sample, label in panel.gradients.legend.items}
    assert labels[panel.gradients.zero] == "0 (exact or underflow)"


def test_band_labels_sit_where_the_curves_are_not(panel, qtbot):
    """A gradient just under the vanishing band's top edge in the first layers runs through the band's
    top-left corner, where its label used to be drawn over it: the label moves to a corner of its band
    that no curve crosses, and neither label covers a curve."""
    from app.plot_math import along
    snap = Simulator(SimConfig(depth=8, width=16, n_samples=128, batch_size=16)).step()
    g = np.array([10 ** -2.4] * 3 + [1.0] * 5)
    snap = _with_layers(snap, grad_norm=g, weight_grad_norm=g)
    history = History()
    history.add(snap)
    for _ in range(2):   # (the second draw places the labels in the first's laid-out plot)
        panel.show_snapshot(snap, history)
        qtbot.wait(20)
    view = panel.gradients
    cx, cy = along(np.arange(1, 9, dtype=np.float64), np.log10(g))
    for text in (view.vanish_text, view.explode_text):
        box = view.plot.vb.mapSceneToView(text.sceneBoundingRect()).boundingRect()
        inside = (cx >= box.left()) & (cx <= box.right()) & (cy >= box.top()) & (cy <= box.bottom())
        assert not inside.any(), f"{text.toPlainText()} at {box} covers the curve"
    assert view.vanish_text.pos().x() > 4   # (moved off the top-left, which the curve crosses)
