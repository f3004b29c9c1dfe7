"""The size of each model step's context as `agents status` last computed it, against the step's budget,
kept with the stat signatures of every file that size came from: the config and role files, the inputs
(and what each of its globs and folders matched), the upstream handoffs, the context files looked at
(those missing too), what the output globs matched. Computing a context needs the whole project loaded;
a status does it only for a step one of whose files, or whose definition, changed since.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import orjson

from agentfiles import __version__
from agentfiles.core.records import record
from agentfiles.storage.cache import RACY_WINDOW_NS
from agentfiles.storage.files import atomic_write
from agentfiles.storage.snapshot import files_signature

CACHE_VERSION = 1


@record
class ContextSize:
    definition: str  # the step's definition digest when it was computed
    world: str  # one digest of every task's definition: other tasks of the role decide the order of the inputs
    after: list[str]  # tasks that produce what the context holds: while one is not done, the size is not yet known
    files: list[str]
    globs: list[list[Any]]  # [pattern, the files it matched]
    sigs: str
    tokens: int
    limit: int | None  # the budget's context_tokens; None: no limit (or not a model step)
    largest: str  # the largest parts, as `agents run` names them

    def over(self) -> bool:
        return bool(self.limit) and self.tokens > (self.limit or 0)


class ContextCache:
    def __init__(self, root: Path, path: Path) -> None:
        self.root = root
        self.path = path
        self.entries: dict[str, list[Any]] = {}
        self.dirty = False
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(data, dict) and data.get("version") == [CACHE_VERSION, __version__]:
            self.entries = data.get("steps") or {}

    def get(self, step: str, definition: str | None, world: str, expand: Any) -> ContextSize | None:
        """The recorded size of `step`, if its definition, every task's and every file it came from are
        unchanged; `expand(pattern)` lists what a glob matches now."""
        try:
            found = ContextSize(*self.entries[step])
        except (KeyError, TypeError):
            return None
        if found.definition != definition or found.world != world:
            return None
        if any(expand(pattern) != matched for pattern, matched in found.globs):
            return None
        if files_signature(self.root, found.files)[0] != found.sigs:
            return None
        return found

    def put(self, step: str, size: ContextSize) -> None:
        """Record `size` (with the signatures of its files now), unless a file changed so recently that a
        later edit might keep its signature."""
        size.sigs, newest = files_signature(self.root, size.files)
        if time.time_ns() - newest < RACY_WINDOW_NS:
            return
        self.entries[step] = list(asdict(size).values())
        self.dirty = True

    def save(self, keep: set[str]) -> None:
        """Write the entries of the steps in `keep` (the others are of steps gone or done)."""
        kept = {k: v for k, v in self.entries.items() if k in keep}
        if not self.dirty and len(kept) == len(self.entries):
            return
        try:
            atomic_write(self.path, orjson.dumps({"version": [CACHE_VERSION, __version__], "steps": kept}),
                         sync=False)
        except OSError:
            pass
