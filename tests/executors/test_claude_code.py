"""`executor: claude-code` with the REAL Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned), pointed
at the local Messages API of tests/fake_anthropic.py, which also stands as the only proxy, so any attempt
to reach the internet is refused and seen. The fake's scripted tool_use answers play a hostile model:
reading undeclared files, writing outside the sandbox, a shell. `.ci/run` installs the CLI into
.ci/claude/; elsewhere set AGENTS_TEST_CLAUDE to a `claude` of the pinned version, or these tests skip."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import pytest
from claude_cli import PINNED, claude_api, needs_claude, setup  # noqa: F401 (claude_api is the fixture `api`)
from conftest import KEY, git, task_text, write_files
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply


def _os_sandbox() -> bool:
    from agentfiles.executors.isolation import choose_mode

    return choose_mode("auto")[0] == "os"


ISOLATIONS = [pytest.param("os", marks=pytest.mark.skipif(not _os_sandbox(), reason="the OS sandbox cannot run here")),
              "folder"]


def write(path: str, content: str = "print('hello')\n") -> Reply:
    return Reply.tool_use("Write", {"file_path": path, "content": content})


def every(reply: Reply):  # type: ignore[no-untyped-def]
    """The same answer to every request (for errors claude retries)."""
    return [lambda request: reply] * 40


def handoff(root: Path, task: str = "hello") -> tuple[dict[str, Any], str]:
    from agentfiles.storage.documents import parse_document

    doc = parse_document((root / f".agents/handoffs/{task}.md").read_text())
    return doc.meta, doc.body


def record(root: Path, task: str = "hello") -> tuple[Path, dict[str, Any]]:
    run = handoff(root, task)[0]["run"]
    folder = root / ".agents/runs" / run
    return folder, json.loads((folder / "record.json").read_text())


def seen(request: RecordedRequest) -> str:
    return json.dumps(request.body, ensure_ascii=False)


def tools_offered(request: RecordedRequest) -> set[str]:
    return {t["name"] for t in request.body.get("tools") or []} - {"DeferredToolPlaceholder"}  # claude's inert marker


def tool_results(api: FakeAnthropic) -> list[str]:
    """What claude answered to each tool call, in order."""
    out = []
    for request in api.message_requests[1:]:
        for block in request.body["messages"][-1]["content"]:
            if isinstance(block, dict) and block.get("type") == "tool_result":
                content = block.get("content")
                out.append(content if isinstance(content, str) else json.dumps(content))
    return out


def home() -> Path:
    return Path(os.environ["HOME"])


# ---------------------------------------------------------------------------------------- a doer


@needs_claude
def test_a_doer_step_completes_with_usage_and_cost_from_claude(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project)
    api.queue(write("src/hello.py"), Reply.text("Wrote src/hello.py."))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert (project / "src/hello.py").read_text() == "print('hello')\n"
    meta, body = handoff(project)
    folder, rec = record(project)
    answer = json.loads((folder / "responses/001.json").read_text())
    assert meta["executor"] == "claude-code" and "Wrote src/hello.py." in body
    # A handoff records cost to a millionth of a dollar (core/conversation.add_usage); claude's has more places.
    assert answer["total_cost_usd"] > 0 and meta["usage"]["cost_usd"] == pytest.approx(answer["total_cost_usd"], abs=1e-6)
    assert meta["usage"]["input_tokens"] == answer["usage"]["input_tokens"] > 0 and meta["usage"]["turns"] == 2
    first = api.message_requests[0]
    assert first.api_key == KEY and first.model == "claude-sonnet-4-6"
    assert "Print hello." in seen(first) and "PRIVATE-CONTENT" not in seen(first)
    assert "You are a careful software developer" in seen(first)  # the role's prompt, appended to claude's
    assert "with your file tools" in seen(first) and "write_file" not in seen(first)
    assert tools_offered(first) == {"Read", "Glob", "Grep", "Write", "Edit"}  # no Bash, Agent, Skill, web...
    argv = rec["argv"]
    assert argv[argv.index("--tools") + 1] == "Read,Glob,Grep,Write,Edit"
    settings = json.loads(argv[argv.index("--settings") + 1])
    assert settings["permissions"] == {"defaultMode": "dontAsk", "allow": ["Read(./**)", "Edit(./src/hello.py)"]}
    for flag in ("--strict-mcp-config", "--no-session-persistence", "--setting-sources", "--max-budget-usd"):
        assert flag in argv
    assert argv[argv.index("--setting-sources") + 1] == "" and argv[argv.index("--max-budget-usd") + 1] == "1"
    assert rec["claude"]["version"] == PINNED and rec["claude"]["timeout_s"] == 1800
    assert "ANTHROPIC_API_KEY" in rec["env"] and "ANTHROPIC_API_KEY" not in rec["env_withheld"]
    assert KEY not in json.dumps(rec) and not (home() / ".claude").exists()
    replay = agents("-C", str(project), "replay", "hello")
    assert replay.code == 2 and "cannot be replayed offline" in replay.err


@needs_claude
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_escapes_are_refused_recorded_and_change_nothing(project: Path, api: FakeAnthropic, agents,  # type: ignore[no-untyped-def]
                                                          tmp_path: Path, isolation: str, monkeypatch) -> None:
    monkeypatch.setenv("DEPLOY_TOKEN", "deploy-token-value-0123456789")
    root = setup(project, isolation, env=["DEPLOY_TOKEN"]).resolve()
    outside = tmp_path / "outside"
    outside.mkdir()
    api.queue(
        Reply.tool_use("Read", {"file_path": f"{root}/private.txt"}),
        Reply.tool_use("Read", {"file_path": "../../private.txt"}),
        Reply.tool_use("Grep", {"pattern": "PRIVATE", "path": str(root), "output_mode": "content"}),
        write(f"{outside}/planted.txt", "planted"),
        Reply.tool_use("Edit", {"file_path": f"{root}/tracked.md", "old_string": "tracked", "new_string": "EDITED"}),
        write(f"{root}/tracked.md", "OVERWRITTEN"),
        Reply.tool_use("Bash", {"command": f"cat {root}/private.txt > src/hello.py; env > env.txt"}),
        write("notes.txt", "an undeclared file"),
        write("src/hello.py"),
        Reply.text("Done."),
    )
    head = git(root, "rev-parse", "HEAD").strip()
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.err
    assert not any("PRIVATE-CONTENT" in seen(r) for r in api.message_requests)  # the model never saw it
    results = tool_results(api)
    assert "No such tool available: Bash" in results[6]
    assert not (outside / "planted.txt").exists()
    assert (root / "tracked.md").read_text() == "tracked\n" and not (root / "notes.txt").exists()
    changed = git(root, "diff", "--name-only", head, "HEAD").split()
    assert {c for c in changed if not c.startswith(".agents/runs/")} == {".agents/handoffs/hello.md", "src/hello.py"}
    assert git(root, "status", "--porcelain") == ""
    meta, body = handoff(root)
    _, rec = record(root)
    assert meta["isolation"] == isolation and rec["isolation"]["mode"] == isolation and rec["isolation"]["network"]
    refused = {(d["tool"], d["target"]) for d in rec["permission_denials"]}
    assert {("Read", f"{root}/private.txt"), ("Grep", str(root)), ("Write", f"{outside}/planted.txt"),
            ("Write", "notes.txt")} <= refused
    assert "## Refused by Claude Code" in body and f"Write `{outside}/planted.txt`" in body
    assert ("bwrap" in rec["argv"][0]) == (isolation == "os")
    assert "DEPLOY_TOKEN" in rec["env_withheld"] and "DEPLOY_TOKEN" not in rec["env"]  # no shell: no use for it
    assert not (home() / ".claude").exists() and not (home() / ".claude.json").exists()


@needs_claude
@pytest.mark.parametrize("isolation", ISOLATIONS)
def test_the_users_and_the_projects_claude_settings_and_memory_have_no_effect(  # type: ignore[no-untyped-def]
    project: Path, api: FakeAnthropic, agents, tmp_path: Path, isolation: str
) -> None:
    opened = {"permissions": {"allow": ["Read", "Edit", "Write", "Bash", "Read(//**)", "Edit(//**)"],
                              "defaultMode": "bypassPermissions"},
              "hooks": {"SessionStart": [{"hooks": [{"type": "command", "command": f"touch {tmp_path}/hooked"}]}]}}
    planted = {".claude/CLAUDE.md": "USER-MEMORY-MARKER\n", ".claude/settings.json": json.dumps(opened)}
    write_files(home(), planted)
    write_files(tmp_path, {"CLAUDE.local.md": "PARENT-MEMORY-MARKER\n"})
    write_files(project, {".claude/settings.json": json.dumps(opened), ".claude/settings.local.json": json.dumps(opened)})
    root = setup(project, isolation, inputs=["data/spec.md", ".claude/settings.json", ".claude/settings.local.json"]).resolve()
    api.queue(Reply.tool_use("Read", {"file_path": f"{root}/private.txt"}),
              Reply.tool_use("Bash", {"command": "true"}), write("src/hello.py"), Reply.text("Done."))
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.err
    for request in api.message_requests:
        assert "MEMORY-MARKER" not in seen(request) and "PRIVATE-CONTENT" not in seen(request)
        assert tools_offered(request) == {"Read", "Glob", "Grep", "Write", "Edit"}
    _, rec = record(root)
    assert [d["tool"] for d in rec["permission_denials"]] == ["Read"]
    assert "No such tool available: Bash" in tool_results(api)[1]
    files = sorted(str(p.relative_to(home())) for p in home().rglob("*") if p.is_file())
    assert files == sorted(planted) and (home() / ".claude/settings.json").read_text() == json.dumps(opened)
    assert not (tmp_path / "hooked").exists()


@needs_claude
@pytest.mark.skipif(not _os_sandbox(), reason="the OS sandbox cannot run here")
def test_a_coding_step_gets_bash_inside_the_os_sandbox_and_edits_under_its_glob(  # type: ignore[no-untyped-def]
    project: Path, api: FakeAnthropic, agents
) -> None:
    write_files(project, {
        ".agents/roles/coder.md": "---\nname: coder\ndescription: Changes code.\ntools: Read, Edit, Write, Bash\n---\n"
                                  "You change code.\n",
        "src/pkg/core.py": "def add(a, b):\n    return a - b\n",
        "tests/test_core.py": "import sys\nsys.path.insert(0, 'src')\nfrom pkg.core import add\nassert add(2, 3) == 5\n",
    })
    root = setup(project, "auto", role="coder", inputs=["tests/test_core.py"], outputs=["src/pkg/**/*.py"],
                 network=True).resolve()
    api.queue(
        Reply.tool_use("Bash", {"command": "python3 tests/test_core.py; echo EXIT=$?"}),
        Reply.tool_use("Read", {"file_path": "src/pkg/core.py"}),
        Reply.tool_use("Edit", {"file_path": "src/pkg/core.py", "old_string": "a - b", "new_string": "a + b"}),
        Reply.tool_use("Bash", {"command": "python3 tests/test_core.py && echo PASSED; cat private.txt; "
                                           "echo x >> tests/test_core.py; touch src/pkg/cache.bin; rm src/pkg/gone.py"}),
        Reply.text("add() adds now."),
    )
    write_files(root, {"src/pkg/gone.py": "GONE = 1\n"})
    git(root, "add", "-A")
    git(root, "commit", "-qm", "gone")
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.err
    first = api.message_requests[0]
    assert tools_offered(first) == {"Read", "Glob", "Grep", "Write", "Edit", "Bash"}
    results = tool_results(api)
    assert "AssertionError" in results[0] and "EXIT=1" in results[0]
    assert "PASSED" in results[3] and "PRIVATE-CONTENT" not in results[3] and "Read-only file system" in results[3]
    assert (root / "src/pkg/core.py").read_text() == "def add(a, b):\n    return a + b\n"
    assert not (root / "src/pkg/gone.py").exists() and not (root / "src/pkg/cache.bin").exists()
    meta, _ = handoff(root)
    assert meta["deleted"] == ["src/pkg/gone.py"] and list(meta["outputs"]) == ["src/pkg/core.py"]
    _, rec = record(root)
    assert rec["discarded"] == ["src/pkg/cache.bin"]
    settings = json.loads(rec["argv"][rec["argv"].index("--settings") + 1])
    assert settings["permissions"]["allow"] == ["Read(./**)", "Edit(./src/pkg/**/*.py)", "Bash"]


@needs_claude
@pytest.mark.skipif(not _os_sandbox(), reason="the OS sandbox cannot run here")
def test_claude_code_gets_no_bash_unless_the_task_may_use_the_network(  # type: ignore[no-untyped-def]
    project: Path, api: FakeAnthropic, agents
) -> None:
    """claude's commands would share the network it keeps for its API, and reach the credentials it runs with."""
    write_files(project, {".agents/roles/coder.md": "---\nname: coder\ndescription: Changes code.\n"
                                                    "tools: Read, Edit, Write, Bash\n---\nYou change code.\n"})
    root = setup(project, "auto", role="coder", outputs=["src/pkg/**/*.py"]).resolve()
    api.queue(Reply.text("Nothing to run."))
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.err
    assert tools_offered(api.message_requests[0]) == {"Read", "Glob", "Grep", "Write", "Edit"}
    _, rec = record(root)
    assert "network: true" in rec["refused_tools"]["Bash"] and "credentials" in rec["refused_tools"]["Bash"]


