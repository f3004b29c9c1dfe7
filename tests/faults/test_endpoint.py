"""The model endpoint failing in each way an endpoint fails (tests/fake_anthropic.py over real HTTP, the real
SDK): refused connections, connections closed or reset mid-answer, answers that stall before their headers
or mid-stream, 4xx and 5xx statuses with the API's error body, with none, or with a page that is not the
API's, 429 with each form of `retry-after`, 529, error events mid-stream, malformed JSON, and streams cut
short. A failure not worth retrying, or retried until `api.retries` is spent, fails the step (exit 1,
`error:` and `hint:` naming the failure, no traceback) with its failure kind (`api`, or `hang` for a
stall) in the handoff, the attempts in the run record, its handoff and record in one commit and nothing
of its outputs; the repository is consistent, and once the endpoint answers again the next run completes
with the step committed once as done. A failure followed by an answer is retried within the run.

Every kind fails the step's first request; a sample of them (`AGENTS_TEST_FAULTS=all`: every one) fails
it in the middle of its conversation, after it wrote its output, and at its verifier's request."""

from __future__ import annotations

import email.utils
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import configure, git, task_text, write_files
from consistency import assert_clean_failure, assert_consistent, step_commit_counts
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply

EXHAUSTIVE = os.environ.get("AGENTS_TEST_FAULTS") == "all"
ATTEMPTS = 3  # configure() sets api.retries to 2
STALL_S = 1.0  # api.stall_s of these tests: shorter, a loaded machine's legitimate answers would time out too


def _sse(*events: dict[str, object]) -> bytes:
    return b"".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in events)


START = {"type": "message_start", "message": {
    "id": "msg_cut", "type": "message", "role": "assistant", "model": "claude-fake", "content": [],
    "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 10, "output_tokens": 1}}}
TOOL_START = {"type": "content_block_start", "index": 0,
              "content_block": {"type": "tool_use", "id": "toolu_cut", "name": "write_file", "input": {}}}
END = [{"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": None},
        "usage": {"output_tokens": 5}}, {"type": "message_stop"}]


def _retry_at_date(request: RecordedRequest) -> Reply:
    return Reply.error(429, "FAULT: slow down", headers={"retry-after": email.utils.formatdate(time.time(), usegmt=True)})


@dataclass(frozen=True)
class Failure:
    """One way the endpoint fails: its answer, whether it is worth retrying, the step's failure kind, and
    words the step's failure detail holds."""

    answer: Reply | Callable[[RecordedRequest], Reply]
    retried: bool
    says: str
    kind: str = "api"


FAILURES: dict[str, Failure] = {
    "400 invalid request": Failure(Reply.error(400, "FAULT: the request is malformed"), False, "HTTP 400: FAULT"),
    "400 with no body": Failure(Reply.malformed(b"", status=400), False, "HTTP 400"),
    "401 authentication": Failure(Reply.error(401, "FAULT: invalid x-api-key"), False, "HTTP 401: FAULT"),
    "401 with a page that is not the API's": Failure(
        Reply.malformed(b"<html>401 Authorization Required</html>", status=401, content_type="text/html"), False,
        "HTTP 401"),
    "403 permission": Failure(Reply.error(403, "FAULT: not allowed"), False, "HTTP 403: FAULT"),
    "404 unknown model": Failure(Reply.error(404, "FAULT: model not found"), False, "HTTP 404: FAULT"),
    "413 request too large": Failure(Reply.error(413, "FAULT: too large"), False, "HTTP 413: FAULT"),
    "429 rate limited, retry-after in seconds": Failure(Reply.error(429, "FAULT: slow down", retry_after=0.05), True,
                                                        "HTTP 429: FAULT"),
    "429 rate limited, retry-after-ms": Failure(Reply.error(429, "FAULT: slow down", retry_after_ms=50), True,
                                                "HTTP 429: FAULT"),
    "429 rate limited, retry-after as an HTTP date": Failure(_retry_at_date, True, "HTTP 429: FAULT"),
    "429 rate limited, no retry-after": Failure(Reply.error(429, "FAULT: slow down"), True, "HTTP 429: FAULT"),
    "500 server error": Failure(Reply.error(500, "FAULT: internal"), True, "HTTP 500: FAULT"),
    "500 with no body": Failure(Reply.malformed(b"", status=500), True, "HTTP 500"),
    "502 with a page that is not the API's": Failure(
        Reply.malformed(b"<html>502 Bad Gateway</html>", status=502, content_type="text/html"), True, "HTTP 502"),
    "503 with a plain-text body": Failure(
        Reply.malformed(b"Service Unavailable", status=503, content_type="text/plain"), True, "HTTP 503"),
    "504 gateway timeout": Failure(Reply.error(504, "FAULT: upstream timed out"), True, "HTTP 504: FAULT"),
    "529 overloaded": Failure(Reply.error(529, "FAULT: overloaded"), True, "HTTP 529: FAULT"),
    "an overloaded error event mid-stream": Failure(
        Reply.stream_error("overloaded_error", "FAULT: overloaded mid-stream"), True, "overloaded_error event mid-stream"),
    "an invalid-request error event mid-stream": Failure(
        Reply.stream_error("invalid_request_error", "FAULT: refused mid-stream"), False,
        "invalid_request_error event mid-stream"),
    "the connection closed before an answer": Failure(Reply.stall(0.01, after_events=None, then="close"), True,
                                                      "gave up after 3 attempts"),
    "the connection reset before an answer": Failure(Reply.stall(0.01, after_events=None, then="reset"), True,
                                                     "gave up after 3 attempts"),
    "the connection closed mid-stream": Failure(Reply.stall(0.01, after_events=2, then="close"), True,
                                                "gave up after 3 attempts"),
    "the connection reset mid-stream": Failure(Reply.stall(0.01, after_events=2, then="reset"), True,
                                               "gave up after 3 attempts"),
    "no answer at all (stalled before the headers)": Failure(Reply.stall(5.0, after_events=None), True,
                                                              "no streamed event for 1 s", "hang"),
    "a stream that stalls": Failure(Reply.stall(5.0, after_events=1), True, "no streamed event for 1 s", "hang"),
    "malformed JSON in the stream": Failure(
        Reply.malformed(b"event: message_start\ndata: {not json\n\n", content_type="text/event-stream"), True,
        "gave up after 3 attempts"),
    "a stream cut short (no message_stop)": Failure(
        Reply.malformed(_sse(START, {"type": "ping"}), content_type="text/event-stream"), True,
        "the stream ended before the message was complete"),
    "a tool call whose input is cut short": Failure(Reply.malformed(_sse(
        START, TOOL_START, {"type": "content_block_delta", "index": 0,
                            "delta": {"type": "input_json_delta", "partial_json": '{"path": "src/he'}},
        {"type": "content_block_stop", "index": 0}, *END), content_type="text/event-stream"), True,
        "gave up after 3 attempts"),
    "an empty answer": Failure(Reply.malformed(b"", content_type="text/event-stream"), True,
                               "the stream ended before the message was complete"),
    "a JSON message where a stream was asked": Failure(Reply.malformed(json.dumps(
        {**START["message"], "content": [{"type": "text", "text": "hi"}], "stop_reason": "end_turn"})), True,  # type: ignore[dict-item]
        "gave up after 3 attempts"),
}
KINDS = sorted(FAILURES)
PLACES = ("the first request", "mid-conversation", "the verifier's request")
# Failing later in the step: one of each family (an error status, a refused request, a dropped or stalled
# connection, a broken stream, the endpoint gone).
LATER = ("529 overloaded", "400 invalid request", "the connection reset mid-stream", "a stream that stalls",
         "a stream cut short (no message_stop)", "the endpoint is down")


def write(content: str = "print('hello')\n") -> Reply:
    return Reply.tool_use("write_file", {"path": "src/hello.py", "content": content})


def finish() -> Reply:
    return Reply.tool_use("finish", {"summary": "Wrote src/hello.py.", "decisions": "One line."})


def verdict() -> Reply:
    return Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "it prints"}]})


