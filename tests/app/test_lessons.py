"""The lesson flow: menu order, Next / Previous, the hidden answer, the views a scenario opens and
points at, the "(modified)" mark, and the scenario files' optional keys."""
from __future__ import annotations

import json

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from app.lessons import changed_fields, neighbour
from core import ConfigError
from core.scenarios import SCENARIO_DIR, SCENARIOS, lesson_key, lesson_order, load_scenario, parse_scenario


def settled(qtbot, window, name: str) -> None:
    """Wait until the worker runs scenario `name`'s config and drew its probe. (Ending a test while
    the worker still rebuilds for a second scenario chosen just after a first can leave its thread
    running past the window's shutdown: seen on main as well, outside this module's code.)"""
    config = SCENARIOS[name].config
    qtbot.waitUntil(lambda: window.state.config == config and window.plots.drawn_snapshot is not None
                    and window.plots.drawn_snapshot.depth == config.depth, timeout=30000)


def scenario_titles(window) -> list[str]:
    (menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Scenarios"]
    return [a.text() for a in menu.actions() if a in window.scenario_actions.values()]


def test_menu_follows_lesson_order_and_every_title_has_its_number(make_window, small_config):
    w = make_window(small_config)
    names = lesson_order()
    assert scenario_titles(w) == [SCENARIOS[n].title for n in names]
    assert [lesson_key(SCENARIOS[n].lesson) for n in names] == sorted(lesson_key(SCENARIOS[n].lesson) for n in names)
    for name in names:
        scenario = SCENARIOS[name]
        assert scenario.title.startswith(f"{scenario.lesson}. ")


def test_neighbour_in_lesson_order():
    names = ("a", "b", "c")
    assert [neighbour(names, None, +1), neighbour(names, None, -1)] == ["a", "c"]
    assert [neighbour(names, "b", +1), neighbour(names, "b", -1)] == ["c", "a"]
    assert [neighbour(names, "c", +1), neighbour(names, "a", -1)] == ["c", "a"]  # clamped at the ends
    assert neighbour((), None, 1) is None


def test_next_and_previous_scenario_with_page_down_and_up(make_window, small_config, qtbot):
    w = make_window(small_config)
    flow = w.lessons
    assert flow.next_action.shortcut() == QKeySequence(Qt.Key.Key_PageDown)
    assert flow.previous_action.shortcut() == QKeySequence(Qt.Key.Key_PageUp)
    first, second = lesson_order()[:2]
    flow.next_action.trigger()
    assert w.scenario_panel.scenario.name == first and w.controls.config() == SCENARIOS[first].config
    flow.next_action.trigger()
    assert w.scenario_panel.scenario.name == second
    qtbot.keyClick(w, Qt.Key.Key_PageUp)
    assert w.scenario_panel.scenario.name == first and w.controls.config() == SCENARIOS[first].config
    settled(qtbot, w, first)


def test_the_answer_stays_hidden_until_reveal(make_window, small_config, qtbot):
    w = make_window(small_config)
    scenario = w.choose_scenario("zero_init")
    panel = w.scenario_panel
    assert scenario.predict in panel.shown_text()
    assert scenario.explanation[:40] not in panel.shown_text() and not panel.answer.isVisible()
    assert panel.reveal_button.isVisible()
    panel.reveal_button.click()
    assert panel.answer.isVisible() and not panel.reveal_button.isVisible()
    assert scenario.explanation[:40] in panel.shown_text()
    w.choose_scenario("deep_relu")  # the next scenario asks again
    assert not panel.answer.isVisible() and panel.reveal_button.isVisible()
    settled(qtbot, w, "deep_relu")


@pytest.mark.parametrize("name, view", [("fastai_kaiming", "table"), ("noisy_small_batches", "noise"),
                                        ("rnn_vanishing", "spectrum")])
def test_a_scenario_opens_the_view_it_names_and_frames_its_plots(make_window, small_config, qtbot, name, view):
    w = make_window(small_config)
    scenario = w.choose_scenario(name)
    assert view in scenario.open
    shown = {"table": lambda: w.table_dock.isVisible(), "noise": lambda: w.tabs.currentWidget() is w.noise_plots,
             "spectrum": lambda: w.spectrum_dock.isVisible()}
    qtbot.waitUntil(shown[view], timeout=5000)
    settled(qtbot, w, name)
    named = [item.plot for item in scenario.look_for if item.plot in w.plots.plots_named()]
    assert set(w.plots.highlighted) == set(named)
    for plot_name, plots in w.plots.plots_named().items():
        for plot in plots:
            assert (plot.vb.border is not None and plot.vb.border.style() != Qt.PenStyle.NoPen) == (plot_name in named)


def test_probe_only_scenario_says_so_over_the_empty_plots(make_window, small_config, qtbot):
    from app.panels.empty_note import NO_STEPS, PROBE_ONLY

    w = make_window(small_config)
    w.choose_scenario("xavier_tanh")
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot.depth == load_scenario("xavier_tanh").config.depth, timeout=30000)
    for note in w.plots.empty_notes():
        assert note.box.isVisible() and note.label.toPlainText() == PROBE_ONLY
    w.choose_scenario("zero_init")  # trains: the note says the steps are yet to come
    assert all(note.label.toPlainText() == NO_STEPS for note in w.plots.empty_notes())
    settled(qtbot, w, "zero_init")


