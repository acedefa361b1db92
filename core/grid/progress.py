"""The grid's progress bar on stderr: cells done, cells per second, time left."""
from __future__ import annotations

import sys
import time
from typing import Callable, TextIO

BAR_WIDTH = 30


def duration(seconds: float) -> str:
    """'45s', '3m05s', '2h07m'."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class GridProgress:
    """One line, redrawn in place on a terminal. The rate counts only cells finished in this run
    (a resumed grid starts with `already` cells done)."""

    def __init__(self, total: int, already: int = 0, stream: TextIO | None = None, live: bool | None = None,
                 clock: Callable[[], float] = time.monotonic):
        self.total, self.already, self.done = total, already, already
        self.stream = stream if stream is not None else sys.stderr
        self.live = self.stream.isatty() if live is None else live
        self.clock = clock
        self.start = clock()

    def rate(self) -> float:
        """Cells per second in this run (0 before the first)."""
        elapsed = self.clock() - self.start
        return (self.done - self.already) / elapsed if elapsed > 0 else 0.0

    def line(self) -> str:
        filled = int(BAR_WIDTH * self.done / self.total) if self.total else BAR_WIDTH
        text = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {self.done}/{self.total} cells"
        rate = self.rate()
        if rate > 0:
            text += f"  {rate:.2f} cells/s  {duration((self.total - self.done) / rate)} left"
        return text

    def update(self, done: int) -> None:
        self.done = done
        if self.live:
            self.stream.write("\r" + self.line())
            self.stream.flush()

    def close(self) -> None:
        if self.live:
            self.stream.write("\n")
            self.stream.flush()
