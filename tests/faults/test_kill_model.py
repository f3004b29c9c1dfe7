"""`agents run` killed with SIGKILL while a model step talks to the endpoint (tests/fake_anthropic.py over
real HTTP, the real SDK): when it sends a request, while an answer is half streamed, at its verifier's
request. Nothing of the step lands, whatever differs from HEAD is in a journal, and the next run carries
the step out from the start, committed exactly once. Three of the five points by default, all five with
`AGENTS_TEST_FAULTS=all`."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from conftest import configure, git, task_text, write_files
from consistency import assert_consistent, step_commit_counts
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply
from killing import kill, start, unjournaled

POINTS = [("its 1st request", 1, 0.0), ("its 2nd request, after it wrote its output", 2, 0.0),
          ("its 2nd answer, half streamed", 2, 0.15), ("its verifier's request", 3, 0.0),
          ("its verifier's answer, half streamed", 3, 0.15)]
if os.environ.get("AGENTS_TEST_FAULTS") != "all":  # by default: one before any answer, one mid-answer, the verifier's
    POINTS = [POINTS[0], POINTS[2], POINTS[3]]


@pytest.mark.parametrize("number,delay", [p[1:] for p in POINTS], ids=[p[0] for p in POINTS])
def test_sigkill_of_a_model_step_at(number: int, delay: float, project: Path, api: FakeAnthropic,  # type: ignore[no-untyped-def]
                                    agents) -> None:
    configure(project, api)
    write_files(project, {".agents/tasks/hello.md": task_text(
        "Write hello", role="developer", outputs=["src/hello.py"], acceptance=["It prints hello"],
        verifier="reviewer", body="## Intent\n\nA greeting program.\n")})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    head = git(project, "rev-parse", "HEAD").strip()
    answers = [Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}),
               Reply.tool_use("finish", {"summary": "Wrote it."}),
               Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "it does"}]})]
    asked = threading.Event()

    def held(n: int, reply: Reply):  # type: ignore[no-untyped-def]
        def answer(request: RecordedRequest) -> Reply:
            if n == number:
                asked.set()
                return Reply.stall(10.0, after_events=2, reply=reply)  # held open while the run is killed
            return reply
        return answer

    api.queue(*[held(n, reply) for n, reply in enumerate(answers, 1)])
    proc = start(project, "--jobs", "1")
    try:
        assert asked.wait(60), "the run never sent that request"
        threading.Event().wait(delay)
    finally:
        kill(proc, project)
    assert git(project, "rev-parse", "HEAD").strip() == head  # nothing of the step landed
    assert unjournaled(project, set()) == []
    api.clear()
    api.queue(*answers)
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.out + result.err
    assert_consistent(project)
    assert (project / "src/hello.py").read_text() == "print('hello')\n"
    assert step_commit_counts(project, head) == {"hello|done": 1}
