"""The A/B comparison window: editing B, lockstep steps, shared axes, the difference view, sessions, teardown."""
import json
import math

import numpy as np
import pytest

from core import SimConfig
from core.compare import ConfigPair
from tests.helpers import QUICK, as_sets

BASE = SimConfig(depth=6, width=16, n_samples=128, batch_size=16, activation="relu", device="cpu")


@pytest.fixture
def make_compare(make_window):
    from app.compare_window import CompareWindow

    return lambda pair: make_window(pair, CompareWindow)


def _edit(window, side, field, value):
    window.edit_side(side)
    conn = window.controls.connectors[field]
    conn.set_value(value)
    conn.changed.emit()


def _wait_drawn(qtbot, w, ok):
    qtbot.waitUntil(lambda: w.view.drawn is not None and w.view.drawn is w.latest and ok(w.view.drawn), timeout=15000)
    return w.view.drawn


def test_edit_b_step_both_and_plots_share_axes(qtbot, make_compare):
    w = make_compare(ConfigPair(BASE, BASE))
    assert w.differs_label.text().startswith("B is a copy of A")
    _edit(w, "B", "init", "kaiming_normal")
    assert w.pair.a == BASE and w.pair.b == BASE.replace(init="kaiming_normal")
    assert "init (xavier_normal → kaiming_normal)" in w.differs_label.text()
    from app.compare_window import DIFF_MARK, _row_label
    assert _row_label(w.controls.connectors["init"].widget).text().startswith(DIFF_MARK)
    assert not _row_label(w.controls.connectors["depth"].widget).text().startswith(DIFF_MARK)
    qtbot.waitUntil(lambda: w.state.generation >= 2, timeout=15000)  # rebuilt with the new pair
    w.step()
    c = _wait_drawn(qtbot, w, lambda c: c.kind == "step" and c.step == 1)
    w.step()
    c = _wait_drawn(qtbot, w, lambda c: c.kind == "step" and c.step == 2)
    assert c.a.step == c.b.step == 2 and w.histories["A"].steps == w.histories["B"].steps == [1, 2]
    # the comparison drawn is B with He init: ‖W‖ of B's first layer is larger (He std √2 × Xavier's for square
    # layers; the first layer is 2 → 16 wide, so only "larger" is certain)
    assert c.b.layers.weight_norm[1] > c.a.layers.weight_norm[1]
    view = w.view
    for key, field in (("grad", "grad_norm"), ("act", "act_std")):
        a_plot, b_plot = view.plots[key, "A"], view.plots[key, "B"]
        assert a_plot.viewRange() == b_plot.viewRange()  # the same ranges on both sides
        for side, snap in (("A", c.a), ("B", c.b)):
            x, y = view.curves[key, side].getData()
            expected = np.log10(getattr(snap.layers, field))
            np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
            lo, hi = a_plot.viewRange()[1]
            assert lo <= expected.min() and expected.max() <= hi  # every point inside the shared range
    assert view.plots["loss", "A"].viewRange() == view.plots["loss", "B"].viewRange()
    assert list(view.curves["loss", "B"].getData()[1]) == [w.histories["B"].loss[0], c.b.loss]
    # the difference view shows core's numbers, which are log10(‖g_B‖) − log10(‖g_A‖) layer by layer
    x, y = view.diff_curve.getData()
    expected = [math.log10(b) - math.log10(a) for a, b in zip(c.a.layers.grad_norm, c.b.layers.grad_norm)]
    assert list(x) == list(range(1, BASE.depth + 1))
    np.testing.assert_allclose(y, expected, rtol=0, atol=1e-12)
    assert w.grab().width() > 0
    # Reset rebuilds both from the seed: a probe at step 0 and fresh histories
    generation = w.state.generation
    w.reset()
    c0 = _wait_drawn(qtbot, w, lambda c: w.state.generation > generation and c.kind == "probe")
    assert c0.a.step == c0.b.step == 0 and w.histories["A"].steps == w.histories["B"].steps == []


def test_running_both_records_every_step_of_the_loss_curves(qtbot, make_compare):
    w = make_compare(ConfigPair(BASE, BASE.replace(init="kaiming_normal")))
    w.set_running(True, until=120)
    qtbot.waitUntil(lambda: not w.is_running() and w.latest is not None and w.latest.step == 120, timeout=60000)
    for side in "AB":
        assert w.histories[side].steps == list(range(1, 121))
    assert w.histories["A"].loss != w.histories["B"].loss  # two different networks


def test_editing_a_carries_over_to_b_where_equal(make_compare):
    w = make_compare(ConfigPair(BASE, BASE.replace(init="kaiming_normal")))
    _edit(w, "A", "depth", 9)
    assert w.pair.a.depth == 9 and w.pair.b.depth == 9 and w.pair.b.init == "kaiming_normal"
    _edit(w, "A", "init", "orthogonal")  # B's own change is kept
    assert w.pair.b.init == "kaiming_normal"
    _edit(w, "B", "batch_size", 8)
    assert "batch_size" in w.warning_label.text() and w.pair.a.batch_size == BASE.batch_size
    w.copy_a_to_b()
    assert w.pair.b == w.pair.a and w.warning_label.text() == ""


def test_zero_gradients_of_b_are_marked_minus_infinity(qtbot, make_compare):
    w = make_compare(ConfigPair(BASE, BASE.replace(init="zeros")))
    c = _wait_drawn(qtbot, w, lambda c: c.b.kind == "probe")
    # zero init: no gradient reaches any hidden layer of B, so every ratio is −∞, drawn as a marker
    x, y = w.view.diff_minus.getData()
    assert list(x) == list(range(1, BASE.depth + 1)) and np.all(y < 0)
    assert len(w.view.diff_curve.getData()[1]) == 0  # no finite ratio to draw as a line
    assert np.all(c.diff.log10_ratio == -np.inf)


