"""Loads every convention file of a repository into a Project, collecting all problems instead of stopping
at the first."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any, TypeVar

from agentfiles.core.diagnostics import Diagnostic, Invalid, Loc
from agentfiles.core.fields import Strict
from agentfiles.core.handoffs import Handoff
from agentfiles.core.models import Config, Role, Task
from agentfiles.core.paths import Layout, Reach, is_valid_id
from agentfiles.core.project import LEFT_OUT, Entry, Project
from agentfiles.core.schema import parse
from agentfiles.storage.cache import StatCache, signature
from agentfiles.storage.documents import (
    DocumentError,
    SourceMap,
    load_yaml_text,
    parse_document,
    read_text,
)
from agentfiles.storage.files import markdown_listing

M = TypeVar("M", bound=Strict)


def _hint_for(message: str) -> str | None:
    """What to do about a problem in a file (core/hints.py, imported only once a file has one)."""
    from agentfiles.core.hints import hint_for

    return hint_for(message)


class _Loader:
    def __init__(self, layout: Layout, cache: StatCache) -> None:
        self.layout = layout
        self.cache = cache
        self.diagnostics: list[Diagnostic] = []
        self.odd: list[Path] = []  # entries named like convention files that are not files
        self.seen: dict[str, os.stat_result] | None = None  # given: each document's stat as it was read

    def error(self, message: str, file: str | None, line: int | None = None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("error", message, file, line, hint or _hint_for(message)))

    def warning(self, message: str, file: str | None, line: int | None = None, hint: str | None = None) -> None:
        self.diagnostics.append(Diagnostic("warning", message, file, line, hint or _hint_for(message)))

    def validate(
        self, model: type[M], data: dict[str, Any], rel: str, source: SourceMap, *, lenient_keys: bool = False
    ) -> M | None:
        try:
            return parse(model, data)
        except Invalid as exc:
            problems = exc.problems
        if lenient_keys and all(p.key_error for p in problems):
            # Files owned by another tool (Claude Code): keys we do not know are theirs, not typos.
            for p in problems:
                self.warning(f"{p.message} (ignored)", rel, source.line(p.loc))
            trimmed = dict(data)
            for p in problems:
                if len(p.loc) == 1:
                    trimmed.pop(str(p.loc[0]), None)
            try:
                return parse(model, trimmed)
            except Invalid:
                return None
        for p in problems:
            self.error(p.message, rel, source.line(p.loc), _hint_for(p.message))
        return None

    def document(self, path: Path | str, model: type[M], *, lenient_keys: bool = False) -> Entry[M] | None:
        """One file (a Path, or a repo-relative str) parsed and validated, or None with its problems noted."""
        if isinstance(path, str):
            rel, path = path, f"{self.layout.root}{os.sep}{path}"
        else:
            rel = self.layout.rel(path)
        seen: list[os.stat_result] = []
        try:
            text = None if self.cache.path else _unless_symlink(path, seen)  # saves a look (lstat) at a file
            if text is None and self.escapes(path, rel):
                return None
            sig = signature(os.stat(path)) if self.cache.path else None  # no cache: reading tells what is missing
            cached = self.cache.get("doc", rel, sig) if sig is not None else None
            if cached is not None:
                meta, body = cached
                source: SourceMap = _LazySourceMap(path)
            else:
                doc = parse_document(read_text(path, seen=seen) if text is None else text)
                meta, body, source = doc.meta, doc.body, doc.source
        except DocumentError as exc:
            self.error(exc.message, rel, exc.line, _hint_for(exc.message))
            return None
        except OSError as exc:
            self.error(f"cannot read: {exc.strerror}", rel)
            return None
        finally:
            if seen and self.seen is not None:
                self.seen[rel] = seen[-1]  # a symlink's: that of the file it leads to
        parsed = self.validate(model, meta, rel, source, lenient_keys=lenient_keys)
        if parsed is None:
            return None
        if cached is None and self.cache.path:
            self.cache.put("doc", rel, sig, [meta, body])
        return Entry(model=parsed, body=body, path=rel, locate=source.line)

    def escapes(self, path: Path | str, rel: str) -> bool:
        """Whether the convention file at `path` is a symlink that leads out of the repository or into
        .git (noted as an error): what a step is defined by must be in the repository, and a clone may
        be hostile."""
        if not os.path.islink(path):
            return False
        why = Reach(self.layout.root).problem(rel)
        if why:
            self.error(f"{rel} is a symlink that {why.replace('through a symlink', '').strip()}", rel,
                       hint="replace the symlink with the file itself, or remove it")
        return why is not None

    def runs_folder(self) -> None:
        """`.agents/runs/` must be a folder when it is there: every step's record is written into it."""
        path = self.layout.runs
        if os.path.lexists(path) and not path.is_dir():
            rel = self.layout.rel(path)
            self.error(f"{rel} is a file, but it must be the folder of the run records", rel,
                       hint=f"move the file away and create the folder: mkdir -p {rel}")

    def config(self) -> tuple[Config, Entry[Config] | None]:
        path = self.layout.config
        rel = self.layout.rel(path)
        if self.escapes(path, rel):
            return Config(), None
        try:
            text = read_text(path)
        except FileNotFoundError:
            self.error("missing project config", rel, hint="run `agents init` to create it")
            return Config(), None
        except DocumentError as exc:
            self.error(exc.message, rel, exc.line, _hint_for(exc.message))
            return Config(), None
        except OSError as exc:
            what = "a folder" if path.is_dir() else exc.strerror
            self.error(f"cannot read the project config: {what}", rel,
                       hint="it must be a YAML file; `agents init` in a scratch repository shows one")
            return Config(), None
        source = SourceMap(text, 1)
        try:
            data = load_yaml_text(text) or {}
        except DocumentError as exc:
            self.error(exc.message, rel, exc.line, _hint_for(exc.message))
            return Config(), None
        if not isinstance(data, dict):
            message = "the config must be a mapping of keys to values"
            self.error(message, rel, 1, _hint_for(message))
            return Config(), None
        parsed = self.validate(Config, data, rel, source)
        if parsed is None:
            return Config(), None
        return parsed, Entry(model=parsed, body="", path=rel, locate=source.line)

    def listing(self, folder: Path, kind: str) -> list[Path]:
        return [folder / name for name in self.names(folder, kind)]

    def names(self, folder: Path, kind: str) -> list[str]:
        """The markdown file names of a convention folder; a folder that is a file, or an entry `x.md` that
        is not a file, is an error rather than nothing at all."""
        names, odd, not_a_folder = markdown_listing(folder)
        rel = self.layout.rel(folder)
        if not_a_folder:
            self.error(f"{rel} is a file, but it must be the folder of the {kind} files", rel,
                       hint=f"move the file away and create the folder: mkdir -p {rel}")
        for name in odd:
            what = "a folder" if (folder / name).is_dir() else "not a regular file"
            self.error(f"{rel}/{name} is {what}; a {kind} is a markdown file", f"{rel}/{name}",
                       hint="replace it with a file, or rename it so that it does not end in .md")
            self.odd.append(folder / name)
        return names

    def roles(self, broken: set[str]) -> dict[str, Entry[Role]]:
        roles: dict[str, Entry[Role]] = {}
        for folder, origin, foreign in (
            (self.layout.claude_agents, ".claude/agents", True),
            (self.layout.roles, ".agents/roles", False),
        ):
            for path in self.listing(folder, "role"):
                entry = self._foreign(path) if foreign else self.document(path, Role)
                if entry is None:
                    broken.add(path.stem)
                    continue
                entry.origin = origin
                name = entry.model.name
                if not foreign and name != path.stem:
                    self.error(
                        f"role name '{name}' differs from the file name '{path.stem}'",
                        entry.path,
                        entry.line("name"),
                        hint=f"rename the file to {name}.md or set `name: {path.stem}`",
                    )
                    broken.add(path.stem)
                    continue
                if not is_valid_id(name):
                    report = self.warning if foreign else self.error
                    report(
                        f"role name '{name}' is not valid (lowercase letters, digits, '.', '_', '-')",
                        entry.path,
                        entry.line("name"),
                        hint="rename the role; tasks name roles by this name",
                    )
                    broken.add(name)
                    continue
                roles[name] = entry
        for folder in (self.layout.claude_agents, self.layout.roles):
            broken.update(p.stem for p in self.odd if p.parent == folder)
        return roles

    def _foreign(self, path: Path) -> Entry[Role] | None:
        """A role file of Claude Code's (.claude/agents/): agents does not own it, so what it cannot read
        is a warning and the role is left out (a task that names it is the error), as Claude Code does."""
        mark = len(self.diagnostics)
        entry = self.document(path, Role, lenient_keys=True)
        if entry is None:
            for i in range(mark, len(self.diagnostics)):
                d = self.diagnostics[i]
                self.diagnostics[i] = Diagnostic(
                    "warning", f"{d.message}{LEFT_OUT}", d.file, d.line,
                    f"{d.hint or 'fix the file'} (a task that names this role is an error until then)",
                )
        return entry

    def tasks(self, broken: dict[str, list[str]]) -> dict[str, Entry[Task]]:
        tasks: dict[str, Entry[Task]] = {}
        for path in self.listing(self.layout.tasks, "task"):
            task_id = path.stem
            if not is_valid_id(task_id):
                self.invalid_id(path)
                broken[task_id] = []
                continue
            entry = self.document(path, Task)
            if entry is None:
                broken[task_id] = self._raw_needs(path)
                continue
            tasks[task_id] = entry
        broken.update((p.stem, []) for p in self.odd if p.parent == self.layout.tasks)
        return tasks

    def invalid_id(self, path: Path) -> None:
        self.error(
            f"'{path.stem}' is not a valid task id (lowercase letters, digits, '.', '_', '-')",
            self.layout.rel(path),
            hint="rename the file: the task id is the file name without .md",
        )

    @staticmethod
    def _raw_needs(path: Path | str) -> list[str]:
        try:
            needs = parse_document(read_text(path)).meta.get("needs")
        except (DocumentError, OSError):
            return []
        if isinstance(needs, str):
            needs = [needs]
        return [n for n in needs if isinstance(n, str)] if isinstance(needs, list) else []

    def handoffs(self) -> dict[str, Entry[Handoff]]:
        handoffs: dict[str, Entry[Handoff]] = {}
        for path in self.listing(self.layout.handoffs, "handoff"):
            entry = self.handoff(path.stem)
            if entry is not None:
                handoffs[path.stem] = entry
        return handoffs

    def handoff(self, task_id: str) -> Entry[Handoff] | None:
        entry = self.document(f".agents/handoffs/{task_id}.md", Handoff)
        if entry is not None and entry.model.task != task_id:
            self.error(
                f"handoff names task '{entry.model.task}' but its file is {task_id}.md",
                entry.path,
                entry.line("task"),
                hint="a handoff is written by `agents run`; restore it with `git checkout -- FILE`",
            )
            return None
        return entry


