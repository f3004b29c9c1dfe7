"""The one root exception of agentfiles and its kinds.

Every failure a user can meet is an AgentsError carrying its exit code and a hint; the CLI's single
handler renders it as `error: ...` / `hint: ...`. Exceptions are built from keyword arguments and never print.
"""

from __future__ import annotations

import errno

# Exit codes of the contract (CONVENTION.md section 9).
EXIT_OK = 0
EXIT_STEP_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class AgentsError(Exception):
    """Root of every error the CLI reports to a user."""

    exit_code: int = EXIT_USAGE

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        exit_code: int | None = None,
        file: str | None = None,
        line: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.file = file
        self.line = line
        if exit_code is not None:
            self.exit_code = exit_code

    def where(self) -> str:
        """`file:line: ` prefix, or an empty string when the error has no location."""
        if not self.file:
            return ""
        return f"{self.file}:{self.line}: " if self.line else f"{self.file}: "

    def __str__(self) -> str:
        return self.where() + self.message


class UsageError(AgentsError):
    """Bad arguments on the command line."""


class ConventionError(AgentsError):
    """Invalid convention files (tasks, roles, config, handoffs); may carry many diagnostics."""

    def __init__(self, message: str, *, diagnostics: list | None = None, **kwargs) -> None:  # type: ignore[type-arg]
        super().__init__(message, **kwargs)
        self.diagnostics = diagnostics or []


class PreconditionError(AgentsError):
    """Something the command needs is missing: no git repository, no project, no model configured."""


class GitError(AgentsError):
    """A git operation failed (translated from GitPython or the git command)."""


class ExecutorError(AgentsError):
    """An executor or the model API failed in a way that is not a step's own failure."""


class BudgetError(AgentsError):
    """A context, output or cost budget would be or was exceeded."""

    exit_code = EXIT_STEP_FAILED


class StepFailed(AgentsError):
    """A step failed, was rejected, or a check failed."""

    exit_code = EXIT_STEP_FAILED


class Interrupted(AgentsError):
    """The user interrupted the command."""

    exit_code = EXIT_INTERRUPTED


class StorageFull(AgentsError):
    """The disk (or a quota, or a file-size limit) refused a write: nothing is wrong with the project."""


_RESOURCE = {
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "the disk quota is used up",
    errno.EFBIG: "a file would grow past the file-size limit (ulimit -f)",
    errno.EROFS: "the file system is read-only",
}
STORAGE_HINT = ("make room (or lift the limit), then run the command again; `agents run` finishes or undoes "
                "whatever a step had half written when it stopped")


def storage_error(exc: BaseException) -> StorageFull | None:
    """The error to report for an OSError the machine caused (a full disk, a quota, a file-size limit, a
    read-only file system), or None for any other exception, which remains a bug to report."""
    if not isinstance(exc, OSError) or exc.errno not in _RESOURCE:
        return None
    where = f" while writing {exc.filename}" if exc.filename else ""
    return StorageFull(f"{_RESOURCE[exc.errno]}{where}", hint=STORAGE_HINT)
