"""The typer application: global options, the verbs, and the one handler that turns errors into
`error:` / `hint:` lines and exit codes."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Optional

import typer

from agentfiles import __version__
from agentfiles.commands.output import Options, Output, print_error
from agentfiles.errors import (
    EXIT_INTERRUPTED,
    EXIT_STEP_FAILED,
    EXIT_USAGE,
    AgentsError,
    ConventionError,
    PreconditionError,
    storage_error,
)

HELP = """Coordinate AI agent steps through files in a git repository.

Each step reads only its declared inputs, writes only its declared outputs, leaves a handoff,
and lands as one commit. Start with `agents init`, then `agents status`."""

app = typer.Typer(
    name="agents",
    help=HELP,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"agents {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def main_options(
    ctx: typer.Context,
    directory: Optional[Path] = typer.Option(
        None, "-C", metavar="DIR", help="Run as if started in DIR (like git -C)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object (read commands)."),
    color: Optional[bool] = typer.Option(
        None, "--color/--no-color", help="Colour the output (default: when writing to a terminal)."
    ),
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = Options(directory=(directory or Path.cwd()), json=json_output, color=color)


def _register() -> None:
    from agentfiles.commands import graph, history, init, new, report, review, roles, route, run, show, status, validate

    for module in (init, new, validate, status, run, show, history, review, report, route, graph, roles):
        module.register(app)


_register()


def _report_unexpected(exc: BaseException) -> str:
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


def _verb(args: list[str]) -> str:
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

    verb = _verb(args) or "agents"
    payload = {
        "schema_version": 1,
        "kind": "error",
        "command": verb,
        "error": {"message": str(exc), "hint": exc.hint, "exit_code": exc.exit_code},
        "problems": [d.to_json() for d in getattr(exc, "diagnostics", [])],
    }
    sys.stdout.write(json.dumps(payload, indent=2) + "\n")


def run(args: list[str]) -> int:
    """Run the CLI with `args`; returns the exit code. Every failure ends here, without a traceback."""
    debug = os.environ.get("AGENTS_DEBUG") == "1"
    try:
        result = app(args=args, prog_name="agents", standalone_mode=False)
    except AgentsError as exc:
        if debug:
            raise
        render_error(exc)
        _json_error(args, exc)
        return exc.exit_code
    except typer.Exit as exc:
        return exc.exit_code
    except (typer.Abort, KeyboardInterrupt):
        print_error("interrupted")
        return EXIT_INTERRUPTED
    except typer.TyperException as exc:  # bad usage found by the parser
        if debug:
            raise
        command = _verb(args)
        message = exc.format_message()
        known = command in {c.name for c in app.registered_commands} | {"new"}
        hint = f"run `agents {command + ' ' if command and known else ''}--help`"
        path = getattr(getattr(exc, "ctx", None), "command_path", "")  # the parser's own: `agents new task`
        if known and path.startswith(f"agents {command}"):
            hint = f"run `{path} --help`"
        after = args[args.index(command) + 1:] if command in args else []
        if "No such option" in message and any(a in ("-C", "--color", "--no-color") for a in after):
            hint = "global options go before the verb, as in `agents -C DIR status`"
        print_error(message, hint=hint)
        return getattr(exc, "exit_code", EXIT_USAGE) or EXIT_USAGE
    except BrokenPipeError:
        sys.stderr.close()
        return 0
    except Exception as exc:  # noqa: BLE001 - the last resort: one line and a report, never a traceback
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
    return result if isinstance(result, int) else 0