# -------------------------------------------------------------------------------------- a verifier


@needs_claude
def test_a_verifier_answers_through_structured_output_and_its_cost_counts(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project, inputs=[{"path": "data/spec.md", "view": "outline"}], acceptance=["It prints a greeting"])
    checks = {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "it prints hello"}]}
    api.queue(write("src/hello.py"), Reply.text("Wrote it."), Reply.tool_use("StructuredOutput", checks))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    meta, _ = handoff(project)
    folder, rec = record(project)
    assert meta["verification"]["checks"] == [
        {"criterion": "It prints a greeting", "verdict": "pass", "evidence": "it prints hello"}]
    doer = json.loads((folder / "responses/001.json").read_text())["total_cost_usd"]
    verifier = json.loads((folder / "verifier/responses/001.json").read_text())["total_cost_usd"]
    assert verifier > 0 and meta["usage"]["cost_usd"] == pytest.approx(doer + verifier, abs=1e-6)  # to a millionth
    assert rec["verifier"]["usage"]["cost_usd"] == pytest.approx(verifier, abs=1e-6)
    asked = api.message_requests[2]
    assert "You are a reviewer" in seen(asked) and "print('hello')" in seen(asked)
    assert tools_offered(asked) == {"StructuredOutput", "Read", "Glob", "Grep"}  # Read: the outlined input's full text
    schema = next(t for t in asked.body["tools"] if t["name"] == "StructuredOutput")["input_schema"]
    assert schema["required"] == ["checks"] and "by calling the StructuredOutput tool once" in seen(asked)
    assert not (home() / ".claude").exists()


