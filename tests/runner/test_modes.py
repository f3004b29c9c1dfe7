"""Doer/verifier separation, typed routing and the execution modes, over real HTTP against the local
Messages API (tests/fake_anthropic.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply

CRITERIA = ["Greets the user by name", "Prints exactly one line"]


def write(content: str = "print('hello')\n", usage: dict[str, int] | None = None) -> Reply:
    return Reply.tool_use("write_file", {"path": "src/hello.py", "content": content}, usage=usage)


def finish(summary: str = "Wrote src/hello.py.", usage: dict[str, int] | None = None) -> Reply:
    return Reply.tool_use("finish", {"summary": summary}, usage=usage)


def verdict(*verdicts: tuple[str, str], usage: dict[str, int] | None = None) -> Reply:
    checks = [{"criterion": str(n), "verdict": v, "evidence": e} for n, (v, e) in enumerate(verdicts, 1)]
    return Reply.tool_use("verdict", {"checks": checks}, usage=usage)


def text_of(body: dict) -> str:  # type: ignore[type-arg]
    return json.dumps(body, ensure_ascii=False)


def commit_all(root: Path, message: str = "tasks") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


@pytest.fixture
def checked(project: Path, api: FakeAnthropic) -> Path:
    """A model step with two prose criteria, judged by `reviewer`, one retry."""
    configure(project, api)
    write_files(project, {
        "data/spec.md": "Write a program that greets the user by name.\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
            acceptance=CRITERIA, verifier="reviewer", retries=1,
            body="## Intent\n\nA greeting program.\n",
        ),
    })
    commit_all(project)
    return project


def handoff(root: Path, task: str = "hello") -> dict:  # type: ignore[type-arg]
    from agentfiles.storage.documents import parse_document

    return parse_document((root / f".agents/handoffs/{task}.md").read_text()).meta


def record(root: Path) -> tuple[Path, dict]:  # type: ignore[type-arg]
    path = next((root / ".agents/runs").glob("*/record.json"))
    return path.parent, json.loads(path.read_text())


def test_a_failed_verdict_reruns_the_doer_with_the_evidence_then_rejects(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(
        Reply.message([{"type": "text", "text": "DOER-PRIVATE-REASONING"},
                       {"type": "tool_use", "id": "toolu_w1", "name": "write_file",
                        "input": {"path": "src/hello.py", "content": "print('hello')\n"}}], stop_reason="tool_use"),
        finish("First try."),
        verdict(("fail", "EVIDENCE-ONE: it never asks for a name"), ("pass", "one print call")),
        write("print('hello, world')\n"),
        finish("Second try."),
        verdict(("fail", "EVIDENCE-TWO: still no name"), ("pass", "one line")),
    )
    before = git(checked, "rev-parse", "HEAD")
    result = agents("-C", str(checked), "run")
    assert result.code == 1
    assert "rejected" in result.err or "rejected" in result.out
    bodies = [r.body for r in api.message_requests]
    assert len(bodies) == 6
    # The doer ran twice; its second first request carries the verdict's evidence.
    doer_second = bodies[3]
    assert len(doer_second["messages"]) == 1
    assert "EVIDENCE-ONE: it never asks for a name" in text_of(doer_second)
    assert "Verdict on attempt 1" in doer_second["messages"][0]["content"][-1]["text"]
    # The verifier's requests: its own tools, the proposed output and the doer's handoff, no transcript.
    for verifier in (bodies[2], bodies[5]):
        assert [t["name"] for t in verifier["tools"]] == ["read_file", "verdict"]
        assert len(verifier["messages"]) == 1
        assert "You are a reviewer" in verifier["system"][0]["text"]
        sent = text_of(verifier)
        assert "DOER-PRIVATE-REASONING" not in sent and "toolu_w1" not in sent and "write_file" not in sent
        assert "1. Greets the user by name" in sent and "2. Prints exactly one line" in sent
    assert "print('hello')" in text_of(bodies[2]) and "First try." in text_of(bodies[2])
    assert "print('hello, world')" in text_of(bodies[5]) and "Second try." in text_of(bodies[5])
    # Rejected: nothing of the outputs landed; the verdict is in the handoff, per criterion.
    assert not (checked / "src/hello.py").exists()
    assert git(checked, "status", "--porcelain") == ""
    assert git(checked, "rev-list", "--count", f"{before.strip()}..HEAD").strip() == "1"
    assert "src/hello.py" not in git(checked, "show", "--name-only", "--format=", "HEAD").split()
    meta = handoff(checked)
    assert meta["status"] == "rejected" and meta["failure"]["kind"] == "rejected"
    assert meta["verification"]["verdict"] == "fail" and meta["verification"]["verifier"] == "reviewer"
    assert [(c["criterion"], c["verdict"]) for c in meta["verification"]["checks"]] == [
        (CRITERIA[0], "fail"), (CRITERIA[1], "pass")]
    assert "EVIDENCE-TWO" in meta["verification"]["checks"][0]["evidence"]
    # Both attempts are kept for review: the last one's proposal, the first one's under attempt-1/.
    folder, data = record(checked)
    assert (folder / "proposed/src/hello.py").read_text() == "print('hello, world')\n"
    assert (folder / "attempt-1/proposed/src/hello.py").read_text() == "print('hello')\n"
    assert (folder / "attempt-1/verifier/requests/001.json").is_file()
    assert data["attempt"] == 2 and len(data["earlier_attempts"]) == 1
    status = agents("-C", str(checked), "status", "--json").json
    row = next(t for t in status["tasks"] if t["id"] == "hello")
    assert row["state"] == "rejected"


def test_a_passing_verdict_lands_the_outputs_with_usage_of_doer_and_verifier(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(
        write(usage={"input_tokens": 100, "output_tokens": 10}),
        finish(usage={"input_tokens": 50, "output_tokens": 5}),
        Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "asks for a name"}]},
                       usage={"input_tokens": 7, "output_tokens": 1}),  # incomplete: refused, asked again
        verdict(("pass", "asks for a name"), ("pass", "one print"), usage={"input_tokens": 30, "output_tokens": 3}),
    )
    result = agents("-C", str(checked), "run")
    assert result.code == 0, result.err
    refused = api.message_requests[3].body["messages"][-1]["content"][0]
    assert refused["is_error"] and "missing: 2. Prints exactly one line" in refused["content"]
    meta = handoff(checked)
    assert meta["status"] == "done" and meta["verification"]["verdict"] == "pass"
    assert meta["usage"]["input_tokens"] == 187 and meta["usage"]["output_tokens"] == 19
    assert meta["usage"]["turns"] == 4
    assert (checked / "src/hello.py").read_text() == "print('hello')\n"
    assert "## Verification" in (checked / ".agents/handoffs/hello.md").read_text()


def test_a_step_that_passes_on_its_second_attempt_replays_offline(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(write("v1\n"), finish(), verdict(("fail", "no name"), ("pass", "ok")),
              write("v2\n"), finish(), verdict(("pass", "asks"), ("pass", "ok")))
    assert agents("-C", str(checked), "run").code == 0
    assert (checked / "src/hello.py").read_text() == "v2\n"
    api.stop()
    replay = agents("-C", str(checked), "replay", "hello", "--json")
    assert replay.code == 0, replay.err
    assert replay.json["identical"] is True and replay.json["request_differences"] == []


def test_the_verifier_may_not_be_the_doer(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/self.md": task_text(
        "Self-checked", role="developer", verifier="developer", outputs=["a.md"], acceptance=["It is good"])})
    result = agents("-C", str(project), "validate")
    assert result.code == 2
    assert "the verifier 'developer' is the doer's own role" in result.err
    assert ".agents/tasks/self.md:" in result.err and "hint:" in result.err


def test_a_verifier_that_cannot_run_stops_the_run_before_anything_runs(project: Path, agents, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")  # no `claude`, no key, no base URL
    write_files(project, {".agents/tasks/count.md": task_text(
        "Count", run="echo 3 > n.txt", outputs=["n.txt"], acceptance=["n.txt holds a plausible count"])})
    commit_all(project)
    result = agents("-C", str(project), "run")
    assert result.code == 2
    assert "needs a model for its verifier" in result.err and "hint:" in result.err
    assert not (project / ".agents/handoffs/count.md").exists()


def test_a_select_task_records_the_label_routing_decision(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {".agents/tasks/impl.md": task_text(
        "Implement", select={"kind": "implementer"}, outputs=["src/hello.py"])})
    commit_all(project)
    api.queue(write(), finish())
    assert agents("-C", str(project), "run").code == 0
    routing = handoff(project, "impl")["routing"]
    assert routing["role"] == "developer" and routing["method"] == "labels"
    assert {c["role"] for c in routing["candidates"]} == {"developer", "planner", "reviewer"}
    assert routing["candidates"][0] == {"role": "developer", "score": 1.0, "matched": ["kind=implementer"]}
    assert handoff(project, "impl")["role"] == "developer"
    assert "You are a careful software developer" in api.message_requests[0].body["system"][0]["text"]


def test_a_select_task_without_a_match_fails_validation_with_the_candidates(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/impl.md": task_text("Implement", select={"lang": "rust"}, outputs=["a"])})
    result = agents("-C", str(project), "validate")
    assert result.code == 2
    assert "no role carries all of the labels lang=rust" in result.err
    assert "candidates: developer (0), planner (0)" in result.err


def test_route_model_asks_a_router_for_a_structured_choice(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {
        ".agents/roles/writer.md": "---\nname: writer\ndescription: Writes prose.\nagents:\n  labels: {kind: implementer}\n---\nYou write.\n",
        ".agents/tasks/impl.md": task_text("Implement", select={"kind": "implementer"}, route="model",
                                           outputs=["src/hello.py"]),
    })
    commit_all(project)
    assert agents("-C", str(project), "validate").code == 0  # a tie is the router's to break
    api.queue(Reply.tool_use("choose_role", {"role": "writer", "reason": "the output is prose"}), write(), finish())
    assert agents("-C", str(project), "run").code == 0
    router = api.message_requests[0].body
    assert router["tools"][0]["name"] == "choose_role"
    assert set(router["tools"][0]["input_schema"]["properties"]["role"]["enum"]) == {"developer", "writer"}  # the tie
    assert "You write." in api.message_requests[1].body["system"][0]["text"]
    routing = handoff(project, "impl")["routing"]
    assert routing["method"] == "model" and routing["role"] == "writer" and routing["reason"] == "the output is prose"
    folder, _ = record(project)
    assert (folder / "router/requests/001.json").is_file()


def test_a_discussion_makes_one_fresh_conversation_per_turn(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {
        "data/spec.md": "Decide the greeting.\n",
        ".agents/tasks/decide.md": task_text(
            "Decide the greeting", role="developer", mode="discussion", participants=["planner", "reviewer"], rounds=2,
            inputs=["data/spec.md"], outputs=["src/hello.py"],
        ),
    })
    commit_all(project)
    api.queue(Reply.text("PLANNER-R1"), Reply.text("REVIEWER-R1"), Reply.text("PLANNER-R2"), Reply.text("REVIEWER-R2"),
              write(), finish())
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    bodies = [r.body for r in api.message_requests]
    assert len(bodies) == 6
    turns = bodies[:4]
    for body in turns:
        assert len(body["messages"]) == 1 and "tools" not in body  # a fresh conversation, no tools
        assert "Decide the greeting." in text_of(body)
    assert "You are the planner" in turns[0]["system"][0]["text"] and "You are a reviewer" in turns[1]["system"][0]["text"]
    assert "PLANNER-R1" not in text_of(turns[1])  # round 1 sees no positions
    for body in turns[2:]:
        assert "PLANNER-R1" in text_of(body) and "REVIEWER-R1" in text_of(body)
    moderator = bodies[4]
    assert "You are a careful software developer" in moderator["system"][0]["text"]
    assert "PLANNER-R2" in text_of(moderator) and "REVIEWER-R2" in text_of(moderator)
    assert "PLANNER-R1" not in text_of(moderator)
    folder, data = record(project)
    assert [(p["round"], p["role"], p["position"]) for p in data["discussion"]] == [
        (1, "planner", "PLANNER-R1"), (1, "reviewer", "REVIEWER-R1"), (2, "planner", "PLANNER-R2"), (2, "reviewer", "REVIEWER-R2")]
    assert (folder / "discussion/round-2/reviewer/requests/001.json").is_file()
    assert handoff(project, "decide")["usage"]["turns"] == 6


def test_graph_shows_the_mode_of_each_node(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "notes/a.md": "a\n",
        ".agents/tasks/fan.md": task_text("Fan", run="cp {item} out/{stem}.md", foreach="notes/*.md", inputs=["{item}"],
                                          outputs=["out/{stem}.md"]),
        ".agents/tasks/pick.md": task_text("Pick", select={"kind": "implementer"}, outputs=["p.md"], needs=["fan"],
                                           inputs=[{"handoff": "fan"}]),
        ".agents/tasks/talk.md": task_text("Talk", role="developer", mode="discussion", participants=["planner", "reviewer"],
                                           outputs=["t.md"]),
        ".agents/tasks/plain.md": task_text("Plain", run="echo > q.md", outputs=["q.md"]),
    })
    nodes = {n["id"]: n["modes"] for n in agents("-C", str(project), "graph", "--json").json["nodes"]}
    assert nodes == {"fan": ["parallel"], "pick": ["delegated", "handoff"], "talk": ["discussion"], "plain": ["sequential"]}
    assert "agent · delegated + handoff" in agents("-C", str(project), "graph").out


def test_a_routed_task_is_done_after_its_run(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {".agents/tasks/impl.md": task_text("Implement", select={"kind": "implementer"},
                                                             outputs=["src/hello.py"])})
    commit_all(project)
    api.queue(write(), finish())
    assert agents("-C", str(project), "run").code == 0
    states = {t["id"]: t for t in agents("-C", str(project), "status", "--json").json["tasks"]}
    assert states["impl"]["state"] == "done", states["impl"]["reasons"]
    assert "Nothing to do" in agents("-C", str(project), "run").err or len(api.message_requests) == 2


def test_a_malformed_verdict_is_sent_back_not_accepted(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    def checks(*items: tuple[str, str, str]) -> Reply:
        return Reply.tool_use("verdict", {"checks": [{"criterion": c, "verdict": v, "evidence": e} for c, v, e in items]})

    api.queue(write(), finish(),
              checks(("1", "fail", "no name"), ("1", "pass", "ok"), ("2", "pass", "one line")),
              checks(("3", "pass", "x"), ("1", "pass", "a"), ("2", "pass", "b")),
              checks(("1", "pass", ""), ("2", "pass", "b")),
              checks(("1", "fail", "no name"), ("2", "pass", "one line")),
              write(), finish(), verdict(("pass", "asks"), ("pass", "one")))
    assert agents("-C", str(checked), "run").code == 0
    answers = [r.body["messages"][-1]["content"][0] for r in api.message_requests[3:6]]
    assert "criterion 1 is judged twice" in answers[0]["content"]
    assert "`3` is not one of the criteria" in answers[1]["content"]
    assert "criterion 1 has no evidence" in answers[2]["content"]
    assert all(a["is_error"] for a in answers)
    meta = handoff(checked)
    assert meta["status"] == "done" and (checked / "src/hello.py").is_file()


def test_schema_errors_of_a_task_come_with_a_hint(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/talk.md": task_text("Talk", role="developer", mode="discussion",
                                                             participants=["planner"], outputs=["t.md"])})
    result = agents("-C", str(project), "validate")
    assert result.code == 2 and "needs at least two `participants`" in result.err
    assert "hint: see Task frontmatter and Execution modes in docs/convention.md" in result.err


def test_the_next_run_of_a_step_its_verifier_rejected_gets_the_verdict(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    path = checked / ".agents/tasks/hello.md"
    path.write_text(path.read_text().replace("retries: 1\n", ""))
    commit_all(checked, "no retries")
    api.queue(write("print('hello')\n"), finish("First."), verdict(("fail", "EVIDENCE-LAST-RUN: no name asked"), ("pass", "ok")))
    assert agents("-C", str(checked), "run").code == 1
    assert handoff(checked)["status"] == "rejected"
    api.queue(write("name = input()\n"), finish("Second."), verdict(("pass", "asks"), ("pass", "ok")))
    assert agents("-C", str(checked), "run").code == 0
    doer = api.message_requests[3].body
    brief = doer["messages"][0]["content"][-1]["text"]
    assert "Verdict on the previous run" in brief and "EVIDENCE-LAST-RUN: no name asked" in brief
    assert "The last attempt of run " in brief
    # The verdict is part of what the step is told, so its record keeps it and replay reproduces it.
    assert agents("-C", str(checked), "replay", "hello").code == 0


def test_log_usage_counts_each_conversation_for_the_role_that_had_it(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    def used(tokens: int) -> dict[str, int]:
        return {"input_tokens": tokens, "output_tokens": tokens // 10}

    api.queue(write(usage=used(100)), finish(usage=used(50)), verdict(("fail", "no name"), ("pass", "ok"), usage=used(30)),
              write(usage=used(200)), finish(usage=used(60)), verdict(("pass", "asks"), ("pass", "ok"), usage=used(20)))
    assert agents("-C", str(checked), "run").code == 0
    totals = agents("-C", str(checked), "log", "--usage", "--json").json["totals"]
    assert totals["all"]["input_tokens"] == 460
    by_role = totals["by_role"]
    assert by_role["developer"]["input_tokens"] == 410 and by_role["developer"]["output_tokens"] == 41
    assert by_role["reviewer"]["input_tokens"] == 50 and by_role["reviewer"]["output_tokens"] == 5
    assert by_role["reviewer"]["steps"] == 1 and by_role["reviewer"]["cost_usd"] > 0
    assert by_role["developer"]["cost_usd"] + by_role["reviewer"]["cost_usd"] == pytest.approx(totals["all"]["cost_usd"])
    text = agents("-C", str(checked), "log", "--usage").out
    assert "\n  reviewer " in text.split("by role")[1].split("by model")[0]


def test_log_usage_counts_a_discussion_for_its_participants(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {".agents/tasks/decide.md": task_text(
        "Decide", role="developer", mode="discussion", participants=["planner", "reviewer"], outputs=["src/hello.py"])})
    commit_all(project)
    api.queue(Reply.text("P", usage={"input_tokens": 11, "output_tokens": 1}),
              Reply.text("R", usage={"input_tokens": 13, "output_tokens": 1}),
              write(usage={"input_tokens": 100, "output_tokens": 10}), finish(usage={"input_tokens": 100, "output_tokens": 10}))
    assert agents("-C", str(project), "run").code == 0
    by_role = agents("-C", str(project), "log", "--usage", "--json").json["totals"]["by_role"]
    assert {name: t["input_tokens"] for name, t in by_role.items()} == {"developer": 200, "planner": 11, "reviewer": 13}


def test_retries_are_said_as_they_happen_and_a_rejection_is_not_a_failure(checked: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(Reply.error(529, "the servers are busy"), write(), finish(),
              verdict(("fail", "EVIDENCE-A: no name"), ("pass", "ok")),
              write(), finish(), verdict(("fail", "EVIDENCE-B: still none"), ("pass", "ok")))
    result = agents("-C", str(checked), "run")
    assert result.code == 1
    lines = result.err.splitlines()
    api_retry = next(line for line in lines if line.startswith("retry hello API call"))
    assert api_retry.startswith("retry hello API call, attempt 2 of 3: ") and "HTTP 529" in api_retry and "trying again in" in api_retry
    verdict_retry = next(line for line in lines if line.startswith("retry hello attempt"))
    assert verdict_retry.startswith("retry hello attempt 2 of 2: the verifier `reviewer` failed 1 criterion")
    assert "EVIDENCE-A" in verdict_retry
    order = [line.split()[0] for line in lines if line.split() and line.split()[0] in ("run", "retry", "rejected")]
    assert order == ["run", "retry", "retry", "rejected"]
    assert result.out.startswith("1 step: 0 done, 1 rejected in ") and "failed" not in result.out
