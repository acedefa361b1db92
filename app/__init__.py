"""Vanishing Point's Qt application (controls, worker thread, live plots)."""
from .compat import paint_on_gui_thread_only, pin_none_refcount

pin_none_refcount()  # before any Qt call: see app/compat.py
paint_on_gui_thread_only()
