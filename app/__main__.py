"""``python -m app [CONFIG.json] [--scenario NAME] [--set key=value ...] [--compare [--b key=value ...]]
[--present] [--screenshot FILE] [--record FILE.gif|.mp4] [--steps N] [--size WxH]``.

Without --screenshot or --record: the interactive window. With them: build the real main
window offscreen, train N steps through the same worker path, wait until the
plots show the last snapshot, write the PNG (and the recording, one frame per drawn
snapshot) and exit 0. Bad input prints one ``error: ...`` line and exits 2.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from core import ConfigError, memory
from core.cli import EXIT_BAD_INPUT, Parser, UsageError, add_config_arguments, config_from_args
from core.cli_kit import side_with_overrides
from core.compare import ConfigPair
from core.config import USER_ARCHITECTURES
from core.simulator import Simulator

SCREENSHOT_TIMEOUT_S = 300


def _parser() -> argparse.ArgumentParser:
    p = Parser(prog="python -m app", description="Vanishing Point: watch gradients vanish and explode.")
    add_config_arguments(p)
    p.add_argument("--screenshot", metavar="FILE", help="render the window offscreen to a PNG and exit")
    p.add_argument("--record", metavar="FILE",
                   help="record the run offscreen as an animated .gif (or .mp4 with imageio-ffmpeg), one frame "
                        "per drawn snapshot, and exit")
    p.add_argument("--steps", type=int, help="training steps before the screenshot (default: the scenario's, else 0)")
    p.add_argument("--size", default="1600x1000", help="window size for the screenshot, WxH")
    p.add_argument("--compare", action="store_true", help="open the A/B comparison window (B = A + --b)")
    p.add_argument("--b", action="append", default=[], metavar="KEY=VALUE", help="with --compare: change B only")
    p.add_argument("--present", action="store_true",
                   help="presentation mode: big text, the plots and the scenario only (View menu, F5)")
    p.add_argument("--run", action="store_true", help="start training as soon as the window is up")
    p.add_argument("--close-after", type=int, metavar="MS",
                   help="close the window after MS milliseconds as a user would (unattended demos, tests); "
                        "prints what the simulation was doing at that moment")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        config, scenario = config_from_args(args)
        if args.steps is None:
            args.steps = scenario.steps if scenario is not None else 0
        if args.b and not args.compare:
            raise UsageError("--b changes config B of a comparison: add --compare")
        pair = ConfigPair(config, side_with_overrides("B", config, args.b)) if args.compare else None
        if args.steps < 0:
            raise UsageError(f"--steps must be >= 0, got {args.steps}")
        if args.close_after is not None and args.close_after < 0:
            raise UsageError(f"--close-after must be >= 0, got {args.close_after}")
        w, _, h = args.size.partition("x")
        if not (w.isdigit() and h.isdigit()):
            raise UsageError(f"--size must look like 1600x1000, got {args.size!r}")
        if args.record is not None:
            if args.compare:
                raise UsageError("--record records the main window: leave out --compare")
            from .recording import RecordError, check_target
            try:
                check_target(args.record)
            except RecordError as exc:
                raise UsageError(f"--record: {exc}") from None
        memory.set_budget_mb(args.memory_budget)  # also applies to every network the window builds
        memory.check_fits(config, gui=True)
        for side in (pair.a, pair.b) if pair is not None else (config,):
            if side.architecture in USER_ARCHITECTURES or side.dataset == "file":
                Simulator(side)  # the user's model and data files: one clear line now, not a dialog later
    except (UsageError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    offscreen = bool(args.screenshot or args.record)
    if offscreen:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtWidgets import QApplication

    from .compare_window import CompareWindow
    from .workarounds.qt_messages import filter_platform_noise
    from .run_commands import CLOSE_WAIT_MS
    from .window import MainWindow

    filter_platform_noise()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    if pair is not None:
        window = CompareWindow(pair)
    elif offscreen:  # reproducible: never the remembered state
        window = MainWindow(config)
    else:  # remembers its configuration and geometry; CONFIG, --scenario or --set on the command line win
        from .settings import default_settings

        explicit = (args.config is not None or scenario is not None or bool(args.set)
                    or any(v is not None for v in (args.model, args.data, args.label)))
        window = MainWindow(config if explicit else None, settings=default_settings())
    if scenario is not None and pair is None:
        window.show_scenario(scenario)
    status = 1
    try:
        if args.present and pair is None:
            window.set_presenting(True)
        if offscreen:
            window.resize(int(w), int(h))
            status = _screenshot(app, window, args.screenshot, args.steps, args.record)
        else:
            window.show()
            if args.run:
                window.set_running(True)
            _close_on_request(window, args.close_after)
            status = app.exec()
    finally:
        # closing the window already waited its CLOSE_WAIT_MS: do not wait a second time
        if not window.shutdown(0 if window.shut_down else CLOSE_WAIT_MS):
            # the worker is inside one long Torch call that cannot be interrupted; nothing is
            # lost by not waiting for it (files are written atomically, on the GUI thread)
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(status)
        window.deleteLater()
        app.processEvents()
        del window
        app.shutdown()  # explicit teardown: never leave the QApplication to the GC
    return status


def _close_on_request(window, close_after_ms: int | None) -> None:
    """Close the window like its close button on Ctrl-C / SIGTERM, or after `close_after_ms`."""
    import signal
    import time

    from PySide6.QtCore import QTimer

    def close(*_) -> None:
        try:
            window.close()
        except RuntimeError:  # already deleted: the application is ending anyway
            pass

    def close_timed() -> None:
        state = "running" if window.is_running() else ("busy" if getattr(window.worker, "busy", False) else "idle")
        drawn = window.plots.drawn_snapshot
        print(f"closing: state={state} drawn={'none' if drawn is None else drawn.step} t={time.monotonic():.6f}",
              flush=True)
        window.close()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, close)
    # Python runs signal handlers only between bytecodes: wake the interpreter up regularly
    # while Qt's event loop (C++) has the main thread
    tick = QTimer(window)
    tick.timeout.connect(lambda: None)
    tick.start(200)
    if close_after_ms is not None:
        QTimer.singleShot(max(0, close_after_ms), window, close_timed)


def _screenshot(app, window, path: str | None, steps: int, record: str | None = None) -> int:
    import time

    from PySide6.QtCore import QEventLoop, QTimer

    from .recording import RecordError, Recorder

    window.show()
    recorder = Recorder(window, record) if record else None
    if recorder is not None:
        window.redrawn.connect(lambda _snap: recorder.grab())

    def settled() -> bool:
        snap = window.plots.drawn_snapshot
        if snap is None:
            return False
        if steps == 0:
            return True
        if window.diverged_message and not window.is_running():
            return snap.nonfinite
        return snap.kind == "step" and snap.step >= steps and not window.is_running()

    started = False
    deadline = time.monotonic() + SCREENSHOT_TIMEOUT_S
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)

    def check() -> None:
        nonlocal started
        if not started and window.plots.drawn_snapshot is not None and steps > 0:
            window.set_running(True, until=steps)
            started = True
            return
        if (started or steps == 0) and settled() and window.settled():
            loop.quit()
        elif time.monotonic() > deadline:
            loop.exit(1)

    poll.timeout.connect(check)
    poll.start()
    code = loop.exec()
    poll.stop()
    if code != 0:
        print("error: timed out waiting for the plots", file=sys.stderr)
        return 1
    app.processEvents()
    if recorder is not None:
        try:
            frames = recorder.finish()
        except (RecordError, OSError) as exc:
            print(f"error: cannot write {record}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
        print(f"wrote {record} ({frames} frames: one per drawn snapshot)")
    if path is None:
        return 0
    if not window.grab().save(path, "PNG"):
        print(f"error: cannot write {path}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(f"wrote {path} (step {window.plots.drawn_step})")
    return 0


def launch() -> None:
    """Entry point of `python -m app` and the `vanishing-point` script: main(), then leave at once.

    Everything was torn down explicitly by main(); the interpreter's own finalization of
    Torch, NumPy and Qt modules adds seconds to closing the window and has nothing left to do.
    """
    status = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    launch()
