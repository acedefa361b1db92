"""Presentation mode and zoom: exact sizes on projector screens, every shown plot's data area,
the window's minimum width with each dock, eliding status sentences, a remembered zoom."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtWidgets import QDockWidget

from core.scenarios import load_scenario

from app.presentation import PRESENT_FONT_PT, plots_for

PRESENT_MIN = (180, 120)   # px: a shown plot's data area in presentation mode (w, h)
NORMAL_MIN_HEIGHT = 100    # px: every plot's data area at 1366 × 768 in normal mode


def data_areas(window, views):
    """{view: QRect of its data area (ViewBox) in window pixels}."""
    panel = window.plots
    areas = {}
    for view in views:
        rect = panel.mapFromScene(view.plot.getViewBox().sceneBoundingRect()).boundingRect()
        areas[view] = rect.translated(panel.mapTo(window, rect.topLeft()) - rect.topLeft())
    return areas


def assert_whole_and_large(window, views, least_w, least_h):
    """Every view's data area is at least least_w × least_h and lies inside the window and the
    panel's viewport (nothing scrolled out of sight)."""
    panel = window.plots
    assert not panel.verticalScrollBar().isVisible() and not panel.horizontalScrollBar().isVisible()
    viewport = panel.viewport().rect().translated(panel.viewport().mapTo(window, panel.viewport().rect().topLeft()))
    for view, rect in data_areas(window, views).items():
        name = type(view).__name__
        assert rect.width() >= least_w and rect.height() >= least_h, f"{name}: {rect.width()}×{rect.height()}"
        assert viewport.contains(rect.adjusted(1, 1, -1, -1)), f"{name} at {rect} outside {viewport}"


def present(make_window, qtbot, name, size, steps):
    scenario = load_scenario(name)
    w = make_window(scenario.config)
    w.show_scenario(scenario)
    w.set_presenting(True)
    w.resize(*size)
    if steps:
        w.set_running(True, until=steps)
        qtbot.waitUntil(lambda: w.plots.drawn_step == steps and not w.is_running(), timeout=60000)
    qtbot.wait(100)   # (layouts settle on the event loop)
    return w, scenario


@pytest.mark.parametrize("name,steps", [("small_init_collapse", 0), ("fastai_std_28", 0),
                                        ("deep_sigmoid_vanishing", 3), ("adam_early_spike", 3)])
@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
def test_presentation_fits_a_projector_with_large_plots(make_window, qtbot, name, steps, size):
    w, scenario = present(make_window, qtbot, name, size, steps)
    image = w.grab()
    assert (image.width(), image.height()) == size
    assert w.minimumSizeHint().width() <= size[0]
    shown = w.plots.focused
    assert [v for v in w.plots.views if v in shown] and len(shown) == 2
    assert [getattr(w.plots, n) for n in plots_for(scenario)] == shown
    for view in w.plots.views:
        assert view.plot.isVisible() == (view in shown)
    assert_whole_and_large(w, shown, *PRESENT_MIN)
    # text larger than in normal mode: the widgets' font and the plots' magnification
    assert w.font().pointSizeF() == pytest.approx(PRESENT_FONT_PT)
    assert w.plots.zoom > 1.0
    assert w.controls.isHidden()
    open_docks = [d for d in w.findChildren(QDockWidget) if d.isVisible()]
    assert open_docks == [w.scenario_dock]
    assert w.scenario_dock.width() <= 0.3 * size[0]


def test_probe_only_scenarios_show_no_over_steps_plots():
    for name in ("small_init_collapse", "fastai_std_28", "rnn_vanishing"):
        scenario = load_scenario(name)
        assert scenario.steps == 0
        assert not {"loss", "updates", "gradient_history"} & set(plots_for(scenario))
    assert plots_for(load_scenario("deep_sigmoid_vanishing")) == ["gradients", "updates"]
    assert plots_for(None) == ["gradients", "activations"]


