"""Vanishing Point's Qt application (controls, worker thread, live plots)."""
from .workarounds.gui_thread_pool import paint_on_gui_thread_only
from .workarounds.none_refcount import pin_none_refcount

pin_none_refcount()  # before any Qt call: see app/workarounds/none_refcount.py
paint_on_gui_thread_only()
