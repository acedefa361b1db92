"""File menu: sessions (save, open, bad files), exports (plots, statistics, script), remembered settings."""
from __future__ import annotations

import csv
import io
import json
from xml.dom import minidom

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QImage

from app import settings as remembered
from app.dialogs import with_suffix
from app.history import History
from app.workarounds.svg_export import close_path_commands
from core import SimConfig, Simulator
from core.session import SCHEMA, Curve, load_session
from core.snapshot import CSV_COLUMNS
from tests.helpers import WINDOW as SMALL  # conftest's small_config


@pytest.fixture
def window(make_window, small_config, fake_dialogs):
    w = make_window(small_config)
    w.dialogs = fake_dialogs()
    return w


def step_to(qtbot, w, n):
    """Step one at a time (so each step is recorded) until step n is drawn."""
    while w.latest is None or w.latest.kind != "step" or w.latest.step < n:
        target = 1 if w.latest is None or w.latest.kind != "step" else w.latest.step + 1
        w.step()
        qtbot.waitUntil(lambda: w.plots.drawn_snapshot.kind == "step" and w.plots.drawn_snapshot.step == target,
                        timeout=15000)


def test_file_menu_lists_every_action(window):
    texts = [a.text().replace("&", "") for a in window.menuBar().actions()[0].menu().actions() if a.text()]
    assert texts == ["Open session…", "Open model…", "Open data…", "Save session…", "Save session with recorded steps…",
                     "Export plots (PNG/SVG)…", "Export statistics (CSV/JSON)…", "Export PyTorch script…",
                     "Export slide of all plots (2×, captioned)…", "Export slide of one plot",
                     "Record…", "Stop recording", "Restore defaults"]


def test_save_with_steps_then_open_restores_config_and_plots(window, make_window, qtbot, tmp_path, fake_dialogs):
    step_to(qtbot, window, 3)
    losses = list(window.history.loss)
    path = tmp_path / "run.json"
    window.dialogs.answers.append(str(path))
    window.file_actions["save_steps"].trigger()
    saved = load_session(path)
    assert saved.main.config == window.controls.config()
    assert [s.step for s in saved.main.snapshots] == [1, 2, 3] and list(saved.main.curve.loss) == losses

    other = make_window(SimConfig(**{**SMALL, "depth": 3, "activation": "relu"}))
    other.dialogs = fake_dialogs()
    other.dialogs.answers.append(str(path))
    delivered = []
    other.worker.snapshotReady.connect(lambda d: delivered.append(d.snapshot))
    other.file_actions["open"].trigger()
    assert other.controls.config() == window.controls.config() and not other.is_running()
    qtbot.waitUntil(lambda: other.plots.drawn_snapshot.step == 3, timeout=15000)
    # the worker rebuilds the opened config and probes it: that probe must not replace the opened view
    qtbot.waitUntil(lambda: any(s.kind == "probe" and s.depth == SMALL["depth"] for s in delivered), timeout=15000)
    qtbot.wait(100)
    assert other.plots.drawn_snapshot.kind == "step" and other.plots.drawn_snapshot.step == 3
    assert other.history.steps == [1, 2, 3] and other.history.loss == losses
    assert other.plots.drawn_snapshot.layers.grad_norm.tolist() == window.latest.layers.grad_norm.tolist()
    assert "steps 1–3" in other.message_label.text()
    other.step()  # training starts afresh from the opened config, and the same seed gives the same first step
    qtbot.waitUntil(lambda: other.history.steps == [1], timeout=15000)
    assert other.history.loss == pytest.approx(losses[:1], rel=1e-6)


