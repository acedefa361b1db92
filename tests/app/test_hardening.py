"""The window under bad input, divergence, memory limits and out-of-memory errors."""
from __future__ import annotations

import dataclasses
import json
import tracemalloc

import numpy as np
import pytest
import torch

from app.controls import LogSliderConnector, TextConnector
from app.history import History
from core import ConfigError, SimConfig, Simulator
from core import memory

EXPLODING = dict(activation="relu", init="normal", init_std=0.4, depth=50, lr=1.0, width=16, n_samples=256,
                 batch_size=32)  # non-finite at step 4 (tests/core/test_divergence.py replays it)

# every typed box, with texts a user could type; the config decides which are bad
TYPED = {
    "lr": ["abc", "", "-1", "0", "nan", "inf", "1e400", "1,5", "0x10", "1e-3"],
    "init_std": ["-0.5", "nan", "big", "-inf", "2"],
    "init_gain": ["0", "-1", "inf", "½", "3"],
    "bias_std": ["-1e-9", "NaN", "0.1"],
    "clip_threshold": ["0", "-2", "inf", "1e-12"],
    "seed": ["abc", "-1", "1.5", "9223372036854775808", "", "1e3", "12"],
    "weight_decay": ["-0.01", "nan", "decay", "1e-4"],
    # the user's files: references are checked as typed (the files when used, by a user architecture or 'file')
    "model": ["abc", "net.txt:make", "net.py:", "net.py:2x", "net.py:make"],
    "data_file": ["abc", "d.txt", "d.csv"],
    "label_column": ["species"],
}
GENERIC = ["abc", "-1", "nan", "", "inf"]  # for a typed box added later


def type_into(conn, text: str) -> None:
    edit = conn.edit if isinstance(conn, LogSliderConnector) else conn.widget
    assert isinstance(conn, (LogSliderConnector, TextConnector))
    edit.setText(text)
    edit.editingFinished.emit()


def config_rejects(cfg: SimConfig, name: str, text: str) -> bool:
    try:
        cfg.with_overrides([f"{name}={text}"])
    except ConfigError:
        return True
    return False


def wait_steps(qtbot, w, more: int, timeout: int = 20000) -> int:
    start = w.latest.step
    qtbot.waitUntil(lambda: w.latest.kind == "step" and w.latest.step >= start + more, timeout=timeout)
    return w.latest.step


