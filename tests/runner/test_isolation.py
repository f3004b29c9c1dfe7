"""Hostile steps: a step that tries to read, write or keep running beyond what it declared, against the
OS sandbox (bubblewrap), the folder sandbox and the repository tripwire. Each reproduction is run as a
user runs agents: as its own program, from inside the repository."""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import git, run_program, task_text, write_files

SECRET = "sk-ant-hostile-test-secret-0123456789"


def os_sandbox_problem() -> str | None:
    from agentfiles.executors.isolation import choose_mode

    mode, note = choose_mode("auto")
    return None if mode == "os" else note


needs_os_sandbox = pytest.mark.skipif(
    os_sandbox_problem() is not None, reason=f"the OS sandbox cannot run here: {os_sandbox_problem()}"
)


def add_task(root: Path, name: str, **fields: object) -> None:
    write_files(root, {f".agents/tasks/{name}.md": task_text(name.title(), **fields)})
    git(root, "add", "-A")
    git(root, "commit", "-qm", f"task {name}")


def run(root: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    return run_program("run", *args, cwd=root, env={"DEPLOY_KEY": SECRET, **(env or {})})


def everything_in_git(root: Path) -> str:
    return git(root, "log", "-p", "--all", "--format=%H %B")


def handoff(root: Path, task: str) -> dict:  # type: ignore[type-arg]
    import yaml

    text = (root / f".agents/handoffs/{task}.md").read_text()
    return yaml.safe_load(text.split("---\n")[1])


@pytest.fixture
def private(project: Path) -> Path:
    write_files(project, {"private.txt": "PRIVATE-CONTENT\n", "data/in.txt": "in\n"})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "private")
    return project


# ---------------------------------------------------------------------------------- the OS sandbox


@needs_os_sandbox
def test_a_step_cannot_read_undeclared_repository_files_by_any_path(private: Path) -> None:
    root = private.resolve()
    reads = f"cat {root}/private.txt /proc/$PPID/cwd/private.txt /proc/1/cwd/private.txt 2>/dev/null"
    fds = "for f in /proc/$PPID/fd/* /proc/1/fd/*; do readlink $f; done > fds.txt"
    add_task(private, "peek", run=f"{reads} > out.txt; {fds}; true", inputs=["data/in.txt"],
             outputs=["out.txt", "fds.txt"])
    result = run(private)
    assert result.code == 0, result.err
    assert "PRIVATE-CONTENT" not in (private / "out.txt").read_text()
    # no descriptor of the runner (the run lock, the repository) is visible
    assert str(root) not in (private / "fds.txt").read_text()
    assert handoff(private, "peek")["isolation"] == "os"


@needs_os_sandbox
def test_a_step_cannot_see_the_runners_environment(private: Path) -> None:
    add_task(private, "environ", run="(cat /proc/$PPID/environ /proc/1/environ; env) | tr '\\0' '\\n' > out.txt; true",
             outputs=["out.txt"])
    result = run(private)
    assert result.code == 0, result.err
    assert SECRET not in (private / "out.txt").read_text()
    assert "DEPLOY_KEY" not in (private / "out.txt").read_text()
    assert SECRET not in everything_in_git(private)


@needs_os_sandbox
def test_a_step_cannot_write_outside_its_sandbox(private: Path, tmp_path: Path) -> None:
    root = private.resolve()
    outside = tmp_path / "outside.txt"
    writes = (f"echo x > {root}/private.txt; echo x > /proc/$PPID/cwd/private.txt; echo x > {outside}; "
              f"mkdir -p {root}/.git/hooks && echo 'touch {tmp_path}/hooked' > {root}/.git/hooks/post-commit")
    add_task(private, "scribble", run=f"({writes}) 2>/dev/null; echo done > out.txt", outputs=["out.txt"])
    result = run(private)
    # /proc/$PPID/cwd is the step's own sandbox: the write lands there, undeclared, and fails the step
    assert result.code == 1 and "invalid_output: wrote undeclared files: private.txt" in result.err, result.err
    assert (private / "private.txt").read_text() == "PRIVATE-CONTENT\n"
    assert not outside.exists()
    assert not (private / ".git/hooks/post-commit").exists()
    assert git(private, "status", "--porcelain") == ""


