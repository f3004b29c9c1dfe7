"""The console script `agents`: answers `--version`, and `--help` at the terminal widths it keeps rendered,
before importing anything heavy, then hands over to the CLI (commands/cli.py)."""

from __future__ import annotations

import gc
import os
import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from agentfiles import __version__

        sys.stdout.write(f"agents {__version__}\n")
        sys.exit(0)
    if args in (["--help"], ["-h"]):
        text = _rendered_help()
        if text is not None:
            sys.stdout.write(text)
            sys.exit(0)
    from agentfiles.commands.cli import run  # `agents run` in its common forms is read without typer there
    from agentfiles.commands.output import ONE_COMMAND

    if argv is None:  # the console script itself (a program calling main(ARGS) may catch SystemExit)
        ONE_COMMAND.append(True)
    code = run(args)
    sys.stdout.flush()
    if _nothing_to_finalize():
        sys.stderr.flush()
        os._exit(code)
    if argv is None:
        # The interpreter's last garbage collection at exit walks every object left (a few hundred thousand
        # after a run's imports: 50-100 ms of CPU) to free what the process's end frees anyway; frozen, it
        # skips them. Not in a program that calls main(ARGS) and goes on.
        gc.freeze()
    sys.exit(code)


def _nothing_to_finalize() -> bool:
    """Whether the command said it leaves Python's shutdown nothing to do, and nothing else did: no exit
    handler, no other thread. Then the process ends at once, without freeing its objects one by one."""
    import atexit

    from agentfiles.commands.output import NOTHING_TO_FINALIZE

    threads = sys.modules.get("threading")
    alone = threads is None or threads.active_count() == 1
    return bool(NOTHING_TO_FINALIZE) and alone and getattr(atexit, "_ncallbacks", lambda: 1)() == 0


def _rendered_help() -> str | None:
    """The top-level help as the CLI would render it for this terminal, when it is one of the widths kept
    (agentfiles/help_text.py); None otherwise. The width is found as the CLI finds it: $COLUMNS, else the
    terminal's, else 80."""
    import shutil

    from agentfiles.help_text import HELP, WIDEST

    return HELP.get(min(shutil.get_terminal_size().columns, WIDEST))