def _unless_symlink(path: Path | str, seen: list[os.stat_result] | None = None) -> str | None:
    """A convention file's text, or None when it is a symlink (whose target `escapes` must judge first);
    `seen` gets its stat (read_text)."""
    try:
        return read_text(path, follow=False, seen=seen)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        raise


class _LazySourceMap(SourceMap):
    """The source map of a document served from the cache: the file is parsed again only to find a line."""

    def __init__(self, path: Path | str) -> None:
        super().__init__("", 1)
        self._path = path
        self._real: SourceMap | None = None

    def line(self, loc: Loc) -> int:
        if self._real is None:
            try:
                self._real = parse_document(read_text(self._path)).source
            except (DocumentError, OSError):
                return 1
        return self._real.line(loc)


def load_project(root: Path, cache: StatCache | None = None) -> Project:
    """Read config, roles, tasks and handoffs under `root`; problems are collected in `diagnostics`."""
    layout = Layout(root)
    loader = _Loader(layout, cache or StatCache(None))
    config, config_entry = loader.config()
    broken_roles: set[str] = set()
    broken_tasks: dict[str, list[str]] = {}
    roles = loader.roles(broken_roles)
    tasks = loader.tasks(broken_tasks)
    handoffs = loader.handoffs()
    loader.runs_folder()
    return Project(
        layout=layout,
        config=config,
        config_entry=config_entry,
        roles=roles,
        tasks=tasks,
        handoffs=handoffs,
        diagnostics=loader.diagnostics,
        broken_tasks=broken_tasks,
        broken_roles=broken_roles,
    )


