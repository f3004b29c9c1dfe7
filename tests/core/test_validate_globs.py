"""`agents validate` on output globs and folders: ownership stays single, and no glob reaches .git, agents'
internals or the files that define its own step."""

from __future__ import annotations

from pathlib import Path

from conftest import git, task_text, write_files


def errors(agents, root: Path) -> list[str]:  # type: ignore[no-untyped-def]
    data = agents("-C", str(root), "validate", "--json").json
    return [f"{d['file']}: {d['message']}" for d in data["errors"]]


def test_globs_of_two_tasks_that_can_match_one_path_are_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="true", outputs=["src/**/*.py"]),
        ".agents/tasks/b.md": task_text("B", run="true", outputs=["src/pkg/*.py"]),
        ".agents/tasks/c.md": task_text("C", run="true", outputs=["src/pkg/data.json", "docs/"]),
        ".agents/tasks/d.md": task_text("D", run="true", outputs=["docs/api/index.md"]),
        ".agents/tasks/e.md": task_text("E", run="true", outputs=["src/**/*.txt", "lib/*.py"]),
    })
    found = errors(agents, project)
    assert ".agents/tasks/a.md: output 'src/**/*.py' can name the same files as 'src/pkg/*.py', an output of 'b'" in found
    assert ".agents/tasks/c.md: output 'docs/**' can name the same files as 'docs/api/index.md', an output of 'd'" in found
    assert ".agents/tasks/b.md: output 'src/pkg/*.py' can name the same files as 'src/**/*.py', an output of 'a'" in found
    assert ".agents/tasks/d.md: output 'docs/api/index.md' can name the same files as 'docs/**', an output of 'c'" in found
    assert not any("src/**/*.txt" in m or "data.json" in m or "lib/" in m for m in found)  # no file matches both
    assert len(found) == 4, found
    for task in ("a", "b", "c", "d"):  # each task of a pair has the error: running it alone is refused too
        done = agents("-C", str(project), "run", task)
        assert done.code == 2 and "can name the same files as" in done.err, (task, done.err)
    assert not (project / "src").exists() and not (project / "docs").exists()


def test_a_glob_into_git_agents_internals_or_its_own_definition_is_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".claude/agents/coder.md": "---\nname: coder\ndescription: Writes code.\n---\nYou write code.\n",
        ".agents/tasks/own.md": task_text("Own", role="coder", outputs=[".claude/agents/*.md"],
                                          acceptance=["It works."]),
        ".agents/tasks/dots.md": task_text("Dots", run="true", outputs=[".a*/**"]),
        ".agents/tasks/git.md": task_text("Git", run="true", outputs=[".g*/hooks/*"]),
    })
    found = errors(agents, project)
    assert any("own.md" in m and "matches .claude/agents/coder.md, which defines this step" in m for m in found)
    assert any("dots.md" in m and "output '.a*/**' is inside .agents/" in m for m in found)
    assert any("git.md" in m and "inside .git" in m for m in found)


def test_a_folder_output_is_written_with_a_slash(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "docs/a.md": "a\n",
        ".agents/tasks/t.md": task_text("T", run="true", outputs=["docs"]),
        ".agents/tasks/u.md": task_text("U", run="true", outputs=["build/"]),
    })
    found = errors(agents, project)
    assert found == [".agents/tasks/t.md: output 'docs' is a folder; an output is a file, a glob or a folder "
                     "written with a trailing slash"]
    from agentfiles.storage.project import load_project

    assert load_project(project).tasks["u"].model.outputs == ["build/**"]


def test_a_task_reading_files_under_another_tasks_output_glob_needs_it(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "src/pkg/a.py": "x = 1\n",
        ".agents/tasks/gen.md": task_text("Gen", run="true", outputs=["src/pkg/**/*.py"]),
        ".agents/tasks/use.md": task_text("Use", run="true", inputs=["src/pkg/a.py"], outputs=["out.txt"]),
    })
    data = agents("-C", str(project), "validate", "--json").json
    assert any("reads 'src/pkg/**/*.py', an output of 'gen', without needing 'gen'" in d["message"]
               for d in data["warnings"])


