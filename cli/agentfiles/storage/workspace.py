"""A project opened from disk for a command: its files loaded on demand, its state facts served from a
cache while no convention file changed, its files hashed through a stat cache.

Only the light modules are imported here; the loader (YAML, pydantic) is imported when a command needs
the models, or when the cached facts are out of date. A warm `agents status` therefore costs a few
stats per file and no parsing.
"""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles import __version__
from agentfiles.core.facts import Facts
from agentfiles.core.fingerprint import FileHasher, digest_file
from agentfiles.core.paths import Layout, find_project_root
from agentfiles.core.state import TaskState, derive_states
from agentfiles.errors import ConventionError
from agentfiles.storage.cache import RACY_WINDOW_NS, StatCache, signature
from agentfiles.storage.files import atomic_write, markdown_names

if TYPE_CHECKING:
    from agentfiles.core.diagnostics import Diagnostic
    from agentfiles.core.graph import TaskGraph
    from agentfiles.core.project import Project

INDEX_VERSION = 2


def convention_files(layout: Layout) -> dict[str, list[int]]:
    """Every file the project's state depends on, with its stat signature."""
    found: dict[str, list[int]] = {}
    try:
        found[".agents/config.yaml"] = signature(os.stat(layout.config))
    except OSError:
        pass
    for folder, prefix in (
        (layout.claude_agents, ".claude/agents/"),
        (layout.roles, ".agents/roles/"),
        (layout.tasks, ".agents/tasks/"),
        (layout.handoffs, ".agents/handoffs/"),
    ):
        base = f"{folder}{os.sep}"
        for name in markdown_names(folder):
            try:
                found[prefix + name] = signature(os.stat(base + name))
            except OSError:
                continue
    return found


class Workspace:
    def __init__(self, root: Path) -> None:
        self.layout = Layout(root)
        self.hashes = StatCache(self.layout.cache / "hashes.json")
        self._project: Project | None = None
        self._graph: TaskGraph | None = None
        self._facts: Facts | None = None
        self._states: dict[str, TaskState] | None = None

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

    def validate(self) -> list[Diagnostic]:
        from agentfiles.core.validation import validate_project

        return validate_project(self.project, self.graph)

    def hasher(self) -> FileHasher:
        """sha256 of a repo file, served from the stat cache while the file is unchanged."""
        base = f"{self.root}{os.sep}"
        cache = self.hashes

        def hash_file(rel: str) -> str | None:
            full = base + rel
            try:
                st = os.stat(full)
            except OSError:
                return None
            if not stat.S_ISREG(st.st_mode):
                return None
            sig = signature(st)
            digest = cache.get("sha", rel, sig)
            if digest is None:
                digest = digest_file(full)
                if digest is not None:
                    cache.put("sha", rel, sig, digest)
            return digest

        return hash_file

    def facts(self) -> Facts:
        """The state-deciding facts: from the index when no convention file changed, else from the files."""
        if self._facts is not None:
            return self._facts
        index_path = self.layout.cache / "index.json"
        files = convention_files(self.layout)
        cached = _read_index(index_path)
        if cached is not None and cached.get("files") == files:
            try:
                facts = Facts.from_json(cached["facts"])
            except (KeyError, TypeError, ValueError):
                facts = None
            if facts is not None and self._items_unchanged(facts):
                self._facts = facts
                return facts
        self.require_usable()
        from agentfiles.core.facts import facts_of

        self._facts = facts_of(self.project)
        _write_index(index_path, files, self._facts)
        return self._facts

    def _items_unchanged(self, facts: Facts) -> bool:
        """A foreach task's items are files anywhere in the repository: the index holds only while its
        globs match the same files."""
        from agentfiles.core.fingerprint import expand_path_input

        return all(expand_path_input(self.root, glob) == items for glob, items in facts.foreach.values())

    def states(self) -> dict[str, TaskState]:
        if self._states is None:
            self._states = derive_states(self.root, self.facts(), self.hasher())
            self.hashes.save(self.root)
        return self._states


def _refuse(errors: list[Diagnostic]) -> None:
    if errors:
        raise ConventionError(
            f"{len(errors)} problem(s) in the project's files",
            diagnostics=errors,
            hint="fix them; `agents validate` lists every problem",
        )


def _read_index(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != [INDEX_VERSION, __version__]:
        return None
    return data


def _write_index(path: Path, files: dict[str, list[int]], facts: Facts) -> None:
    # A file changed within the racy window could change again unseen: do not vouch for it.
    newest = max((sig[1] for sig in files.values()), default=0)
    if time.time_ns() - newest < RACY_WINDOW_NS:
        return
    payload = {"version": [INDEX_VERSION, __version__], "files": files, "facts": facts.to_json()}
    try:
        atomic_write(path, json.dumps(payload, separators=(",", ":")))
    except OSError:
        pass


def open_workspace(directory: Path) -> Workspace:
    return Workspace(find_project_root(directory))
