"""`agents validate` on real repositories: every problem at once, with file and line."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import task_text, write_files


def validate(agents, root: Path):  # type: ignore[no-untyped-def]
    return agents("-C", str(root), "validate", "--json")


def messages(result) -> list[str]:  # type: ignore[no-untyped-def]
    data = result.json
    return [f"{d['severity']} {d['file']}:{d['line']}: {d['message']}" for d in data["errors"] + data["warnings"]]


def test_the_three_classic_mistakes_at_once(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/broken.md": "---\ntitle: Broken\nrole: developer\ninputs: [a.md, b.md\n---\n",
            ".agents/tasks/typo.md": "---\ntitle: Typo\nrole: developer\noutput: [x.md]\n---\n",
            ".agents/tasks/a.md": task_text("A", run="true", needs=["b"]),
            ".agents/tasks/b.md": task_text("B", run="true", needs=["a"]),
        },
    )
    result = agents("-C", str(project), "validate")
    assert result.code == 2
    assert "Traceback" not in result.err
    lines = result.err.splitlines()
    assert any(line.startswith("error: .agents/tasks/broken.md:5: YAML syntax error") for line in lines)
    assert "error: .agents/tasks/typo.md:4: unknown key 'output' - did you mean 'outputs'?" in lines
    assert any(line.startswith("error: .agents/tasks/a.md:") and "dependency cycle: a -> b -> a" in line for line in lines)
    assert result.out == ""


def test_valid_project_says_ok(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"in.txt": "x", ".agents/tasks/t.md": task_text("T", run="true", inputs=["in.txt"])})
    result = agents("-C", str(project), "validate")
    assert result.code == 0 and result.out.startswith("ok: 1 task, 3 roles, 0 handoffs")


def test_unknown_references_with_suggestions(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/first.md": task_text("First", run="true"),
            ".agents/tasks/t.md": task_text(
                "T", role="developr", needs=["first", "frist"], verifier="reviewr", inputs=[{"handoff": "ghost"}]
            ),
        },
    )
    found = messages(validate(agents, project))
    assert "error .agents/tasks/t.md:3: unknown role 'developr' - did you mean 'developer'?" in found
    assert "error .agents/tasks/t.md:4: unknown task 'frist' in needs - did you mean 'first'?" in found
    assert "error .agents/tasks/t.md:5: unknown verifier role 'reviewr' - did you mean 'reviewer'?" in found
    assert "error .agents/tasks/t.md:7: unknown task 'ghost' in a handoff input" in found


def test_verifier_must_not_be_the_doer(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", role="reviewer", acceptance=["Good"])})
    found = messages(validate(agents, project))
    assert any("the verifier 'reviewer' is the doer's own role" in m for m in found)


def test_two_tasks_declaring_one_output(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/a.md": task_text("A", run="true", outputs=["out/x.md"]),
            ".agents/tasks/b.md": task_text("B", run="true", outputs=["out/y.md", "out/x.md"]),
        },
    )
    found = messages(validate(agents, project))
    assert "error .agents/tasks/b.md:4: output 'out/x.md' is also declared by task 'a'" in found


def test_reading_another_tasks_output_without_needing_it_is_a_race(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/a.md": task_text("A", run="true", outputs=["out/x.md"]),
            ".agents/tasks/b.md": task_text("B", run="true", inputs=["out/*.md", {"handoff": "a"}]),
            ".agents/tasks/c.md": task_text("C", run="true", needs=["d"], inputs=["out/x.md"]),
            ".agents/tasks/d.md": task_text("D", run="true", needs=["a"]),
        },
    )
    result = validate(agents, project)
    assert result.code == 0  # warnings only
    found = messages(result)
    assert "warning .agents/tasks/b.md:5: reads 'out/x.md', an output of 'a', without needing 'a': a race" in found
    assert "warning .agents/tasks/b.md:6: reads the handoff of 'a' without needing it: a race" in found
    assert not any("tasks/c.md" in m and "race" in m for m in found)  # c needs a through d


def test_paths_leaving_the_repository(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("s")
    os.symlink(outside, project / "link")
    write_files(
        project,
        {
            ".agents/tasks/t.md": task_text(
                "T", run="true", inputs=["link/secret.txt", "/etc/passwd"], outputs=["../up.txt", "link/out.txt"]
            )
        },
    )
    found = messages(validate(agents, project))
    assert any("'/etc/passwd' is absolute" in m for m in found)
    assert any("'../up.txt' contains '..'" in m for m in found)
    # Schema errors stop the file there; fix them and the symlinks are checked.
    write_files(
        project,
        {".agents/tasks/t.md": task_text("T", run="true", inputs=["link/secret.txt"], outputs=["link/out.txt"])},
    )
    found = messages(validate(agents, project))
    assert "error .agents/tasks/t.md:4: input 'link/secret.txt' leaves the repository through a symlink" in found
    assert "error .agents/tasks/t.md:5: output 'link/out.txt' leaves the repository through a symlink" in found


def test_inputs_matching_nothing_warn_unless_a_task_produces_them(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/a.md": task_text("A", run="true", outputs=["gen/made.md"]),
            ".agents/tasks/b.md": task_text("B", run="true", needs=["a"], inputs=["gen/made.md", "nowhere/*.md"],
                                            outputs=["gen/b.md"]),
        },
    )
    found = messages(validate(agents, project))
    assert found == [
        "warning .agents/tasks/b.md:5: input 'nowhere/*.md' matches no file, and no task declares it as an output"
    ]


def test_outputs_inside_agents_are_refused_and_globs_are_outputs(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", outputs=[".agents/x.md", "out/*.md"])})
    found = messages(validate(agents, project))
    assert [m for m in found if m.startswith("error")] == [
        "error .agents/tasks/t.md:4: output '.agents/x.md' is inside .agents/, which the runner owns"]


def test_strict_turns_warnings_into_failure(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", inputs=["missing.txt"])})
    assert agents("-C", str(project), "validate").code == 0
    assert agents("-C", str(project), "validate", "--strict").code == 2


def test_role_files_are_checked(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/roles/writer.md": "---\nname: author\ndescription: Writes.\n---\nYou write.\n",
            ".agents/roles/bad.md": "---\nname: bad\ndescription: x\nmodle: opus\n---\n",
            ".claude/agents/helper.md": "---\nname: helper\ndescription: Helps.\nfuture-key: 1\n---\nHelp.\n",
        },
    )
    found = messages(validate(agents, project))
    assert "error .agents/roles/writer.md:2: role name 'author' differs from the file name 'writer'" in found
    assert "error .agents/roles/bad.md:4: unknown key 'modle' - did you mean 'model'?" in found
    # Claude Code's own files may carry keys we do not know: a warning, not an error.
    assert any(m.startswith("warning .claude/agents/helper.md:4: unknown key 'future-key'") for m in found)


def test_config_errors_have_lines(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    path = project / ".agents/config.yaml"
    path.write_text(path.read_text() + "\njobz: 3\n")
    found = messages(validate(agents, project))
    assert any(m.startswith("error .agents/config.yaml:") and "unknown key 'jobz' - did you mean 'jobs'?" in m for m in found)


def test_not_utf8_and_unreadable_files(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (project / ".agents/tasks/bin.md").write_bytes(b"---\ntitle: \xff\xfe\n---\n")
    found = messages(validate(agents, project))
    assert any("bin.md" in m and "not UTF-8" in m for m in found)


def test_invalid_task_file_name(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/Bad Name.md": task_text("T", run="true")})
    found = messages(validate(agents, project))
    assert any("'Bad Name' is not a valid task id" in m for m in found)


def test_claude_md_import_cycles_are_validation_errors(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    text = (project / "CLAUDE.md").read_text()
    write_files(project, {"CLAUDE.md": text + "\nSee @docs/a.md\n", "docs/a.md": "@../CLAUDE.md\n"})
    result = validate(agents, project)
    assert result.code == 2
    assert [e["message"] for e in result.json["errors"]] == ["CLAUDE.md import cycle: CLAUDE.md -> docs/a.md -> CLAUDE.md"]


def _config(root: Path, old: str, new: str) -> None:
    path = root / ".agents/config.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_a_config_verifier_is_checked_at_its_line(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", role="developer", acceptance=["Good"])})
    _config(project, "\nverifier: reviewer\n", "\nverifier: nosuch\n")
    line = next(n for n, text in enumerate((project / ".agents/config.yaml").read_text().splitlines(), 1)
                if text.startswith("verifier:"))
    assert f"error .agents/config.yaml:{line}: unknown verifier role 'nosuch'" in messages(validate(agents, project))
    _config(project, "\nverifier: nosuch\n", "\nverifier:\n  - reviewer\n  - nosuch\n")
    assert f"error .agents/config.yaml:{line + 2}: unknown verifier role 'nosuch'" in messages(validate(agents, project))
    plain = agents("-C", str(project), "validate")
    assert f"error: .agents/config.yaml:{line + 2}: unknown verifier role 'nosuch'" in plain.err and "('" not in plain.err


def test_a_verifier_that_is_not_names_is_said_once_in_words(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", role="developer", acceptance=["Good"],
                                                          verifier=["reviewer", 3])})
    _config(project, "\nverifier: reviewer\n", "\nverifier: [reviewer, 3]\n")
    found = messages(validate(agents, project))
    for file in (".agents/config.yaml", ".agents/tasks/t.md"):
        mine = [m for m in found if f" {file}:" in m]
        assert len(mine) == 1, found
        assert "verifier: a role name, or a list of role names; item 2 is not a name (got 3)" in mine[0], mine
    assert not any("list[str]" in m or "verifier.str" in m for m in found)


def test_a_config_that_cannot_be_loaded_raises_no_warning_about_its_default_verifier(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", role="developer", acceptance=["Good"])})
    assert messages(validate(agents, project)) == []
    (project / ".agents/config.yaml").write_text((project / ".agents/config.yaml").read_text() + "bogus: 1\n")
    found = messages(validate(agents, project))
    assert any("unknown key 'bogus'" in m for m in found)
    assert not any("no verifier" in m for m in found), found


def test_samples_and_an_empty_panel_are_checked(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/truth.md": task_text("T", role="developer", outputs=["a.md"], samples=True),
        ".agents/tasks/pair.md": task_text("P", role="developer", outputs=["b.md"], samples=2),
        ".agents/tasks/nobody.md": task_text("N", role="developer", outputs=["c.md"], acceptance=["Good"], verifier=[]),
        ".agents/tasks/stamp.md": task_text("S", run="date > d.md", outputs=["d.md"], samples=3),
    })
    found = messages(validate(agents, project))
    assert "error .agents/tasks/truth.md:5: samples: input should be a valid integer (got True)" in found
    assert any(m.startswith("warning .agents/tasks/pair.md:5: two samples that disagree have no majority") for m in found)
    assert any(m.startswith("error .agents/tasks/nobody.md:6: `verifier: []` names no judge") for m in found), found
    assert not any("stamp.md" in m for m in found), found  # a command run K times: documented, not warned


def test_a_tool_a_role_names_that_gives_a_step_nothing_is_an_error_or_in_claude_codes_roles_a_warning(
        project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    role = "---\nname: {0}\ndescription: Changes code.\ntools: {1}\n---\nYou change code.\n"
    write_files(project, {
        ".agents/roles/ours.md": role.format("ours", "Read, Edit, bash, Bash(git:*), WebFetch, run"),
        ".claude/agents/theirs.md": role.format("theirs", "Read, Grep, Glob, WebSearch, Bogus, mcp__gh__list_issues"),
        ".agents/roles/denies.md": role.format("denies", "Read").replace("tools: Read", "disallowedTools: [Bash, Wrte]"),
        ".agents/tasks/t.md": task_text("T", role="ours", outputs=["out.md"], acceptance=["It is there."]),
    })
    data = validate(agents, project).json
    found = sorted((d["severity"], d["file"], d["line"], d["message"]) for d in data["errors"] + data["warnings"])
    assert found == sorted([
        ("error", ".agents/roles/denies.md", 4, "`disallowedTools`: unknown tool 'Wrte' - did you mean 'Write'?"),
        ("error", ".agents/roles/ours.md", 4, "`tools`: unknown tool 'bash' - did you mean 'Bash'?"),
        ("error", ".agents/roles/ours.md", 4, ("`tools`: tool 'Bash(git:*)' narrows Bash to some uses, which agents "
                                               "cannot do: the step is not given Bash")),
        ("error", ".agents/roles/ours.md", 4, "`tools`: tool 'WebFetch' is Claude Code's; agents gives a step no such tool"),
        ("warning", ".claude/agents/theirs.md", 4, ("`tools`: tool 'WebSearch' is Claude Code's; agents gives a step "
                                                    "no such tool")),
        ("warning", ".claude/agents/theirs.md", 4, "`tools`: unknown tool 'Bogus'"),
        ("warning", ".claude/agents/theirs.md", 4, ("`tools`: tool 'mcp__gh__list_issues' is Claude Code's; agents "
                                                    "gives a step no such tool")),
    ]), found
    result = agents("-C", str(project), "run", "t")
    assert result.code == 2 and "unknown tool 'bash'" in result.err and "Traceback" not in result.err
