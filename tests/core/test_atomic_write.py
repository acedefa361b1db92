"""Killing a process in the middle of a save leaves the previous file whole (core/files.py)."""
from __future__ import annotations

import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SIZE = 8 * 1024 * 1024  # large enough that a write takes a while, so most kills land inside one
KILLS = 8

# The writer loads core/files.py by path: importing the `core` package would import torch and take
# seconds per process. It saves version 1, 2, 3, ... and prints each number before saving it.
WRITER = textwrap.dedent("""
    import importlib.util, sys
    from pathlib import Path
    spec = importlib.util.spec_from_file_location("files", sys.argv[1])
    files = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(files)
    target, size, mode = Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]

    def payload(i):
        return b"version %08d\\n" % i + bytes([i % 251]) * size + b"\\nend %08d\\n" % i

    i = 0
    while True:
        i += 1
        data = payload(i)
        print(i, flush=True)
        if mode == "atomic":
            files.atomic_write_bytes(target, data)
        else:  # the naive way, as a control: truncate and write in place
            with open(target, "wb") as fh:
                fh.write(data[: len(data) // 2]); fh.flush(); fh.write(data[len(data) // 2:])
""")


def version_of(data: bytes) -> int | None:
    """The version number if `data` is exactly one complete payload, else None."""
    if not data.startswith(b"version "):
        return None
    i = int(data[8:16])
    expected = b"version %08d\n" % i + bytes([i % 251]) * SIZE + b"\nend %08d\n" % i
    return i if data == expected else None


def kill_mid_save(tmp_path: Path, mode: str, seed: int) -> tuple[int | None, int, list[str]]:
    """Start a writer, SIGKILL it at a random moment after a few saves; return
    (version found in the target, last version announced, leftover file names)."""
    rng = random.Random(seed)
    folder = tmp_path / f"{mode}{seed}"
    folder.mkdir()
    target = folder / "session.json"
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(ROOT / "core" / "files.py"), str(target), str(SIZE),
                             mode], stdout=subprocess.PIPE, text=True)
    try:
        wait_for = rng.randint(2, 4)
        announced = 0
        while announced < wait_for:
            announced = int(proc.stdout.readline())
        # a random moment within the next save (one save takes tens of milliseconds)
        time.sleep(rng.random() * 0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        rest = proc.stdout.read()
    finally:
        proc.kill()
        proc.stdout.close()
    announced = max([announced, *map(int, rest.split())])
    leftovers = sorted(p.name for p in folder.iterdir() if p.name != target.name)
    return version_of(target.read_bytes()), announced, leftovers


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_atomic_save_leaves_the_old_or_the_new_file(tmp_path):
    mid_write = 0
    for seed in range(KILLS):
        version, announced, leftovers = kill_mid_save(tmp_path, "atomic", seed)
        # saves 1..announced-1 completed; save `announced` was killed before or after its rename
        assert version in (announced - 1, announced), (seed, version, announced)
        assert all(name.startswith(".session.json.") and name.endswith(".tmp") for name in leftovers)
        mid_write += bool(leftovers)
    assert mid_write >= 1, "no kill landed inside a save: the test proved nothing"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_control_a_naive_save_is_torn_by_the_same_kill(tmp_path):
    """The same kills against an in-place write do leave partial files: the check above has teeth."""
    torn = sum(kill_mid_save(tmp_path, "plain", seed)[0] is None for seed in range(KILLS))
    assert torn >= 1
