"""The Scenarios menu, the scenario panel and the diagnoses list in the real window."""
from __future__ import annotations

import pytest

from app.panels.layer_table import compact_number
from core.scenarios import SCENARIOS, load_scenario


def menu_action(window, title):
    (menu,) = [a.menu() for a in window.menuBar().actions() if a.text() == "&Scenarios"]
    (action,) = [a for a in menu.actions() if a.text() == title]
    return action


def test_menu_lists_every_scenario_by_title(make_window, small_config):
    w = make_window(small_config)
    assert set(w.scenario_actions) == set(SCENARIOS)
    for name, action in w.scenario_actions.items():
        assert menu_action(w, SCENARIOS[name].title) is action
    assert not w.scenario_dock.isVisible()


def test_choosing_a_scenario_sets_the_config_and_shows_its_text(make_window, small_config, qtbot):
    w = make_window(small_config)
    scenario = load_scenario("deep_sigmoid_vanishing")
    menu_action(w, scenario.title).trigger()
    assert w.controls.config() == scenario.config
    assert w.scenario_dock.isVisible()
    text = w.scenario_panel.text()
    assert scenario.title in text and "Predict first" in text and "Gradient magnitude per layer" in text
    # the worker was reset with the scenario's network: its probe arrives with 30 layers, and the
    # diagnoses list shows the vanishing line for it
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot.depth == scenario.config.depth, timeout=30000)
    w.probe()
    qtbot.waitUntil(lambda: any("(vanishing)" in line for line in w.diagnoses.lines()), timeout=30000)
    (line,) = [line for line in w.diagnoses.lines() if "(vanishing)" in line]
    assert line.startswith("error: layers 1–") and w.diagnoses.item(0).foreground().color().name() == "#c62828"


def test_healthy_network_says_so(make_window, small_config, qtbot):
    w = make_window(small_config.replace(device="cpu"))
    qtbot.waitUntil(lambda: w.diagnoses.lines() != [], timeout=15000)
    assert w.diagnoses.lines() == ["no problems found"]


def test_app_unknown_scenario_exits_2_with_one_line(capsys):
    from app.__main__ import main

    # (in this process: main() refuses bad input before it makes any Qt object)
    assert main(["--scenario", "deep_sigmoidd"]) == 2
    captured = capsys.readouterr()
    (line,) = captured.err.strip().splitlines()
    assert captured.out == "" and line.startswith("error: scenario: unknown scenario 'deep_sigmoidd'; did you mean 'deep_sigmoid_vanishing'?")


def test_scenario_button_runs_its_steps_from_a_fresh_network(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.choose_scenario("zero_init")
    steps = load_scenario("zero_init").steps
    assert w.scenario_panel.run_button.text() == f"Run the scenario: {steps} steps"
    w.scenario_panel.run_button.click()
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot.step == steps and not w.is_running(), timeout=30000)
    assert w.diagnoses.lines()[0].startswith("error: layers 1–6: gradients exactly 0")


def test_layer_table_shows_preact_std_with_every_column_whole(make_window, small_config, qtbot):
    """4a is about preact_std ≈ √784 = 28: the Layer table shows it, and at the dock's default width
    every header line and every figure fits its column (nothing clipped or elided)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QFontMetrics

    from app.panels.layer_table import COLUMNS, column

    w = make_window(small_config)
    w.resize(1600, 1000)
    w.choose_scenario("fastai_std_28")
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot.depth == 1 and w.plots.drawn_snapshot.layers.preact_std[0] > 5,
                    timeout=30000)
    w.table_action.setChecked(True)
    model, table = w.table.model_, w.table
    qtbot.waitUntil(lambda: model.rowCount() == 1, timeout=5000)
    qtbot.wait(20)
    assert float(model.data(model.index(0, column("preact_std")))) == pytest.approx(28, rel=0.1)
    assert model.data(model.index(0, column("act_std"))) == compact_number(w.latest.layers.act_std[0])
    header, header_metrics = table.horizontalHeader(), QFontMetrics(table.horizontalHeader().font())
    cell_metrics = QFontMetrics(table.font())
    assert table.viewport().width() >= header.length()  # the dock shows every column
    for section in range(len(COLUMNS)):
        title = model.headerData(section, Qt.Orientation.Horizontal)
        width = header.sectionSize(section)
        assert all(header_metrics.horizontalAdvance(line) < width for line in title.split("\n")), title
        text = model.data(model.index(0, section))
        assert cell_metrics.horizontalAdvance(text) + 6 < width, (title, text)
    # the legend table beside the histograms has the same layer's pre-activation mean and std
    (_, cells), = w.plots.histograms.legend.rows
    assert float(cells[2]) == pytest.approx(float(w.latest.layers.preact_std[0]), rel=5e-3)


def test_compact_numbers():
    assert [compact_number(x) for x in (0.123456, 28.01, -1.234567e-5, 4.5e19, 1234.5)] == [
        "0.123", "28", "-1.23e-5", "4.5e19", "1.23e3"]
