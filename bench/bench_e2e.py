"""End to end: the window's training speed against a bare PyTorch loop, in one process (offscreen).

For each configuration: a bare loop (the same Simulator model, optimizer and data; no statistics;
on a worker thread with `--bare-threads` torch threads), then the real MainWindow training with its
plots updating, then the bare loop again. Prints the window's steps/s, frames/s (redraws) and the
ratio of its steps/s to the mean of the two bare runs. Not a test.

Targets (CPU, 2 cores): depth 50 × 256, batch 256, tanh, SGD: ≥ 0.85× at ≥ 15 frames/s;
depth 20 × 128: ≥ 0.9×; depth 200 × 64: reported.

    QT_QPA_PLATFORM=offscreen python bench/bench_e2e.py [--threads N] [--budget B] [--seconds S]
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import torch  # noqa: E402

import app  # noqa: E402,F401  (applies app/workarounds before Qt is used)
from PySide6.QtWidgets import QApplication  # noqa: E402

from bench.bench_core import bare_trainer  # noqa: E402
from core import SimConfig, Simulator  # noqa: E402

CONFIGS = {
    "50x256": SimConfig(depth=50, width=256, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
    "20x128": SimConfig(depth=20, width=128, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
    "200x64": SimConfig(depth=200, width=64, batch_size=256, activation="tanh", optimizer="sgd", device="cpu"),
}


def bare_rate(cfg: SimConfig, seconds: float, threads: int) -> float:
    """Steps/s of the bare loop, run on a short-lived thread (as the app runs Torch off the GUI thread)."""
    def run() -> float:
        torch.set_num_threads(threads)
        sim = Simulator(cfg)
        step = bare_trainer(sim)
        for _ in range(3):
            step()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            step()
            n += 1
        return n / (time.perf_counter() - t0)

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(run).result()


def window_rate(qapp: QApplication, cfg: SimConfig, seconds: float) -> tuple[float, float]:
    """(steps/s, frames/s) of the MainWindow training `cfg` with its plots updating."""
    from app.window import MainWindow
    from bench.bench_gui import _wait

    window = MainWindow(cfg)
    window.show()
    _wait(qapp, lambda: window.latest is not None)
    frames = [0]
    window.redrawn.connect(lambda _snap: frames.__setitem__(0, frames[0] + 1))
    window.set_running(True)
    _wait(qapp, lambda: window.latest.step >= 10)
    t0, s0, f0 = time.perf_counter(), window.latest.step, frames[0]
    _wait(qapp, lambda: time.perf_counter() - t0 >= seconds, timeout=seconds + 30)
    elapsed = time.perf_counter() - t0
    steps, drawn = window.latest.step - s0, frames[0] - f0
    window.set_running(False)
    window.shutdown()
    window.close()
    window.deleteLater()
    qapp.processEvents()
    return steps / elapsed, drawn / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads of the window's worker (default: the app's rule)")
    parser.add_argument("--bare-threads", type=int, default=torch.get_num_threads(),
                        help="torch threads of the bare loop (default: torch's, a core each)")
    parser.add_argument("--budget", type=float, default=None, help="the window's DRAW_BUDGET (default: the app's)")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--configs", nargs="*", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    from app import state as state_module
    from app import worker as worker_module
    from app.workarounds.qt_messages import filter_platform_noise

    if args.threads is not None:
        worker_module.leave_a_core_for_the_gui = lambda: args.threads
    if args.budget is not None:
        state_module.DRAW_BUDGET = args.budget
    qapp = QApplication.instance() or QApplication(sys.argv[:1])
    filter_platform_noise()
    threads = args.threads if args.threads is not None else worker_module.leave_a_core_for_the_gui()
    print(f"== window vs bare loop ({os.cpu_count()} cores; bare {args.bare_threads} torch threads, window "
          f"{threads}; draw budget {state_module.DRAW_BUDGET}; {args.seconds:.0f} s each) ==")
    for name in args.configs:
        cfg = CONFIGS[name]
        before = bare_rate(cfg, args.seconds, args.bare_threads)
        rate, fps = window_rate(qapp, cfg, args.seconds)
        after = bare_rate(cfg, args.seconds, args.bare_threads)
        bare = (before + after) / 2
        print(f"{name}, batch {cfg.batch_size}, {cfg.activation}, {cfg.optimizer}: bare {before:.1f} / {after:.1f} "
              f"steps/s; window {rate:.1f} steps/s at {fps:.1f} frames/s: {rate / bare:.2f}x", flush=True)
    qapp.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
