"""Axes that fit what they show: the accuracy axis drawn where the accuracy is."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF

SIZES = ((1024, 768), (1280, 720), (1366, 768), (1600, 1000))


def axis_y(axis, value: float) -> float:
    """Scene y of `value`'s tick on a vertical AxisItem (ticks span the axis' height over its range)."""
    lo, hi = axis.range
    return axis.mapToScene(QPointF(0, axis.size().height() * (hi - value) / (hi - lo))).y()


def test_accuracy_curve_is_drawn_against_its_axis_at_every_window_size(make_window, small_config, qtbot):
    w = make_window(small_config)
    for _ in range(3):
        w.step()
    qtbot.waitUntil(lambda: w.plots.drawn_step == 3, timeout=15000)
    loss = w.plots.loss
    right = loss.plot.getAxis("right")
    for width, height in SIZES:
        w.resize(width, height)
        qtbot.waitUntil(lambda: w.size().height() == height or w.size().height() > height, timeout=5000)
        qtbot.wait(1)  # let the layouts run
        w.plots.scene().prepareForPaint()
        steps, acc = loss.acc_curve.getData()
        for x, value in ((steps[-1], acc[-1]), (steps[0], 0.0), (steps[0], 1.0)):
            drawn = loss.acc_view.mapViewToScene(QPointF(x, value)).y()
            assert drawn == pytest.approx(axis_y(right, value), abs=1.5), (width, height, value)


# --- scales that fit the quantity --------------------------------------------------------------
import math  # noqa: E402

import numpy as np  # noqa: E402

from app.history import History  # noqa: E402
from app.panels.layer_scale import use_per_layer  # noqa: E402
from app.plot_math import layer_scales, spans_decades  # noqa: E402
from core import SimConfig, Simulator  # noqa: E402
from core.scenarios import load_scenario  # noqa: E402


def test_spans_decades_and_layer_scales():
    assert not spans_decades(np.array([0.5, 0.7, 49.0]))           # 1.99 decades
    assert spans_decades(np.array([0.5, 0.7, 51.0, np.nan, 0.0]))   # 2.01: zeros and NaN left out
    assert not spans_decades(np.array([np.nan, 0.0, -3.0]))
    np.testing.assert_array_equal(layer_scales(np.array([2.0, 0.0, np.nan, np.inf])), [2.0, 1.0, 1.0, 1.0])
    assert use_per_layer(np.array([1.0, 1e-3]), "auto") and not use_per_layer(np.array([1.0, 1e-3]), "common")
    assert use_per_layer(np.array([1.0, 1.0]), "per_layer") and not use_per_layer(np.array([1.0, 0.5]), "auto")
    with pytest.raises(ValueError, match="activation scale"):
        use_per_layer(np.array([1.0]), "logg")


def _history(losses):
    sim = Simulator(SimConfig(depth=3, width=8, n_samples=64, batch_size=16))
    history = History()
    for loss in losses:
        history.add(dataclasses.replace(sim.step(), loss=float(loss)))
    return history


import dataclasses  # noqa: E402


@pytest.fixture
def panel(qtbot):
    from app.panels.plot_panel import PlotPanel

    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    return panel


def test_loss_goes_on_a_log_axis_beyond_two_decades_and_back(panel):
    sim = Simulator(SimConfig(depth=3, width=8, n_samples=64, batch_size=16))
    exploding = _history([0.7, 3.0, 2e3, 4e22])
    panel.loss.show(exploding)
    assert panel.loss.log and panel.loss.plot.getAxis("left").logMode
    _, y = panel.loss.loss_curve.getData()
    np.testing.assert_allclose(y, np.log10([0.7, 3.0, 2e3, 4e22]))
    lo, hi = panel.loss.plot.viewRange()[1]
    assert lo <= math.log10(0.7) and hi >= 22.6   # the first step's 0.7 is drawn, a decade above 0.07
    panel.loss.show(_history([0.7, 0.6, 0.5]))
    assert not panel.loss.log and not panel.loss.plot.getAxis("left").logMode
    _, y = panel.loss.loss_curve.getData()
    np.testing.assert_allclose(y, [0.7, 0.6, 0.5])
    del sim


def test_compare_window_loss_axis_keeps_a_stalled_run_readable(qtbot):
    """A at a stalled 0.68, B exploding to 1e3: on one linear axis A would sit 0.07 % of the way up,
    like 0.005; on the shared log axis it is a readable height above the bottom."""
    from app.panels.compare import CompareView
    from core.compare import Comparer, ConfigPair

    view = CompareView()
    qtbot.addWidget(view)
    view.resize(900, 900)
    view.show()
    config = SimConfig(depth=3, width=8, n_samples=64, batch_size=16)
    pair = Comparer(ConfigPair(config, config))
    c = pair.step()
    histories = {"A": _history([0.69, 0.68, 0.68]), "B": _history([0.7, 40.0, 1e3])}
    view.show_comparison(c, histories)
    assert view.loss_log
    lo, hi = view.plots["loss", "A"].viewRange()[1]
    assert (math.log10(0.68) - lo) / (hi - lo) > 0.05
    _, y = view.curves["loss", "A"].getData()
    np.testing.assert_allclose(y, np.log10([0.69, 0.68, 0.68]))


@pytest.mark.parametrize("name", ["small_init_collapse", "xavier_relu_fading"])
def test_activation_views_stay_readable_when_layer_scales_span_decades(panel, name):
    """3a (std 1e-2 → 1e-20) and 5b (std × 1/√2 per layer over 50 layers): each layer is drawn on its
    own scale, so no row of the map is black and the densities are of order 1, not 1e19."""
    scenario = load_scenario(name)
    snap = Simulator(scenario.config).probe()
    std = np.asarray(snap.layers.act_std)
    assert std[0] / std[-1] > 1e3   # the premise: the layers' scales span decades
    panel.show_snapshot(snap, History())
    assert panel.activations.per_layer and panel.histograms.per_layer
    index = panel.activations.image.index          # [L, V]: 0 is black (no values there)
    lit = (index > 0).mean(axis=1)
    assert lit.min() > 0.1, lit                    # every layer's values cover more than a tenth of the row
    for curve in panel.histograms.curves:
        if curve.isVisible():
            x, density = curve.getData()
            assert np.nanmax(density) < 20 and np.sum(density * np.diff(x)) == pytest.approx(1.0)
    assert "÷ layer std" in panel.activations.axis_text and f"{std[0]:.3g}" in panel.activations.axis_text
    # on one common axis (the choice the user can still make) the deep layers are a spike of 1–2 cells
    panel.activation_scale = "common"
    panel.show_snapshot(snap, History())
    assert not panel.activations.per_layer and panel.activations.axis_text == "activation value"
    assert ((panel.activations.image.index > 0).sum(axis=1) <= 2).sum() >= 5


def test_lock_scales_keeps_ranges_fixed_across_runs(panel):
    six_b, six_c = load_scenario("batchnorm_batch_size_2"), load_scenario("layernorm_batch_size_2")
    assert six_b.scales == six_c.scales and set(six_b.scales) == {"activations", "gradients", "loss"}
    small = dict(depth=6, width=16, n_samples=128, batch_size=2)
    runs = []
    for config in (six_b.config.replace(**small), six_c.config.replace(**small)):
        sim = Simulator(config)
        history = History()
        for _ in range(3):
            history.add(sim.step())
        runs.append((sim.probe(), history))
    panel.show_snapshot(*runs[0])
    locked = panel.set_locked(dict(six_b.scales))
    assert locked["activations"] == six_b.scales["activations"]
    seen = []
    for snap, history in runs:
        panel.show_snapshot(snap, history)
        seen.append((panel.activations.plot.viewRange()[0], panel.histograms.plot.viewRange()[0],
                     panel.gradients.plot.viewRange()[1], panel.loss.plot.viewRange()[1],
                     tuple(panel.gradient_history.bar.levels())))
    assert seen[0] == seen[1]
    assert seen[0][0] == pytest.approx(six_b.scales["activations"])
    assert seen[0][2] == pytest.approx([math.log10(v) for v in six_b.scales["gradients"]])
    assert seen[0][3] == pytest.approx(six_b.scales["loss"])
    assert seen[0][4] == pytest.approx([math.log10(v) for v in six_b.scales["gradients"]])  # the map's colours
    panel.set_locked(None)
    assert panel.locked is None and panel.gradients.locked is None
