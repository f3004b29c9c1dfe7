"""`agents route`: a proposal of what a step should read, packed within a token budget, and writing it
into a task's `inputs` (the task file's other lines, comments included, stay as they are)."""

from __future__ import annotations

import json
import re
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.records import record
from agentfiles.route.rank import Pick, Ranked, pack, rank

DEFAULT_BUDGET = 16000
MIN_SHARE = 0.1  # a file scoring under this share of the best file's score is not proposed


@record
class Proposal:
    intent: str
    budget: int
    picks: list[Pick]
    ranked: list[Ranked] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def used(self) -> int:
        return sum(p.tokens for p in self.picks)

    def to_json(self, explain: bool = False) -> dict[str, Any]:
        files = []
        for pick in self.picks:
            item = {**pick.ranked.to_json(), "tokens": pick.tokens, "view": pick.view}
            if explain:
                item["signals"] = {k: round(v, 4) for k, v in pick.ranked.signals.items() if v}
            files.append(item)
        return {"intent": self.intent, "budget": self.budget, "used": self.used, "files": files}


def propose(root: Path, intent: str, budget: int, outlines: bool = True,
            covered: frozenset[str] | set[str] = frozenset()) -> Proposal:
    """The ranked files packed into `budget`. A file in `covered` (one an input the step keeps already
    gives it, say a kept `tests/**`) is ranked as any other but never packed: its tokens count once."""
    import time

    from agentfiles.route.index import dense_similarity, repo_docs, repo_history, tracked_files
    from agentfiles.storage.git import Git

    started = time.monotonic()
    git = Git(root)
    files = tracked_files(git)
    docs = repo_docs(root, git, files)
    history = repo_history(root, git)
    ranked = rank(docs, intent, history, dense=dense_similarity(root, docs, intent, files))
    top = ranked[0].score if ranked else 0.0
    picks = pack([r for r in ranked if r.score >= MIN_SHARE * top and r.path not in covered], budget,
                 outlines=outlines, wrapped=True)
    return Proposal(intent, budget, picks, ranked, round(time.monotonic() - started, 3))


def context_tokens(project: Any, task_id: str) -> tuple[int, int | None]:
    """The task's context as the runner would estimate it now, and its context budget."""
    from agentfiles.runner.agent import agent_plan
    from agentfiles.runner.resolve import resolve_step

    from agentfiles.storage.files import text_reader

    plan = agent_plan(project, resolve_step(project, task_id), text_reader(project.layout.root, missing_ok=True))
    return plan.tokens, plan.budget.context_tokens


def task_intent(project: Any, task_id: str, replace: bool = False) -> tuple[str, int | None, frozenset[str]]:
    """A task's intent as routing text (title and body); the tokens its context budget leaves for
    proposed inputs once the rest of its context (prompt, CLAUDE.md, brief, the inputs `--write` keeps)
    is counted; and the files those kept inputs already give the step (a kept glob's or folder's
    files), which a proposal should not name again."""
    from agentfiles.core.fingerprint import expand_path_input
    from agentfiles.runner.agent import agent_plan
    from agentfiles.runner.resolve import ResolvedStep
    from agentfiles.storage.files import text_reader

    entry = project.tasks[task_id]
    task = entry.model
    text = f"{task.title}\n\n{entry.body}"
    if task.is_command:
        return text, None, frozenset()
    kept, _ = kept_inputs(project, task_id, project.layout.task_file(task_id).read_text(encoding="utf-8"), replace)
    root = project.layout.root
    covered = frozenset(f for spec in kept if spec.path is not None for f in expand_path_input(root, str(spec.path)))
    bare = task.replace(inputs=kept)
    plan = agent_plan(project, ResolvedStep(task_id, task_id, None, bare, entry.body),
                      text_reader(project.layout.root, missing_ok=True))
    if not plan.budget.context_tokens:
        return text, None, covered
    return text, max(0, plan.budget.context_tokens - plan.tokens), covered


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")
ROUTED = "# routed"  # marks an input `--write` proposed: the next `--write` may replace it, never one declared by hand


def _yaml_path(path: str) -> str:
    return path if re.fullmatch(r"[\w][\w./-]*", path) else json.dumps(path)


def inputs_block(picks: list[Pick], kept: list[str]) -> list[str]:
    """The `inputs:` lines: the kept items as they were, then the proposal, each marked as routed."""
    lines = ["inputs:", *kept]
    for pick in picks:
        path = _yaml_path(pick.ranked.path)
        item = f"  - {path}" if pick.view == "full" else f"  - {{path: {path}, view: outline}}"
        lines.append(f"{item}  {ROUTED}")
    return lines if len(lines) > 1 else ["inputs: []"]


def _inputs_span(lines: list[str]) -> tuple[int | None, int, int]:
    """(first line of the `inputs:` key or None, the line after its value, the frontmatter's closing line)."""
    if not lines or lines[0].strip() != "---":
        raise ValueError("the task file does not start with frontmatter")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise ValueError("the task file's frontmatter is not closed")
    start = next((i for i in range(1, end) if re.match(r"^inputs\s*:", lines[i])), None)
    stop = start + 1 if start is not None else end
    while start is not None and stop < end and not _TOP_KEY.match(lines[stop]) and not lines[stop].startswith("#"):
        stop += 1
    return start, stop, end


