"""None, True and False made immortal on CPython < 3.12.

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
import platform
import sys

PINNED_REFCOUNT = 1 << 40  # ~1e12 references: years of redraws at 60 frames per second


def pin_none_refcount() -> bool:
    """Make None, True and False effectively immortal on CPython < 3.12. Returns whether it was needed."""
    if sys.version_info >= (3, 12) or platform.python_implementation() != "CPython":
        return False
    for singleton in (None, True, False):
        refcnt = ctypes.c_ssize_t.from_address(id(singleton))  # ob_refcnt is PyObject's first field
        if refcnt.value < PINNED_REFCOUNT // 2:
            refcnt.value += PINNED_REFCOUNT
    return True
