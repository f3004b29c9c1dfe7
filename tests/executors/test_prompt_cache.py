"""Prompt caching end to end: consecutive steps of one role read their common prefix (tools, role prompt,
CLAUDE.md and the inputs they share) from the cache of the local Messages API, which applies the API's
rules; `--dry-run` says when a breakpoint is below the model's minimum."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply

GUIDE = "".join(f"Rule {n}: name things for what they are, and keep each function short.\n" for n in range(140))


def step(path: str) -> list[Reply]:
    return [Reply.tool_use("write_file", {"path": path, "content": "x\n"}),
            Reply.tool_use("finish", {"summary": f"Wrote {path}."})]


@pytest.fixture
def two_steps(project: Path, api: FakeAnthropic) -> Path:
    configure(project, api)
    write_files(project, {
        "docs/guide.md": GUIDE,
        "data/a.txt": "first\n",
        "data/b.txt": "second\n",
        ".agents/tasks/a.md": task_text("A", role="developer", inputs=["data/a.txt", "docs/guide.md"],
                                        outputs=["out/a.txt"]),
        ".agents/tasks/b.md": task_text("B", role="developer", inputs=["data/b.txt", "docs/guide.md"],
                                        outputs=["out/b.txt"], needs=["a"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two steps")
    return project


def test_the_second_step_of_a_role_reads_the_shared_prefix_from_the_cache(two_steps: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*step("out/a.txt"), *step("out/b.txt"))
    result = agents("-C", str(two_steps), "run")
    assert result.code == 0, result.err
    first_a, _, first_b, _ = api.message_requests
    # The guide both read comes first, before what only this step reads, and a breakpoint closes it.
    blocks = [b["text"] for b in first_b.body["messages"][0]["content"]]
    assert "docs/guide.md" in blocks[0] and "data/b.txt" in blocks[1] and "# Step `b`" in blocks[-1]
    assert first_a.cache["cache_creation_input_tokens"] > 1024
    shared = first_b.cache["cache_read_input_tokens"]
    assert shared > 1024 and shared >= first_a.cache["cache_creation_input_tokens"] - 100
    handoff = (two_steps / ".agents/handoffs/b.md").read_text()  # the step's usage counts what was read
    recorded = int(re.search(r"cache_read_input_tokens: (\d+)", handoff).group(1))  # type: ignore[union-attr]
    assert recorded >= shared


def test_dry_run_says_when_a_breakpoint_caches_nothing(two_steps: Path, agents) -> None:  # type: ignore[no-untyped-def]
    task = two_steps / ".agents/tasks/a.md"
    task.write_text(task.read_text().replace("role: developer", "role: planner"))
    result = agents("-C", str(two_steps), "run", "a", "--dry-run")
    assert result.code == 0, result.err
    # The tools, the starter role prompt and CLAUDE.md are below Opus's 4,096 tokens, and so are the inputs.
    notes = [line for line in result.err.splitlines() if "caches nothing" in line]
    assert len(notes) == 2 and "at system block 2" in notes[0] and "claude-opus-4-6 caches prefixes of 4,096" in notes[0]
    assert "at message 1, block 2" in notes[1]
    previews = agents("-C", str(two_steps), "--json", "run", "a", "--dry-run").json["previews"]
    assert previews[0]["cache"] == [note.split("a: ", 1)[1] for note in notes]


def test_breakpoints_and_minimums() -> None:
    from agentfiles.core.prompt_cache import breakpoints, cache_notes, minimum_tokens

    assert [minimum_tokens(m) for m in ("claude-sonnet-4-6", "claude-opus-4-6", "claude-haiku-4-5", "claude-3-haiku")] == [
        1024, 4096, 4096, 2048]
    request = {
        "model": "claude-haiku-4-5",
        "tools": [{"name": "t", "input_schema": {}}],
        "system": [{"type": "text", "text": "x" * 4000, "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "y" * 20000, "cache_control": {"type": "ephemeral"}},
                                                 {"type": "text", "text": "z"}]}],
    }
    found = breakpoints(request)
    assert [p.where for p in found] == ["system block 1", "message 1, block 1"]
    assert 1000 < found[0].tokens < 1100 and found[1].tokens > 6000
    assert len(cache_notes(request)) == 1 and "4,096" in cache_notes(request)[0]