def input_items(text: str) -> list[tuple[list[str], bool]] | None:
    """Each item of a block-style `inputs:` list as its lines, and whether `--write` proposed it; None
    when the list is not written one item per `- ` line (then every input counts as declared by hand)."""
    lines = text.split("\n")
    start, stop, _ = _inputs_span(lines)
    if start is None or lines[start].split("#", 1)[0].split(":", 1)[1].strip():
        return None  # no key, or a flow list on the key's line
    items: list[tuple[list[str], bool]] = []
    for line in lines[start + 1 : stop]:
        if re.match(r"^\s*- ", line):
            items.append(([line], False))
        elif items and line.strip():
            items[-1][0].append(line)
    out = []
    for item, _ in items:
        shift = 2 - (len(item[0]) - len(item[0].lstrip(" ")))  # one indent for the whole list, as the proposal's
        lines = [" " * shift + line if shift > 0 else line[-shift:] if line[: -shift].isspace() else line for line in item]
        out.append((lines, any(line.rstrip().endswith(ROUTED) for line in item)))
    return out


def rewrite_inputs(text: str, block: list[str]) -> str:
    """The task file's text with its `inputs:` replaced by `block` (added before `outputs:`, or at the end
    of the frontmatter, when it has none)."""
    lines = text.split("\n")
    start, stop, end = _inputs_span(lines)
    if start is None:
        at = next((i for i in range(1, end) if re.match(r"^outputs\s*:", lines[i])), end)
        return "\n".join(lines[:at] + block + lines[at:])
    comment = re.search(r"\s+#.*$", lines[start])
    if comment and re.match(r"^inputs\s*:\s*#", lines[start]):
        block = [block[0] + comment.group(0), *block[1:]]  # the key's own comment stays
    return "\n".join(lines[:start] + block + lines[stop:])


def kept_inputs(project: Any, task_id: str, text: str, replace: bool) -> tuple[list[Any], list[str]]:
    """The inputs `--write` keeps, as models and as item lines: handoffs, the outputs of the tasks it
    needs (whatever their origin), and, unless `replace`, every input not proposed by an earlier `--write`."""
    from agentfiles.core.graph import OutputIndex

    task = project.tasks[task_id].model
    needed = OutputIndex({n: project.tasks[n].model for n in task.needs if n in project.tasks})
    items = input_items(text)
    if items is not None and len(items) != len(task.inputs):
        items = None
    kept, lines = [], []
    for index, spec in enumerate(task.inputs):
        routed = items[index][1] if items is not None else False
        if spec.handoff is None and not needed.covering(str(spec.path)) and (replace or routed):
            continue
        kept.append(spec)
        if items is not None:
            lines += items[index][0]
        elif spec.handoff is not None:
            lines.append(f"  - handoff: {spec.handoff}")
        else:
            path = _yaml_path(str(spec.path))
            lines.append(f"  - {path}" if spec.view == "full" else f"  - {{path: {path}, view: outline}}")
    return kept, lines


def write_proposal(directory: Path, task_id: str, proposal: Proposal, replace: bool = False) -> str:
    """Put the proposal into the task's `inputs`, after the inputs it keeps (see kept_inputs); refused,
    with the file left as it was, if the result would not validate. Returns the task file's
    repository-relative path."""
    from agentfiles.errors import ConventionError
    from agentfiles.storage.files import atomic_write
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(directory)
    workspace.require_loaded()
    path = workspace.layout.task_file(task_id)
    original = path.read_text(encoding="utf-8")
    kept, kept_lines = kept_inputs(workspace.project, task_id, original, replace)
    rel = workspace.layout.rel(path)
    declared = {str(i.path) for i in kept if i.path is not None}
    picks = [p for p in proposal.picks if p.ranked.path not in declared]
    while True:
        atomic_write(path, rewrite_inputs(original, inputs_block(picks, kept_lines)))
        check = open_workspace(directory)
        try:
            check.require_loaded()
            from agentfiles.core.validation import validate_project

            errors = [d.message for d in validate_project(check.project) if d.severity == "error" and d.file == rel]
            tokens, limit = context_tokens(check.project, task_id) if not errors else (0, None)
        except ConventionError as exc:
            errors = [exc.diagnostics[0].message if exc.diagnostics else exc.message]
        if errors:
            atomic_write(path, original)
            raise ConventionError(
                f"the proposed inputs would make {rel} invalid: {errors[0]}",
                hint="the task file was left as it was; adjust it by hand",
            )
        if limit is None or tokens <= limit or not picks:
            break
        excess = tokens - limit  # the estimate of the whole context has the last word:
        while picks and excess > 0:  # drop the weakest files until what they cost covers the excess
            excess -= picks.pop().tokens
    proposal.picks = picks
    return rel
