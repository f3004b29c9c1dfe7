"""Paths a hostile task, a hostile clone or an unlucky file name can hold, tried through the CLI on real
repositories: `.git` and agents' own state stay out of reach whatever the spelling, symlinks lead
nowhere a step may not go, records and handoffs read back from git are checked before any path in them
is used, and foreach placeholders stay words in any quoting."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from conftest import git, task_text, write_files


def commit_all(root: Path, message: str = "tasks") -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").strip()


def refused_everywhere(agents, root: Path, needle: str) -> None:  # type: ignore[no-untyped-def]
    """`validate` and `run` both exit 2 naming `needle`, with a hint, before anything runs or lands."""
    before, config = head(root), (root / ".git/config").read_bytes()
    handoffs = sorted((root / ".agents/handoffs").glob("*.md"))
    checked = agents("-C", str(root), "validate")
    assert checked.code == 2, checked.err
    assert needle in checked.out + checked.err
    ran = agents("-C", str(root), "run")
    assert ran.code == 2 and needle in ran.err and "hint:" in ran.err, ran.err
    assert "Traceback" not in ran.err + checked.err and "unexpected" not in ran.err
    assert head(root) == before and (root / ".git/config").read_bytes() == config
    assert sorted((root / ".agents/handoffs").glob("*.md")) == handoffs
    assert agents("-C", str(root), "status").code in (0, 2)


# ----------------------------------------------------------------------------------- .git, any spelling


@pytest.mark.parametrize("spelling", [".//.git/config", "./.git/config", "a/../.git/config", ".GIT/config",
                                      ".git./config", "x/.git/config"])
def test_an_output_in_git_is_refused_before_anything_runs(project: Path, agents, spelling: str) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/evil.md": task_text(
        "Evil", run="printf '[core]\\n\\tfsmonitor = touch FSMON\\n' > .git/config", outputs=[spelling])})
    commit_all(project)
    refused_everywhere(agents, project, "evil.md")
    assert not (project / "FSMON").exists()


def test_a_planted_hook_never_lands(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/hook.md": task_text(
        "Hook", run="mkdir -p .git/hooks && printf '#!/bin/sh\\ntouch HOOKED\\n' > .git/hooks/post-commit",
        outputs=[".//.git/hooks/post-commit"])})
    commit_all(project)
    refused_everywhere(agents, project, "is inside .git")
    assert not (project / ".git/hooks/post-commit").exists()


def test_an_input_in_git_is_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/peek.md": task_text(
        "Peek", run="cat .git/config > out.txt", inputs=[".//.git/config"], outputs=["out.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, "is inside .git")
    assert not (project / "out.txt").exists()


def test_a_glob_never_reaches_a_nested_repository_git(project: Path, agents, repo: Path) -> None:  # type: ignore[no-untyped-def]
    nested = project / "vendor/lib"
    nested.mkdir(parents=True)
    git(nested, "init", "-q")
    (nested / "lib.py").write_text("x = 1\n")
    write_files(project, {".agents/tasks/all.md": task_text(
        "List", run='printf "%s\\n" "$AGENTS_INPUTS" > out/list.txt', inputs=["vendor/**"], outputs=["out/list.txt"])})
    git(project, "add", ".agents")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "run").code == 0
    listed = (project / "out/list.txt").read_text().split()
    assert listed == ["vendor/lib/lib.py"]
    # Naming a .git in the pattern is refused outright.
    write_files(project, {".agents/tasks/all.md": task_text(
        "List", run="true", inputs=["**/.git/**"], outputs=["out/list.txt"])})
    git(project, "commit", "-qam", "tasks")
    refused_everywhere(agents, project, "is inside .git")


def test_a_symlink_to_git_is_no_way_in(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    os.symlink(".git", project / "gl")
    write_files(project, {".agents/tasks/peek.md": task_text(
        "Peek", run="cat gl/config > out.txt", inputs=["gl/config"], outputs=["out.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, "leads into .git through a symlink")
    # Nor through a glob or a folder input: the link is never followed into .git.
    write_files(project, {".agents/tasks/peek.md": task_text(
        "Peek", run='printf "%s\\n" "$AGENTS_INPUTS" > out.txt', inputs=["gl/*"], outputs=["out.txt"])})
    commit_all(project)
    checked = agents("-C", str(project), "validate")
    assert checked.code == 2 and "input 'gl/" in checked.err and "leads into .git through a symlink" in checked.err
    assert "more files out of reach" in checked.err and checked.err.count("leads into .git") == 3  # not one a file


def test_agents_own_state_is_no_input(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/peek.md": task_text(
        "Peek", run="true", inputs=[".agents/cache/index.json"], outputs=["out.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, "machine-local state of .agents/")


@pytest.mark.parametrize(("path", "why"), [
    ("a\\nb.txt", "control character"), ("a\\0b.txt", "control character"), ("a\\tb.txt", "control character"),
    ("   ", "may not be empty"), ("", "may not be empty"), ("a\\\\b.txt", "backslashes"),
])
def test_strange_paths_are_clear_errors(project: Path, agents, path: str, why: str) -> None:  # type: ignore[no-untyped-def]
    # Written as YAML double-quoted strings, so `\n` and `\0` are a real newline and NUL.
    (project / ".agents/tasks/odd.md").write_text(f'---\ntitle: Odd\nrun: "true"\noutputs: ["{path}"]\n---\n')
    commit_all(project)
    refused_everywhere(agents, project, why)


# ----------------------------------------------------------------------------------------- symlinks


def test_a_declared_output_that_is_a_symlink_is_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"real.txt": "keep\n", "outdir/keep.txt": "k\n"})
    os.symlink("real.txt", project / "link.txt")
    os.symlink("outdir", project / "via")
    write_files(project, {".agents/tasks/w.md": task_text("W", run="echo x > link.txt", outputs=["link.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, "goes through a symlink (link.txt)")
    write_files(project, {".agents/tasks/w.md": task_text("W", run="echo x > via/new.txt", outputs=["via/new.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, "goes through a symlink (via)")
    assert (project / "real.txt").read_text() == "keep\n" and not (project / "outdir/new.txt").exists()


def test_the_runners_folders_may_not_lead_into_git(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (project / ".git/hooks").mkdir(exist_ok=True)
    shutil.rmtree(project / ".agents/handoffs")
    os.symlink("../.git/hooks", project / ".agents/handoffs")
    write_files(project, {".agents/tasks/w.md": task_text("W", run="echo x > out.txt", outputs=["out.txt"])})
    commit_all(project)
    refused_everywhere(agents, project, ".agents/handoffs is a symlink; agents writes into it")
    assert not list((project / ".git/hooks").glob("*.md")) and not (project / "out.txt").exists()


def test_claude_md_and_its_imports_stay_in_the_repository(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside.md"
    outside.write_text("OUTSIDE-SECRET\n")
    (project / ".git/config").write_text((project / ".git/config").read_text() + "# GIT-CONFIG-SECRET\n")
    write_files(project, {
        "docs/CLAUDE.md": "Docs rules. @../.git/config and @../../outside.md and @./notes.md\n",
        "docs/notes.md": "NOTES-OK\n",
        "src/a.txt": "a\n",
        ".agents/tasks/write.md": task_text("Write", role="developer", inputs=["src/a.txt"], outputs=["docs/out.md"]),
    })
    os.symlink(outside, project / "src/CLAUDE.md")
    commit_all(project)
    result = agents("-C", str(project), "run", "write", "--dry-run", "--json")
    assert result.code == 0, result.err
    request = json.dumps(result.json["previews"][0]["request"])
    assert "NOTES-OK" in request and "Docs rules" in request
    assert "GIT-CONFIG-SECRET" not in request and "OUTSIDE-SECRET" not in request
    warned = agents("-C", str(project), "validate").err
    assert "docs/CLAUDE.md imports '../.git/config', which is not read: path '.git/config' is inside .git" in warned
    assert "src/CLAUDE.md is not read: it leaves the repository through a symlink" in warned


def test_a_root_claude_md_linking_out_is_not_read(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside.md"
    outside.write_text("OUTSIDE-SECRET\n")
    (project / "CLAUDE.md").unlink()
    os.symlink(outside, project / "CLAUDE.md")
    write_files(project, {".agents/tasks/write.md": task_text("Write", role="developer", outputs=["out.md"])})
    commit_all(project)
    result = agents("-C", str(project), "run", "write", "--dry-run", "--json")
    assert result.code == 0, result.err
    assert "OUTSIDE-SECRET" not in json.dumps(result.json["previews"][0]["request"])


# ---------------------------------------------------------------------------------- records are untrusted


@pytest.fixture
def landed(project: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    """One command step run and committed: `copy` reads data/in.txt and writes out.txt."""
    write_files(project, {"data/in.txt": "in\n",
                          ".agents/tasks/copy.md": task_text("Copy", run="cp data/in.txt out.txt",
                                                             inputs=["data/in.txt"], outputs=["out.txt"])})
    commit_all(project)
    assert agents("-C", str(project), "run").code == 0
    return project


def run_id(root: Path) -> str:
    return next(p.name for p in (root / ".agents/runs").iterdir() if p.is_dir())


def test_a_record_input_outside_the_repository_is_never_written(landed: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    path = landed / ".agents/runs" / run_id(landed) / "record.json"
    record = json.loads(path.read_text())
    up = os.path.relpath(victim, landed)
    assert up.startswith("../")
    record["inputs"] = {up: "sha256:" + "0" * 64, **record["inputs"]}
    path.write_text(json.dumps(record))
    commit_all(landed, "a hostile record")
    for args in (["replay", "copy"], ["replay", "copy", "--force"]):
        result = agents("-C", str(landed), *args)
        assert result.code == 2 and "contains '..'" in result.err and "hint:" in result.err, result.err
    assert victim.read_text() == "precious\n"


def test_a_record_input_through_a_symlink_is_refused(landed: Path, agents) -> None:  # type: ignore[no-untyped-def]
    os.symlink(".git", landed / "gl")
    path = landed / ".agents/runs" / run_id(landed) / "record.json"
    record = json.loads(path.read_text())
    record["inputs"]["gl/config"] = "sha256:" + "0" * 64
    path.write_text(json.dumps(record))
    result = agents("-C", str(landed), "replay", "copy", "--force")
    assert result.code == 2 and "leads into .git through a symlink" in result.err, result.err


def test_a_handoff_run_outside_the_runs_folder_is_refused(landed: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A record planted where `.agents/runs/../../..` leads.
    (landed.parent / "record.json").write_text(json.dumps({"command": "FOREIGN-RECORD", "inputs": {}}))
    handoff = landed / ".agents/handoffs/copy.md"
    text = handoff.read_text()
    real = run_id(landed)
    handoff.write_text(text.replace(f"run: {real}", "run: ../../.."))
    for args in (["show", "copy"], ["show", "copy", "--json"], ["replay", "copy"], ["show", "copy", "--diff"]):
        result = agents("-C", str(landed), *args)
        assert result.code == 2 and "hint:" in result.err, (args, result.err)
        assert "FOREIGN-RECORD" not in result.out
    assert "not a valid run id" in agents("-C", str(landed), "validate").err


def test_a_committed_handoff_run_outside_is_refused_from_history(landed: Path, agents) -> None:  # type: ignore[no-untyped-def]
    handoff = landed / ".agents/handoffs/copy.md"
    real = run_id(landed)
    handoff.write_text(handoff.read_text().replace(f"run: {real}", "run: ../../.."))
    git(landed, "commit", "-qam", f"agents(copy): hostile\n\nAgents-Task: copy\nAgents-Run: evil\n")
    result = agents("-C", str(landed), "show", "copy", "--run", "evil")
    assert result.code == 2 and "not a valid run id" in result.err, result.err


def test_record_files_leading_out_are_not_read(landed: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("OUTSIDE-SECRET\n")
    folder = landed / ".agents/runs" / run_id(landed)
    os.symlink(secret, folder / "stdout.txt")
    result = agents("-C", str(landed), "show", "copy")
    assert result.code == 2 and "leaves the repository through a symlink" in result.err, result.err
    assert "OUTSIDE-SECRET" not in result.out


def test_proposed_outputs_leading_out_are_not_shown(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = tmp_path / "secret.txt"
    secret.write_text("OUTSIDE-SECRET\n")
    write_files(project, {".agents/tasks/fail.md": task_text("Fail", run="echo x > out.txt; exit 3", outputs=["out.txt"])})
    commit_all(project)
    assert agents("-C", str(project), "run").code == 1
    proposed = project / ".agents/runs" / run_id(project) / "proposed"
    proposed.mkdir(exist_ok=True)
    os.symlink(secret, proposed / "stolen.txt")
    result = agents("-C", str(project), "show", "fail", "--diff")
    assert result.code == 2 and "OUTSIDE-SECRET" not in result.out, result.out + result.err


# ------------------------------------------------------------------------------------------- foreach


@pytest.mark.parametrize("command", [
    'wc -c "{item}" > "out/{stem}.n"',
    "wc -c '{item}' > 'out/{stem}.n'",
    "wc -c {item} > out/{stem}.n",
    'f="{item}"; wc -c "$f" > "out/{stem}.n" # it\'s quoted',
    'test -n "${HOME}"; wc -c "{item}" > out/{stem}.n',
])
def test_foreach_placeholders_are_words_in_any_quoting(project: Path, agents, command: str) -> None:  # type: ignore[no-untyped-def]
    # Code that ran would leave INJECTED in the step's folder: an undeclared file, and a failed step.
    names = ["a$(touch INJECTED).md", "b`touch INJECTED`.md", 'c"; touch INJECTED; ".md', "d'; touch INJECTED; '.md",
             "e $HOME x.md"]
    write_files(project, {f"notes/{name}": "12345\n" for name in names})
    write_files(project, {".agents/tasks/count.md": task_text(
        "Count", foreach="notes/*.md", run=command, inputs=["{item}"], outputs=["out/{stem}.n"])})
    commit_all(project)
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert not list(project.rglob("INJECTED"))
    counts = {p.name: p.read_text().split()[0] for p in (project / "out").iterdir()}
    assert counts == {name[:-3] + ".n": "6" for name in names}


@pytest.mark.parametrize("command", ["cat $(echo {item})", "cat `echo {item}`", 'cat "$(echo {item})"', "cat \\{item}",
                                     "cat <<EOF\n{item}\nEOF", "echo ${item}", "cat ${X:-{item}}"])
def test_placeholders_where_quoting_cannot_be_followed_are_refused(project: Path, agents, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"notes/a.md": "a\n", ".agents/tasks/c.md": task_text(
        "C", foreach="notes/*.md", run=command + " > out/{stem}", inputs=["{item}"], outputs=["out/{stem}"])})
    commit_all(project)
    refused_everywhere(agents, project, "where agents cannot quote it safely")


@pytest.mark.parametrize("command", ['/bin/sh -c "wc -c {item}"', 'echo "wc -c {item}" | sh'])
def test_a_placeholder_a_shell_parses_again_is_refused_by_any_path(project: Path, agents, command: str) -> None:  # type: ignore[no-untyped-def]
    """The issue-11 verification ran `$(...)` in an item's name through `/bin/sh -c` and a pipe into `sh`."""
    write_files(project, {"notes/d$(touch INJECTED).md": "x\n", ".agents/tasks/c.md": task_text(
        "C", foreach="notes/*.md", run=command + ' > "out/{stem}.n"', inputs=["{item}"], outputs=["out/{stem}.n"])})
    commit_all(project)
    refused_everywhere(agents, project, "parses it as a command again")
    assert not list(project.rglob("INJECTED"))


