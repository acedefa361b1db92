"""GUI benchmarks (offscreen; prints figures, not a test).

1. Time to apply one Snapshot to every plot (setData + one render) at depth 100 and 1000, after
   12 steps, and at depth 100 after 400 (the history's capacity: the state of any longer run).
2. Training steps/s with the window open (worker thread + redraws) vs headless Simulator.step().
3. Time from a slider change to redrawn plots at depth 50, width 256.
4. The GUI thread's CPU time per drawn frame of the real MainWindow (every view it draws, the status
   bar, the paint) at depth 50 × 256 and 200 × 64, batch 256, with 100 steps in the history: CPU
   time depends less on the machine's load than wall time. `--profile` prints where it goes.

    QT_QPA_PLATFORM=offscreen python bench/bench_gui.py [--frames-only] [--profile]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import app  # noqa: E402,F401  (applies app/workarounds before Qt is used)
from PySide6.QtWidgets import QApplication  # noqa: E402

from app.history import History  # noqa: E402
from app.panels.plot_panel import PlotPanel  # noqa: E402
from app.window import MainWindow  # noqa: E402
from core import SimConfig, Simulator  # noqa: E402

RATE_CONFIG = SimConfig(depth=20, width=128, batch_size=128, n_samples=2048, device="cpu")


def off_gui_thread(fn):
    """fn() run on a short-lived thread, as the app runs all Torch work off the GUI thread.

    Torch's OpenMP thread pool belongs to the thread that ran a parallel operation and lives as
    long as that thread. One left on the GUI thread by a headless run here made the worker's
    probes in the later slider benchmark half as fast again (median 124 → 170 ms).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:  # (its thread ends with the block; errors re-raise here)
        return pool.submit(fn).result()


def bench_apply(qapp: QApplication, depth: int, steps: int = 12, repeats: int = 30) -> tuple[float, float]:
    """(median ms of show_snapshot alone, median ms of show_snapshot + repaint), with `steps`
    steps in the history; the last 12 snapshots are drawn in turn."""
    def run() -> list:
        sim = Simulator(SimConfig(depth=depth, width=64, batch_size=64, n_samples=512, device="cpu"))
        return [sim.step() for _ in range(steps)]

    snaps = off_gui_thread(run)
    history = History()
    for s in snaps:
        history.add(s)
    snaps = snaps[-12:]
    panel = PlotPanel()
    panel.resize(1400, 900)
    panel.show()
    qapp.processEvents()
    only, full = [], []
    for i in range(repeats):
        snap = snaps[i % len(snaps)]
        t0 = time.perf_counter()
        panel.show_snapshot(snap, history)
        t1 = time.perf_counter()
        panel.update()  # as the window does: one paint on the next pass of the event loop
        qapp.processEvents()
        t2 = time.perf_counter()
        only.append((t1 - t0) * 1e3)
        full.append((t2 - t0) * 1e3)
    panel.close()
    panel.deleteLater()
    qapp.processEvents()
    return statistics.median(only), statistics.median(full)


def bench_rate(qapp: QApplication, seconds: float = 6.0) -> tuple[float, float, int, int]:
    """(headless steps/s, steps/s with the window open, torch threads for each).

    The headless figure is the mean of a run before and a run after the window's: this machine's
    speed drifts within minutes, and one headless run alone moved the ratio by ±25 %.
    """
    import torch

    threads_headless = torch.get_num_threads()

    def run() -> float:
        sim = Simulator(RATE_CONFIG)
        sim.step(5)
        t0, n0 = time.perf_counter(), sim.steps_done
        while time.perf_counter() - t0 < seconds:
            sim.step(1)
        return (sim.steps_done - n0) / (time.perf_counter() - t0)

    headless_before = off_gui_thread(run)
    window = open_window(qapp, RATE_CONFIG)
    threads_window = window.worker.training_threads
    window.set_running(True)
    wait_until(qapp, lambda: window.latest.step >= 20)
    t0, s0 = time.perf_counter(), window.latest.step
    wait_until(qapp, lambda: time.perf_counter() - t0 >= seconds, timeout=seconds + 5)
    gui = (window.latest.step - s0) / (time.perf_counter() - t0)
    window.set_running(False)
    close_window(qapp, window)
    headless = (headless_before + off_gui_thread(run)) / 2
    return headless, gui, threads_headless, threads_window


def bench_slider(qapp: QApplication, trials: int = 8) -> list[float]:
    """ms from a depth-slider change to the redraw of the new network's probe."""
    cfg = SimConfig(depth=50, width=256, device="cpu")
    window = open_window(qapp, cfg, lambda w: w.plots.drawn_snapshot is not None)
    times = []
    slider = window.controls.connectors["depth"].slider
    for i in range(trials):
        target = 49 if i % 2 == 0 else 50
        qapp.processEvents()
        time.sleep(0.1)  # let the throttle window close, as between two user gestures
        qapp.processEvents()
        t0 = time.perf_counter()
        slider.setValue(target)
        wait_until(qapp, lambda: window.plots.drawn_snapshot is not None and window.plots.drawn_snapshot.depth == target)
        qapp.processEvents()  # the paint of the redrawn plots
        times.append((time.perf_counter() - t0) * 1e3)
    close_window(qapp, window)
    return times


