"""Checks beyond the schema: references between files, the dependency graph, outputs and paths."""

from __future__ import annotations

import os
from typing import Any, Union

from agentfiles.core.diagnostics import Diagnostic
from agentfiles.core.fields import as_names
from agentfiles.core.fingerprint import expand_path_input, glob_matches
from agentfiles.core.globs import FOLDER_GLOB, OutputSet, colliding, glob_base, overlap, reserved
from agentfiles.core.graph import OutputIndex, TaskGraph
from agentfiles.core.models import Task
from agentfiles.core.paths import AGENTS_DIR, Reach, check_repo_path, has_glob, normalize_repo_path
from agentfiles.core.project import Entry, Project
from agentfiles.core.routing import RouteProblem, route_by_labels
from agentfiles.core.typos import did_you_mean
from agentfiles.errors import ConventionError

# The intent `agents new task` writes when given none: a task still holding it was never finished.
PLACEHOLDER_INTENT = "What outcome is wanted, and why. Not the steps."



# Where a problem is: a line, or the key path of the value (`("inputs", 2)`), looked up only when a
# problem is found (finding a line parses the file's YAML again: too slow to do for every value).
Where = Union[int, tuple, None]


def _line(entry: Entry[Any] | None, where: Where) -> int | None:
    if isinstance(where, tuple):
        return entry.line(*where) if entry is not None else None
    return where


def _item(key: str, value: object, index: int) -> tuple[str | int, ...]:
    """Where the `index`th name of a value that is a name or a list of names is: its item, or the key."""
    return (key, index) if isinstance(value, list) else (key,)


