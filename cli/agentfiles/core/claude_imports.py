"""The context files a step gets (CONVENTION.md section 7): CLAUDE.md with its `@path` imports, then the
nested CLAUDE.md files on the way to each declared path, read only from inside the repository."""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from agentfiles.core.paths import Reach, check_repo_path, has_glob, normalize_repo_path, reach_of
from agentfiles.core.records import record
from agentfiles.errors import ConventionError

MAX_IMPORT_DEPTH = 5
_IMPORT = re.compile(r"(?:^|(?<=\s))@([^\s`]+)")
_TRAILING = ".,;:!?)]}>\"'"


@lru_cache(maxsize=64)  # the same CLAUDE.md is read for every step of a run, or of a status sizing contexts
def _imports(text: str) -> tuple[tuple[int, str], ...]:
    """`@path` imports of a markdown text with their line numbers, outside code blocks and code spans."""
    found: list[tuple[int, str]] = []
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip()
        if stripped.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            continue
        plain = re.sub(r"`[^`]*`", " ", line)
        for match in _IMPORT.finditer(plain):
            path = match.group(1).rstrip(_TRAILING)
            if path:
                found.append((number, path))
    return tuple(found)


def context_files(
    root: Path,
    declared: list[str],
    refused: list[tuple[str, str, str]] | None = None,
    looked: list[str] | None = None,
) -> list[tuple[str, str]]:
    """(path, text) of every context file a step gets, in order: CLAUDE.md with its imports, then the
    nested CLAUDE.md files in the folders on the way to each declared path (shallowest first).

    Only files of the repository are read: a CLAUDE.md or an import that is (or leads through a
    symlink) outside it, in `.git` or in agents' machine-local state is skipped, and added to `refused`
    as (file, import, why) when given. `looked` gets every path whose existence or text decides the
    answer, those that do not exist included (a cache of what the context holds watches them)."""
    seen: set[str] = set()
    out: list[tuple[str, str]] = []
    starts = ["CLAUDE.md"]
    nested: set[str] = set()
    for path in declared:
        parts = path.split("/")[:-1]
        parts = parts[: next((i for i, part in enumerate(parts) if has_glob(part)), len(parts))]  # a glob's folders
        for depth in range(1, len(parts) + 1):
            candidate = "/".join(parts[:depth]) + "/CLAUDE.md"
            nested.add(candidate)
    starts += sorted(nested, key=lambda p: (p.count("/"), p))
    if looked is not None:
        looked.extend(starts)
    reach = reach_of(root)
    for start in starts:
        if start not in seen and os.path.lexists(root / start):
            why = _unreadable(root, reach, start)
            if why is None:
                _collect(_Walk(root, reach, seen, out, refused, looked), start, [])
            elif refused is not None:
                refused.append((start, start, why))
    return out


def _unreadable(root: Path, reach: Reach, rel: str) -> str | None:
    """Why the context file `rel` is not read, or None."""
    problem = check_repo_path(rel)
    if problem is None:
        problem = reach.problem(normalize_repo_path(rel))
    if problem is None and not (root / rel).is_file():
        problem = "is not a file"
    return problem


@record
class _Walk:
    """The state of one walk over CLAUDE.md files and their imports."""

    root: Path
    reach: Reach
    seen: set[str]
    out: list[tuple[str, str]]
    refused: list[tuple[str, str, str]] | None
    looked: list[str] | None = None


def _collect(walk: _Walk, rel: str, chain: list[str]) -> None:
    if rel in chain:
        raise ConventionError(
            "CLAUDE.md import cycle: " + " -> ".join([*chain, rel]),
            file=chain[-1] if chain else rel,
            hint="remove one of these @imports",
        )
    if len(chain) > MAX_IMPORT_DEPTH:
        raise ConventionError(
            f"CLAUDE.md imports nest deeper than {MAX_IMPORT_DEPTH} levels: " + " -> ".join([*chain, rel]),
            file=chain[-1],
            hint="import the deepest file from higher up",
        )
    if rel in walk.seen:
        return
    walk.seen.add(rel)
    text = (walk.root / rel).read_text(encoding="utf-8", errors="replace")
    walk.out.append((rel, text))
    base = os.path.dirname(rel)
    for _, target in _imports(text):
        joined = os.path.normpath(os.path.join(base, target)).replace(os.sep, "/")
        if walk.looked is not None:
            walk.looked.append(joined)
        why = _unreadable(walk.root, walk.reach, joined)
        if why is None:
            _collect(walk, joined, [*chain, rel])
        elif walk.refused is not None and os.path.lexists(os.path.join(walk.root, joined)):
            walk.refused.append((rel, target, why))  # an existing file it may not read; `@name` prose is no import
