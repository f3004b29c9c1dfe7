"""Git access for agentfiles, and the only module that imports GitPython.

Two kinds of access live here. History queries (log, trailers, show) and repository creation use
GitPython's object model; it is imported inside those functions only. The runner's hot path (status
of a few paths, a commit built from a temporary index, a throwaway worktree) calls git's plumbing
directly: importing GitPython costs ~65 ms, a fifth of a step's overhead budget. Errors of either
kind become GitError here.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agentfiles.errors import GitError, PreconditionError


def init_repository(directory: Path) -> Path:
    """`git init` in `directory`; returns its resolved path."""
    import git

    try:
        git.Repo.init(directory)
    except (git.GitCommandError, OSError) as exc:
        raise GitError(f"git init failed in {directory}: {exc}", hint="check that git is installed") from None
    return directory.resolve()


class Git:
    """Plumbing on one repository's work tree, without touching the user's index except where asked."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def run(
        self, *args: str, env: dict[str, str] | None = None, input: bytes | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[bytes]:
        try:
            done = subprocess.run(
                ["git", *args],
                cwd=self.root,
                env={**os.environ, **(env or {})},
                input=input,
                capture_output=True,
            )
        except FileNotFoundError:
            raise PreconditionError("git is not installed", hint="install git and try again") from None
        if check and done.returncode != 0:
            message = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
            raise GitError(f"git {args[0]} failed: {message}", hint="check the repository with `git status`")
        return done

    def text(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.run(*args, env=env).stdout.decode("utf-8", "replace")

    def head(self) -> str | None:
        """The commit HEAD points to, or None in a repository without commits."""
        done = self.run("rev-parse", "--verify", "--quiet", "HEAD^{commit}", check=False)
        return done.stdout.decode().strip() or None

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

    def commit_paths(self, paths: list[str], message: str) -> str:
        """Commit exactly `paths` as they are in the work tree on top of HEAD, and nothing else: other
        changes of the user, staged or not, stay as they are (`git commit --only`). Hooks and signing are
        skipped: a step commit records what the step did, it is not a place for a hook to change files.
        Returns the new commit."""
        self.run("add", "--force", "-A", "--", *paths)
        args = ["-c", "commit.gpgsign=false", "commit", "--no-verify", "--quiet", "--only", "--allow-empty", "-F", "-"]
        done = self.run(*args, "--", *paths, input=message.encode("utf-8"), check=False)
        if done.returncode != 0 and b"ident" in done.stderr.lower() + done.stdout.lower():
            # No identity configured: commit as `agents`, as git would ask the user to set one.
            fallback = {
                "GIT_AUTHOR_NAME": "agents", "GIT_AUTHOR_EMAIL": "agents@localhost",
                "GIT_COMMITTER_NAME": "agents", "GIT_COMMITTER_EMAIL": "agents@localhost",
            }
            done = self.run(*args, "--", *paths, env=fallback, input=message.encode("utf-8"), check=False)
        if done.returncode != 0:
            message_text = (done.stderr or done.stdout).decode("utf-8", "replace").strip()
            raise GitError(f"git commit failed: {message_text}", hint="check the repository with `git status`")
        return self.text("rev-parse", "HEAD").strip()

    def contains_trailer(self, commit: str, key: str, value: str) -> bool:
        body = self.text("log", "-1", "--format=%B", commit)
        return f"{key}: {value}" in body.splitlines()

    @contextmanager
    def worktree(self) -> Iterator[Path]:
        """A throwaway checkout of HEAD (an empty folder when there is no commit yet)."""
        tmp = Path(tempfile.mkdtemp(prefix="agents-check-"))
        where = tmp / "tree"
        head = self.head()
        try:
            if head:
                self.run("worktree", "add", "--detach", "--quiet", str(where), head)
            else:
                where.mkdir()
            yield where
        finally:
            if head:
                self.run("worktree", "remove", "--force", str(where), check=False)
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class StepCommit:
    """A step's commit, read back from its trailers."""

    sha: str
    subject: str
    date: str
    trailers: dict[str, str]

    @property
    def task(self) -> str:
        return self.trailers.get("Agents-Task", "")

    def to_json(self) -> dict[str, object]:
        return {
            "commit": self.sha,
            "subject": self.subject,
            "date": self.date,
            "task": self.task,
            "run": self.trailers.get("Agents-Run"),
            "status": self.trailers.get("Agents-Status"),
            "role": self.trailers.get("Agents-Role"),
            "model": self.trailers.get("Agents-Model"),
            "executor": self.trailers.get("Agents-Executor"),
        }


def parse_trailers(message: str) -> dict[str, str]:
    """`Agents-*: value` lines of a commit message's last paragraph."""
    paragraphs = [p for p in message.strip().split("\n\n") if p.strip()]
    found: dict[str, str] = {}
    if not paragraphs:
        return found
    for line in paragraphs[-1].splitlines():
        key, sep, value = line.partition(": ")
        if sep and key.startswith("Agents-"):
            found[key] = value.strip()
    return found


def step_commits(root: Path, task: str | None = None, limit: int | None = None) -> list[StepCommit]:
    """Step commits reachable from HEAD, newest first (only `task`'s when given)."""
    import git

    try:
        repo = git.Repo(root)
        if not repo.head.is_valid():
            return []
        kwargs: dict[str, object] = {"grep": "^Agents-Task: ", "extended_regexp": True}
        if task:
            kwargs["grep"] = f"^Agents-Task: {re.escape(task)}$"
        commits = []
        for commit in repo.iter_commits("HEAD", max_count=limit, **kwargs):
            message = commit.message if isinstance(commit.message, str) else commit.message.decode("utf-8", "replace")
            trailers = parse_trailers(message)
            if "Agents-Task" not in trailers or (task and trailers["Agents-Task"] != task):
                continue
            commits.append(
                StepCommit(
                    sha=commit.hexsha,
                    subject=message.splitlines()[0] if message else "",
                    date=commit.committed_datetime.isoformat(),
                    trailers=trailers,
                )
            )
        return commits
    except (git.GitCommandError, git.InvalidGitRepositoryError, ValueError) as exc:
        raise GitError(f"cannot read the history: {exc}", hint="check the repository with `git log`") from None
