"""End to end: the window's training speed against a bare PyTorch loop, in one process (offscreen).

For each configuration: a bare loop (the same Simulator model, optimizer and data; no statistics;
on a worker thread with `--bare-threads` torch threads), then the real MainWindow training with its
plots updating, then the bare loop again. Prints the window's steps/s, frames/s (redraws) and the
ratio of its steps/s to the mean of the two bare runs. Not a test.

Targets (CPU, 2 cores): depth 50 × 256, batch 256, tanh, SGD: ≥ 0.85× at ≥ 15 frames/s;
depth 20 × 128: ≥ 0.9×; depth 200 × 64: reported.

Also prints CPU time, which depends less on the machine's load than wall time: the process's per
step (bare; the window's torch threads) and the GUI thread's per drawn frame and its share of a core.

`--ceiling FPS` measures instead what any window could reach here at FPS frames/s: the real window
draws frames that its worker delivered earlier (each with its trail, step numbers moved on), at FPS,
with its worker thread ended, while a thread with the window's torch threads runs (a) the bare loop and
(b) the bare loop plus the least work the per-step records need (Σz and a ‖∂L/∂z‖ hook per layer, the
weight-gradient and weight norms). Each is divided by the bare loop run with the window drawing
nothing, before and after. (b) bounds the window from above with its snapshots free. (c) runs the bare
loop in another process, with and without the window drawing: what is left once no GIL is shared.

    QT_QPA_PLATFORM=offscreen python bench/bench_e2e.py [--threads N] [--budget B] [--seconds S]
        [--repeat R] [--profile] [--ceiling FPS] [--configs 50x256 20x128 200x64]
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import pstats
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

import app  # noqa: E402,F401  (applies app/workarounds before Qt is used)
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.torch_threads import default_threads  # noqa: E402
from bench.bench_core import bare_trainer, required_norms, traced_trainer  # noqa: E402
from bench.bench_gui import close_window, open_window, wait_until  # noqa: E402
from core import SimConfig, Simulator  # noqa: E402

CONFIGS = {
    "50x256": SimConfig(depth=50, width=256, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
    "20x128": SimConfig(depth=20, width=128, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
    "200x64": SimConfig(depth=200, width=64, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
}


@dataclass
class Run:
    """One timed run: steps/s, and the CPU seconds it took (whole process, and of the GUI thread)."""

    steps_per_second: float
    cpu_per_step_ms: float           # the process's CPU time per step (torch's threads; GUI below)
    frames_per_second: float = 0.0
    gui_cpu_per_frame_ms: float = 0.0  # the GUI thread's CPU time per drawn frame
    gui_core_share: float = 0.0      # the GUI thread's CPU seconds per wall second
    threads: str = ""                # the window's torch threads
    snapshots_per_second: float = 0.0  # snapshots the worker made (each drawn or not)


def timed_run(cfg: SimConfig, seconds: float, threads: int, records: bool = False) -> Run:
    """The bare loop for `seconds` on the calling thread with `threads` torch threads; with `records`,
    each step also does the least work the per-step records need (`recorded_step`)."""
    torch.set_num_threads(threads)
    sim = Simulator(cfg)
    step = recorded_step(sim) if records else bare_trainer(sim)
    for _ in range(3):
        step()
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        step()
        n += 1
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    return Run(n / wall, 1e3 * cpu / n)


def bare_rate(cfg: SimConfig, seconds: float, threads: int, records: bool = False,
              qapp: QApplication | None = None, process: bool = False) -> Run:
    """`timed_run` on a short-lived thread (as the app runs Torch off the GUI thread) or, with
    `process`, in a spawned process, which shares no GIL with this one. With `qapp`, the GUI thread
    runs Qt's event loop meanwhile (whatever its timers draw)."""
    if process:
        import multiprocessing
        pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool = ThreadPoolExecutor(max_workers=1)
    with pool:  # (its thread or process ends with the block)
        future = pool.submit(timed_run, cfg, seconds, threads, records)
        if qapp is not None:
            wait_until(qapp, future.done, timeout=seconds + 120)
        return future.result()


def recorded_step(sim: Simulator):
    """A bare step plus what every step the window records needs at the least: the per-layer trace
    (Σz, ‖∂L/∂z‖ by a hook) and the weight-gradient and weight norms."""
    traced, norms = traced_trainer(sim), required_norms(sim)

    def step() -> None:
        traced()
        norms()

    return step


def idle(seconds: float) -> None:
    """Run the Qt event loop for `seconds`, waking only for the app's own events (a condition polled
    every few ms, as bench_gui.wait_until does, would add GUI-thread work the app does not have)."""
    from PySide6.QtCore import QEventLoop, QTimer

    loop = QEventLoop()
    QTimer.singleShot(int(seconds * 1e3), loop.quit)
    loop.exec()


