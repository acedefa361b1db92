"""What the main and the A/B windows share: the run buttons and shortcuts, the banner, the status
labels, the file dialogs and teardown, all driven by a `RunState`.

`RunCommands` is a mixin for a QMainWindow. In `__init__` the window calls
`_build_run_commands()` (widgets), lays them out, creates its `worker_thread`
(WorkerThread) and `state` (a RunState), then `_connect_state()` and
`_start()`.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QPushButton

from .dialogs import Dialogs
from .elided_label import ElidedLabel
from .state import Frame, RunState

# Closing waits this long for the worker's current chunk or probe; past it, python -m app exits
# without waiting (nothing is lost: files are written atomically and only on the GUI thread).
CLOSE_WAIT_MS = 1000
BANNER_ERROR = "background: #ffebee; color: #b71c1c; padding: 4px; font-weight: bold;"
BANNER_NOTICE = "background: #fff8e1; color: #7a4f00; padding: 4px;"


class Banner(QLabel):
    """A line above the plots for a problem: red when it stopped the run, amber for a notice.
    Each message sets its own style, so a notice never colours a later error."""

    def __init__(self):
        super().__init__()
        self.setWordWrap(True)
        self.setStyleSheet(BANNER_ERROR)
        self.hide()

    def show_message(self, message: str, error: bool) -> None:
        self.setStyleSheet(BANNER_ERROR if error else BANNER_NOTICE)
        self.setText(message)
        self.show()

    def clear(self) -> None:
        self.hide()
        self.setText("")
        self.setStyleSheet(BANNER_ERROR)


class RunCommands:
    _closed = False
    state: RunState

    def _build_run_commands(self) -> None:
        """The buttons, their shortcuts, the banner, the status labels and the dialogs."""
        self.dialogs = Dialogs(self)
        self.run_button = QPushButton("Run  [Space]")
        self.step_button = QPushButton("Step  [S]")
        self.reset_button = QPushButton("Reset  [R]")
        self.probe_button = QPushButton("Probe  [P]")
        self.run_button.setToolTip("Train continuously / pause (Space)")
        self.step_button.setToolTip("One training step (S)")
        self.reset_button.setToolTip("Rebuild the network from the seed: fresh weights, step 0 (R)")
        self.probe_button.setToolTip("One forward/backward pass on a fixed batch without updating (P)")
        self.banner = Banner()
        self.device_label = ElidedLabel("device: …")   # (long sentences are cut, never widen the window)
        self.step_label = QLabel("step 0")
        self.message_label = ElidedLabel("")
        for text, key, slot, button in (("Run/Pause", "Space", self.toggle_run, self.run_button),
                                        ("Step", "S", self.step, self.step_button),
                                        ("Reset", "R", self.reset, self.reset_button),
                                        ("Probe", "P", self.probe, self.probe_button)):
            action = QAction(text, self)
            action.setShortcut(QKeySequence(key))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(slot)
            self.addAction(action)
            button.clicked.connect(slot)

    def run_buttons(self) -> tuple[QPushButton, ...]:
        return self.run_button, self.step_button, self.reset_button, self.probe_button

    def _connect_state(self) -> None:
        """Subscribe the shared widgets to the state."""
        state = self.state
        state.runningChanged.connect(self._on_running_changed)
        state.problemChanged.connect(self._on_problem)
        state.deviceChanged.connect(self._on_device)
        state.frameDue.connect(self._show_step)
        state.drawn.connect(self._emit_redrawn)

    def _start(self) -> None:
        self.worker_thread.start()
        self.state.start()

    # --- state → shared widgets ------------------------------------------------------
    def _on_running_changed(self, running: bool) -> None:
        self.run_button.setText("Pause  [Space]" if running else "Run  [Space]")

    def _on_problem(self, message: str, stops_run: bool) -> None:
        if message:
            self.banner.show_message(message, stops_run)
        else:
            self.banner.clear()
        self.message_label.setText(message)

    def _on_device(self, _device: str, reason: str) -> None:
        self.device_label.setText(f"device: {reason}")
        self.device_label.setToolTip(f"device: {reason}")

    def _show_step(self, frame: Frame) -> None:
        snap = frame.snapshot
        self.step_label.setText(f"step {snap.step}" + (" (probe)" if snap.kind == "probe" else ""))

    def _emit_redrawn(self, frame: Frame) -> None:
        self.redrawn.emit(frame.snapshot)

    # --- what the views show ----------------------------------------------------------
    @property
    def latest(self):
        """The latest snapshot (the one on screen, or about to be), None before the first."""
        return self.state.frame.snapshot if self.state.frame is not None else None

    @property
    def diverged_message(self) -> str:
        return self.state.diverged_message

    def settled(self) -> bool:
        """Whether a snapshot arrived and the views have drawn the latest one."""
        return self.state.settled()

    # --- commands ------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.state.is_running()

    def toggle_run(self) -> None:
        self.set_running(not self.state.is_running())

    def set_running(self, running: bool, until: int | None = None) -> None:
        self.state.set_running(running, until)

    def step(self) -> None:
        self.state.step()

    def reset(self) -> None:
        self.state.reset()

    def probe(self) -> None:
        self.state.probe()

    # --- files ------------------------------------------------------------------------
    def _report(self, title: str, exc: Exception) -> None:
        message = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        if isinstance(exc, OSError) and exc.filename:
            message = f"{exc.filename}: {message}"
        self.message_label.setText(f"{title}: {message}")
        self.dialogs.error(title, message)

    def _write_file(self, caption: str, filters: str, suggested: str, path: str | Path | None,
                    write: Callable[[Path], str]) -> bool:
        """Ask for a path (unless given), run `write(path)` (returns the status line); on failure say why."""
        path = path if path is not None else self.dialogs.save_path(caption, filters, suggested)
        if not path:
            return False
        try:
            done = write(Path(path))
        except (OSError, ValueError) as exc:  # SessionError is a ValueError too
            self._report(f"{caption}: failed", exc)
            return False
        self.message_label.setText(done)
        return True

    # --- teardown -------------------------------------------------------------------
    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Stop timers, stop and join the worker thread. Returns whether the thread ended within
        `timeout_ms`: a long Torch call (one step of a huge network) cannot be interrupted, so a
        caller closing the application may then leave without it. Calling it again waits again
        (closing the window waits only CLOSE_WAIT_MS)."""
        if not self._closed:
            self._closed = True
            self.state.shutdown()
        if not self.worker_thread.thread.isFinished():
            self.worker_thread.shutdown(timeout_ms)
        return self.worker_thread.thread.isFinished()

    @property
    def shut_down(self) -> bool:
        """Whether `shutdown()` was called (its threads may still be ending)."""
        return self._closed

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.shutdown(CLOSE_WAIT_MS)
        super().closeEvent(event)
