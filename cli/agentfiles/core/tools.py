"""The doer's tools: which a role allows (its `tools:` field, in our names or Claude Code's, which
core/tool_names.py knows), what they map to in Claude Code, their schemas and limits, and what a `run` call
gives back. How each call is carried out on the step's folder is core/tool_calls.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from agentfiles.core.context import TOOLS
from agentfiles.core.globs import OutputSet
from agentfiles.core.records import record
from agentfiles.core.tool_names import ALL, AS_CLAUDE, narrowed, ours, tool_names

RUN_TIMEOUT_S = 120.0  # a `run` call without a timeout of its own
RUN_TIMEOUT_MAX_S = 600.0
RUN_OUTPUT_CAP = 12_000  # characters of a command's output given back: its start and its end
LIST_CAP = 500
SEARCH_CAP = 100
SEARCH_FILE_CAP = 1 << 20  # larger files are not searched
LINE_CAP = 240


def offered_tools(role_tools: str | list[str] | None, outputs: list[str],
                  disallowed: str | list[str] | None = None) -> list[str]:
    """Our tools a step is given: what its role's `tools:` allows (all of them without one, as Claude Code
    gives a subagent all its tools) less what its `disallowedTools:` names, writing only with outputs,
    deleting only with output globs."""
    if role_tools is None:
        allowed = set(ALL)
    else:
        allowed = {"read_file"}  # a step reads its declared inputs, whatever else it may do
        for name in tool_names(role_tools):
            allowed.update(ours(name))
    for name in tool_names(disallowed):  # a narrowed denial (Bash(rm:*)) takes the whole tool: none can be kept
        allowed -= set(ours(narrowed(name) or name)) - {"read_file"}
    owned = OutputSet(outputs)
    if not owned:
        allowed -= {"write_file", "edit_file", "delete_file"}
    if not owned.has_globs:
        allowed.discard("delete_file")
    return [name for name in ALL if name in allowed]


def claude_tools(offered: list[str], shell: bool) -> list[str]:
    """Claude Code's tools for what a step is offered (Bash only where its shell is confined, and only when
    the role gives a shell: `delete_file` alone does not bring it, so without it Claude Code cannot delete)."""
    return [AS_CLAUDE[n] for n in offered if n in AS_CLAUDE and (n != "run" or shell)]


def _path_property(what: str) -> dict[str, Any]:
    return {"type": "string", "description": f"Repository-relative path of {what}."}


_SCHEMAS: dict[str, dict[str, Any]] = {tool["name"]: tool for tool in TOOLS}
_SCHEMAS.update({
    "read_file": {
        "name": "read_file",
        "description": "Read the full text of one of this step's declared inputs (an outlined input's full text, "
        "within the step's budget), or of a file its outputs name as it is now. Any other path is refused.",
        "input_schema": {"type": "object", "properties": {"path": _path_property("a declared input or output")},
                         "required": ["path"]},
    },
    "edit_file": {
        "name": "edit_file",
        "description": "Change part of a file the step's outputs name: replace `old_string`, which must occur "
        "exactly once (give enough surrounding lines), with `new_string`; `replace_all` replaces every "
        "occurrence. Fails, saying why, when the text is not found or not unique.",
        "input_schema": {"type": "object", "properties": {
            "path": _path_property("a file the step's outputs name"),
            "old_string": {"type": "string", "description": "The exact text to replace, indentation included."},
            "new_string": {"type": "string", "description": "The text to put in its place."},
            "replace_all": {"type": "boolean", "description": "Replace every occurrence (default false)."},
        }, "required": ["path", "old_string", "new_string"]},
    },
    "delete_file": {
        "name": "delete_file",
        "description": "Delete a file that one of the step's output globs or folders names.",
        "input_schema": {"type": "object", "properties": {"path": _path_property("a file under an output glob")},
                         "required": ["path"]},
    },
    "list_files": {
        "name": "list_files",
        "description": "List the files this step has (its inputs, and the files its outputs name as they are now), "
        "with their sizes; `pattern` is a glob such as `src/**/*.py`.",
        "input_schema": {"type": "object", "properties": {
            "pattern": {"type": "string", "description": "A glob of repository-relative paths (default: every file)."}}},
    },
    "search": {
        "name": "search",
        "description": f"Search this step's files for a regular expression (Python syntax); gives `path:line: text` "
        f"for each matching line, at most {SEARCH_CAP}.",
        "input_schema": {"type": "object", "properties": {
            "pattern": {"type": "string", "description": "A regular expression."},
            "glob": {"type": "string", "description": "Only files matching this glob, e.g. `src/**/*.py`."},
            "ignore_case": {"type": "boolean"},
        }, "required": ["pattern"]},
    },
    "run": {
        "name": "run",
        "description": "Run a shell command (/bin/sh) in a sandbox holding this step's inputs and outputs as written "
        "so far, e.g. its tests: no network unless the task allows it, nothing else of the machine. Files it "
        "changes that the step's outputs name are kept; anything else it writes is discarded. Gives the exit "
        f"code and the output (its start and end, {RUN_OUTPUT_CAP} characters at most).",
        "input_schema": {"type": "object", "properties": {
            "command": {"type": "string", "description": "The shell command, run from the repository's root."},
            "timeout": {"type": "number", "description": f"Seconds before it is stopped (default {RUN_TIMEOUT_S:g}, "
                        f"at most {RUN_TIMEOUT_MAX_S:g}, never past the step's own timeout)."},
        }, "required": ["command"]},
    },
})


def tool_schemas(offered: list[str]) -> list[dict[str, Any]]:
    """The tools a doer is sent, in a fixed order, ending with `finish`."""
    return [_SCHEMAS[name] for name in offered] + [_SCHEMAS["finish"]]


@record
class RunResult:
    """How one `run` call went."""

    exit_code: int | None
    output: str  # stdout and stderr together, as the command wrote them
    seconds: float
    timed_out: bool = False
    discarded: list[str] = field(default_factory=list)  # files it wrote outside the step's outputs, removed


Shell = Callable[[str, float], RunResult]  # (command, timeout in seconds)


def capped(text: str, cap: int = RUN_OUTPUT_CAP) -> str:
    """`text`, or its start and its end with what was cut in between said."""
    if len(text) <= cap:
        return text
    head, tail = cap // 4, cap - cap // 4
    return f"{text[:head]}\n[... {len(text) - head - tail} characters cut ...]\n{text[-tail:]}"
