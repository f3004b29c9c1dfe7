"""Moments of a running `agents run`, named by what it does to the file system: a file created, moved into
place or deleted under a folder, seen through Linux's inotify (ctypes, no dependency). A test waits for
the Nth such moment and then acts (kills the run, takes git's index lock), so the moment is chosen by
the run's own progress rather than by a clock."""

from __future__ import annotations

import ctypes
import os
import re
import select
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

CREATE, MOVED_TO, DELETE, CLOSE_WRITE = 0x100, 0x80, 0x200, 0x8
_IS_DIR, _OVERFLOW, _IGNORED = 0x40000000, 0x4000, 0x8000
_MASK = CREATE | MOVED_TO | DELETE | CLOSE_WRITE
_HEADER = struct.Struct("iIII")
KINDS = {"created": CREATE, "in place": MOVED_TO, "deleted": DELETE, "written": CLOSE_WRITE}


def available() -> bool:
    return hasattr(os, "uname") and os.uname().sysname == "Linux"


def _regex(pattern: str) -> re.Pattern[str]:
    """A glob as a regular expression: `*` within one path component, `**` across them."""
    parts = re.split(r"(\*\*|\*|\?)", pattern)
    text = "".join({"**": ".*", "*": "[^/]*", "?": "[^/]"}.get(part, re.escape(part)) for part in parts)
    return re.compile(text + r"\Z")


@dataclass(frozen=True)
class Moment:
    """The `occurrence`-th time a path matching `pattern` (relative to the watched root; `*` within a
    component, `**` across) is `kind` ("created", "in place", "deleted", "written"); with `after`,
    counted from the moment `after` came."""

    pattern: str
    kind: str = "created"
    occurrence: int = 1
    after: Moment | None = None

    def __str__(self) -> str:
        nth = {1: "1st", 2: "2nd", 3: "3rd"}.get(self.occurrence, f"{self.occurrence}th")
        return f"{nth} {self.pattern} {self.kind}" + (f" after the {self.after}" if self.after else "")

    def matches(self, kind: str, rel: str) -> bool:
        return kind == self.kind and _regex(self.pattern).match(rel) is not None

    def index_in(self, seen: list[tuple[str, str]]) -> int | None:
        """Where in `seen` this moment came (the index of its event), or None if it has not yet."""
        start = 0
        if self.after is not None:
            before = self.after.index_in(seen)
            if before is None:
                return None
            start = before + 1
        count = 0
        for at in range(start, len(seen)):
            if self.matches(*seen[at]):
                count += 1
                if count == self.occurrence:
                    return at
        return None


class Watcher:
    """inotify watches on every folder under each root (but `skip`ped ones), new folders included."""

    def __init__(self, roots: list[Path], skip: tuple[str, ...] = (".git/objects",)) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self._libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.roots = roots
        self.skip = skip
        self._folders: dict[int, tuple[Path, Path]] = {}  # watch -> (root, folder)
        self.seen: list[tuple[str, str]] = []  # (kind, path relative to its root), in order
        self._made_up: set[tuple[str, str]] = set()  # events told of files found in a new folder
        for root in roots:
            self._watch_tree(root, root, new=False)

    def close(self) -> None:
        os.close(self.fd)

    def _watch_tree(self, root: Path, folder: Path, *, new: bool = True) -> None:
        """Watch `folder` and the folders under it; in a `new` folder, what is there already was made
        after the watcher started, before its watch was in place: it counts as created and written."""
        for here, dirs, _ in os.walk(folder):
            rel = os.path.relpath(here, root)
            if any(rel == s or rel.startswith(s + "/") for s in self.skip):
                dirs[:] = []
                continue
            wd = self._libc.inotify_add_watch(self.fd, os.fsencode(here), _MASK)
            if wd >= 0:
                self._folders[wd] = (root, Path(here))
            try:
                names = os.listdir(here) if wd >= 0 and new else []
            except FileNotFoundError:  # renamed or removed since (a folder made under a temporary name)
                names = []
            for name in names:
                if os.path.isfile(os.path.join(here, name)):
                    for kind in ("created", "in place", "written"):
                        self._note(kind, root, Path(here) / name)
                        # the watch may have come in time to see it too: that event (if it comes before the
                        # path is deleted) is this one
                        self._made_up.add((kind, (Path(here) / name).relative_to(root).as_posix()))

    def _note(self, kind: str, root: Path, path: Path) -> None:
        self.seen.append((kind, path.relative_to(root).as_posix()))

    def poll(self, timeout: float) -> None:
        """Read the events that arrive within `timeout` seconds (at least what is already there)."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        at = 0
        while at < len(data):
            wd, mask, _, size = _HEADER.unpack_from(data, at)
            name = data[at + _HEADER.size: at + _HEADER.size + size].rstrip(b"\0").decode("utf-8", "replace")
            at += _HEADER.size + size
            if mask & (_OVERFLOW | _IGNORED) or wd not in self._folders:
                continue
            root, folder = self._folders[wd]
            path = folder / name
            if mask & _IS_DIR and mask & (CREATE | MOVED_TO):
                self._watch_tree(root, path)
            for kind, bit in KINDS.items():
                if mask & bit:
                    seen = (kind, path.relative_to(root).as_posix())
                    if seen in self._made_up:  # the event told already, when its folder was found
                        self._made_up.discard(seen)
                        continue
                    if kind == "deleted":  # from now on an event of this path is a new one
                        self._made_up -= {(k, seen[1]) for k in KINDS}
                    self._note(kind, root, path)

    def came(self, moment: Moment) -> bool:
        return moment.index_in(self.seen) is not None

    def wait(self, moment: Moment, deadline: float, alive: Callable[[], bool]) -> bool:
        """Wait until `moment` has come (True), or the deadline passed or `alive()` turned false (False)."""
        while time.monotonic() < deadline:
            if self.came(moment):
                return True
            if not alive():
                self.poll(0)
                return self.came(moment)
            self.poll(0.005)
        return False
