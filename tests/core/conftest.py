import os
from typing import Callable

import pytest

from core import SimConfig, memory
from core.cli import main
from tests.helpers import torch_threads


@pytest.fixture
def small() -> SimConfig:
    """A quick configuration for tests that only need some network."""
    return SimConfig(depth=4, width=16, n_samples=256, batch_size=32, device="cpu")


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Every core test runs torch on one intra-op thread (module scope, so a module's shared runs
    are made under it too). Small networks (an unrolled RNN is hundreds of tiny ops) gain nothing
    from intra-op threads, and on a shared, loaded 2-core machine two spinning torch threads made a
    step ~5-20x slower than one. It also fixes the summation order, hence exactly the runs the
    scenario texts were measured on. No core test measures threads; a test comparing with another
    process allows for a different thread split in its tolerance."""
    with torch_threads(int(os.environ.get("VP_TEST_TORCH_THREADS", "1"))):  # (≠ 1: check thread-robustness)
        yield


@pytest.fixture
def run_cli(capsys) -> Callable[..., tuple[int, str, str]]:
    """``run_cli(*argv)`` runs ``python -m core *argv`` in this process: (exit status, stdout, stderr).

    main() is exactly what ``python -m core`` runs (tests/core/test_cli.py runs each verb once as a
    real process too). The one piece of process state the CLI sets, the --memory-budget, starts
    unset for every call, as in a fresh process, and is unset again afterwards."""
    def run(*argv) -> tuple[int, str, str]:
        memory.set_budget_mb(None)
        capsys.readouterr()  # what the test printed before is not the command's output
        code = main([str(a) for a in argv])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    yield run
    memory.set_budget_mb(None)