def test_a_config_the_worker_refuses_is_never_saved_beside_the_snapshots(window, qtbot, tmp_path, monkeypatch):
    """The window's memory check lets a config through that the worker's own check refuses: the
    controls then show a config that produced none of the snapshots on screen. What is saved and
    exported names the config that produced them."""
    import core.simulator
    from core.memory import MemoryLimitError

    step_to(qtbot, window, 2)
    produced = window.controls.config()
    real_check = core.simulator.check_fits

    def refuse_width_20(cfg, *args, **kwargs):
        if cfg.width == 20:
            raise MemoryLimitError("depth 6 × width 20 refused by the worker's check (test)")
        return real_check(cfg, *args, **kwargs)

    monkeypatch.setattr(core.simulator, "check_fits", refuse_width_20)
    window.controls.connectors["width"].widget.setValue(20)
    assert window.controls.config().width == 20  # the window's own check accepted it
    qtbot.waitUntil(lambda: "previous network is kept" in window.diverged_message, timeout=15000)
    assert "width 20 refused" in window.diverged_message
    assert window.state.config == produced and window.latest.step == 2

    with_steps, plain, stats = tmp_path / "steps.json", tmp_path / "plain.json", tmp_path / "stats.json"
    assert window.save_session(with_snapshots=True, path=str(with_steps))
    saved = load_session(with_steps)
    assert saved.main.config == produced and saved.main.config.width == 16
    assert [s.step for s in saved.main.snapshots] == [1, 2]
    assert window.save_session(path=str(plain))
    assert load_session(plain).main.config == produced
    assert window.export_statistics(str(stats))
    doc = json.loads(stats.read_text())
    assert doc["config"] == produced.to_dict() and [s["step"] for s in doc["snapshots"]] == [1, 2]


def test_plain_save_has_no_snapshots(window, tmp_path):
    path = tmp_path / "cfg.json"
    window.dialogs.answers.append(str(path))
    assert window.save_session()
    doc = json.loads(path.read_text())
    assert doc["schema"] == SCHEMA and list(doc["configs"]["main"]) == ["config"]


@pytest.mark.parametrize("content, expected", [
    ('{"schema": "vanishing-point/session", "version": 1, "con', "not valid JSON: damaged or truncated"),
    ('{"name": "my notes", "items": [1, 2]}', "not a Vanishing Point session"),
    ('{"schema": "vanishing-point/session", "version": 7, "configs": {"main": {"config": {}}}}',
     "newer Vanishing Point"),
])
def test_bad_session_shows_a_message_and_changes_nothing(window, qtbot, tmp_path, content, expected):
    step_to(qtbot, window, 2)
    config, steps, latest = window.controls.config(), list(window.history.steps), window.latest
    path = tmp_path / "bad.json"
    path.write_text(content)
    window.dialogs.answers.append(str(path))
    window.file_actions["open"].trigger()
    assert len(window.dialogs.errors) == 1 and expected in window.dialogs.errors[0][1]
    assert window.controls.config() == config and window.history.steps == steps and window.latest is latest
    qtbot.wait(200)
    assert window.plots.drawn_snapshot is latest  # nothing was rebuilt or redrawn


def test_an_a_b_session_opens_in_a_comparison_window_and_the_main_one_is_unchanged(window, qtbot, tmp_path):
    from core.compare import ConfigPair, save_pair

    pair = ConfigPair(SimConfig(**SMALL), SimConfig(**SMALL).replace(init="kaiming_normal", activation="relu"))
    path = tmp_path / "ab.json"
    save_pair(path, pair)
    config = window.controls.config()
    window.dialogs.answers.append(str(path))
    window.file_actions["open"].trigger()
    assert window.dialogs.errors == [] and "as an A/B comparison" in window.message_label.text()
    (compare,) = window.compare_windows
    assert compare.pair == pair and compare.isVisible()
    assert window.controls.config() == config
    qtbot.waitUntil(lambda: compare.latest is not None, timeout=30000)
    a, b = compare.latest.a.layers, compare.latest.b.layers  # two different networks are running
    assert len(a.grad_norm) == len(b.grad_norm) == SMALL["depth"] and not (a.grad_norm == b.grad_norm).all()


