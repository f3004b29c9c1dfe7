"""What a step leaves in the repository: its handoff (`.agents/handoffs/<task>.md`) and its run record
(`.agents/runs/<run-id>/`), rendered to bytes so the runner can apply and commit them together."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from agentfiles.core.paths import Layout, Reach, check_input_key, check_repo_path, is_valid_run_id, normalize_repo_path
from agentfiles.errors import UsageError
from agentfiles.storage.documents import dump_document

SECTIONS = ("Summary", "Work completed", "Decisions", "Open questions", "Next steps")
PROPOSED_CAP = 1024 * 1024  # proposed outputs of a failed step larger than this are not kept


def handoff_body(summary: str, sections: dict[str, str]) -> str:
    """The handoff's markdown: the contract's sections in order, then any others, plain markdown only."""
    parts = [f"## Summary\n\n{summary.strip() or '(no summary)'}\n"]
    for title in SECTIONS[1:]:
        text = sections.get(title, "").strip()
        if text:
            parts.append(f"## {title}\n\n{text}\n")
    for title, text in sections.items():
        if title not in SECTIONS and text.strip():
            parts.append(f"## {title}\n\n{text.strip()}\n")
    return "\n".join(parts)


def handoff_file(meta: dict[str, Any], body: str) -> bytes:
    return dump_document(meta, body).encode("utf-8")


def record_files(
    layout: Layout, run_id: str, record: dict[str, Any], stdout: str, stderr: str, proposed: dict[str, bytes],
    cap: int | None = PROPOSED_CAP,
) -> dict[str, bytes]:
    """The files of a run record, keyed by repo-relative path (proposed outputs up to `cap` bytes each)."""
    base = f"{layout.rel(layout.runs)}/{run_id}"
    files = {f"{base}/record.json": (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    if stdout:
        files[f"{base}/stdout.txt"] = stdout.encode("utf-8")
    if stderr:
        files[f"{base}/stderr.txt"] = stderr.encode("utf-8")
    for rel, data in proposed.items():
        if cap is None or len(data) <= cap:
            files[f"{base}/proposed/{rel}"] = data
    return files


def run_folder(layout: Layout, run_id: object) -> Path:
    """`.agents/runs/<run>/` of a run id read from a handoff or a record (a cloned repository is untrusted
    input): an id that is not one, `../..` say, is refused before it names any path."""
    if not isinstance(run_id, str) or not is_valid_run_id(run_id):
        raise UsageError(
            f"{run_id!r} is not a valid run id",
            hint="a handoff's `run:` names a folder of .agents/runs/; restore the handoff from git",
        )
    return layout.runs / run_id


def record_file(layout: Layout, path: Path) -> bool:
    """Whether `path` (in a run record) is a file to read: present, and not a symlink leading out of the
    repository or into .git (a record is read back from a repository that may be hostile)."""
    rel = layout.rel(path)
    if not path.is_file():
        return False
    why = Reach(layout.root).problem(rel)
    if why:
        raise UsageError(f"the run record file {why}", file=rel, hint="a run record holds plain files; remove it")
    return True


def recorded_paths(layout: Layout, record: dict[str, Any], task: str, run_id: str) -> None:
    """Check the paths a record names (its inputs and outputs) as a task's declared paths are checked,
    before any of them is used: a record is read back from a repository that may be hostile."""
    reach = Reach(layout.root)
    problems = []
    for kind in ("inputs", "outputs"):
        paths = record.get(kind) or {}
        if not isinstance(paths, dict):
            problems.append(f"its {kind} are not a mapping of paths to hashes")
            continue
        for path in map(str, paths):
            problem = check_input_key(path) if kind == "inputs" else check_repo_path(path)
            if problem is None and not path.startswith("handoff:"):
                why = reach.problem(path) if normalize_repo_path(path) == path else "is not in its normal form"
                problem = f"path {path!r} {why}" if why else None
            problems += [problem] if problem else []
    if problems:
        rel = f"{layout.rel(layout.runs)}/{run_id}/record.json"
        raise UsageError(f"the record of run {run_id} of {task} cannot be used: {problems[0]}", file=rel,
                         hint=f"restore {rel} from git")


def read_record(layout: Layout, run_id: str) -> dict[str, Any] | None:
    """A run's record.json, None when there is none; a damaged one is an error, not silence."""
    path = run_folder(layout, run_id) / "record.json"
    if not record_file(layout, path):
        _refuse_odd_layout(layout, path)
        return None
    data = read_json(layout, path)
    problem = record_shape_problem(data)
    if problem:
        rel = layout.rel(path)
        raise UsageError(f"the run record is damaged: {problem}", file=rel,
                         hint=f"restore it from git with `git checkout -- {rel}`")
    return data  # type: ignore[no-any-return]


_NUMBER = (int, float)
_TEXT = (str, type(None))
# The fields of a record that readers (show, review, log --usage, replay, the report) use, with their types:
# a record is read back from a repository that may be damaged or hostile, so its shape is checked once here.
_RECORD_FIELDS: dict[str, tuple[type, ...]] = {
    "inputs": (dict,), "outputs": (dict,), "checks": (list,), "usage": (dict, type(None)), "env": (list,),
    "env_withheld": (list,), "feedback": (list,), "earlier_attempts": (list,), "discussion": (list,),
    "tools": (list,), "retries": (list,), "verifier": (dict, type(None)), "isolation": (dict, type(None)),
    "failure": (dict, type(None)), "budget": (dict, type(None)), "command": _TEXT, "model": _TEXT, "run": _TEXT,
    "task": _TEXT, "status": _TEXT, "exit_code": (int, type(None)), "attempt": (int,), "turns": (int,),
    "context_tokens": (int, type(None)), "timeout_s": (*_NUMBER, type(None)), "duration_s": (*_NUMBER, type(None)),
    "samples": (list,), "panel": (dict, type(None)), "equivalence": (dict, type(None)), "rollout": _TEXT,
}
_LISTS_OF_OBJECTS = ("checks", "earlier_attempts", "discussion", "tools", "retries", "feedback", "samples")