@needs_os_sandbox
def test_nothing_a_step_starts_outlives_it(private: Path, tmp_path: Path) -> None:
    late = tmp_path / "late.txt"
    add_task(private, "linger", run=f"setsid sh -c 'sleep 1; echo late > {late}; echo late > late.txt' & echo ok > out.txt",
             outputs=["out.txt"])
    assert run(private).code == 0
    time.sleep(2.0)
    assert not late.exists()
    assert not (private / "late.txt").exists()


@needs_os_sandbox
def test_the_network_is_closed_unless_a_task_opens_it(private: Path) -> None:
    add_task(private, "net", run=f"$AGENTS_PYTHON -c \"import socket; print(len(socket.if_nameindex()))\" > out.txt",
             outputs=["out.txt"])
    assert run(private).code == 0
    assert (private / "out.txt").read_text().strip() == "1"  # only the loopback of its own namespace
    add_task(private, "net", run=f"$AGENTS_PYTHON -c \"import socket; print(len(socket.if_nameindex()))\" > out.txt",
             outputs=["out.txt"], network=True)
    assert run(private).code == 0
    assert int((private / "out.txt").read_text().strip()) == len(__import__("socket").if_nameindex())


@needs_os_sandbox
def test_run_checks_are_confined_like_the_step(private: Path, tmp_path: Path) -> None:
    root = private.resolve()
    escape = f"cat /proc/$PPID/environ > {tmp_path}/leak; echo pwned > {root}/private.txt; true"
    add_task(private, "checked", run="echo ok > out.txt", outputs=["out.txt"], acceptance=[{"run": escape}])
    result = run(private)
    assert result.code == 0, result.err
    assert not (tmp_path / "leak").exists()
    assert (private / "private.txt").read_text() == "PRIVATE-CONTENT\n"


@needs_os_sandbox
def test_a_step_sees_the_interpreter_running_agents(private: Path) -> None:
    add_task(private, "py", run='"$AGENTS_PYTHON" -c "import sys; print(sys.version_info[0])" > out.txt',
             outputs=["out.txt"])
    assert run(private).code == 0
    assert (private / "out.txt").read_text() == "3\n"


# -------------------------------------------------------------------------- choosing the isolation


def bin_without_bwrap(tmp_path: Path) -> str:
    """A PATH with git and the shell's tools but no bubblewrap: a machine where it is not installed."""
    folder = tmp_path / "bin"
    folder.mkdir()
    for tool in ("git", "sh", "cat", "tr", "env", "echo", "printf", "sort"):
        found = shutil.which(tool)
        if found:
            os.symlink(found, folder / tool)
    return str(folder)


def test_without_bwrap_auto_falls_back_to_folder_isolation_and_says_so_once(private: Path, tmp_path: Path) -> None:
    add_task(private, "one", run="echo 1 > one.txt", outputs=["one.txt"])
    add_task(private, "two", run="echo 2 > two.txt", outputs=["two.txt"])
    result = run(private, env={"PATH": bin_without_bwrap(tmp_path)})
    assert result.code == 0, result.err
    assert result.err.count("folder isolation") == 1, result.err
    assert "warning:" in result.err and "bubblewrap" in result.err
    assert handoff(private, "one")["isolation"] == "folder"
    status = run_program("status", "--json", cwd=private).json
    assert {t["id"]: t["isolation"] for t in status["tasks"]} == {"one": "folder", "two": "folder"}
    record = json.loads(next((private / ".agents/runs").glob("*/record.json")).read_text())
    assert record["isolation"]["mode"] == "folder"


