"""Writing the convention's files for users: `agents init` (idempotent) and `agents new task|role`."""

from __future__ import annotations

from dataclasses import field
from pathlib import Path
from typing import Any


from agentfiles.core.claude_md import merge_block, render_block
from agentfiles.core.diagnostics import Diagnostic, Invalid
from agentfiles.core.project import Entry
from agentfiles.core.records import record
from agentfiles.core.schema import parse
from agentfiles.core.validation import PLACEHOLDER_INTENT, validate_project
from agentfiles.core.models import Role, Task
from agentfiles.core.paths import Layout, find_git_root, find_project_root, is_valid_id, require_directory
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.documents import dump_document
from agentfiles.storage.files import atomic_write
from agentfiles.storage.project import load_project
from agentfiles.storage.templates import template_names, template_text


@record
class InitResult:
    root: Path
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    git_initialised: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "root": str(self.root),
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "notes": self.notes,
            "git_initialised": self.git_initialised,
        }


def init_project(directory: Path, *, git: bool = False) -> InitResult:
    """Create the layout of CONVENTION.md section 1 at the git top level; a second run changes nothing."""
    require_directory(directory)
    root = find_git_root(directory)
    initialised = False
    if root is None:
        if not git:
            raise PreconditionError(
                f"not inside a git repository: {directory.resolve()}",
                hint="run `git init` first, or `agents init --git` to create the repository here",
            )
        from agentfiles.storage.git import init_repository

        root = init_repository(directory)
        initialised = True
    layout = Layout(root)
    result = InitResult(root=root, git_initialised=initialised)
    claude = _claude_md_plan(layout)  # checked before anything is written

    def ensure(path: Path, text: str) -> None:
        rel = layout.rel(path)
        if path.exists():
            result.unchanged.append(rel)
            return
        atomic_write(path, text)
        result.created.append(rel)

    ensure(layout.config, template_text("config.yaml"))
    ensure(layout.agents / ".gitignore", template_text("gitignore.txt"))
    for name in template_names("roles"):
        ensure(layout.roles / name, template_text(f"roles/{name}"))
    if not layout.tasks.exists():
        for name in template_names("tasks"):
            ensure(layout.tasks / name, template_text(f"tasks/{name}"))
    for folder in (layout.handoffs, layout.runs):
        if not folder.exists():
            ensure(folder / ".gitkeep", "")
    rel = layout.rel(layout.claude_md)
    if claude is None:
        result.unchanged.append(rel)
        result.notes.append(f"{rel} is a symbolic link; left as it is (add the agents block to its target if you want it)")
    else:
        existing, wanted = claude
        if wanted == existing:
            result.unchanged.append(rel)
        else:
            atomic_write(layout.claude_md, wanted)
            (result.created if existing is None else result.updated).append(rel)
    return result


def _claude_md_plan(layout: Layout) -> tuple[str | None, str] | None:
    """CLAUDE.md as it is and as it should be; None when it is a symlink (often to AGENTS.md), which
    init leaves alone rather than replace it with a copy."""
    path = layout.claude_md
    if path.is_symlink():
        return None
    existing: str | None = None
    if path.exists():
        if not path.is_file():
            raise PreconditionError(f"{layout.rel(path)} is not a regular file", hint="move it aside and run `agents init` again")
        try:
            existing = path.read_bytes().decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PreconditionError(
                f"{layout.rel(path)} is not UTF-8 text (byte {exc.start})",
                hint="convert it to UTF-8, then run `agents init` again; nothing was written",
            ) from None
    block = render_block(template_text("claude-block.md"), (layout.root / "AGENTS.md").exists())
    return existing, merge_block(existing, block, template_text("claude-md.md"))


# --------------------------------------------------------------------------------------------- new


def _check_new_id(kind: str, value: str, path: Path, layout: Layout) -> None:
    if not is_valid_id(value):
        raise UsageError(
            f"'{value}' is not a valid {kind} id",
            hint="use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit",
        )
    if path.exists():
        raise UsageError(
            f"{kind} '{value}' already exists: {layout.rel(path)}",
            hint=f"edit that file, or pick another {kind} id",
        )


def _validated(model: type[Task] | type[Role], meta: dict[str, Any], rel: str) -> None:
    try:
        parse(model, meta)
    except Invalid as exc:
        problems = exc.problems
        raise UsageError(
            f"{rel}: " + "; ".join(p.message for p in problems),
            hint="fix the flags; `agents new --help` lists them",
        ) from None


