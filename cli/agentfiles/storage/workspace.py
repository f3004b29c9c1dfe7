"""A project opened from disk for a command: its files loaded on demand, its state facts served from the
status index (storage/index.py) while their files are unchanged, its files hashed through that index.

Only the light modules are imported here; the loader (YAML, the document Structs) is imported when a
command needs the models, or when some facts are out of date. A warm `agents status` therefore costs a stat per file
and no parsing.
"""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.core.facts import Facts
from agentfiles.core.paths import Layout, find_project_root
from agentfiles.core.state import TaskState, derive_states
from agentfiles.errors import ConventionError
from agentfiles.storage.cache import StatCache
from agentfiles.storage.parallel import detached, settled

WRITING = "writing.lock"  # held by the process writing the status caches after its command answered
DETACH_FROM = 2000  # tasks read afresh: with fewer, the caches are small and written at once

if TYPE_CHECKING:
    from agentfiles.core.diagnostics import Diagnostic
    from agentfiles.core.graph import TaskGraph
    from agentfiles.core.project import Project
    from agentfiles.storage.index import StatusIndex


class Workspace:
    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        self._index: StatusIndex | None = None
        self._project: Project | None = None
        self._graph: TaskGraph | None = None
        self._facts: Facts | None = None
        self._read_since: tuple[int, list[Any]] = (0, [])  # when the facts began to be read, and the names then
        self._states: dict[str, TaskState] | None = None
        # Set by a command whose process ends once it has answered (`agents status`): caches it must write
        # after many files were read are written by a process of their own meanwhile (storage/parallel.py).
        self.write_later = False
        self._settled = False

    @property
    def root(self) -> Path:
        return self.layout.root

    @property
    def project(self) -> Project:
        """Every convention file, parsed and validated (errors collected, see `require_loaded`)."""
        if self._project is None:
            from agentfiles.storage.project import load_project

            documents = StatCache(self.layout.cache / "documents.json")
            self._project = load_project(self.root, documents)
            documents.save(self.root)
        return self._project

    @property
    def graph(self) -> TaskGraph:
        if self._graph is None:
            from agentfiles.core.graph import TaskGraph

            self._graph = TaskGraph.build({t: e.model for t, e in self.project.tasks.items()})
        return self._graph

    def require_loaded(self) -> None:
        """Raise when a file could not be loaded at all: a command must not act on half a project."""
        _refuse(self.project.errors)

    def require_usable(self) -> None:
        """Raise when the config or the layout itself is broken; a broken task, role or handoff file
        leaves the rest usable (read verbs mark it, `run` refuses only what depends on it)."""
        _refuse(self.project.fatal)

    def validate(self, warnings: bool = True) -> list[Diagnostic]:
        from agentfiles.core.validation import validate_project

        return validate_project(self.project, self.graph, warnings)

    @property
    def index(self) -> StatusIndex:
        if self._index is None:
            from agentfiles.storage.index import StatusIndex

            self._settle()
            self._index = StatusIndex(self.layout.cache / "status.json")
        return self._index

    def facts(self) -> Facts:
        """The state-deciding facts: from the index for unchanged files, read afresh for the others."""
        if self._facts is None:
            from agentfiles.storage.index import build_facts
            from agentfiles.storage.snapshot import layout_names

            # What a snapshot of states derived from these facts vouches for is taken before a file is read:
            # a file added meanwhile makes the folders' names differ next time (`states`).
            self._read_since = time.time_ns(), layout_names(self.layout)
            self._facts = build_facts(self.layout, self.index, lambda frame: _refuse(frame.fatal))
        return self._facts

    def states(self) -> dict[str, TaskState]:
        """Every task's state: as recorded when none of the files it came from changed, else derived."""
        if self._states is None:
            from agentfiles.storage.snapshot import read_snapshot, snapshot_sources, vouched, write_snapshot

            path = self.layout.cache / "states.json"
            self._settle()
            _clear_leftovers(self.layout.cache)
            self._states = read_snapshot(self.layout, path)
            if self._states is None:
                enabled = gc.isenabled()
                gc.disable()  # many small objects, none cyclic: collecting them while deriving is all waste
                try:
                    facts = self.facts()  # perhaps read earlier (`agents run` reads them first)
                    since, names = self._read_since  # as they were before the facts were read
                    sources = snapshot_sources(self.layout, facts, self.index.stats, names)  # before deriving
                    states = self._states = derive_states(self.root, facts, self.index.hasher(self.root),
                                                          self.index.judged)
                    sources = vouched(sources, self.index.stats)
                    later = self.write_later and self.index.read >= DETACH_FROM

                    def write() -> None:  # what it writes was taken above, whenever this runs
                        self.index.save(make_folders=False)
                        write_snapshot(path, sources, states, since, make_folders=False)

                    if _cache_folder(self.layout) and not (later and detached(write, self.layout.cache / WRITING)):
                        write()
                finally:
                    if enabled:
                        gc.enable()
        return self._states


    def _settle(self) -> None:
        """Wait for a writer of the caches at work (once: the index and the snapshot are read after it)."""
        if not self._settled:
            self._settled = True
            settled(self.layout.cache / WRITING)


def _cache_folder(layout: Layout) -> bool:
    """Whether `.agents/cache` is there to write the caches in, made if need be, but only in an `.agents`
    folder that is still there (not again where a project was moved from while a status ran)."""
    try:
        layout.cache.mkdir(exist_ok=True)
    except OSError:
        return False
    return True


def _clear_leftovers(cache: Path, now: float | None = None) -> None:
    """Remove the half-written copies of the status caches that a killed writer left (`.status.json.*.tmp`,
    atomic_write's), once a minute old: a writer at work now is younger. Every status looks (a listing of a
    folder of a few files), so one is gone a minute later even when nothing is written again."""
    try:
        names = [n for n in os.listdir(cache)
                 if n.startswith((".status.json.", ".states.json.")) and n.endswith(".tmp")]
    except OSError:
        return
    now = time.time() if now is None else now
    for name in names:
        try:
            if now - os.lstat(cache / name).st_mtime > 60:
                os.unlink(cache / name)
        except OSError:
            pass


def _refuse(errors: list[Diagnostic]) -> None:
    if errors:
        raise ConventionError(
            f"{len(errors)} problem(s) in the project's files",
            diagnostics=errors,
            hint="fix them; `agents validate` lists every problem",
        )


def open_workspace(directory: Path) -> Workspace:
    return Workspace(find_project_root(directory))