def test_outputs_of_two_items_of_one_foreach_that_can_name_one_file_are_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "notes/a.md": "a\n", "notes/ab.md": "ab\n", "notes/b.md": "b\n",
        ".agents/tasks/each.md": task_text("Each {stem}", run="true", foreach="notes/*.md",
                                           outputs=["out/{stem}*.txt"]),
        ".agents/tasks/own.md": task_text("Own {stem}", run="true", foreach="notes/*.md",
                                          outputs=["own/{stem}/**", "own/{stem}.txt", "top/{stem}.md"]),
        ".agents/tasks/mixed.md": task_text("Mixed {stem}", run="true", foreach="notes/*.md",
                                            outputs=["mix/{stem}.txt", "mix/{stem}/**/*.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    found = errors(agents, project)
    assert found == [(
        ".agents/tasks/each.md: foreach items 'notes/a.md' and 'notes/ab.md' write 'out/a*.txt' and 'out/ab*.txt', "
        "which can name the same file"
    )], found
    head = git(project, "rev-parse", "HEAD")
    done = agents("-C", str(project), "run", "each")
    assert done.code == 2 and "which can name the same file" in done.err and "hint: make each item's outputs" in done.err
    assert "Traceback" not in done.err and git(project, "rev-parse", "HEAD") == head
    assert not (project / "out").exists()


def test_a_glob_that_matches_folders_says_how_to_name_the_files_under_them(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "src/pa/a.py": "", "src/pb/b.py": "", "src/pz.py": "",
        ".agents/tasks/t.md": task_text("T", run="true", outputs=["src/p*"]),
        ".agents/tasks/u.md": task_text("U", run="true", outputs=["lib/p*/"]),
    })
    data = agents("-C", str(project), "validate", "--json").json
    assert data["errors"] == []
    assert [(d["message"], d["hint"]) for d in data["warnings"]] == [(
        "output 'src/p*' matches the folders src/pa, src/pb, and names only the files it matches itself",
        "write `src/p*/` to let the step change every file under the folders it matches")]


def test_a_file_read_is_not_taken_for_a_folder_under_another_tasks_glob(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "data/in.txt": "1\n", "notes/x.md": "x\n",
        ".agents/tasks/docs.md": task_text("Docs", run="true", outputs=["**/*.md"]),
        ".agents/tasks/code.md": task_text("Code", run="true", inputs=["data/in.txt", "notes"], outputs=["out.txt"]),
    })
    warnings = [d["message"] for d in agents("-C", str(project), "validate", "--json").json["warnings"]]
    # data/in.txt is a file: no file of **/*.md is under it (it was 'reads **/*.md ... a race'); notes is a folder
    assert [w for w in warnings if "a race" in w] == ["reads '**/*.md', an output of 'docs', without needing 'docs': a race"]


def test_an_output_glob_that_can_write_what_claude_md_imports_is_warned_about(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-15 verification: CLAUDE.md imports docs/style.md; a step with `outputs: [docs/]` could rewrite
    it and so every later step's instructions, and validate said ok. A CLAUDE.md that is a symlink to a file
    under a glob is the same. Naming the file as an output says the step is meant to change it."""
    import os

    def warned() -> list[str]:
        checked = agents("-C", str(project), "validate")
        assert checked.code == 0, checked.err
        return [line for line in checked.err.splitlines() if "reads as instructions" in line]

    (project / "CLAUDE.md").write_text((project / "CLAUDE.md").read_text() + "\nSee @docs/style.md\n")
    write_files(project, {
        "docs/style.md": "Write short sentences.\n",
        "notes/guide.md": "Be kind.\n",
        ".agents/tasks/docs.md": task_text("Docs", run="true", outputs=["docs/"]),
        ".agents/tasks/named.md": task_text("Named", run="true", outputs=["notes/"]),
    })
    (found,) = warned()
    assert found.startswith("warning: .agents/tasks/docs.md:") and "can write docs/style.md" in found
    (project / "CLAUDE.md").unlink()
    os.symlink("notes/guide.md", project / "CLAUDE.md")
    (found,) = warned()
    assert found.startswith("warning: .agents/tasks/named.md:") and "can write notes/guide.md" in found
    write_files(project, {".agents/tasks/named.md": task_text("Named", run="true",
                                                              outputs=["notes/", "notes/guide.md"])})
    assert warned() == []