def _input_entry(value: str) -> Any:
    """`-i path` is a path or glob; `-i handoff:task` the handoff of a task."""
    kind, sep, rest = value.partition(":")
    if sep and kind.strip() == "handoff":
        return {"handoff": rest.strip()}
    return value


def new_task(
    directory: Path,
    task_id: str,
    *,
    title: str | None = None,
    role: str | None = None,
    inputs: list[str] | None = None,
    outputs: list[str] | None = None,
    needs: list[str] | None = None,
    acceptance: list[str] | None = None,
    checks: list[str] | None = None,
    command: str | None = None,
    verifier: str | list[str] | None = None,
    agree: str | None = None,
    samples: int | None = None,
    intent: str | None = None,
    foreach: str | None = None,
    budget: dict[str, Any] | None = None,
    retries: int | None = None,
    timeout: float | None = None,
) -> tuple[Path, list[Diagnostic]]:
    """Write `.agents/tasks/<id>.md` from flags, refusing anything `agents validate` would call an error
    in it (an existing or invalid id, unknown roles or needs, a cycle, an output another task owns...).
    Returns the path and the warnings about the new task."""
    layout = Layout(find_project_root(directory))
    path = layout.task_file(task_id)
    _check_new_id("task", task_id, path, layout)
    if not role and not command:
        raise UsageError(
            "a task needs a role (--role NAME) or a command (--command 'shell command')",
            hint="`agents roles` lists the roles",
        )
    if title is not None and not title.strip():
        raise UsageError("--title may not be empty", hint="say in one line what the step achieves")
    meta: dict[str, Any] = {"title": title or task_id.replace("-", " ").replace("_", " ").capitalize()}
    if foreach:
        meta["foreach"] = foreach
    if command:
        meta["executor"] = "command"
        meta["run"] = command
    if role:
        meta["role"] = role
    if needs:
        meta["needs"] = list(needs)
    meta["inputs"] = [_input_entry(i) for i in inputs or []]
    meta["outputs"] = list(outputs or [])
    criteria: list[Any] = list(acceptance or []) + [{"run": c} for c in checks or []]
    if criteria:
        meta["acceptance"] = criteria
    judges = [verifier] if isinstance(verifier, str) else list(verifier or [])
    if judges:
        meta["verifier"] = judges[0] if len(judges) == 1 else judges  # one role stays a name
    if agree is not None:
        meta["agree"] = agree
    if samples is not None and samples > 1:
        meta["samples"] = samples
    if retries is not None:
        meta["retries"] = retries
    limits = {key: value for key, value in (budget or {}).items() if value is not None}
    if limits:
        meta["budget"] = limits
    if timeout is not None:
        meta["timeout"] = int(timeout) if float(timeout).is_integer() else timeout
    rel = layout.rel(path)
    _validated(Task, meta, rel)
    body = template_text("task.md").replace(
        "{intent}", (intent or PLACEHOLDER_INTENT).strip()
    )
    project = load_project(layout.root)
    project.tasks[task_id] = Entry(model=parse(Task, meta), body=body, path=rel)
    found = [d for d in validate_project(project) if d.file == rel]
    errors = [d for d in found if d.severity == "error"]
    if errors:
        raise UsageError(
            "; ".join(d.message for d in errors),
            hint=errors[0].hint or "fix the flags; `agents new task --help` lists them",
        )
    atomic_write(path, dump_document(meta, body))
    return path, [d for d in found if d.severity == "warning"]


def new_role(
    directory: Path,
    name: str,
    *,
    description: str | None = None,
    model: str | None = None,
    labels: dict[str, str] | None = None,
    prompt: str | None = None,
) -> Path:
    """Write `.agents/roles/<name>.md` in Claude Code's subagent format."""
    layout = Layout(find_project_root(directory))
    path = layout.role_file(name)
    _check_new_id("role", name, path, layout)
    description = (description or f"The {name} of this project.").strip()
    meta: dict[str, Any] = {"name": name, "description": description}
    if model:
        meta["model"] = model
    meta["tools"] = "Read, Write"
    if labels:
        meta["agents"] = {"labels": dict(labels)}
    _validated(Role, meta, layout.rel(path))
    lowered = description[0].lower() + description[1:] if description else description
    if not lowered.endswith("."):
        lowered += "."
    body = prompt.strip() if prompt else template_text("role.md").replace("{description_lower}", lowered)
    atomic_write(path, dump_document(meta, body))
    return path

