"""`foreach: <glob>`: one task, one clean step per matching file. Each item is a step of its own, with the
id `<task>@<slug>`, its own handoff, and `{item}` (the path), `{name}` (its file name) and `{stem}` (the
name without extension) substituted in its title, inputs, outputs, command, checks and intent. In a command
or check each value is quoted for the quoting it stands in (a plain word, "double" or 'single' quotes), so
a file name is one word, never code; where the quoting cannot be followed (after a backslash, inside
`$(...)`, backticks, `${...}` or a here-document) `agents validate` refuses the command. The task itself
stands for the family: done when every item is done."""

from __future__ import annotations

import hashlib
import re
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from agentfiles.core.fingerprint import expand_path_input
from agentfiles.core.paths import normalize_repo_path

if TYPE_CHECKING:
    from agentfiles.core.models import Task

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")


PLACEHOLDERS = ("{item}", "{name}", "{stem}")
_PLAIN_SAFE = re.compile(r"[A-Za-z0-9._/@+-]*\Z")  # needs no quoting anywhere in a shell command
_SIMPLE_PARAMETER = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*\}")
_OPAQUE = (("`", "backticks"), ("$(", "`$(...)`"), ("${", "`${...}`"), ("$'", "`$'...'`"), ('$"', '`$"..."`'),
           ("<<", "a here-document"), ("<(", "a process substitution"), (">(", "a process substitution"))
_WORD_START = " \t\n;&|()<>"


def items_of(root: Path, pattern: str, refused: list[tuple[str, str]] | None = None) -> list[str]:
    return expand_path_input(root, pattern, refused)


def item_slug(item: str) -> str:
    """A file-name-safe form of an item's path: `docs/a.md` -> `docs--a.md`."""
    return _UNSAFE.sub("_", item.replace("/", "--"))


def step_id(task_id: str, item: str) -> str:
    return f"{task_id}@{item_slug(item)}"


def family_of(step: str) -> str:
    """The task of a step id (`summarise@docs--a.md` -> `summarise`)."""
    return step.split("@", 1)[0]


def _values(item: str) -> dict[str, str]:
    name = item.rsplit("/", 1)[-1]
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return {"{item}": item, "{name}": name, "{stem}": stem}


def placeholder_contexts(command: str) -> list[tuple[int, str, str]]:
    """(offset, placeholder, quoting) of each placeholder of a shell command, the quoting being `plain`,
    `double` or `single`, or why it cannot be followed there (a placeholder after a backslash, or after
    a construct whose end a simple scan cannot be sure of: every later placeholder is refused)."""
    found: list[tuple[int, str, str]] = []
    state, opaque, i = "plain", "", 0
    while i < len(command):
        key = next((p for p in PLACEHOLDERS if command.startswith(p, i)), None)
        if key is not None:
            found.append((i, key, opaque or ("plain" if state == "comment" else state)))
            i += len(key)
            continue
        char = command[i]
        if opaque or (state == "single" and char != "'") or (state == "comment" and char != "\n"):
            i += 1
            continue
        if state in ("single", "comment"):
            state = "plain"
        elif char in "\\$" and (after := next((p for p in PLACEHOLDERS if command.startswith(p, i + 1)), None)):
            found.append((i + 1, after, f"right after a `{char}`"))
            i += 1 + len(after)
            continue
        elif char == "\\":
            i += 2  # the escaped character is not quoting
            continue
        elif _SIMPLE_PARAMETER.match(command, i):
            i = _SIMPLE_PARAMETER.match(command, i).end()  # type: ignore[union-attr]
            continue
        elif (construct := next((why for start, why in _OPAQUE if command.startswith(start, i)), None)) and (
            state == "plain" or construct in ("backticks", "`$(...)`", "`${...}`")
        ):
            opaque = f"after {construct}"
        elif char == '"':
            state = "plain" if state == "double" else "double"
        elif state == "plain" and char == "'":
            state = "single"
        elif state == "plain" and char == "#" and (i == 0 or command[i - 1] in _WORD_START):
            state = "comment"
        i += 1
    return found


