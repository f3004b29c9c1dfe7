"""How a command ends: the one handler that turns what it raised into `error:` / `hint:` lines and an exit
code, never a traceback. Without typer, so that a command answered without the CLI's parser (entry.py)
ends the same way."""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable

from agentfiles import __version__
from agentfiles.commands.output import Output, print_error
from agentfiles.errors import (
    EXIT_INTERRUPTED,
    EXIT_STEP_FAILED,
    AgentsError,
    ConventionError,
    PreconditionError,
    storage_error,
)


def guarded(call: Callable[[], int], args: list[str]) -> int:
    """`call()`'s exit code; an error is reported on stderr (and, with --json, as JSON on stdout) and becomes
    its exit code. AGENTS_DEBUG=1 re-raises instead."""
    debug = os.environ.get("AGENTS_DEBUG") == "1"
    try:
        return call()
    except AgentsError as exc:
        if debug:
            raise
        render_error(exc)
        _json_error(args, exc)
        return exc.exit_code
    except KeyboardInterrupt:
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:  # the last resort: one line and a report, never a traceback
        if debug:
            raise
        known = storage_error(exc) or missing_module(exc)  # a full disk or a broken install: not a bug
        if known is not None:
            render_error(known)
            _json_error(args, known)
            return known.exit_code
        report = _report_unexpected(exc)
        print_error(
            f"unexpected {type(exc).__name__}: {exc}",
            hint=f"this is a bug in agents; the full report is in {report} (AGENTS_DEBUG=1 shows it here)",
        )
        return EXIT_STEP_FAILED


def _report_unexpected(exc: BaseException) -> str:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="agents-crash-", suffix=".txt")
    with os.fdopen(fd, "w") as handle:
        handle.write(f"agents {__version__}\nargv: {sys.argv!r}\n\n")
        handle.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    return path


def missing_module(exc: Exception) -> AgentsError | None:
    """A module agents imports that is not installed (an environment made before a dependency was added,
    a package removed by hand): the install's fault, said so with how to mend it."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name or exc.name.split(".")[0] == "agentfiles":
        return None
    return PreconditionError(
        f"the Python module `{exc.name}` that agents needs is not installed in {sys.prefix}",
        hint="reinstall agents into this environment: `pip install -e .` in a clone (`python3 dev.py test` "
        "does it for the clone's .venv), or `pipx reinstall git-agentfiles`",
    )


def render_error(exc: AgentsError) -> None:
    out = Output()
    if isinstance(exc, ConventionError) and exc.diagnostics:
        for diag in exc.diagnostics:
            out.diagnostic(diag.severity, f"{diag.where}{diag.message}", diag.hint)
    out.diagnostic("error", str(exc), exc.hint)


def verb_of(args: list[str]) -> str:
    """The command word of `args` (global options and their values skipped)."""
    skip = False
    for arg in args:
        if skip:
            skip = False
        elif arg == "-C":
            skip = True
        elif not arg.startswith("-"):
            return arg
    return ""


def _json_error(args: list[str], exc: AgentsError) -> None:
    """With --json, an error is also one JSON object on stdout, so a program reading it gets an answer."""
    if "--json" not in args:
        return
    import json

    verb = verb_of(args) or "agents"
    payload = {
        "schema_version": 1,
        "kind": "error",
        "command": verb,
        "error": {"message": str(exc), "hint": exc.hint, "exit_code": exc.exit_code},
        "problems": [d.to_json() for d in getattr(exc, "diagnostics", [])],
    }
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def as_typer(call: Callable[[], int]) -> int:
    """`call()`'s exit code, with its exceptions answered as typer's command runner answers them."""
    try:
        return call()
    except EOFError:
        sys.stderr.write("\n")
        sys.stderr.flush()
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except KeyboardInterrupt:  # typer ends the command with exit code 130, saying nothing
        return EXIT_INTERRUPTED
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        from typer._click.utils import PacifyFlushWrapper  # as typer does: no complaint from the closed pipe

        sys.stdout = PacifyFlushWrapper(sys.stdout)  # type: ignore[assignment]
        sys.stderr = PacifyFlushWrapper(sys.stderr)  # type: ignore[assignment]
        sys.exit(1)
