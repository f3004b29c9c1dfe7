"""A tripwire that does not depend on the sandbox: the repository's files (tracked, untracked and ignored,
outside `.git`) are compared around every step; a change no step declared fails every step that was running
when it was found, and nothing of theirs lands. With inotify (Linux), the run's start stats the tracked files
(git's bytes alone cannot tell a chmod, or an uncommitted edit reverted) and lists the other names without a
stat (a `.venv` or `node_modules` of 100,000 files costs its folders' listing, not a stat each): such a path
inotify names, or a walk finds, is then changed unless it is the inode the listing gave (a file renamed
into place, alone or with its folder, keeps its ctime) and that inode's change time (ctime, which only the
kernel sets) is older than the run, or it is as the runner left it. Without inotify, every file's stat is
kept at the start and compared, and hashed where a stat changed. Git's own files that make it run programs
(its config, hooks and info, wherever git keeps them: storage/gitfiles.py) are compared before each of
agents' git calls during the run: once they changed, the run stops before git runs."""

from __future__ import annotations

import hashlib
import os
import stat
import sys
import threading
import time
from collections.abc import Container
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from agentfiles.errors import PreconditionError
from agentfiles.runner.watch import Watch
from agentfiles.storage.gitfiles import GitFiles

if TYPE_CHECKING:
    from agentfiles.storage.git import Git

# agents' own machine-local state, written by the runner itself while steps run
SKIPPED = frozenset({".agents/cache", ".agents/tmp", ".agents/run.lock"})


Signature = tuple[int, int, int, int, int]  # mode, size, mtime, ctime, inode


def scan(root: Path, under: str = "") -> dict[str, Signature]:
    """Every file and symlink under `root` (or only under its folder `under`) outside `.git` folders (and
    links) and agents' runtime state, each with its lstat signature."""
    found: dict[str, Signature] = {}
    base = str(root)

    def walk(folder: str, prefix: str) -> None:
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            return
        for entry in entries:
            rel = prefix + entry.name
            if rel in SKIPPED or entry.name == ".git":
                continue
            try:
                st = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(st.st_mode):
                walk(entry.path, rel + "/")
            else:
                found[rel] = _signature(st)

    if under:
        if watched(under):
            walk(os.path.join(base, under), under + "/")
        return found
    walk(base, "")
    return found


def watched(rel: str) -> bool:
    """Whether the tripwire's walk looks at this repository path at all."""
    if rel in SKIPPED or rel.startswith(tuple(s + "/" for s in SKIPPED)):
        return False
    return ".git" not in rel.split("/")


def steps_named(steps: list[str]) -> str:
    """`step a`, `steps a, b`: the steps that could have made a change (those running when it was found)."""
    return f"step {steps[0]}" if len(steps) == 1 else f"steps {', '.join(steps)}" if steps else "the run's steps"


def _signature(st: os.stat_result) -> Signature:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _tracked_stats(root: Path, tracked: dict[str, str]) -> dict[str, Signature | None]:
    """The start's stat of each tracked file (None: absent); not its folders (a submodule is one)."""
    found: dict[str, Signature | None] = {}
    for rel in tracked:
        if watched(rel):
            try:
                st = os.lstat(root / rel)
            except OSError:
                found[rel] = None
                continue
            if not stat.S_ISDIR(st.st_mode):
                found[rel] = _signature(st)
    return found


def _coarse_now_ns() -> int:
    """The kernel's clock as it stamps files (coarse: it lags the precise clock by up to a tick), so that a
    file changed from now on has a ctime at or after this."""
    if sys.platform.startswith("linux"):  # Python names the clock from 3.13 on; Linux numbers it 5
        return time.clock_gettime_ns(getattr(time, "CLOCK_REALTIME_COARSE", 5))
    return time.time_ns() - 50_000_000  # no inotify either: every file is stat'ed and this goes unused


