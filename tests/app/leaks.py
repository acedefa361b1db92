"""Finding the QThreads and QTimers a test left running (tests/app/conftest.py fails the test on them)."""
from __future__ import annotations

import gc

from PySide6.QtCore import QThread, QTimer
from shiboken6 import isValid

from app.workarounds.gc_policy import gui_thread_collector_timer


# The GUI-thread collection timer of the freeze after which every object a test makes is visible to
# gc.get_objects() (set by tests/app/conftest.py once it froze a module's start-up objects). Only a
# new collection freezes again, and it comes with a new timer.
visible_since_collector = None


def live(kinds: tuple[type, ...], alive) -> list:
    """Every valid Qt object of one of `kinds` (or a subclass) for which `alive(obj)` is true."""
    collector = gui_thread_collector_timer()
    if collector is None or collector is not visible_since_collector:
        gc.unfreeze()  # gc.get_objects() leaves out frozen objects (app/workarounds/gc_policy.py freezes some)
    found = []
    for obj in gc.get_objects():
        if issubclass(type(obj), kinds):
            try:
                if isValid(obj) and alive(obj):
                    found.append(obj)
            except (RuntimeError, ReferenceError):
                continue
    return found


def stop_leaks(qapp) -> tuple[list[str], list[tuple[str, int]]]:
    """Stop every running QThread (but the GUI thread) and active QTimer, so one failure does not
    cascade or abort the process; their (object names) and (object name, interval) are returned.
    The GUI thread's garbage-collection timer is not a leak: whoever holds that collection (a worker
    thread, or tests/app/conftest.py for a module) releases it."""
    qapp.processEvents()  # deferred deletions and queued quits of a clean shutdown run first
    gui = qapp.thread()
    running = live((QThread, QTimer), lambda o: o.isActive() if isinstance(o, QTimer) else o.isRunning() and o is not gui)
    collector = gui_thread_collector_timer()
    running = [o for o in running if o is not collector]
    threads = [o for o in running if isinstance(o, QThread)]
    timers = [o for o in running if isinstance(o, QTimer)]
    for t in threads:
        t.quit()
        t.wait(5000)
    for t in timers:
        t.stop()
    return [t.objectName() for t in threads], [(t.objectName(), t.interval()) for t in timers]