@needs_claude
def test_a_verifier_that_gives_no_verdict_fails_the_step_and_its_cost_still_counts(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project, acceptance=["It prints a greeting"])
    api.queue(write("src/hello.py"), Reply.text("Wrote it."), Reply.text("Looks fine to me."), Reply.text("Really."))
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "invalid_output: the verifier: claude gave no verdict" in result.err
    meta, _ = handoff(project)
    folder, _ = record(project)
    doer = json.loads((folder / "responses/001.json").read_text())["total_cost_usd"]
    verifier = json.loads((folder / "verifier/responses/001.json").read_text())["total_cost_usd"]
    assert verifier > 0 and meta["usage"]["cost_usd"] == pytest.approx(doer + verifier, abs=1e-6)  # to a millionth
    assert not (project / "src/hello.py").exists()


@needs_claude
def test_a_router_and_a_discussion_through_claude_code(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project)
    write_files(project, {
        ".agents/roles/writer.md": "---\nname: writer\ndescription: Writes prose.\nagents:\n  labels: {kind: implementer}\n"
                                   "---\nYou write.\n",
        ".agents/tasks/impl.md": task_text("Implement", select={"kind": "implementer"}, route="model", outputs=["a.md"]),
        ".agents/tasks/decide.md": task_text("Decide", role="developer", mode="discussion",
                                             participants=["planner", "reviewer"], inputs=["data/spec.md"], outputs=["d.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "routed and discussed")
    api.queue(Reply.tool_use("StructuredOutput", {"role": "writer", "reason": "the output is prose"}),
              write("a.md", "prose\n"), Reply.text("Wrote a.md."))
    result = agents("-C", str(project), "run", "impl")
    assert result.code == 0, result.err
    router = api.message_requests[0]
    assert tools_offered(router) == {"StructuredOutput"} and "by calling the StructuredOutput tool once" in seen(router)
    schema = router.body["tools"][-1]["input_schema"]
    assert set(schema["properties"]["role"]["enum"]) == {"developer", "writer"}
    assert "You write." in seen(api.message_requests[1])
    routing = handoff(project, "impl")[0]["routing"]
    assert routing["role"] == "writer" and routing["reason"] == "the output is prose"
    api.clear()
    api.queue(Reply.text("PLANNER-R1"), Reply.text("REVIEWER-R1"), write("d.md", "decided\n"), Reply.text("Wrote d.md."))
    result = agents("-C", str(project), "run", "decide")
    assert result.code == 0, result.err
    turns = api.message_requests[:2]
    assert all(tools_offered(t) == set() for t in turns) and "PLANNER-R1" in seen(api.message_requests[2])
    _, rec = record(project, "decide")
    assert [p["position"] for p in rec["discussion"]] == ["PLANNER-R1", "REVIEWER-R1"]


# ------------------------------------------------------------------------------ failures, named


@needs_claude
@pytest.mark.parametrize(("status", "message", "expected"), [
    (400, "messages.0: the fake endpoint rejects this request",
     "400 (invalid_request_error): API Error: 400 messages.0: the fake endpoint rejects this request"),
    (401, "invalid x-api-key", "401 (authentication_error): Invalid API key"),
])
def test_api_errors_end_quickly_with_kind_api_and_the_error(project: Path, api: FakeAnthropic, agents,  # type: ignore[no-untyped-def]
                                                             status: int, message: str, expected: str) -> None:
    setup(project)
    api.queue(*every(Reply.error(status, message)))
    result = agents("-C", str(project), "run")
    assert result.code == 1 and f"api: the API answered {expected}" in result.err
    meta, body = handoff(project)
    assert meta["failure"]["kind"] == "api" and expected in meta["failure"]["detail"] and expected in body
    # `api.retries: 1` is claude's retry count: a 401 is asked twice; a 400 also once more with fewer features each
    assert len(api.message_requests) <= (2 if status == 401 else 6)


@needs_claude
def test_a_budget_stops_claude_and_what_it_spent_is_recorded(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project, budget={"usd": 0.0001})
    api.queue(Reply.tool_use("Read", {"file_path": "data/spec.md"}), write("src/hello.py"), Reply.text("Done."))
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "budget: claude stopped at its budget: Reached maximum budget ($0.0001)" in result.err
    meta, _ = handoff(project)
    _, rec = record(project)
    assert meta["usage"]["cost_usd"] > 0.0001 and rec["argv"][rec["argv"].index("--max-budget-usd") + 1] == "0.0001"
    assert len(api.message_requests) == 1


@needs_claude
def test_the_turn_limit_and_the_timeout_are_named(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    setup(project, max_turns=1)
    api.queue(Reply.tool_use("Read", {"file_path": "data/spec.md"}), Reply.tool_use("Read", {"file_path": "data/spec.md"}))
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "invalid_output: claude ended with error_max_turns" in result.err
    task = project / ".agents/tasks/hello.md"
    task.write_text(task.read_text().replace("max_turns: 1", "timeout: 3"))
    git(project, "commit", "-qam", "a timeout")
    api.queue(Reply.stall(60, after_events=None))
    started = time.monotonic()
    result = agents("-C", str(project), "run", "--force")
    assert result.code == 1 and "hang: claude still running after 3 s" in result.err
    assert time.monotonic() - started < 50  # the stall (60 s) was cut short, not waited out


# ----------------------------------------------------------------------------- logging in


@needs_claude
def test_a_logged_in_claude_code_works_with_its_access_token_and_nothing_else(  # type: ignore[no-untyped-def]
    project: Path, api: FakeAnthropic, agents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    token = "sk-ant-oat01-test-login-token-0123456789"
    login = {"claudeAiOauth": {"accessToken": token, "refreshToken": "sk-ant-ort01-never-leaves-home",
                               "expiresAt": int((time.time() + 3600) * 1000), "scopes": ["user:inference"]}}
    write_files(home(), {".claude/.credentials.json": json.dumps(login)})
    setup(project)
    api.queue(write("src/hello.py"), Reply.text("Done."))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert all(r.api_key == token for r in api.message_requests)
    _, rec = record(project)
    assert "CLAUDE_CODE_OAUTH_TOKEN" in rec["env"] and "login" in rec["claude"]["credentials"]
    assert token not in git(project, "log", "-p", "--all")
    assert sorted(p.name for p in (home() / ".claude").iterdir()) == [".credentials.json"]
    login["claudeAiOauth"]["expiresAt"] = int((time.time() - 60) * 1000)
    write_files(home(), {".claude/.credentials.json": json.dumps(login)})
    expired = agents("-C", str(project), "run", "--force")
    assert expired.code == 2 and "has expired" in expired.err and "run `claude` once" in expired.err


@needs_claude
def test_auto_without_a_key_or_endpoint_uses_claude_and_names_a_missing_login(  # type: ignore[no-untyped-def]
    project: Path, api: FakeAnthropic, agents, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.delenv("ANTHROPIC_BASE_URL")  # so `auto` picks claude, which must not go anywhere: the proxy refuses
    setup(project)
    config = project / ".agents/config.yaml"
    config.write_text(config.read_text().replace("executor: claude-code", "executor: auto"))
    git(project, "commit", "-qam", "auto")
    result = agents("-C", str(project), "run")
    assert result.code == 1 and "api: claude could not use the API: Not logged in" in result.err
    assert handoff(project)[0]["executor"] == "claude-code" and api.requests == []


# ------------------------------------------------------------------- before anything runs


def test_no_key_and_no_claude_fails_before_anything_runs(project: Path, agents, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    setup(project, role="developer")
    config = project / ".agents/config.yaml"
    config.write_text(config.read_text().replace("executor: claude-code", "executor: auto"))
    git(project, "commit", "-qam", "auto")
    head = git(project, "rev-parse", "HEAD")
    result = agents("-C", str(project), "run")
    assert result.code == 2
    assert "needs a model, and none is configured" in result.err and "ANTHROPIC_API_KEY" in result.err
    assert git(project, "rev-parse", "HEAD") == head


def test_executor_claude_code_without_claude_stops_before_anything_runs(project: Path, agents, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    setup(project)
    result = agents("-C", str(project), "run")
    assert result.code == 2 and "`claude` is not on PATH" in result.err and "hint:" in result.err
    assert not (project / ".agents/handoffs/hello.md").exists()


def test_a_claude_without_the_flags_that_confine_it_is_refused(project: Path, agents, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    old = tmp_path / "old" / "claude"
    old.parent.mkdir()
    old.write_text("#!/bin/sh\n[ \"$1\" = --version ] && echo '1.0.0 (Claude Code)' && exit 0\n"
                   "echo 'Usage: claude [options]  --allowedTools <tools...>  --disallowed-tools <tools...>'\n")
    old.chmod(0o755)
    monkeypatch.setenv("PATH", f"{old.parent}{os.pathsep}/usr/bin:/bin")
    setup(project)
    result = agents("-C", str(project), "run")
    assert result.code == 2 and "Claude Code 1.0.0" in result.err and "lacks --tools, --permission-mode" in result.err
    assert "update Claude Code" in result.err and not (project / ".agents/handoffs/hello.md").exists()


# ------------------------------------------------------------- reading claude's answer (no CLI needed)


def session(data: dict[str, Any] | None, code: int | None = 0, stderr: str = "", timed_out: bool = False):  # type: ignore[no-untyped-def]
    from agentfiles.executors.claude_session import Session

    return Session(argv=[], env={}, code=code, data=data, stderr=stderr, timed_out=timed_out)


@pytest.mark.parametrize(("data", "code", "expected"), [
    ({"is_error": True, "subtype": "success", "api_error_status": 400, "api_error_type": "invalid_request_error",
      "result": "API Error: 400 bad"}, 1, ("api", "the API answered 400 (invalid_request_error): API Error: 400 bad")),
    ({"is_error": True, "subtype": "success", "api_error_status": None, "terminal_reason": "api_error",
      "result": "Not logged in · Please run /login"}, 1, ("api", "claude could not use the API: Not logged in · Please run /login")),
    ({"is_error": True, "subtype": "error_max_budget_usd", "errors": ["Reached maximum budget ($0.01)"],
      "total_cost_usd": 0.011}, 1, ("budget", "claude stopped at its budget: Reached maximum budget ($0.01) (spent $0.0110)")),
    ({"is_error": True, "subtype": "error_max_turns", "errors": ["Reached maximum number of turns (2)"]}, 1,
     ("invalid_output", "claude ended with error_max_turns: Reached maximum number of turns (2)")),
    ({"is_error": True, "subtype": "error_during_execution", "errors": ["boom"]}, 1,
     ("crash", "claude ended with error_during_execution (exit 1): boom")),
    ({"is_error": False, "subtype": "success", "result": "it said so"}, 1, ("crash", "claude ended with success (exit 1): it said so")),
    ({"is_error": False, "subtype": "success", "result": "Done."}, 0, None),
])
def test_failures_are_read_from_claudes_json(data: dict[str, Any], code: int, expected: tuple[str, str] | None) -> None:
    from agentfiles.executors.claude_code import failure_of

    assert failure_of(session(data, code), 60) == expected


def test_no_answer_and_a_timeout_are_named() -> None:
    from agentfiles.executors.claude_code import failure_of

    assert failure_of(session(None, 2, "first\nerror: unknown option '--tools'\n"), 60) == (
        "crash", "claude gave no JSON result (exit 2): error: unknown option '--tools'")
    assert failure_of(session(None, None, timed_out=True), 90)[0] == "hang"  # type: ignore[index]


def test_the_lockdown_allows_reading_the_folder_and_writing_only_the_outputs() -> None:
    from agentfiles.executors.claude_session import lockdown

    args = lockdown(True, ["src/a (1).py", "out.md"])
    assert args[args.index("--tools") + 1] == "Read,Glob,Grep,Write,Edit"
    assert json.loads(args[args.index("--settings") + 1]) == {
        "permissions": {"defaultMode": "dontAsk", "allow": ["Read(./**)", "Edit(./src/a (1).py)", "Edit(./out.md)"]},
        "disableAllHooks": True}
    coding = lockdown(True, ["src/pkg/**/*.py"], ["Read", "Glob", "Grep", "Write", "Edit", "Bash"])
    assert coding[coding.index("--tools") + 1] == "Read,Glob,Grep,Write,Edit,Bash"
    assert json.loads(coding[coding.index("--settings") + 1])["permissions"]["allow"] == [
        "Read(./**)", "Edit(./src/pkg/**/*.py)", "Bash"]
    bare = lockdown(False, [])
    assert bare[bare.index("--tools") + 1] == "" and json.loads(bare[bare.index("--settings") + 1])["permissions"]["allow"] == []
    for flag in ("--setting-sources", "--strict-mcp-config", "--no-session-persistence", "--permission-mode"):
        assert flag in bare


def test_the_login_is_the_users_variables_else_the_access_token_of_their_claude_login(tmp_path: Path) -> None:
    from agentfiles.errors import PreconditionError
    from agentfiles.executors.claude_session import login

    assert login({"HOME": str(tmp_path)}) == ({}, "none found")
    assert login({"HOME": str(tmp_path), "ANTHROPIC_API_KEY": "k", "ANTHROPIC_MODEL": "x"}) == (
        {"ANTHROPIC_API_KEY": "k"}, "ANTHROPIC_API_KEY")
    future = int((time.time() + 60) * 1000)
    write_files(tmp_path, {"conf/.credentials.json": json.dumps(
        {"claudeAiOauth": {"accessToken": "tok", "refreshToken": "r", "expiresAt": future}})})
    env, said = login({"HOME": str(tmp_path), "CLAUDE_CONFIG_DIR": str(tmp_path / "conf")})
    assert env == {"CLAUDE_CODE_OAUTH_TOKEN": "tok"} and str(tmp_path / "conf") in said
    write_files(tmp_path, {".claude/.credentials.json": json.dumps({"claudeAiOauth": {"accessToken": "t", "expiresAt": 1}})})
    with pytest.raises(PreconditionError, match="has expired"):
        login({"HOME": str(tmp_path)})
    write_files(tmp_path, {".claude/.credentials.json": "not json"})
    assert login({"HOME": str(tmp_path)}) == ({}, "none found")


def test_denials_name_the_tool_and_its_target_relative_to_the_folder() -> None:
    from agentfiles.executors.claude_code import denials

    data = {"permission_denials": [
        {"tool_name": "Write", "tool_input": {"file_path": "/sb/work/notes.txt", "content": "x"}},
        {"tool_name": "Read", "tool_input": {"file_path": "/repo/private.txt"}},
        {"tool_name": "Grep", "tool_input": {"pattern": "x", "path": "/repo"}},
        "not a denial",
    ]}
    assert denials(data, Path("/sb/work")) == [
        {"tool": "Write", "target": "notes.txt"}, {"tool": "Read", "target": "/repo/private.txt"},
        {"tool": "Grep", "target": "/repo"}]
