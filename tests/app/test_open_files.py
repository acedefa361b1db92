"""File → Open model… / Open data… in the window (offscreen): a good file is used, a bad one gives an
error dialog and the previous model and data are kept."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.window import MainWindow
from core import SimConfig

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "resources" / "examples" / "small_cnn.py"
DIGITS = SimConfig(depth=2, width=16, dataset="digits", n_samples=64, batch_size=16)


@pytest.fixture
def window(qtbot, fake_dialogs):
    win = MainWindow(DIGITS)
    win.dialogs = fake_dialogs()
    qtbot.addWidget(win)
    yield win
    win.shutdown()


def _open(qtbot, window, opener, *args) -> tuple[bool, str]:
    with qtbot.waitSignal(window.open_files.finished, timeout=60_000) as blocker:
        assert opener(*args)
    return tuple(blocker.args)


def test_open_model_uses_it_and_a_bad_one_keeps_the_previous(qtbot, window, tmp_path):
    ok, _ = _open(qtbot, window, window.open_files.open_model, str(EXAMPLE))
    assert ok
    # (the worker may apply it while _open still processes events: wait on the state, not the signal)
    qtbot.waitUntil(lambda: window.state.config.architecture == "user", timeout=60_000)
    good = window.state.config
    assert good.model == f"{EXAMPLE.resolve()}:make" and window.controls.config() == good

    bad = tmp_path / "broken.py"
    bad.write_text("from torch import nn\n\ndef make(cfg):\n    return nn.Linear(3, 10)\n")
    ok, message = _open(qtbot, window, window.open_files.open_model, str(bad))
    assert not ok
    assert window.dialogs.errors and window.dialogs.errors[-1][0] == "Cannot open the model"
    assert message.startswith(f"model: {bad.resolve()}: forward on a batch of shape 2×64 (the data's) failed: "
                              "RuntimeError: mat1 and mat2 shapes cannot be multiplied")
    assert window.state.config == good and window.state.requested == good and window.controls.config() == good


def test_open_model_asks_which_function_when_several(qtbot, window, tmp_path):
    two = tmp_path / "two.py"
    two.write_text("from torch import nn\n\ndef small(cfg):\n    return nn.Linear(64, 10)\n\n"
                   "def other(cfg):\n    return nn.Linear(64, 10)\n")
    window.dialogs.answers.append("small")
    ok, _ = _open(qtbot, window, window.open_files.open_model, str(two))
    assert ok and window.state.requested.model.endswith("two.py:small")


def test_open_bad_data_shows_the_row_and_keeps_the_data(qtbot, window, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,label\n1,2,x\n3,oops,y\n")
    ok, message = _open(qtbot, window, window.open_files.open_data, str(bad))
    assert not ok and "row 3, column 'b': 'oops' is not a number" in message
    assert window.state.requested.dataset == "digits"
    good = tmp_path / "good.npz"
    rng = np.random.default_rng(0)
    np.savez(good, x=rng.normal(size=(40, 3)), y=rng.integers(0, 2, 40))
    ok, _ = _open(qtbot, window, window.open_files.open_data, str(good))
    assert ok and window.state.requested.dataset == "file"
    assert window.state.requested.data_file == str(good.resolve())


def test_session_with_a_model_warns_when_the_file_changed(qtbot, window, tmp_path):
    mine = tmp_path / "mine.py"
    mine.write_text(EXAMPLE.read_text())
    ok, _ = _open(qtbot, window, window.open_files.open_model, str(mine))
    assert ok
    qtbot.waitUntil(lambda: window.state.config.architecture == "user", timeout=60_000)
    saved = tmp_path / "s.json"
    assert window.save_session(path=str(saved))
    mine.write_text(mine.read_text() + "\n# edited\n")
    assert window.open_session(str(saved))
    assert "mine.py changed since the session was saved (SHA-256 differs)" in window.message_label.text()
    mine.unlink()
    assert not window.open_session(str(saved))
    assert window.dialogs.errors[-1][0] == "Cannot open the session"
    assert f"the model {mine.resolve()} is gone" in window.dialogs.errors[-1][1]
