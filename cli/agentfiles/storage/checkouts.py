"""Checkouts of HEAD for `run:` checks, kept between runs and reset before each use (see CheckTrees)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agentfiles.errors import GitError
from agentfiles.storage.git import Git


class CheckTrees:
    """Checkouts of HEAD for `run:` checks, kept between runs under .git/agents-checks/ and reset before each
    use: a reset rewrites only what HEAD or the last check changed (read-tree --reset -u, then clean),
    where a fresh checkout writes the whole tree (seconds in a repository of thousands of files). Each
    tree has a private index and no `.git` of its own, so a check finds no repository in it to act on,
    and nothing a check leaves there is obeyed by git."""

    def __init__(self, git: Git, home: Path | None = None) -> None:
        self.git = git
        self.home = home or _git_dir(git.root) / "agents-checks"
        self.free: list[Path] | None = None
        self.lock = threading.Lock()

    @contextmanager
    def tree(self) -> Iterator[Path]:
        """A checkout of HEAD as it is now, for one check at a time (an empty folder before the first commit)."""
        head = self.git.head()
        with self.lock:
            if self.free is None:
                self.free = sorted(p for p in self.home.glob("tree-*") if p.is_dir()) if self.home.is_dir() else []
            slot = self.free.pop() if self.free else None
        if slot is None:
            self.home.mkdir(parents=True, exist_ok=True)
            slot = Path(tempfile.mkdtemp(prefix="tree-", dir=self.home))
        try:
            if not self._reset(slot, head):
                import shutil

                shutil.rmtree(slot, ignore_errors=True)  # a check left what cannot be cleaned: start over
                slot.mkdir(parents=True)
                if not self._reset(slot, head):
                    raise GitError("cannot check out HEAD for the step's checks", hint="check the repository with `git status`")
            yield slot / "work"
        finally:
            with self.lock:
                assert self.free is not None
                self.free.append(slot)

    def _reset(self, slot: Path, head: str | None) -> bool:
        """Make `slot/work` hold exactly `head`'s files; False when it cannot be (start over)."""
        work = slot / "work"
        try:
            work.mkdir(exist_ok=True)
        except OSError:
            return False
        if head is None:
            import shutil

            shutil.rmtree(work, ignore_errors=True)
            work.mkdir()
            return True
        env = {"GIT_INDEX_FILE": str(slot / "index")}
        where = ["--work-tree", str(work)]
        for args in (["read-tree", "--reset", "-u", head], ["clean", "-ffdxq"]):
            if self.git.run(*where, *args, env=env, check=False).returncode != 0:
                return False
        return True

    def close(self) -> None:
        """The trees stay for the next run; nothing to do but forget them."""
        with self.lock:
            self.free = None


def _git_dir(root: Path) -> Path:
    """The repository's git directory (a worktree's own, when `root` is a linked worktree)."""
    dot = root / ".git"
    if dot.is_file():
        text = dot.read_text(encoding="utf-8", errors="replace")
        if text.startswith("gitdir:"):
            found = Path(text.split(":", 1)[1].strip())
            return found if found.is_absolute() else (root / found).resolve()
    return dot
