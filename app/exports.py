"""Writing the plots to PNG or SVG with pyqtgraph's exporters, and slides, atomically.

PNG: `ImageExporter` at the size shown on screen (scaling it up leaves the
legend text at its screen size). SVG: `SVGExporter`, inside
`workarounds.svg_export.pyqtgraph_svg_fix` for a pyqtgraph 0.14 bug with closed paths.
Slide (`export_slide`): one plot or the whole panel rendered again at 2× its size on screen,
with a caption naming the scenario, the key config fields and the step.
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
    return png_bytes(pg_exporters.ImageExporter(layout).export(toBytes=True))


def plots_svg(layout: pg.GraphicsLayout) -> bytes:
    with pyqtgraph_svg_fix():
        return pg_exporters.SVGExporter(layout).export(toBytes=True)


def export_plots(layout: pg.GraphicsLayout, path: Path | str) -> None:
    """Write every plot of `layout` to `path`, as PNG or SVG by its suffix."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in PLOT_FORMATS:
        raise ValueError(f"plots export as .png or .svg, not {Path(path).name!r}")
    atomic_write_bytes(Path(path), plots_png(layout) if suffix == "png" else plots_svg(layout))


# --- slides: a plot or the whole panel at 2×, with a caption ---------------------------------
SLIDE_SCALE = 2          # output pixels per pixel on screen
CAPTION_PT = 11.0        # the caption's text, at screen size (×SLIDE_SCALE in the image)
STD_INITS = ("constant", "normal", "uniform")   # the init schemes init_std sets
CAPTION_FIELDS = ("architecture", "depth", "width", "activation", "init", "init_std", "normalization",
                  "optimizer", "lr", "batch_size", "clip_mode")


def slide_caption(config, step: int | None, title: str | None = None) -> str:
    """One line naming what the picture shows: the scenario's title (if any), the key config fields
    (CAPTION_FIELDS; init_std only for the schemes it sets, clip_mode only when clipping) and the step."""
    fields = []
    for name in CAPTION_FIELDS:
        value = getattr(config, name, None)
        if value is None or (name == "init_std" and getattr(config, "init", "") not in STD_INITS):
            continue
        if name == "clip_mode" and value == "none":
            continue
        fields.append(f"{name}={value:g}" if isinstance(value, float) else f"{name}={value}")
    parts = [title] if title else []
    parts.append(", ".join(fields))
    if step is not None:
        parts.append(f"step {step}")
    return " · ".join(parts)


def render_slide(view: pg.GraphicsView, source=None, caption: str = "", scale: float = SLIDE_SCALE):
    """A QImage of `view`'s scene region `source` (scene coordinates; None: all the view shows), at
    `scale` × its size on screen, with `caption` in a band below, wrapped to the image's width.

    The scene is rendered again at the larger size (text and lines are drawn, not enlarged pixels).
    """
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QFontMetricsF, QImage, QPainter

    to_screen = view.viewportTransform()   # (the view's zoom and scroll included)
    if source is None:
        source = to_screen.inverted()[0].mapRect(QRectF(view.viewport().rect()))
    on_screen = to_screen.mapRect(source)
    width, height = round(on_screen.width() * scale), round(on_screen.height() * scale)
    font = QFont()
    font.setPixelSize(max(1, round(CAPTION_PT * 96 / 72 * scale)))
    metrics = QFontMetricsF(font)
    pad = round(6 * scale)
    text_rect = QRectF(pad, 0, width - 2 * pad, 1e6)
    flags = int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap)
    band = (round(metrics.boundingRect(text_rect, flags, caption).height()) + 2 * pad) if caption else 0
    image = QImage(width, height + band, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    view.scene().render(painter, QRectF(0, 0, width, height), source, Qt.AspectRatioMode.IgnoreAspectRatio)
    if caption:
        painter.setPen(QColor("#222"))
        painter.setFont(font)
        painter.drawLine(pad, height, width - pad, height)
        painter.drawText(QRectF(pad, height + pad, width - 2 * pad, band - 2 * pad), flags, caption)
    painter.end()
    return image


def png_bytes(image) -> bytes:
    """`image` (a QImage) encoded as PNG."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("Qt could not encode the PNG")
    buffer.close()
    return bytes(data)


def export_slide(view: pg.GraphicsView, path: Path | str, caption: str, items=None) -> tuple[int, int]:
    """Write `items` (a plot and what sits beside it) or the whole of `view` to `path` (.png only)
    at SLIDE_SCALE × its size on screen, with `caption`; returns the image's size."""
    if Path(path).suffix.lower() != ".png":
        raise ValueError(f"a slide is exported as .png, not {Path(path).name!r}")
    source = None
    for item in items or ():
        rect = item.sceneBoundingRect()
        source = rect if source is None else source.united(rect)
    image = render_slide(view, source, caption)
    atomic_write_bytes(Path(path), png_bytes(image))
    return image.width(), image.height()
