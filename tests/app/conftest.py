"""pytest-qt setup for the app tests: offscreen Qt, and no leaked threads or timers."""
from __future__ import annotations

import gc
import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths, QThread, QTimer  # noqa: E402
from shiboken6 import isValid  # noqa: E402

from core import SimConfig  # noqa: E402
from tests.helpers import WINDOW  # noqa: E402


@pytest.fixture
def small_config() -> SimConfig:
    """The small network every window test uses (tests/helpers.py WINDOW)."""
    return SimConfig(**WINDOW)


class FakeDialogs:
    """A window's `dialogs` for tests: answers its questions from a queue and records error boxes
    instead of blocking on them."""

    def __init__(self):
        self.answers: list[str] = []
        self.errors: list[tuple[str, str]] = []

    def open_path(self, caption, filters):
        return self.answers.pop(0)

    def save_path(self, caption, filters, suggested):
        return self.answers.pop(0)

    def choose(self, title, label, items):
        return self.answers.pop(0)

    def error(self, title, message):
        self.errors.append((title, message))


def _live(kind, alive):
    gc.unfreeze()  # gc.get_objects() leaves out frozen objects (app/workarounds/gc_policy.py freezes the start-up's)
    found = []
    for obj in gc.get_objects():
        try:
            if issubclass(type(obj), kind) and isValid(obj) and alive(obj):
                found.append(obj)
        except (RuntimeError, ReferenceError):
            continue
    return found


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path_factory, monkeypatch):
    """Every QSettings of a test, and of the application it launches, lives in its own temporary
    folder, never the user's configuration."""
    folder = tmp_path_factory.mktemp("settings")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(folder))  # where a subprocess's QSettings go on Linux
    QStandardPaths.setTestModeEnabled(True)
    for fmt in (QSettings.Format.IniFormat, QSettings.Format.NativeFormat):
        for scope in (QSettings.Scope.UserScope, QSettings.Scope.SystemScope):
            QSettings.setPath(fmt, scope, str(folder))
    return folder


@pytest.fixture(autouse=True)
def no_leaked_threads_or_timers(qapp):
    """Fail a test that leaves a QThread running or a QTimer active behind it."""
    yield
    qapp.processEvents()
    threads = _live(QThread, lambda t: t.isRunning() and t is not qapp.thread())
    timers = _live(QTimer, lambda t: t.isActive())
    for t in threads:  # stop them so one failure does not cascade or abort the process
        t.quit()
        t.wait(5000)
    for t in timers:
        t.stop()
    assert not threads, f"test leaked running QThread(s): {[t.objectName() for t in threads]}"
    assert not timers, f"test leaked active QTimer(s): {[(t.objectName(), t.interval()) for t in timers]}"


@pytest.fixture
def fake_dialogs():
    """The FakeDialogs class: `window.dialogs = fake_dialogs()`."""
    return FakeDialogs


@pytest.fixture
def make_window(qtbot):
    """Build MainWindows (or another window class taking one argument, e.g. the A/B CompareWindow)
    that are shut down (thread joined) after the test."""
    from app.window import MainWindow

    made = []

    def make(config, window_class=MainWindow, settings=None):
        window = window_class(config, **({"settings": settings} if settings is not None else {}))
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        qtbot.waitUntil(lambda: window.plots.drawn_snapshot is not None, timeout=30000)
        return window

    yield make
    for window in made:
        window.shutdown()
