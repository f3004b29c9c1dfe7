"""What the model sees (CONVENTION.md section 7), assembled deterministically: the role's prompt and the
context files as the system prompt, then one message: the inputs (full or outlined), the upstream
handoffs, and last the step's own text (intent, acceptance criteria, outputs to write). Identical inputs
give a byte-identical request.

The order is the prompt cache's: what steps of one role share comes first (tools, role prompt, context
files, then inputs several steps read), what only this step has comes last, and a cache breakpoint
closes the system prompt and the inputs, so consecutive steps of a role read the longest common prefix
from the cache. Long material before the question is also the order Anthropic advises for long context."""

from __future__ import annotations

import re
from dataclasses import field
from pathlib import Path
from typing import Any, Callable

from agentfiles.core.claude_imports import context_files
from agentfiles.core.outline import outline
from agentfiles.core.paths import has_glob
from agentfiles.core.records import record
from agentfiles.core.tokens import estimate_request, estimate_tokens

TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read the full text of one of this step's declared inputs (an outlined input's full "
        "text, within the step's budget). Any other path is refused.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Repository-relative path of a declared input."}},
            "required": ["path"],
        },
    },
    {
        "name": "write_file",
        "description": "Write the whole content of one of this step's declared outputs. Any other path is refused.",
        "input_schema": {
            "type": "object",
            "properties": {
                "path": {"type": "string", "description": "Repository-relative path of a declared output."},
                "content": {"type": "string", "description": "The complete new content of the file."},
            },
            "required": ["path", "content"],
        },
    },
    {
        "name": "finish",
        "description": "End the step once every declared output is written. The fields become the handoff "
        "the next steps read (markdown).",
        "input_schema": {
            "type": "object",
            "properties": {
                "summary": {"type": "string", "description": "What was done, in a few sentences."},
                "work_completed": {"type": "string"},
                "decisions": {"type": "string", "description": "Decisions made and why."},
                "open_questions": {"type": "string"},
                "next_steps": {"type": "string"},
            },
            "required": ["summary"],
        },
    },
]


@record
class Part:
    """One piece of the context, for budget reports: what it is and what it costs."""

    kind: str  # role | context | brief | input | outline | handoff
    label: str
    tokens: int


@record
class StepContext:
    system: list[str]  # role prompt, then context files
    brief: str  # the first user message, whole
    blocks: list[str] = field(default_factory=list)  # the same message as content blocks, when split
    cached_blocks: list[int] = field(default_factory=list)  # blocks that close a cache breakpoint
    parts: list[Part] = field(default_factory=list)
    full_inputs: dict[str, str] = field(default_factory=dict)  # path -> full text, for read_file
    outlined: list[str] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None  # the tools offered (default: the doer's three)

    def request(self, model: str, max_tokens: int, tools: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """The first request body: a cache breakpoint ends the stable prefix (tools + system). An empty
        list of tools (a discussion turn) sends none."""
        system = [{"type": "text", "text": text} for text in self.system if text]
        if system:
            system[-1]["cache_control"] = {"type": "ephemeral"}
        chosen = tools if tools is not None else (self.tools if self.tools is not None else TOOLS)
        content: list[dict[str, Any]] = [{"type": "text", "text": text} for text in self.blocks or [self.brief]]
        for index in self.cached_blocks:
            content[index]["cache_control"] = {"type": "ephemeral"}
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "system": system,
            "messages": [{"role": "user", "content": content}],
        }
        if chosen:
            body["tools"] = chosen
        body["stream"] = True
        return body

    def estimate(self) -> int:
        return estimate_request(self.request("m", 1))

    def largest(self, n: int = 5) -> list[Part]:
        return sorted(self.parts, key=lambda p: -p.tokens)[:n]


# ------------------------------------------------------------------------------------------ assembly

OWNED_SHOWN = 60  # files an output glob matches, named in the brief


def _outputs_list(brief: Brief) -> str:
    """The outputs as the brief lists them: each file, and each glob with the files it matches now."""
    from agentfiles.core.globs import matches

    lines = []
    for output in brief.outputs:
        if not has_glob(output):
            lines.append(f"- `{output}`")
            continue
        found = [f for f in brief.owned if matches(output, f)]
        shown = ", ".join(f"`{f}`" for f in found[:OWNED_SHOWN]) + (f" and {len(found) - OWNED_SHOWN} more"
                                                                     if len(found) > OWNED_SHOWN else "")
        now = f"; it matches now: {shown}" if found else "; it matches no file yet"
        lines.append(f"- `{output}`: files matching it may be created, changed or deleted{now}")
    return "\n".join(lines) or "- (none)"


def _tools_note(offered: list[str]) -> str:
    """How the doer's tools serve its outputs, for the tools it has."""
    if "edit_file" in offered and "write_file" in offered:
        text = "Write a file whole with `write_file`, or change part of one with `edit_file`"
    elif "edit_file" in offered:
        text = "Change files with `edit_file`"
    else:
        text = "Write each with `write_file`"
    if "delete_file" in offered:
        text += "; delete a file under an output glob with `delete_file`"
    text += "; no other path may be written."
    if "list_files" in offered or "search" in offered:
        text += " " + " and ".join(f"`{n}`" for n in ("list_files", "search") if n in offered) + \
            " look through the files you have."
    if "run" in offered:
        text += (" `run` runs a shell command (the tests, say) in a sandbox holding your inputs and your outputs as "
                 "written so far.")
    return text + " When every output is written, call `finish` with your handoff."


