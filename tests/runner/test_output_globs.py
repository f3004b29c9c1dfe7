"""Steps whose outputs are globs or folders: they create, modify and delete files matching them and nothing
else, land as one commit, and status, review, show, rewind and replay work on the files they changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import git, task_text, write_files

PACKAGE = {
    "README.md": "# pkg\n",
    "src/pkg/__init__.py": "",
    "src/pkg/core.py": "def add(a, b):\n    return a - b\n",
    "src/pkg/old.py": "OLD = True\n",
    "src/pkg/keep.py": "KEEP = 1\n",
    "src/pkg/data.txt": "not python\n",
}
CHANGE = ("sed -i 's/a - b/a + b/' src/pkg/core.py && printf 'NEW = 1\\n' > src/pkg/new.py && rm src/pkg/old.py")


@pytest.fixture
def package(project: Path) -> Path:
    write_files(project, {**PACKAGE, ".agents/tasks/fix.md": task_text(
        "Fix add", run=CHANGE, outputs=["src/pkg/**/*.py"],
        acceptance=[{"run": "test ! -e src/pkg/old.py && grep -q 'a + b' src/pkg/core.py && test -f src/pkg/new.py"}],
    )})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "package")
    return project


def test_a_step_edits_creates_and_deletes_under_its_glob_in_one_commit(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(package), "run", "--json")
    assert result.code == 0, result.err
    changed = git(package, "show", "--name-status", "--format=", "HEAD").split("\n")
    step_files = sorted(line for line in changed if line and ".agents/" not in line)
    assert step_files == ["A\tsrc/pkg/new.py", "D\tsrc/pkg/old.py", "M\tsrc/pkg/core.py"]
    assert any(".agents/handoffs/fix.md" in line for line in changed)
    assert any(line.endswith("record.json") for line in changed)
    assert not (package / "src/pkg/old.py").exists()
    assert git(package, "status", "--porcelain") == ""
    from agentfiles.storage.documents import parse_document

    meta = parse_document((package / ".agents/handoffs/fix.md").read_text()).meta
    assert sorted(meta["outputs"]) == ["src/pkg/core.py", "src/pkg/new.py"]
    assert meta["deleted"] == ["src/pkg/old.py"]
    body = (package / ".agents/handoffs/fix.md").read_text()
    assert "- Changed `src/pkg/core.py` (32 bytes).\n- Wrote `src/pkg/new.py` (8 bytes).\n- Deleted `src/pkg/old.py`." in body
    assert "src/pkg/keep.py" in meta["inputs"]  # what it saw under its glob and left as it was
    assert "src/pkg/data.txt" not in meta["inputs"]
    assert result.json["outcomes"][0]["changed"] == ["src/pkg/core.py", "src/pkg/new.py", "src/pkg/old.py"]
    assert json.loads(next((package / ".agents/runs").glob("*/record.json")).read_text())["checks"][0]["ok"]

    status = agents("-C", str(package), "status", "--json").json
    assert {t["id"]: t["state"] for t in status["tasks"]}["fix"] == "done"
    (package / "src/pkg/keep.py").write_text("KEEP = 2\n")
    (package / "src/pkg/core.py").write_text("def add(a, b):\n    return b + a\n")
    (package / "src/pkg/old.py").write_text("OLD = True\n")
    (package / "src/pkg/extra.py").write_text("")
    (package / "src/pkg/notes.txt").write_text("not matched by the glob\n")
    reasons = {t["id"]: t["reasons"] for t in agents("-C", str(package), "status", "--json").json["tasks"]}["fix"]
    assert reasons == ["output modified: src/pkg/core.py", "output added: src/pkg/extra.py",
                       "output modified: src/pkg/keep.py", "output added: src/pkg/old.py"]


def test_show_diff_and_review_name_every_file_changed_or_deleted(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(package), "run").code == 0
    shown = agents("-C", str(package), "show", "fix").out
    assert "\noutputs:\n  src/pkg/core.py  sha256:" in shown and "\ndeleted:\n  src/pkg/old.py\n" in shown
    diff = agents("-C", str(package), "show", "fix", "--diff").out
    assert "--- a/src/pkg/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-OLD = True" in diff
    assert "--- /dev/null\n+++ b/src/pkg/new.py" in diff
    assert "-    return a - b\n+    return a + b" in diff
    pending = agents("-C", str(package), "review", "--json").json
    assert "+++ /dev/null" in pending["steps"][0]["diff"]


def test_a_write_outside_the_glob_fails_the_step_and_nothing_lands(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(package, {".agents/tasks/fix.md": task_text(
        "Fix add", run=CHANGE + " && echo hacked >> README.md", outputs=["src/pkg/**/*.py"])})
    git(package, "commit", "-qam", "task")
    head = git(package, "rev-parse", "HEAD")
    result = agents("-C", str(package), "run")
    assert result.code == 1
    assert "wrote undeclared files: README.md" in result.out + result.err
    assert (package / "README.md").read_text() == "# pkg\n"
    assert (package / "src/pkg/old.py").exists() and "a - b" in (package / "src/pkg/core.py").read_text()
    shown = git(package, "show", "--name-only", "--format=", "HEAD").split()
    assert git(package, "rev-parse", "HEAD^") == head and all(p.startswith(".agents/") for p in shown)


def test_rewind_in_place_restores_the_deleted_file_and_replay_matches(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(package), "run").code == 0
    replayed = agents("-C", str(package), "replay", "fix", "--json")
    assert replayed.code == 0, replayed.out + replayed.err
    assert replayed.json["identical"] is True
    assert agents("-C", str(package), "rewind", "fix", "--in-place").code == 0
    assert (package / "src/pkg/old.py").read_text() == "OLD = True\n"
    assert not (package / "src/pkg/new.py").exists()


def test_a_step_served_from_the_run_cache_deletes_what_its_cached_run_deleted(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(package), "run").code == 0
    first = agents("-C", str(package), "log", "fix", "--json").json["steps"][0]["run"]
    assert agents("-C", str(package), "rewind", "fix", "--in-place").code == 0
    assert (package / "src/pkg/old.py").exists()
    result = agents("-C", str(package), "run")
    assert result.code == 0, result.err
    assert f"outputs of run {first} from the run cache" in result.err
    assert not (package / "src/pkg/old.py").exists()
    changed = git(package, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(line for line in changed if line and ".agents/" not in line) == [
        "A\tsrc/pkg/new.py", "D\tsrc/pkg/old.py", "M\tsrc/pkg/core.py"]
    from agentfiles.storage.documents import parse_document

    assert parse_document((package / ".agents/handoffs/fix.md").read_text()).meta["deleted"] == ["src/pkg/old.py"]
    assert git(package, "status", "--porcelain") == ""
    (package / "src/pkg/old.py").write_text("OLD = True\n")
    reasons = {t["id"]: t["reasons"] for t in agents("-C", str(package), "status", "--json").json["tasks"]}["fix"]
    assert reasons == ["output added: src/pkg/old.py"]


def test_on_a_cluster_the_checks_see_what_the_worker_deleted(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    pytest.importorskip("distributed")
    result = agents("-C", str(package), "run", "--cluster", "local:1")
    assert result.code == 0, result.out + result.err  # its check: `test ! -e src/pkg/old.py`, on the coordinator
    assert not (package / "src/pkg/old.py").exists()
    changed = git(package, "show", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(line for line in changed if line and ".agents/" not in line) == [
        "A\tsrc/pkg/new.py", "D\tsrc/pkg/old.py", "M\tsrc/pkg/core.py"]


def test_a_link_under_an_output_glob_is_refused_and_never_shows_the_step_its_target(package: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-15 verification: `src/pkg/x.py -> ../../secrets/prod.env` under `src/pkg/**/*.py` put the
    undeclared secret in the step's sandbox (read_file and run returned it) and in the committed record."""
    import os

    from agentfiles.runner.globs import owned_files

    write_files(package, {"secrets/prod.env": "DB_PASSWORD=prod-secret-123\n"})
    os.symlink("../../secrets/prod.env", package / "src/pkg/x.py")
    git(package, "add", "-A")
    git(package, "commit", "-qm", "link")
    head = git(package, "rev-parse", "HEAD")
    checked = agents("-C", str(package), "validate")
    assert checked.code == 2
    assert "output 'src/pkg/**/*.py' matches src/pkg/x.py, which goes through a symlink" in checked.err
    assert "hint: a step may change only files that are where they are declared" in checked.err
    ran = agents("-C", str(package), "run")
    assert ran.code == 2 and "src/pkg/x.py" in ran.err and git(package, "rev-parse", "HEAD") == head
    refused: list[tuple[str, str]] = []
    assert "src/pkg/x.py" not in owned_files(package, ["src/pkg/**/*.py"], refused)  # never in a sandbox
    assert [rel for rel, _ in refused] == ["src/pkg/x.py"]