class _Checker:
    def __init__(self, project: Project, graph: TaskGraph, warnings: bool = True) -> None:
        self.project = project
        self.graph = graph
        self.warnings = warnings
        self.found: list[Diagnostic] = []
        self.known_tasks = set(project.tasks) | set(project.broken_tasks)
        self.known_roles = set(project.roles) | project.broken_roles
        self.outputs = OutputIndex({t: e.model for t, e in project.tasks.items()})

    def error(self, entry: Entry[Any] | None, line: Where, message: str, hint: str) -> None:
        self.found.append(Diagnostic("error", message, entry.path if entry else None, _line(entry, line), hint))

    def warning(self, entry: Entry[Any] | None, line: Where, message: str, hint: str) -> None:
        if self.warnings:
            self.found.append(Diagnostic("warning", message, entry.path if entry else None, _line(entry, line), hint))

    def unknown(self, kind: str, name: str, known: set[str], where: str = "") -> str:
        guess = did_you_mean(name, known)
        text = f"unknown {kind} '{name}'" + (f" {where}" if where else "")
        return text + (f" - did you mean '{guess}'?" if guess else "")

    # ------------------------------------------------------------------------------------------ roles

    def roles(self, task_id: str, entry: Entry[Task]) -> None:
        task = entry.model
        roles_hint = "see `agents roles` for the registry, or create one with `agents new role NAME`"
        judges = self.project.verifiers_of(task)
        if task.role and task.role not in self.known_roles:
            self.error(entry, ("role",), self.unknown("role", task.role, self.known_roles), roles_hint)
        for key, name in (("role", task.role), *(("verifier", j) for j in judges)):
            if name and name in self.project.broken_roles and name not in self.project.roles:
                verb, why, hint = self.project.role_problem(name)
                self.error(entry, (key,), f"role '{name}' {verb}, so this task cannot run" + (f": {why}" if why else ""),
                           hint or "fix the role file (`agents roles` says what is wrong with it)")
        for index, name in enumerate(task.verifiers):
            if name not in self.known_roles:
                self.error(entry, _item("verifier", task.verifier, index),
                           self.unknown("verifier role", name, self.known_roles), roles_hint)
        if task.role and task.role in judges:
            self.error(
                entry,
                ("verifier",) if task.verifier else ("role",),
                f"the verifier '{task.role}' is the doer's own role; the doer must not mark its own homework",
                "name a different role under `verifier:`",
            )
        self.consensus(entry, judges)
        if task.prose_criteria and task.verifier == []:
            self.error(entry, ("verifier",), "`verifier: []` names no judge, and the task has prose acceptance "
                       "criteria that only a verifier judges", "name a role, drop `verifier:` to use the config's "
                       "default, or move the sentences into the intent")
        elif task.prose_criteria and not judges and self.project.config_entry is not None:
            # Not when the config did not load: its default verifier is unknown, and its error says why.
            self.warning(
                entry,
                ("acceptance",),
                "prose acceptance criteria but no verifier to judge them",
                "set `verifier:` in the task, or a default `verifier:` in .agents/config.yaml",
            )
        for index, name in enumerate(task.participants):
            if name not in self.known_roles:
                self.error(
                    entry, ("participants", index,), self.unknown("participant role", name, self.known_roles),
                    roles_hint,
                )
        if task.select is not None and task.route == "labels":
            # The verifiers are never candidates: the doer must not be its own checker.
            roles = {name: e.model for name, e in self.project.roles.items() if name not in judges}
            decision = route_by_labels(task.select, roles)
            if isinstance(decision, RouteProblem):
                shown = ", ".join(f"{c.role} ({c.score:g})" for c in decision.candidates[:6]) or "no roles"
                self.error(
                    entry,
                    ("select",),
                    f"{decision.message}; candidates: {shown}",
                    "adjust the labels, give the task a `role:`, or set `route: model` to let a router decide",
                )

    def role_tools(self) -> None:
        """Each name of a role's `tools:` and `disallowedTools:` gives or takes a tool of a step: another is an
        error, or a warning in a role of .claude/agents/, which Claude Code owns (its other tools are
        Claude Code's to use, not agents')."""
        from agentfiles.core.tools import tool_names, tool_problem

        for entry in self.project.roles.values():
            claude_owned = entry.origin == ".claude/agents"
            report = self.warning if claude_owned else self.error
            for key in ("tools", "disallowedTools"):
                for name in tool_names(getattr(entry.model, key)):
                    problem = tool_problem(name, claude_owned, deny=key == "disallowedTools")
                    if problem:
                        report(entry, (key,), f"`{key}`: {problem[0]}", problem[1])

    def consensus(self, entry: Entry[Task], judges: list[str]) -> None:
        """A verifier panel and sampling: each judge once; `agree` and `compare: verifier` need what they
        decide between."""
        task = entry.model
        twice = sorted({j for j in judges if judges.count(j) > 1})
        if twice:
            self.error(entry, ("verifier",), f"the verifier panel names {', '.join(twice)} more than once",
                       "name each role once: a second vote of the same role in the same context adds nothing")
        if "agree" in task.fields_set and len(judges) < 2:
            self.warning(entry, ("agree",), "`agree` decides between the judges of a panel, and this step "
                         "has at most one verifier", "list several roles under `verifier:`, or drop `agree`")
        if len(judges) == 2 and task.agree == "majority":
            self.warning(entry, ("agree",), "a panel of two has no majority when its judges disagree: "
                         "`agree: majority` acts as `all`", "add a third judge, or say `agree: all`")
        if task.samples == 2:
            self.warning(entry, ("samples",), "two samples that disagree have no majority: any difference "
                         "leaves the step `uncertain`", "take `samples: 3` (or more) for a majority to decide")
        if task.compare == "verifier" and task.samples > 1 and not judges:
            self.error(entry, ("compare",), "`compare: verifier` asks a verifier which samples mean the "
                       "same, and this step has none", "set `verifier:` (with prose `acceptance:`), or `compare: bytes`")
        if task.compare == "verifier" and task.samples < 2:
            self.warning(entry, ("compare",), "`compare` applies to `samples`, and this step takes one",
                         "set `samples: 3` (or more), or drop `compare`")

    # ------------------------------------------------------------------------------------------ needs

    def needs(self, task_id: str, entry: Entry[Task]) -> None:
        task = entry.model
        for index, need in enumerate(task.needs):
            if need not in self.known_tasks:
                self.error(
                    entry,
                    ("needs", index,),
                    self.unknown("task", need, self.known_tasks, "in needs"),
                    "needs lists task ids: the names of files in .agents/tasks/ without .md",
                )
        for index, spec in enumerate(task.inputs):
            if spec.handoff is None:
                continue
            line = ("inputs", index,)
            if spec.handoff not in self.known_tasks:
                self.error(entry, line, self.unknown("task", spec.handoff, self.known_tasks, "in a handoff input"),
                           "`handoff:` names a task id: the name of a file in .agents/tasks/ without .md")
            elif spec.handoff in self.project.tasks and not self._requires(task_id, spec.handoff):
                self.warning(
                    entry,
                    line,
                    f"reads the handoff of '{spec.handoff}' without needing it: a race",
                    f"add '{spec.handoff}' to needs",
                )

        self._reads_what_it_needs(entry)

    def _reads_what_it_needs(self, entry: Entry[Task]) -> None:
        """A needed task's outputs are what the step waits for: reading none of them usually means an input
        was lost (a hand edit, an old `route --write`)."""
        task = entry.model
        read = {owner for spec in task.inputs if spec.path for _, owner in self._covering(spec.path)}
        for index, need in enumerate(task.needs):
            needed = self.project.tasks.get(need)
            outputs = [p for p in needed.model.outputs if "{item}" not in p] if needed else []
            if outputs and need not in read:
                shown = ", ".join(outputs[:3]) + (", ..." if len(outputs) > 3 else "")
                self.warning(entry, ("needs", index,), f"needs '{need}' but reads none of its outputs ({shown})",
                             "add the output it works from to `inputs`, or drop the need if it is only about order")

    def _requires(self, task_id: str, other: str) -> bool:
        return other == task_id or self.graph.requires(task_id, other)

    def cycles(self) -> None:
        graph = self.graph
        if self.project.broken_tasks:
            # A task that failed its schema still declares needs: a cycle through it is still a cycle.
            needs = {t: e.model.needs for t, e in self.project.tasks.items()}
            needs.update(self.project.broken_tasks)
            graph = TaskGraph.from_needs(needs)
        for cycle in graph.cycles():
            entry = self.project.tasks.get(cycle[0])
            file = entry.path if entry else self.project.layout.rel(self.project.layout.task_file(cycle[0]))
            self.found.append(
                Diagnostic(
                    "error",
                    "dependency cycle: " + " -> ".join(cycle),
                    file,
                    entry.line("needs") if entry else None,
                    "remove one of these needs so the tasks can run in order",
                )
            )

    # ------------------------------------------------------------------------------------------ paths

    def paths(self, task_id: str, entry: Entry[Task]) -> None:
        task = entry.model
        reach = Reach(self.project.layout.root)
        for index, path in enumerate(task.outputs):
            line = ("outputs", index,)
            if path == AGENTS_DIR or path.startswith(AGENTS_DIR + "/") or (has_glob(path) and overlap(path, AGENTS_DIR + "/**")):
                self.error(entry, line, f"output '{path}' is inside {AGENTS_DIR}/, which the runner owns",
                           "write outputs elsewhere; the runner writes the handoff and the run record itself")
            elif has_glob(path):
                self._output_glob(task_id, entry, path, line, reach)
            elif "{item}" not in path and (why := reach.problem(path, output=True)):
                self.error(entry, line, f"output '{path}' {why}",
                           "outputs must stay inside the repository, and are written where declared: no symlinks")
            elif "{item}" not in path and (self.project.layout.root / path).is_dir():
                self.error(entry, line, f"output '{path}' is a folder; an output is a file, a glob or a folder "
                           "written with a trailing slash", f"write `{path}/` to let the step change every file "
                           f"under it, or list the files it writes, e.g. {path}/report.md")
            if "{item}" in path and not task.foreach:
                self.error(entry, line, f"output '{path}' uses {{item}} but the task has no `foreach`",
                           "add `foreach: <glob>`, or write the path out")
        if len(set(task.outputs)) != len(task.outputs):
            self.warning(entry, ("outputs",), "an output is listed twice", "remove the repeated entry")
        for index, spec in enumerate(task.inputs):
            if spec.path is not None:
                self._input_path(task_id, entry, spec.path, ("inputs", index,), reach)
        if task.foreach:
            self._foreach(entry, reach)

    def _output_glob(self, task_id: str, entry: Entry[Task], pattern: str, line: Where, reach: Reach) -> None:
        """An output glob may not reach the files that define the step (its task file is under .agents/,
        refused above; its role's file may be under .claude/agents/), and its literal folders are
        written where declared: no symlink on the way."""
        base = glob_base(pattern)
        why = reach.problem(base, output=True) if base and "{item}" not in base else None
        if why:
            self.error(entry, line, f"output '{pattern}': its folder '{base}' {why}",
                       "outputs must stay inside the repository, and are written where declared: no symlinks")
        if "{item}" not in pattern and not pattern.endswith("/" + FOLDER_GLOB):
            root = self.project.layout.root
            folders = sorted(rel for rel in glob_matches(root, pattern) if (root / rel).is_dir())
            if folders:
                self.warning(entry, line, f"output '{pattern}' matches the folder{'s' * (len(folders) > 1)} "
                             f"{', '.join(folders[:3])}, and names only the files it matches itself",
                             f"write `{pattern}/` to let the step change every file under the folders it matches")
        if "{item}" not in pattern:
            linked = [(rel, why) for rel in expand_path_input(self.project.layout.root, pattern)
                      if (why := reach.problem(rel, output=True))]
            for rel, why in linked[:3]:
                self.error(entry, line, f"output '{pattern}' matches {rel}, which {why}",
                           "a step may change only files that are where they are declared: replace the link with "
                           "the file, or narrow the glob")
            if len(linked) > 3:
                self.error(entry, line, f"output '{pattern}' also matches {len(linked) - 3} more such files",
                           "replace the links with the files, or narrow the glob")
        role = self.project.roles.get(entry.model.role or "")
        own = [self.project.layout.rel(self.project.layout.task_file(task_id))] + ([role.path] if role else [])
        for path in own:
            if overlap(pattern, path):
                self.error(entry, line, f"output '{pattern}' matches {path}, which defines this step",
                           "narrow the glob so that the step cannot rewrite its own task or role")

    def _covering(self, path: str) -> list[tuple[str, str]]:
        """Other tasks' outputs an input covers; a file of the repository has nothing under it."""
        return self.outputs.covering(path, folder=has_glob(path) or not (self.project.layout.root / path).is_file())

    def _input_path(self, task_id: str, entry: Entry[Task], path: str, line: Where, reach: Reach) -> None:
        task = entry.model
        outside = "a step reads only the repository: copy what it needs into the repository, and declare that"
        inside_git = "a step may not read git's own files or agents' internals: remove the input (or the link)"
        if "{item}" in path:
            if not task.foreach:
                self.error(entry, line, f"input '{path}' uses {{item}} but the task has no `foreach`",
                           "add `foreach: <glob>`, or write the path out")
            return
        if path == ".":
            self.error(entry, line, "input '.' is the whole repository, .agents/ and the step's own outputs "
                       "included", "declare the folders or globs the step reads, e.g. src/ or docs/*.md")
            return
        why = None if has_glob(path) else reach.problem(path)
        if why:
            hint = (outside if "leaves" in why else inside_git) if "symlink" in why else \
                "rename the file, or declare the folder or a glob that holds it"
            self.error(entry, line, f"input '{path}' {why}", hint)
            return
        producers = self._covering(path)
        for produced, owner in producers:
            if owner != task_id and not self._requires(task_id, owner):
                self.warning(
                    entry,
                    line,
                    f"reads '{produced}', an output of '{owner}', without needing '{owner}': a race",
                    f"add '{owner}' to needs",
                )
        if not producers:
            refused: list[tuple[str, str]] = []
            files = expand_path_input(self.project.layout.root, path, refused)
            for rel, why in refused[:3]:
                self.error(entry, line, f"input '{rel}' {why}", outside)
            if len(refused) > 3:  # a glob through a link into .git would name every file there
                self.error(entry, line, f"input '{path}' also matches {len(refused) - 3} more files out of reach",
                           outside)
            if not files and not refused:
                self.warning(
                    entry,
                    line,
                    f"input '{path}' matches no file, and no task declares it as an output",
                    "check the path, or add the task that produces it to the pipeline",
                )

    def _foreach(self, entry: Entry[Task], reach: Reach) -> None:
        """Each item's paths, once its placeholders are filled in, pass the checks a declared path does;
        the placeholders of a command are in a form that stays one word whatever the item's name."""
        from agentfiles.core.foreach import item_paths, items_of, substitute, unsafe_placeholder

        task = entry.model
        line = ("foreach",)
        rename = "rename the file, or narrow the `foreach` glob so that it does not match it"
        refused: list[tuple[str, str]] = []
        items = items_of(self.project.layout.root, task.foreach or "", refused)
        for rel, why in refused:
            self.error(entry, line, f"foreach item '{rel}' {why}", rename)
        writers: dict[str, str] = {}
        named: list[tuple[str, str]] = []
        for item in items:
            for path in {substitute(p, item) for p in task.outputs}:
                if writers.setdefault(path, item) != item:
                    self.error(entry, line, f"foreach items '{writers[path]}' and '{item}' both write '{path}'",
                               "put {stem}, {name} or {item} in each output path, so that every item writes "
                               "files of its own")
                named.append((item, path))
            for kind, path in item_paths(task, item):
                problem = check_repo_path(path)
                if problem is None and not has_glob(path):
                    reached = reach.problem(normalize_repo_path(path), output=kind == "output")
                    problem = f"path '{path}' {reached}" if reached else None
                if problem:
                    self.error(entry, line, f"foreach item '{item}' gives the {kind} {problem}", rename)
        collisions = colliding(named)
        for (item, path), (other, other_path) in collisions[:3]:
            self.error(entry, line, f"foreach items '{item}' and '{other}' write '{path}' and '{other_path}', "
                       "which can name the same file", "make each item's outputs its own: put {stem}, {name} or "
                       "{item} where another item's cannot match it (`out/{stem}/**`, not `out/{stem}*.md`)")
        if len(collisions) > 3:
            self.error(entry, line, f"{len(collisions) - 3} more pairs of foreach items write outputs that can "
                       "name the same file", "make each item's outputs its own")
        for key, command in [("run", task.run), *(("acceptance", c.run) for c in task.acceptance)]:
            unsafe = unsafe_placeholder(command) if command else None
            if unsafe:
                again = "parses it as a command again" in unsafe
                self.error(entry, (key,), unsafe,
                           "read the item from the environment instead: `sh -c 'wc -c \"$AGENTS_ITEM\"'`" if again
                           else "write {item}, {name} and {stem} as plain words or inside quotes, before any $(...)")

    def shared_outputs(self) -> None:
        """Each file has one owner: no two tasks declare outputs (files, globs, folders) that can name the
        same file, or a file inside another's. Each task of such a pair has the error, so that running
        either one alone is refused too."""
        owners = self.outputs.owners
        one = "each file has one owner; let one task write it and the other read it"
        for path in owners:
            if has_glob(path):
                continue
            parts = path.split("/")
            for depth in range(1, len(parts)):
                folder = "/".join(parts[:depth])
                for outer in owners.get(folder, []):
                    for inner in owners[path]:
                        self._shared(path, inner, f"is inside '{folder}', an output of '{outer}'",
                                     "an output is a file; give each file one owner")
                        self._shared(folder, outer, f"is a file, and '{path}', an output of '{inner}', is inside it",
                                     "an output is a file; give each file one owner")
        for path, found in owners.items():
            for owner in found if len(found) > 1 else []:
                others = ", ".join(f"'{t}'" for t in found if t != owner)
                self._shared(path, owner, f"is also declared by task{'s' * (len(found) > 2)} {others}", one)
        narrow = "narrow the globs so that no file matches both: each file has one owner"
        for pattern in self.outputs.globs:
            base = glob_base(pattern)
            for other in owners:
                if other == pattern or not (other.startswith(base) or base.startswith(glob_base(other))):
                    continue
                if not has_glob(other) and reserved(other):
                    continue  # CLAUDE.md listed by one task: no glob of another names it
                if has_glob(other) and other < pattern:
                    continue  # each pair of globs once
                mine, theirs = [t for t in owners[pattern] if t not in owners[other]], owners[other]
                if mine and theirs and overlap(pattern, other):
                    self._shared(pattern, mine[0], f"can name the same files as '{other}', an output of '{theirs[0]}'",
                                 narrow)
                    self._shared(other, theirs[0], f"can name the same files as '{pattern}', an output of '{mine[0]}'",
                                 narrow)

    def _shared(self, path: str, owner: str, what: str, hint: str) -> None:
        entry = self.project.tasks[owner]
        self.error(entry, ("outputs", entry.model.outputs.index(path),), f"output '{path}' {what}", hint)

    def context_inputs(self, entry: Entry[Task]) -> None:
        """A model step gets CLAUDE.md and its @imports in its system prompt: declared as an input too, the
        same text is sent twice (and counted twice against the budget)."""
        from agentfiles.core.claude_imports import context_files

        task = entry.model
        if task.is_command:
            return  # a command reads what it declares; it has no system prompt
        root = self.project.layout.root
        expanded = [(index, spec.path, expand_path_input(root, spec.path)) for index, spec in enumerate(task.inputs)
                    if spec.path and "{item}" not in spec.path and spec.path != "."]
        declared = [f for _, _, files in expanded for f in files] + [o for o in task.outputs if "{item}" not in o]
        try:
            context = {path for path, _ in context_files(root, declared)}
        except ConventionError:
            return  # a cycle or too deep imports: reported once, by context_files() below
        for index, pattern, files in expanded:
            twice = [f for f in files if f in context]
            if twice:
                named = f"'{pattern}'" if twice == [pattern] else f"'{pattern}' ({', '.join(twice[:3])})"
                self.warning(entry, ("inputs", index,),
                             f"input {named} is a context file, already in this step's system prompt: "
                             "declaring it sends it twice",
                             "remove it from `inputs`; the step and its verifier see it anyway")

    def unfinished(self, entry: Entry[Task]) -> None:
        """What `agents new task` leaves for a person to fill in, and steps whose work nothing checks or keeps."""
        task = entry.model
        if PLACEHOLDER_INTENT in entry.body:
            self.warning(entry, None, "the intent is still the placeholder `agents new task` wrote",
                         "say in the task's body what outcome is wanted, and why (the step is given this text)")
        if not task.is_command and not task.acceptance:
            self.warning(entry, None, "a model step with no acceptance criteria: nothing verifies its work",
                         "add `acceptance:` sentences for a verifier to judge, or `run:` checks that must exit 0")
        if task.is_command and not task.outputs:
            self.warning(entry, ("run",), "a command step with no outputs: nothing it writes is kept "
                         "(writing any file fails it)", "list the files its command writes under `outputs:`")
        if task.retries and not (task.prose_criteria and self.project.verifiers_of(task)):
            self.warning(entry, ("retries",), f"`retries: {task.retries}` re-runs a step its verifier rejects, "
                         "and this step has no verifier", "add prose `acceptance:` criteria for a verifier to judge, "
                         "or drop `retries`")

    def handoffs(self) -> None:
        from agentfiles.core.foreach import family_of

        for task_id, handoff in self.project.handoffs.items():
            if family_of(task_id) not in self.known_tasks:  # a foreach item's handoff is its task's
                self.found.append(
                    Diagnostic(
                        "warning",
                        f"handoff of unknown task '{task_id}'",
                        handoff.path,
                        1,
                        "delete it if the task was removed on purpose",
                    )
                )

    def context_files(self) -> None:
        """CLAUDE.md @imports every model step will follow: cycles and depth are errors now, not at run time;
        a context file or import that is not read (outside the repository, in .git) is a warning."""
        from agentfiles.core.claude_imports import context_files

        tasks = [e.model for e in self.project.tasks.values()]
        declared = sorted({p for t in tasks for p in t.outputs} | {i.path for t in tasks for i in t.inputs
                                                                   if i.path and not has_glob(i.path)})
        refused: list[tuple[str, str, str]] = []
        try:
            read = context_files(self.project.layout.root, declared, refused)
        except ConventionError as exc:
            read = []
            self.found.append(Diagnostic("error", exc.message, exc.file, exc.line, exc.hint))
        self.instructions_in_globs([rel for rel, _ in read])
        for file, target, why in refused:
            what = f"{file} is not read: it {why}" if file == target else f"{file} imports '{target}', which is not read: {why}"
            self.found.append(Diagnostic("warning", what, file, None,
                                         "context files and their @imports must be files of the repository"))

    def instructions_in_globs(self, context: list[str]) -> None:
        """An output glob or folder that can write a file every step reads as instructions, which no glob
        reaches by name (CLAUDE.md's @imports, the file a CLAUDE.md symlink leads to): a warning on the task,
        unless it names the file as an output (then it means to write it)."""
        root = self.project.layout.root
        files = {rel for rel in context if not reserved(rel)}
        for rel in [r for r in context if reserved(r)]:
            real = os.path.realpath(root / rel)
            inside = os.path.relpath(real, root).replace(os.sep, "/")
            if inside != rel and not inside.startswith("../") and not reserved(inside):
                files.add(inside)
        if not files:
            return
        for entry in self.project.tasks.values():
            owned = OutputSet(entry.model.outputs)
            for rel in sorted(f for f in files if f not in owned.exact and owned.in_globs(f)):
                self.warning(entry, ("outputs",), f"an output glob can write {rel}, which every step reads as "
                             "instructions (CLAUDE.md imports it, or links to it)",
                             f"narrow the glob so it leaves {rel} out, or list {rel} as an output if this step is meant "
                             "to change it")

    def runner_folders(self) -> None:
        """The folders the runner writes into are folders of the repository, never symlinks (a cloned
        repository could point `.agents/handoffs` into `.git/hooks`)."""
        layout = self.project.layout
        for folder in (layout.agents, layout.handoffs, layout.runs, layout.cache, layout.agents / "tmp"):
            if folder.is_symlink():
                rel = layout.rel(folder)
                self.found.append(Diagnostic("error", f"{rel} is a symlink; agents writes into it", rel, None,
                                             f"replace the link with a folder: `rm {rel} && mkdir {rel}`"))

    def config(self) -> None:
        from agentfiles.core.paths import TOOLCHAIN_HINT, toolchain_problem

        entry = self.project.config_entry
        for index, path in enumerate(self.project.config.toolchain):
            refused = toolchain_problem(self.project.layout.root, path)
            if refused and entry is not None:
                self.error(entry, ("toolchain", index),  # type: ignore[arg-type]
                           f"toolchain path {path!r} leads to {refused[0]}, which would show steps {refused[1]}",
                           TOOLCHAIN_HINT)
        if self.warnings:
            self.found.extend(self.project.limits_for_no_model())
        given = self.project.config.verifier
        for index, verifier in enumerate(as_names(given)):
            if entry is None or verifier in self.known_roles:
                continue
            self.found.append(
                Diagnostic("error", self.unknown("verifier role", verifier, self.known_roles), entry.path,
                           entry.line(*_item("verifier", given, index)),
                           "`verifier:` names a role of .agents/roles/ or .claude/agents/ (`agents roles`)")
            )


