"""Recorded turns: stored compactly, read back exactly as they were sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agentfiles.storage.turns import compact, expand

LONG = "x" * 300


def body(*messages: dict, **extra: object) -> dict:  # type: ignore[type-arg]
    return {"model": "m", "system": [{"type": "text", "text": "S" * 400}], "messages": list(messages), **extra}


def user(text: str) -> dict:  # type: ignore[type-arg]
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def roundtrip(requests: list[dict], folder: str = "r/run") -> tuple[dict[str, bytes], list[dict]]:  # type: ignore[type-arg]
    files = {f"{folder}/requests/{i:03d}.json": json.dumps(b).encode() for i, b in enumerate(requests, 1)}
    files[f"{folder}/record.json"] = b"{}"
    stored = compact(files, "r/run")
    blobs = {p.rsplit("/", 1)[1][:-4]: v.decode() for p, v in stored.items() if "/blobs/" in p}
    turns = [json.loads(v) for p, v in sorted(stored.items()) if f"{folder}/requests/" in p]
    return stored, expand(turns, lambda digest: blobs[digest])


def test_a_growing_conversation_is_stored_as_what_each_turn_adds() -> None:
    first = body(user(LONG))
    second = body(user(LONG), {"role": "assistant", "content": "ok"}, user("y" * 280))
    third = body(*second["messages"], {"role": "assistant", "content": "done"}, max_tokens=5)
    stored, back = roundtrip([first, second, third])
    assert back == [first, second, third]
    assert stored["r/run/record.json"] == b"{}"
    delta = json.loads(stored["r/run/requests/003.json"])
    assert delta["$agents_previous"] is True and delta["max_tokens"] == 5 and len(delta["messages_added"]) == 1
    assert sum(1 for p in stored if "/blobs/" in p) == 3  # the system prompt, LONG and y*280, once each


def test_a_rewritten_earlier_message_and_a_dropped_key_still_read_back_exactly() -> None:
    first = body(user(LONG), tool_choice={"type": "auto"})
    moved = {**user(LONG), "content": [{"type": "text", "text": LONG, "cache_control": {"type": "ephemeral"}}]}
    second = body(moved, user("more"), tool_choice={"type": "auto"})
    third = body(moved, user("more"), user("again"))  # tool_choice dropped: stored whole
    stored, back = roundtrip([first, second, third])
    assert back == [first, second, third]
    assert "$agents_previous" not in json.loads(stored["r/run/requests/003.json"])


def test_each_folder_of_a_record_is_a_conversation_of_its_own() -> None:
    doer = body(user(LONG))
    verifier = body(user(LONG + "v"))
    files = {"r/run/requests/001.json": json.dumps(doer).encode(),
             "r/run/verifier/requests/001.json": json.dumps(verifier).encode()}
    stored = compact(files, "r/run")
    assert "$agents_previous" not in json.loads(stored["r/run/verifier/requests/001.json"])


def test_a_record_referring_to_a_missing_or_hostile_blob_is_a_clear_error(tmp_path: Path) -> None:
    from agentfiles.core.paths import Layout
    from agentfiles.errors import UsageError
    from agentfiles.storage.inspect import recorded_turns

    run = tmp_path / ".agents/runs/20260101T000000Z-abcdef"
    (run / "requests").mkdir(parents=True)
    for digest in ("0123456789abcdef01234567", "../../../../etc/passwd"):
        (run / "requests/001.json").write_text(json.dumps({"messages": [{"$agents_blob": digest}]}))
        with pytest.raises(UsageError) as error:
            recorded_turns(Layout(tmp_path), run)
        assert "missing or not a blob" in error.value.message and error.value.hint
