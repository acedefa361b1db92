"""Run / Pause / Step / Reset / Probe, the config throttle and teardown, shared by the main and A/B windows.

`RunCommands` is a mixin for a QMainWindow that has a `worker` (SimWorker), a
`worker_thread` (WorkerThread), a `redraw()` slot and `_clear_divergence()`.
Call `_make_timers()` in `__init__` before starting the worker.
"""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer

FRAME_MS = 16
CONFIG_THROTTLE_MS = 60
# Closing waits this long for the worker's current chunk or probe; past it, python -m app exits
# without waiting (nothing is lost: files are written atomically and only on the GUI thread).
CLOSE_WAIT_MS = 1000


class RunCommands:
    _closed = False
    _pending_config: Any = None

    def _make_timers(self) -> None:
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(CONFIG_THROTTLE_MS)
        self._throttle.timeout.connect(self._flush_config)
        self._frame = QTimer(self)
        self._frame.setInterval(FRAME_MS)
        self._frame.timeout.connect(self.redraw)

    # --- commands ------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.worker.is_running()

    def toggle_run(self) -> None:
        self.set_running(not self.worker.is_running())

    def set_running(self, running: bool, until: int | None = None) -> None:
        if running:
            self._clear_divergence()
        self.worker.set_running(running, until)

    def step(self) -> None:
        if not self.worker.is_running():
            self._clear_divergence()
            self.worker.step_once()

    def reset(self) -> None:
        self._clear_divergence()
        self.worker.reset()

    def probe(self) -> None:
        self.worker.probe()

    # --- GUI → worker --------------------------------------------------------------
    def _send_config(self, config: Any) -> None:
        """Leading + trailing throttle: the first change goes at once, a drag at most every 60 ms."""
        self._clear_divergence()
        if self._throttle.isActive():
            self._pending_config = config
            return
        self.worker.set_config(config)
        self._throttle.start()

    def _flush_config(self) -> None:
        if self._pending_config is not None:
            config, self._pending_config = self._pending_config, None
            self.worker.set_config(config)
            self._throttle.start()

    # --- teardown -------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop timers, stop and join the worker thread (idempotent). Returns whether the thread
        ended within `timeout_ms`: a long Torch call (one step of a huge network) cannot be
        interrupted, so a caller closing the application may then leave without it."""
        if not self._closed:
            self._closed = True
            self._frame.stop()
            self._throttle.stop()
            self.worker_thread.shutdown(timeout_ms)
        return self.worker_thread.thread.isFinished()

    @property
    def shut_down(self) -> bool:
        """Whether `shutdown()` was called (its threads may still be ending)."""
        return self._closed

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.shutdown(CLOSE_WAIT_MS)
        super().closeEvent(event)
