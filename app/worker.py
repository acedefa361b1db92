"""The simulation worker: the only code that calls `core.Simulator` while the app runs.

`SimWorker` is a QObject moved to its own QThread. The GUI thread never calls
the simulator; it posts commands (new config, run, pause, step, reset, probe,
quit) into a small lock-protected mailbox and the worker's loop picks them up
between training chunks. Only the latest pending config is kept, so dragging a
slider rebuilds the network once per chunk at most, never once per pixel.

While running, the worker calls ``Simulator.step(n)`` with n chosen so each
chunk lasts one frame of the window (`chunk_length`): only a chunk's last step computes the
full statistics (the distributions a frame draws) and makes a snapshot; every other
step records its cheap per-step statistics (Simulator.trail) at nearly the cost of a
bare training step. A frame lasts CHUNK_SECONDS (FRAMES_PER_SECOND), or longer when the
window's draw budget (state.DRAW_BUDGET) lets it draw less often: it says so after each frame
(`set_frame_seconds`), so the worker makes a snapshot for each frame drawn and no more (a snapshot
no frame draws costs its statistics for nothing). Where steps are slow, chunks are made longer so
the full statistics keep within STATISTICS_SHARE of the training time: then fewer frames.
A pause, a reset or a new config ends a chunk at its next step (Simulator.step's `stop`).
Every training step runs on the same torch thread count (`torch_threads.training_threads`), so a
config gives the same numbers run after run; every other thread runs torch on one thread.
bench/bench_e2e.py measures the window against a bare loop.
Every snapshot is emitted once as an `app.state.Frame`, tagged with the config
the worker ran and the simulator's generation (bumped on each rebuild), and
never touched again.
"""
from __future__ import annotations

import copy
import math
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Iterator

import torch

from PySide6.QtCore import QObject, QThread, Signal, Slot

from core import ConfigError, SimConfig, Simulator, Snapshot
from core.architectures import layer_noun
from core.report import describe_nonfinite
from core.spectrum import Spectrum, unavailable_reason

from .state import Frame
from .torch_threads import confine_to_one_thread, default_threads, training_threads
from .workarounds.gc_policy import collect_garbage_on_gui_thread, release_gui_thread_collection

_PRELOADED = False


def preload_torch() -> None:
    """Run torch's lazy imports on the calling (GUI) thread, once.

    torch imports torch._dynamo (and with it sympy) the first time an optimizer
    is built. An import on the worker thread runs PySide6's import hook there
    while the GUI thread paints, which crashed the process (segfault in
    shibokensupport.feature). So the first tiny optimizer is built here.
    """
    global _PRELOADED
    if _PRELOADED:
        return
    import importlib

    import torch._dynamo  # noqa: F401
    for name in ("torch.profiler._cupti_monitor",):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    for optimizer in ("sgd", "adam"):
        Simulator(SimConfig(depth=1, width=2, n_samples=16, batch_size=4, optimizer=optimizer,
                            clip_mode="norm", device="cpu", dataset="gaussian", input_dim=2)).step(1)
    _PRELOADED = True


# The window's frame rate while training (its target is ≥ 15 frames/s), and so the snapshot rate
FRAMES_PER_SECOND = 16
CHUNK_SECONDS = 1 / FRAMES_PER_SECOND
MAX_CHUNK = 4096
# The full statistics may take at most this share of the training time (their cost beyond a step)
STATISTICS_SHARE = 0.15


def chunk_length(cheap_step: float | None, snapshot_step: float, current: int,
                 frame_seconds: float = CHUNK_SECONDS) -> int:
    """Steps for the next chunk, from the last chunk's seconds per step without a snapshot
    (`cheap_step`; None: not measured, then at least 2 steps, so the next chunk measures one) and
    of its snapshot step; `frame_seconds` is the time between two frames the window draws.

    The chunk is as long as needed to keep the snapshot's extra cost e = snapshot − cheap
    within STATISTICS_SHARE of the time, e / ((n − 1)·cheap + snapshot) ≤ s, i.e.
    n ≥ e·(1 − s)/(s·cheap), and otherwise as short as a frame allows (a snapshot for
    each frame drawn, none that no frame draws). It grows by at most 2× per chunk (a step's
    time can jump after a change).
    """
    if cheap_step is None:
        # a chunk of one step measured no cheap step, so the statistics' cost is unknown: take at
        # least two steps so that the next chunk measures it (else a snapshot step longer than a
        # frame would keep every chunk at one fully instrumented step)
        return min(MAX_CHUNK, max(2, chunk_length(snapshot_step, snapshot_step, current, frame_seconds)))
    cheap = cheap_step
    if cheap <= 0:
        return min(MAX_CHUNK, 2 * current)
    extra = max(0.0, snapshot_step - cheap)
    for_share = math.ceil(extra * (1 - STATISTICS_SHARE) / (STATISTICS_SHARE * cheap))
    for_frames = int((frame_seconds - snapshot_step) / cheap) + 1
    return max(1, min(MAX_CHUNK, 2 * current, max(for_share, for_frames)))


