"""`executor: claude-code` (and `auto` without an API key) with a stand-in `claude` on PATH that behaves as
the real one's documented JSON output does."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import ROOT, git, task_text, write_files

BIN = ROOT / "tests" / "bin"


@pytest.fixture
def with_claude(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", f"{BIN}{os.pathsep}{os.environ['PATH']}")
    script = tmp_path / "script.json"
    log = tmp_path / "log.jsonl"
    monkeypatch.setenv("FAKE_CLAUDE_SCRIPT", str(script))
    monkeypatch.setenv("FAKE_CLAUDE_LOG", str(log))

    def configure(**data: object) -> Path:
        script.write_text(json.dumps(data))
        return log

    return configure


@pytest.fixture
def hello(project: Path) -> Path:
    write_files(project, {
        "data/spec.md": "Print hello.\n",
        "secret.txt": "do not read\n",
        ".agents/tasks/hello.md": task_text(
            "Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
            acceptance=[{"run": "python3 src/hello.py | grep -q hello"}],
        ),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    return project


def test_auto_without_a_key_uses_claude_in_a_clean_sandbox(hello: Path, agents, with_claude) -> None:  # type: ignore[no-untyped-def]
    log = with_claude(write={"src/hello.py": "print('hello')\n"}, result="Wrote src/hello.py.", cost=0.0123)
    result = agents("-C", str(hello), "run")
    assert result.code == 0, result.err
    assert (hello / "src/hello.py").read_text() == "print('hello')\n"
    call = json.loads(log.read_text().splitlines()[0])
    assert call["files"] == ["data/spec.md"]  # only the declared input is in its folder
    assert "Print hello." in call["prompt"] and "do not read" not in call["prompt"]
    assert call["argv"][call["argv"].index("--output-format") + 1] == "json"
    assert "You are a careful software developer" in call["argv"][call["argv"].index("--append-system-prompt") + 1]
    handoff = (hello / ".agents/handoffs/hello.md").read_text()
    assert "executor: claude-code" in handoff and "cost_usd: 0.0123" in handoff and "role: developer" in handoff
    assert "Wrote src/hello.py." in handoff
    message = git(hello, "log", "-1", "--format=%B")
    assert "Agents-Role: developer" in message and "Agents-Model: claude-sonnet-4-6" in message


def test_claude_writing_outside_its_outputs_fails_the_step(hello: Path, agents, with_claude) -> None:  # type: ignore[no-untyped-def]
    with_claude(write={"src/hello.py": "print('hello')\n", "notes.txt": "extra"})
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "wrote undeclared files: notes.txt" in result.err
    assert not (hello / "src/hello.py").exists()


def test_claude_errors_are_step_failures(hello: Path, agents, with_claude) -> None:  # type: ignore[no-untyped-def]
    with_claude(is_error=True, subtype="error_max_turns", exit=1)
    result = agents("-C", str(hello), "run")
    assert result.code == 1 and "invalid_output: claude ended with error_max_turns" in result.err


def test_no_key_and_no_claude_fails_before_anything_runs(hello: Path, agents, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    head = git(hello, "rev-parse", "HEAD")
    result = agents("-C", str(hello), "run")
    assert result.code == 2
    assert "needs a model, and none is configured" in result.err and "ANTHROPIC_API_KEY" in result.err
    assert git(hello, "rev-parse", "HEAD") == head


def test_claude_is_briefed_for_its_own_tools_and_is_not_replayed(hello: Path, agents, with_claude) -> None:  # type: ignore[no-untyped-def]
    log = with_claude(write={"src/hello.py": "print('hello')\n"})
    assert agents("-C", str(hello), "run").code == 0
    prompt = json.loads(log.read_text().splitlines()[0])["prompt"]
    assert "write_file" not in prompt and "`finish`" not in prompt and "with your file tools" in prompt
    shown = agents("-C", str(hello), "show", "hello", "--context").out
    assert "carried out by Claude Code" in shown and "with your file tools" in shown and "tools: none" in shown
    replay = agents("-C", str(hello), "replay", "hello")
    assert replay.code == 2 and "cannot be replayed offline" in replay.err


def test_executor_claude_code_without_claude_stops_before_anything_runs(hello: Path, agents, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-test-0123456789")
    task = hello / ".agents/tasks/hello.md"
    task.write_text(task.read_text().replace("role: developer", "role: developer\nexecutor: claude-code"))
    result = agents("-C", str(hello), "run")
    assert result.code == 2 and "`claude` is not on PATH" in result.err and "hint:" in result.err
    assert not (hello / ".agents/handoffs/hello.md").exists()
