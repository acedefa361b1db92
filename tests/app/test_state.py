"""RunState without a worker thread: frames, generations, replay, the one config path, problems."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QObject, Signal

from app.state import Frame, SingleState
from core import Simulator
from core.memory import MemoryLimitError


class FakeWorker(QObject):
    """The worker's signals and commands, recorded instead of run."""

    snapshotReady = Signal(object)
    configApplied = Signal(object, str, str)
    runningChanged = Signal(bool)
    notice = Signal(str)
    failed = Signal(str)
    spectrumReady = Signal(object)
    modelCopied = Signal(object)

    def __init__(self):
        super().__init__()
        self.configs: list = []
        self.running = False
        self.frame_seconds: list[float] = []

    def set_frame_seconds(self, seconds):
        self.frame_seconds.append(seconds)

    def set_config(self, config):
        self.configs.append(config)

    def is_running(self):
        return self.running

    def set_running(self, running, until=None):
        self.running = running

    def step_once(self):
        pass

    def reset(self):
        pass

    def probe(self):
        pass


@pytest.fixture
def state(small_config, qtbot):
    worker = FakeWorker()
    s = SingleState(worker, small_config)
    yield s
    s.shutdown()


@pytest.fixture
def snaps(small_config):
    sim = Simulator(small_config)
    return sim.probe(), sim.step(), sim.step()


def test_frames_are_recorded_drawn_and_a_new_generation_clears_the_history(state, snaps, small_config):
    drawn = []
    state.frameDue.connect(drawn.append)
    probe, one, two = snaps
    for snap in (probe, one, two):
        state.worker.snapshotReady.emit(Frame(snap, small_config, 1))
    assert state.history.steps == [1, 2] and state.generation == 1
    assert [f.snapshot.step for f in drawn] == [0, 1, 2]  # paused: each is drawn at once
    assert state.settled() and state.recorded_snapshots() == [one, two]
    other = small_config.replace(seed=7)
    state.worker.snapshotReady.emit(Frame(probe, other, 2))
    assert state.generation == 2 and state.history.steps == [] and state.frame_config() == other
    assert state.recorded_snapshots() == [probe]


def test_while_running_a_frame_tells_the_worker_how_often_frames_are_drawn(state, snaps, small_config):
    """The worker makes one snapshot per frame the window draws: a frame costing 50 ms of paint
    within DRAW_BUDGET allows one every 50 ms / DRAW_BUDGET, and no frame is drawn sooner."""
    from app.state import DRAW_BUDGET

    drawn = []
    state.frameDue.connect(drawn.append)
    state.paint_seconds = lambda: 0.05
    probe, one, two = snaps
    state.worker.snapshotReady.emit(Frame(probe, small_config, 1))   # paused: drawn at once, nothing sent
    assert len(drawn) == 1 and state.worker.frame_seconds == []
    state.worker.running = True
    state.worker.snapshotReady.emit(Frame(one, small_config, 1))
    state.draw()
    assert len(drawn) == 2
    (sent,) = state.worker.frame_seconds
    assert 0.05 / DRAW_BUDGET <= sent < 0.05 / DRAW_BUDGET + 1.0   # (+ the views' own time)
    state.worker.snapshotReady.emit(Frame(two, small_config, 1))
    state.draw()
    assert len(drawn) == 2 and state.pending   # within the budget: the newest waits for its turn


def test_a_replay_ignores_the_worker_until_the_user_acts(state, snaps, small_config):
    probe, one, two = snaps
    saved = small_config.replace(lr=0.5)
    state.show_recorded(saved, [one, two], None)
    assert state.replay and state.pending and state.frame_config() == saved
    state.worker.snapshotReady.emit(Frame(probe, small_config, 3))  # the rebuild's probe
    assert state.frame.snapshot is two and state.history.steps == [1, 2]
    state.step()
    assert not state.replay and state.history.steps == []


def test_request_config_refuses_what_does_not_fit_before_the_worker_sees_it(state, small_config, monkeypatch,
                                                                           qtbot):
    requested = []
    state.configRequested.connect(requested.append)

    def refuse(cfg):
        raise MemoryLimitError("too big (test)")

    monkeypatch.setattr(state, "check", refuse)
    with pytest.raises(MemoryLimitError):
        state.request_config(small_config.replace(width=20))
    assert state.worker.configs == [] and requested == [] and state.requested == small_config
    monkeypatch.undo()
    wider, widest, last = (small_config.replace(width=w) for w in (20, 24, 28))
    state.request_config(wider)
    state.request_config(widest)  # within the throttle: waits, and the next one replaces it
    state.request_config(last)
    assert state.worker.configs == [wider] and requested == [wider, widest, last] and state.requested == last
    qtbot.waitUntil(lambda: state.worker.configs == [wider, last], timeout=2000)
    state.request_config(small_config, now=True)
    assert state.worker.configs[-1] == small_config


def test_a_notice_stays_until_the_config_changes_and_an_error_until_the_user_acts(state, small_config):
    seen = []
    state.problemChanged.connect(lambda m, stops: seen.append((m, stops)))
    state.worker.notice.emit("falling back to the CPU")
    state.set_running(True)
    assert state.problem == "falling back to the CPU" and not state.diverged_message
    state.worker.failed.emit("Diverged at step 3")
    assert state.diverged_message == "Diverged at step 3"
    state.reset()
    assert state.problem == "" and seen == [("falling back to the CPU", False), ("Diverged at step 3", True),
                                            ("", False)]
    state.worker.notice.emit("falling back to the CPU")
    state.request_config(small_config.replace(width=20), now=True)
    assert state.problem == "" and seen[-1] == ("", False)
