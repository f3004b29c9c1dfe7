"""Where the convention's files live, how the project root is found, and what a valid repo path is."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

from agentfiles.errors import PreconditionError

AGENTS_DIR = ".agents"
ID_PATTERN = r"[a-z0-9][a-z0-9._-]*"
ID_RE = re.compile(ID_PATTERN + r"\Z")
STEP_ID_RE = re.compile(ID_PATTERN + r"(@[A-Za-z0-9._-]+)?\Z")  # a task, or one item of a foreach task
RUN_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")  # one folder name under .agents/runs/, never `..`
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


def is_valid_run_id(value: str) -> bool:
    return bool(RUN_ID_RE.match(value))


def has_glob(pattern: str) -> bool:
    return not GLOB_CHARS.isdisjoint(pattern)


_DRIVE = re.compile(r"[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
GIT_DIR = ".git"
# Machine-local state of `agents` (git-ignored): no step reads or writes it.
INTERNAL = (f"{AGENTS_DIR}/cache", f"{AGENTS_DIR}/tmp", f"{AGENTS_DIR}/run.lock")
_WHY = {
    "git": "inside .git",
    "internal": f"inside the machine-local state of {AGENTS_DIR}/ (cache, tmp, run lock)",
}


# A path no check can refuse and normalising leaves as it is: names of letters, digits, '_', '-' and
# '.' that do not start with '.' (so neither `.git`, `..` nor `.agents/` state), joined by single '/'.
# Nearly every path of a real project is one; the checks below decide the rest.
PLAIN_PATH = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]*(?:/[A-Za-z0-9_-][A-Za-z0-9_.-]*)*")


def normalize_repo_path(value: str) -> str:
    """`./a//b/` -> `a/b`, the one form every check and every caller sees (`..` is kept: it is refused)."""
    return "/".join(p for p in value.split("/") if p not in ("", ".")) or "."


def _is_git_dir(name: str) -> bool:
    """`.git` as git itself protects it: any case, trailing dots or spaces (NTFS), the 8.3 short name."""
    folded = name.casefold()
    return folded.rstrip(". ") == GIT_DIR or folded == "git~1"


def off_limits(normal: str) -> str | None:
    """"git" or "internal" when the normalised path is one no step touches (in `.git` at any depth, or
    in the machine-local state of `.agents/`), else None."""
    folded = normal.casefold()
    # Most paths name neither: decide those from the whole string (this runs for every file of a glob).
    if ("git" in folded or (has_glob(normal) and "/." in "/" + normal)) and any(
        _is_git_dir(p) or (has_glob(p) and p.startswith(".") and fnmatch.fnmatchcase(GIT_DIR, p))
        for p in normal.split("/")
    ):
        return "git"
    if folded.startswith(AGENTS_DIR) and any(folded == p or folded.startswith(p + "/") for p in INTERNAL):
        return "internal"
    return None


def check_repo_path(value: str) -> str | None:
    """Why `value` is not an acceptable repo-relative path (or glob), or None when it is.

    The path is normalised before it is judged, so `.//.git/x` is `.git/x`. Symlinks are checked
    against the file system separately (see `Reach`).
    """
    if not value.strip():
        return "a path may not be empty"
    if _CONTROL.search(value):
        return f"path {value!r} contains a control character (a NUL, newline or tab); name files without them"
    if "\\" in value:
        return f"path {value!r} uses backslashes; write repo paths with forward slashes"
    if value[0] in "/~" or _DRIVE.match(value):
        return f"path {value!r} is absolute; paths are relative to the repository root"
    normal = normalize_repo_path(value)
    if ".." in normal.split("/"):
        return f"path {value!r} contains '..'; paths must stay inside the repository"
    kind = off_limits(normal)
    return f"path {value!r} is {_WHY[kind]}" if kind else None


def check_input_key(key: str) -> str | None:
    """Why `key` is not a key of recorded inputs (`handoff:<step>` or a repo path), or None."""
    if key.startswith("handoff:"):
        step = key[len("handoff:") :]
        valid = is_valid_step_id(step)
        return None if valid else f"{step!r} is not a valid task id (or `task@item` of a foreach task)"
    return check_repo_path(key)


# Within `one_reach()`: one Reach per repository, shared by every check (see there).
_SHARED_REACH: ContextVar[dict[str, Reach] | None] = ContextVar("agents_shared_reach", default=None)


@contextmanager
def one_reach() -> Iterator[None]:
    """While nothing in the repository changes (a status sizing thousands of contexts): `reach_of` gives
    one Reach per repository, so each folder's real path is found once, not once per step and input."""
    token = _SHARED_REACH.set({})
    try:
        yield
    finally:
        _SHARED_REACH.reset(token)


