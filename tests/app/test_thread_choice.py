"""The worker's thread rule (app.worker.ThreadChoice, thread_candidates), from given chunk timings:
no clock is read and no thread is started."""
from __future__ import annotations

from app.worker import SimWorker, ThreadChoice, default_threads, thread_candidates


def feed(choice: ThreadChoice, rates: dict[int, float], seconds: float, chunk: float = 0.25) -> list[int]:
    """Run chunks of `chunk` seconds for `seconds`, each at rates[threads] steps/s; the counts used."""
    used = []
    for _ in range(round(seconds / chunk)):
        threads = choice.threads()
        used.append(threads)
        choice.record(threads, round(rates[threads] * chunk), chunk)
    return used


def test_candidates_are_a_thread_per_core_and_one_fewer(monkeypatch):
    default_threads.cache_clear()
    try:
        for cores, expected in ((1, (1,)), (2, (2, 1)), (8, (8, 7))):
            monkeypatch.setattr("os.cpu_count", lambda cores=cores: cores)
            monkeypatch.setattr("torch.get_num_threads", lambda cores=cores: cores)
            default_threads.cache_clear()
            assert thread_candidates() == expected
        # a user who set torch to one thread (OMP_NUM_THREADS=1) is not given more
        monkeypatch.setattr("torch.get_num_threads", lambda: 1)
        default_threads.cache_clear()
        assert thread_candidates() == (1,)
    finally:
        default_threads.cache_clear()


def test_warms_up_then_trials_each_candidate_and_keeps_the_faster():
    choice = ThreadChoice((2, 1), trial_seconds=1.0, recheck_seconds=30.0, warmup_seconds=0.5)
    used = feed(choice, {2: 40.0, 1: 24.0}, seconds=2.5)
    # 0.5 s warm-up on the first candidate, then 1 s each: 2 then 1
    assert used == [2, 2, 2, 2, 2, 2, 1, 1, 1, 1]
    assert choice.rates == {2: 40.0, 1: 24.0}
    assert choice.chosen == 2 and not choice.trialling
    assert set(feed(choice, {2: 40.0, 1: 24.0}, seconds=20.0)) == {2}


def test_a_loaded_machine_where_two_threads_stall_chooses_one():
    choice = ThreadChoice((2, 1), trial_seconds=1.0, warmup_seconds=0.0)
    feed(choice, {2: 4.0, 1: 16.0}, seconds=2.0)
    assert choice.chosen == 1
    assert set(feed(choice, {2: 4.0, 1: 16.0}, seconds=10.0)) == {1}


def test_checks_again_after_recheck_seconds_the_chosen_one_last():
    choice = ThreadChoice((2, 1), trial_seconds=1.0, recheck_seconds=10.0, warmup_seconds=0.0)
    feed(choice, {2: 4.0, 1: 16.0}, seconds=2.0)
    assert choice.chosen == 1
    used = feed(choice, {2: 40.0, 1: 16.0}, seconds=12.0)   # the load went away
    assert used[:40] == [1] * 40                            # 10 s on the chosen count
    assert used[40:44] == [2] * 4 and used[44:48] == [1] * 4  # the other first, the chosen last
    assert choice.chosen == 2


def test_a_new_network_starts_over_and_one_candidate_never_trials():
    choice = ThreadChoice((2, 1), trial_seconds=1.0, warmup_seconds=0.5)
    feed(choice, {2: 4.0, 1: 16.0}, seconds=2.5)
    assert choice.chosen == 1
    choice.reset()
    assert choice.trialling and choice.threads() == 1  # warming up on the last choice
    single = ThreadChoice((1,))
    assert not single.trialling
    assert set(feed(single, {1: 10.0}, seconds=5.0)) == {1}


def test_a_chunk_on_another_count_is_not_counted_for_the_trial():
    choice = ThreadChoice((2, 1), trial_seconds=1.0, warmup_seconds=0.0)
    choice.record(1, 100, 5.0)   # (e.g. run before the choice was made)
    assert choice.threads() == 2 and choice.trialling


def test_a_fixed_thread_count_is_kept(small_config):
    worker = SimWorker(small_config)
    worker.training_threads = 1
    assert worker.thread_choice.candidates == (1,)
    assert worker.training_threads == 1
