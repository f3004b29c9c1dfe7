"""How each of the doer's tools (core/tools.py) is carried out on the step's folder: a step reads its declared
inputs, reads, writes, edits and deletes only files its outputs name, lists and searches what it was given,
and runs shell commands only through the `Shell` the executor hands over (inside the OS sandbox, or refused).
What a call gives back is held to the step's context budget."""

from __future__ import annotations

import os
import re
import stat
import time
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.context import StepContext
from agentfiles.core.conversation import Limits, Outcome, read_declared
from agentfiles.core.globs import OutputSet, matches
from agentfiles.core.paths import check_repo_path, has_glob, normalize_repo_path
from agentfiles.core.records import record
from agentfiles.core.tokens import estimate_tokens
from agentfiles.core.tools import (
    LINE_CAP, LIST_CAP, RUN_TIMEOUT_MAX_S, RUN_TIMEOUT_S, SEARCH_CAP, SEARCH_FILE_CAP, Shell, capped,
)


@record
class DoerTools:
    """The doer's tools on its folder: read_file (declared inputs; files its outputs name), write_file,
    edit_file and delete_file (files its outputs name), list_files and search (its files), run (a shell
    command through `shell`; refused, saying `run_refusal`, without one), and finish (its handoff)."""

    context: StepContext
    outputs: list[str]
    folder: Path
    limits: Limits
    offered: list[str] = field(default_factory=lambda: ["read_file", "write_file"])
    shell: Shell | None = None
    run_refusal: str = "this step cannot run commands"
    final: str = "finish"

    def __post_init__(self) -> None:
        self.used_tokens = self.context.estimate()
        self.owned = OutputSet(self.outputs)
        self.calls: dict[str, int] = {}

    def handle(self, use: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        name = use["name"]
        args = use.get("input") or {}
        path = normalize_repo_path(str(args.get("path", "")).strip()) if "path" in args else ""
        entry: dict[str, Any] = {"tool": name, "path": path or None}
        outcome.tool_log.append(entry)
        self.calls[name] = self.calls.get(name, 0) + 1
        if name != "finish" and name not in self.offered:
            entry["refused"] = "unknown tool"
            return f"refused: there is no tool `{name}`; use {', '.join(self.offered)} or finish", True, False
        handler = getattr(self, f"_{name}")
        return handler(path, args, entry, outcome)  # type: ignore[no-any-return]

    def _charge(self, name: str, text: str, entry: dict[str, Any]) -> str | None:
        """Count what a call gives back against the step's context budget, which it grows; why not, when it
        would take the context past the budget."""
        cost = estimate_tokens(text)
        limit = self.limits.context_tokens
        if limit and self.used_tokens + cost > limit:
            entry["refused"] = "over the context budget"
            return (f"refused: what {name} gave back (~{cost} tokens) would take this step's context past its budget "
                    f"of {limit} tokens (~{self.used_tokens} used); narrow it down, or call finish")
        self.used_tokens += cost
        return None

    # ------------------------------------------------------------------------------------ files

    def _file(self, rel: str) -> Path | None:
        """The folder's regular file at `rel`, reached through no symlink, or None (a command could have
        left a link to anything)."""
        if check_repo_path(rel) is not None:
            return None
        here = self.folder
        for part in rel.split("/"):
            here = here / part
            try:
                mode = os.lstat(here).st_mode
            except OSError:
                return None
            if stat.S_ISLNK(mode):
                return None
        return here if stat.S_ISREG(mode) else None

    def _writable(self, rel: str, entry: dict[str, Any]) -> str | None:
        """Why `rel` may not be written, or None."""
        if check_repo_path(rel) is None and (why := self.owned.excluded(rel)):
            entry["refused"] = "not named by an output glob"
            return f"refused: `{rel}` {why}; only a task listing it as an output may change it"
        if check_repo_path(rel) is not None or rel not in self.owned:
            entry["refused"] = "not a declared output"
            return f"refused: `{rel}` is not a declared output of this step; declared: {', '.join(self.outputs)}"
        here = self.folder
        for part in rel.split("/")[:-1]:
            here = here / part
            if here.is_symlink() or (here.exists() and not here.is_dir()):
                entry["refused"] = "not a folder"
                return f"refused: `{rel}` cannot be written: {here.relative_to(self.folder).as_posix()} is not a folder"
        return None

    def _put(self, rel: str, text: str, outcome: Outcome) -> int:
        target = self.folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        data = text.encode("utf-8")
        target.write_bytes(data)
        outcome.written[rel] = text
        return len(data)

    def _read_file(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        if path in self.owned:  # as the step has it now: written, edited, or as it started
            found = self._file(path)
            if found is not None:
                text = found.read_bytes().decode("utf-8", "replace")
                why = self._charge("read_file", text, entry)
                return (why, True, False) if why else (text, False, False)
            if path not in self.context.full_inputs:
                entry["refused"] = "no such file"
                return f"refused: `{path}` does not exist (yet); write it with write_file", True, False
        return read_declared(path, self.context.full_inputs, self.context.outlined, self, entry)

    def _write_file(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        why = self._writable(path, entry)
        if why:
            return why, True, False
        content = args.get("content")
        if not isinstance(content, str):
            entry["refused"] = "no content"
            return "refused: `content` must be the file's text", True, False
        entry["bytes"] = self._put(path, content, outcome)
        return f"wrote `{path}` ({entry['bytes']} bytes)", False, False

    def _edit_file(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        why = self._writable(path, entry)
        if why:
            return why, True, False
        old, new = args.get("old_string"), args.get("new_string")
        found = self._file(path)
        if not isinstance(old, str) or not isinstance(new, str):
            entry["refused"] = "malformed"
            return "refused: `old_string` and `new_string` must be text", True, False
        if found is None:
            entry["refused"] = "no such file"
            return f"refused: `{path}` does not exist; create it with write_file", True, False
        if not old:
            entry["refused"] = "empty old_string"
            return "refused: `old_string` is empty; give the exact text to replace", True, False
        if old == new:
            entry["refused"] = "no change"
            return "refused: `old_string` and `new_string` are the same", True, False
        text = found.read_bytes().decode("utf-8", "replace")
        count = text.count(old)
        if count == 0:
            entry["refused"] = "not found"
            hint = " (it differs only in whitespace from the file's text)" if _squash(old) in _squash(text) else ""
            return (f"not found: `old_string` does not occur in `{path}`{hint}; read_file shows its current text, "
                    "and the string must match it exactly, indentation and line endings included"), True, False
        lines = [text.count("\n", 0, m.start()) + 1 for m in re.finditer(re.escape(old), text)]
        if count > 1 and not args.get("replace_all"):
            entry["refused"] = "not unique"
            shown = ", ".join(map(str, lines[:10])) + (" ..." if len(lines) > 10 else "")
            return (f"not unique: `old_string` occurs {count} times in `{path}` (at lines {shown}); include more "
                    "of the surrounding text so that it occurs once, or set replace_all"), True, False
        self._put(path, text.replace(old, new), outcome)
        entry.update(replaced=count, line=lines[0])
        where = f"at line {lines[0]}" if count == 1 else f"{count} occurrences"
        return f"edited `{path}`: replaced {where}", False, False

    def _delete_file(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        if path in self.owned.exact:
            entry["refused"] = "an output it must write"
            return f"refused: `{path}` is an output this step must write; only files under its output globs can be deleted", True, False
        why = self._writable(path, entry)
        if why:
            return why, True, False
        found = self._file(path)
        if found is None:
            entry["refused"] = "no such file"
            return f"refused: `{path}` does not exist", True, False
        found.unlink()
        outcome.written.pop(path, None)
        return f"deleted `{path}`", False, False

    def _files(self) -> list[str]:
        out: list[str] = []
        for here, dirs, files in os.walk(self.folder):
            dirs[:] = sorted(d for d in dirs if not os.path.islink(os.path.join(here, d)))
            base = os.path.relpath(here, self.folder).replace(os.sep, "/")
            prefix = "" if base == "." else base + "/"
            out += [prefix + f for f in files if os.path.isfile(os.path.join(here, f)) and not os.path.islink(os.path.join(here, f))]
        return sorted(out)

    def _list_files(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        pattern = normalize_repo_path(str(args.get("pattern") or "").strip())
        chosen = [f for f in self._files() if pattern == "." or _glob_match(pattern, f)]
        entry.update(pattern=pattern if pattern != "." else None, files=len(chosen))
        lines = [f"{rel}  {(self.folder / rel).stat().st_size} bytes" + ("  (output)" if rel in self.owned else "")
                 for rel in chosen[:LIST_CAP]]
        if len(chosen) > LIST_CAP:
            lines.append(f"... and {len(chosen) - LIST_CAP} more; narrow the pattern")
        return self._given("list_files", "\n".join(lines) or "no file matches", entry)

    def _search(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        text = str(args.get("pattern") or "")
        glob = normalize_repo_path(str(args.get("glob") or "").strip())
        entry.update(pattern=text, glob=glob if glob != "." else None)
        try:
            regex = re.compile(text, re.IGNORECASE if args.get("ignore_case") else 0)
        except re.error as exc:
            entry["refused"] = "bad pattern"
            return f"refused: `{text}` is not a valid regular expression: {exc}", True, False
        if not text:
            entry["refused"] = "bad pattern"
            return "refused: `pattern` is empty", True, False
        hits: list[str] = []
        total = 0
        for rel in self._files():
            if glob != "." and not _glob_match(glob, rel):
                continue
            full = self.folder / rel
            if full.stat().st_size > SEARCH_FILE_CAP:
                continue
            data = full.read_bytes()
            if b"\0" in data[:8000]:
                continue
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
                if regex.search(line):
                    total += 1
                    if len(hits) < SEARCH_CAP:
                        hits.append(f"{rel}:{number}: {line[:LINE_CAP]}")
        entry["matches"] = total
        if total > SEARCH_CAP:
            hits.append(f"... {total - SEARCH_CAP} more matches not shown; narrow the pattern or the glob")
        return self._given("search", "\n".join(hits) or "no match", entry)

    def _run(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        command = str(args.get("command") or "")
        entry["command"] = command
        if self.shell is None:
            entry["refused"] = "no OS sandbox"
            return f"refused: {self.run_refusal}", True, False
        if not command.strip():
            entry["refused"] = "no command"
            return "refused: `command` is empty", True, False
        timeout = _number(args.get("timeout"), RUN_TIMEOUT_S)
        timeout = min(timeout, RUN_TIMEOUT_MAX_S)
        if self.limits.deadline is not None:
            left = self.limits.deadline - time.monotonic()
            if left < 1:
                entry["refused"] = "out of time"
                return "refused: the step's time is up; call finish", True, False
            timeout = min(timeout, left)
        result = self.shell(command, timeout)
        entry.update(exit_code=result.exit_code, seconds=round(result.seconds, 3), timed_out=result.timed_out,
                     output=capped(result.output, 2000), discarded=result.discarded[:50])
        head = (f"timed out after {timeout:g} s (stopped)" if result.timed_out
                else f"exit code {result.exit_code} in {result.seconds:.2f} s")
        body = capped(result.output) if result.output else "(no output)"
        note = ""
        if result.discarded:
            shown = ", ".join(result.discarded[:8]) + (" ..." if len(result.discarded) > 8 else "")
            note = f"\n(discarded {len(result.discarded)} file(s) it wrote outside the step's outputs: {shown})"
        why = self._charge("run", f"{head}\n{body}{note}", entry)
        return (f"{head}; {why}{note}", True, False) if why else (f"{head}\n{body}{note}", False, False)

    def _given(self, name: str, text: str, entry: dict[str, Any]) -> tuple[str, bool, bool]:
        why = self._charge(name, text, entry)
        return (why, True, False) if why else (text, False, False)

    def _finish(self, path: str, args: dict[str, Any], entry: dict[str, Any], outcome: Outcome) -> tuple[str, bool, bool]:
        missing = [o for o in self.outputs if o in self.owned.exact and o not in outcome.written and self._file(o) is None]
        if missing:
            entry["refused"] = "outputs missing"
            return f"not finished: write these declared outputs first: {', '.join(missing)}", True, False
        if not str(args.get("summary", "")).strip():
            entry["refused"] = "no summary"
            return "not finished: `summary` is required", True, False
        outcome.finish = {k: str(v) for k, v in args.items() if isinstance(v, (str, int, float)) and str(v).strip()}
        return "finished", False, True


def _glob_match(pattern: str, rel: str) -> bool:
    if not has_glob(pattern):
        return rel == pattern or rel.startswith(pattern + "/")
    return matches(pattern, rel)


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _number(value: Any, default: float) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
