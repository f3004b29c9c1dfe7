"""Checks beyond the schema: references between files, the dependency graph, outputs and paths. The
checks of roles and of declared paths are in core/role_checks.py and core/path_checks.py."""

from __future__ import annotations

import os

from agentfiles.core.checker import item_of
from agentfiles.core.diagnostics import Diagnostic
from agentfiles.core.fields import as_names
from agentfiles.core.fingerprint import expand_path_input
from agentfiles.core.globs import OutputSet, reserved
from agentfiles.core.graph import TaskGraph
from agentfiles.core.models import Task
from agentfiles.core.path_checks import PathChecks
from agentfiles.core.paths import has_glob
from agentfiles.core.project import Entry, Project
from agentfiles.core.role_checks import RoleChecks
from agentfiles.errors import ConventionError

# The intent `agents new task` writes when given none: a task still holding it was never finished.
PLACEHOLDER_INTENT = "What outcome is wanted, and why. Not the steps."


class _Checker(RoleChecks, PathChecks):
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
                           entry.line(*item_of("verifier", given, index)),
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
