"""Suite-wide setup: a test that runs torch on several threads has the machine to itself.

The suite runs on xdist workers, one per core. Torch's intra-op threads meet at a barrier after every
parallel operation, so a test on 2 threads while another worker keeps a core busy waits at each
barrier for its descheduled thread: measured on the 2-core machine, a 5 s test took 21-47 s. Such a
test (parametrized with ``threads`` > 1) takes the machine exclusively; every other test shares it.
"""
from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pytest


def torch_threads_of(item: pytest.Item) -> int:
    """The torch thread count a test asks for by its ``threads`` parameter (1 when it has none)."""
    callspec = getattr(item, "callspec", None)
    return int(callspec.params.get("threads") or 1) if callspec is not None else 1


@contextmanager
def machine_share(run_id: str, exclusive: bool):
    """Hold the machine shared (any number of tests) or exclusive (one test), across processes.

    A fair readers-writer lock of two flock files: a test waiting for the machine holds the turnstile,
    so tests that come after it queue behind it instead of keeping it waiting for ever."""
    folder = Path(tempfile.gettempdir())
    with open(folder / f"vp-tests-{run_id}.turnstile", "a") as turnstile, \
            open(folder / f"vp-tests-{run_id}.machine", "a") as machine:
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
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID")  # set on xdist's workers only
    if run_id is None:
        yield
        return
    with machine_share(run_id, exclusive=torch_threads_of(item) > 1):
        yield