def unsafe_placeholder(command: str) -> str | None:
    """Why a placeholder of `command` cannot be quoted safely, or None."""
    found = placeholder_contexts(command)
    for _, key, quoting in found:
        if quoting not in _QUOTE:
            return f"the command uses {key} {quoting}, where agents cannot quote it safely"
    reparse = _REPARSE.search(command)
    if found and reparse:
        return (f"the command gives text to `{reparse.group(0).strip()}`, which parses it as a command again, so a "
                f"placeholder quoted for this command is not quoted for that one")
    return None


# Words after which text of the command is parsed as code a second time: quoting a value once for the
# outer command does not protect it there (`eval "cat {item}"`, `sh -c "wc -c {item}"`, `/bin/sh -c`,
# `echo "..." | sh`, `python3 -c "..."`). A lint of the usual forms: docs/convention.md says that a program
# taking code must get the item from the environment (`$AGENTS_ITEM`), which no parse turns into code.
_SHELL = r"(?:[\w./-]*/)?(?:ba|da|z|k|a|fi)?sh"
_REPARSE = re.compile(
    rf"(?:^|[\s;&|(`])(?:eval|{_SHELL}\s+(?:-\w+\s+)*-\w*c"
    r"|(?:[\w./-]*/)?(?:python[\d.]*|perl|ruby|node|php)\s+(?:-\w+\s+)*-\w*[ce])\s"
    rf"|\|\s*(?:(?:[\w./-]*/)?env\s+)?{_SHELL}(?:\s|$)",
    re.M,
)


_QUOTE = {
    "plain": shlex.quote,
    "double": lambda value: re.sub(r'([\\$`"])', r"\\\1", value),
    "single": lambda value: value.replace("'", "'\\''"),
}


def substitute(text: str, item: str, *, shell: bool = False) -> str:
    """Fill in `{item}`, `{name}` and `{stem}`. In a shell command (`shell`) each value is quoted for the
    quoting around it, so a file name with spaces, quotes or `$(...)` is one word, never code; where the
    quoting cannot be followed (`agents validate` refuses those commands) a value that would need
    quoting is replaced by `''`."""
    values = _values(item)
    if not shell:
        for key, value in values.items():
            text = text.replace(key, value)
        return text
    out, last = [], 0
    for offset, key, quoting in placeholder_contexts(text):
        value = values[key]
        quote = _QUOTE.get(quoting)
        out += [text[last:offset], quote(value) if quote else (value if _PLAIN_SAFE.match(value) else "''")]
        last = offset + len(key)
    return "".join(out) + text[last:]


def item_paths(task: Task, item: str) -> list[tuple[str, str]]:
    """(`input` or `output`, path) of each declared path of `task` that changes with the item."""
    paths = [("input", spec.path) for spec in task.inputs if spec.path and "{" in spec.path]
    paths += [("output", path) for path in task.outputs if "{" in path]
    return [(kind, substitute(path, item)) for kind, path in paths]


def item_task(task: Task, item: str) -> Task:
    """The task as one of its items runs it: placeholders filled in, no `foreach`."""
    inputs = [
        spec.replace(path=normalize_repo_path(substitute(spec.path, item))) if spec.path else spec
        for spec in task.inputs
    ]
    acceptance = [
        c.replace(**{
            k: substitute(v, item, shell=k == "run") for k, v in (("text", c.text), ("run", c.run)) if v is not None
        })
        for c in task.acceptance
    ]
    return task.replace(
        foreach=None,
        inputs=inputs,
        outputs=[normalize_repo_path(substitute(o, item)) for o in task.outputs],
        title=substitute(task.title, item),
        run=substitute(task.run, item, shell=True) if task.run else None,
        acceptance=acceptance,
    )


def family_run(item_runs: list[str]) -> str:
    """A stand-in run id for a foreach family: changes whenever any item runs again."""
    digest = hashlib.sha256("\n".join(sorted(item_runs)).encode()).hexdigest()[:12]
    return f"family-{digest}"
