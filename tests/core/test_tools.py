"""The doer's tools on a step's folder: which a role allows, and what each call does or says when refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentfiles.core.context import StepContext
from agentfiles.core.conversation import Limits, Outcome
from agentfiles.core.tool_calls import DoerTools
from agentfiles.core.tool_names import ALL, tool_problem
from agentfiles.core.tools import RunResult, capped, claude_tools, offered_tools, tool_schemas


def test_a_role_allows_tools_by_our_names_or_claude_codes() -> None:
    assert offered_tools(None, ["src/**/*.py"]) == list(ALL)  # no `tools:`: all, as Claude Code gives a subagent
    assert offered_tools("Read, Write", ["out.md"]) == ["read_file", "list_files", "search", "write_file", "edit_file"]
    assert offered_tools("Read, Write", ["src/**"]) == [
        "read_file", "list_files", "search", "write_file", "edit_file", "delete_file"]
    assert offered_tools(["Grep", "Bash", "WebFetch"], ["out.md"]) == ["read_file", "search", "run"]
    assert offered_tools("edit_file, run", []) == ["read_file", "run"]  # no outputs: nothing to write
    assert [t["name"] for t in tool_schemas(["read_file", "run"])] == ["read_file", "run", "finish"]
    assert claude_tools(["read_file", "list_files", "search", "write_file", "edit_file", "run"], shell=True) == [
        "Read", "Glob", "Grep", "Write", "Edit", "Bash"]
    assert claude_tools(["read_file", "run", "delete_file"], shell=False) == ["Read"]  # no Bash without the OS sandbox
    # Bash only when the role gives a shell: deleting under a glob does not bring it (a role denying Bash got it)
    assert claude_tools(offered_tools(None, ["src/**"], "Bash"), shell=True) == ["Read", "Glob", "Grep", "Write", "Edit"]
    assert claude_tools(offered_tools("Read, Write", ["src/**"]), shell=True) == ["Read", "Glob", "Grep", "Write", "Edit"]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    for rel, text in {"src/pkg/core.py": "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n",
                      "src/pkg/old.py": "OLD = 1\n", "docs/spec.md": "Add adds.\n"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def tools_for(folder: Path, **kwargs) -> DoerTools:  # type: ignore[no-untyped-def]
    context = StepContext(system=["s"], brief="b", full_inputs={"docs/spec.md": "Add adds.\n"})
    return DoerTools(context, kwargs.pop("outputs", ["src/pkg/**/*.py", "NOTES.md"]), folder, Limits(max_turns=5),
                     kwargs.pop("offered", list(ALL)), **kwargs)


def call(tools: DoerTools, name: str, outcome: Outcome | None = None, **args: object) -> tuple[str, bool]:
    text, error, _ = tools.handle({"id": "t", "name": name, "input": args}, outcome or Outcome(ok=False))
    return text, error


def test_edit_file_replaces_one_exact_unique_string_or_says_why_not(folder: Path) -> None:
    tools = tools_for(folder)
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="return a - b", new_string="return a + b")
    assert error and text.startswith("not unique: `old_string` occurs 2 times in `src/pkg/core.py` (at lines 2, 6)")
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="def add(a, b):\n    return a - b",
                       new_string="def add(a, b):\n    return a + b")
    assert not error and text == "edited `src/pkg/core.py`: replaced at line 1"
    assert (folder / "src/pkg/core.py").read_text().startswith("def add(a, b):\n    return a + b\n")
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="def  add(a,b):", new_string="x")
    assert error and text.startswith("not found: `old_string` does not occur in `src/pkg/core.py`")
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="return  a  -  b", new_string="x")
    assert error and "differs only in whitespace" in text
    assert call(tools, "edit_file", path="docs/spec.md", old_string="Add", new_string="Sum")[0].startswith(
        "refused: `docs/spec.md` is not a declared output")
    assert call(tools, "edit_file", path="src/pkg/none.py", old_string="a", new_string="b")[0] == (
        "refused: `src/pkg/none.py` does not exist; create it with write_file")
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="a - b", new_string="b - a", replace_all=True)
    assert (text, error) == ("edited `src/pkg/core.py`: replaced at line 6", False)
    text, error = call(tools, "edit_file", path="src/pkg/core.py", old_string="(a, b)", new_string="(x, y)", replace_all=True)
    assert (text, error) == ("edited `src/pkg/core.py`: replaced 2 occurrences", False)


def test_delete_list_and_search(folder: Path) -> None:
    tools = tools_for(folder)
    outcome = Outcome(ok=False)
    assert call(tools, "delete_file", outcome, path="src/pkg/old.py") == ("deleted `src/pkg/old.py`", False)
    assert not (folder / "src/pkg/old.py").exists()
    assert call(tools, "delete_file", outcome, path="NOTES.md")[0].startswith(
        "refused: `NOTES.md` is an output this step must write")
    assert call(tools, "delete_file", outcome, path="docs/spec.md")[0].startswith("refused: `docs/spec.md` is not a declared output")
    listed, _ = call(tools, "list_files", outcome)
    assert listed.splitlines() == ["docs/spec.md  10 bytes", "src/pkg/core.py  66 bytes  (output)"]
    assert call(tools, "list_files", outcome, pattern="src/**/*.py")[0] == "src/pkg/core.py  66 bytes  (output)"
    found, _ = call(tools, "search", outcome, pattern=r"return a - b", glob="src/**")
    assert found == "src/pkg/core.py:2:     return a - b\nsrc/pkg/core.py:6:     return a - b"
    assert call(tools, "search", outcome, pattern="ADD", ignore_case=True)[0].splitlines()[0] == "docs/spec.md:1: Add adds."
    text, error = call(tools, "search", outcome, pattern="(unclosed")
    assert error and text.startswith("refused: `(unclosed` is not a valid regular expression")
    assert call(tools, "write_file", outcome, path="README.md", content="x")[0].startswith(
        "refused: `README.md` is not a declared output")
    assert call(tools, "finish", outcome, summary="done")[0] == "not finished: write these declared outputs first: NOTES.md"
    assert [e["tool"] for e in outcome.tool_log] == ["delete_file", "delete_file", "delete_file", "list_files", "list_files",
                                                     "search", "search", "search", "write_file", "finish"]


def test_a_link_a_command_left_is_never_followed(folder: Path, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("SECRET\n")
    (folder / "src/pkg/leak.py").symlink_to(tmp_path / "secret.txt")
    (folder / "src/evil").symlink_to(tmp_path)
    tools = tools_for(folder)
    text, error = call(tools, "read_file", path="src/pkg/leak.py")
    assert error and "SECRET" not in text
    assert call(tools, "edit_file", path="src/pkg/leak.py", old_string="SECRET", new_string="x")[1]
    assert call(tools, "write_file", path="src/evil/x.py", content="x")[1]
    assert not (tmp_path / "x.py").exists() and (tmp_path / "secret.txt").read_text() == "SECRET\n"
    assert "SECRET" not in call(tools, "search", pattern="SECRET")[0]


def test_run_is_refused_without_a_shell_and_its_output_is_capped(folder: Path) -> None:
    tools = tools_for(folder, run_refusal="`run` needs the OS sandbox")
    assert call(tools, "run", command="ls") == ("refused: `run` needs the OS sandbox", True)
    seen: list[tuple[str, float]] = []

    def shell(command: str, timeout: float) -> RunResult:
        seen.append((command, timeout))
        return RunResult(1, "x" * 20_000 + "THE END", 0.5, discarded=[".pytest_cache/v/x"])

    tools = tools_for(folder, shell=shell)
    text, error = call(tools, "run", command="pytest", timeout=9999)
    assert not error and text.startswith("exit code 1 in 0.50 s\nxxx") and text.count("x") < 13_000
    assert "characters cut" in text and "THE END" in text and "discarded 1 file(s)" in text
    assert seen == [("pytest", 600.0)]
    assert len(capped("y" * 100, 40)) < 100 and capped("short") == "short"
    assert call(tools_for(folder, offered=["read_file"]), "run", command="ls")[0].startswith("refused: there is no tool `run`")


def test_what_listing_searching_and_running_give_back_is_held_to_the_context_budget(folder: Path) -> None:
    (folder / "src/pkg/big.py").write_text("x = 1  # filler\n" * 3000)  # ~16,000 tokens estimated
    context = StepContext(system=["s"], brief="b", full_inputs={"docs/spec.md": "Add adds.\n"})

    def shell(command: str, timeout: float) -> RunResult:
        return RunResult(0, "ok\n" * 20_000, 0.1)

    tools = DoerTools(context, ["src/pkg/**/*.py"], folder, Limits(max_turns=5, context_tokens=3000), list(ALL), shell)
    text, error = call(tools, "search", pattern="filler")  # 100 lines shown: fits
    assert not error and text.count("\n") == 100
    before = tools.used_tokens
    text, error = call(tools, "read_file", path="src/pkg/big.py")
    assert error and text.startswith("refused: what read_file gave back (~16000 tokens) would take this step's context "
                                     "past its budget of 3000 tokens")
    assert tools.used_tokens == before
    text, error = call(tools, "run", command="make")
    assert error and text.startswith("exit code 0 in 0.10 s; refused: what run gave back (~")
    assert call(tools, "list_files")[1] is False  # small enough


def test_disallowed_tools_take_away_what_they_name_from_what_a_role_is_given() -> None:
    assert offered_tools(None, ["src/**"], "Bash") == [
        "read_file", "list_files", "search", "write_file", "edit_file", "delete_file"]
    assert offered_tools("Read, Edit, Bash", ["src/**"], ["Edit", "Read"]) == ["read_file", "run"]  # reading stays
    # A narrowed denial (Claude Code's Bash(rm:*)) cannot be kept to some uses: it takes the whole tool away,
    # as the warning says; it was ignored, and the step got all of `run`.
    assert offered_tools(None, ["src/**"], "Bash(rm:*), Write(docs/**)") == ["read_file", "list_files", "search"]
    assert tool_problem("Bash(rm:*)", True, deny=True) == (
        "tool 'Bash(rm:*)' narrows Bash to some uses, which agents cannot do: the step is not given Bash",
        "write `Bash` to take all of it away, or remove it")