def test_divergence_in_b_pauses_both_and_names_b(qtbot, make_compare):
    wild = BASE.replace(depth=20, init="normal", init_std=1.0, lr=1.0)
    w = make_compare(ConfigPair(BASE.replace(depth=20), wild))
    w.set_running(True)
    qtbot.waitUntil(lambda: bool(w.diverged_message), timeout=20000)
    qtbot.waitUntil(lambda: not w.is_running(), timeout=5000)
    assert w.diverged_message.startswith("B diverged: non-finite value at step") and "both runs paused" in w.diverged_message
    assert w.banner.isVisible()
    c = _wait_drawn(qtbot, w, lambda c: c.nonfinite)
    assert c.a.step == c.b.step and c.diverged() == ("B",)


def test_session_save_open_and_bad_file(tmp_path, make_compare):
    pair = ConfigPair(BASE, BASE.replace(clip_mode="value", clip_threshold=0.5))
    w = make_compare(pair)
    path = tmp_path / "ab.json"
    w.save_session(path)
    assert json.loads(path.read_text())["configs"]["b"]["config"]["clip_mode"] == "value"
    w.copy_a_to_b()
    assert w.open_session(path) and w.pair == pair
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema": "vanishing-point/session", "version": 99, "configs": {}}')
    assert not w.open_session(bad)
    assert w.pair == pair and "newer Vanishing Point" in w.banner.text() and w.banner.isVisible()


def test_the_a_b_window_asks_for_files_through_its_dialogs(tmp_path, make_compare, fake_dialogs):
    pair = ConfigPair(BASE, BASE.replace(init="kaiming_normal"))
    w = make_compare(pair)
    w.dialogs = fake_dialogs()
    path = tmp_path / "ab.json"
    w.dialogs.answers.append(str(path))
    w.save_button.click()
    assert json.loads(path.read_text())["configs"]["b"]["config"]["init"] == "kaiming_normal"
    w.copy_a_to_b()
    w.dialogs.answers.append(str(path))
    w.open_button.click()
    assert w.pair == pair
    w.dialogs.answers.append("")  # cancelled: nothing happens
    w.open_button.click()
    assert w.pair == pair and not w.dialogs.errors


@pytest.mark.parametrize("compare", [False, True], ids=["main", "a-b"])
def test_a_divergence_after_a_notice_is_shown_as_an_error(make_window, make_compare, compare):
    from app.run_commands import BANNER_ERROR, BANNER_NOTICE

    w = make_compare(ConfigPair(BASE, BASE)) if compare else make_window(BASE)
    w.worker.notice.emit("cuda requested but unavailable — falling back to the CPU.")
    assert w.banner.isVisibleTo(w) and w.banner.styleSheet() == BANNER_NOTICE and not w.diverged_message
    w.worker.failed.emit("Diverged: non-finite value at step 3")
    assert w.banner.styleSheet() == BANNER_ERROR and w.banner.text() == w.diverged_message
    assert w.message_label.text() == "Diverged: non-finite value at step 3"
    w.reset()  # recovers: the banner goes
    assert not w.banner.isVisibleTo(w) and not w.diverged_message and w.message_label.text() == ""


def test_both_windows_run_on_the_shared_commands(make_window, make_compare):
    from app.run_commands import RunCommands
    from app.state import PairState, SingleState

    main, ab = make_window(BASE), make_compare(ConfigPair(BASE, BASE))
    assert isinstance(main, RunCommands) and isinstance(ab, RunCommands)
    assert isinstance(main.state, SingleState) and isinstance(ab.state, PairState)
    for w in (main, ab):
        keys = {a.shortcut().toString() for a in w.actions()}
        assert {"Space", "S", "R", "P"} <= keys
        assert [b.text() for b in w.run_buttons()] == ["Run  [Space]", "Step  [S]", "Reset  [R]", "Probe  [P]"]


def test_main_window_opens_compare_and_closing_stops_its_thread(qtbot, make_window, small_config):
    main = make_window(small_config)
    main.compare_action.trigger()
    (cw,) = main.compare_windows
    qtbot.addWidget(cw)
    assert cw.pair == ConfigPair(small_config, small_config)
    qtbot.waitUntil(lambda: cw.view.drawn is not None, timeout=15000)
    cw.close()
    assert not cw.worker_thread.thread.isRunning()


def test_app_cli_compare_screenshot_and_bad_b(tmp_path, capsys, monkeypatch, qapp):
    """`python -m app --compare ... --screenshot` through main() in this process (tests/app/test_cli.py
    runs the app entry once as a real process). main() ends by shutting its QApplication down, which
    here is pytest-qt's for the whole session, and installs its own Qt message handler, which would
    take over pytest-qt's: both are left out."""
    from PySide6.QtWidgets import QApplication

    import app.workarounds.qt_messages
    from app.__main__ import main

    monkeypatch.setattr(QApplication, "shutdown", lambda self: None)
    monkeypatch.setattr(app.workarounds.qt_messages, "filter_platform_noise", lambda: None)
    out = tmp_path / "ab.png"
    assert main(["--compare", *as_sets(QUICK), "--b", "init=kaiming_normal", "--screenshot", str(out),
                 "--steps", "3"]) == 0
    captured = capsys.readouterr()
    assert "step 3" in captured.out and "Traceback" not in captured.err, captured.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert QApplication.instance() is qapp
    assert main(["--b", "depth=3"]) == 2 and "add --compare" in capsys.readouterr().err
    assert main(["--compare", "--b", "dept=3"]) == 2
    assert capsys.readouterr().err.startswith("error: --b (config B): dept: unknown field")
