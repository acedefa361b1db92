"""The worker's chunk rule (app.worker.chunk_length), from given step times: no clock is read."""
from __future__ import annotations

import pytest

from app.worker import CHUNK_SECONDS, MAX_CHUNK, STATISTICS_SHARE, chunk_length

# powers of two: every division below is exact, so the rule's floor and ceiling are tested, not rounding
CHEAP, SNAPSHOT = 2.0**-10, 2.0**-9


def chunk_seconds(n: int, cheap: float, snapshot: float) -> float:
    """A chunk of n steps: n − 1 without a snapshot, then the snapshot step."""
    return (n - 1) * cheap + snapshot


def test_cheap_statistics_give_a_snapshot_for_each_frame():
    n = chunk_length(CHEAP, SNAPSHOT, current=MAX_CHUNK)
    # the longest chunk that fits in one frame's time: one step more would not
    assert chunk_seconds(n, CHEAP, SNAPSHOT) <= CHUNK_SECONDS < chunk_seconds(n + 1, CHEAP, SNAPSHOT)
    assert n == 63  # (1/16 − 2⁻⁹) / 2⁻¹⁰ = 62 steps without a snapshot, then the snapshot's
    share = (SNAPSHOT - CHEAP) / chunk_seconds(n, CHEAP, SNAPSHOT)
    assert share <= STATISTICS_SHARE


def test_costly_statistics_make_chunks_long_enough_to_keep_their_share():
    cheap, snapshot = 2.0**-7, 2.0**-7 + 2.0**-5   # the full statistics cost 4 steps more
    n = chunk_length(cheap, snapshot, current=MAX_CHUNK)
    extra = snapshot - cheap
    assert chunk_seconds(n, cheap, snapshot) > CHUNK_SECONDS  # longer than a frame: fewer frames
    assert extra / chunk_seconds(n, cheap, snapshot) <= STATISTICS_SHARE
    assert extra / chunk_seconds(n - 1, cheap, snapshot) > STATISTICS_SHARE  # and no longer than needed
    # n ≥ e·(1 − s)/(s·cheap) = 4·0.85/0.15 = 22.67
    assert n == 23


def test_growth_is_at_most_twice_the_current_chunk():
    assert chunk_length(CHEAP, SNAPSHOT, current=4) == 8
    assert chunk_length(CHEAP, SNAPSHOT, current=40) == 63
    assert chunk_length(2.0**-30, 2.0**-29, current=MAX_CHUNK) == MAX_CHUNK  # capped


def test_shrinks_at_once_when_steps_become_slow():
    # a step slower than a frame: one step a chunk, whatever the chunk was
    assert chunk_length(0.1, 0.1, current=1000) == 1
    assert chunk_length(1.0, 1.0, current=1) == 1


def test_no_cheap_step_measured_takes_the_snapshot_step_for_both():
    n = chunk_length(None, SNAPSHOT, current=MAX_CHUNK)
    assert n == chunk_length(SNAPSHOT, SNAPSHOT, current=MAX_CHUNK)
    assert n * SNAPSHOT <= CHUNK_SECONDS < (n + 1) * SNAPSHOT  # 32 steps of 2⁻⁹ s in 1/16 s
    assert n == 32


def test_no_cheap_step_measured_takes_two_steps_to_measure_one():
    """A snapshot step longer than a frame alone would keep chunks at one instrumented step, which
    never measures the cheap step the statistics' share is judged against."""
    slow = 4 * CHUNK_SECONDS
    assert chunk_length(slow, slow, current=1) == 1
    assert chunk_length(None, slow, current=1) == 2


@pytest.mark.parametrize("cheap", [0.0, -1.0])
def test_an_unmeasurably_short_step_doubles_the_chunk(cheap):
    assert chunk_length(cheap, SNAPSHOT, current=5) == 10
    assert chunk_length(cheap, SNAPSHOT, current=MAX_CHUNK) == MAX_CHUNK


def test_a_window_that_draws_slower_gets_no_more_snapshots_than_it_draws():
    """Frames drawn every 4/16 s (a costly frame within the draw budget): a chunk spans that time."""
    slow_frames = 4 * CHUNK_SECONDS
    n = chunk_length(CHEAP, SNAPSHOT, current=MAX_CHUNK, frame_seconds=slow_frames)
    assert chunk_seconds(n, CHEAP, SNAPSHOT) <= slow_frames < chunk_seconds(n + 1, CHEAP, SNAPSHOT)
    assert n == 255  # (1/4 − 2⁻⁹) / 2⁻¹⁰ = 254 steps without a snapshot, then the snapshot's
