"""Torch's thread counts in the app (app.torch_threads): the worker trains on a fixed count, so that a
config gives the same numbers however its run is driven; every other thread runs torch on one."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from app.torch_threads import default_threads, thread_rule, training_threads
from app.worker import SimWorker
from core import Simulator

ROOT = Path(__file__).resolve().parents[2]
STARTING = default_threads()


def test_every_core_up_to_six_then_one_fewer_and_never_more_than_the_process_had():
    cases = {(1, 1): 1, (2, 2): 2, (4, 4): 4, (6, 6): 6, (8, 8): 7, (16, 16): 15,
             (8, 1): 1, (2, 1): 1, (16, 4): 4}  # (cores, threads the process started with): count
    assert {key: thread_rule(*key) for key in cases} == cases
    assert training_threads() == thread_rule(os.cpu_count() or 1, default_threads())


def test_the_starting_count_does_not_depend_on_what_ran_before():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        assert default_threads() == STARTING
    finally:
        torch.set_num_threads(before)


def test_job_threads_run_torch_on_one_thread(qtbot):
    from app.jobs import JobSlot

    slot, seen = JobSlot("threads"), []
    slot.done.connect(seen.append)
    slot.start(lambda progress, cancelled: torch.get_num_threads())
    qtbot.waitUntil(lambda: bool(seen), timeout=10_000)
    slot.shutdown(10_000)
    assert seen == [1]


def test_the_comparison_worker_trains_and_probes_on_one_thread(small_config):
    """(a second worker's OpenMP team would throttle the main window's and its own)"""
    from app.compare_window import CompareWorker
    from core.compare import ConfigPair

    worker = CompareWorker(ConfigPair(small_config, small_config))
    assert worker.training_threads == worker.probe_threads == 1
    before = torch.get_num_threads()
    try:
        for trains in (False, True):
            with worker._cores(trains=trains):
                assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert SimWorker(small_config).probe_threads == max(training_threads(), default_threads())


# A process whose GUI thread has preloaded torch (WorkerThread.start) runs 300 parallel operations on
# another thread, on two torch threads, and prints the voluntary context switches they cost: none
# while libgomp's threads spin between operations, two an operation once it manages more threads than
# there are cores.
TEAM_SCRIPT = """
import resource, sys, threading, time
import torch
from PySide6.QtCore import QCoreApplication
import app.worker as worker
from core import SimConfig
if sys.argv[1] == "unconfined":
    worker.confine_to_one_thread = lambda: None
qapp = QCoreApplication([])
thread = worker.WorkerThread(SimConfig(depth=2, width=8, n_samples=64, batch_size=16))
thread.start()
time.sleep(0.3)
assert thread.shutdown()
switches = []
def parallel_operations():
    torch.set_num_threads(2)
    x = torch.ones(1 << 20)
    x.mul_(1.0)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw
    for _ in range(300):
        x.mul_(1.0)
    switches.append(resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw - before)
other = threading.Thread(target=parallel_operations)
other.start()
other.join()
print(switches[0])
"""


@pytest.mark.skipif((os.cpu_count() or 1) < 2 or sys.platform != "linux", reason="two cores and libgomp")
@pytest.mark.parametrize("threads", [2])  # the machine to itself: spinning threads are not preempted
def test_the_gui_thread_forms_no_openmp_team(threads, tmp_path):
    """Without the confinement the GUI thread's team (from preloading) makes every later two-thread
    operation sleep and wake (the control); with it, they spin as in a process of one team."""
    # torch's own count (a core each), whatever an earlier test left in the environment: a Dask nanny
    # sets OMP_NUM_THREADS, MKL_NUM_THREADS and OPENBLAS_NUM_THREADS to 1 in its parent's
    leaked = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
    env = {**{k: v for k, v in os.environ.items() if k not in leaked}, "QT_QPA_PLATFORM": "offscreen",
           "PYTHONPATH": str(ROOT)}

    def switches(variant: str) -> int:
        done = subprocess.run([sys.executable, "-c", TEAM_SCRIPT, variant], capture_output=True, text=True,
                              env=env, cwd=tmp_path, timeout=120)
        assert done.returncode == 0, done.stderr
        return int(done.stdout.split()[-1])

    unconfined, confined = switches("unconfined"), switches("confined")
    assert unconfined >= 300  # (a sleep and a wake-up an operation: 600 measured)
    assert confined <= 100  # (0 measured on a quiet machine, 32-47 beside a busy core)


def test_a_worker_trains_on_the_rule_s_count(small_config):
    assert SimWorker(small_config).training_threads == training_threads()


def test_run_pause_and_single_steps_give_the_numbers_of_one_simulator(make_window, small_config, qtbot):
    """Running in chunks, pausing and stepping by hand all train on training_threads: the loss
    curve is bit for bit that of a Simulator stepped on that count."""
    w = make_window(small_config)
    w.set_running(True, until=30)
    qtbot.waitUntil(lambda: not w.is_running() and w.latest.step == 30, timeout=60_000)
    for k in range(31, 34):
        w.step()
        qtbot.waitUntil(lambda k=k: w.latest.kind == "step" and w.latest.step == k, timeout=10_000)
    w.set_running(True, until=60)
    qtbot.waitUntil(lambda: not w.is_running() and w.latest.step == 60, timeout=60_000)
    before = torch.get_num_threads()
    torch.set_num_threads(w.worker.training_threads)
    try:
        reference = Simulator(small_config)
        losses = [reference.step().loss for _ in range(60)]
    finally:
        torch.set_num_threads(before)
    assert w.history.steps == list(range(1, 61))
    assert w.history.loss == losses