# While running, W_hh's eigenvalues (O(width³)) are recomputed at most every SPECTRUM_INTERVAL
# seconds and at most SPECTRUM_BUDGET of the time; when the run stops, once more for the final weights.
SPECTRUM_INTERVAL = 0.25
SPECTRUM_BUDGET = 0.2


@dataclass(frozen=True)
class SpectrumDelivery:
    """W_hh's eigenvalues for the spectrum view, or the reason there are none."""

    spectrum: Spectrum | None
    reason: str | None
    generation: int


@dataclass(frozen=True)
class ModelCopy:
    """A copy of the worker's network as it is now, with its probe batch's inputs: what a
    background job (the Jacobian spectrum) analyses without touching the training network."""

    config: SimConfig
    step: int
    model: torch.nn.Module
    x: torch.Tensor


class _Mailbox:
    """Commands from the GUI thread, consumed by the worker loop."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.config: SimConfig | None = None
        self.reset = False
        self.probe = False
        self.steps = 0
        self.running = False
        self.target: int | None = None  # while running: stop once steps_done reaches it
        self.quit = False
        self.spectrum = False       # the spectrum view is open: keep W_hh's eigenvalues current
        self.spectrum_poke = False  # wake the loop to compute them now
        self.copy_model = False     # send a ModelCopy

    def interrupts_chunk(self) -> bool:
        """Whether a running chunk should end at once: paused, quitting, or a new config waiting
        (read without the lock: each is one attribute read, and a late True only costs a step)."""
        return not self.running or self.quit or self.config is not None or self.reset

    def has_work(self) -> bool:
        return (self.quit or self.running or self.config is not None or self.reset or self.probe or self.steps > 0
                or self.spectrum_poke or self.copy_model)


class SimWorker(QObject):
    """Runs the simulator on a QThread; see the module docstring."""

    snapshotReady = Signal(object)       # Frame
    configApplied = Signal(object, str, str)  # the SimConfig in use, its device ('cpu', 'cuda:0'), device sentence
    runningChanged = Signal(bool)
    notice = Signal(str)                 # informational (e.g. CUDA fallback)
    failed = Signal(str)                 # the run was paused by a problem (divergence, OOM)
    spectrumReady = Signal(object)       # SpectrumDelivery
    modelCopied = Signal(object)         # ModelCopy, after request_model_copy()

    def __init__(self, config: SimConfig):
        super().__init__()
        self._box = _Mailbox()
        self._box.config = config
        self._box.probe = True
        self._sim: Simulator | None = None
        self._config = config
        self._generation = 0
        self._chunk = 1
        self._spectrum_key: tuple[int, int] | None = None  # (generation, steps_done) last computed
        self._spectrum_next = 0.0
        self.busy = False  # True while the loop works on a command (read by any thread)
        self.training_threads = training_threads()  # torch's threads for every training step
        self.probe_threads = max(self.training_threads, default_threads())  # for a rebuild and probe alone
        self.frame_seconds = CHUNK_SECONDS  # the window's time between frames (set_frame_seconds)

    # --- commands, callable from any thread ------------------------------------
    def set_config(self, config: SimConfig) -> None:
        """Rebuild with `config` (the latest call wins), probe, and keep running if running."""
        with self._box.cond:
            self._box.config = config
            self._box.cond.notify()

    def set_running(self, running: bool, until: int | None = None) -> None:
        """Run (until `steps_done` reaches `until`, if given) or pause."""
        with self._box.cond:
            changed = self._box.running != running
            self._box.running = running
            self._box.target = until if running else None
            self._box.cond.notify()
        if changed:
            self.runningChanged.emit(running)

    def is_running(self) -> bool:
        with self._box.cond:
            return self._box.running

    def step_once(self) -> None:
        with self._box.cond:
            self._box.steps += 1
            self._box.cond.notify()

    def reset(self) -> None:
        with self._box.cond:
            self._box.reset = True
            self._box.cond.notify()

    def probe(self) -> None:
        with self._box.cond:
            self._box.probe = True
            self._box.cond.notify()

    def set_spectrum_wanted(self, wanted: bool) -> None:
        """Compute W_hh's eigenvalues (spectrumReady) while `wanted`, i.e. while the view is open."""
        with self._box.cond:
            self._box.spectrum = wanted
            self._box.spectrum_poke = wanted
            self._box.cond.notify()
        if wanted:
            self._spectrum_key = None  # the view may have missed the last one: send it again

    def request_model_copy(self) -> None:
        """Emit modelCopied with a copy of the network after the current command (or chunk)."""
        with self._box.cond:
            self._box.copy_model = True
            self._box.cond.notify()

    def request_quit(self) -> None:
        with self._box.cond:
            self._box.quit = True
            self._box.running = False
            self._box.cond.notify()

    # --- the loop (worker thread) ----------------------------------------------
    @Slot()
    def loop(self) -> None:
        box = self._box
        while True:
            self._maybe_spectrum()
            with box.cond:
                while not box.has_work():
                    box.cond.wait()
                if box.quit:
                    break
                box.spectrum_poke = False
                copy_model, box.copy_model = box.copy_model, False
                config, box.config = box.config, None
                reset, box.reset = box.reset, False
                probe, box.probe = box.probe, False
                steps, box.steps = box.steps, 0
                running = box.running
                target = box.target
                self.busy = True
            oom = False
            try:
                with self._cores(trains=running or bool(steps)):
                    self._work(config, reset, probe, steps, running, target, copy_model)
            except Exception as exc:  # noqa: BLE001 - a worker must never die silently
                oom = _is_out_of_memory(exc)
                self._fail(_describe_exception(exc))
            if oom and torch.cuda.is_available():  # here, once the exception (and the frames holding
                torch.cuda.empty_cache()           # the pass's tensors) is gone; cycles go on the GUI thread
            self.busy = False
        self._sim = None

    @contextmanager
    def _cores(self, trains: bool) -> Iterator[None]:
        """Torch threads for one command: `training_threads` for a command that trains (running,
        or steps taken while paused: every step of a run on the same count, whatever the user
        interleaves), `probe_threads` (every core, but one for the A/B comparison's worker) for a
        rebuild and probe alone, which the GUI thread only waits for. Set on this thread: torch's
        thread count is per thread (each takes the global value when it first runs a parallel op)."""
        wanted = self.training_threads if trains else self.probe_threads
        if torch.get_num_threads() != wanted:
            torch.set_num_threads(wanted)
        try:
            yield
        finally:
            if torch.get_num_threads() != self.training_threads:
                torch.set_num_threads(self.training_threads)

    def _work(self, config: SimConfig | None, reset: bool, probe: bool, steps: int, running: bool,
              target: int | None, copy_model: bool) -> None:
        """Carry out one batch of commands taken from the mailbox."""
        if config is not None or reset or self._sim is None:
            self._rebuild(config or self._config)
            probe = probe or not running
            if running and self._sim is not None:
                self._deliver(self._sim.probe(), None)
        if self._sim is not None:
            if probe:
                self._deliver(self._sim.probe(), None)
            if running:
                self._train_chunk(target)
            elif steps:
                self._train(steps)
        if copy_model and self._sim is not None:
            self.modelCopied.emit(self._model_copy())

    def _model_copy(self) -> ModelCopy:
        sim = self._sim
        with torch.no_grad():
            return ModelCopy(sim.config, sim.steps_done, copy.deepcopy(sim.model), sim.probe_inputs())

    def make_simulator(self, config: SimConfig, cpu_after: ConfigError | None = None) -> Simulator:
        """What the worker drives (overridden by the A/B comparison's worker); on the CPU after
        `cpu_after`, the refusal of a CUDA device."""
        return Simulator(config, cpu_after=cpu_after)

    def describe_failure(self, snap: Snapshot) -> str:
        return f"Diverged: {describe_nonfinite(snap, layer_noun(self._config.architecture))}; run paused. Reset or change a control to recover."

    def _maybe_spectrum(self) -> None:
        """Emit W_hh's eigenvalues if the view wants them and the weights changed since the last ones
        (while running, throttled; once paused or idle, at once, so the final weights are shown)."""
        with self._box.cond:
            wanted, throttled = self._box.spectrum, self._box.running
        sim = self._sim
        if not wanted or sim is None:
            return
        key = (self._generation, sim.steps_done)
        now = time.perf_counter()
        if key == self._spectrum_key or (throttled and now < self._spectrum_next):
            return
        self._spectrum_key = key
        reason = unavailable_reason(sim.config.architecture, sim.config.width)
        spectrum = None
        if reason is None:
            try:
                spectrum = sim.spectrum()
            except Exception as exc:  # noqa: BLE001 - e.g. LAPACK on non-finite weights: say so, keep running
                reason = f"Eigenvalues could not be computed: {type(exc).__name__}: {exc}"
        cost = time.perf_counter() - now
        self._spectrum_next = now + max(SPECTRUM_INTERVAL, cost / SPECTRUM_BUDGET)
        self.spectrumReady.emit(SpectrumDelivery(spectrum, reason, self._generation))

    def _rebuild(self, config: SimConfig) -> None:
        try:
            sim = self.make_simulator(config)
            notice = None
        except ConfigError as exc:
            if exc.field != "device":
                raise
            sim = self.make_simulator(config, cpu_after=exc)
            notice = f"{exc} — falling back to the CPU."
        self._sim = sim
        self._config = config
        self._generation += 1
        self._chunk = 1
        self.configApplied.emit(config, str(sim.device), sim.device_reason)
        if notice:
            self.notice.emit(notice)

    def _train(self, n: int, stop=None) -> Snapshot:
        assert self._sim is not None
        t0 = time.perf_counter()
        before = self._sim.steps_done
        snap = self._sim.step(n, stop)
        elapsed = time.perf_counter() - t0
        done = max(1, self._sim.steps_done - before)
        trail = self._sim.trail()
        self._deliver(snap, done / elapsed if elapsed > 0 else None, trail)
        if snap.nonfinite:
            self._fail(self.describe_failure(snap))
        return snap

    def _train_chunk(self, target: int | None) -> None:
        assert self._sim is not None
        n = self._chunk
        if target is not None:
            n = min(n, target - self._sim.steps_done)
            if n < 1:
                self.set_running(False)
                return
        t0, before = time.perf_counter(), self._sim.steps_done
        self._train(n, self._box.interrupts_chunk)
        if target is not None and self._sim.steps_done >= target:
            self.set_running(False)
        elapsed = time.perf_counter() - t0
        done = self._sim.steps_done - before
        timing = getattr(self._sim, "timing", None)
        frame = self.frame_seconds
        if timing is not None:
            self._chunk = chunk_length(timing.cheap_step, timing.snapshot_step, self._chunk, frame)
        else:  # (an engine without timings: as many steps as fit in a frame's time)
            fit = int(frame * max(1, done) / elapsed) if elapsed > 0 else 2 * self._chunk
            self._chunk = max(1, min(MAX_CHUNK, 2 * self._chunk, fit))

    def set_frame_seconds(self, seconds: float) -> None:
        """The window draws at most one frame per `seconds` (its draw budget): make one snapshot
        per frame it draws, no more (never more often than CHUNK_SECONDS). Any thread."""
        self.frame_seconds = max(CHUNK_SECONDS, seconds)

    def _deliver(self, snap: Snapshot, rate: float | None, trail: tuple = ()) -> None:
        self.snapshotReady.emit(Frame(snap, self._config, self._generation, rate, trail))

    def _fail(self, message: str) -> None:
        self.set_running(False)
        self.failed.emit(message)


