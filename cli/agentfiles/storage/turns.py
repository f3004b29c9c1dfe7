"""The recorded turns of a conversation, stored so that a record grows with what the step saw, not with
turns squared: each request after the first keeps only the messages it added to the one before, and
every long text (an input, a prompt, a file a tool wrote) is kept once per record, under `blobs/`, as a
plain text file a person can read in git. Readers get the requests back exactly as they were sent."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

BLOB_MIN = 256  # characters: shorter strings stay inline
BLOB_KEY = "$agents_blob"  # {"$agents_blob": "<hex>"} stands for the text in blobs/<hex>.txt
PREVIOUS_KEY = "$agents_previous"  # this request is the one before it plus `messages_added`
_TURN = re.compile(r"(?:^|/)(requests|responses)/(\d+)\.json$")


def compact(files: dict[str, bytes], base: str) -> dict[str, bytes]:
    """`files` of one run record (keyed by path, the record at `base`) with every turn file compacted and
    the blobs they refer to added under `base/blobs/`."""
    blobs: dict[str, str] = {}
    previous: dict[str, Any] = {}  # folder of requests -> the last request seen there, as sent
    out: dict[str, bytes] = {}
    for path in sorted(files):
        found = _TURN.search(path)
        if not found or not path.startswith(base + "/"):
            out[path] = files[path]
            continue
        try:
            data = json.loads(files[path])
        except ValueError:
            out[path] = files[path]
            continue
        stored = data
        folder = path[: found.start(1)]
        if found.group(1) == "requests":
            before = previous.get(folder)
            stored = _delta(before, data) if before is not None else data
            previous[folder] = data
        out[path] = _dump(_blobbed(stored, blobs))
    for digest, text in blobs.items():
        out[f"{base}/blobs/{digest}.txt"] = text.encode("utf-8")
    return out


def expand(turns: list[Any], read_blob: Callable[[str], str]) -> list[Any]:
    """The turns of one folder (in order) as they were sent: blobs put back, deltas applied."""
    out: list[Any] = []
    for turn in turns:
        turn = _unblobbed(turn, read_blob)
        if isinstance(turn, dict) and PREVIOUS_KEY in turn and out and isinstance(out[-1], dict):
            before = out[-1]
            added = turn.get("messages_added") or []
            messages = list(before.get("messages", []))
            for index, message in (turn.get("messages_replaced") or {}).items():
                if str(index).isdigit() and int(index) < len(messages):
                    messages[int(index)] = message
            changed = {k: v for k, v in turn.items() if k not in (PREVIOUS_KEY, "messages_added", "messages_replaced")}
            turn = {**{k: v for k, v in before.items() if k != "messages"}, **changed}
            turn["messages"] = [*messages, *added]
            turn = _reorder(turn, before)
        out.append(turn)
    return out


def _delta(before: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """`request` as what it changes in `before`: the messages it adds, and the few earlier ones it
    rewrites (a cache breakpoint moves to the newest turn), when it keeps before's messages otherwise."""
    if not isinstance(before, dict) or not isinstance(request, dict):
        return request
    old, new = before.get("messages"), request.get("messages")
    if not isinstance(old, list) or not isinstance(new, list) or len(new) < len(old):
        return request
    replaced = {str(i): new[i] for i in range(len(old)) if new[i] != old[i]}
    if len(replaced) > 2:
        return request
    delta: dict[str, Any] = {PREVIOUS_KEY: True, "messages_added": new[len(old):]}
    if replaced:
        delta["messages_replaced"] = replaced
    for key, value in request.items():
        if key != "messages" and before.get(key) != value:
            delta[key] = value
    if set(before) - set(request):
        return request  # a key was dropped: keep it whole rather than encode a removal
    return delta


def _reorder(turn: dict[str, Any], like: dict[str, Any]) -> dict[str, Any]:
    """Keys in the order of the request it extends (a request compares equal either way; this keeps
    files and renderings stable)."""
    ordered = {k: turn[k] for k in like if k in turn}
    ordered.update({k: v for k, v in turn.items() if k not in ordered})
    return ordered


def _blobbed(value: Any, blobs: dict[str, str]) -> Any:
    if isinstance(value, str) and len(value) >= BLOB_MIN:
        digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:24]
        blobs[digest] = value
        return {BLOB_KEY: digest}
    if isinstance(value, list):
        return [_blobbed(v, blobs) for v in value]
    if isinstance(value, dict):
        return {k: _blobbed(v, blobs) for k, v in value.items()}
    return value


def _unblobbed(value: Any, read_blob: Callable[[str], str]) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and isinstance(value.get(BLOB_KEY), str):
            return read_blob(value[BLOB_KEY])
        return {k: _unblobbed(v, read_blob) for k, v in value.items()}
    if isinstance(value, list):
        return [_unblobbed(v, read_blob) for v in value]
    return value


def _dump(data: Any) -> bytes:
    return (json.dumps(data, indent=2, ensure_ascii=False) + "\n").encode("utf-8")
