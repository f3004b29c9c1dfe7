"""The typer application: global options, the verbs, and the one handler that turns errors into
`error:` / `hint:` lines and exit codes."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

import os
import sys
from pathlib import Path
from typing import Optional

import typer

from agentfiles import __version__
from agentfiles.commands.outcome import guarded, verb_of
from agentfiles.commands.output import Options, print_error
from agentfiles.errors import EXIT_USAGE

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


def run(args: list[str]) -> int:
    """Run the CLI with `args`; returns the exit code. Every failure ends here, without a traceback."""
    return guarded(lambda: _parsed(args), args)


def _parsed(args: list[str]) -> int:
    """The command `args` names, run through the parser: its exit code, and usage errors as theirs."""
    try:
        result = app(args=args, prog_name="agents", standalone_mode=False)
    except typer.Exit as exc:
        return exc.exit_code
    except typer.Abort:
        raise KeyboardInterrupt from None
    except typer.TyperException as exc:  # bad usage found by the parser
        if os.environ.get("AGENTS_DEBUG") == "1":
            raise
        command = verb_of(args)
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
    return result if isinstance(result, int) else 0
