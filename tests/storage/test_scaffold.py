from __future__ import annotations

import subprocess
from pathlib import Path

from conftest import git, make_repo

LAYOUT = [
    ".agents/.gitignore",
    ".agents/config.yaml",
    ".agents/handoffs/.gitkeep",
    ".agents/roles/developer.md",
    ".agents/roles/planner.md",
    ".agents/roles/reviewer.md",
    ".agents/runs/.gitkeep",
    ".agents/tasks/describe-project.md",
    "CLAUDE.md",
]


def test_init_creates_the_layout_and_it_validates(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(repo), "init")
    assert result.code == 0, result.err
    assert sorted(result.out.split()) == sorted(result.out.split())  # printed
    for rel in LAYOUT:
        assert (repo / rel).is_file(), rel
        assert rel in result.out
    checked = agents("-C", str(repo), "validate")
    assert checked.code == 0, checked.err
    assert checked.out.startswith("ok: 1 task, 3 roles")
    assert "warning" not in checked.err


def test_second_init_changes_nothing(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(repo), "init").code == 0
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    again = agents("-C", str(repo), "init")
    assert again.code == 0
    assert "Nothing to do" in again.out
    assert git(repo, "status", "--porcelain") == ""


def test_existing_claude_md_is_kept_byte_for_byte(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    original = "# My project\r\n\r\nBuild with `make`.   \n\n\nTabs\there, no final newline"
    repo = make_repo(tmp_path / "r", {"CLAUDE.md": original})
    assert agents("-C", str(repo), "init").code == 0
    text = (repo / "CLAUDE.md").read_bytes().decode()
    assert text.startswith(original)
    assert "agents:begin" in text[len(original) :]
    # Text the user adds after the block, and edits before it, survive a re-run too.
    edited = text.replace("Build with", "Build and test with") + "\nMore notes.\n"
    (repo / "CLAUDE.md").write_text(edited)
    assert agents("-C", str(repo), "init").code == 0
    assert (repo / "CLAUDE.md").read_bytes().decode() == edited


def test_agents_md_is_imported_not_copied(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r", {"AGENTS.md": "# Shared rules\n\nUNIQUE-RULE-TEXT\n"})
    assert agents("-C", str(repo), "init").code == 0
    text = (repo / "CLAUDE.md").read_text()
    assert "\n@AGENTS.md\n" in text
    assert "UNIQUE-RULE-TEXT" not in text


def test_agents_md_added_later_updates_only_the_block(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(repo), "init").code == 0
    before = (repo / "CLAUDE.md").read_text()
    (repo / "AGENTS.md").write_text("rules\n")
    result = agents("-C", str(repo), "init")
    assert "updated  CLAUDE.md" in result.out
    after = (repo / "CLAUDE.md").read_text()
    head = before[: before.index("<!-- agents:begin")]
    assert after.startswith(head) and "@AGENTS.md" in after


def test_init_outside_git_is_refused_with_a_hint(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "plain"
    folder.mkdir()
    result = agents("-C", str(folder), "init")
    assert result.code == 2
    assert result.err.startswith("error: not inside a git repository")
    assert "hint: " in result.err and "--git" in result.err
    assert list(folder.iterdir()) == []


def test_init_git_creates_the_repository(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    folder = tmp_path / "fresh"
    folder.mkdir()
    result = agents("-C", str(folder), "init", "--git")
    assert result.code == 0, result.err
    assert (folder / ".git").is_dir() and (folder / ".agents" / "config.yaml").is_file()
    done = subprocess.run(["git", "-C", str(folder), "status", "--porcelain"], capture_output=True, text=True)
    assert ".agents/" in done.stdout


def test_init_in_a_subfolder_uses_the_repository_root(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (repo / "sub" / "deeper").mkdir(parents=True)
    assert agents("-C", str(repo / "sub" / "deeper"), "init").code == 0
    assert (repo / ".agents" / "config.yaml").is_file()
    assert not (repo / "sub" / ".agents").exists()


def test_deleted_example_task_is_not_recreated(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(repo), "init").code == 0
    (repo / ".agents" / "tasks" / "describe-project.md").unlink()
    assert agents("-C", str(repo), "init").code == 0
    assert not (repo / ".agents" / "tasks" / "describe-project.md").exists()


def test_a_stray_begin_marker_of_the_user_is_kept(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    from agentfiles.core.claude_md import BEGIN

    original = f"top\n{BEGIN}\nmine\n"
    repo = make_repo(tmp_path / "r", {"CLAUDE.md": original})
    assert agents("-C", str(repo), "init").code == 0
    once = (repo / "CLAUDE.md").read_text()
    assert once.startswith(original)
    assert "Nothing to do" in agents("-C", str(repo), "init").out
    assert (repo / "CLAUDE.md").read_text() == once


def test_symlinked_claude_md_is_left_alone(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    import os

    repo = make_repo(tmp_path / "r", {"AGENTS.md": "# Rules\n"})
    os.symlink("AGENTS.md", repo / "CLAUDE.md")
    result = agents("-C", str(repo), "init")
    assert result.code == 0 and "symbolic link" in result.err
    assert (repo / "CLAUDE.md").is_symlink() and (repo / "AGENTS.md").read_text() == "# Rules\n"


def test_unreadable_claude_md_stops_init_before_writing(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "r")
    (repo / "CLAUDE.md").write_bytes(b"caf\xe9\n")
    result = agents("-C", str(repo), "init")
    assert result.code == 2 and "not UTF-8" in result.err and "hint:" in result.err
    assert not (repo / ".agents").exists()
    (repo / "CLAUDE.md").unlink()
    (repo / "CLAUDE.md").mkdir()
    result = agents("-C", str(repo), "init")
    assert result.code == 2 and "not a regular file" in result.err