def test_typed_boxes_refuse_what_the_config_refuses_and_the_run_goes_on(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.set_running(True)
    wait_steps(qtbot, w, 3)
    typed = [name for name, c in w.controls.connectors.items() if c.typed]
    assert set(TYPED) <= set(typed)
    refused = 0
    for name in typed:
        texts = TYPED.get(name, GENERIC)
        conn = w.controls.connectors[name]
        for text in texts:
            good = w.controls.config()
            generation = w.state.generation
            type_into(conn, text)
            if config_rejects(good, name, text):
                refused += 1
                error = w.controls.error_text(name)
                assert error.startswith(f"{name}: "), (name, text, error)
                assert w.controls.errors[name].isVisibleTo(w.controls)
                assert w.controls.config() == good
                # the last good configuration keeps training: no rebuild, steps still advance
                wait_steps(qtbot, w, 2)
                assert w.is_running() and w.state.generation == generation and w.latest.depth == good.depth
            else:
                assert w.controls.error_text(name) == ""
                assert w.controls.config() == good.with_overrides([f"{name}={text}"])
                qtbot.waitUntil(lambda: w.state.generation > generation, timeout=10000)  # rebuilt, still running
                wait_steps(qtbot, w, 2)
                assert w.is_running()
    assert refused >= 25
    w.set_running(False)


def test_a_size_beyond_the_memory_budget_is_refused_beside_the_control(make_window, small_config, qtbot,
                                                                      monkeypatch):
    w = make_window(small_config)
    need = memory.estimate(small_config, gui=True).total
    monkeypatch.setenv(memory.BUDGET_ENV, str(4 * need / memory.MB))  # room for 4x the small network
    good = w.controls.config()
    w.controls.connectors["width"].widget.setValue(2048)  # 128x the width: far beyond the budget
    error = w.controls.error_text("width")
    assert error.startswith("memory: depth 6 × width 2048 × batch_size 16 needs about ")
    assert f"budget set by {memory.BUDGET_ENV}" in error
    assert w.controls.config() == good
    w.controls.connectors["width"].widget.setValue(20)  # within the budget: accepted
    assert w.controls.error_text("width") == "" and w.controls.config().width == 20
    qtbot.waitUntil(lambda: w.latest.layers.act_hist_counts.sum(axis=1)[0] == 16 * 20, timeout=10000)


def test_divergence_pauses_and_the_history_keeps_the_bad_step(make_window, qtbot):
    w = make_window(SimConfig(**EXPLODING))
    delivered = []
    w.worker.snapshotReady.connect(lambda d: delivered.append(d.snapshot))
    w.set_running(True)
    qtbot.waitUntil(lambda: bool(w.diverged_message) and not w.is_running(), timeout=20000)
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot is not None and w.plots.drawn_snapshot.nonfinite, timeout=5000)
    bad = w.latest
    assert bad.nonfinite and bad.step == 4 and bad.nonfinite_stage == "forward"
    assert f"step 4, layer {bad.nonfinite_layer}" in w.diverged_message and w.banner.isVisibleTo(w)
    # every step up to and including the bad one is in the history, in order
    # (snapshots come once per chunk; the loss curve gets the chunks' other steps from their trail)
    steps = [s.step for s in delivered if s.kind == "step"]
    assert w.history.steps == [1, 2, 3, 4] and steps == sorted(set(steps)) and steps[-1] == 4
    assert np.isnan(w.history.loss[-1])
    assert w.history.layer_steps()[-1] == 4 and w.history.grad_norm().shape[1] == EXPLODING["depth"]
    # exportable: the snapshot's JSON is strict JSON (NaN/Inf written as null, flags say why)
    doc = json.loads(json.dumps(bad.to_dict(), allow_nan=False))
    assert doc["nonfinite"] and doc["nonfinite_layer"] == bad.nonfinite_layer
    # the histogram curves never receive NaN or Inf
    for curve in w.plots.histograms.curves:
        x, y = curve.getData()
        if x is not None and len(x):
            assert np.isfinite(x).all() and np.isfinite(y).all()
    # staying paused: nothing more arrives
    qtbot.wait(300)
    assert w.latest is bad


def test_cuda_out_of_memory_stops_the_run_with_the_state_intact(make_window, small_config, qtbot, monkeypatch):
    """A (simulated) CUDA OOM in the middle of a pass, after backward and before the update."""
    w = make_window(small_config)
    real = Simulator._apply_update
    seen = {"calls": 0, "params": None}

    def update_then_oom(sim, *args):
        seen["calls"] += 1
        if seen["calls"] == 25:
            seen["params"] = [p.detach().clone() for p in sim.model.parameters()]
            seen["steps_done"] = sim.steps_done
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real(sim, *args)

    monkeypatch.setattr(Simulator, "_apply_update", update_then_oom)
    w.set_running(True)
    qtbot.waitUntil(lambda: bool(w.diverged_message) and not w.is_running(), timeout=20000)
    assert w.diverged_message.startswith("Out of memory (CUDA out of memory. Tried to allocate 2.00 GiB)")
    assert w.banner.isVisibleTo(w) and "Run" in w.run_button.text()
    sim = w.worker._sim
    # no half-made step: the weights and the step count are those before the failed pass (the
    # plots may show an earlier step: a chunk's uninstrumented steps emit no snapshot)
    assert sim.steps_done == seen["steps_done"] >= w.latest.step
    assert all(torch.equal(a, b) for a, b in zip(seen["params"], sim.model.parameters()))
    assert w.history.steps[-1] == w.latest.step and w.worker_thread.thread.isRunning()
    # the window still works: a step, then Reset
    w.step()
    qtbot.waitUntil(lambda: w.latest.step == seen["steps_done"] + 1, timeout=10000)
    assert not w.banner.isVisibleTo(w)
    w.reset()
    qtbot.waitUntil(lambda: w.latest.kind == "probe" and w.latest.step == 0, timeout=10000)
    assert w.history.steps == []


