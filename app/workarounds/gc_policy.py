"""Garbage collection on the GUI thread only, while a worker thread runs.

Python's cyclic garbage collector runs on whichever thread happens to allocate when a
threshold is crossed. On the simulation thread it may then destroy Qt objects that live on the
GUI thread: a collection there (after an out-of-memory error) deadlocked the two threads. While
a worker thread exists, automatic collection is off and pyqtgraph's GarbageCollector collects
on a GUI-thread timer instead (the pattern its docstring describes).

That collector runs full (generation 2) collections itself, and one traverses every object of
the process: torch, sympy, NumPy and the Qt wrappers, about 360 000 objects, 260 ms of frozen GUI
here. So the objects alive when collection moves to the GUI thread (the start-up's, which never
become garbage) are frozen out of the collections (gc.freeze), and a full one then takes well under
a millisecond; they are unfrozen when automatic collection comes back.
"""
from __future__ import annotations

_collector = None
_collector_users = 0


def collect_garbage_on_gui_thread() -> None:
    """Start collecting garbage on the GUI thread only (call on the GUI thread; counted)."""
    global _collector, _collector_users
    import gc

    from pyqtgraph.util.garbage_collector import GarbageCollector

    _collector_users += 1
    if _collector is None:
        gc.collect()
        gc.freeze()
        _collector = GarbageCollector(interval=0.5)


def gui_thread_collector_timer():
    """The QTimer that collects garbage on the GUI thread, while collection is there (else None)."""
    return None if _collector is None else _collector.timer


def release_gui_thread_collection() -> None:
    """Undo one `collect_garbage_on_gui_thread`; the last one collects and restores automatic collection."""
    global _collector, _collector_users
    import gc

    if _collector_users == 0:
        return
    _collector_users -= 1
    if _collector_users == 0 and _collector is not None:
        _collector.timer.stop()
        _collector = None
        gc.unfreeze()
        gc.collect()
        gc.enable()