def validate_project(project: Project, graph: TaskGraph | None = None, warnings: bool = True) -> list[Diagnostic]:
    """All problems of the project, schema and semantic, sorted by file and line; without `warnings`,
    only what stops a run (and none of the cost of locating warnings)."""
    graph = graph or TaskGraph.build({t: e.model for t, e in project.tasks.items()})
    checker = _Checker(project, graph, warnings)
    checker.runner_folders()
    checker.config()
    checker.context_files()
    checker.role_tools()
    for task_id, entry in project.tasks.items():
        checker.roles(task_id, entry)
        checker.needs(task_id, entry)
        checker.paths(task_id, entry)
        checker.context_inputs(entry)
        checker.unfinished(entry)
    checker.cycles()
    checker.shared_outputs()
    checker.handoffs()
    return sorted([*project.diagnostics, *checker.found], key=lambda d: (d.severity != "error", *d.sort_key()))


def scoped_to(project: Project, targets: list[str], found: list[Diagnostic]) -> list[Diagnostic]:
    """The problems that concern running `targets`: those of their files, of every task they need, of
    the roles they use, and every problem outside task, role and handoff files (config, CLAUDE.md)."""
    from agentfiles.core.foreach import family_of

    needs = {t: e.model.needs for t, e in project.tasks.items()}
    needs.update(project.broken_tasks)
    closure: set[str] = set()
    stack = [family_of(t) for t in targets]
    while stack:
        task_id = stack.pop()
        if task_id not in closure:
            closure.add(task_id)
            stack.extend(n for n in needs.get(task_id, []) if n in needs)
    layout = project.layout
    files: set[str] = set()
    for task_id in closure:
        files.add(layout.rel(layout.task_file(task_id)))
        files.add(layout.rel(layout.handoff_file(task_id)))
        entry = project.tasks.get(task_id)
        if entry is None:
            continue
        task = entry.model
        for name in (task.role, *project.verifiers_of(task), *task.participants):
            if name:
                files.update((layout.rel(layout.role_file(name)), f".claude/agents/{name}.md"))
    folders = (".agents/tasks/", ".agents/handoffs/", ".agents/roles/", ".claude/agents/")
    return [d for d in found if not (d.file or "").startswith(folders) or d.file in files]
