"""The files through which git runs programs of someone's choosing (fsmonitor, filters, hooks, ...), wherever
git keeps them for one work tree: the repository's config, hooks and info in its common git folder, the work
tree's own git folder (a linked worktree's `config.worktree`, `info/`, `commondir`), the `.git` link itself,
and the user's and system's config and attributes files. Their state by stat, to compare during a run."""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agentfiles.storage.git import Git

Stat = tuple[int, int, int, int, int]  # mode, size, mtime, ctime, inode
State = tuple[Stat, Stat | None]  # lstat, and stat of what a symlink leads to


@dataclass(frozen=True)
class GitFiles:
    """Where git keeps, for one work tree, the files that make it run programs. `folders` are compared
    entry by entry (hooks, info), `files` one by one; `link` is the work tree's `.git` (a folder is
    compared by identity only: git writes in it all the time)."""

    root: Path
    link: Path
    files: tuple[Path, ...]
    folders: tuple[Path, ...]

    @classmethod
    def of(cls, git: Git) -> GitFiles:
        """Asks git where they are (two calls)."""
        root = Path(os.path.realpath(git.root))
        where = git.run("rev-parse", "--absolute-git-dir", "--git-common-dir", "--git-path", "hooks", hooks_off=False)
        lines = where.stdout.decode("utf-8", "surrogateescape").splitlines()  # hooks: as configured (core.hooksPath)
        own, common = (Path(os.path.realpath(os.path.join(root, line))) for line in lines[:2])
        named = os.path.normpath(os.path.join(root, lines[2]))
        hooks = Path(os.path.realpath(os.path.dirname(named))) / os.path.basename(named)  # a link stays one
        files = [common / "config", own / "config.worktree", *_user_files(git)]
        folders = [common / "info", hooks]
        if own != common:  # a linked worktree's own folder: where its common folder is, its sparse-checkout
            files += [own / "commondir"]
            folders += [own / "info"]
        return cls(root, root / ".git", tuple(dict.fromkeys(files)), tuple(dict.fromkeys(folders)))

    def state(self) -> dict[str, State]:
        """Every one of these files that exists, by label (see `label`), with its stat."""
        found: dict[str, State] = {}
        try:
            found[self.label(self.link)] = (_identity(_stat(os.lstat(self.link))), None)
        except OSError:
            pass
        for path in self.files:
            _look(path, self.label(path), found)
        for folder in self.folders:
            _walk(str(folder), self.label(folder), found)
        return found

    def changed(self, before: dict[str, State]) -> list[str]:
        """The labels of what was added, removed or changed since `before`."""
        now = self.state()
        return sorted(label for label in set(before) | set(now) if before.get(label) != now.get(label))

    def label(self, path: Path) -> str:
        """A path as it is named to a person: relative to the work tree when inside it, else absolute."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


def _stat(st: os.stat_result) -> Stat:
    return (st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


def _look(path: Path | str, label: str, found: dict[str, State]) -> None:
    try:
        st = os.lstat(path)
    except OSError:
        return
    if stat.S_ISCHR(st.st_mode):
        return  # /dev/null as a config file: nothing can be written into it
    target = None
    if stat.S_ISLNK(st.st_mode):
        try:
            target = _stat(os.stat(path))
        except OSError:
            target = None
    found[label] = (_stat(st), _identity(target))


def _identity(st: Stat | None) -> Stat | None:
    """A folder by which one it is: its times change with every entry (compared one by one)."""
    return (st[0], 0, 0, 0, st[4]) if st is not None and stat.S_ISDIR(st[0]) else st


def _walk(folder: str, label: str, found: dict[str, State], depth: int = 0) -> None:
    """Each entry under `folder`, following symlinks as git does (a few levels deep: a loop ends)."""
    if os.path.islink(folder):
        _look(folder, label, found)
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if entry.name.endswith(".sample"):
            continue  # git's examples of hooks: never run under that name (renamed, they are a new entry)
        name = f"{label}/{entry.name}"
        if entry.is_dir(follow_symlinks=True) and depth < 4:
            _walk(entry.path, name, found, depth + 1)
        else:
            _look(entry.path, name, found)


def _user_files(git: Git) -> list[Path]:
    """The user's and the system's git config and attributes files (those in use and those git would read
    if they were created), and every file git's config includes."""
    env = os.environ
    home = Path(env.get("HOME", "~")).expanduser()
    xdg = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else home / ".config"
    files = [Path(env["GIT_CONFIG_GLOBAL"])] if env.get("GIT_CONFIG_GLOBAL") else [home / ".gitconfig", xdg / "git/config"]
    if not env.get("GIT_CONFIG_NOSYSTEM"):
        files.append(Path(env.get("GIT_CONFIG_SYSTEM") or "/etc/gitconfig"))
    files.append(Path("/etc/gitattributes"))
    attributes = git.run("config", "--path", "--get", "core.attributesFile", check=False).stdout.decode().strip()
    files.append(Path(os.path.join(git.root, attributes)) if attributes else xdg / "git/attributes")
    out = git.run("config", "--list", "--show-origin", "--includes", "-z", check=False).stdout
    for origin in out.split(b"\0")[::2]:
        if origin.startswith(b"file:"):
            files.append(Path(os.path.join(git.root, os.fsdecode(origin[5:]))))
    return files