def load_some(
    base: Project, ids: list[str], task_files: set[str], handoff_files: set[str],
    seen: dict[str, os.stat_result] | None = None,
) -> Project:
    """The tasks and handoffs of `ids` only, with the config and roles of `base`: what the status index
    re-reads when some files changed (and what each process reads when many did). `seen` gets the stat of
    each file read, taken as it was read (by repo-relative path)."""
    layout = base.layout
    loader = _Loader(layout, StatCache(None))
    loader.seen = seen
    tasks: dict[str, Entry[Task]] = {}
    handoffs: dict[str, Entry[Handoff]] = {}
    broken: dict[str, list[str]] = {}
    for task_id in ids:
        if task_id in task_files:
            rel = f".agents/tasks/{task_id}.md"
            entry = loader.document(rel, Task)
            if entry is None:
                broken[task_id] = loader._raw_needs(f"{layout.root}{os.sep}{rel}")
            else:
                tasks[task_id] = entry
        handoff = loader.handoff(task_id) if task_id in handoff_files else None
        if handoff is not None:
            handoffs[task_id] = handoff
    return Project(
        layout=layout, config=base.config, config_entry=base.config_entry, roles=base.roles, tasks=tasks,
        handoffs=handoffs, diagnostics=[*base.diagnostics, *loader.diagnostics], broken_tasks=broken,
        broken_roles=base.broken_roles, task_ids=frozenset(task_files),
    )


def load_frame(root: Path) -> tuple[Project, list[str], list[str]]:
    """The config, the roles and the names of the task and handoff files, none of those files read: the
    frame into which `load_some` reads tasks and handoffs. Task files that cannot be tasks (a bad name,
    a folder) are in `broken_tasks` already."""
    layout = Layout(root)
    loader = _Loader(layout, StatCache(None))
    config, config_entry = loader.config()
    broken_roles: set[str] = set()
    roles = loader.roles(broken_roles)
    tasks: list[str] = []
    broken: dict[str, list[str]] = {}
    for name in loader.names(layout.tasks, "task"):
        if is_valid_id(name[:-3]):
            tasks.append(name[:-3])
        else:
            loader.invalid_id(layout.tasks / name)
            broken[name[:-3]] = []
    broken.update((p.stem, []) for p in loader.odd if p.parent == layout.tasks)
    handoffs = [name[:-3] for name in loader.names(layout.handoffs, "handoff")]
    frame = Project(layout=layout, config=config, config_entry=config_entry, roles=roles,
                    diagnostics=loader.diagnostics, broken_tasks=broken, broken_roles=broken_roles)
    return frame, tasks, handoffs
