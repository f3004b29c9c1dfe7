"""Git access: the only module that imports GitPython, whose errors are translated here into GitError."""

from __future__ import annotations

from pathlib import Path

import git

from agentfiles.errors import GitError


def init_repository(directory: Path) -> Path:
    """`git init` in `directory`; returns its resolved path."""
    try:
        git.Repo.init(directory)
    except (git.GitCommandError, OSError) as exc:
        raise GitError(f"git init failed in {directory}: {exc}", hint="check that git is installed") from None
    return directory.resolve()
