"""The main window with its worker thread: commands, live plots, divergence, teardown."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PySide6.QtCore import Qt

from app.panels.layer_table import column, compact_number
from app.plot_kit import LAYER_COLORS
from app.plot_math import GRID_BINS, auto_layers
from core import SimConfig, Simulator

EXPLODING = dict(activation="relu", init="normal", init_std=1.0, depth=50, lr=1.0,
                 width=16, n_samples=256, batch_size=32)  # goes non-finite at step 2 (checked)


def wait_step(qtbot, window, pred, timeout=15000):
    qtbot.waitUntil(lambda: window.plots.drawn_snapshot is not None and pred(window.plots.drawn_snapshot),
                    timeout=timeout)
    return window.plots.drawn_snapshot


def test_startup_probe_is_drawn(make_window, small_config):
    w = make_window(small_config)
    snap = w.plots.drawn_snapshot
    assert snap.kind == "probe" and snap.step == 0 and snap.depth == small_config.depth
    assert "CPU" in w.device_label.text() or "CUDA" in w.device_label.text()


def test_rapid_steps_coalesce_into_one_call(make_window, small_config, qtbot):
    w = make_window(small_config)
    for _ in range(5):
        w.step()
    snap = wait_step(qtbot, w, lambda s: s.step == 5)
    assert snap.kind == "step"


def test_step_reset_probe(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.step()
    wait_step(qtbot, w, lambda s: s.kind == "step" and s.step == 1)
    w.step()
    wait_step(qtbot, w, lambda s: s.step == 2)
    w.probe()
    snap = wait_step(qtbot, w, lambda s: s.kind == "probe")
    assert snap.step == 2
    w.reset()
    snap = wait_step(qtbot, w, lambda s: s.kind == "probe" and s.step == 0)
    assert w.history.steps == []


def test_run_and_pause(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.toggle_run()
    assert w.is_running() and "Pause" in w.run_button.text()
    wait_step(qtbot, w, lambda s: s.step >= 20)
    w.toggle_run()
    assert not w.is_running()
    qtbot.wait(200)
    last = w.latest.step
    qtbot.wait(200)
    assert w.latest.step == last
    assert "Run" in w.run_button.text()
    assert len(w.history.steps) >= 2 and w.history.steps == sorted(w.history.steps)


def test_the_loss_curve_has_every_step_though_statistics_come_per_chunk(make_window, small_config, qtbot):
    cfg = small_config.replace(clip_mode="norm", clip_threshold=0.3)
    w = make_window(cfg)
    w.set_running(True, until=300)
    qtbot.waitUntil(lambda: not w.is_running() and w.latest.step == 300, timeout=60000)
    assert w.history.steps == list(range(1, 301))
    assert len(w.history.snapshots()) < 300  # full statistics only for each chunk's last step
    reference = Simulator(cfg)
    losses, clips = [], 0
    for _ in range(300):
        snap = reference.step()
        losses.append(snap.loss)
        clips += snap.clipped
    assert w.history.loss == pytest.approx(losses, rel=1e-4)  # the worker runs one torch thread fewer
    assert w.history.clip_events == clips > 0


def test_keyboard_shortcuts(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.activateWindow()
    w.plots.setFocus()
    qtbot.keyClick(w.plots, Qt.Key.Key_S)
    wait_step(qtbot, w, lambda s: s.step == 1)
    qtbot.keyClick(w.plots, Qt.Key.Key_Space)
    qtbot.waitUntil(w.is_running, timeout=2000)
    qtbot.keyClick(w.plots, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: not w.is_running(), timeout=2000)
    qtbot.keyClick(w.plots, Qt.Key.Key_R)
    wait_step(qtbot, w, lambda s: s.kind == "probe" and s.step == 0)


def test_plots_receive_the_snapshot_values(make_window, small_config, qtbot):
    w = make_window(small_config)
    for i in range(1, 4):
        w.step()
        snap = wait_step(qtbot, w, lambda s, i=i: s.step == i)
    ls = snap.layers
    # gradient per layer: log10 of grad_norm and weight_grad_norm
    x, y = w.plots.gradients.curve.getData()
    np.testing.assert_array_equal(x, np.arange(1, snap.depth + 1))
    np.testing.assert_allclose(y, np.log10(ls.grad_norm), rtol=1e-12)
    _, yw = w.plots.gradients.weight_curve.getData()
    np.testing.assert_allclose(yw, np.log10(ls.weight_grad_norm), rtol=1e-12)
    # histogram overlay: each selected layer's density on its own edges
    layers = auto_layers(snap.depth)
    for curve, layer in zip(w.plots.histograms.curves, layers):
        hx, hy = curve.getData()
        counts = ls.act_hist_counts[layer - 1]
        edges = ls.act_hist_edges[layer - 1]
        np.testing.assert_allclose(hx, edges)
        np.testing.assert_allclose(hy, counts / (counts.sum() * np.diff(edges)))
        assert np.sum(hy * np.diff(hx)) == pytest.approx(1.0)
    # the legend table: one row per drawn layer, in its colour, with the layer's mean, std and saturation
    assert [cells[0] for _, cells in w.plots.histograms.legend.rows] == [f"L{k}" for k in layers]
    colour, (_, z_mean, z_std, mean, std, sat, note) = w.plots.histograms.legend.rows[-1]
    k = layers[-1] - 1
    assert colour == LAYER_COLORS[len(layers) - 1] and note == ""
    assert float(mean) == pytest.approx(ls.act_mean[k], rel=5e-3, abs=5e-4)
    assert float(std) == pytest.approx(ls.act_std[k], rel=5e-3)
    assert float(z_mean) == pytest.approx(ls.preact_mean[k], rel=5e-3, abs=5e-4)
    assert float(z_std) == pytest.approx(ls.preact_std[k], rel=5e-3)
    assert sat == f"{100 * ls.saturated_frac[k]:.0f}%"
    # heatmap: one row per layer
    assert w.plots.activations.image.index.shape == (snap.depth, GRID_BINS)
    # loss/accuracy over steps and the layer x step map
    lx, ly = w.plots.loss.loss_curve.getData()
    assert list(lx) == [1, 2, 3] and ly[-1] == pytest.approx(snap.loss)
    _, ay = w.plots.loss.acc_curve.getData()
    assert ay[-1] == pytest.approx(snap.accuracy)
    assert w.plots.gradient_history.image.index.shape == (snap.depth, 3)
    # update ratio of the first selected layer over steps
    ux, uy = w.plots.updates.curves[0].getData()
    assert list(ux) == [1, 2, 3]
    assert uy[-1] == pytest.approx(np.log10(ls.update_to_weight[layers[0] - 1]))
    # status bar
    assert w.step_label.text() == "step 3"
    assert f"{snap.loss:.4g}" in w.loss_label.text()


def test_layer_selection_and_table(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.layers_edit.setText("2, 5")
    w.layers_edit.editingFinished.emit()
    qtbot.waitUntil(lambda: [cells[0] for _, cells in w.plots.histograms.legend.rows] == ["L2", "L5"], timeout=3000)
    assert not w.plots.histograms.curves[2].isVisible()
    w.table_action.setChecked(True)
    model = w.table.model_
    qtbot.waitUntil(lambda: model.rowCount() == small_config.depth, timeout=3000)
    snap = w.latest
    assert model.data(model.index(0, 0)) == "1"
    assert model.data(model.index(1, column("grad_norm"))) == compact_number(snap.layers.grad_norm[1])
    assert model.data(model.index(1, column("preact_std"))) == compact_number(snap.layers.preact_std[1])


def test_control_change_rebuilds_and_probes(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.controls.connectors["depth"].slider.setValue(9)
    snap = wait_step(qtbot, w, lambda s: s.depth == 9)
    assert snap.kind == "probe"
    assert w.plots.activations.image.index.shape[0] == 9


def test_run_continues_with_new_config(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.set_running(True)
    wait_step(qtbot, w, lambda s: s.step >= 5)
    w.controls.connectors["width"].widget.setValue(20)
    w.controls.connectors["depth"].slider.setValue(4)
    wait_step(qtbot, w, lambda s: s.depth == 4 and s.kind == "step" and s.step >= 3)
    assert w.is_running()
    w.set_running(False)


def test_exploding_config_pauses_with_a_message(make_window, qtbot):
    w = make_window(SimConfig(**EXPLODING))
    w.set_running(True)
    qtbot.waitUntil(lambda: bool(w.diverged_message), timeout=15000)
    qtbot.waitUntil(lambda: not w.is_running(), timeout=2000)
    snap = wait_step(qtbot, w, lambda s: s.nonfinite)
    msg = w.diverged_message
    assert f"step {snap.step}" in msg and snap.nonfinite_stage in msg
    if snap.nonfinite_layer is not None:
        assert f"layer {snap.nonfinite_layer}" in msg
    assert w.banner.isVisibleTo(w) and w.banner.text() == msg
    # non-finite cells are marked, not dropped
    assert ((w.plots.gradient_history.image.index == 255).any() or len(w.plots.gradients.bad.data)
            or len(w.plots.activations.bad.data))
    # Reset recovers
    w.reset()
    wait_step(qtbot, w, lambda s: s.kind == "probe" and s.step == 0 and not s.nonfinite)
    assert not w.banner.isVisibleTo(w)


def test_window_renders_non_blank(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.step()
    wait_step(qtbot, w, lambda s: s.step == 1)
    image = w.grab().toImage()
    assert image.width() > 800 and image.height() > 500
    colours = {image.pixel(x, y) for x in range(0, image.width(), 17) for y in range(0, image.height(), 17)}
    assert len(colours) > 50


def test_closing_during_a_run_joins_the_thread(qtbot, small_config):
    from app.window import MainWindow

    w = MainWindow(small_config)
    w.show()
    w.set_running(True)
    qtbot.waitUntil(lambda: w.latest is not None and w.latest.step > 3, timeout=15000)
    thread = w.worker_thread.thread
    assert thread.isRunning()
    w.close()
    assert not thread.isRunning() and thread.isFinished()
    w.deleteLater()


@pytest.mark.skipif(torch.cuda.is_available(), reason="tests the CPU fallback")
def test_cuda_request_falls_back_to_cpu_with_notice(make_window, small_config, qtbot):
    w = make_window(small_config.replace(device="cuda"))
    qtbot.waitUntil(lambda: "CUDA" in w.message_label.text(), timeout=5000)
    assert "CPU" in w.device_label.text()
    assert w.banner.isVisibleTo(w)


def test_noise_tab_and_learning_rate_in_the_status_bar(make_window, small_config, qtbot):
    w = make_window(small_config.replace(warmup_steps=4, lr=0.1, grad_accum=2))
    w.tabs.setCurrentWidget(w.noise_plots)
    w.step()
    snap = wait_step(qtbot, w, lambda s: s.step == 1)
    qtbot.waitUntil(lambda: w.noise_plots.drawn_step == 1, timeout=3000)
    assert w.lr_label.text() == "lr 0.025"  # warm-up: step 1 of 4 at lr/4
    _, y = w.noise_plots.layer_curve.getData()
    np.testing.assert_allclose(y, np.log10(snap.layers.grad_noise), rtol=1e-12)
    w.table_action.setChecked(True)
    model = w.table.model_
    qtbot.waitUntil(lambda: model.rowCount() == small_config.depth, timeout=3000)
    assert model.data(model.index(0, column("grad_noise"))) == compact_number(snap.layers.grad_noise[0])


def test_long_status_texts_are_clipped_not_widening_the_window(make_window, small_config, qtbot):
    """A 1366-pixel-wide laptop screen holds the window: the status bar's long sentences (device,
    χ) may be clipped (their tooltips hold them whole) but never set the window's minimum width."""
    w = make_window(small_config)
    qtbot.waitUntil(lambda: w.theory.chi_label.text().startswith("χ ="), timeout=5000)
    qtbot.wait(50)  # (the status bar's labels are all shown once the first probe is in)
    before = w.minimumSizeHint().width()
    sentence = "a very long explanation of why this device was chosen " * 4
    w.device_label.setText(sentence)
    w.theory.chi_label.setText(sentence)
    qtbot.wait(50)  # (the layouts take the new texts' sizes on the event loop)
    assert w.minimumSizeHint().width() == before < 1366


