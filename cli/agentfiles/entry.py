"""The console script `agents`: answers `--version` before importing anything heavy, then hands over to the CLI."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):
        from agentfiles import __version__

        sys.stdout.write(f"agents {__version__}\n")
        sys.exit(0)
    from agentfiles.commands.app import run

    code = run(args)
    sys.stdout.flush()
    sys.exit(code)
