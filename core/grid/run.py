"""Running a grid's cells on Dask distributed, locally or on the user's cluster.

`connect` gives a client: to a `LocalCluster` started here (one process per worker,
one thread each, servers on 127.0.0.1, no dashboard), or to a running scheduler at
``tcp://HOST:PORT``. `run_grid` submits the cells not done yet, records each row as it
arrives, and stops early when asked; the code path is the same for either client.

Failures: a cell that raises is retried once (Dask `retries=1`); a cell whose worker
dies is rescheduled by the scheduler (on the local cluster a cell that kills a second
worker is given up: `distributed.scheduler.allowed-failures` = 1). A cell that fails
twice is reported in `GridOutcome.failed` and the grid carries on.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

from .cell import run_cell
from .meanfield import Prediction, predict
from .output import GridFile, make_row
from .spec import Cell, GridError, GridSpec

INSTALL_HINT = "pip install -e '.[cluster]'"
CONNECT_TIMEOUT = 10.0   # seconds to reach a scheduler before giving up
POLL_SECONDS = 0.2       # how often a running grid checks whether it should stop
RETRIES = 1              # a cell that raises runs at most twice
ALLOWED_FAILURES = 1     # a cell may take down one worker; the second is the end of it


def require_dask() -> None:
    """GridError with the install command when Dask distributed is not installed."""
    try:
        import distributed  # noqa: F401
    except ImportError:
        raise GridError(f"the grid runs on Dask distributed, which is not installed: {INSTALL_HINT}") from None


def default_workers() -> int:
    """One worker per core (each runs one torch thread)."""
    return max(1, os.cpu_count() or 1)


@contextmanager
def workers_ignore_ctrl_c() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (they inherit it): Ctrl+C in a terminal reaches
    the whole process group, and only this process should act on it, by cancelling the grid and
    closing the cluster. A Ctrl+C during these seconds of start-up is ignored."""
    if threading.current_thread() is not threading.main_thread():
        yield  # (a GUI's job thread: no terminal, and signal handlers belong to the main thread)
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def connect(scheduler: str | None = None, workers: int | None = None,
            timeout: float = CONNECT_TIMEOUT) -> Iterator[Any]:
    """A `distributed.Client`: to `scheduler` if given, else to a new LocalCluster of `workers`
    processes (default: one per core) with one thread each. Both are closed on exit.
    GridError if Dask is missing or the scheduler cannot be reached within `timeout` s."""
    require_dask()
    import dask
    from distributed import Client, LocalCluster

    if workers is not None and workers < 1:
        raise GridError(f"--workers must be at least 1, got {workers}")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=timeout, set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise GridError(f"cannot reach the Dask scheduler at {scheduler} within {timeout:g} s ({reason})") from None
        try:
            yield client
        finally:
            client.close()
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES}), workers_ignore_ctrl_c():
        # no dashboard; the scheduler's HTTP endpoints (health, metrics) always listen: on a free local port
        cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1, processes=True,
                               host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                               scheduler_kwargs={"dashboard_address": "127.0.0.1:0"})
    try:
        client = Client(cluster, set_as_default=False)
        try:
            yield client
        finally:
            client.close()
    finally:
        cluster.close()


@dataclass
class GridOutcome:
    """What a run did: rows added now, cells that failed twice (with the error), whether it stopped early."""

    added: int = 0
    failed: list[tuple[Cell, str]] = field(default_factory=list)
    stopped: bool = False


def predictions(spec: GridSpec, cells: list[Cell]) -> dict[tuple[int, int, int], Prediction]:
    return {c.key: predict(c.config) for c in cells}


def run_grid(spec: GridSpec, client: Any, out: GridFile,
             on_row: Callable[[dict[str, Any]], None] | None = None,
             should_stop: Callable[[], bool] | None = None,
             cell_fn: Callable[..., dict[str, Any]] = run_cell) -> GridOutcome:
    """Run the cells of `spec` that `out` does not hold yet on `client`; add each row to `out`
    (which rewrites its file) and pass it to `on_row`. Returns when every cell is done or failed
    twice, or as soon as `should_stop()` says so (cells still running are cancelled)."""
    from distributed import wait

    cells = [c for c in spec.cells() if c.key not in out.rows]
    theory = predictions(spec, cells)
    run_id = f"{spec.grid_id}-{time.time_ns()}"
    futures = {client.submit(cell_fn, c.config, spec.steps, key=f"vp-cell-{run_id}-{c.ix}-{c.iy}-{c.k}",
                             retries=RETRIES, pure=False): c for c in cells}
    pending = set(futures)
    outcome = GridOutcome()
    try:
        while pending:
            if should_stop is not None and should_stop():
                outcome.stopped = True
                break
            try:
                with client.as_current():  # wait() asks for the current client; ours is not the global default
                    done, pending = wait(pending, timeout=POLL_SECONDS, return_when="FIRST_COMPLETED")
            except TimeoutError:
                continue
            for future in sorted(done, key=lambda f: futures[f].key):
                if future.status not in ("finished", "error"):
                    # finished, then lost with its worker before it was read: the scheduler computes
                    # it again for as long as this client holds the future, so wait for it again
                    pending.add(future)
                    continue
                cell = futures.pop(future)
                if future.status == "finished":
                    row = make_row(spec, cell, theory[cell.key], future.result())
                    out.add(row)
                    outcome.added += 1
                    if on_row is not None:
                        on_row(row)
                else:
                    exc = future.exception()
                    message = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    out.add_failed(cell, message)
                    outcome.failed.append((cell, message))
                future.release()
    finally:
        if pending:
            client.cancel(list(pending))
    return outcome
