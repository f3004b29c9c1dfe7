"""The C library through ctypes, for the Linux calls Python does not wrap (prctl, inotify): loaded once, by
its name, without `ctypes.util.find_library` (which runs `ldconfig -p` on every call: 2 to 30 ms)."""

from __future__ import annotations

import ctypes
import sys
from functools import lru_cache


@lru_cache(maxsize=1)
def libc() -> ctypes.CDLL | None:
    """The C library on Linux; None elsewhere or where it cannot be loaded."""
    if not sys.platform.startswith("linux"):
        return None
    for name in ("libc.so.6", None):  # glibc's; else the symbols the process has loaded (musl's libc)
        try:
            return ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
    return None
