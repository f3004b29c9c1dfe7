"""`agents route`: a proposal of what a step should read, packed within a token budget, and writing it
into a task's `inputs` (the task file's other lines, comments included, stay as they are)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentfiles.route.rank import Pick, Ranked, Weights, pack, rank

DEFAULT_BUDGET = 16000
MIN_SHARE = 0.1  # a file scoring under this share of the best file's score is not proposed


@dataclass
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


def propose(root: Path, intent: str, budget: int, outlines: bool = True, weights: Weights = Weights()) -> Proposal:
    import time

    from agentfiles.route.index import repo_docs, repo_history
    from agentfiles.storage.git import Git

    started = time.monotonic()
    git = Git(root)
    docs = repo_docs(root, git)
    history = repo_history(root, git)
    ranked = rank(docs, intent, history, weights)
    top = ranked[0].score if ranked else 0.0
    picks = pack([r for r in ranked if r.score >= MIN_SHARE * top], budget, outlines=outlines, wrapped=True)
    return Proposal(intent, budget, picks, ranked, round(time.monotonic() - started, 3))


def context_tokens(project: Any, task_id: str) -> tuple[int, int | None]:
    """The task's context as the runner would estimate it now, and its context budget."""
    from agentfiles.runner.agent import agent_plan
    from agentfiles.runner.step import resolve_step

    from agentfiles.storage.files import text_reader

    plan = agent_plan(project, resolve_step(project, task_id), text_reader(project.layout.root, missing_ok=True))
    return plan.tokens, plan.budget.context_tokens


def task_intent(project: Any, task_id: str) -> tuple[str, int | None]:
    """A task's intent as routing text (title and body), and the tokens its context budget leaves for
    path inputs once the rest of its context (prompt, CLAUDE.md, brief, handoffs) is counted."""
    from agentfiles.runner.agent import agent_plan
    from agentfiles.runner.step import ResolvedStep

    entry = project.tasks[task_id]
    task = entry.model
    text = f"{task.title}\n\n{entry.body}"
    if task.is_command:
        return text, None
    bare = task.model_copy(update={"inputs": [i for i in task.inputs if i.handoff is not None]})
    plan = agent_plan(project, ResolvedStep(task_id, task_id, None, bare, entry.body), lambda rel: "")
    if not plan.budget.context_tokens:
        return text, None
    return text, max(0, plan.budget.context_tokens - plan.tokens)


_TOP_KEY = re.compile(r"^[A-Za-z_][\w-]*\s*:")


def _yaml_path(path: str) -> str:
    return path if re.fullmatch(r"[\w][\w./-]*", path) else json.dumps(path)


def inputs_block(picks: list[Pick], handoffs: list[str]) -> list[str]:
    lines = ["inputs:"]
    for pick in picks:
        path = _yaml_path(pick.ranked.path)
        lines.append(f"  - {path}" if pick.view == "full" else f"  - {{path: {path}, view: outline}}")
    lines += [f"  - handoff: {h}" for h in handoffs]
    return lines if len(lines) > 1 else ["inputs: []"]


def rewrite_inputs(text: str, block: list[str]) -> str:
    """The task file's text with its `inputs:` replaced by `block` (added before `outputs:`, or at the end
    of the frontmatter, when it has none)."""
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise ValueError("the task file does not start with frontmatter")
    end = next((i for i in range(1, len(lines)) if lines[i].strip() == "---"), None)
    if end is None:
        raise ValueError("the task file's frontmatter is not closed")
    start = next((i for i in range(1, end) if re.match(r"^inputs\s*:", lines[i])), None)
    if start is None:
        at = next((i for i in range(1, end) if re.match(r"^outputs\s*:", lines[i])), end)
        return "\n".join(lines[:at] + block + lines[at:])
    stop = start + 1
    while stop < end and not _TOP_KEY.match(lines[stop]) and not lines[stop].startswith("#"):
        stop += 1
    comment = re.search(r"\s+#.*$", lines[start])
    if comment and re.match(r"^inputs\s*:\s*#", lines[start]):
        block = [block[0] + comment.group(0), *block[1:]]  # the key's own comment stays
    return "\n".join(lines[:start] + block + lines[stop:])


def write_proposal(directory: Path, task_id: str, proposal: Proposal) -> str:
    """Put the proposal into the task's `inputs` (handoff inputs kept); refused, with the file left as
    it was, if the result would not validate. Returns the task file's repository-relative path."""
    from agentfiles.errors import ConventionError
    from agentfiles.storage.files import atomic_write
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(directory)
    workspace.require_loaded()
    entry = workspace.project.tasks[task_id]
    path = workspace.layout.task_file(task_id)
    original = path.read_text(encoding="utf-8")
    handoffs = [i.handoff for i in entry.model.inputs if i.handoff is not None]
    rel = workspace.layout.rel(path)
    picks = list(proposal.picks)
    while True:
        atomic_write(path, rewrite_inputs(original, inputs_block(picks, handoffs)))
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
