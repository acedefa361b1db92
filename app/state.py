"""What a window shows, in one place: the applied config, the latest frame, the history, the problem.

The worker emits `Frame`s: a snapshot with the config that produced it and the
generation of the network (bumped on each rebuild). `RunState` is the only
receiver. It records each frame into the history, keeps the latest one and
asks the views to draw it at screen rate (`frameDue`), within a share of wall
time (`DRAW_BUDGET`) while training. Every config change goes through
`request_config`, which runs the memory check before anything reaches the
worker. Views subscribe to its signals; none is pushed to by the window.

`PairState` is the same machinery for the A/B comparison (a `ConfigPair` and
one history per side).
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from core import SimConfig, Snapshot
from core.compare import NAMES, ConfigPair
from core.memory import check_fits
from core.session import Curve

from .history import History

# While training, drawing may take at most this share of wall time: the worker
# needs the GIL too, and a redraw of all plots costs ~10-15 ms offscreen at depth 100,
# so 15 frames/s (app/worker.py FRAMES_PER_SECOND) needs about a fifth.
DRAW_BUDGET = 0.25
FRAME_MS = 16
CONFIG_THROTTLE_MS = 60
RATE_WINDOW_S = 0.5  # steps/s is measured over at least this long


@dataclass(frozen=True)
class Frame:
    """One snapshot (or A/B `Comparison`) and the config (or `ConfigPair`) that produced it."""

    snapshot: Any
    config: Any
    generation: int
    steps_per_second: float | None = None  # training throughput of the chunk, None for probes
    trail: tuple = ()  # the engine's trail(): the chunk's uninstrumented steps (A/B: one per side)


class RunState(QObject):
    """The state a window's views subscribe to; see the module docstring. `SingleState` and
    `PairState` say how frames are recorded.

    `worker` is the `SimWorker` (commands go to it; its signals come here). Call
    `shutdown()` before the worker thread is joined: it stops the timers.
    """

    configRequested = Signal(object)    # a config accepted by request_config (the controls show it)
    configApplied = Signal(object)      # the config the worker now runs, before its first frame
    deviceChanged = Signal(str, str)    # device ('cpu', 'cuda:0'), the sentence saying which and why
    frameDue = Signal(object)           # Frame: draw it now (at most once a screen frame)
    drawn = Signal(object)              # Frame, after every view drew it
    runningChanged = Signal(bool)
    problemChanged = Signal(str, bool)  # message ('' when cleared), whether it stopped the run
    modelCopied = Signal(object)        # the worker's ModelCopy, after request_model_copy()

    def __init__(self, worker, config, parent: QObject | None = None):
        super().__init__(parent)
        self.worker = worker
        self.config = config           # what the worker runs (its configApplied)
        self.requested = config        # the last config accepted by request_config
        self.device = "cpu"            # where the worker runs ('cpu', 'cuda:0')
        self.frame: Frame | None = None
        self.generation = 0
        self.replay = False            # showing snapshots opened from a file, not the worker's
        self.rate = 0.0                # training steps per second
        self.problem = ""
        self.problem_stops_run = False
        self.spectrum = None           # the latest SpectrumDelivery of this generation
        self.paint_seconds: Callable[[], float] = lambda: 0.0  # the last paint's cost (the window sets it)
        self._pending = False
        self._stopped = False          # after shutdown(): frames still queued from the worker are dropped
        self._rate_mark: tuple[float, int] | None = None
        self._next_draw = 0.0
        self._pending_config = None
        self._throttle = QTimer(self)
        self._throttle.setSingleShot(True)
        self._throttle.setInterval(CONFIG_THROTTLE_MS)
        self._throttle.timeout.connect(self._flush_config)
        self._clock = QTimer(self)
        self._clock.setInterval(FRAME_MS)
        self._clock.timeout.connect(self.draw)
        # bound methods of this GUI-thread object, never lambdas: the worker emits from its own
        # thread, and only a receiver living on the GUI thread makes Qt queue the call there
        worker.snapshotReady.connect(self._on_frame)
        worker.configApplied.connect(self._on_config_applied)
        worker.runningChanged.connect(self._on_running_changed)
        worker.failed.connect(self._on_failed)
        worker.notice.connect(self._on_notice)
        worker.spectrumReady.connect(self._on_spectrum)
        worker.modelCopied.connect(self.modelCopied)

    # --- config ------------------------------------------------------------------------
    def check(self, config) -> None:
        """Raise ConfigError (naming the field) if `config` would not fit in memory."""
        check_fits(config, gui=True)

    def request_config(self, config, now: bool = False) -> None:
        """The one way to change the config: refuse (ConfigError) what does not fit in memory, else
        end a replay, clear the problem and send it to the worker. A slider drag is throttled
        (leading + trailing, at most every CONFIG_THROTTLE_MS); `now` sends at once."""
        self.check(config)
        self.end_replay()
        self.clear_problem(notices=True)
        self.requested = config
        self.configRequested.emit(config)
        if now:
            self._throttle.stop()
            self._pending_config = None
            self.worker.set_config(config)
        elif self._throttle.isActive():
            self._pending_config = config
            return
        else:
            self.worker.set_config(config)
        self._throttle.start()

    def _flush_config(self) -> None:
        if self._pending_config is not None:
            config, self._pending_config = self._pending_config, None
            self.worker.set_config(config)
            self._throttle.start()

    def frame_config(self):
        """The config that produced the snapshots on screen (the applied one before any arrived)."""
        return self.frame.config if self.frame is not None else self.config

    # --- commands ----------------------------------------------------------------------
    def is_running(self) -> bool:
        return self.worker.is_running()

    def set_running(self, running: bool, until: int | None = None) -> None:
        if running:
            self.end_replay()
            self.clear_problem()
        self.worker.set_running(running, until)

    def step(self) -> None:
        if not self.worker.is_running():
            self.end_replay()
            self.clear_problem()
            self.worker.step_once()

    def reset(self) -> None:
        self.end_replay()
        self.clear_problem()
        self.worker.reset()

    def probe(self) -> None:
        self.end_replay()
        self.worker.probe()

    def set_spectrum_wanted(self, wanted: bool) -> None:
        self.worker.set_spectrum_wanted(wanted)
        if wanted:
            self.invalidate()

    def request_model_copy(self) -> None:
        """modelCopied follows with a copy of the worker's network as it is now."""
        self.worker.request_model_copy()

    # --- recorded snapshots --------------------------------------------------------------
    def record(self, frame: Frame) -> None:
        """Add a frame's training steps to the history (subclasses: one history or one per side)."""
        raise NotImplementedError

    def clear_history(self) -> None:
        raise NotImplementedError

    def end_replay(self) -> None:
        if self.replay:
            self.replay = False
            self.clear_history()

    # --- problems ------------------------------------------------------------------------
    def clear_problem(self, notices: bool = False) -> None:
        """Forget the problem that stopped the run (and, with `notices`, a notice too)."""
        if self.problem and (self.problem_stops_run or notices):
            self.problem, self.problem_stops_run = "", False
            self.problemChanged.emit("", False)

    @property
    def diverged_message(self) -> str:
        """The message of the problem that stopped the run, '' when there is none."""
        return self.problem if self.problem_stops_run else ""

    def _on_failed(self, message: str) -> None:
        self.problem, self.problem_stops_run = message, True
        self.problemChanged.emit(message, True)

    def _on_notice(self, message: str) -> None:
        self.problem, self.problem_stops_run = message, False
        self.problemChanged.emit(message, False)

    # --- worker → state ------------------------------------------------------------------
    def _on_frame(self, frame: Frame) -> None:
        if self.replay or self._stopped:
            return  # an opened session is on screen until the user runs, steps or changes something
        if frame.generation != self.generation:
            self.generation = frame.generation
            self.clear_history()
            self._rate_mark = None
        self.record(frame)
        self.frame = frame
        self._pending = True
        snap = frame.snapshot
        if snap.kind == "step":
            now = time.perf_counter()
            if self._rate_mark is None:
                self._rate_mark = (now, snap.step)
            else:
                t0, s0 = self._rate_mark
                if now - t0 >= RATE_WINDOW_S:
                    self.rate = (snap.step - s0) / (now - t0)
                    self._rate_mark = (now, snap.step)
        if not self.worker.is_running():
            self.draw()  # a probe or a single step is drawn at once, not at the next frame tick

    def _on_config_applied(self, config, device: str, reason: str) -> None:
        self.config = config
        self.device = device
        self.deviceChanged.emit(device, reason)
        self.configApplied.emit(config)

    def _on_running_changed(self, running: bool) -> None:
        if not running:
            self.rate = 0.0
            self._rate_mark = None
        self.runningChanged.emit(running)

    def _on_spectrum(self, d) -> None:
        if d.generation == self.generation:
            self.spectrum = d
            self.invalidate()

    # --- drawing -------------------------------------------------------------------------
    def invalidate(self) -> None:
        """Draw the latest frame again at the next tick (a view was shown or changed what it shows)."""
        self._pending = self.frame is not None

    @property
    def pending(self) -> bool:
        """Whether a frame waits to be drawn."""
        return self._pending

    def settled(self) -> bool:
        """Whether a frame arrived and every view has drawn the latest one."""
        return self.frame is not None and not self._pending

    def draw(self) -> None:
        """Ask the views to draw the latest frame if it is new and the drawing budget allows."""
        if not self._pending or self.frame is None or self._stopped:
            return  # (a closed window is not drawn)
        now = time.perf_counter()
        if now < self._next_draw:
            return  # stay within the drawing budget; the newest frame is drawn next time
        self._pending = False
        frame = self.frame
        self.frameDue.emit(frame)
        # the cost of a frame: the views' updates plus the latest paint
        cost = time.perf_counter() - now + self.paint_seconds()
        if self.worker.is_running():
            self._next_draw = now + cost / DRAW_BUDGET
            self.worker.set_frame_seconds(cost / DRAW_BUDGET)  # no snapshots that no frame will draw
        else:
            self._next_draw = now
        self.drawn.emit(frame)

    def start(self) -> None:
        self._clock.start()

    def shutdown(self) -> None:
        """Stop the timers and drawing (the worker thread is joined by its owner)."""
        self._stopped = True
        self._clock.stop()
        self._throttle.stop()


