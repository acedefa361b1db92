"""Recurrent networks in the window: time-step axis names, the table header, and the W_hh spectrum view."""
from __future__ import annotations

import numpy as np

from app.history import History
from app.panels.noise import NoisePanel
from app.panels.plot_panel import PlotPanel
from app.panels.spectrum import SpectrumView
from app.plot_math import layer_noun
from core import SimConfig, Simulator

RNN = dict(architecture="rnn", dataset="first_token", depth=6, width=16, n_samples=64, batch_size=16,
           init="orthogonal", init_gain=1.3, device="cpu")


def _axis(plot, name):
    return plot.getAxis(name).labelText


def test_panel_names_time_steps_for_recurrent_networks(qtbot):
    panel = PlotPanel()
    qtbot.addWidget(panel)
    assert layer_noun("rnn") == layer_noun("lstm") == "time step" and layer_noun("residual") == "layer"
    assert _axis(panel.gradients.plot, "bottom") == "layer (input → output)"
    panel.set_layer_noun("time step")
    snap = Simulator(SimConfig(**RNN)).step()
    history = History()
    history.add(snap)
    panel.show_snapshot(snap, history)
    assert _axis(panel.gradients.plot, "bottom") == "time step (first → last)"
    assert _axis(panel.activations.plot, "left") == "time step"
    assert _axis(panel.gradient_history.plot, "left") == "time step"
    assert "per time step" in panel.gradients.plot.titleLabel.text
    assert "per time step" in panel.updates.plot.titleLabel.text
    assert panel.gradients.vanish_text.textItem.toPlainText() == "vanishing: < 1/100 of the last time step"
    labels = [cells[0] for _, cells in panel.histograms.legend.rows]
    assert labels and all(text.startswith("t") for text in labels)
    layers = panel.layers_for(snap.depth)
    assert _legend_names(panel.updates.legend, panel.updates.curves) == [f"t{k}" for k in layers]
    noise = NoisePanel()
    qtbot.addWidget(noise)
    noise.set_layer_noun("time step")
    noise.show_snapshot(snap, history, layers)
    assert _legend_names(noise.legend, noise.step_curves) == [f"t{k}" for k in layers]
    panel.set_layer_noun("layer")
    panel.show_snapshot(snap, history)
    noise.set_layer_noun("layer")
    noise.show_snapshot(snap, history, layers[:2])
    assert all(cells[0].startswith("L") for _, cells in panel.histograms.legend.rows)
    assert _legend_names(panel.updates.legend, panel.updates.curves) == [f"L{k}" for k in layers]
    assert _legend_names(noise.legend, noise.step_curves) == [f"L{k}" for k in layers[:2]]


def _legend_names(legend, curves):
    """The names `legend` shows for `curves`, in its order."""
    return [label.text for sample, label in legend.items if sample.item in curves]


def test_window_relabels_on_architecture_change(make_window, qtbot):
    w = make_window(SimConfig(**RNN))
    assert _axis(w.plots.gradients.plot, "bottom").startswith("time step")
    assert w.table.model_.headerData(0, __import__("PySide6.QtCore").QtCore.Qt.Orientation.Horizontal) == "Time step"
    assert w.overlay_label.text() == "Overlay time steps:" and "time-step" in w.table_dock.windowTitle()
    assert w.plots.drawn_snapshot.depth == RNN["depth"]
    w.controls.connectors["architecture"].widget.setCurrentText("mlp")
    qtbot.waitUntil(lambda: _axis(w.plots.gradients.plot, "bottom").startswith("layer"), timeout=15000)
    assert w.overlay_label.text() == "Overlay layers:"


def test_spectrum_dock_shows_the_eigenvalues_and_prediction(make_window, qtbot):
    cfg = SimConfig(**RNN)
    w = make_window(cfg)
    assert not w.spectrum_dock.isVisible()
    w.spectrum_action.setChecked(True)
    qtbot.waitUntil(lambda: w.spectrum_view.drawn[0] is not None, timeout=15000)
    spectrum, snap = w.spectrum_view.drawn
    # the same seed builds the same weights: compare with NumPy on an independent simulator
    ref = Simulator(cfg)
    lam = np.linalg.eigvals(ref.model.w_hh.detach().double().numpy())
    x, y = w.spectrum_view.points.getData()
    assert np.allclose(np.sort_complex(x + 1j * y), np.sort_complex(lam), atol=1e-6)
    np.testing.assert_allclose(np.abs(lam), 1.3, rtol=1e-5)  # gain·orthogonal
    _, predicted = w.spectrum_view.predicted.getData()
    g = snap.layers.grad_norm
    np.testing.assert_allclose(predicted, np.log10(g[-1] * 1.3 ** np.arange(len(g) - 1, -1, -1)), rtol=1e-5)
    _, measured = w.spectrum_view.measured.getData()
    np.testing.assert_allclose(measured, np.log10(g))
    # a step moves W_hh: a new spectrum arrives for step 1
    w.step()
    qtbot.waitUntil(lambda: w.spectrum_view.drawn[0] is not None and w.spectrum_view.drawn[0].step == 1,
                    timeout=15000)
    w.spectrum_action.setChecked(False)
    assert not w.spectrum_dock.isVisible()


def test_spectrum_view_explains_when_there_is_none(make_window, qtbot):
    w = make_window(SimConfig(**{**RNN, "architecture": "lstm"}))
    w.spectrum_action.setChecked(True)
    qtbot.waitUntil(lambda: w.state.spectrum is not None, timeout=15000)
    qtbot.waitUntil(lambda: "for 'rnn'" in w.spectrum_view.message.textItem.toPlainText(), timeout=5000)
    assert len(w.spectrum_view.points.getData()[0]) == 0


def test_spectrum_view_renders(qtbot):
    view = SpectrumView()
    qtbot.addWidget(view)
    view.resize(900, 400)
    sim = Simulator(SimConfig(**RNN))
    view.show_spectrum(sim.spectrum(), sim.probe())
    image = view.grab().toImage()
    assert image.width() > 0 and image.pixelColor(450, 200) is not None
    assert "ρ = max|λ| = 1.3" in view.plane.titleLabel.text


def test_none_true_false_are_pinned_against_the_pyside_reference_leak():
    import sys

    from app.workarounds.none_refcount import pin_none_refcount
    if not pin_none_refcount():  # Python ≥ 3.12: immortal already
        return
    # the pin adds 2⁴⁰ references; the leak (≈ 1–3 per setData/setRange) cannot undo that
    assert all(sys.getrefcount(s) > 2 ** 39 for s in (None, True, False))