def test_a_bwrap_that_cannot_confine_falls_back_with_its_reason(private: Path, tmp_path: Path) -> None:
    """The probe runs in the background from the start of the run; its answer is the same: bubblewrap
    installed where user namespaces are refused gives folder isolation, and says why in bwrap's words."""
    folder = bin_without_bwrap(tmp_path)
    fake = Path(folder) / "bwrap"
    fake.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\nexit 1\n")
    fake.chmod(0o755)
    add_task(private, "one", run="echo 1 > one.txt", outputs=["one.txt"])
    result = run(private, env={"PATH": folder})
    assert result.code == 0, result.err
    assert result.err.count("setting up uid map: Permission denied") == 1, result.err
    assert handoff(private, "one")["isolation"] == "folder"
    add_task(private, "strict", run="echo 2 > two.txt", outputs=["two.txt"], isolation="os")
    refused = run(private, env={"PATH": folder})
    assert refused.code == 2 and "setting up uid map: Permission denied" in refused.err, refused.err


def test_isolation_os_without_bwrap_stops_the_run_before_any_step(private: Path, tmp_path: Path) -> None:
    add_task(private, "strict", run="echo 1 > one.txt", outputs=["one.txt"], isolation="os")
    before = git(private, "rev-parse", "HEAD")
    result = run(private, env={"PATH": bin_without_bwrap(tmp_path)})
    assert result.code == 2
    assert "error: `isolation: os` is set" in result.err and "hint:" in result.err and "apt-get install bubblewrap" in result.err
    assert "Traceback" not in result.err
    assert git(private, "rev-parse", "HEAD") == before


# ---------------------------------------------------------------------------------- the tripwire


def test_the_tripwire_fails_a_step_that_changes_the_repository_behind_its_sandbox(private: Path) -> None:
    root = private.resolve()
    add_task(private, "sneak", isolation="folder",
             run=f"echo tampered > {root}/private.txt; echo new > {root}/planted.txt; echo ok > out.txt",
             outputs=["out.txt"])
    result = run(private)
    assert result.code == 1
    assert "sandbox_escape" in result.err and "private.txt" in result.err and "planted.txt" in result.err
    assert not (private / "out.txt").exists()  # nothing of its outputs landed
    assert "out.txt" not in git(private, "show", "--name-only", "--format=", "HEAD").split()
    meta = handoff(private, "sneak")
    assert meta["status"] == "failed" and meta["failure"]["kind"] == "sandbox_escape"
    status = run_program("status", "--json", cwd=private)
    assert status.code == 0


def test_a_step_that_changes_gits_hooks_or_config_stops_the_run_before_git_runs_again(private: Path, tmp_path: Path) -> None:
    root = private.resolve()
    ran = tmp_path / "FSMONITOR-RAN"
    add_task(private, "hook", isolation="folder",
             run=f"echo 'exit 0' > {root}/.git/hooks/post-commit; "
                 f"printf '[core]\\n\\tfsmonitor = touch {ran}\\n' >> {root}/.git/config; echo ok > out.txt",
             outputs=["out.txt"])
    add_task(private, "later", isolation="folder", run="echo later > later.txt", outputs=["later.txt"], needs=["hook"])
    head = git(private, "rev-parse", "HEAD")
    result = run(private, "--jobs", "1")
    assert result.code == 2
    assert "error: while step hook ran, git's own files changed: .git/config, .git/hooks/post-commit" in result.err
    assert "hint: these make git run commands" in result.err and "Traceback" not in result.err
    assert git(private, "rev-parse", "HEAD") == head  # not even the failed step's commit
    assert not (private / "later.txt").exists() and not (private / "out.txt").exists()
    assert not ran.exists()  # agents never ran the fsmonitor command a step planted