def window_rate(qapp: QApplication, cfg: SimConfig, seconds: float, profile: cProfile.Profile | None = None) -> Run:
    """The MainWindow training `cfg` with its plots updating: steps/s from the engine's own step
    count over wall time; frames/s (redraws); CPU of the GUI thread (this one) and of the rest."""
    window = open_window(qapp, cfg)
    frames, snapshots = [0], [0]
    window.redrawn.connect(lambda _snap: frames.__setitem__(0, frames[0] + 1))
    # (called on the worker's thread: a counter, nothing else)
    window.worker.snapshotReady.connect(lambda _frame: snapshots.__setitem__(0, snapshots[0] + 1))
    window.set_running(True)
    wait_until(qapp, lambda: window.latest.step >= 10, timeout=120)
    sim = window.worker._sim
    t0, s0, f0, n0 = time.perf_counter(), sim.steps_done, frames[0], snapshots[0]
    c0, g0 = time.process_time(), time.thread_time()
    if profile is not None:
        profile.enable()
    idle(seconds)
    if profile is not None:
        profile.disable()
    elapsed = time.perf_counter() - t0
    gui = time.thread_time() - g0
    cpu = time.process_time() - c0 - gui
    steps, drawn, made = sim.steps_done - s0, frames[0] - f0, snapshots[0] - n0
    window.set_running(False)
    close_window(qapp, window)
    return Run(steps / elapsed, 1e3 * cpu / max(steps, 1), drawn / elapsed, 1e3 * gui / max(drawn, 1), gui / elapsed,
               f"{window.worker.training_threads}", made / elapsed)


def recorded_frames(qapp: QApplication, cfg: SimConfig, count: int) -> list:
    """The first `count` frames (app.state.Frame, each with its trail) the real window's worker
    delivers while training `cfg`."""
    window = open_window(qapp, cfg)
    frames: list = []
    window.worker.snapshotReady.connect(frames.append)  # (on the worker's thread: an append only)
    window.set_running(True)
    wait_until(qapp, lambda: len(frames) >= count, timeout=300)
    window.set_running(False)
    close_window(qapp, window)
    return [f for f in frames[:count] if f.snapshot.kind == "step"]


def moved_on(frame, offset: int):
    """`frame` with its snapshot's and trail's step numbers moved on by `offset` (a replayed cycle
    must reach the history as new steps, as a running window's frames do)."""
    snap = dataclasses.replace(frame.snapshot, step=frame.snapshot.step + offset)
    trail = tuple(dataclasses.replace(r, step=r.step + offset) for r in frame.trail)
    return dataclasses.replace(frame, snapshot=snap, trail=trail)