@pytest.mark.parametrize("docks", [("theory",), ("table",), ("spectrum",), ("theory", "spectrum", "table")])
def test_docks_on_a_laptop_screen_leave_the_plots_whole(make_window, qtbot, docks):
    """On a 1366 × 768 screen with docks open: the window still fits the screen, the plots keep
    their minimum height, and where the panel is narrower or lower than its layout's floor it
    scrolls instead of clipping or crushing the plots."""
    from app.panels.plot_panel import PANEL_MIN_HEIGHT

    w = make_window(SimConfig(architecture="rnn", depth=8, width=16, n_samples=128, batch_size=16, input_dim=8))
    w.resize(1366, 768)
    for name in docks:
        {"theory": w.theory.dock, "table": w.table_dock, "spectrum": w.spectrum_dock}[name].show()
    qtbot.wait(100)
    assert w.minimumSizeHint().width() <= 1366 and w.minimumSizeHint().height() <= 768
    assert w.width() == 1366 and w.height() == 768
    panel = w.plots
    assert panel.height() >= PANEL_MIN_HEIGHT
    floor, laid_out = panel.floor(), panel.ci.geometry()
    viewport = panel.viewport().size()
    assert laid_out.width() >= floor.width() - 0.5 and laid_out.height() >= floor.height() - 0.5
    # the layout fills the view where it fits and scrolls where it does not (in screen px: the
    # layout is drawn `panel.zoom` times its size, app/canvas.py)
    z = panel.zoom
    for laid, seen, bar in ((laid_out.width() * z, viewport.width(), panel.horizontalScrollBar()),
                            (laid_out.height() * z, viewport.height(), panel.verticalScrollBar())):
        if laid > seen + 0.5:
            assert bar.isVisible() and bar.maximum() >= laid - seen - 1
        else:
            assert not bar.isVisible() and abs(laid - seen) <= 1


