"""Suite-wide setup: a test that runs torch on several threads has the machine to itself.

The suite runs on xdist workers, one per core. Torch's intra-op threads meet at a barrier after every
parallel operation, so a test on 2 threads while another worker keeps a core busy waits at each
barrier for its descheduled thread: measured on the 2-core machine, a 5 s test took 21-47 s. Such a
test (parametrized with ``threads`` > 1) takes the machine exclusively; every other test shares it.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

try:
    import fcntl
except ImportError:  # (not POSIX: the tests share the machine as they come)
    fcntl = None


def torch_threads_of(item: pytest.Item) -> int:
    """The torch thread count a test asks for by its ``threads`` parameter (1 when it has none)."""
    callspec = getattr(item, "callspec", None)
    return int(callspec.params.get("threads") or 1) if callspec is not None else 1


@contextmanager
def machine_share(folder: Path, exclusive: bool):
    """Hold the machine shared (any number of tests) or exclusive (one test), across the processes
    that share `folder`.

    A fair readers-writer lock of two flock files: a test waiting for the machine holds the turnstile,
    so tests that come after it queue behind it instead of keeping it waiting for ever."""
    with open(folder / "machine.turnstile", "a") as turnstile, open(folder / "machine.lock", "a") as machine:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        try:
            fcntl.flock(machine, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        finally:
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(machine, fcntl.LOCK_UN)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem):
    if fcntl is None or "PYTEST_XDIST_WORKER" not in os.environ:  # (one process: nothing to share)
        yield
        return
    # the run's temporary root, which the workers' own temporary folders are in
    folder = item.config._tmp_path_factory.getbasetemp().parent
    with machine_share(folder, exclusive=torch_threads_of(item) > 1):
        yield