def test_the_tripwire_fails_a_step_that_swaps_in_a_folder_made_before_the_run_or_chmods_a_file(
    private: Path, tmp_path: Path
) -> None:
    """The files of a folder renamed into the repository keep their inodes' change times, older than the
    run; a chmod leaves git's bytes: both are still changes."""
    root = private.resolve()
    (tmp_path / "elsewhere/data").mkdir(parents=True)
    (tmp_path / "elsewhere/data/in.txt").write_text("planted\n")
    add_task(private, "swapper", isolation="folder",
             run=f"mv {root}/data {tmp_path}/data.old && mv {tmp_path}/elsewhere/data {root}/data; "
                 f"chmod 777 {root}/private.txt; echo ok > out.txt",
             outputs=["out.txt"])
    result = run(private)
    assert result.code == 1
    assert "sandbox_escape" in result.err and "data/in.txt" in result.err and "private.txt" in result.err
    assert not (private / "out.txt").exists()


def test_the_tripwire_ignores_a_touch_that_changes_no_bytes(private: Path) -> None:
    root = private.resolve()
    add_task(private, "toucher", isolation="folder", run=f"touch {root}/private.txt; echo ok > out.txt",
             outputs=["out.txt"])
    result = run(private)
    assert result.code == 0, result.err


def test_a_touch_of_a_definition_the_run_itself_committed_changes_no_bytes(private: Path) -> None:
    """The tripwire asks git for the index's blobs while the run plans; a run that commits the definitions
    it uses asks again, so a touch of one of those files (same bytes) is still no change."""
    root = private.resolve()
    write_files(private, {".agents/tasks/toucher.md": task_text(
        "Toucher", isolation="folder", run=f"touch {root}/.agents/tasks/toucher.md; echo ok > out.txt",
        outputs=["out.txt"])})
    result = run(private)
    assert result.code == 0, result.err
    assert "committed the definitions this run uses" in result.err


# ------------------------------------------------------------------------------------------ secrets


@pytest.mark.parametrize("form", ["raw", "json", "base64", "base64-offset"])
def test_an_output_holding_a_secret_fails_the_step_and_the_secret_never_lands(private: Path, form: str) -> None:
    secret = 'pa"ss\\word-' + SECRET  # a quote and a backslash: its JSON form differs from the raw one
    encoded = {
        "raw": secret,
        "json": json.dumps({"k": secret}),
        "base64": base64.b64encode(secret.encode()).decode(),
        "base64-offset": base64.b64encode(b"xy" + secret.encode()).decode(),
    }[form]
    write_files(private, {".gitignore": "data/blob.txt\n", "data/blob.txt": encoded})  # the secret stays out of git
    add_task(private, "leak", run="cat data/blob.txt > out.txt", inputs=["data/blob.txt"], outputs=["out.txt"])
    result = run(private, env={"DEPLOY_KEY": secret})
    assert result.code == 1
    assert "secret_leak" in result.err and "out.txt" in result.err and "DEPLOY_KEY" in result.err
    assert SECRET not in result.err
    assert not (private / "out.txt").exists()
    history = everything_in_git(private)
    assert SECRET not in history and encoded not in history


def test_a_task_may_publish_a_secret_it_lists(private: Path) -> None:
    add_task(private, "publish", run='printf "%s" "$DEPLOY_KEY" > out.txt', outputs=["out.txt"],
             env=["DEPLOY_KEY"], publish_secrets=["DEPLOY_KEY"])
    result = run(private)
    assert result.code == 0, result.err
    assert (private / "out.txt").read_text() == SECRET


def test_publish_secrets_must_name_a_variable_the_step_is_given(private: Path) -> None:
    write_files(private, {".agents/tasks/bad.md": task_text("Bad", run="true", publish_secrets=["DEPLOY_KEY"])})
    result = run_program("validate", cwd=private)
    assert result.code == 2
    assert "publish_secrets" in result.err and "hint:" in result.err


# ------------------------------------------------------------------------------------------- replay


def test_replaying_a_command_step_runs_it_again_confined(private: Path) -> None:
    add_task(private, "copy", run="tr a-z A-Z < data/in.txt > out.txt", inputs=["data/in.txt"], outputs=["out.txt"])
    assert run(private).code == 0
    replayed = run_program("--json", "replay", "copy", cwd=private)
    assert replayed.code == 0, replayed.err
    assert replayed.json["identical"] is True


