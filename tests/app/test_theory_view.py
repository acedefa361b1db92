"""Theory dock and overlay in the running window: overlay = core's prediction, phase-diagram
clicks set the config, the depth sweep runs with progress and cancels, the Jacobian view."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from core import Simulator
from core import theory
from core.jacobian import simulator_spectrum


def wait_profile(qtbot, w):
    qtbot.waitUntil(lambda: getattr(w.plots, "theory_profile", None) is not None
                    and w.plots.drawn_snapshot is not None, timeout=15000)


def test_overlay_curves_are_the_core_prediction(make_window, small_config, qtbot):
    w = make_window(small_config)
    wait_profile(qtbot, w)
    prof = theory.predict(small_config)
    snap = w.plots.drawn_snapshot
    x, y = w.plots.gradients.theory.getData()
    np.testing.assert_allclose(x, np.arange(1, small_config.depth + 1))
    np.testing.assert_allclose(y, np.log10(snap.layers.grad_norm[-1] * prof.grad_ratio), rtol=1e-12)
    lo_x, _ = w.plots.activations.theory[0].getData()
    hi_x, _ = w.plots.activations.theory[1].getData()
    np.testing.assert_allclose(lo_x, prof.act_mean - prof.act_std, rtol=1e-12)
    np.testing.assert_allclose(hi_x, prof.act_mean + prof.act_std, rtol=1e-12)
    assert w.theory.chi_label.text() == prof.sentence
    assert w.theory.chi_label.toolTip().startswith(prof.sentence)  # (whole, where the label may be clipped)


def test_no_prediction_for_constant_init(make_window, small_config, qtbot):
    w = make_window(small_config.replace(init="constant"))
    qtbot.waitUntil(lambda: "mean-field" in w.theory.chi_label.text(), timeout=5000)
    assert w.theory.profile is None
    assert len(w.plots.gradients.theory.getData()[0] if w.plots.gradients.theory.getData()[0] is not None else []) == 0
    assert "constant" in w.theory.chi_label.toolTip()
    # back to a network with a prediction: its tooltip explains χ again, not the old reason
    w.controls.connectors["init"].widget.setCurrentText(small_config.init)  # (as the user picks it)
    qtbot.waitUntil(lambda: w.theory.profile is not None, timeout=5000)
    assert "Mean-field χ" in w.theory.chi_label.toolTip() and "constant" not in w.theory.chi_label.toolTip()


def test_clicking_the_phase_diagram_sets_gain_and_bias(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.theory.dock.show()
    view = w.theory.phase
    qtbot.waitUntil(lambda: view.grid is not None, timeout=15000)
    w.resize(1700, 1000)
    qtbot.wait(100)
    vb = view.plot.getPlotItem().vb
    target = (1.5, 0.1)
    scene_pt = vb.mapViewToScene(pg_point(*target))
    widget_pt = view.plot.mapFromScene(scene_pt)
    with qtbot.waitSignal(w.state.configRequested, timeout=5000):
        qtbot.mouseClick(view.plot.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(widget_pt.x(), widget_pt.y()))
    cfg = w.controls.config()
    # one pixel of the view is (range / pixels) in each coordinate; allow two
    px_w = 2 * vb.viewRange()[0][1] / vb.width()
    px_b = 2 * vb.viewRange()[1][1] / vb.height()
    assert theory.hidden_sigma_w2(cfg) == pytest.approx(1.5, abs=px_w)
    assert cfg.bias_std**2 == pytest.approx(0.1, abs=px_b)
    assert cfg.init == small_config.init                  # xavier_normal has a gain: only it changed
    x, y = view.marker.getData()
    assert x[0] == pytest.approx(theory.hidden_sigma_w2(cfg)) and y[0] == pytest.approx(cfg.bias_std**2)


def test_a_phase_diagram_pick_goes_through_the_memory_check(make_window, small_config, qtbot, monkeypatch):
    from core.memory import MemoryLimitError

    w = make_window(small_config)
    view = w.theory.phase

    def refuse(cfg):
        raise MemoryLimitError("refused by the check (test)")

    monkeypatch.setattr(w.state, "check", refuse)
    with qtbot.assertNotEmitted(w.state.configRequested):
        view.pick(1.5, 0.1)
    assert w.controls.config() == small_config and w.state.requested == small_config
    assert "refused by the check" in view.note.text()
    monkeypatch.undo()
    with qtbot.waitSignal(w.state.configRequested, timeout=1000):
        view.pick(1.5, 0.1)
    assert theory.hidden_sigma_w2(w.controls.config()) == pytest.approx(1.5)
    qtbot.waitUntil(lambda: w.state.config == w.controls.config(), timeout=10000)  # the worker runs it


def pg_point(x, y):
    from PySide6.QtCore import QPointF

    return QPointF(x, y)


def test_depth_sweep_runs_with_progress(make_window, small_config, qtbot):
    w = make_window(small_config)
    view = w.theory.sweep
    view.over.setCurrentText("activation")
    view.max_depth.setValue(3)                           # depths 1, 2, 3
    seen = []
    view.slot.progress.connect(lambda d, t: seen.append((d, t)))
    view.run()
    assert not view.run_button.isEnabled() and view.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: view.result is not None, timeout=60000)
    assert seen[-1] == (33, 33) and view.bar.value() == 33
    assert view.run_button.isEnabled() and not view.cancel_button.isEnabled()
    g = Simulator(small_config.replace(activation="relu", depth=3)).probe().layers.grad_norm
    x, y = view.curves["relu"].getData()
    np.testing.assert_allclose(x, [1, 2, 3])
    assert 10 ** y[-1] == pytest.approx(g[0] / g[-1], rel=1e-9)


def test_depth_sweep_cancels(make_window, small_config, qtbot):
    w = make_window(small_config)
    view = w.theory.sweep
    view.max_depth.setValue(200)
    view.run()
    qtbot.waitUntil(lambda: view.bar.value() >= 1, timeout=30000)
    job = view.slot.job
    view.cancel_button.click()
    assert not view.slot.busy() and "cancelled" in view.status.text()
    assert job.wait(30000)                               # stops at its next probe
    qtbot.wait(50)
    assert view.result is None and view.bar.value() < view.bar.maximum()


def test_jacobian_view_shows_the_core_spectrum(make_window, small_config, qtbot):
    w = make_window(small_config)
    view = w.theory.jacobian
    view.points.setValue(2)
    view.run()
    qtbot.waitUntil(lambda: view.spectrum is not None, timeout=30000)
    direct = simulator_spectrum(Simulator(small_config), 2)
    np.testing.assert_allclose(view.spectrum.singular_values, direct.singular_values, rtol=1e-6)
    edges, counts = view.hist.getData()
    assert counts.sum() == len(direct.singular_values) == 2 * small_config.width
    assert f"{direct.mean_sq:.3g}" in view.summary.text() and view.summary.text().startswith("Step 0:")


def test_jacobian_view_analyses_the_trained_network_not_a_fresh_one(make_window, small_config, qtbot):
    cfg = small_config.replace(lr=0.5)  # three large steps move the weights visibly
    w = make_window(cfg)
    for n in (1, 2, 3):
        w.step()
        qtbot.waitUntil(lambda n=n: w.latest.kind == "step" and w.latest.step == n, timeout=15000)
    view = w.theory.jacobian
    view.points.setValue(2)
    view.run()
    qtbot.waitUntil(lambda: view.spectrum is not None, timeout=30000)
    sim = Simulator(cfg)
    fresh = simulator_spectrum(sim, 2)
    for _ in range(3):
        sim.step()
    trained = simulator_spectrum(sim, 2)
    # same steps, batches and kernels (the worker has one thread fewer: summation order differs)
    np.testing.assert_allclose(view.spectrum.singular_values, trained.singular_values, rtol=1e-4)
    assert np.abs(trained.singular_values / fresh.singular_values - 1).max() > 1e-2
    assert view.summary.text().startswith("Step 3:")
    assert w.worker_thread.thread.isRunning() and w.worker._sim.steps_done == 3  # training network untouched


@pytest.mark.parametrize("arch, dataset", [("cnn", "digits"), ("transformer", "first_token"), ("autoencoder", "digits")])
def test_views_that_do_not_apply_say_why(make_window, small_config, qtbot, arch, dataset):
    """As for 'rnn': the χ label, its tooltip and the phase diagram's note give core.theory's reason, and the
    Jacobian view core.jacobian's (the autoencoder's residual layers do have a Jacobian: it is computed)."""
    from core import ConfigError
    from core.jacobian import NO_JACOBIAN, check_supported

    cfg = small_config.replace(architecture=arch, dataset=dataset, depth=3)
    reason = theory.not_applicable(cfg)
    assert reason.startswith(f"no mean-field prediction for '{arch}': ")
    w = make_window(cfg)
    label = f"χ: no mean-field prediction for '{arch}'"
    qtbot.waitUntil(lambda: w.theory.chi_label.text() == label, timeout=5000)
    assert w.theory.profile is None and w.theory.chi_label.toolTip() == f"{label}\n\n{reason}"
    x, _ = w.plots.gradients.theory.getData()
    assert x is None or len(x) == 0                       # no overlay drawn
    assert w.theory.phase.note.text().startswith(f"Note: {reason}. ")
    view = w.theory.jacobian
    view.points.setValue(2)
    view.run()
    if arch == "autoencoder":
        qtbot.waitUntil(lambda: view.spectrum is not None, timeout=30000)
        direct = simulator_spectrum(Simulator(cfg), 2)
        np.testing.assert_allclose(view.spectrum.singular_values, direct.singular_values, rtol=1e-6)
        return
    with pytest.raises(ConfigError) as err:
        check_supported(cfg)
    assert view.summary.text() == str(err.value) and str(err.value).endswith(NO_JACOBIAN[arch])
