"""Which paths of a repository may have changed since the last look, without walking it: Linux's inotify,
through ctypes, watching every folder of the work tree (but `.git` folders). The tripwire asks it for
candidates and compares only those; where inotify cannot be had (another system, the watch limit reached,
the event queue overflowed) it answers None and the tripwire walks the tree."""

from __future__ import annotations

import ctypes
import os
import struct
from pathlib import Path

from agentfiles.executors.libc import libc

_MODIFY, _ATTRIB, _CLOSE_WRITE, _MOVED_FROM, _MOVED_TO = 0x2, 0x4, 0x8, 0x40, 0x80
_CREATE, _DELETE, _DELETE_SELF, _MOVE_SELF = 0x100, 0x200, 0x400, 0x800
_Q_OVERFLOW, _IGNORED, _ISDIR, _ONLYDIR, _DONT_FOLLOW = 0x4000, 0x8000, 0x40000000, 0x1000000, 0x2000000
_MASK = (_MODIFY | _ATTRIB | _CLOSE_WRITE | _MOVED_FROM | _MOVED_TO | _CREATE | _DELETE | _DELETE_SELF
         | _MOVE_SELF | _ONLYDIR | _DONT_FOLLOW)
_EVENT = struct.Struct("iIII")


class Watch:
    """inotify watches on every folder under `root` but `skip` (repo-relative) and `.git` folders.
    `changed()` drains the events: the repo-relative paths that may have changed, or None when it cannot
    tell (then walk)."""

    def __init__(self, root: Path, skip: frozenset[str], names: dict[str, int] | None = None) -> None:
        """`names`, when given, receives every file and link the first walk lists, with the inode number the
        listing gives (no stat)."""
        self.root = str(root)
        self.skip = skip
        self.fd = -1
        self.folders: dict[int, str] = {}  # watch descriptor -> repo-relative folder ("" for the root)
        self.broken = False
        libc = _libc()
        if libc is None:
            self.broken = True
            return
        self.libc = libc
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            self.broken = True
            return
        self._watch_tree("", names)

    def changed(self) -> set[str] | None:
        if self.broken:
            return None
        found: set[str] = set()
        while True:
            try:
                data = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            except OSError:
                self.broken = True
                return None
            at = 0
            while at + _EVENT.size <= len(data):
                wd, mask, _, size = _EVENT.unpack_from(data, at)
                name = data[at + _EVENT.size: at + _EVENT.size + size].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
                at += _EVENT.size + size
                if mask & _Q_OVERFLOW:
                    self.broken = True  # events were lost: from now on only a walk can tell
                    return None
                folder = self.folders.get(wd)
                if folder is None or mask & _IGNORED:
                    continue
                rel = f"{folder}/{name}" if folder and name else (name or folder)
                if mask & (_DELETE_SELF | _MOVE_SELF):
                    found.add(folder + "/" if folder else "")
                    continue
                found.add(rel)
                if mask & _ISDIR:
                    found.add(rel + "/")  # everything that was or is under it
                    if mask & (_CREATE | _MOVED_TO) and name != ".git":
                        self._watch_tree(rel)
        return None if self.broken else found

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def _watch_tree(self, rel: str, names: dict[str, int] | None = None) -> None:
        if self.broken or rel in self.skip:
            return
        self._add(rel)
        try:
            entries = list(os.scandir(os.path.join(self.root, rel) if rel else self.root))
        except OSError:
            return
        prefix = rel + "/" if rel else ""
        for entry in entries:
            if entry.name == ".git":
                continue
            if entry.is_dir(follow_symlinks=False):
                self._watch_tree(prefix + entry.name, names)
            elif names is not None and prefix + entry.name not in self.skip:
                names[prefix + entry.name] = entry.inode()

    def _add(self, rel: str) -> None:
        path = os.path.join(self.root, rel) if rel else self.root
        wd = self.libc.inotify_add_watch(self.fd, os.fsencode(path), _MASK)
        if wd < 0:
            if ctypes.get_errno() not in (2, 20):  # ENOENT, ENOTDIR: gone already; else a limit: give up
                self.broken = True
            return
        self.folders[wd] = rel


def _libc():  # type: ignore[no-untyped-def]
    found = libc()
    try:
        found.inotify_init1.argtypes = [ctypes.c_int]  # type: ignore[union-attr]
        found.inotify_add_watch.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_uint32]  # type: ignore[union-attr]
    except AttributeError:  # no C library (None), or one without inotify
        return None
    return found
