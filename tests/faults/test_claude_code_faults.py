"""`executor: claude-code` (the real, pinned `claude`, tests/claude_cli.py) when the endpoint fails in each
family of ways (an error status retried until spent or not retried, a connection dropped before or during
an answer, a malformed stream, a stream that stalls past the step's timeout, the endpoint gone), at the
first request and in the middle of the conversation; and when `agents run` is killed (SIGKILL) or
interrupted (SIGINT) while claude is answering. Each failure is exit 1 with `error:` and `hint:` naming it,
no traceback, the failed step's handoff and record in one commit and nothing of its outputs; a kill or an
interruption lands nothing and leaves no claude running once the next run has started; the repository is
consistent, and once the endpoint answers again the next run completes with the step committed once as
done. The failures mid-conversation are a sample (`AGENTS_TEST_FAULTS=all`: every one)."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from claude_cli import claude_api, needs_claude, setup  # noqa: F401 (claude_api is the fixture `api`)
from conftest import git
from consistency import assert_clean_failure, assert_consistent, step_commit_counts
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply
from killing import kill, start, unjournaled

pytestmark = needs_claude

EXHAUSTIVE = os.environ.get("AGENTS_TEST_FAULTS") == "all"
TIMEOUT_S = 8  # the step's timeout, for the stall: claude itself would wait for minutes

# kind -> (the endpoint's answer to every request, the step's failure kind, words of its failure detail)
FAILURES: dict[str, tuple[Reply | None, str, str]] = {
    "500 server error": (Reply.error(500, "FAULT: internal"), "api", "the API answered 500"),
    "529 overloaded": (Reply.error(529, "FAULT: overloaded"), "api", "the API answered 529"),
    "429 rate limited": (Reply.error(429, "FAULT: slow down", retry_after=0.05), "api",
                         "the API answered 429"),
    "401 authentication": (Reply.error(401, "FAULT: invalid x-api-key"), "api", "the API answered 401"),
    "400 invalid request": (Reply.error(400, "FAULT: the request is malformed"), "api",
                            "the API answered 400"),
    "the connection reset before an answer": (Reply.stall(0.01, after_events=None, then="reset"), "api",
                                              "claude could not use the API"),
    "the connection closed mid-stream": (Reply.stall(0.01, after_events=2, then="close"), "api",
                                         "claude could not use the API"),
    "malformed JSON in the stream": (Reply.malformed(b"event: message_start\ndata: {not json\n\n",
                                                     content_type="text/event-stream"), "api",
                                     "claude could not use the API"),
    "a stream that stalls": (Reply.stall(60.0, after_events=1), "hang",
                             f"claude still running after {TIMEOUT_S} s"),
    "the endpoint is down": (None, "api", "claude could not use the API"),
}
LATER = ("529 overloaded", "400 invalid request", "the connection closed mid-stream", "the endpoint is down")
CASES = [(kind, "the first request") for kind in FAILURES]
CASES += [(kind, "mid-conversation") for kind in FAILURES if EXHAUSTIVE or kind in LATER]


def write() -> Reply:
    return Reply.tool_use("Write", {"file_path": "src/hello.py", "content": "print('hello')\n"})


def _go_down(api: FakeAnthropic) -> Callable[[RecordedRequest], Reply]:
    """The endpoint stops listening while it is asked: this request's connection drops, the next are
    refused."""
    def answer(request: RecordedRequest) -> Reply:
        api.stop()
        return Reply.stall(0, after_events=None, then="close")
    return answer


@pytest.mark.parametrize("kind,place", CASES, ids=[f"{k}-{p}" for k, p in CASES])
def test_the_endpoint_fails_under_claude_code(project: Path, api: FakeAnthropic, agents, kind: str,  # type: ignore[no-untyped-def]
                                              place: str) -> None:
    setup(project, timeout=TIMEOUT_S)
    head = git(project, "rev-parse", "HEAD").strip()
    answer, failure_kind, says = FAILURES[kind]
    before = [write()] if place == "mid-conversation" else []
    port = api.port
    if answer is None:
        api.queue(*before, _go_down(api)) if before else api.stop()
    else:
        api.queue(*before, *[lambda request, a=answer: a] * 40)  # claude retries some: the same answer again
    result = agents("-C", str(project), "run")
    assert_clean_failure(result.code, result.err, 1, "`agents run`")
    assert f"step hello failed: {failure_kind}: " in result.err and says in result.err, result.err
    assert "agents show hello" in result.err  # it committed its handoff: there is something to show
    assert step_commit_counts(project, head) == {"hello|failed": 1}
    assert not (project / "src/hello.py").exists()  # written in its sandbox: nothing of a failed step lands
    handoff = (project / ".agents/handoffs/hello.md").read_text()
    assert "status: failed" in handoff and f"kind: {failure_kind}" in handoff, handoff
    assert_consistent(project)
    if answer is None:
        api.start(port)
    api.clear()
    api.queue(write(), Reply.text("Wrote src/hello.py."))
    again = agents("-C", str(project), "run")
    assert again.code == 0, again.out + again.err
    assert (project / "src/hello.py").read_text() == "print('hello')\n"
    assert_consistent(project)
    assert step_commit_counts(project, head) == {"hello|failed": 1, "hello|done": 1}


def _claude_pids() -> list[int]:
    """The processes running the pinned claude (node, its program under the CLI's package)."""
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                cmdline = Path(f"/proc/{entry.name}/cmdline").read_bytes()
            except OSError:
                continue
            if b"claude-code" in cmdline or b"/bin/claude" in cmdline:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGINT"])
def test_a_run_stopped_while_claude_answers(project: Path, api: FakeAnthropic, agents, sig: str) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL: claude (in a plain folder, where no pid namespace ends it with the run) is left running
    until the next run stops it, from the registry of processes. SIGINT: the run stops it, says so, and
    exits 130. Either way nothing of the step lands and the next run carries it out once."""
    setup(project, isolation="folder")
    head = git(project, "rev-parse", "HEAD").strip()
    before = set(_claude_pids())
    asked = threading.Event()

    def held(request: RecordedRequest) -> Reply:
        asked.set()
        return Reply.stall(30.0, after_events=2, reply=write())  # half an answer, held while the run stops

    api.queue(held)
    proc = start(project, "--jobs", "1")
    try:
        assert asked.wait(60), "claude never sent its request"
    finally:
        said = kill(proc, project, getattr(signal, sig))
    left = set(_claude_pids()) - before
    if sig == "SIGINT":
        assert_clean_failure(proc.returncode, said, 130, "`agents run` interrupted")
        assert "error: interrupted: hello was stopped; nothing of it landed" in said, said
        assert left == set()  # the run stopped claude before it ended
    else:  # still answering: the run's registry names it, for the next run to stop
        registered = {int(p.stem) for p in (project / ".agents/tmp/processes").glob("*.json")}
        assert left and left <= registered, (left, registered)
    assert git(project, "rev-parse", "HEAD").strip() == head  # nothing of the step landed
    assert unjournaled(project, set()) == []
    api.clear()
    api.queue(write(), Reply.text("Wrote src/hello.py."))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.out + result.err
    assert set(_claude_pids()) - before == set()  # what the killed run left running, the next one stopped
    assert (project / "src/hello.py").read_text() == "print('hello')\n"
    assert_consistent(project)
    assert step_commit_counts(project, head) == {"hello|done": 1}