def test_the_panel_says_when_the_config_moved_away_from_the_scenario(make_window, small_config, qtbot):
    w = make_window(small_config)
    scenario = w.choose_scenario("zero_init")
    panel = w.scenario_panel
    qtbot.waitUntil(lambda: w.state.config == scenario.config, timeout=15000)
    assert not panel.modified_label.isVisible() and panel.modified == ()
    w.state.request_config(scenario.config.replace(lr=scenario.config.lr * 2), now=True)
    qtbot.waitUntil(lambda: panel.modified == ("lr",), timeout=15000)
    assert panel.modified_label.isVisible() and panel.modified_label.text().startswith("2a (modified): lr")
    w.state.request_config(scenario.config, now=True)
    qtbot.waitUntil(lambda: panel.modified == (), timeout=15000)
    assert not panel.modified_label.isVisible()


def test_changed_fields_ignore_the_device():
    config = load_scenario("zero_init").config
    assert changed_fields(config.replace(device="cpu", depth=config.depth + 1), config) == ("depth",)


def _data(name: str) -> dict:
    return json.loads((SCENARIO_DIR / f"{name}.json").read_text(encoding="utf-8"))


def test_optional_keys_are_read_and_bad_values_named():
    base = _data("zero_init")
    scenario = parse_scenario("x", {**base, "open": ["table", "noise"],
                                    "scales": {"activations": [-1, 1], "gradients": [1e-6, 10], "loss": [0, 2]}})
    assert scenario.open == ("table", "noise")
    assert scenario.scales == {"activations": (-1.0, 1.0), "gradients": (1e-6, 10.0), "loss": (0.0, 2.0)}
    assert parse_scenario("x", base).open == () and parse_scenario("x", base).scales is None
    for bad, message in (
        ({"open": ["tabel"]}, "x.json: field 'open': unknown view 'tabel'; did you mean 'table'?"),
        ({"open": "table"}, "x.json: field 'open': expected a list of view names"),
        ({"scales": {"activations": [1, 0]}}, "x.json: field 'scales.activations': expected two finite numbers"),
        ({"scales": {"gradients": [0, 1]}}, "x.json: field 'scales.gradients': expected two positive numbers"),
        ({"scales": {"grad": [1, 2]}}, "x.json: field 'scales.grad': unknown scale; did you mean 'gradients'?"),
        ({"scales": {"loss": [0, float("nan")]}}, "field 'scales.loss': expected two finite numbers"),
        ({"scales": []}, "x.json: field 'scales': expected an object"),
    ):
        with pytest.raises(ConfigError) as info:
            parse_scenario("x", {**base, **bad})
        assert message in str(info.value)


def test_views_a_scenario_opens_are_ones_its_look_for_names():
    """A scenario opens only views it talks about (its "look for" names them)."""
    for name in lesson_order():
        scenario = SCENARIOS[name]
        assert set(scenario.open) <= {item.plot for item in scenario.look_for}, name


def test_lock_scales_toggle_uses_the_scenario_ranges_and_the_axis_choice(make_window, small_config, qtbot):
    w = make_window(small_config)
    scenario = w.choose_scenario("layernorm_batch_size_2")
    settled(qtbot, w, "layernorm_batch_size_2")
    assert w.lessons.lock_action.shortcut() == QKeySequence("L")
    w.lessons.lock_action.setChecked(True)
    assert w.plots.locked["activations"] == scenario.scales["activations"]
    qtbot.waitUntil(lambda: w.plots.activations.plot.viewRange()[0] == pytest.approx(scenario.scales["activations"]),
                    timeout=5000)
    w.lessons.lock_action.setChecked(False)
    assert w.plots.locked is None and w.plots.activations.locked is None
    w.lessons.scale_actions["per_layer"].trigger()
    assert w.plots.activation_scale == "per_layer"
    qtbot.waitUntil(lambda: w.plots.activations.per_layer, timeout=5000)
