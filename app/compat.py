"""Work-arounds for the libraries under the app (bugs, and one costly default), each explained.

PySide6 6.12 on CPython 3.11 drops a reference to ``None`` whenever a wrapped
Qt method returns nothing or a null pointer (``QGraphicsItem.setPos()``,
``parentItem()``, ``scene()``, a Python ``paint()`` override, ...). Measured
here: about 600 references per redraw of the plots. ``None`` is not immortal
before Python 3.12, so its reference count reaches zero after a few minutes of
drawing and the interpreter aborts with "Fatal Python error: none_dealloc"
(the crash a small PySide6 + pyqtgraph script also showed at exit). Python 3.12
made ``None`` immortal (PEP 683); `pin_none_refcount` does the equivalent for
3.11 by giving ``None`` a reference count so large the leak cannot exhaust it.
``True`` and ``False`` leak the same way through methods returning a bool
(an abort with "bool_dealloc" was seen once the window polled dock visibility
every frame), so they are pinned too.
"""
from __future__ import annotations

import ctypes
import os
import platform
import sys
from contextlib import contextmanager
from typing import Iterator

_PINNED = 1 << 40  # ~1e12 references: years of redraws at 60 frames per second


def pin_none_refcount() -> bool:
    """Make None, True and False effectively immortal on CPython < 3.12. Returns whether it was needed."""
    if sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return False
    for singleton in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt is PyObject's first field
        if refcnt.value < _PINNED // 2:
            refcnt.value += _PINNED
    return True


# Qt's raster engine hands any fill or blit of more than ~100 scan lines to a GUI thread pool, in
# segments, and waits for them. The plots' paint is dozens of such small operations (each cached
# axis, title and legend is a blit): waking the pool's threads for each one, on cores the
# simulation's Torch threads are using, made a frame at depth 100 take 17 ms instead of 12 on two
# cores (bench/bench_gui.py, alternating runs). Qt reads this variable once, at its first paint.
def paint_on_gui_thread_only() -> None:
    """Turn Qt's GUI thread pool off (QT_NO_GUI_THREADPOOL) unless the environment already says;
    call before the first paint. Qt takes any value of the variable, even 0, as 'off'."""
    os.environ.setdefault("QT_NO_GUI_THREADPOOL", "1")


# The offscreen platform (headless runs, CI, --screenshot) warns on every top-level window it
# shows that it "does not support propagateSizeHints()": true and harmless for a window that
# is never on a screen. Only these exact lines are dropped.
PLATFORM_NOISE = frozenset({"This plugin does not support propagateSizeHints()"})


def filter_platform_noise() -> None:
    """Install a Qt message handler that drops PLATFORM_NOISE and prints everything else as Qt does."""
    from PySide6.QtCore import qFormatLogMessage, qInstallMessageHandler

    def handler(mode, context, message: str) -> None:
        if message not in PLATFORM_NOISE:
            sys.stderr.write(qFormatLogMessage(mode, context, message) + "\n")

    qInstallMessageHandler(handler)


def close_path_commands(d: str) -> str:
    """SVG path data with each 'Z' (close path) written as a line back to its subpath's start.

    The same outline, in the only form pyqtgraph's SVG exporter can parse (see `pyqtgraph_svg_fix`).
    """
    out: list[str] = []
    start = ""
    for token in d.split():
        closes = token[-1] in "Zz"
        body = token[:-1] if closes else token
        if body:
            if body[0] in "Mm":
                start = body[1:]
            out.append(body)
        if closes and start:
            out.append("L" + start)
    return " ".join(out)


@contextmanager
def pyqtgraph_svg_fix() -> Iterator[None]:
    """For the duration of one SVG export, let pyqtgraph read closed paths.

    pyqtgraph 0.14's SVGExporter splits path data into "x,y" pairs and fails with
    "ValueError: not enough values to unpack" on the 'Z' that Qt 6's QSvgGenerator
    writes for closed shapes (pyqtgraph issue #3495; hit here by the legend and
    band rectangles). Each 'Z' is rewritten with `close_path_commands` just before
    pyqtgraph reads the item's SVG, and the library function is restored after.
    """
    import importlib

    svg_module = importlib.import_module("pyqtgraph.exporters.SVGExporter")  # the module, not the class
    original = svg_module.correctCoordinates

    def correct(node, defs, item, options):
        for path in node.getElementsByTagName("path"):
            path.setAttribute("d", close_path_commands(path.getAttribute("d")))
        return original(node, defs, item, options)

    svg_module.correctCoordinates = correct
    try:
        yield
    finally:
        svg_module.correctCoordinates = original


# Python's cyclic garbage collector runs on whichever thread happens to allocate when a
# threshold is crossed. On the simulation thread it may then destroy Qt objects that live on the
# GUI thread: a collection there (after an out-of-memory error) deadlocked the two threads. While
# a worker thread exists, automatic collection is off and pyqtgraph's GarbageCollector collects
# on a GUI-thread timer instead (the pattern its docstring describes).
#
# That collector runs full (generation 2) collections itself, and one traverses every object of
# the process: torch, sympy, NumPy and the Qt wrappers, about 360 000 objects, 260 ms of frozen GUI
# here. So the objects alive when collection moves to the GUI thread (the start-up's, which never
# become garbage) are frozen out of the collections (gc.freeze), and a full one then takes well under
# a millisecond; they are unfrozen when automatic collection comes back.
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