def test_cancelled_dialog_does_nothing(window, tmp_path):
    window.dialogs.answers.extend(["", "", ""])
    assert not window.open_session() and not window.export_plots() and not window.save_session()
    assert window.dialogs.errors == [] and list(tmp_path.iterdir()) == []


def test_export_plots_png_and_svg(window, qtbot, tmp_path):
    step_to(qtbot, window, 2)
    png, svg = tmp_path / "p.png", tmp_path / "p.svg"
    assert window.export_plots(str(png)) and window.export_plots(str(svg))
    image = QImage(str(png))
    rect = window.plots.ci.boundingRect()
    assert (image.width(), image.height()) == (round(rect.width()), round(rect.height()))
    colours = {image.pixel(x, y) for x in range(0, image.width(), 7) for y in range(0, image.height(), 7)}
    assert len(colours) > 20  # heatmaps, curves and text, not a blank page
    doc = minidom.parse(str(svg))
    assert doc.documentElement.tagName == "svg"
    # one per plot view box (7 plots, one twin axis), and one more as the twin axis's box sits inside the
    # loss plot's box (clipped by both)
    assert len(doc.getElementsByTagName("clipPath")) == 9
    assert len(doc.getElementsByTagName("image")) >= 2     # the two heatmaps at least
    text = " ".join(t.firstChild.data for t in doc.getElementsByTagName("text") if t.firstChild)
    assert "Gradient magnitude per layer" in text
    assert not window.export_plots(str(tmp_path / "p.gif"))
    assert "not 'p.gif'" in window.dialogs.errors[-1][1]


def test_close_path_commands():
    assert close_path_commands("M0,0 L4,0 L4,3 Z M10,10 L11,10 Z") == "M0,0 L4,0 L4,3 L0,0 M10,10 L11,10 L10,10"
    assert close_path_commands("M1,2 L3,4Z") == "M1,2 L3,4 L1,2"
    assert close_path_commands("M1,2 L3,4") == "M1,2 L3,4"