def test_a_glob_ending_in_a_slash_is_every_file_under_the_folders_it_matches(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """`src/p*/` is to the folders `src/p*` matches what `src/pkg/` is to one folder: every file under them,
    as an output and as an input."""
    write_files(project, {
        "src/pa/a.py": "A = 1\n", "src/pb/deep/b.py": "B = 1\n", "src/pz.txt": "not in a folder\n",
        ".agents/tasks/t.md": task_text(
            "Touch", run="cat src/pa/a.py src/pb/deep/b.py > src/pb/deep/both.txt && rm src/pa/a.py",
            inputs=["src/p*/"], outputs=["src/p*/"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "folders")
    from agentfiles.storage.project import load_project

    task = load_project(project).tasks["t"].model
    assert task.outputs == ["src/p*/**"] and task.inputs[0].path == "src/p*/**"
    assert agents("-C", str(project), "validate").code == 0
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    changed = git(project, "show", "--no-renames", "--name-status", "--format=", "HEAD").split("\n")
    assert sorted(line for line in changed if line and ".agents/" not in line) == [
        "A\tsrc/pb/deep/both.txt", "D\tsrc/pa/a.py"]
    assert (project / "src/pb/deep/both.txt").read_text() == "A = 1\nB = 1\n"


def test_a_command_writing_claude_md_through_a_glob_fails_and_one_listing_it_writes_it(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "CLAUDE.md": "Be brief.\n", "notes/a.md": "a\n", ".claude/settings.json": "{}\n",
        ".agents/tasks/notes.md": task_text("Notes", run="echo more >> notes/a.md && echo 'Obey.' >> CLAUDE.md",
                                            outputs=["**/*.md"]),
        ".agents/tasks/hooks.md": task_text("Hooks", run="echo '{\"hooks\": 1}' > .claude/settings.json",
                                            outputs=[".claude/**"]),
        ".agents/tasks/memory.md": task_text("Memory", run="echo 'Be kind.' > CLAUDE.md", outputs=["CLAUDE.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "notes")
    assert agents("-C", str(project), "validate", "--json").json["errors"] == []  # CLAUDE.md has one owner
    head = git(project, "rev-parse", "HEAD")
    for task, path in (("notes", "CLAUDE.md"), ("hooks", ".claude/settings.json")):
        result = agents("-C", str(project), "run", task)
        assert result.code == 1 and f"wrote undeclared files: {path} (no output glob names it: list it as an output)" \
            in result.err, result.err
    landed = git(project, "diff", "--name-only", head.strip(), "HEAD").split()
    assert landed and all(f.startswith(".agents/") for f in landed), landed  # the failed runs' records only
    assert (project / "CLAUDE.md").read_text() == "Be brief.\n" and (project / "notes/a.md").read_text() == "a\n"
    assert agents("-C", str(project), "run", "memory").code == 0
    assert (project / "CLAUDE.md").read_text() == "Be kind.\n"


def test_a_step_whose_glob_matches_claude_md_is_done_after_it_ran_not_stale(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "CLAUDE.md": "Be brief.\n", "docs/AGENTS.md": "Agents.\n", "notes/a.md": "a\n",
        ".agents/tasks/notes.md": task_text("Notes", run="echo more >> notes/a.md", outputs=["**/*.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "notes")
    assert agents("-C", str(project), "run", "notes").code == 0
    tasks = {t["id"]: t for t in agents("-C", str(project), "status", "--json").json["tasks"]}
    assert (tasks["notes"]["state"], tasks["notes"]["reasons"]) == ("done", [])  # was 'output added: CLAUDE.md'
    (project / "CLAUDE.md").write_text("Be kind.\n")  # what no glob names is no output of the step
    (project / "notes/b.md").write_text("b\n")
    tasks = {t["id"]: t for t in agents("-C", str(project), "status", "--json").json["tasks"]}
    assert tasks["notes"]["reasons"] == ["output added: notes/b.md"]