def _is_out_of_memory(exc: Exception) -> bool:
    text = str(exc).lower()
    return (isinstance(exc, (MemoryError, torch.cuda.OutOfMemoryError)) or "out of memory" in text
            or "can't allocate memory" in text)  # the CPU allocator's RuntimeError


def _describe_exception(exc: Exception) -> str:
    name = type(exc).__name__
    if isinstance(exc, ConfigError):  # e.g. refused by the memory check: the previous network stays
        return f"{exc}. The previous network is kept."
    if _is_out_of_memory(exc):
        return f"Out of memory ({str(exc).splitlines()[0] if str(exc) else name}); run paused. " \
               "Reduce depth, width or batch size."
    return f"Simulation error: {name}: {exc}; run paused."


class WorkerThread:
    """Owns a `SimWorker` and its QThread; `shutdown()` stops and joins them."""

    def __init__(self, config: SimConfig, worker_class: type[SimWorker] = SimWorker):
        self.thread = QThread()
        self.thread.setObjectName("SimulationThread")
        self.worker = worker_class(config)
        self.worker.moveToThread(self.thread)
        self.thread.started.connect(self.worker.loop)
        self._collecting = False

    def start(self) -> None:
        confine_to_one_thread()  # the GUI thread (only the worker forms an OpenMP team)
        preload_torch()
        if not self._collecting:
            collect_garbage_on_gui_thread()
            self._collecting = True
        self.thread.start()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Ask the loop to end, quit the thread's event loop and wait for it."""
        self.worker.request_quit()
        self.thread.quit()
        ended = self.thread.wait(timeout_ms)
        if ended and self._collecting:
            release_gui_thread_collection()
            self._collecting = False
        return ended