def test_export_statistics_csv_and_json(window, qtbot, tmp_path):
    step_to(qtbot, window, 2)
    window.probe()
    qtbot.waitUntil(lambda: window.plots.drawn_snapshot.kind == "probe", timeout=15000)
    snaps = window.recorded_snapshots()
    assert [(s.kind, s.step) for s in snaps] == [("step", 1), ("step", 2), ("probe", 2)]
    assert window.export_statistics(str(tmp_path / "s.csv")) and window.export_statistics(str(tmp_path / "s.json"))
    rows = list(csv.DictReader(io.StringIO((tmp_path / "s.csv").read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS and len(rows) == 3 * SMALL["depth"]
    assert float(rows[-1]["grad_norm"]) == snaps[-1].layers.grad_norm[-1]  # repr round-trips a float64
    doc = json.loads((tmp_path / "s.json").read_text())
    assert doc["config"] == window.controls.config().to_dict() and doc["device"] == "cpu"
    assert [s["loss"] for s in doc["snapshots"]] == [s.loss for s in snaps]


def test_export_statistics_before_anything_is_recorded(window, tmp_path):
    window.state.frame = None  # nothing arrived yet
    assert not window.export_statistics(str(tmp_path / "s.csv"))
    assert "nothing recorded yet" in window.dialogs.errors[-1][1] and not (tmp_path / "s.csv").exists()


def test_export_script(window, tmp_path):
    path = tmp_path / "exp.py"
    assert window.export_script(str(path))
    text = path.read_text()
    assert f"depth={SMALL['depth']}," in text and "def main()" in text
    compile(text, str(path), "exec")


def test_history_keeps_snapshots_within_the_budget():
    sim = Simulator(SimConfig(**SMALL))
    snaps = [sim.step() for _ in range(6)]
    size = snaps[0].nbytes
    history = History(layer_capacity=4, snapshot_budget=int(2.5 * size))
    for s in snaps:
        history.add(s)
    assert [s.step for s in history.snapshots()] == [5, 6]  # 2 × size fits in 2.5 × size, 3 do not
    assert history.steps == [1, 2, 3, 4, 5, 6] and len(history) == 4
    history.restore(snaps[:3])  # the same bound applies to opened snapshots
    assert [s.step for s in history.snapshots()] == [2, 3] and history.steps == [1, 2, 3]
    history.restore(snaps[4:], Curve((1, 5, 6), (0.5, 0.25, 0.125), (0.0, 0.5, 1.0)))
    assert history.steps == [1, 5, 6] and history.loss == [0.5, 0.25, 0.125] and history.layer_steps().tolist() == [5, 6]


# --- remembered state --------------------------------------------------------------------
def test_settings_live_in_the_test_folder(isolated_settings):
    s = remembered.default_settings()
    s.setValue("probe", 1)
    s.sync()
    assert str(isolated_settings) in s.fileName()


def test_window_remembers_config_and_geometry(make_window, small_config, isolated_settings):
    settings = remembered.default_settings()
    first = make_window(small_config, settings=settings)
    first.resize(first.minimumSizeHint().width(), 760)  # the minimum width depends on the docks shown
    assert first.height() == 760
    geometry = first.saveGeometry()
    first.shutdown()
    assert remembered.stored_geometry(settings) == geometry
    assert remembered.stored_config(settings) == (small_config, "")
    second = make_window(None, settings=settings)
    assert second.controls.config() == small_config
    # the offscreen screen is 800 px wide, so Qt's restoreGeometry fits the width to it (down to the
    # window's minimum); the height, 760 instead of the default 1000, shows the geometry was restored
    assert second.height() == 760
    second.restore_defaults()
    assert second.controls.config() == SimConfig() and settings.value(remembered.CONFIG_KEY) is None
    assert (second.width(), second.height()) == (1600, 1000)


@pytest.mark.parametrize("stored, why", [
    ('{"depth": 0}', "depth: 0 is out of range"),
    ('{"depht": 3}', "unknown field"),
    ("{not json", "Expecting property name"),
    ("[1, 2]", "expected a JSON object"),
])
def test_a_stale_stored_config_falls_back_to_defaults(stored, why):
    settings = remembered.default_settings()
    settings.setValue(remembered.CONFIG_KEY, stored)
    config, notice = remembered.stored_config(settings)
    assert config is None and "no longer valid" in notice and why in notice


def test_window_starts_from_defaults_with_a_notice_when_the_stored_config_is_stale(make_window):
    settings = remembered.default_settings()
    settings.setValue(remembered.CONFIG_KEY, '{"architecture": "vit", "depth": 3}')
    w = make_window(None, settings=settings)
    assert w.controls.config() == SimConfig()
    assert "no longer valid" in w.message_label.text() and "architecture" in w.message_label.text()


def test_with_suffix():
    assert with_suffix("/a/b", "CSV table (*.csv)") == "/a/b.csv"
    assert with_suffix("/a/b.json", "CSV table (*.csv);;JSON document (*.json)") == "/a/b.json"
    assert with_suffix("", "CSV table (*.csv)") == ""


def test_explicit_qsettings_file_is_used(tmp_path, make_window, small_config):
    settings = QSettings(str(tmp_path / "mine.ini"), QSettings.Format.IniFormat)
    make_window(small_config, settings=settings).shutdown()
    assert "[window]" in (tmp_path / "mine.ini").read_text()
    reread = QSettings(str(tmp_path / "mine.ini"), QSettings.Format.IniFormat)
    assert remembered.stored_config(reread) == (small_config, "")


def test_true_false_and_none_are_pinned_on_python_3_11():
    """PySide6 6.12 drops references to True on every redraw and export (app/workarounds): pinned."""
    import sys

    from app.workarounds.none_refcount import PINNED_REFCOUNT, pin_none_refcount

    if pin_none_refcount():
        for singleton in (None, True, False):
            assert sys.getrefcount(singleton) > PINNED_REFCOUNT // 2
    else:
        assert sys.version_info >= (3, 12)