def _fenced(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`{3,}", text)), default=2)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}{'' if text.endswith(chr(10)) else chr(10)}{fence}"


@record
class Brief:
    """What a step is asked, before it becomes text."""

    step_id: str
    title: str
    intent: str
    criteria: list[str]
    checks: list[str]
    outputs: list[str]
    inputs: list[tuple[str, str]]  # (path, "full" | "outline") in declared order, globs expanded
    handoffs: list[tuple[str, str]]  # (task, body)
    shared: int = 0  # how many of the first inputs other steps of the role read too (a cache breakpoint after them)
    owned: list[str] = field(default_factory=list)  # the files its output globs match now


def assemble(
    root: Path,
    role_prompt: str,
    brief: Brief,
    read: Callable[[str], str],
    extra: list[tuple[str, str]] = (),  # type: ignore[assignment]
    purpose: str = "do",
    offered: list[str] | None = None,
) -> StepContext:
    """The step's context. `read(path)` returns an input's text as the step sees it; `extra` are
    further (heading, markdown) sections for the brief (a verdict to address, a review's reason).
    `purpose` is `do` (the doer, with the three tools), `claude-code` (the doer as a Claude Code
    session, with its own file tools in a folder holding the inputs) or `discuss` (a participant's
    turn in a discussion: the same brief, no tools, a position in plain text as the answer). `offered`
    names the doer's tools (core/tools.py) its brief explains; None: read_file and write_file."""
    parts: list[Part] = [Part("role", "role prompt", estimate_tokens(role_prompt))]
    declared = [p for p, _ in brief.inputs] + list(brief.outputs)
    files = context_files(root, declared)
    context_text = "\n\n".join(f"# Context file: {path}\n\n{text.strip()}" for path, text in files)
    for path, text in files:
        parts.append(Part("context", path, estimate_tokens(text)))
    intent = re.sub(r"\A\s*#{1,3}\s*Intent\s*\n", "", brief.intent).strip()
    sections = [f"# Step `{brief.step_id}`: {brief.title}", "## Intent", intent or "(none given)"]
    if brief.criteria or brief.checks:
        lines = [f"- {c}" for c in brief.criteria] + [f"- `{c}` must exit 0 (checked after you finish)" for c in brief.checks]
        sections += ["## Acceptance criteria", "\n".join(lines)]
    outputs = _outputs_list(brief)
    if purpose == "discuss":
        sections += [
            "## Outputs the moderator will write",
            outputs + "\n\nYou do not write files. Answer in plain text with your position: what the outputs "
            "should say or do, and why, given the intent, the criteria and the inputs.",
        ]
    elif purpose == "claude-code":
        sections += [
            "## Outputs to write",
            outputs + "\n\nWrite each file at its path, relative to the working folder, with your file tools; "
            "no other file may be written." + (" Where you have the Bash tool, it runs commands (the tests, say) "
            "in this folder, sandboxed; what they write outside the outputs is discarded." if "run" in (offered or [])
            else "") + " When every output is written, end with your handoff: a short "
            "summary, the decisions you made and why, open questions, and next steps.",
        ]
    else:
        sections += ["## Outputs to write", outputs + "\n\n" + _tools_note(offered or ["read_file", "write_file"])]
    full: dict[str, str] = {}
    outlined: list[str] = []
    shared: list[str] = []  # one block per input, then the handoffs: before the step's own text
    for path, view in brief.inputs:
        text = read(path)
        full[path] = text
        heading = "## Inputs\n\n" if not shared else ""
        if view == "outline":
            shown = outline(path, text)
            outlined.append(path)
            note = {"discuss": "outline", "claude-code": "outline; the full file is in the working folder"}.get(
                purpose, "outline; `read_file` gives the full text")
            shared.append(f"{heading}### `{path}` ({note})\n\n{_fenced(shown)}")
            parts.append(Part("outline", path, estimate_tokens(shown)))
        else:
            shared.append(f"{heading}### `{path}`\n\n{_fenced(text)}")
            parts.append(Part("input", path, estimate_tokens(text)))
    cached = [brief.shared - 1] if 0 < brief.shared < len(shared) else []
    if brief.handoffs:
        sections_h = ["## Handoffs from earlier steps"]
        for task, body in brief.handoffs:
            sections_h += [f"### {task}", body.strip()]
            parts.append(Part("handoff", task, estimate_tokens(body)))
        shared.append("\n\n".join(sections_h))
    if shared:
        cached.append(len(shared) - 1)  # a retry of the step shares all of this too
    for heading, text in extra:
        sections += [f"## {heading}", text.strip()]
        parts.append(Part("brief", heading, estimate_tokens(text)))
    own = "\n\n".join(sections) + "\n"
    parts.append(Part("brief", "intent, criteria and outputs", estimate_tokens(own) - sum(
        p.tokens for p in parts if p.kind == "brief")))
    blocks = [*shared, own]
    return StepContext(
        system=[role_prompt.strip(), context_text] if context_text else [role_prompt.strip()],
        brief="\n\n".join(blocks),
        blocks=blocks,
        cached_blocks=cached,
        parts=parts,
        full_inputs=full,
        outlined=outlined,
        tools=None if purpose == "do" else [],
    )


VERIFIER_TOOLS: list[dict[str, Any]] = [
    {
        "name": "read_file",
        "description": "Read the full text of one of the step's inputs or proposed outputs. Any other path is refused.",
        "input_schema": {
            "type": "object",
            "properties": {"path": {"type": "string", "description": "Repository-relative path."}},
            "required": ["path"],
        },
    },
    {
        "name": "verdict",
        "description": "Give your verdict: one check per acceptance criterion, in order. Ends the review.",
        "input_schema": {
            "type": "object",
            "properties": {
                "checks": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "criterion": {"type": "string", "description": "The criterion's text (or its number)."},
                            "verdict": {"type": "string", "enum": ["pass", "fail"]},
                            "evidence": {"type": "string", "description": "What in the outputs or inputs shows it."},
                        },
                        "required": ["criterion", "verdict", "evidence"],
                    },
                }
            },
            "required": ["checks"],
        },
    },
]


def unified_diff(before: str | None, after: str, fromfile: str, tofile: str) -> str:
    """A unified diff as git prints it, `\\ No newline at end of file` included."""
    import difflib

    def lines(text: str) -> list[str]:
        out = text.splitlines(keepends=True)
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n\\ No newline at end of file\n"
        return out

    return "".join(difflib.unified_diff(lines(before or ""), lines(after), fromfile=fromfile, tofile=tofile))


def assemble_verification(
    root: Path,
    verifier_prompt: str,
    brief: Brief,
    read: Callable[[str], str],
    proposed: dict[str, str],
    current: dict[str, str | None],
    handoff_body: str,
    deleted: list[str] = (),  # type: ignore[assignment]
) -> StepContext:
    """The verifier's clean context: the intent, the numbered criteria, the proposed outputs with their
    diff against the current files (and the files the step deleted), the inputs, and the doer's handoff;
    never the doer's conversation."""
    parts: list[Part] = [Part("role", "verifier prompt", estimate_tokens(verifier_prompt))]
    declared = [p for p, _ in brief.inputs] + list(brief.outputs)
    files = context_files(root, declared)
    context_text = "\n\n".join(f"# Context file: {path}\n\n{text.strip()}" for path, text in files)
    intent = re.sub(r"\A\s*#{1,3}\s*Intent\s*\n", "", brief.intent).strip()
    criteria = "\n".join(f"{n}. {c}" for n, c in enumerate(brief.criteria, 1))
    sections = [
        f"# Verify step `{brief.step_id}`: {brief.title}",
        "You did not do this work and you do not change it. Judge each acceptance criterion from the "
        "evidence in the proposed outputs and the inputs, then call `verdict` once with one check per "
        "criterion, in order: `pass` or `fail`, with the evidence (quote it or point to it).",
        "## Intent",
        intent or "(none given)",
        "## Acceptance criteria",
        criteria,
        "## Proposed outputs",
    ]
    readable: dict[str, str] = {}
    for path in brief.outputs:
        before = current.get(path)
        if path in deleted:
            sections += [f"### `{path}` (deleted)", "Diff against the current file:",
                         _fenced(unified_diff(before or "", "", f"a/{path}", "/dev/null"))]
            continue
        text = proposed.get(path, "")
        readable[path] = text
        label = "new file" if before is None else ("unchanged" if before == text else "changes the current file")
        sections += [f"### `{path}` ({label})", _fenced(text)]
        parts.append(Part("input", f"proposed {path}", estimate_tokens(text)))
        if before is not None and before != text:
            diff = unified_diff(before, text, f"a/{path}", f"b/{path}")
            sections += ["Diff against the current file:", _fenced(diff)]
            parts.append(Part("input", f"diff of {path}", estimate_tokens(diff)))
    if brief.inputs:
        sections.append("## Inputs")
        for path, view in brief.inputs:
            text = read(path)
            readable.setdefault(path, text)
            shown = outline(path, text) if view == "outline" else text
            sections += [f"### `{path}`" + (" (outline; `read_file` gives the full text)" if view == "outline" else ""),
                         _fenced(shown)]
            parts.append(Part("outline" if view == "outline" else "input", path, estimate_tokens(shown)))
    sections += ["## The doer's handoff", handoff_body.strip() or "(none)"]
    text = "\n\n".join(sections) + "\n"
    return StepContext(
        system=[verifier_prompt.strip(), context_text] if context_text else [verifier_prompt.strip()],
        brief=text,
        parts=parts,
        full_inputs=readable,
        outlined=[],
        tools=VERIFIER_TOOLS,
    )
