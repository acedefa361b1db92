"""pytest-qt setup for the app tests: offscreen Qt, and no leaked threads or timers."""
from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any Qt import

import pytest  # noqa: E402
from PySide6.QtCore import QSettings, QStandardPaths  # noqa: E402

from core import SimConfig  # noqa: E402
from tests.app import leaks  # noqa: E402
from tests.app.leaks import stop_leaks  # noqa: E402
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


@pytest.fixture(scope="module", autouse=True)
def gui_thread_collection_per_module(qapp):
    """Garbage is collected on the GUI thread for a whole module, as in the app while its window
    lives. Each window's worker would otherwise switch collection over and back, and each switch is
    a full collection of the ~350 000 objects torch and Qt leave alive (0.15-0.3 s, twice a test).
    A test of the switch itself takes the module's share away (`gc_policy_of_its_own`)."""
    import torch

    from app.workarounds import gc_policy
    from app.worker import preload_torch

    threads = torch.get_num_threads()  # each window confines this (GUI) thread to one torch thread
    preload_torch()  # (its imports' objects are frozen with the rest, as in the app)
    gc_policy.collect_garbage_on_gui_thread()
    leaks.visible_since_collector = gc_policy.gui_thread_collector_timer()  # (what a test makes is not frozen)
    yield
    leaks.visible_since_collector = None
    gc_policy.release_gui_thread_collection()
    torch.set_num_threads(threads)  # the core tests that follow on this xdist worker run on its count


@pytest.fixture
def gc_policy_of_its_own():
    """The test sees the GC policy as the app alone has it: no collection switched over by the module."""
    from app.workarounds import gc_policy

    gc_policy.release_gui_thread_collection()
    leaks.visible_since_collector = None
    yield
    gc_policy.collect_garbage_on_gui_thread()
    leaks.visible_since_collector = gc_policy.gui_thread_collector_timer()


@pytest.fixture(autouse=True)
def no_leaked_threads_or_timers(qapp):
    """Fail a test that leaves a QThread running or a QTimer active behind it."""
    yield
    threads, timers = stop_leaks(qapp)
    assert not threads, f"test leaked running QThread(s): {threads}"
    assert not timers, f"test leaked active QTimer(s): {timers}"


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
