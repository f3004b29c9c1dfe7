"""What to do about the common kinds of problem in a convention file: the hint of a diagnostic that the
loader (storage/project.py) notes with none of its own."""

from __future__ import annotations

import re

from agentfiles.core.cluster import CLUSTER_HINT

_EXAMPLES = {"jobs": 4, "retries": 4, "max_turns": 30, "rounds": 2, "context_tokens": 40000, "output_tokens": 8000,
             "usd": 0.5, "timeout": 600, "timeout_s": 600, "stall_s": 60, "backoff_s": 1,
             "input": 3.0, "output": 15.0, "cache_write": 3.75, "cache_read": 0.3}  # for the hint of a count


def hint_for(message: str) -> str | None:
    """What to do about the common kinds of problem in a file."""
    if message.startswith("YAML syntax error"):
        return "fix the YAML at that line; quote a value that contains ': ' or starts with '[', '{', '*' or '#'"
    if message.startswith("YAML aliases"):
        return "write the values out instead of repeating them through aliases (*name)"
    if message.startswith("duplicate key"):
        return "merge the two entries into one"
    if "unknown key" in message and "did you mean" not in message:
        return "the keys of each file are listed in docs/convention.md"
    if "unknown key" in message:
        return "rename the key"
    if "missing required key" in message:
        return "add the key; docs/convention.md describes each one"
    if "frontmatter" in message:
        return "a convention file starts with a '---' line, YAML, and a closing '---' line"
    if "not UTF-8" in message:
        return "save the file as UTF-8"
    if "must be a mapping" in message:
        return "write `key: value` lines; docs/convention.md lists the keys"
    if "is absolute" in message or "contains '..'" in message or "inside .git" in message or "backslashes" in message:
        return "write paths relative to the repository root, with forward slashes"
    if "control character" in message or "machine-local state" in message or "not a valid run id" in message:
        return "name files of the repository as docs/convention.md (Paths) describes"
    if "not a valid task id" in message:
        return "task ids are file names: lowercase letters, digits, '.', '_' and '-'"
    if "a hash is written" in message:
        return "copy the hash from `agents status --json` or `sha256sum`, prefixed with sha256:"
    if "participants" in message or "`role` or `select`" in message or "either `role`" in message:
        return "see Task frontmatter and Execution modes in docs/convention.md"
    if "`enabled: false` is not supported" in message:
        return "remove the key; `agents run --dry-run` shows what a run would do without running or committing"
    if "`sign: true`" in message:
        return "remove the key; to sign the step commits afterwards: `git rebase --exec 'git commit --amend " \
            "--no-edit -S' BASE`"
    if "a number is expected" in message:
        key = message.split(":", 1)[0].rsplit(".", 1)[-1]
        if key in ("concurrent", "tokens_per_minute"):
            return "write a whole number (e.g. `concurrent: 5`); without the key there is no limit of that kind"
        return f"write a number (e.g. `{key}: {_EXAMPLES.get(key, 1)}`), or leave the key out for the default"
    if "names no cluster" in message:
        return f"leave `cluster:` out to run the steps here, or {CLUSTER_HINT}"
    if "is not a Dask scheduler address" in message or "is not local:N" in message:
        return CLUSTER_HINT
    if re.search(r"(greater|less) than|>=|<=", message):
        return "use a value within the range the message gives"
    return "docs/convention.md describes every key of tasks, roles, config and handoffs"