def reach_of(root: Path | str) -> Reach:
    """A Reach of `root`: shared within `one_reach()`, else a new one."""
    shared = _SHARED_REACH.get()
    if shared is None:
        return Reach(Path(root))
    found = shared.get(str(root))
    if found is None:
        found = shared[str(root)] = Reach(Path(root))
    return found


class Reach:
    """What a repo path reaches through the symlinks on its way, with each folder's real path cached
    (a glob's matches share their folders)."""

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        self.real_root = os.path.realpath(root)
        self._folders: dict[str, str] = {}

    def real(self, rel: str) -> str | None:
        """The repo-relative path `rel` really names, or None when that is outside the repository."""
        folder, _, name = rel.rpartition("/")
        base = self._folders.get(folder)
        if base is None:
            base = self._folders[folder] = os.path.realpath(os.path.join(self.root, folder))
        full = os.path.join(base, name)
        if os.path.islink(full):
            full = os.path.realpath(full)
        if full == self.real_root:
            return "."
        if not full.startswith(self.real_root + os.sep):
            return None
        return full[len(self.real_root) + 1 :].replace(os.sep, "/")

    def problem(self, rel: str, *, output: bool = False) -> str | None:
        """Why the normalised repo path `rel` is out of a step's reach on this file system, or None: its
        name, then where its symlinks lead. An output may not go through any symlink at all: it is
        written where it is declared, or not at all."""
        if _CONTROL.search(rel) or "\\" in rel:
            return "has a control character or a backslash in its name"
        kind = off_limits(rel)
        if kind:
            return f"is {_WHY[kind]}"
        real = self.real(rel)
        if real is None:
            return "leaves the repository through a symlink"
        kind = off_limits(real)
        if kind:
            return f"leads {_WHY[kind].replace('inside', 'into')} through a symlink"
        parts = rel.split("/")
        for depth in range(1, len(parts) + 1 if output else 0):
            if os.path.islink(os.path.join(self.root, *parts[:depth])):
                link = "/".join(parts[:depth])
                return f"goes through a symlink ({link}); an output is written where it is declared"
        return None


# Where people keep credentials: never a toolchain.
_PRIVATE_IN_HOME = (".ssh", ".gnupg", ".aws", ".azure", ".config", ".claude", ".docker", ".kube", ".netrc",
                    ".git-credentials", ".password-store", ".pypirc", ".npmrc", ".local/share/keyrings")


def exposes_private(path: str) -> str | None:
    """What of the user's own an absolute toolchain path would put in every step's view (a cloned
    repository's config must not open the home folder or its credentials to its steps), or None."""
    real = os.path.normpath(path)
    home = os.path.normpath(os.path.expanduser("~"))
    if real == "/" or home == real or home.startswith(real.rstrip("/") + "/"):
        return "your home folder"
    for private in _PRIVATE_IN_HOME:
        where = os.path.join(home, private)
        if real == where or real.startswith(where + "/") or where.startswith(real + "/"):
            return f"~/{private}"
    return None


TOOLCHAIN_HINT = ("list the folder of the tools themselves (a virtual environment, /opt/tool); a relative path is read "
                  "from the repository's root, and links and `..` are followed")


def toolchain_problem(root: Path, path: str) -> tuple[str, str] | None:
    """(where it leads, what it would show) for a toolchain path that may not be shown to steps once its
    links and `..` are followed (a relative path is read from the repository's root), or None. A
    folder inside the repository (a project's .venv) may be; the repository itself, a folder holding
    it, .git, .agents, the home folder and credential stores may not."""
    real = os.path.realpath(root / path)
    top = os.path.realpath(root)
    if real == top or top.startswith(real.rstrip("/") + "/"):
        return real, "the whole repository, undeclared files included"
    if real.startswith(top + "/"):
        first = os.path.relpath(real, top).split(os.sep)
        return (real, f"the repository's {first[0]}") if first[0] in (".git", ".agents") else None
    exposed = exposes_private(real)
    return (real, exposed) if exposed else None