class SingleState(RunState):
    """The state of one network (the main window): one `History`, and replays of saved sessions."""

    def __init__(self, worker, config: SimConfig, parent: QObject | None = None):
        self.history = History()
        super().__init__(worker, config, parent)

    def record(self, frame: Frame) -> None:
        self.history.add(frame.snapshot, frame.trail)

    def clear_history(self) -> None:
        self.history.clear()

    def show_recorded(self, config: SimConfig, snapshots: list[Snapshot], curve: Curve | None) -> None:
        """Replay: show `snapshots` (made by `config`) until the user runs, steps or changes a setting."""
        self.replay = True
        self.history.restore(snapshots, curve)
        self.frame = Frame(snapshots[-1], config, self.generation)
        self._next_draw = 0.0
        self.invalidate()

    def recorded_snapshots(self) -> list[Snapshot]:
        """The recorded training snapshots (oldest first), then the latest probe if one is on screen;
        all made by `frame_config()`."""
        snaps = self.history.snapshots()
        if self.frame is not None and self.frame.snapshot.kind == "probe":
            snaps.append(self.frame.snapshot)
        return snaps


class PairState(RunState):
    """The state of an A/B comparison: a `ConfigPair`, one `History` per side."""

    def __init__(self, worker, pair: ConfigPair, parent: QObject | None = None):
        self.histories = {side: History() for side in NAMES}
        super().__init__(worker, pair, parent)

    def check(self, config: ConfigPair) -> None:
        """Both sides must fit (each is refused as the main window refuses it)."""
        check_fits(config.a, gui=True)
        check_fits(config.b, gui=True)

    def record(self, frame: Frame) -> None:
        trail_a, trail_b = frame.trail or ((), ())  # Comparer.trail()
        self.histories["A"].add(frame.snapshot.a, trail_a)
        self.histories["B"].add(frame.snapshot.b, trail_b)

    def clear_history(self) -> None:
        for h in self.histories.values():
            h.clear()
