"""Scratch folders in the temporary folder (a run's private git index, a replay's sandbox, a cluster worker's
step, a Claude Code conversation): each named for the process that made it, `agents-KIND-PID-XXXXXXXX`. A
process killed outright (SIGKILL, an out-of-memory kill, a lost machine) runs no `finally` and leaves its
folder behind; the next process of agents that makes a folder of that kind removes those of processes that
no longer exist, once they have been left alone for an hour (a process in another pid namespace sharing the
temporary folder looks gone from here, and its folders still change while it works)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time

LEFT_ALONE_S = 3600.0  # unchanged this long, in a folder of a process that is gone: left behind
_SWEPT: set[str] = set()  # the kinds whose leftovers this process has looked for


def scratch_folder(kind: str) -> str:
    """A new folder `agents-KIND-PID-...` in the temporary folder (the caller removes it); the first of its
    kind in this process first removes what killed processes left of that kind."""
    prefix = f"agents-{kind}-"
    if kind not in _SWEPT:
        _SWEPT.add(kind)
        sweep(prefix)
    return tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-")


def sweep(prefix: str, now: float | None = None) -> list[str]:
    """Remove the folders `PREFIX<pid>-*` of this user in the temporary folder whose process is gone and
    which nothing changed for LEFT_ALONE_S; returns their paths."""
    folder = tempfile.gettempdir()
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    now = time.time() if now is None else now
    removed = []
    for name in names:
        if not name.startswith(prefix):
            continue
        pid, _, rest = name[len(prefix):].partition("-")
        if not pid.isdigit() or not rest or _alive(int(pid)):
            continue
        path = os.path.join(folder, name)
        if _ours_and_idle(path, now):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        return True
    return True


def _ours_and_idle(path: str, now: float) -> bool:
    """A folder (not a link) of this user in which nothing was added, removed or renamed, itself or a
    folder right in it, for LEFT_ALONE_S."""
    try:
        info = os.lstat(path)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        newest = info.st_mtime
        with os.scandir(path) as entries:
            for entry in entries:
                newest = max(newest, entry.stat(follow_symlinks=False).st_mtime)
    except OSError:
        return False
    return now - newest >= LEFT_ALONE_S