def test_command_bar_overflows_instead_of_widening_the_window(make_window, small_config, qtbot):
    """The buttons sit in a tool bar: when the plots' column is narrow, the last ones go under its
    » button; they never set the window's minimum width (822 px of buttons did, before)."""
    w = make_window(small_config)
    bar = w.command_bar
    assert bar.minimumSizeHint().width() < 200
    w.resize(1366, 768)
    w.theory.dock.show()
    qtbot.wait(100)
    hidden = [b for b in (w.run_button, w.step_button, w.reset_button, w.probe_button) if not b.isVisible()]
    assert bar.width() < bar.sizeHint().width() and w.minimumSizeHint().width() < 1366
    assert not hidden  # (the first buttons stay; the tool bar drops from the end)


def test_status_bar_leaves_out_an_accuracy_that_does_not_apply(make_window, small_config, qtbot):
    """An autoencoder's snapshot carries accuracy NaN (no classes): the status bar shows the loss alone,
    not "acc nan%"; a classifier's shows both."""
    w = make_window(small_config.replace(architecture="autoencoder"))
    qtbot.waitUntil(lambda: w.loss_label.text().startswith("loss "), timeout=5000)
    assert "acc" not in w.loss_label.text() and "nan" not in w.loss_label.text()
    w2 = make_window(small_config)
    qtbot.waitUntil(lambda: "acc " in w2.loss_label.text(), timeout=5000)
    assert w2.loss_label.text().endswith("%")
