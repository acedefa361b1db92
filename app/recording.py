"""Recording a run as an animated GIF (Pillow) or MP4 (imageio's ffmpeg plugin): one frame per drawn snapshot.

A `Recorder` grabs a widget each time the window has drawn a new snapshot (its `redrawn`
signal) and keeps the frames zlib-compressed in memory (plots compress about 20×). `finish()`
writes them to a temporary file beside the target and renames it over the target, so a
recording is there whole or not at all. A bad path or format is refused when the recording
starts, with one sentence naming what is allowed.
"""
from __future__ import annotations

import os
import tempfile
import zlib
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QWidget

RECORD_FORMATS = ("gif", "mp4")
FRAME_MS = 100            # each frame's time on screen in the GIF (10 frames a second)
MAX_FRAMES = 3000         # beyond this the recording stops taking frames (and says so)
MP4_PLUGIN = "imageio-ffmpeg"


class RecordError(ValueError):
    """A recording that cannot be made: the message says why and what is allowed."""


def mp4_available() -> bool:
    try:
        import imageio_ffmpeg  # noqa: F401
    except ImportError:
        return False
    return True


def check_target(path: Path | str) -> Path:
    """`path` as a Path if a recording can be written there, else RecordError."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in RECORD_FORMATS:
        raise RecordError(f"a recording is saved as .gif or .mp4, not {path.name!r}")
    if fmt == "mp4" and not mp4_available():
        raise RecordError(f"MP4 recording needs the {MP4_PLUGIN} package (pip install {MP4_PLUGIN}); "
                          "or record a .gif")
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise RecordError(f"cannot record to {str(path)!r}: the folder {str(folder)!r} does not exist")
    if path.is_dir():
        raise RecordError(f"cannot record to {str(path)!r}: it is a folder")
    if not os.access(folder, os.W_OK):
        raise RecordError(f"cannot record to {str(path)!r}: the folder {str(folder)!r} is not writable")
    return path


def _rgb(image: QImage) -> np.ndarray:
    """`image` as an [height, width, 3] uint8 array."""
    image = image.convertToFormat(QImage.Format.Format_RGB888)
    h, w, stride = image.height(), image.width(), image.bytesPerLine()
    rows = np.frombuffer(image.constBits(), np.uint8, count=h * stride).reshape(h, stride)
    return rows[:, : w * 3].reshape(h, w, 3).copy()


class Recorder:
    """Frames of `widget`, taken by `grab()`, written to `path` (.gif or .mp4) by `finish()`."""

    def __init__(self, widget: QWidget, path: Path | str):
        self.path = check_target(path)
        self.widget = widget
        self.frames: list[tuple[tuple[int, int], bytes]] = []   # (height, width), compressed RGB
        self.full = False

    def grab(self) -> None:
        """Take a frame of the widget as it is drawn now."""
        if len(self.frames) >= MAX_FRAMES:
            self.full = True
            return
        rgb = _rgb(self.widget.grab().toImage())
        self.frames.append((rgb.shape[:2], zlib.compress(rgb.tobytes(), 1)))

    def _decoded(self):
        size = self.frames[0][0]
        for shape, data in self.frames:
            rgb = np.frombuffer(zlib.decompress(data), np.uint8).reshape(*shape, 3)
            if shape != size:   # (the window was resized while recording: every frame keeps the first size)
                rgb = _fit(rgb, size)
            yield rgb

    def finish(self) -> int:
        """Write the frames (atomically); returns how many. RecordError if there are none."""
        if not self.frames:
            raise RecordError("nothing was recorded: no snapshot was drawn while recording")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=self.path.suffix, dir=self.path.parent)
        os.close(fd)
        try:
            if self.path.suffix.lower() == ".gif":
                self._write_gif(tmp)
            else:
                self._write_mp4(tmp)
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return len(self.frames)

    def _write_gif(self, target: str) -> None:
        from PIL import Image

        images = (Image.fromarray(rgb) for rgb in self._decoded())
        first = next(images)
        # (Pillow takes the other frames one at a time from the generator: the frames are never all
        # decoded at once)
        first.save(target, format="GIF", save_all=True, append_images=images, duration=FRAME_MS, loop=0)

    def _write_mp4(self, target: str) -> None:
        import imageio.v2 as imageio

        with imageio.get_writer(target, format="FFMPEG", mode="I", fps=1000 / FRAME_MS,
                                macro_block_size=2) as writer:
            for rgb in self._decoded():
                writer.append_data(rgb)


def _fit(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """`rgb` cropped or padded (white) to `size` = (height, width)."""
    out = np.full((*size, 3), 255, np.uint8)
    h, w = min(size[0], rgb.shape[0]), min(size[1], rgb.shape[1])
    out[:h, :w] = rgb[:h, :w]
    return out
