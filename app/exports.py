"""Writing the plots to PNG or SVG with pyqtgraph's exporters, atomically.

PNG: `ImageExporter` at the size shown on screen (scaling it up leaves the
legend text at its screen size). SVG: `SVGExporter`, inside
`workarounds.svg_export.pyqtgraph_svg_fix` for a pyqtgraph 0.14 bug with closed paths.
"""
from __future__ import annotations

from pathlib import Path

import pyqtgraph as pg
import pyqtgraph.exporters as pg_exporters
from PySide6.QtCore import QBuffer, QByteArray, QIODevice

from core.files import atomic_write_bytes

from .workarounds.svg_export import pyqtgraph_svg_fix

PLOT_FORMATS = ("png", "svg")


def plots_png(layout: pg.GraphicsLayout) -> bytes:
    image = pg_exporters.ImageExporter(layout).export(toBytes=True)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("Qt could not encode the PNG")
    buffer.close()
    return bytes(data)


def plots_svg(layout: pg.GraphicsLayout) -> bytes:
    with pyqtgraph_svg_fix():
        return pg_exporters.SVGExporter(layout).export(toBytes=True)


def export_plots(layout: pg.GraphicsLayout, path: Path | str) -> None:
    """Write every plot of `layout` to `path`, as PNG or SVG by its suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise ValueError(f"plots export as .png or .svg, not {Path(path).name!r}")
    atomic_write_bytes(Path(path), plots_png(layout) if suffix == "png" else plots_svg(layout))