FRAME_CONFIGS = (SimConfig(depth=50, width=256, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
                 SimConfig(depth=200, width=64, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"))


def bench_frame_cpu(qapp: QApplication, cfg: SimConfig, frames: int = 30, chunk: int = 2,
                    profile: cProfile.Profile | None = None) -> tuple[float, float]:
    """(CPU ms, wall ms) of the GUI thread per frame of a MainWindow: each of `frames` real snapshots
    (made off the GUI thread, `chunk` steps apart, their trails recorded) is handed to the window's
    state as the worker hands it, drawn and painted. The history holds 50 frames' steps first."""
    from app.state import Frame

    def run() -> list:
        import torch

        torch.set_num_threads(1)
        sim = Simulator(cfg)
        out = []
        for _ in range(50 + frames):
            snap = sim.step(chunk)
            out.append((snap, sim.trail()))
        return out

    made = off_gui_thread(run)
    window = open_window(qapp, cfg)
    state = window.state
    for snap, trail in made[:50]:
        state._on_frame(Frame(snap, cfg, state.generation, None, trail))  # paused: drawn at once
        qapp.processEvents()
    c0, t0 = time.thread_time(), time.perf_counter()
    if profile is not None:
        profile.enable()
    for snap, trail in made[50:]:
        state._on_frame(Frame(snap, cfg, state.generation, None, trail))
        qapp.processEvents()  # the paint
    if profile is not None:
        profile.disable()
    cpu, wall = time.thread_time() - c0, time.perf_counter() - t0
    close_window(qapp, window)
    return 1e3 * cpu / frames, 1e3 * wall / frames


def open_window(qapp: QApplication, cfg: SimConfig, ready=lambda w: w.latest is not None) -> MainWindow:
    """A MainWindow of `cfg`, shown, once `ready(window)` holds (by default: its first probe arrived)."""
    window = MainWindow(cfg)
    window.show()
    wait_until(qapp, lambda: ready(window))
    return window


def close_window(qapp: QApplication, window: MainWindow) -> None:
    """Shut down `window`'s threads and close it, its deletion processed."""
    window.shutdown()
    window.close()
    window.deleteLater()
    qapp.processEvents()


def wait_until(qapp: QApplication, pred, timeout: float = 60.0) -> None:
    """Run the Qt event loop until `pred()` holds, checking it every 2 ms.

    The GUI thread waits inside Qt's event loop, as in the real application: a Python loop
    polling processEvents() would hold the GIL most of the time and slow the worker down.
    """
    from PySide6.QtCore import QEventLoop, QTimer

    if pred():
        return
    loop, timer = QEventLoop(), QTimer()
    end = time.perf_counter() + timeout

    def check() -> None:
        if pred():
            loop.exit(0)
        elif time.perf_counter() > end:
            loop.exit(1)

    timer.timeout.connect(check)
    timer.start(2)
    code = loop.exec()
    timer.stop()
    if code:
        raise TimeoutError("benchmark condition not reached")


def main() -> int:
    from app.workarounds.qt_messages import filter_platform_noise

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames-only", action="store_true", help="only the CPU time per frame (4.)")
    parser.add_argument("--profile", action="store_true", help="profile the frames of 4. (cProfile, CPU time)")
    args = parser.parse_args()
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    filter_platform_noise()  # (the offscreen platform's note on every window shown)
    print("== Vanishing Point GUI benchmark (offscreen) ==")
    if not args.frames_only:
        for depth, steps in ((100, 12), (1000, 12), (100, 400)):
            only, full = bench_apply(qapp, depth, steps)
            print(f"apply one snapshot to every plot, depth {depth:4d}, {steps:3d} steps drawn: {only:5.1f} ms setData, "
                  f"{full:5.1f} ms incl. repaint (target <= 16 ms at depth 100)")
        headless, gui, t_head, t_win = bench_rate(qapp)
        print(f"steps/s {RATE_CONFIG.depth}x{RATE_CONFIG.width}, batch {RATE_CONFIG.batch_size}: headless {headless:.0f} "
              f"({t_head} torch threads), window open {gui:.0f} ({t_win} threads): {gui / headless:.2f}x, target >= 0.9x")
        times = bench_slider(qapp)
        print(f"slider change -> redrawn plots, depth 50 width 256: median {statistics.median(times):.0f} ms, "
              f"max {max(times):.0f} ms (target <= 150 ms)")
    profile = cProfile.Profile(time.thread_time) if args.profile else None
    for cfg in FRAME_CONFIGS:
        cpu, wall = bench_frame_cpu(qapp, cfg, profile=profile)
        print(f"one frame of the window, {cfg.depth}x{cfg.width}: {cpu:.1f} ms CPU on the GUI thread "
              f"({wall:.1f} ms wall; load {os.getloadavg()[0]:.1f})", flush=True)
    if profile is not None:
        pstats.Stats(profile, stream=sys.stdout).sort_stats("cumulative").print_stats(40)
    qapp.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
