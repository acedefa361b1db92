"""Finding the QThreads and QTimers a test left running (tests/app/conftest.py fails the test on them)."""
from __future__ import annotations

import gc

from PySide6.QtCore import QThread, QTimer
from shiboken6 import isValid


def live(kind: type, alive) -> list:
    """Every valid Qt object of class `kind` (or a subclass) for which `alive(obj)` is true."""
    gc.unfreeze()  # gc.get_objects() leaves out frozen objects (app/workarounds/gc_policy.py freezes the start-up's)
    found = []
    for obj in gc.get_objects():
        try:
            if issubclass(type(obj), kind) and isValid(obj) and alive(obj):
                found.append(obj)
        except (RuntimeError, ReferenceError):
            continue
    return found


def stop_leaks(qapp) -> tuple[list[str], list[tuple[str, int]]]:
    """Stop every running QThread (but the GUI thread) and active QTimer, so one failure does not
    cascade or abort the process; their (object names) and (object name, interval) are returned."""
    qapp.processEvents()  # deferred deletions and queued quits of a clean shutdown run first
    threads = live(QThread, lambda t: t.isRunning() and t is not qapp.thread())
    timers = live(QTimer, lambda t: t.isActive())
    for t in threads:
        t.quit()
        t.wait(5000)
    for t in timers:
        t.stop()
    return [t.objectName() for t in threads], [(t.objectName(), t.interval()) for t in timers]