# --------------------------------------------------- a model step's output run by a check (item 2)


def test_code_a_model_wrote_runs_confined_in_its_check(private: Path, api, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A task with `outputs: [tool.sh]` and a `run: sh tool.sh` check runs what the model wrote; it must
    not get the key, the repository or anything outside its checkout."""
    from conftest import KEY, configure
    from fake_anthropic import Reply

    configure(private, api)
    root = private.resolve()
    payload = (f"cat /proc/$PPID/environ /proc/1/environ 2>/dev/null | tr '\\0' '\\n' > {tmp_path}/stolen\n"
               f"env >> {tmp_path}/stolen\necho pwned > {root}/private.txt\nexit 0\n")
    add_task(private, "tool", role="developer", outputs=["tool.sh"], acceptance=[{"run": "sh tool.sh"}])
    api.queue(
        Reply.tool_use("write_file", {"path": "tool.sh", "content": payload}),
        Reply.tool_use("finish", {"summary": "Wrote tool.sh."}),
    )
    result = run(private, env={"ANTHROPIC_API_KEY": KEY})
    assert KEY not in everything_in_git(private)
    if os_sandbox_problem() is None:
        assert result.code == 0, result.err
        assert not (tmp_path / "stolen").exists()
        assert (private / "private.txt").read_text() == "PRIVATE-CONTENT\n"
    else:  # folder isolation reads what it likes; the tripwire fails the step for the write to the repository
        assert result.code == 1 and "sandbox_escape" in result.err


# ------------------------------------------------------------------------ the checkouts of checks


def test_each_check_sees_head_as_it_is_now_and_nothing_an_earlier_check_left(private: Path, tmp_path: Path) -> None:
    pwned = tmp_path / "PWNED"
    hostile = (f"echo junk > junk.txt; rm -f .git; mkdir -p .git; "
               f"printf '[core]\\n\\tfsmonitor = touch {pwned}\\n' > .git/config; true")
    add_task(private, "first", run="echo 1 > one.txt", outputs=["one.txt"], acceptance=[{"run": hostile}])
    add_task(private, "second", run="echo 2 > two.txt", outputs=["two.txt"], needs=["first"],
             acceptance=[{"run": "test ! -e junk.txt && test -s one.txt && test -s private.txt"}])
    result = run(private, "--jobs", "1")
    assert result.code == 0, result.err
    assert not pwned.exists()
    assert git(private, "worktree", "list").count("\n") == 1  # the run's checkouts are gone


def test_status_says_what_run_would_refuse_an_input_leading_into_git(private: Path) -> None:
    os.symlink(".git", private / "gl")
    write_files(private, {".agents/tasks/peek.md": task_text("Peek", run="cat gl/config > out.txt",
                                                             inputs=["gl/config"], outputs=["out.txt"])})
    git(private, "add", "-A")
    git(private, "commit", "-qm", "peek")
    row = {t["id"]: t for t in run_program("status", "--json", cwd=private).json["tasks"]}["peek"]
    assert row["state"] == "blocked" and row["reasons"] == ["input gl/config leads into .git through a symlink"]
    assert run(private).code == 2


def test_status_says_blocked_when_an_input_of_a_done_task_becomes_a_link_into_git(private: Path) -> None:
    """Status said `stale: input changed` (a re-run to come) while run refused the input."""
    add_task(private, "t3", run="cat data/in.txt > out.txt", inputs=["data/in.txt"], outputs=["out.txt"])
    assert run(private).code == 0
    (private / "data/in.txt").unlink()
    os.symlink("../.git/config", private / "data/in.txt")
    git(private, "add", "-A")
    git(private, "commit", "-qm", "link")
    row = {t["id"]: t for t in run_program("status", "--json", cwd=private).json["tasks"]}["t3"]
    assert row["state"] == "blocked" and row["reasons"] == ["input data/in.txt leads into .git through a symlink"]
    ran = run(private)
    assert ran.code == 2 and "leads into .git" in ran.err and "hint: a step may not read git's own files" in ran.err


def test_status_says_blocked_for_a_glob_input_through_a_link_into_git(private: Path) -> None:
    os.symlink(".git", private / "gl")
    write_files(private, {".agents/tasks/g1.md": task_text("G", run="cat gl/HEAD > out.txt", inputs=["gl/**"],
                                                           outputs=["out.txt"])})
    git(private, "add", "-A")
    git(private, "commit", "-qm", "glob")
    row = {t["id"]: t for t in run_program("status", "--json", cwd=private).json["tasks"]}["g1"]
    assert row["state"] == "blocked" and len(row["reasons"]) == 1
    assert row["reasons"][0].startswith("input gl/** matches gl") and "leads into .git" in row["reasons"][0]
    assert run(private).code == 2


@pytest.mark.parametrize("path", ["/", "HOME", "HOME/.ssh", "HOME/.claude/x"])
def test_a_toolchain_may_not_open_the_home_folder_or_its_credentials(private: Path, path: str) -> None:
    home = os.path.expanduser("~")
    config = private / ".agents/config.yaml"
    config.write_text(config.read_text().replace("toolchain: []", f"toolchain: [{path.replace('HOME', home)}]"))
    result = run_program("validate", cwd=private)
    assert result.code == 2 and "toolchain path" in result.err and "hint:" in result.err


@pytest.mark.parametrize("kind", ["parent", "relative into ~/.ssh", "link to ~/.ssh", "link to .git"])
def test_a_toolchain_path_is_judged_where_it_leads(private: Path, kind: str) -> None:
    """The issue-11 verification exposed ~/.ssh through `..`, `../.ssh` and a committed link `tc -> ~/.ssh`:
    only absolute paths were checked, and the run followed the rest."""
    ssh = Path(os.path.expanduser("~")) / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    path = {"parent": "..", "relative into ~/.ssh": os.path.relpath(ssh, private)}.get(kind, "tc")
    if kind.startswith("link"):
        os.symlink(ssh if kind.endswith("ssh") else private / ".git", private / "tc")
    config = private / ".agents/config.yaml"
    config.write_text(config.read_text().replace("toolchain: []", f"toolchain: [{path}]"))
    add_task(private, "leak", run="ls ~ > out.txt", outputs=["out.txt"])
    head = git(private, "rev-parse", "HEAD")
    checked = run_program("validate", cwd=private)
    said = {"parent": "the whole repository", "link to .git": "the repository's .git"}.get(kind, "~/.ssh")
    assert checked.code == 2 and f"toolchain path '{path}' leads to" in checked.err and said in checked.err
    assert ".agents/config.yaml:" in checked.err and "hint: list the folder of the tools" in checked.err
    ran = run(private)
    assert ran.code == 2 and said in ran.err and git(private, "rev-parse", "HEAD") == head


def test_a_toolchain_folder_inside_the_repository_is_fine(private: Path) -> None:
    (private / ".venv/bin").mkdir(parents=True)
    config = private / ".agents/config.yaml"
    config.write_text(config.read_text().replace("toolchain: []", "toolchain: [.venv]"))
    assert run_program("validate", cwd=private).code == 0


def test_a_toolchain_folder_is_seen_read_only_by_steps(private: Path, tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "greet").write_text("#!/bin/sh\necho hello from the toolchain\n")
    (tools / "greet").chmod(0o755)
    config = private / ".agents/config.yaml"
    config.write_text(config.read_text().replace("toolchain: []", f"toolchain: [{tools}]"))
    add_task(private, "tool", run=f"{tools}/greet > out.txt; touch {tools}/scribble 2>/dev/null; true",
             outputs=["out.txt"])
    assert run(private).code == 0
    assert (private / "out.txt").read_text() == "hello from the toolchain\n"
    if os_sandbox_problem() is None:
        assert not (tools / "scribble").exists()  # read-only inside the OS sandbox
