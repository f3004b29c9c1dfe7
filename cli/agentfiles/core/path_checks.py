"""The checks of the paths a task declares: its outputs (globs and folders included), its inputs, the
paths of each foreach item, and outputs that two tasks share."""

from __future__ import annotations

from agentfiles.core.checker import Checker, Where
from agentfiles.core.fingerprint import expand_path_input, glob_matches
from agentfiles.core.globs import FOLDER_GLOB, colliding, glob_base, overlap, reserved
from agentfiles.core.models import Task
from agentfiles.core.paths import AGENTS_DIR, Reach, check_repo_path, has_glob, normalize_repo_path
from agentfiles.core.project import Entry


class PathChecks(Checker):
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
