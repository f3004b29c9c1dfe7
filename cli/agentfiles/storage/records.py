"""What a step leaves in the repository: its handoff (`.agents/handoffs/<task>.md`) and its run record
(`.agents/runs/<run-id>/`), rendered to bytes so the runner can apply and commit them together."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentfiles.core.paths import Layout
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
    layout: Layout, run_id: str, record: dict[str, Any], stdout: str, stderr: str, proposed: dict[str, bytes]
) -> dict[str, bytes]:
    """The files of a run record, keyed by repo-relative path."""
    base = f"{layout.rel(layout.runs)}/{run_id}"
    files = {f"{base}/record.json": (json.dumps(record, indent=2, ensure_ascii=False) + "\n").encode("utf-8")}
    if stdout:
        files[f"{base}/stdout.txt"] = stdout.encode("utf-8")
    if stderr:
        files[f"{base}/stderr.txt"] = stderr.encode("utf-8")
    for rel, data in proposed.items():
        if len(data) <= PROPOSED_CAP:
            files[f"{base}/proposed/{rel}"] = data
    return files


def read_record(layout: Layout, run_id: str) -> dict[str, Any] | None:
    """A run's record.json, None when there is none; a damaged one is an error, not silence."""
    path: Path = layout.runs / run_id / "record.json"
    if not path.is_file():
        return None
    data = read_json(layout, path)
    return data if isinstance(data, dict) else None


def read_json(layout: Layout, path: Path) -> Any:
    """One JSON file of a run record; a damaged one raises a UsageError naming it."""
    from agentfiles.errors import UsageError

    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        rel = layout.rel(path)
        raise UsageError(
            f"the run record file {rel} cannot be read: {exc}",
            hint=f"restore it from git with `git checkout -- {rel}`",
        ) from None