def test_a_foreach_item_that_names_a_forbidden_path_is_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {"notes/.git.md": "x\n", ".agents/tasks/c.md": task_text(
        "C", foreach="notes/.*.md", run="true", outputs=["{stem}/config"])})
    commit_all(project)
    refused_everywhere(agents, project, "is inside .git")


# ------------------------------------------------------------------ agents' machine-local state from a clone


def test_a_committed_journal_never_writes_outside_the_repository(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    journal = project / ".agents/tmp/journal/evil"
    (journal / "backup").mkdir(parents=True)
    (journal / "victim.txt").write_text("PWNED\n")  # what backup/../victim.txt names
    (journal / "journal.json").write_text(json.dumps({"run": "evil", "files": {"../victim.txt": True}}))
    git(project, "add", "-f", ".agents/tmp")
    commit_all(project, "a hostile journal")
    result = agents("-C", str(project), "run")
    assert result.code == 2 and ".agents/tmp" in result.err and "hint:" in result.err, result.err
    assert victim.read_text() == "precious\n"


def test_a_committed_process_registry_kills_nothing(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    # A process of the user's, in a session of its own, that a planted registry entry names.
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
    try:
        start = Path(f"/proc/{bystander.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        registry = project / ".agents/tmp/processes"
        registry.mkdir(parents=True)
        (registry / "x.json").write_text(json.dumps({"pid": bystander.pid, "start": start}))
        git(project, "add", "-f", ".agents/tmp")
        commit_all(project, "a hostile registry")
        result = agents("-C", str(project), "run")
        assert result.code == 2 and "git rm -r --cached" in result.err, result.err
        assert bystander.poll() is None  # still running
    finally:
        bystander.kill()
        bystander.wait()


def test_the_registry_never_names_every_process() -> None:
    # Judged without signalling anything: killpg(1) is kill(-1), every process the user may signal.
    from agentfiles.storage.processes import signalable

    assert not signalable(0) and not signalable(1) and not signalable(-5) and not signalable(os.getpgrp())
    assert signalable(os.getpgrp() + 100000)


def test_a_journal_naming_paths_no_step_writes_is_not_acted_on(project: Path, agents, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    journal = project / ".agents/tmp/journal/evil"
    (journal / "backup").mkdir(parents=True)
    (journal / "journal.json").write_text(json.dumps({"run": "evil", "files": {"../victim.txt": False,
                                                                                  ".git/hooks/post-commit": False}}))
    result = agents("-C", str(project), "run")
    assert result.code == 2 and "was not left by a run of agents" in result.err and "rm -rf" in result.err
    assert victim.read_text() == "precious\n"
