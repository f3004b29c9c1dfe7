"""`agents run --branch`: the run's branch, checked out (created at HEAD if new) before it reads the
project, and undone when the run is refused before any step starts."""

from __future__ import annotations

from collections.abc import Callable

from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.git import Git


def switch_branch(git: Git, name: str) -> str | None:
    """Check out branch `name`, creating it at HEAD when it does not exist yet; says which it did (None:
    already on it)."""
    if git.run("check-ref-format", "--branch", name, check=False).returncode != 0:
        raise UsageError(f"'{name}' is not a valid branch name", hint="e.g. agents/run-1 (see `git check-ref-format`)")
    if git.branch() == name:
        return None
    exists = git.run("rev-parse", "--verify", "-q", f"refs/heads/{name}", check=False).returncode == 0
    done = git.run("switch", "--quiet", *([name] if exists else ["-c", name]), check=False)
    if done.returncode != 0:
        lines = [line.strip() for line in done.stderr.decode("utf-8", "replace").splitlines() if line.strip()]
        files = [line for line in lines if not line.lower().startswith(("error", "please", "aborting", "hint"))]
        why = lines[0].removeprefix("error: ").rstrip(":") if lines else "git switch failed"
        raise PreconditionError(
            f"cannot switch to branch {name}: {why}" + (f": {', '.join(files[:5])}" if files else ""),
            hint="commit or stash your changes first (`git stash`)",
        )
    git.forget()  # the commits of this run go on the new branch
    return "switched to" if exists else "created"


def switch_back(git: Git, origin: tuple[str | None, str | None], name: str, switched: str,
                on_event: Callable[[str, object], None]) -> None:
    """Undo `switch_branch` for a run refused before any step started: back where it was started
    (`origin`: its branch and commit), and the branch deleted if the run created it."""
    branch, head = origin
    if branch and head:
        back = git.run("switch", "--quiet", branch, check=False)
    elif branch:  # a branch with no commit yet
        back = git.run("symbolic-ref", "HEAD", f"refs/heads/{branch}", check=False)
    else:
        back = git.run("switch", "--quiet", "--detach", str(head), check=False)
    if back.returncode == 0 and switched == "created":
        back = git.run("branch", "--quiet", "-d", name, check=False)
    git.forget()
    if back.returncode != 0:
        why = back.stderr.decode("utf-8", "replace").strip().splitlines()
        on_event("warning", f"the run was refused, but branch {name} could not be undone "
                 f"({why[0] if why else 'git failed'}): `git switch {branch or head}` goes back")
