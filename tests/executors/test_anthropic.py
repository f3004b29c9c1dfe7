"""Model steps over real HTTP: the real `anthropic` SDK against the local Messages API in
tests/fake_anthropic.py."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from conftest import KEY, configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply



@pytest.fixture
def hello(project: Path, api: FakeAnthropic) -> Path:
    configure(project, api)
    write_files(project, {
        "data/spec.md": "Write a program that prints hello.\n",
        "secret.txt": "TOP-SECRET-CONTENT\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
            body="## Intent\n\nA greeting program, to check the pipeline end to end.\n",
        ),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    return project


def finish(summary: str = "Wrote src/hello.py.") -> Reply:
    return Reply.tool_use("finish", {"summary": summary, "decisions": "Kept it to one line."})


def test_a_model_step_sees_only_what_it_declared_and_lands_as_one_commit(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(
        Reply.tool_use(("read_file", {"path": "secret.txt"}), ("write_file", {"path": "../evil.txt", "content": "x"}),
                       usage={"input_tokens": 900, "output_tokens": 40, "cache_creation_input_tokens": 700}),
        Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"},
                       usage={"input_tokens": 100, "output_tokens": 30, "cache_read_input_tokens": 700,
                              "cache_creation_input_tokens": 0}),
        Reply.message([{"type": "text", "text": "Done."}, {"type": "tool_use", "id": "toolu_f", "name": "finish",
                       "input": {"summary": "Wrote src/hello.py.", "decisions": "One line."}}],
                      stop_reason="tool_use", usage={"input_tokens": 50, "output_tokens": 20, "cache_read_input_tokens": 700,
                                                     "cache_creation_input_tokens": 0}),
    )
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.err
    first = api.message_requests[0].body
    sent = json.dumps([r.body for r in api.message_requests])
    assert "You are a careful software developer" in first["system"][0]["text"]
    assert "Working here with `agents`" in first["system"][-1]["text"]  # CLAUDE.md
    assert first["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "Write a program that prints hello." in "".join(b["text"] for b in first["messages"][0]["content"])
    assert "TOP-SECRET-CONTENT" not in sent
    results = api.message_requests[1].body["messages"][-1]["content"]
    assert [r["is_error"] for r in results] == [True, True]
    assert "not a declared input" in results[0]["content"] and "not a declared output" in results[1]["content"]
    assert (hello / "src/hello.py").read_text() == "print('hello')\n"
    assert not (hello.parent / "evil.txt").exists()
    assert git(hello, "show", "--name-only", "--format=", "HEAD").split().count("src/hello.py") == 1
    handoff = (hello / ".agents/handoffs/hello.md").read_text()
    for expected in ("input_tokens: 1050", "output_tokens: 90", "cache_read_input_tokens: 1400",
                     "cache_creation_input_tokens: 700", "turns: 3", "executor: agent", "model: claude-sonnet-4-6"):
        assert expected in handoff
    assert "## Decisions\n\nOne line." in handoff
    record = json.loads(next((hello / ".agents/runs").glob("*/record.json")).read_text())
    refused = [t for t in record["tools"] if t.get("refused")]
    assert [(t["tool"], t["path"]) for t in refused] == [("read_file", "secret.txt"), ("write_file", "../evil.txt")]
    # The run record holds the exact bodies and answers, never a header or the key.
    from agentfiles.core.paths import Layout
    from agentfiles.storage.inspect import recorded_turns

    folder = next((hello / ".agents/runs").glob("*/requests")).parent
    recorded = recorded_turns(Layout(hello), folder)
    assert recorded == [r.body for r in api.message_requests]  # every request, exactly as sent
    assert KEY not in git(hello, "log", "-p", "--all")
    assert not any(KEY in p.read_text(errors="ignore") for p in hello.rglob("*") if p.is_file() and ".git" not in p.parts)
    assert api.message_requests[0].api_key == KEY


def test_overloaded_then_success_and_a_stalled_stream_is_retried(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(
        Reply.error(529),
        Reply.stall(5.0, after_events=1),
        Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}),
        finish(),
    )
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.err
    assert len(api.message_requests) == 4
    record = json.loads(next((hello / ".agents/runs").glob("*/record.json")).read_text())
    errors = [r["error"] for r in record["retries"]]
    assert errors[0].startswith("HTTP 529") and "no streamed event for 1 s" in errors[1]


def test_retry_after_is_honoured(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.error(429, retry_after=0.3),
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    record = json.loads(next((hello / ".agents/runs").glob("*/record.json")).read_text())
    assert record["retries"][0]["retry_in_s"] >= 0.3


def test_exhausted_retries_fail_the_step_with_kind_api(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.error(500), Reply.error(529), Reply.error(503, "still down"))
    result = agents("-C", str(hello), "run")
    assert result.code == 1
    assert "failed: api: gave up after 3 attempts; last: HTTP 503: still down" in result.err
    assert not (hello / "src/hello.py").exists()
    assert "src/hello.py" not in git(hello, "show", "--name-only", "--format=", "HEAD")
    assert "kind: api" in (hello / ".agents/handoffs/hello.md").read_text()


@pytest.mark.parametrize(("status", "hint"), [(401, "API key was refused"), (400, "check the model id")])
def test_client_errors_fail_at_once_with_a_hint(hello: Path, api: FakeAnthropic, agents, status: int, hint: str) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.error(status))
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and hint in result.err
    assert len(api.message_requests) == 1


def test_ending_without_finish_is_invalid_output(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.text("I think I am done."))
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "invalid_output: the model stopped (end_turn) without calling finish" in result.err


def test_finish_before_writing_the_outputs_is_sent_back(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(finish(), Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    result = api.message_requests[1].body["messages"][-1]["content"][0]
    assert result["is_error"] and "write these declared outputs first: src/hello.py" in result["content"]


def test_an_oversized_input_is_refused_before_any_request(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(hello, {"data/spec.md": "word " * 40000})
    git(hello, "commit", "-qam", "big spec")
    path = hello / ".agents/tasks/hello.md"  # a definition not committed yet: not committed for a step that cannot start
    path.write_text(path.read_text().replace("title: Write hello", "title: Write hello, again"))
    head = git(hello, "rev-parse", "HEAD")
    dry = agents("-C", str(hello), "run", "--dry-run")
    assert dry.code == 1
    assert "error: step hello would fail before it starts: the context is ~" in dry.err
    result = agents("-C", str(hello), "run")
    assert result.code == 1
    assert "step hello would fail before it starts: the context is ~" in result.err
    assert "over the budget of 40000" in result.err
    assert "data/spec.md (~66667 tokens)" in result.err and "view: outline" in result.err
    assert "nothing ran and nothing was committed" in result.err and "agents show" not in result.err
    assert api.message_requests == []
    assert git(hello, "rev-parse", "HEAD") == head  # known before it started: nothing committed
    assert git(hello, "status", "--porcelain") == " M .agents/tasks/hello.md\n"


def test_usd_budget_ends_the_step(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    path = hello / ".agents/tasks/hello.md"
    path.write_text(path.read_text().replace("role: developer", "role: developer\nbudget: {usd: 0.01}"))
    git(hello, "commit", "-qam", "cheap")
    api.queue(Reply.tool_use("read_file", {"path": "data/spec.md"}, usage={"input_tokens": 5000, "output_tokens": 100}))
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "budget: spent $0.0205, over the step's budget of $0.01" in result.err


def test_dry_run_prints_exactly_the_request(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    preview = agents("-C", str(hello), "--json", "run", "hello", "--dry-run").json["previews"][0]
    api.queue(Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    assert preview["request"] == api.message_requests[0].body
    text = agents("-C", str(hello), "run", "hello", "--dry-run", "--force").out
    assert "===== system 2  [cache breakpoint] =====" in text and "tokens of a budget of 40000" in text


def test_show_context_and_replay_without_the_endpoint(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    shown = agents("-C", str(hello), "show", "hello", "--context").out
    assert "Write a program that prints hello." in shown and "You are a careful software developer" in shown
    api.stop()  # the endpoint is gone
    replayed = agents("-C", str(hello), "--json", "replay", "hello")
    assert replayed.code == 0, replayed.out + replayed.err
    data = replayed.json
    digest = "sha256:" + hashlib.sha256(b"print('hello')\n").hexdigest()
    assert data["identical"] and data["outputs"]["src/hello.py"] == {"recorded": digest, "replayed": digest}
    (hello / "data/spec.md").write_text("Changed.\n")
    refused = agents("-C", str(hello), "replay", "hello")
    assert refused.code == 2 and "inputs of run" in refused.err and "--force" in refused.err


def test_the_cache_breakpoint_moves_with_the_conversation(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.tool_use("read_file", {"path": "data/spec.md"}),
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    body = api.message_requests[2].body
    third = body["messages"]
    # The first message keeps its breakpoint after the inputs; in the conversation after it, one moves along.
    marked = [b for m in third[1:] if isinstance(m["content"], list) for b in m["content"] if b.get("cache_control")]
    assert len(marked) == 1 and marked[0] is third[-1]["content"][-1]
    first = [b for b in third[0]["content"] if b.get("cache_control")]
    assert [b["text"].splitlines()[0] for b in first] == ["## Inputs"]
    assert len(first) + len(marked) + 1 <= 4  # with the system prompt's: the API's limit


def test_a_malformed_answer_is_retried(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.malformed(b"event: message_start\ndata: {not json\n\n", content_type="text/event-stream"),
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.err
    assert len(api.message_requests) == 3


def test_an_unreachable_endpoint_fails_with_kind_api(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.stop()
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "api: gave up after 3 attempts" in result.err
    assert not (hello / "src/hello.py").exists()


def test_precise_budgets_count_tokens_with_the_api(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    path = hello / ".agents/tasks/hello.md"
    path.write_text(path.read_text().replace("role: developer", "role: developer\nbudget: {context_tokens: 50, precise: true}"))
    git(hello, "commit", "-qam", "precise")
    assert agents("-C", str(hello), "run", "--dry-run").code == 0  # the API counts, when the step starts
    assert agents("-C", str(hello), "status", "--json").json["tasks"][0]["state"] == "ready"  # so status cannot tell
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "over the budget of 50" in result.err
    assert len(api.count_tokens_requests) == 1 and api.message_requests == []
    assert "hint: nothing was committed for hello: fix what the error names" in result.err
    assert "agents show" not in result.err


def test_an_error_quoting_the_key_never_lands_in_git(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.error(400, f"header x-api-key={KEY} is not valid"))
    result = agents("-C", str(hello), "run")
    assert result.code == 1
    assert "[redacted]" in (hello / ".agents/handoffs/hello.md").read_text()
    assert KEY not in git(hello, "log", "-p", "--all") and KEY not in result.err
    assert not any(KEY in p.read_text(errors="ignore") for p in hello.rglob("*") if p.is_file() and ".git" not in p.parts)


def test_an_overloaded_error_mid_stream_is_retried(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.stream_error("overloaded_error"),
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.err
    record = json.loads(next((hello / ".agents/runs").glob("*/record.json")).read_text())
    assert record["retries"][0]["error"].startswith("overloaded_error event mid-stream")
    assert record["retries"][0]["status"] == 529


def test_show_context_prints_every_turn(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.tool_use("read_file", {"path": "secret.txt"}),
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    shown = agents("-C", str(hello), "show", "hello", "--context").out
    assert "===== request 2: 2 message(s) added =====" in shown
    assert "refused: `secret.txt` is not a declared input" in shown
    assert "===== request 3: 2 message(s) added =====" in shown


def test_a_damaged_record_is_named_not_a_crash(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.tool_use("write_file", {"path": "src/hello.py", "content": "x\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    answer = next((hello / ".agents/runs").glob("*/responses/002.json"))
    answer.write_text("{broken")
    result = agents("-C", str(hello), "replay", "hello")
    assert result.code == 2 and "responses/002.json:1: cannot be read" in result.err and "git checkout --" in result.err
    answer.parent.parent.joinpath("record.json").write_text("[")
    shown = agents("-C", str(hello), "show", "hello")
    assert shown.code == 2 and "record.json:1: cannot be read" in shown.err


def test_a_base_url_that_is_not_a_url_stops_the_run(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(hello, api, base_url="localhost:8080")
    result = agents("-C", str(hello), "run")
    assert result.code == 2 and "api.base_url in .agents/config.yaml is not an http(s) URL" in result.err
    assert api.message_requests == []


def test_a_model_steps_role_and_context_files_are_committed_before_it_runs(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    (hello / "CLAUDE.md").write_text((hello / "CLAUDE.md").read_text() + "\nUNCOMMITTED-CONTEXT\n")
    role = hello / ".agents/roles/developer.md"
    role.write_text(role.read_text() + "\nUNCOMMITTED-ROLE-LINE\n")
    (hello / "data/spec.md").write_text("An uncommitted input is data, not a definition.\n")
    api.queue(Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    defined = git(hello, "show", "--name-only", "--format=", "HEAD~1").split()
    assert defined == [".agents/roles/developer.md", "CLAUDE.md"]
    assert "UNCOMMITTED-CONTEXT" in json.dumps(api.message_requests[0].body)


def test_a_long_conversation_records_each_text_once(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """Every request repeats the conversation so far; the record keeps each text once, so it grows with
    what the step saw, not with turns squared, and readers still get each request as it was sent."""
    from agentfiles.core.paths import Layout
    from agentfiles.storage.inspect import recorded_turns

    spec = "".join(f"Requirement {i}: the greeting must be friendly and short, line {i}.\n" for i in range(60))
    write_files(hello, {"data/spec.md": spec})
    git(hello, "commit", "-qam", "a longer spec")
    turns = 20
    api.queue(*[Reply.tool_use("read_file", {"path": "data/spec.md"}) for _ in range(turns - 2)],
              Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    folder = next((hello / ".agents/runs").glob("*/requests")).parent
    files = [p for p in folder.rglob("*") if p.is_file()]
    stored = sum(p.stat().st_size for p in files)
    sent = sum(len(json.dumps(r.body)) for r in api.message_requests)
    # The spec is in the brief and in every read_file result: two texts, each stored once.
    assert len([p for p in files if "Requirement 59" in p.read_text()]) == 2
    # What a turn adds to the record is its own few messages, not the conversation so far.
    assert stored < 3 * len(spec) + turns * 2000, stored
    assert stored < sent / 5, (stored, sent)
    assert recorded_turns(Layout(hello), folder) == [r.body for r in api.message_requests]
    assert agents("-C", str(hello), "replay", "hello").code == 0
    shown = agents("-C", str(hello), "show", "hello", "--context")
    assert shown.code == 0 and "Requirement 59" in shown.out


def test_replay_of_a_record_missing_half_its_conversation_is_an_error(hello: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    import shutil

    api.queue(Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}), finish())
    assert agents("-C", str(hello), "run").code == 0
    run = agents("-C", str(hello), "show", "hello", "--json").json["handoff"]["run"]
    folder = hello / ".agents/runs" / run
    # Its answers deleted by hand: a damaged record (exit 2), not a replay that did not reproduce the run.
    shutil.rmtree(folder / "responses")
    damaged = agents("-C", str(hello), "replay", "hello")
    assert damaged.code == 2, damaged.out + damaged.err
    assert "the record is damaged: it holds 2 model requests and 0 answers" in damaged.err
    assert f"hint: .agents/runs/{run}/responses/ is missing or incomplete" in damaged.err
    assert "did not reproduce" not in damaged.out
    git(hello, "checkout", "--", f".agents/runs/{run}")
    # Its requests deleted: nothing to compare the replay's requests with, not "outputs identical".
    shutil.rmtree(folder / "requests")
    blind = agents("-C", str(hello), "replay", "hello")
    assert blind.code == 2 and "holds no model requests to replay" in blind.err and "hint: " in blind.err
    assert "identical" not in blind.out
    git(hello, "checkout", "--", f".agents/runs/{run}")
    assert agents("-C", str(hello), "replay", "hello").code == 0
    # A call the API refused leaves a request with no answer: that record is whole, and replays as it failed.
    (hello / "data/spec.md").write_text("Write a program that prints hello, twice.\n")
    git(hello, "commit", "-qam", "twice")
    api.queue(Reply.error(400, "REFUSED"))
    assert agents("-C", str(hello), "run").code == 1
    refused = agents("-C", str(hello), "replay", "hello")
    assert refused.code == 0 and "it failed the same way" in refused.out, refused.out + refused.err
