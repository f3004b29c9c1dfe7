"""Steps whose outputs are globs or folders (`src/pkg/**/*.py`, `docs/`): the files under them that a step
starts with (in its sandbox, and recorded with its inputs), and what of its changes lands (the files it
wrote, and those it deleted that are still there)."""

from __future__ import annotations

import os
from pathlib import Path

from agentfiles.core.fingerprint import expand_path_input
from agentfiles.core.globs import OutputSet, reserved
from agentfiles.core.paths import reach_of


def owned_files(root: Path, outputs: list[str], refused: list[tuple[str, str]] | None = None) -> list[str]:
    """The files of the repository that a step's output globs match now: it may change or delete them, so
    its sandbox holds them (a step edits code it can see), and its handoff records what it saw. A match
    that is a symlink, or lies under one, is left out (and added to `refused` as (path, why)): an output
    is written where it is declared, and a link would show the step the file it leads to. So is a file no
    glob names (CLAUDE.md: core/globs.reserved)."""
    globs = OutputSet(outputs).globs
    reach = reach_of(root)
    found: set[str] = set()
    for pattern in globs:
        for rel in expand_path_input(root, pattern):
            if reserved(rel):
                continue  # never the step's through a glob (CLAUDE.md): it does not start with it either
            why = reach.problem(rel, output=True)
            if why is None:
                found.add(rel)
            elif refused is not None:
                refused.append((rel, why))
    return sorted(found)


def to_delete(root: Path, deleted: list[str]) -> list[str]:
    """Those of the files a step deleted that the work tree still has (a hand edit may have removed one)."""
    return [rel for rel in deleted if os.path.lexists(root / rel)]
