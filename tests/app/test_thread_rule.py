"""The worker's torch thread count (app.worker.training_threads): a fixed rule, so that a config
gives the same numbers however its run is driven."""
from __future__ import annotations

import torch

from app.worker import SimWorker, default_threads, training_threads
from core import Simulator


def test_one_core_fewer_than_there_are_and_never_more_than_the_process_had(monkeypatch):
    default_threads.cache_clear()
    try:
        for cores, expected in ((1, 1), (2, 1), (8, 7)):
            monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
            monkeypatch.setattr("torch.get_num_threads", lambda cores=cores: cores)
            default_threads.cache_clear()
            assert training_threads() == expected
        # a user who set torch to one thread (OMP_NUM_THREADS=1) is not given more
        monkeypatch.setattr("os.cpu_count", lambda: 8)
        monkeypatch.setattr("torch.get_num_threads", lambda: 1)
        default_threads.cache_clear()
        assert training_threads() == 1
    finally:
        default_threads.cache_clear()


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
