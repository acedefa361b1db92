"""Process-level tuning for the statistics pass."""
from __future__ import annotations

import ctypes
import ctypes.util
import sys
from functools import lru_cache

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@lru_cache(maxsize=None)
def tune_allocator() -> bool:
    """Ask glibc to keep freed blocks of up to 32 MiB instead of returning them to the OS.

    The statistics pass allocates a few [depth, batch, width] tensors per step;
    with glibc's defaults each is a fresh mmap whose pages fault in one by one,
    which costs more than the arithmetic. Returns whether the setting took.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        ok = libc.mallopt(_M_MMAP_THRESHOLD, 32 * 1024 * 1024) and libc.mallopt(_M_TRIM_THRESHOLD, 256 * 1024 * 1024)
        return bool(ok)
    except (OSError, AttributeError):  # not glibc (e.g. musl): keep the defaults
        return False
