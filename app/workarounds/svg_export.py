"""SVG export of closed shapes: pyqtgraph 0.14's exporter cannot read the 'Z' that Qt 6 writes.

pyqtgraph 0.14's SVGExporter splits path data into "x,y" pairs and fails with
"ValueError: not enough values to unpack" on the 'Z' that Qt 6's QSvgGenerator
writes for closed shapes (pyqtgraph issue #3495; hit here by the legend and
band rectangles).
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Iterator


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

    Each 'Z' is rewritten with `close_path_commands` just before pyqtgraph reads the
    item's SVG, and the library function is restored after.
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
