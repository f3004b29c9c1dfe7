"""Where the convention's files live, how the project root is found, and what a valid repo path is."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from agentfiles.errors import PreconditionError

AGENTS_DIR = ".agents"
ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
ID_RE = re.compile(ID_PATTERN + r"\Z")
STEP_ID_RE = re.compile(ID_PATTERN + r"(@[A-Za-z0-9._-]+)?\Z")  # a task, or one item of a foreach task
GLOB_CHARS = frozenset("*?[")


@dataclass(frozen=True)
class Layout:
    """Paths of the convention (CONVENTION.md section 1) under one project root."""

    root: Path

    @property
    def agents(self) -> Path:
        return self.root / AGENTS_DIR

    @property
    def config(self) -> Path:
        return self.agents / "config.yaml"

    @property
    def roles(self) -> Path:
        return self.agents / "roles"

    @property
    def claude_agents(self) -> Path:
        return self.root / ".claude" / "agents"

    @property
    def tasks(self) -> Path:
        return self.agents / "tasks"

    @property
    def handoffs(self) -> Path:
        return self.agents / "handoffs"

    @property
    def runs(self) -> Path:
        return self.agents / "runs"

    @property
    def cache(self) -> Path:
        """Machine-local state (hash cache, locks): ignored by git."""
        return self.agents / "cache"

    @property
    def claude_md(self) -> Path:
        return self.root / "CLAUDE.md"

    def task_file(self, task_id: str) -> Path:
        return self.tasks / f"{task_id}.md"

    def role_file(self, name: str) -> Path:
        return self.roles / f"{name}.md"

    def handoff_file(self, task_id: str) -> Path:
        return self.handoffs / f"{task_id}.md"

    def step_ids(self) -> list[str]:
        """The ids of the task files and of the handoffs (foreach items too), for suggesting a close one."""
        found = {p.stem for folder in (self.tasks, self.handoffs) if folder.is_dir() for p in folder.glob("*.md")}
        return sorted(found)

    def rel(self, path: Path) -> str:
        """A path as shown to users: relative to the root, with forward slashes."""
        text, root = str(path), str(self.root)
        if text.startswith(root + os.sep):
            return text[len(root) + 1 :].replace(os.sep, "/")
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return text


def find_git_root(start: Path) -> Path | None:
    """The nearest folder at or above `start` holding `.git` (a folder, or a file for worktrees)."""
    path = start.resolve()
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def require_directory(path: Path) -> None:
    if not path.exists():
        raise PreconditionError(f"no such directory: {path}", hint="pass an existing directory to -C")
    if not path.is_dir():
        raise PreconditionError(f"not a directory: {path}", hint="pass a directory to -C")


def find_project_root(start: Path) -> Path:
    """The root of the agents project containing `start`: the git top level that holds `.agents/`."""
    require_directory(start)
    root = find_git_root(start)
    if root is None:
        raise PreconditionError(
            f"not inside a git repository: {start.resolve()}",
            hint="run `agents init --git` to create a repository with the agents layout",
        )
    if not (root / AGENTS_DIR).is_dir():
        raise PreconditionError(
            f"no agents project in {root} (there is no {AGENTS_DIR}/ folder)",
            hint="run `agents init` to create the layout",
        )
    return root


def is_valid_id(value: str) -> bool:
    return bool(ID_RE.match(value))


def is_valid_step_id(value: str) -> bool:
    return bool(STEP_ID_RE.match(value))


def has_glob(pattern: str) -> bool:
    return not GLOB_CHARS.isdisjoint(pattern)


_DRIVE = re.compile(r"[A-Za-z]:")


def check_repo_path(value: str) -> str | None:
    """Why `value` is not an acceptable repo-relative path, or None when it is.

    Symlinks are checked against the file system separately (see `escapes_root`).
    """
    if not value or not value.strip():
        return "a path may not be empty"
    if "\\" in value:
        return f"path {value!r} uses backslashes; write repo paths with forward slashes"
    if value[0] in "/~" or _DRIVE.match(value):
        return f"path {value!r} is absolute; paths are relative to the repository root"
    parts = value.split("/")
    if ".." in parts:
        return f"path {value!r} contains '..'; paths must stay inside the repository"
    if parts[0] == ".git" or (parts[0] == "." and len(parts) > 1 and parts[1] == ".git"):
        return f"path {value!r} is inside .git"
    return None


def normalize_repo_path(value: str) -> str:
    """`./a//b/` -> `a/b` (callers check the path first)."""
    if "//" not in value and not value.startswith("./") and not value.endswith("/") and "/./" not in value:
        return value
    parts = [p for p in value.split("/") if p not in ("", ".")]
    return "/".join(parts) or "."


def escapes_root(root: Path, rel: str) -> bool:
    """True when `rel` (or a folder on its way) is a symlink resolving outside `root`."""
    real_root = os.path.realpath(root)
    target = os.path.realpath(os.path.join(root, rel))
    return not (target == real_root or target.startswith(real_root + os.sep))
