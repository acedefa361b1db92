"""Work-arounds for the libraries under the app (bugs, and one costly default), one module each:

  none_refcount     None, True and False made immortal on CPython 3.11 (PySide6 leaks references)
  gui_thread_pool   Qt's GUI thread pool turned off for painting
  svg_export        closed SVG paths made readable to pyqtgraph's exporter
  gc_policy         garbage collected on the GUI thread while a worker thread runs
  qt_messages       the offscreen platform's harmless warnings dropped

At start-up `app/__init__.py` pins the refcounts first, then turns the thread pool off.
"""
