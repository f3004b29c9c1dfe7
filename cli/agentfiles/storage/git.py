"""Git access for agentfiles, and the only module that imports GitPython.

Two kinds of access live here. History queries (the step commits storage/history.py reads back) and
repository creation use GitPython's object model; it is imported inside those functions only. The
runner's hot path (status of a few paths, a commit built from a temporary index, a throwaway worktree)
calls git's plumbing directly: importing GitPython costs ~65 ms, a fifth of a step's overhead budget.
Errors of either kind become GitError here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from agentfiles.core.scratch import scratch_folder
from agentfiles.errors import STORAGE_HINT, AgentsError, GitError, PreconditionError, StorageFull

INDEX_LOCK_PATIENCE_S = 5.0  # how long a step's commit waits for another git process to free the index


# Python 3.10 has no `process_group`: setpgid in the child, as 3.11 does (one system call, no lock taken)
_OWN_GROUP: dict[str, Any] = {"process_group": 0} if sys.version_info >= (3, 11) else {"preexec_fn": os.setpgrp}

_FULL = {"no space left on device": "no space left on the device", "out of diskspace": "no space left on the device",
         "disk quota exceeded": "the disk quota is used up", "file too large": "a file would grow past the file-size limit",
         "read-only file system": "the file system is read-only"}


def _storage_full(stderr: str, code: int) -> str | None:
    """What the machine refused git, when git says so (or was killed by the file-size limit)."""
    if code == -signal.SIGXFSZ:
        return "a file would grow past the file-size limit (ulimit -f)"
    lower = stderr.lower()
    return next((what for words, what in _FULL.items() if words in lower), None)


def git_error(command: str, done: subprocess.CompletedProcess[bytes]) -> AgentsError:
    """The error of a git command that failed: the machine's (a full disk), another git's (the index
    lock), or the repository's."""
    message = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
    full = _storage_full(message, done.returncode)
    if full:
        return StorageFull(f"git {command} failed: {full} ({message.splitlines()[-1]})", hint=STORAGE_HINT)
    if "index.lock" in message:
        return GitError(
            f"git {command} failed: git's index is locked ({message.splitlines()[0]})",
            hint="another git process is running (an editor, a git GUI); let it finish, or if none "
            "is, remove .git/index.lock, then run again",
        )
    return GitError(f"git {command} failed: {message}", hint="check the repository with `git status`")


def init_repository(directory: Path) -> Path:
    """`git init` in `directory`; returns its resolved path."""
    import git

    try:
        git.Repo.init(directory)
    except (git.GitCommandError, OSError) as exc:
        raise GitError(f"git init failed in {directory}: {exc}", hint="check that git is installed") from None
    return directory.resolve()


_OBJECT_HEADER = re.compile(rb"[0-9a-f]{40,64} (blob|tree|commit|tag) ([0-9]+)")