def test_leaving_presentation_restores_the_window(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.resize(1600, 1000)
    w.table_dock.show()
    qtbot.wait(50)
    font = w.font().pointSizeF()
    w.presentation.present_action.trigger()
    assert w.presentation.presenting and w.table_dock.isHidden() and w.diagnoses_dock.isHidden()
    w.presentation.present_action.trigger()
    qtbot.wait(50)
    assert not w.presentation.presenting
    assert w.table_dock.isVisible() and w.diagnoses_dock.isVisible() and w.controls.isVisible()
    assert w.font().pointSizeF() == font and w.plots.focused is None
    assert all(view.plot.isVisible() for view in w.plots.views)


def test_all_plots_in_presentation_mode(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.set_presenting(True)
    w.resize(1280, 720)
    w.presentation.all_plots_action.trigger()
    qtbot.wait(50)
    assert w.plots.focused is None and all(view.plot.isVisible() for view in w.plots.views)
    w.presentation.all_plots_action.trigger()
    assert len(w.plots.focused) == 2


@pytest.mark.parametrize("size", ["1280x720"])
def test_present_screenshot_is_exactly_the_size_asked(tmp_path, size):
    """`python -m app --present --scenario NAME --size WxH --screenshot F` writes exactly W × H."""
    from PySide6.QtGui import QImage

    out = tmp_path / "shot.png"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen")
    proc = subprocess.run([sys.executable, "-m", "app", "--present", "--scenario", "xavier_tanh",
                           "--size", size, "--screenshot", str(out)],
                          capture_output=True, text=True, timeout=180, env=env)
    assert proc.returncode == 0, proc.stderr
    image = QImage(str(out))
    assert f"{image.width()}x{image.height()}" == size


@pytest.mark.parametrize("dock", ["table", "scenario", "diagnoses", "spectrum", "theory"])
def test_minimum_width_fits_1280_with_any_one_dock(make_window, small_config, qtbot, dock):
    w = make_window(small_config)
    w.show_scenario(load_scenario("large_init_tanh_saturation"))   # a long title and text
    docks = {"table": w.table_dock, "scenario": w.scenario_dock, "diagnoses": w.diagnoses_dock,
             "spectrum": w.spectrum_dock, "theory": w.theory.dock}
    for other in docks.values():
        other.hide()
    docks[dock].show()
    w.message_label.setText("a long sentence about what just happened in the simulation " * 5)
    w.device_label.setText("device: a long reason why this device was chosen and not another " * 3)
    qtbot.wait(50)
    assert w.minimumSizeHint().width() <= 1280
    w.resize(1280, 720)
    qtbot.wait(50)
    assert w.width() == 1280


def test_plots_keep_their_height_on_a_1366_laptop(make_window, qtbot):
    """Normal mode at 1366 × 768 with the scenario panel and the diagnoses open: every plot's data
    area at least 100 px high, in sight (the plots' text shrinks a little rather than scroll)."""
    scenario = load_scenario("deep_sigmoid_vanishing")
    w = make_window(scenario.config)
    w.show_scenario(scenario)
    w.resize(1366, 768)
    w.set_running(True, until=3)
    qtbot.waitUntil(lambda: w.plots.drawn_step == 3 and not w.is_running(), timeout=60000)
    qtbot.wait(100)
    assert w.diagnoses_dock.isVisible() and w.scenario_dock.isVisible()
    assert (w.width(), w.height()) == (1366, 768)
    assert_whole_and_large(w, w.plots.views, 1, NORMAL_MIN_HEIGHT)


def test_zoom_scales_the_text_and_is_remembered(make_window, small_config, qtbot, isolated_settings):
    settings = QSettings(str(isolated_settings / "zoom.ini"), QSettings.Format.IniFormat)
    w = make_window(small_config, settings=settings)
    font, status = w.font().pointSizeF(), w.statusBar().font().pointSizeF()
    w.presentation.zoom_actions["in"].trigger()
    w.presentation.zoom_actions["in"].trigger()
    assert w.presentation.zoom == pytest.approx(1.25)
    assert w.font().pointSizeF() == pytest.approx(1.25 * font)
    assert w.statusBar().font().pointSizeF() == pytest.approx(1.25 * status)
    assert w.plots.zoom <= 1.25 and w.plots._zoom_request[0] == pytest.approx(1.25)
    tick = w.plots.gradients.plot.getAxis("left")
    on_screen = w.plots.mapFromScene(tick.sceneBoundingRect()).boundingRect().width()
    assert on_screen == pytest.approx(tick.boundingRect().width() * w.plots.zoom, abs=2)
    w.shutdown()
    again = make_window(small_config, settings=settings)
    assert again.presentation.zoom == pytest.approx(1.25)
    again.presentation.zoom_actions["reset"].trigger()
    assert again.presentation.zoom == 1.0 and again.font().pointSizeF() == pytest.approx(font)
    assert [a.shortcut().toString() for a in again.presentation.zoom_actions.values()] == ["Ctrl+=", "Ctrl+-", "Ctrl+0"]


def test_long_status_sentences_elide_with_the_whole_in_the_tooltip(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.resize(1280, 720)
    sentence = "Scenario: a very long sentence that cannot fit in the status bar at all " * 4
    w.message_label.setText(sentence)
    qtbot.wait(50)
    label = w.message_label
    assert label.text() == sentence and label.toolTip() == sentence
    assert label.is_elided() and label.width() < label.fontMetrics().horizontalAdvance(sentence)
    chi = w.theory.chi_label
    qtbot.waitUntil(lambda: chi.text().startswith("χ ="), timeout=5000)
    assert chi.text() in chi.toolTip()
    assert w.minimumSizeHint().width() <= 1280


@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
def test_presentation_keeps_the_learning_rate_and_clip_counter_in_the_status_bar(make_window, qtbot, size):
    """Scenario texts point at the status bar's learning rate (warm-up) and clip counter (clipping):
    both stay shown, whole, in presentation mode, and the window still fits the projector."""
    w, _ = present(make_window, qtbot, "adam_warmup", size, 2)
    assert w.lr_label.isVisible() and w.clip_label.isVisible()
    assert not w.device_label.isVisible() and not w.rate_label.isVisible()
    assert w.lr_label.text() == "lr 0.001"   # step 2 of a 20-step warm-up at lr 0.01: 2/20 · 0.01
    for label in (w.lr_label, w.clip_label):
        assert label.width() >= label.sizeHint().width()
    image = w.grab()
    assert (image.width(), image.height()) == size and w.minimumSizeHint().width() <= size[0]


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_a_scenario_that_opens_the_layer_table_leaves_the_plots_their_width(make_window, qtbot, size):
    """The Layer table opens under the plots, beside the diagnoses: every column whole, and the plots
    keep the width they have with the scenario panel alone (at the right, the table's 700 px beside the
    scenario panel left the plots 300-450 px and a horizontal scroll bar)."""
    scenario = load_scenario("dying_relu")
    assert "table" in scenario.open
    w = make_window(scenario.config)
    w.resize(*size)
    w.choose_scenario("dying_relu")
    qtbot.waitUntil(lambda: w.table_dock.isVisible() and w.table.model_.rowCount() == scenario.config.depth,
                    timeout=30000)
    qtbot.wait(100)   # (layouts settle on the event loop)
    assert (w.width(), w.height()) == size
    assert not w.plots.horizontalScrollBar().isVisible()
    assert w.table.viewport().width() >= w.table.horizontalHeader().length()
    assert w.plots.width() >= size[0] - w.controls.width() - w.scenario_dock.width() - 40


def spectrum_areas(window):
    """[QRect of each spectrum plot's data area, in the spectrum view's viewport pixels]."""
    view = window.spectrum_view
    return [view.mapFromScene(p.vb.sceneBoundingRect()).boundingRect() for p in view.data_plots()]


@pytest.mark.parametrize("name", ["rnn_exploding", "rnn_vanishing"])
@pytest.mark.parametrize("size", [(1024, 768), (1280, 720)])
def test_presentation_shows_the_spectrum_a_look_for_names(make_window, qtbot, name, size):
    """The W_hh spectrum that 9a/9b's "look for" names stays open in presentation mode, under one plot
    of the plot panel: both its plots and that plot whole, in sight and large, and the window the size asked."""
    w, scenario = present(make_window, qtbot, name, size, 0)
    qtbot.waitUntil(lambda: w.spectrum_view.drawn[0] is not None, timeout=30000)
    qtbot.wait(100)
    assert "spectrum" in scenario.open and "spectrum" in [item.plot for item in scenario.look_for]
    image = w.grab()
    assert (image.width(), image.height()) == size
    assert sorted(d.windowTitle() for d in w.findChildren(QDockWidget) if d.isVisible()) == \
        sorted([w.scenario_dock.windowTitle(), w.spectrum_dock.windowTitle()])
    assert len(w.plots.focused) == 1
    assert_whole_and_large(w, w.plots.focused, *PRESENT_MIN)
    view = w.spectrum_view
    assert not view.horizontalScrollBar().isVisible() and not view.verticalScrollBar().isVisible()
    areas = spectrum_areas(w)
    assert len(areas) == 2
    for rect in areas:
        assert rect.width() >= PRESENT_MIN[0] and rect.height() >= PRESENT_MIN[1], rect
        assert view.viewport().rect().contains(rect.adjusted(1, 1, -1, -1)), rect
    # the next scenario, without a spectrum, closes it again
    w.show_scenario(load_scenario("deep_sigmoid_vanishing"))
    qtbot.wait(50)
    assert [d for d in w.findChildren(QDockWidget) if d.isVisible()] == [w.scenario_dock]
    assert len(w.plots.focused) == 2


def test_the_theory_look_for_points_at_the_gradient_plot_in_presentation():
    """3b's "theory" look-for is the χ sentence (status bar) and the dashed mean-field curve, drawn on
    the gradient plot: presentation mode shows that plot (the theory dock's plots are no look-for's)."""
    from app.panels.scenario import PLOT_NAMES
    scenario = load_scenario("large_init_tanh_saturation")
    assert "theory" in [item.plot for item in scenario.look_for]
    assert "gradients" in plots_for(scenario)
    assert "dock" not in PLOT_NAMES["theory"]


def test_a_look_for_name_brings_up_its_view(make_window, qtbot):
    """10a opens the Gradient noise tab, and names the loss too: clicking the loss's name in the
    scenario panel turns to the plots and, in presentation mode, shows the loss plot first; the
    noise's name turns back; a dock's name opens it."""
    w, scenario = present(make_window, qtbot, "noisy_small_batches", (1280, 720), 0)
    assert [item.plot for item in scenario.look_for] == ["noise", "loss"]
    assert w.tabs.currentWidget() is w.noise_plots
    w.scenario_panel.reveal()
    assert "href='view:loss'" in w.scenario_panel.answer.text()
    w.scenario_panel.answer.linkActivated.emit("view:loss")
    assert w.tabs.currentWidget() is w.plots and w.plots.focused[0] is w.plots.loss
    w.scenario_panel.answer.linkActivated.emit("view:noise")
    assert w.tabs.currentWidget() is w.noise_plots
    w.scenario_panel.answer.linkActivated.emit("view:updates")
    assert w.tabs.currentWidget() is w.plots and w.plots.focused[0] is w.plots.updates
    w.show_scenario(scenario)   # (a scenario shown again: its own plots first again)
    assert w.plots.focused[0] is not w.plots.updates
    w.scenario_panel.answer.linkActivated.emit("view:diagnoses")
    assert w.diagnoses_dock.isVisible()


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_theory_dock_shares_the_scenario_panels_width_and_fits_its_plots(make_window, qtbot, size):
    """3b opens the Theory dock under the scenario panel: it takes the panel's width, not 620 px (which
    left the plots 366 px and a horizontal scroll bar), and each of its plots (title, colour bar,
    legend) fits its widget: nothing cut at the right."""
    from PySide6.QtCore import Qt
    w = make_window(load_scenario("large_init_tanh_saturation").config)
    w.resize(*size)
    w.choose_scenario("large_init_tanh_saturation")
    qtbot.waitUntil(lambda: w.theory.dock.isVisible(), timeout=30000)
    qtbot.wait(100)
    assert (w.width(), w.height()) == size
    assert w.theory.dock.width() <= w.scenario_dock.width() + 1
    assert not w.plots.horizontalScrollBar().isVisible(), (w.plots.width(), w.plots.floor(), w.plots.zoom, w.controls.width(), w.scenario_dock.width())
    assert w.plots.width() >= size[0] - w.controls.width() - w.scenario_dock.width() - 40
    for view in (w.theory.phase, w.theory.sweep, w.theory.jacobian):
        w.theory.tabs.setCurrentWidget(view)
        qtbot.wait(20)
        item = view.plot.getPlotItem()
        least = item.effectiveSizeHint(Qt.SizeHint.MinimumSize).width()
        assert least <= view.plot.width(), f"{type(view).__name__}: {least:.0f} > {view.plot.width()}"


@pytest.mark.parametrize("name", ["rnn_clipping", "fastai_std_28"])
def test_with_the_layer_table_open_every_plot_keeps_its_height_on_a_1366_laptop(make_window, qtbot, name):
    """A scenario that opens the Layer table under the plots, beside the diagnoses, at 1366 × 768: the
    docks under the plots stay low enough that every plot (the loss and update ratios a look-for names
    too) keeps a data area at least 100 px high, whole and in sight (they scrolled out of sight)."""
    scenario = load_scenario(name)
    assert "table" in scenario.open
    w = make_window(scenario.config)
    w.resize(1366, 768)
    w.choose_scenario(name)
    if scenario.steps:
        w.set_running(True, until=scenario.steps)
        qtbot.waitUntil(lambda: w.plots.drawn_step == scenario.steps and not w.is_running(), timeout=60000)
    qtbot.waitUntil(lambda: w.table_dock.isVisible(), timeout=30000)
    qtbot.wait(100)
    assert (w.width(), w.height()) == (1366, 768)
    assert w.diagnoses_dock.isVisible() and w.table_dock.isVisible()
    assert_whole_and_large(w, w.plots.views, 1, NORMAL_MIN_HEIGHT)


@pytest.mark.parametrize("size", [(1366, 768), (1600, 1000)])
def test_the_spectrum_dock_shows_its_plots_whole_in_normal_mode(make_window, qtbot, size):
    """9b opens the W_hh spectrum beside the diagnoses: both its plots lie whole inside the view (the
    right one, whose title widens once ρ is known, ran past the window's edge), without scroll bars."""
    scenario = load_scenario("rnn_exploding")
    w = make_window(scenario.config)
    w.resize(*size)
    w.choose_scenario("rnn_exploding")
    qtbot.waitUntil(lambda: w.spectrum_view.drawn[0] is not None, timeout=30000)
    qtbot.wait(100)
    view = w.spectrum_view
    assert not view.horizontalScrollBar().isVisible() and not view.verticalScrollBar().isVisible()
    for plot in view.data_plots():
        whole = view.mapFromScene(plot.sceneBoundingRect()).boundingRect()
        assert view.viewport().rect().contains(whole.adjusted(1, 1, -1, -1)), (plot.titleLabel.text, whole)
    for rect in spectrum_areas(w):
        assert rect.height() >= NORMAL_MIN_HEIGHT, rect
