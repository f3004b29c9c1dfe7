"""Scratch folders in the temporary folder (a run's private git index, a replay's sandbox, a cluster worker's
step, a Claude Code conversation): each named for the process that made it, `agents-KIND-PID-XXXXXXXX`. A
process killed outright (SIGKILL, an out-of-memory kill, a lost machine) runs no `finally` and leaves its
folder behind; the next process of agents that makes a folder of that kind removes those of processes that
no longer exist, once they have been left alone for an hour (a process in another pid namespace sharing the
temporary folder looks gone from here, and what is in its folders still changes while it works)."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time

LEFT_ALONE_S = 3600.0  # unchanged this long, in a folder of a process that is gone: left behind
PID_DIGITS = 7  # a pid has at most 7 digits (Linux's limit is 4,194,304)
WALK_CAP = 20_000  # entries looked at in such a folder before it is taken for one in use
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
        if not (pid.isascii() and pid.isdigit() and len(pid) <= PID_DIGITS) or not rest or _alive(int(pid)):
            continue  # not a name scratch_folder makes (any user may make one here), or its process lives
        path = os.path.join(folder, name)
        if _ours_and_idle(path, now):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed


def _alive(pid: int) -> bool:
    if pid in (0, os.getpid()):  # 0 would ask about this process's group
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's: it exists
        return True
    return True


def _ours_and_idle(path: str, now: float) -> bool:
    """A folder (not a link) of this user in which nothing was added, removed, renamed or written, at any
    depth, for LEFT_ALONE_S (a folder of more than WALK_CAP entries counts as busy: kept)."""
    try:
        info = os.lstat(path)
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        return False
    seen = 0
    for folder, names, files in os.walk(path):  # links are not followed
        for name in (*names, *files):
            seen += 1
            try:
                entry = os.lstat(os.path.join(folder, name))
            except OSError:
                return False  # changing now
            if seen > WALK_CAP or now - entry.st_mtime < LEFT_ALONE_S:
                return False
    return now - info.st_mtime >= LEFT_ALONE_S
