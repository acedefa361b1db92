"""The leak check of tests/app/conftest.py finds what a test leaves running, and only that."""
from __future__ import annotations

from PySide6.QtCore import QThread, QTimer

from tests.app.leaks import stop_leaks


def test_a_running_thread_and_an_active_timer_are_found_and_stopped(qapp):
    thread = QThread()
    thread.setObjectName("left running")
    thread.start()
    timer = QTimer()
    timer.setObjectName("left ticking")
    timer.start(1234)
    stopped = QTimer()
    stopped.start(10)
    stopped.stop()
    threads, timers = stop_leaks(qapp)
    assert threads == ["left running"] and timers == [("left ticking", 1234)]
    assert not thread.isRunning() and not timer.isActive()
    assert stop_leaks(qapp) == ([], [])  # stopped: the test itself leaves nothing behind


def test_nothing_is_found_after_a_clean_test(qapp):
    assert stop_leaks(qapp) == ([], [])