def ceiling(qapp: QApplication, cfg: SimConfig, seconds: float, fps: float, threads: int, bare_threads: int) -> None:
    """Print what a window drawing `fps` frames/s could train at here (see the module docstring)."""
    from PySide6.QtCore import QTimer

    frames = recorded_frames(qapp, cfg, 40)
    first = frames[0].trail[0].step if frames[0].trail else frames[0].snapshot.step
    span = frames[-1].snapshot.step - first + 1  # (steps a cycle covers, its first frame's trail included)
    window = open_window(qapp, cfg)
    # end the worker's thread (its OpenMP team would make the measured loop's threads sleep), keeping
    # the window's garbage collection on the GUI thread as while it trains
    window.worker.request_quit()
    window.worker_thread.thread.quit()
    window.worker_thread.thread.wait()
    shown = [0]

    def show_next() -> None:
        k = shown[0]
        window.worker.snapshotReady.emit(moved_on(frames[k % len(frames)], (k // len(frames) + 1) * span))
        shown[0] += 1

    timer = QTimer()
    timer.setInterval(round(1e3 / fps))
    timer.timeout.connect(show_next)

    def while_drawing(records: bool = False, process: bool = False) -> tuple[Run, float, float]:
        drawn = [0]

        def count(_snap) -> None:
            drawn[0] += 1

        window.redrawn.connect(count)
        g0, t0 = time.thread_time(), time.perf_counter()
        timer.start()
        run = bare_rate(cfg, seconds, threads, records, qapp, process)
        timer.stop()
        wall, gui = time.perf_counter() - t0, time.thread_time() - g0
        window.redrawn.disconnect(count)
        return run, drawn[0] / wall, 1e3 * gui / max(drawn[0], 1)

    before = bare_rate(cfg, seconds, bare_threads, qapp=qapp)
    bare_drawn, fps_bare, gui_bare = while_drawing(records=False)
    rec_drawn, fps_rec, gui_rec = while_drawing(records=True)
    process_alone = bare_rate(cfg, seconds, threads, qapp=qapp, process=True).steps_per_second
    process_drawn = while_drawing(process=True)[0].steps_per_second
    after = bare_rate(cfg, seconds, bare_threads, qapp=qapp)
    close_window(qapp, window)
    alone = (before.steps_per_second + after.steps_per_second) / 2
    name = f"{cfg.depth}x{cfg.width}"
    print(f"{name}: bare, the window drawing nothing ({bare_threads} torch threads): {before.steps_per_second:.1f} / "
          f"{after.steps_per_second:.1f} steps/s; while it draws (asked {fps:.0f} frames/s; {threads} torch threads):",
          flush=True)
    print(f"    bare {bare_drawn.steps_per_second:.1f} steps/s: {bare_drawn.steps_per_second / alone:.2f}x "
          f"at {fps_bare:.1f} frames/s (GUI thread {gui_bare:.1f} ms/frame)", flush=True)
    print(f"    bare + the per-step records' least work {rec_drawn.steps_per_second:.1f} steps/s: "
          f"{rec_drawn.steps_per_second / alone:.2f}x at {fps_rec:.1f} frames/s (GUI thread {gui_rec:.1f} "
          f"ms/frame): the most a window recording every step can reach here at this frame rate", flush=True)
    print(f"    bare in another process (no GIL shared with the GUI thread): {process_drawn:.1f} steps/s against "
          f"{process_alone:.1f} with the window drawing nothing: {process_drawn / process_alone:.2f}x", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the window's worker (default: the app's rule, app.torch_threads.training_threads)")
    parser.add_argument("--bare-threads", type=int, default=default_threads(),
                        help="torch threads of the bare loop (default: torch's as the process started, a core each)")
    parser.add_argument("--budget", type=float, default=None, help="the window's DRAW_BUDGET (default: the app's)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--repeat", type=int, default=1, help="rounds over the configurations")
    parser.add_argument("--profile", action="store_true",
                        help="profile the GUI thread (cProfile) while the windows train; print the top functions")
    parser.add_argument("--ceiling", type=float, default=None, metavar="FPS",
                        help="measure the most a window drawing FPS frames/s could train at (module docstring)")
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    from app import state as state_module
    from app import worker as worker_module
    from app.workarounds.qt_messages import filter_platform_noise

    if args.threads is not None:
        worker_module.training_threads = lambda: args.threads
    if args.budget is not None:
        state_module.DRAW_BUDGET = args.budget
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    filter_platform_noise()
    threads = worker_module.training_threads()
    print(f"== window vs bare loop ({os.cpu_count()} cores; bare {args.bare_threads} torch threads, window "
          f"{threads}; draw budget {state_module.DRAW_BUDGET}; {args.seconds:.0f} s each) ==")
    if args.ceiling is not None:
        for _ in range(args.repeat):
            for name in args.configs:
                ceiling(qapp, CONFIGS[name], args.seconds, args.ceiling, threads, args.bare_threads)
        qapp.shutdown()
        return 0
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    for _ in range(args.repeat):
        for name in args.configs:
            cfg = CONFIGS[name]
            load = os.getloadavg()[0]
            before = bare_rate(cfg, args.seconds, args.bare_threads)
            win = window_rate(qapp, cfg, args.seconds, profile)
            after = bare_rate(cfg, args.seconds, args.bare_threads)
            bare = (before.steps_per_second + after.steps_per_second) / 2
            bare_cpu = (before.cpu_per_step_ms + after.cpu_per_step_ms) / 2
            print(f"{name}, batch {cfg.batch_size}, {cfg.activation}, {cfg.optimizer} (load {load:.1f}): bare "
                  f"{before.steps_per_second:.1f} / {after.steps_per_second:.1f} steps/s; window "
                  f"{win.steps_per_second:.1f} steps/s at {win.frames_per_second:.1f} frames/s "
                  f"({win.snapshots_per_second:.1f} snapshots/s): "
                  f"{win.steps_per_second / bare:.2f}x", flush=True)
            print(f"    CPU: bare {bare_cpu:.1f} ms/step; window's torch {win.cpu_per_step_ms:.1f} ms/step "
                  f"({win.cpu_per_step_ms / bare_cpu:.2f}x); GUI thread {win.gui_cpu_per_frame_ms:.1f} ms/frame, "
                  f"{win.gui_core_share:.0%} of a core; window's torch threads {win.threads}", flush=True)
    if profile is not None:
        print("== the GUI thread while the windows trained (cProfile, CPU time) ==")
        stats = pstats.Stats(profile, stream=sys.stdout)
        stats.sort_stats("tottime").print_stats(25)
        stats.sort_stats("cumulative").print_stats(40)
    qapp.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