ANSWERS = (write, finish, verdict)
BEFORE = {"the first request": 0, "mid-conversation": 1, "the verifier's request": 2}  # answers before it fails


@pytest.fixture
def hello(project: Path, api: FakeAnthropic) -> Path:
    configure(project, api, stall_s=STALL_S)
    write_files(project, {
        "data/spec.md": "Write a program that prints hello.\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
            acceptance=["It prints hello"], verifier="reviewer",
            body="## Intent\n\nA greeting program, to check the pipeline end to end.\n"),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    return project


def _cases() -> list[tuple[str, str]]:
    cases = [(kind, "the first request") for kind in [*KINDS, "the endpoint is down"]]
    for place in PLACES[1:]:
        cases += [(kind, place) for kind in [*KINDS, "the endpoint is down"] if EXHAUSTIVE or kind in LATER]
    return cases


def _go_down(api: FakeAnthropic) -> Callable[[RecordedRequest], Reply]:
    """The endpoint stops listening while it is asked: this request's connection drops, the next are refused."""
    def answer(request: RecordedRequest) -> Reply:
        api.stop()
        return Reply.stall(0, after_events=None, then="close")
    return answer


@pytest.mark.parametrize("kind,place", _cases(), ids=[f"{k}-{p}" for k, p in _cases()])
def test_the_endpoint_fails(hello: Path, api: FakeAnthropic, agents, kind: str, place: str) -> None:  # type: ignore[no-untyped-def]
    head = git(hello, "rev-parse", "HEAD").strip()
    before = [answer() for answer in ANSWERS[: BEFORE[place]]]
    port = api.port
    if kind == "the endpoint is down":
        failure = Failure(Reply.error(500), True, "gave up after 3 attempts; last: APIConnectionError")
        api.queue(*before, _go_down(api)) if before else api.stop()
    else:
        failure = FAILURES[kind]
        api.queue(*before, *[failure.answer] * (ATTEMPTS if failure.retried else 1))
    result = agents("-C", str(hello), "run")
    assert_clean_failure(result.code, result.err, 1, "`agents run`")
    assert f"step hello failed: {failure.kind}: " in result.err and failure.says in result.err, result.err
    # One commit: the failed step's handoff and run record, with the attempts; nothing of its outputs.
    assert step_commit_counts(hello, head) == {"hello|failed": 1}
    assert not (hello / "src/hello.py").exists()
    handoff = (hello / ".agents/handoffs/hello.md").read_text()
    assert "status: failed" in handoff and f"kind: {failure.kind}" in handoff, handoff
    attempts = ATTEMPTS if failure.retried else 1
    assert len(_retries(hello, place)) == attempts  # each attempt is in the run record
    if kind != "the endpoint is down":
        assert len(api.message_requests) == len(before) + attempts
        assert api.pending == 0
    assert_consistent(hello)
    # The endpoint answers again: the next run completes.
    if kind == "the endpoint is down":
        api.start(port)
    api.clear()
    api.queue(*[answer() for answer in ANSWERS])
    again = agents("-C", str(hello), "run")
    assert again.code == 0, again.out + again.err
    assert (hello / "src/hello.py").read_text() == "print('hello')\n"
    assert_consistent(hello)
    assert step_commit_counts(hello, head) == {"hello|failed": 1, "hello|done": 1}


def _retries(root: Path, place: str) -> list[dict[str, object]]:
    """The failed attempts to call the model that the last run record lists, the doer's or its verifier's."""
    record = json.loads(max((root / ".agents/runs").glob("*/record.json")).read_text())
    retries = (record.get("verifier") or {}).get("retries") if place == "the verifier's request" else record["retries"]
    return list(retries or [])


RETRIED = [kind for kind in KINDS if FAILURES[kind].retried]


@pytest.mark.parametrize("place", PLACES)
@pytest.mark.parametrize("kind", RETRIED if EXHAUSTIVE else RETRIED[::2])
def test_the_endpoint_fails_once_and_the_run_carries_on(hello: Path, api: FakeAnthropic, agents, kind: str,  # type: ignore[no-untyped-def]
                                                        place: str) -> None:
    head = git(hello, "rev-parse", "HEAD").strip()
    answers = [answer() for answer in ANSWERS]
    api.queue(*answers[: BEFORE[place]], FAILURES[kind].answer, *answers[BEFORE[place]:])
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.out + result.err
    assert f"retry hello API call, attempt 2 of {ATTEMPTS}" in result.out + result.err
    assert (hello / "src/hello.py").read_text() == "print('hello')\n"
    assert_consistent(hello)
    assert step_commit_counts(hello, head) == {"hello|done": 1}
    assert len(_retries(hello, place)) == 1  # the failed attempt is in the run record


# ------------------------------------------------------------------ counting tokens (`budget: {precise: true}`)

COUNTED = ("529 overloaded", "the connection reset before an answer", "401 authentication", "500 with no body")


@pytest.mark.parametrize("kind", COUNTED)
def test_counting_tokens_fails(hello: Path, api: FakeAnthropic, agents, kind: str) -> None:  # type: ignore[no-untyped-def]
    """The API counts a precise budget's context before the step is sent: a failure there is retried as a
    call to the model is, and once the retries are spent the step fails as `api` (exit 1) with its handoff;
    nothing was sent to the model, and the next run, the endpoint answering, completes."""
    task = hello / ".agents/tasks/hello.md"
    task.write_text(task.read_text().replace("verifier: reviewer\n", "verifier: reviewer\nbudget:\n  precise: true\n"))
    git(hello, "commit", "-qam", "a precise budget")
    head = git(hello, "rev-parse", "HEAD").strip()
    failure = FAILURES[kind]
    attempts = ATTEMPTS if failure.retried else 1
    api.queue_count_tokens(*[failure.answer] * attempts)
    result = agents("-C", str(hello), "run")
    assert_clean_failure(result.code, result.err, 1, "`agents run`")
    assert "step hello failed: api: counting the context's tokens: " in result.err and failure.says in result.err, result.err
    assert len(api.count_tokens_requests) == attempts and api.message_requests == []
    assert step_commit_counts(hello, head) == {"hello|failed": 1}
    assert len(_retries(hello, "the first request")) == attempts
    assert_consistent(hello)
    api.queue(*[answer() for answer in ANSWERS])
    again = agents("-C", str(hello), "run")
    assert again.code == 0, again.out + again.err
    assert step_commit_counts(hello, head) == {"hello|failed": 1, "hello|done": 1}
    assert_consistent(hello)


def test_counting_tokens_fails_once_and_the_run_carries_on(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    task = hello / ".agents/tasks/hello.md"
    task.write_text(task.read_text().replace("verifier: reviewer\n", "verifier: reviewer\nbudget:\n  precise: true\n"))
    git(hello, "commit", "-qam", "a precise budget")
    api.queue_count_tokens(Reply.error(429, "FAULT: slow down", retry_after=0.05))
    api.queue(*[answer() for answer in ANSWERS])
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.out + result.err
    assert f"retry hello API call, attempt 2 of {ATTEMPTS}" in result.out + result.err
    assert len(api.count_tokens_requests) == 2