def test_history_stays_bounded_over_100_000_steps(small_config):
    """A long run's history keeps at most `scalar_capacity` points of the loss (thinned, so the
    whole run keeps its shape) and a ring of `layer_capacity` per-layer rows: flat memory."""
    snap = Simulator(small_config).step(1)
    history = History()
    tracemalloc.start()
    try:
        for i in range(1, 10_001):
            history.add(dataclasses.replace(snap, step=i))
        after_10k = tracemalloc.get_traced_memory()[0]
        for i in range(10_001, 100_001):
            history.add(dataclasses.replace(snap, step=i))
        after_100k = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert len(history.steps) <= history.scalar_capacity + 1
    assert history.steps[0] == 1 and history.steps[-1] == 100_000 and history.steps == sorted(history.steps)
    assert len(history) == history.layer_capacity
    np.testing.assert_array_equal(history.layer_steps(), np.arange(100_001 - history.layer_capacity, 100_001))
    # 90 000 more steps add nothing lasting: a list of ≤ 4001 floats can at most be re-allocated
    # (~32 kB each for steps, loss, accuracy) and ~200 kB of small objects; a leak of one float per
    # step would be 90 000 × 24 bytes ≈ 2 MB.
    assert after_100k - after_10k < 500_000


@pytest.mark.filterwarnings("error")  # pyqtgraph's numpy warnings would be printed outside pytest
def test_plots_draw_a_pass_that_is_non_finite_everywhere_without_errors(qtbot, capfd):
    """relu with N(0, 1) weights at width 128 overflows float32 in the forward pass of step 1
    (Var z grows 64x per layer: √2·8⁴² ≈ 10³⁸ by layer 43), so gradients and loss are all NaN."""
    from app.panels.plot_panel import PlotPanel

    sim = Simulator(SimConfig(activation="relu", init="normal", init_std=1.0, depth=50, lr=1.0, device="cpu"))
    snap = sim.step(1)
    assert snap.nonfinite and snap.step == 1 and np.isnan(snap.layers.grad_norm).all()
    history = History()
    history.add(snap)
    panel = PlotPanel()
    qtbot.addWidget(panel)
    panel.resize(1200, 800)
    panel.show()
    capfd.readouterr()
    panel.show_snapshot(snap, history)
    panel.repaint()
    qtbot.wait(50)
    assert capfd.readouterr().err == ""
    assert panel.drawn_snapshot is snap and len(panel.gradients.bad.data) == 2 * snap.depth  # every layer marked


def test_garbage_is_collected_on_the_gui_thread_while_a_worker_runs(gc_policy_of_its_own, make_window, small_config,
                                                                     qtbot):
    """Cyclic garbage (which may hold Qt objects) is never collected on the simulation thread."""
    import gc
    import threading

    w = make_window(small_config)
    w.set_running(True)
    assert not gc.isenabled()
    collected_on = []

    class Cycle:
        def __del__(self):
            collected_on.append(threading.get_ident())

    c = Cycle()
    c.me = c
    del c
    qtbot.waitUntil(lambda: bool(collected_on), timeout=10000)
    assert collected_on == [threading.main_thread().ident]
    # the objects alive at start-up are left out of those collections (a full one traversed them all
    # and froze the GUI for 260 ms), and put back when automatic collection resumes
    assert gc.get_freeze_count() > 10_000
    w.shutdown()
    assert gc.isenabled() and gc.get_freeze_count() == 0


def test_a_paused_worker_probes_on_every_core_and_trains_on_one_fixed_count(small_config, qtbot):
    """A rebuild and probe alone are all the GUI waits for: they get every core. Every command that
    trains, running or a step taken while paused, uses the one training count (training_threads)."""
    import torch

    from app.torch_threads import default_threads
    from app.worker import SimWorker

    worker = SimWorker(small_config)
    worker.training_threads = 1
    before = torch.get_num_threads()
    try:
        with worker._cores(trains=False):
            assert torch.get_num_threads() == max(1, default_threads())
        assert torch.get_num_threads() == 1
        with worker._cores(trains=True):
            assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
