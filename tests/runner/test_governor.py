"""The rate governor: parallel steps share the model API's limits (`api.limits`) instead of each finding
them through 429s, and a pause the API asks of one call holds back every call to that model."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply


def _finish(request: RecordedRequest) -> Reply:
    return Reply.tool_use("finish", {"summary": "done"})


@pytest.fixture
def twenty(project: Path) -> Path:
    write_files(project, {f".agents/tasks/m{i:02d}.md": task_text(f"M{i}", role="developer") for i in range(20)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "twenty")
    return project


def test_twenty_parallel_steps_never_exceed_an_endpoint_allowing_five(twenty: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.concurrency_limit, api.delay_s = 5, 0.2
    api.queue(*[_finish] * 20)
    configure(twenty, api, limits={"default": {"concurrent": 5}})
    result = agents("-C", str(twenty), "--json", "run", "--jobs", "20")
    assert result.code == 0, result.err
    assert [o["status"] for o in result.json["outcomes"]] == ["done"] * 20
    assert api.limited == 0 and api.peak == 5  # never more than five at once, and never a 429
    assert len(api.message_requests) == 20


def test_without_limits_the_same_steps_meet_429s(twenty: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The endpoint's limit is real: with the governor allowing twenty, it refuses what goes over five."""
    api.concurrency_limit, api.delay_s, api.limited_retry_after = 5, 0.2, 0.1
    api.queue(*[_finish] * 20)
    configure(twenty, api, retries=6, limits={"default": {"concurrent": 20}})
    result = agents("-C", str(twenty), "run", "--jobs", "20")
    assert api.limited > 0 and api.peak > 5
    assert "retry m" in result.err and "HTTP 429" in result.err


def test_a_retry_after_pauses_every_step_and_the_run_says_they_wait(twenty: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    answered: list[float] = []

    def first_refused(request: RecordedRequest) -> Reply:
        answered.append(time.time())
        return Reply.error(429, "slow down", retry_after=1.5)

    def finish(request: RecordedRequest) -> Reply:
        answered.append(time.time())
        return _finish(request)

    for task in list((twenty / ".agents/tasks").glob("m*.md"))[4:]:
        task.unlink()
    git(twenty, "add", "-A")
    git(twenty, "commit", "-qm", "four")
    api.queue(first_refused, *[finish] * 4)
    configure(twenty, api, limits={"default": {"concurrent": 1}})
    result = agents("-C", str(twenty), "run", "--jobs", "4")
    assert result.code == 0, result.err
    # One call at a time: the 429 came first, and no step's call went out before the pause it asked for.
    assert answered[1] - answered[0] >= 1.4, answered
    assert "wait  m0" in result.err and "the API asked for a pause" in result.err
    assert ": 1 call to claude-sonnet-4-6 in flight, its limit (api.limits)" in result.err  # one call, not "1 calls"