def record_shape_problem(data: Any) -> str | None:
    """What is wrong with the shape of a run record (a JSON object whose known fields have their types,
    with usage in numbers), or None."""
    if not isinstance(data, dict):
        return f"it is a JSON {type(data).__name__}, not an object"
    for key, types in _RECORD_FIELDS.items():
        if key in data and (not isinstance(data[key], types) or (isinstance(data[key], bool) and bool not in types)):
            return f"`{key}` is {json.dumps(data[key])[:40]}, not {' or '.join(_TYPE_NAMES[t] for t in types)}"
    for key in _LISTS_OF_OBJECTS:
        if any(not isinstance(x, (dict, list)) for x in data.get(key) or []):
            return f"`{key}` holds something other than objects"
    for key in ("env", "env_withheld"):
        if any(not isinstance(x, str) for x in data.get(key) or []):
            return f"`{key}` holds something other than names"
    problem = _consensus_shape_problem(data)
    if problem:
        return problem
    judges = (data.get("panel") or {}).get("judges") or []
    parties = [data, data.get("verifier") or {}, *(data.get("earlier_attempts") or []), *(data.get("discussion") or []),
               *judges, data.get("equivalence") or {}, *(data.get("samples") or [])]
    for party in parties:
        usage = party.get("usage") if isinstance(party, dict) else None
        if usage is not None and (not isinstance(usage, dict) or any(
                not isinstance(v, (*_NUMBER, type(None))) or isinstance(v, bool) for v in usage.values())):
            return f"a usage is {json.dumps(usage)[:60]}, not numbers"
    return None


def _consensus_shape_problem(data: dict[str, Any]) -> str | None:
    """A verifier panel's judges (a list of objects) and each sample's number, group and outputs."""
    judges = (data.get("panel") or {}).get("judges")
    if judges is not None and (not isinstance(judges, list) or any(not isinstance(j, dict) for j in judges)):
        return "`panel.judges` is not a list of objects"
    for sample in data.get("samples") or []:
        if (not isinstance(sample, dict) or not isinstance(sample.get("sample"), int) or isinstance(sample.get("sample"), bool)
                or not isinstance(sample.get("outputs", {}), dict)
                or not isinstance(sample.get("group"), (int, type(None)))):
            return f"a sample is {json.dumps(sample)[:60]}, not {{sample: number, group, outputs: object}}"
    return None


_TYPE_NAMES = {dict: "an object", list: "a list", type(None): "null", int: "a whole number", float: "a number",
               str: "text"}


def _refuse_odd_layout(layout: Layout, path: Path) -> None:
    """A record file that is not there because something else is: a folder where the file belongs, or a
    file where one of the record's folders belongs, is damage to report, not a record that was never kept."""
    if os.path.lexists(path) and not os.path.islink(path):
        raise UsageError("is not a file (a folder, or something else), but a file of a run record",
                         file=layout.rel(path), hint=f"restore the record from git: git checkout -- {layout.rel(path.parent)}")
    for folder in path.parents:  # up to .agents/runs/
        if os.path.lexists(folder) and not folder.is_dir():
            where = layout.rel(folder)
            raise UsageError("is a file, but it must be a folder of the run records", file=where,
                             hint=f"move it away, then restore the records from git: git checkout -- {where}")
        if folder == layout.runs:
            break


def read_blob(layout: Layout, record: Path, digest: str) -> str:
    """A text kept once in a record's `blobs/` (see storage/turns.py); a missing one is an error."""
    path = record / "blobs" / f"{digest}.txt"
    if not re.fullmatch(r"[0-9a-f]{8,64}", digest) or not record_file(layout, path):
        rel = layout.rel(path) if re.fullmatch(r"[0-9a-f]{8,64}", digest) else f"{layout.rel(record)}/blobs/{digest!r}"
        raise UsageError(f"the run record refers to {rel}, which is missing or not a blob",
                         hint=f"restore {layout.rel(record)} from git")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"the run record's blob is not UTF-8 text (byte {exc.start})", file=layout.rel(path),
                         hint=f"restore {layout.rel(record)} from git") from None


def read_jsons(layout: Layout, folder: Path) -> list[Any]:
    """Every `*.json` of a folder of a run record (requests, responses), in name order."""
    return [read_json(layout, p) for p in sorted(folder.glob("*.json")) if record_file(layout, p)]


def read_json(layout: Layout, path: Path) -> Any:
    """One JSON file of a run record; a damaged one raises a UsageError naming it."""
    rel = layout.rel(path)
    hint = f"restore it from git with `git checkout -- {rel}`"
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except json.JSONDecodeError as exc:
        raise UsageError(f"cannot be read: not valid JSON: {exc.msg} (column {exc.colno})", file=rel,
                         line=exc.lineno, hint=hint) from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"cannot be read: not UTF-8 text (byte {exc.start})", file=rel, hint=hint) from None
    except OSError as exc:
        raise UsageError(f"cannot be read: {exc.strerror}", file=rel, hint=hint) from None
