"""Torch's intra-op thread counts in the app: one fixed count for the worker's training, one thread
for every other thread that runs torch (the GUI thread, the job threads).

Why only the worker may run a parallel operation: torch's OpenMP on Linux (libgomp) keeps a team of
threads for every thread that has run one, for as long as that thread lives, and once it manages
more threads than there are cores, its threads stop spinning at the end of a parallel operation and
sleep on a futex instead. Measured on 2 cores (bench/README.md): one other live team halved a
two-thread training loop (16 against 36 steps/s; 780 context switches a step against 1).
"""
from __future__ import annotations

import os

import torch

# Torch's count as the process started (a core each, unless the user set OMP_NUM_THREADS): read
# before any thread of the app sets its own, so it does not depend on what ran first.
_STARTING_THREADS = torch.get_num_threads()

# Up to this many cores the worker trains on all of them, above it on one fewer (see thread_rule).
ALL_CORES_UP_TO = 6


def default_threads() -> int:
    """Torch's intra-op thread count as the process started (a core each, unless the user set it)."""
    return _STARTING_THREADS


def thread_rule(cores: int, available: int) -> int:
    """The training thread count on `cores` cores when the process may use `available` threads: every
    core up to ALL_CORES_UP_TO, one fewer above; at least one, never more than `available`.

    The GUI thread paints on one of the cores. Where it takes a torch thread's core, the team waits
    for that thread at the end of every parallel operation: measured on 2 cores, the window's torch
    threads spent 1.69× the bare loop's CPU a step on two threads against 1.21–1.37× on one, and
    still trained 1.3–1.4× as fast at 50 × 256 and as fast at the smaller sizes. That wait costs about
    the GUI thread's share of a core (16–21 %); keeping a core free for it instead costs 1/cores of
    the training, so the two are even at five to six cores.
    """
    wanted = cores if cores <= ALL_CORES_UP_TO else cores - 1
    return max(1, min(available, wanted))


def training_threads() -> int:
    """Torch's intra-op thread count for every training step the window makes (`thread_rule`).

    The count is fixed, not measured as the run goes: a reduction split over another number of threads
    sums in another order, and a network whose training amplifies rounding (BatchNorm on two examples,
    a post-LN transformer under Adam) then follows another trajectory. A count that changed with the
    machine's load mid-run would make the same config give other numbers from run to run.
    """
    return thread_rule(os.cpu_count() or 1, default_threads())


def confine_to_one_thread() -> None:
    """Run this thread's torch work on one thread, so that it never forms an OpenMP team.

    For every thread but the worker: the GUI thread (which runs torch once, to preload its imports)
    and the job threads. torch's count is per thread; a thread that has not set its own takes the
    last count any thread set when it first runs a parallel operation, so each one confines itself.
    """
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)
