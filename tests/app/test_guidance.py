"""The Scenarios menu, the scenario panel and the diagnoses list in the real window."""
from __future__ import annotations

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


def test_app_unknown_scenario_exits_2_with_one_line():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "app", "--scenario", "deep_sigmoidd"], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 2
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith("error: scenario: unknown scenario 'deep_sigmoidd'; did you mean 'deep_sigmoid_vanishing'?")


def test_scenario_button_runs_its_steps_from_a_fresh_network(make_window, small_config, qtbot):
    w = make_window(small_config)
    w.choose_scenario("zero_init")
    steps = load_scenario("zero_init").steps
    assert w.scenario_panel.run_button.text() == f"Run the scenario: {steps} steps"
    w.scenario_panel.run_button.click()
    qtbot.waitUntil(lambda: w.plots.drawn_snapshot.step == steps and not w.is_running(), timeout=30000)
    assert w.diagnoses.lines()[0].startswith("error: layers 1–6: gradients exactly 0")