class Git:
    """Plumbing on one repository's work tree, without touching the user's index except where asked."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._state: tuple[str | None, str | None] | None = None  # (HEAD, its branch ref) for commits
        self._index_dir: str | None = None
        self._index_base: str | None = "unknown"  # the commit whose tree the private index holds
        self.landed: str | None = None  # the commit of the last commit_paths, once HEAD moved to it
        self.index_synced = True  # whether the user's index followed that commit
        self._ident: tuple[str, str] | None = None  # the author and committer of commit_batch, as git said
        self.guard: Callable[[], None] | None = None  # called before every git command (a run's tripwire)

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None, check: bool = True,
        hooks_off: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        """git ARGS in the work tree. fsmonitor would run a command of the repository's config on git's
        every look at the work tree, and hooks run on plumbing too (reference-transaction on update-ref,
        post-index-change when the index is written): agents' own git calls use neither (a clone or a step
        may have set them); `hooks_off=False` only to ask git where its hooks are."""
        if self.guard is not None:
            self.guard()
        quiet = ["-c", "core.fsmonitor=false", *(["-c", "core.hooksPath=/dev/null"] if hooks_off else [])]
        try:
            done = subprocess.run(
                ["git", *quiet, *args],
                cwd=self.root,
                env={**os.environ, **(env or {})},
                input=input or b"",  # never the terminal: git in a background group reading it would stop
                capture_output=True,
                # A Ctrl-C meant for agents must not kill git halfway: a process group of its own. Not a session
                # of its own: what is outside agents' session is a step's (executors/leftovers.py).
                **_OWN_GROUP,
                # Python ignores SIGXFSZ and SIGPIPE; so does git then: past a file-size limit a write fails
                # and git removes its lock files, where the signal would kill it and leave .git/index.lock.
                restore_signals=False,
            )
        except FileNotFoundError:
            raise PreconditionError("git is not installed", hint="install git and try again") from None
        if check and done.returncode != 0:
            raise git_error(args[0], done)
        return done

    def text(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.run(*args, env=env).stdout.decode("utf-8", "replace")

    def head(self) -> str | None:
        """The commit HEAD points to, or None in a repository without commits."""
        done = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() or None

    def branch_ref(self) -> str | None:
        """The full name of the branch HEAD is on (None when detached)."""
        done = self.run("symbolic-ref", "--quiet", "HEAD", check=False)
        return done.stdout.decode().strip() or None

    def pin(self) -> None:
        """Note where HEAD is now: a run's step commits go there, each on the one before, and `commit_batch`
        refuses (HeadMoved) once anyone else moved HEAD since."""
        self.forget()
        self._tip()

    def branch(self) -> str | None:
        done = self.run("symbolic-ref", "--quiet", "--short", "HEAD", check=False)
        return done.stdout.decode().strip() or None

    def dirty(self, paths: list[str]) -> list[str]:
        """Those of `paths` whose working-tree or staged content differs from HEAD (untracked included)."""
        if not paths:
            return []
        out = self.run("status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths).stdout
        found = []
        entries = out.split(b"\0")
        i = 0
        while i < len(entries):
            entry = entries[i]
            i += 1
            if not entry:
                continue
            status, path = entry[:2], entry[3:].decode("utf-8", "replace")
            if status[0:1] in (b"R", b"C"):
                i += 1  # the source path of a rename follows
            found.append(path)
        return sorted(set(found))

    def blobs(self, specs: list[str]) -> list[bytes | None]:
        """The contents of `<commit>:<path>` specs (None where there is no such file), in one git call."""
        if not specs:
            return []
        out = self.run("cat-file", "--batch", input="".join(f"{s}\n" for s in specs).encode()).stdout
        found: list[bytes | None] = []
        at = 0
        for _ in specs:
            end = out.index(b"\n", at)
            header = _OBJECT_HEADER.fullmatch(out[at:end])  # else "<spec> missing": a spec may hold spaces
            at = end + 1
            if header is None:
                found.append(None)
                continue
            size = int(header[2])
            found.append(out[at : at + size] if header[1] == b"blob" else None)  # a tree or commit: not a file
            at += size + 1
        return found

    def index_blobs(self) -> dict[str, str]:
        """Each file in the index with its blob id (what git last recorded of it)."""
        out = self.run("ls-files", "--stage", "-z", check=False).stdout
        found: dict[str, str] = {}
        for entry in out.split(b"\0"):
            if entry:
                head, _, path = entry.partition(b"\t")
                found[path.decode("utf-8", "surrogateescape")] = head.split()[1].decode()
        return found

    def tracked(self, paths: list[str]) -> list[str]:
        """The tracked files at or under `paths`."""
        out = self.run("ls-files", "-z", "--", *paths, check=False).stdout
        return [p.decode("utf-8", "surrogateescape") for p in out.split(b"\0") if p]

    def tracked_changes(self) -> list[str]:
        """Tracked files with uncommitted changes, staged or not."""
        out = self.text("status", "--porcelain=v1", "--untracked-files=no")
        return [line[3:] for line in out.splitlines() if line.strip()]

    def commit_paths(self, paths: list[str], message: str) -> str:
        """Commit exactly `paths` as they are in the work tree on top of HEAD, and nothing else.

        The commit is built in a private index (HEAD's tree plus the paths), then HEAD moves with one
        atomic update-ref that refuses if HEAD moved meanwhile; only then is the user's own index
        updated, for `paths` only. A kill at any moment therefore leaves either no commit and the
        user's index untouched, or the commit (and at worst an index that the next run syncs). Other
        changes of the user, staged or not, stay out; hooks and signing do not apply. Consecutive
        commits of one run reuse the private index, so each costs five git calls whatever the size
        of the repository. Returns the new commit; `landed` names it from the moment HEAD moved, and
        `index_synced` says whether the user's index followed (another process may hold its lock)."""
        self.landed = None
        self.index_synced = True
        for attempt in (1, 2):
            parent, ref = self._tip()
            env = {"GIT_INDEX_FILE": self._private_index(parent)}
            self.add_to_index(paths, env)
            tree = self.text("write-tree", env=env).strip()
            commit = self._commit_tree(tree, parent, message)
            update = ["update-ref", "-m", "agents: step commit", ref or "HEAD", commit]
            if parent:
                update.append(parent)  # refuse if HEAD moved meanwhile
            done = self.run(*update, check=False)
            if done.returncode == 0:
                self.landed = commit
                self._state = (commit, ref)
                self._index_base = commit  # the private index now holds exactly this commit's tree
                self.index_synced = self._sync_index_waiting(paths)
                return commit
            if _storage_full(done.stderr.decode("utf-8", "replace"), done.returncode):
                raise git_error("update-ref", done)
            self.forget()  # someone else moved HEAD: start again from where it is now
            if attempt == 2:
                text = done.stderr.decode("utf-8", "replace").strip()
                raise GitError(f"git update-ref failed: {text}", hint="another process is committing; run again")
        raise AssertionError("unreachable")

    def _scratch(self) -> str:
        if self._index_dir is None:
            self._index_dir = scratch_folder("index")
        return self._index_dir

    def _tip(self) -> tuple[str | None, str | None]:
        """(HEAD's commit, the branch ref it is on), cached between the commits of one run."""
        if self._state is None:
            done = self.run("rev-parse", "--verify", "-q", "--symbolic-full-name", "HEAD", check=False)
            ref = done.stdout.decode().strip() or None
            if ref == "HEAD":
                ref = None  # detached
            self._state = (self.head(), ref)
        return self._state

    def _private_index(self, parent: str | None) -> str:
        path = os.path.join(self._scratch(), "index")
        if self._index_base != parent:
            if os.path.exists(path):
                os.unlink(path)
            if parent:
                self.run("read-tree", parent, env={"GIT_INDEX_FILE": path})
            self._index_base = parent
        return path

    def forget(self) -> None:
        self._state = None
        self._index_base = "unknown"

    def _commit_tree(self, tree: str, parent: str | None, message: str) -> str:
        args = ["commit-tree", tree, "-F", "-"]
        if parent:
            args[1:1] = ["-p", parent]
        done = self.run(*args, input=message.encode("utf-8"), check=False)
        if done.returncode != 0 and b"ident" in done.stderr.lower():
            # No identity configured: commit as `agents` rather than fail the step.
            fallback = {
                "GIT_AUTHOR_NAME": "agents", "GIT_AUTHOR_EMAIL": "agents@localhost",
                "GIT_COMMITTER_NAME": "agents", "GIT_COMMITTER_EMAIL": "agents@localhost",
            }
            done = self.run(*args, env=fallback, input=message.encode("utf-8"), check=False)
        if done.returncode != 0:
            raise git_error("commit-tree", done)
        return done.stdout.decode().strip()

    def close(self) -> None:
        """Remove the private index of this run's commits."""
        if self._index_dir is not None:
            import shutil

            shutil.rmtree(self._index_dir, ignore_errors=True)
            self._index_dir = None
            self._index_base = "unknown"

    def _sync_index_waiting(self, paths: list[str], patience_s: float = INDEX_LOCK_PATIENCE_S) -> bool:
        """Sync the user's index, waiting while another git process holds its lock; False when it is
        still locked after `patience_s` (the commit stands: the next run syncs the index)."""
        deadline = time.monotonic() + patience_s
        while True:
            try:
                self.sync_index(paths)
                return True
            except GitError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)

    def stage(self, paths: list[str]) -> None:
        """Put `paths` as they are in the work tree into the user's index, waiting while another git process
        holds its lock; still locked after that, the lock's error."""
        if not self._sync_index_waiting(paths):
            self.sync_index(paths)

    def sync_index(self, paths: list[str]) -> None:
        """Make the user's index hold `paths` as they are in the work tree (after a step's commit)."""
        self.add_to_index(paths)

    def add_to_index(self, paths: list[str], env: dict[str, str] | None = None) -> None:
        """Put `paths` in an index as the work tree has them: added, changed, or removed when a step deleted
        them (a path that is neither in the work tree nor in the index is left alone)."""
        present = [p for p in paths if os.path.lexists(self.root / p)]
        if present:
            self.run("add", "--force", "-A", "--", *present, env=env)
        if len(present) < len(paths):
            gone = [p for p in paths if not os.path.lexists(self.root / p)]
            self.run("update-index", "--remove", "--", *gone, env=env)

    def landed_runs(self, run_ids: list[str], recent: int = 200) -> set[str]:
        """Those of `run_ids` whose step commit is in HEAD's history (the recent commits are read first,
        in one call; the rest searched for by trailer)."""
        if not run_ids or self.head() is None:
            return set()
        wanted = set(run_ids)
        out = self.text("log", f"-n{recent}", "--format=%(trailers:key=Agents-Run,valueonly)", "HEAD")
        found = {line.strip() for line in out.splitlines()} & wanted
        for run_id in sorted(wanted - found):
            hit = self.text("log", "-n1", "--format=%H", "--fixed-strings", f"--grep=Agents-Run: {run_id}", "HEAD")
            if hit.strip():
                found.add(run_id)
        return found


def grep_log(root: Path, pattern: str) -> Iterator[tuple[str, str, str]]:
    """The commits of HEAD's history whose message matches `pattern` (an extended regular expression),
    newest first, as (sha, message, commit date); none in a repository without commits."""
    import git

    try:
        repo = git.Repo(root)
        if not repo.head.is_valid():
            return
        for commit in repo.iter_commits("HEAD", grep=pattern, extended_regexp=True):
            message = commit.message if isinstance(commit.message, str) else commit.message.decode("utf-8", "replace")
            yield commit.hexsha, message, commit.committed_datetime.isoformat()
    except (git.GitCommandError, git.InvalidGitRepositoryError, ValueError) as exc:
        raise GitError(f"cannot read the history: {exc}", hint="check the repository with `git log`") from None