def blob_id(data: bytes) -> str:
    """git's object id of a file with these bytes."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's own id


class GitAnswers:
    """What the tripwire asks git (each file of the index with its blob; where git's own files are), asked in
    threads from the moment a run holds its lock, so that git's processes (four, 15-130 ms here depending
    on the load) overlap the run's checks and planning instead of delaying its first step. Ask the index
    again (`index_changed`) after the run itself changed it."""

    def __init__(self, git: Git) -> None:
        self.git = git
        self.pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="agents-tripwire")
        self.blobs = self.pool.submit(git.index_blobs)
        self.files = self.pool.submit(GitFiles.of, git)

    def index_changed(self) -> None:
        self.blobs = self.pool.submit(self.git.index_blobs)

    def close(self) -> None:
        """Wait for what is still being asked (a run that ends before its steps did not need it)."""
        self.pool.shutdown(wait=True)


class Tripwire:
    """The repository as the runner last left it, and the steps running since."""

    def __init__(self, root: Path, git: Git, cancelled: threading.Event | None = None,
                 asked: GitAnswers | None = None) -> None:
        self.root = root
        self.lock = threading.Lock()
        answers = asked or GitAnswers(git)  # git's answers while the tree is watched and walked here
        try:
            self.since = _coarse_now_ns()  # a change from now on has a ctime at or after this
            existed: dict[str, int] = {}
            self.watch = Watch(root, SKIPPED, existed)  # watched first: nothing slips between the two
            # the files as the runner last left them (a stat each, None: absent). With inotify the tracked
            # files now, and what the runner itself wrote or took in later; without, every file, from a walk now
            self.baseline: dict[str, Signature | None] = {}
            self.existed: dict[str, int] | None = existed  # the names at the start (and inodes), if only those
            if self.watch.broken:
                self.baseline, self.existed = dict(scan(root)), None
            self.blobs = answers.blobs.result()  # what a tracked file held; a stat change to the same bytes is no change
            self.git_files = answers.files.result()
            if self.existed is not None:
                self.baseline.update(_tracked_stats(root, self.blobs))
        finally:
            if asked is None:
                answers.close()
        self.running: set[str] = set()
        self.tainted: dict[str, list[str]] = {}  # step -> undeclared changes found while it ran
        self.git_state = self.git_files.state()  # never updated: a change to these stops the run
        self.cancelled = cancelled
        self.git = git
        git.guard = self.guard  # from now on every git call of the run looks first

    def guard(self) -> None:
        """Stop the run (raise, and set `cancelled`) when git's own files changed since the run started: git
        would run what a step planted there. Called before each of agents' git calls and each landing."""
        changed = self.git_files.changed(self.git_state)
        if not changed:
            return
        if self.cancelled is not None:
            self.cancelled.set()
        shown = ", ".join(changed[:5]) + (" ..." if len(changed) > 5 else "")
        raise PreconditionError(
            f"while {steps_named(self.suspects())} ran, git's own files changed: {shown}; the run stopped before running git again",
            hint="these make git run commands: inspect them without running git on the work tree (`git config "
            "--list --show-origin`, `ls -la $(git rev-parse --git-path hooks)`) and undo what you did not put "
            "there; with OS isolation (bubblewrap) a step cannot reach them at all",
        )

    def suspects(self, *also: str) -> list[str]:
        """The steps that could have made a change found now: those running (and `also`)."""
        with self.lock:
            return sorted({*self.running, *also})

    def start(self, step: str) -> None:
        with self.lock:
            self.running.add(step)

    def finish(self, step: str, declared: Container[str]) -> list[str]:
        """The undeclared changes to the repository since `step` started (call it under the commit lock,
        before the step lands). A change found is blamed on every step running now; it is then taken
        into the baseline so that steps started later are not blamed for it."""
        with self.lock:
            now, paths = self._look()
            changed = [rel for rel in self._changed(now, paths) if rel not in declared]
            if changed:
                for other in self.running:
                    self.tainted.setdefault(other, []).extend(changed)
                for rel in changed:
                    self.baseline[rel] = now.get(rel)
                    self.blobs.pop(rel, None)
            self.running.discard(step)
            return sorted(set(self.tainted.pop(step, [])))

    def abandon(self, step: str) -> None:
        """`step` ended without landing (the run was interrupted)."""
        with self.lock:
            self.running.discard(step)
            self.tainted.pop(step, None)

    def landed(self, files: dict[str, bytes]) -> None:
        """The runner wrote `files` into the work tree (a step's outputs, handoff and record)."""
        with self.lock:
            for rel, data in files.items():
                try:
                    st = os.lstat(self.root / rel)
                except OSError:
                    self.baseline[rel] = None
                    continue
                self.baseline[rel] = _signature(st)
                self.blobs[rel] = blob_id(data)

    def _look(self) -> tuple[dict[str, Signature], set[str] | None]:
        """The repository now: all of it (a walk), or, where inotify named what may have changed, just
        those paths (and everything under the folders it named)."""
        candidates = self.watch.changed()
        if candidates is None:
            return scan(self.root), None
        now: dict[str, Signature] = {}
        paths: set[str] = set()
        for rel in candidates:
            if rel.endswith("/") or rel == "":
                folder = rel.rstrip("/")
                prefix = folder + "/" if folder else ""
                paths.update(p for p in self._known() if p.startswith(prefix))
                found = scan(self.root, folder) if folder else scan(self.root)
                now.update(found)
                paths.update(found)
            elif watched(rel):
                paths.add(rel)
                try:
                    st = os.lstat(self.root / rel)
                except OSError:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    now[rel] = _signature(st)
        return now, paths

    def close(self) -> None:
        self.watch.close()
        if self.git.guard == self.guard:
            self.git.guard = None

    def _known(self) -> set[str]:
        """Every path the tripwire knows a state of: the runner's, and the names at the start."""
        return set(self.baseline) | set(self.existed or ())

    def _changed(self, now: dict[str, Signature], paths: set[str] | None = None) -> list[str]:
        found = []
        for rel in (self._known() | set(now)) if paths is None else paths:
            after = now.get(rel)
            if rel in self.baseline or self.existed is None:
                before = self.baseline.get(rel)
                if before == after:
                    continue
                if before is not None and after is not None and self._same_bytes(rel, before, after):
                    self.baseline[rel] = after
                    continue
            elif rel not in self.existed:
                if after is None:  # made and removed since the start (a temporary file): nothing left
                    continue
            elif after is not None and after[4] == self.existed[rel] and after[3] < self.since:
                self.baseline[rel] = after  # not changed since the start: the same inode, unchanged since
                continue
            found.append(rel)
        return sorted(found)

    def _same_bytes(self, rel: str, before: Signature, after: Signature) -> bool:
        """A file whose stat changed but whose bytes are still those git has for it (touched, not changed)."""
        known = self.blobs.get(rel)
        if known is None or not stat.S_ISREG(after[0]) or before[0] != after[0] or before[1] != after[1]:
            return False
        try:
            data = (self.root / rel).read_bytes()
        except OSError:
            return False
        return blob_id(data) == known
