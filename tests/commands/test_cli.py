"""The verbs through the real entry handler: output, exit codes, error lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import run_program, task_text, write_files


def test_version_and_help(agents) -> None:  # type: ignore[no-untyped-def]
    from agentfiles import __version__

    assert agents("--version").out == f"agents {__version__}\n"
    help_text = agents("--help").out
    for verb in ("init", "new", "validate", "status", "graph", "roles"):
        assert f"  {verb}" in help_text


def test_usage_errors_are_error_and_hint_lines(agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("status", "--frobnicate")
    assert result.code == 2
    assert result.err.startswith("error: No such option: --frobnicate")
    assert "hint: run `agents status --help`" in result.err
    unknown = agents("frobnicate")
    assert unknown.code == 2 and unknown.err.startswith("error: No such command")


def test_commands_outside_a_project(tmp_path: Path, repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(tmp_path), "status")
    assert result.code == 2 and "not inside a git repository" in result.err and "hint:" in result.err
    result = agents("-C", str(repo), "status")
    assert result.code == 2 and "no agents project" in result.err and "agents init" in result.err
    result = agents("-C", str(tmp_path / "nope"), "validate")
    assert result.code == 2 and "no such directory" in result.err


def test_status_refuses_a_project_with_a_broken_config(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/config.yaml": "model: [unclosed\n"})
    result = agents("-C", str(project), "status")
    assert result.code == 2
    assert result.err.splitlines()[0].startswith("error: .agents/config.yaml:2: YAML syntax error")
    assert "hint: fix them; `agents validate` lists every problem" in result.err


def test_program_never_prints_a_traceback(tmp_path: Path) -> None:
    result = run_program("-C", str(tmp_path), "status")
    assert result.code == 2 and "Traceback" not in result.err and result.err.startswith("error:")


def test_graph_mermaid_dot_and_json(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/design.md": task_text("Design", role="planner", outputs=["docs/design.md"]),
            ".agents/tasks/build.md": task_text(
                "Build", run="make", needs=["design"], inputs=["docs/design.md", {"handoff": "design"}]
            ),
        },
    )
    mermaid = agents("-C", str(project), "graph").out
    assert mermaid.startswith("flowchart LR\n")
    assert 't0["design<br/>ready · agent · sequential"]:::ready' in mermaid
    assert 't1["build<br/>pending · command · handoff"]:::pending' in mermaid
    assert 't0 -->|"needs + reads docs/design.md + handoff"| t1' in mermaid
    dot = agents("-C", str(project), "graph", "--format", "dot").out
    assert dot.startswith("digraph agents {") and '"design" -> "build" [label="needs + reads docs/design.md + handoff"];' in dot
    data = agents("-C", str(project), "graph", "--json").json
    assert data["kind"] == "graph"
    assert {"from": "design", "to": "build", "kind": "needs", "path": None} in data["edges"]
    assert {n["id"]: n["state"] for n in data["nodes"]} == {"design": "ready", "build": "pending"}


def test_roles_lists_both_registries(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".claude/agents/security.md": "---\nname: security\ndescription: Audits.\nmodel: opus\ncolor: red\n---\nAudit.\n",
            ".claude/agents/developer.md": "---\nname: developer\ndescription: Shadowed.\n---\nx\n",
        },
    )
    data = agents("-C", str(project), "roles", "--json").json
    roles = {r["name"]: r for r in data["roles"]}
    assert set(roles) == {"developer", "planner", "reviewer", "security"}
    assert roles["security"]["origin"] == ".claude/agents" and roles["security"]["model_id"] == "claude-opus-4-6"
    assert roles["developer"]["source"] == ".agents/roles/developer.md"  # .agents/roles wins
    assert roles["developer"]["labels"] == {"kind": ["implementer"]}
    text = agents("-C", str(project), "roles").out
    assert "security" in text and ".claude/agents/security.md" in text


def test_new_task_writes_a_valid_file(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"data/in.txt": "x"})
    result = agents(
        "-C", str(project), "new", "task", "summarise",
        "--title", "Summarise the input", "--role", "developer",
        "-i", "data/in.txt", "-o", "out/summary.md",
        "-a", "The summary is under 100 words", "--check", "test -s out/summary.md",
        "--verifier", "reviewer", "--intent", "Readers need the gist.",
    )
    assert result.code == 0, result.err
    text = (project / ".agents/tasks/summarise.md").read_text()
    assert "title: Summarise the input" in text and "Readers need the gist." in text
    assert agents("-C", str(project), "validate").code == 0
    command = agents("-C", str(project), "new", "task", "count", "--command", "wc -l data/in.txt > out/n.txt",
                     "--need", "summarise", "-i", "data/in.txt", "-o", "out/n.txt")
    assert command.code == 0, command.err
    checked = agents("-C", str(project), "validate", "--json").json
    assert checked["ok"] and checked["counts"]["tasks"] == 2


def test_new_task_run_is_the_task_file_s_own_word_for_command(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """A task file says `run: <command>`, so `--run` writes one, as `--command` does; the help names it once."""
    made = agents("-C", str(project), "new", "task", "count", "--run", "wc -l data/in.txt > out/n.txt",
                  "-i", "data/in.txt", "-o", "out/n.txt")
    assert made.code == 0, made.err
    text = (project / ".agents/tasks/count.md").read_text()
    assert "run: wc -l data/in.txt > out/n.txt" in text and "role:" not in text
    assert agents("-C", str(project), "new", "task", "other", "--command", "true", "-o", "o.txt").code == 0
    assert "run: 'true'" in (project / ".agents/tasks/other.md").read_text()
    helps = agents("new", "task", "--help").out
    assert re.search(r"-c, --command, --run <str> +Make a deterministic step", helps)
    assert helps.count("--run") == 1


def test_new_task_refusals(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(project), "new", "task", "t", "--role", "developer").code == 0
    cases = [
        (["t", "--role", "developer"], "task 't' already exists"),
        (["Bad_ID", "--role", "developer"], "'Bad_ID' is not a valid task id"),
        (["u"], "a task needs a role"),
        (["u", "--role", "develper"], "unknown role 'develper' - did you mean 'developer'?"),
        (["u", "--role", "developer", "--need", "ghost"], "unknown task 'ghost'"),
        (["u", "--role", "developer", "-o", "../x"], "contains '..'"),
        (["u", "--role", "reviewer", "--verifier", "reviewer"], "is the doer's own role"),
    ]
    for args, message in cases:
        result = agents("-C", str(project), "new", "task", *args)
        assert result.code == 2, args
        assert result.err.startswith("error: ") and message in result.err, (args, result.err)
        assert "hint: " in result.err
    assert not (project / ".agents/tasks/u.md").exists()


def test_new_role(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(project), "new", "role", "tester", "-d", "Writes tests for Python code.",
                    "-m", "haiku", "-l", "lang=python", "-l", "kind=tester")
    assert result.code == 0, result.err
    roles = {r["name"]: r for r in agents("-C", str(project), "roles", "--json").json["roles"]}
    assert roles["tester"]["labels"] == {"lang": ["python"], "kind": ["tester"]}
    assert agents("-C", str(project), "new", "role", "tester").code == 2
    bad = agents("-C", str(project), "new", "role", "x", "-l", "nolabel")
    assert bad.code == 2 and "is not KEY=VALUE" in bad.err


def test_global_json_flag_and_envelope(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    for verb in ("status", "validate", "roles", "graph"):
        data = json.loads(agents("-C", str(project), "--json", verb).out)
        assert data["schema_version"] == 1 and data["kind"] == verb


def test_init_json(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    data = agents("-C", str(repo), "init", "--json").json
    assert data["kind"] == "init" and ".agents/config.yaml" in data["created"]


def test_new_task_refuses_what_validate_would(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(project), "new", "task", "up", "--command", "true", "-o", "out/u.txt").code == 0
    taken = agents("-C", str(project), "new", "task", "x", "--role", "developer", "-o", "out/u.txt")
    assert taken.code == 2 and "output 'out/u.txt' is also declared by task 'up'" in taken.err
    owned = agents("-C", str(project), "new", "task", "h", "--role", "developer", "-o", ".agents/tasks/p.md")
    assert owned.code == 2 and "inside .agents/" in owned.err
    cycle = agents("-C", str(project), "new", "task", "up2", "--command", "true", "--need", "up")
    assert cycle.code == 0
    empty = agents("-C", str(project), "new", "task", "e", "--role", "developer", "--title", "")
    assert empty.code == 2 and "--title may not be empty" in empty.err
    handoff = agents("-C", str(project), "new", "task", "reader", "--role", "developer", "--need", "up",
                     "-i", "handoff:up", "-o", "notes.md")
    assert handoff.code == 0, handoff.err
    assert "- {handoff: up}" in (project / ".agents/tasks/reader.md").read_text()
    assert not (project / ".agents/tasks/x.md").exists() and not (project / ".agents/tasks/h.md").exists()


def test_json_errors_are_json_too(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(tmp_path), "status", "--json")
    assert result.code == 2
    data = result.json
    assert data["kind"] == "error" and data["command"] == "status"
    assert "not inside a git repository" in data["error"]["message"] and data["error"]["hint"]


def test_global_options_after_the_verb_get_a_hint(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("status", "-C", str(project))
    assert result.code == 2 and "global options go before the verb" in result.err


def test_an_unknown_option_names_the_help_of_the_command_it_was_given_to(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("new", "task", "x", "--bogus")
    assert result.code == 2 and "run `agents new task --help`" in result.err
    result = agents("-C", str(project), "show", "--zzz")  # -C before the verb is where it belongs
    assert result.code == 2 and "run `agents show --help`" in result.err
    assert "global options go before the verb" not in result.err


def test_handwritten_handoffs_are_checked(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/t.md": task_text("T", run="true"),
        ".agents/handoffs/t.md": "---\nschema: 1\ntask: t\nrun: r\nstatus: done\ndefinition: md5:abc\n"
                                 "inputs: {/etc/passwd: 'sha256:zz'}\noutputs: {a: deadbeef}\n---\nbody\n",
    })
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    messages = [e["message"] for e in found]
    assert "definition: a hash is written sha256:<64 lowercase hex digits> (got 'md5:abc')" in messages
    assert any("'/etc/passwd' is absolute" in m for m in messages)
    assert any(m.startswith("outputs.a: a hash is written") for m in messages)
    assert all(e["hint"] for e in found)


def test_an_output_inside_another_output(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="true", outputs=["out"]),
        ".agents/tasks/b.md": task_text("B", run="true", outputs=["out/x.txt"]),
        ".agents/tasks/c.md": task_text("C", run="true", outputs=["out-x"]),  # sorts between out and out/x.txt
    })
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert [(e["file"], e["message"]) for e in found] == [
        (".agents/tasks/a.md", "output 'out' is a file, and 'out/x.txt', an output of 'b', is inside it"),
        (".agents/tasks/b.md", "output 'out/x.txt' is inside 'out', an output of 'a'")]


def test_a_dependency_missing_from_the_environment_is_named_with_how_to_reinstall(project: Path, tmp_path: Path) -> None:
    """An environment made before a dependency was added (or with one removed): exit 2 naming the module and
    how to reinstall, not "this is a bug" with a crash report."""
    shadow = tmp_path / "shadow" / "orjson"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'orjson'\", name='orjson')\n")
    result = run_program("-C", str(project), "status", env={"PYTHONPATH": str(shadow.parent)})
    assert result.code == 2, result.err
    assert "error: the Python module `orjson` that agents needs is not installed" in result.err
    assert "hint: reinstall agents into this environment" in result.err
    assert "bug" not in result.err and "Traceback" not in result.err
