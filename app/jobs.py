"""One-shot background computations (theory profile, phase grid, depth sweep, Jacobian).

A `Job` is a QThread running ``fn(progress, cancelled)``; results come back to the
GUI thread through queued signals. `JobSlot` holds at most one job of a kind:
starting a new one cancels the previous (its result is dropped, as in Orange3's
task pattern), and `shutdown()` cancels and joins every thread it started.
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from .torch_threads import confine_to_one_thread


class Job(QThread):
    """Runs `fn(progress, cancelled)` on its own thread; emits `succeeded`, `failed` or nothing (cancelled)."""

    # each signal carries the job itself, so receivers can drop a cancelled job's late messages
    progressed = Signal(object, int, int)
    succeeded = Signal(object, object)
    failed = Signal(object, str)

    def __init__(self, fn: Callable[[Callable[[int, int], None], Callable[[], bool]], Any], name: str):
        super().__init__()
        self.setObjectName(name)
        self._fn = fn
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def run(self) -> None:  # noqa: D401 - QThread override
        confine_to_one_thread()
        try:
            result = self._fn(lambda d, t: self.progressed.emit(self, d, t), self._cancel.is_set)
        except Exception as exc:  # noqa: BLE001 - reported to the GUI, never lost
            if not self._cancel.is_set():
                self.failed.emit(self, f"{type(exc).__name__}: {exc}")
            return
        if not self._cancel.is_set():
            self.succeeded.emit(self, result)


class JobSlot(QObject):
    """At most one live job; `done(result)`, `error(message)` and `progress(done, total)` relay the current one's."""

    done = Signal(object)
    error = Signal(str)
    progress = Signal(int, int)
    busyChanged = Signal(bool)

    def __init__(self, name: str, parent: QObject | None = None):
        super().__init__(parent)
        self.name = name
        self.job: Job | None = None
        self._old: list[Job] = []

    def start(self, fn) -> None:
        self.cancel()
        job = Job(fn, self.name)
        queued = Qt.ConnectionType.QueuedConnection  # delivered on the GUI thread, in order
        job.succeeded.connect(self._finish, queued)
        job.failed.connect(self._fail, queued)
        job.progressed.connect(self._progress, queued)
        self.job = job
        job.start()
        self.busyChanged.emit(True)

    def busy(self) -> bool:
        return self.job is not None

    def cancel(self) -> None:
        """Cancel the running job (it stops at its next check); its result is discarded."""
        if self.job is not None:
            self.job.cancel()
            self._keep(self.job)
            self.job = None
            self.busyChanged.emit(False)

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel, and join every thread started here within `timeout_ms` in all; whether all ended.
        Threads that did not end are kept, so a later call still waits for them."""
        self.cancel()
        left = time_left(timeout_ms)
        self._old = [j for j in self._old if not j.wait(left())]
        return not self._old

    def _keep(self, job: Job) -> None:
        """Keep a Python reference until the thread is joined (finished ones are dropped)."""
        self._old = [j for j in self._old if not j.isFinished()] + [job]

    @Slot(object, int, int)
    def _progress(self, job: Job, done: int, total: int) -> None:
        if job is self.job:
            self.progress.emit(done, total)

    @Slot(object, object)
    def _finish(self, job: Job, result) -> None:
        if job is self.job:
            job.wait()  # run() returns right after emitting: join it so no thread outlives its result
            self.job = None
            self._keep(job)
            self.busyChanged.emit(False)
            self.done.emit(result)

    @Slot(object, str)
    def _fail(self, job: Job, message: str) -> None:
        if job is self.job:
            job.wait()
            self.job = None
            self._keep(job)
            self.busyChanged.emit(False)
            self.error.emit(message)


def time_left(timeout_ms: int) -> Callable[[], int]:
    """A function giving the milliseconds left (at least 0) of `timeout_ms` counted from now:
    several joins in a row then share one time limit."""
    deadline = time.monotonic() + timeout_ms / 1000
    return lambda: max(0, int((deadline - time.monotonic()) * 1000))
