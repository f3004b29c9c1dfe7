"""The OS sandbox's /etc: one read-only mount of a view made beside the step's sandbox (copies of the few
files programs need, the toolchain's symlinks, its folders mounted), instead of a mount per file, which
made eight steps starting at once wait on each other in the kernel. Real bubblewrap, real processes."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from agentfiles.executors.isolation import SYSTEM_ETC, Isolation, Mounts, choose_mode, confine, etc_view

pytestmark = pytest.mark.skipif(choose_mode("auto")[0] != "os", reason="the OS sandbox cannot run here")


def inside(tmp_path: Path, script: str, mounts: Mounts | None = None) -> subprocess.CompletedProcess[str]:
    work = tmp_path / "agents-test" / "work"  # as a replay's or a conversation's folder
    work.mkdir(parents=True, exist_ok=True)
    argv = confine(["/bin/sh", "-c", script], work, Isolation("os"), mounts)
    return subprocess.run(argv, cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
                          check=False)


def test_the_sandbox_sees_the_files_of_etc_it_needs_and_cannot_change_them(tmp_path: Path) -> None:
    wanted = [p for p in SYSTEM_ETC if os.path.isfile(p) and os.access(p, os.R_OK)]
    assert "/etc/passwd" in wanted  # a machine these tests run on has it
    shown = inside(tmp_path, "for f in " + " ".join(wanted) + '; do printf "%s " "$f"; cksum < "$f"; done; '
                   "echo x > /etc/passwd || echo refused; touch /etc/new || echo refused; id -un")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    for path, line in zip(wanted, lines):
        with open(path, "rb") as handle:
            host = subprocess.run(["cksum"], stdin=handle, capture_output=True, text=True, check=True).stdout
        assert line == f"{path} {host.strip()}", path  # the same bytes as the host's, symlinks followed
    assert lines[len(wanted):len(wanted) + 2] == ["refused", "refused"]
    assert lines[-1] == subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()  # passwd works


def test_etc_is_one_mount_and_its_folders(tmp_path: Path) -> None:
    shown = inside(tmp_path, "cat /proc/self/mountinfo")
    assert shown.returncode == 0, shown.stderr
    points = [line.split()[4] for line in shown.stdout.splitlines()]
    under = sorted(p for p in points if p == "/etc" or p.startswith("/etc/"))
    folders = sorted(p for p in SYSTEM_ETC if os.path.isdir(p) and not os.path.islink(p))
    assert under == ["/etc", *folders]


def test_nothing_else_of_the_hosts_etc_is_there(tmp_path: Path) -> None:
    shown = inside(tmp_path, "ls -A /etc")
    names = set(shown.stdout.split())
    assert names <= {p.removeprefix("/etc/") for p in SYSTEM_ETC}
    assert "shadow" not in names and "hostname" not in names


def test_a_mount_under_etc_still_has_its_place(tmp_path: Path) -> None:
    conf = tmp_path / "policy.json"
    conf.write_text('{"managed": true}\n')
    mounts = Mounts(files={"/etc/agents-test/policy.json": str(conf)})
    shown = inside(tmp_path, "cat /etc/agents-test/policy.json; cat /etc/passwd > /dev/null && echo ok", mounts)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout == '{"managed": true}\nok\n'


def test_the_view_is_made_once_for_what_etc_holds_and_only_a_folder_of_ours_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentfiles.errors import PreconditionError
    from agentfiles.executors import isolation

    first = etc_view(tmp_path)
    made = os.stat(first[0]).st_ino
    assert Path(first[0]).parent == tmp_path and Path(first[0]).name.startswith("etc-")
    monkeypatch.setattr(isolation, "_VIEWS", {})  # another process: finds it
    assert etc_view(tmp_path) == first and os.stat(first[0]).st_ino == made
    assert [p.name for p in tmp_path.iterdir()] == [Path(first[0]).name]  # nothing half-made beside it
    os.chmod(first[0], 0o777)  # another user could have put something in it
    monkeypatch.setattr(isolation, "_VIEWS", {})
    with pytest.raises(PreconditionError, match="not a folder of yours"):
        etc_view(tmp_path)


def test_a_runs_steps_share_one_view_which_goes_with_the_run(project: Path, tmp_path: Path) -> None:
    from conftest import git, run_program, task_text, write_files

    tmp = tmp_path / "tmp"
    tmp.mkdir()
    write_files(project, {
        f".agents/tasks/t{i}.md": task_text(f"T{i}", run=f"stat -c %d:%i /etc > seen{i}.txt", outputs=[f"seen{i}.txt"])
        for i in range(3)
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert run_program("run", "--jobs", "3", cwd=project, env={"TMPDIR": str(tmp)}).code == 0
    seen = {(project / f"seen{i}.txt").read_text().split()[0] for i in range(3)}
    assert len(seen) == 1  # the same folder (device and inode) mounted at /etc in each
    assert list(tmp.iterdir()) == []  # nothing of the run left in the temporary folder


def test_a_sandbox_in_no_folder_of_agents_leaves_no_view_behind(tmp_path: Path) -> None:
    """A sandbox right in the temporary folder (as a Claude Code conversation's once was): nothing would
    remove a view beside it, so /etc is shown file by file and nothing is left there."""
    work = tmp_path / "agents-claude-x"
    work.mkdir()
    argv = confine(["/bin/sh", "-c", "cat /etc/passwd > /dev/null && echo ok"], work, Isolation("os"))
    shown = subprocess.run(argv, cwd=work, capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, timeout=60,
                           check=False)
    assert shown.stdout == "ok\n", shown.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["agents-claude-x"]


def test_steps_starting_at_once_make_the_view_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight steps of a run start together and each asks for the run's view: one makes it and the others
    wait for it (each making its own and throwing all but one away cost 80 ms a step of the first wave)."""
    import threading

    from agentfiles.executors import isolation

    monkeypatch.setattr(isolation, "_VIEWS", {})
    made: list[Path] = []
    real = isolation._make_view

    def making(view: Path) -> None:
        made.append(view)
        threading.Event().wait(0.05)  # the others arrive meanwhile
        real(view)

    monkeypatch.setattr(isolation, "_make_view", making)
    start = threading.Barrier(8)
    views: list[tuple[str, list[str]]] = []

    def step() -> None:
        start.wait()
        views.append(etc_view(tmp_path))

    threads = [threading.Thread(target=step) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1
    assert len(views) == 8 and all(v == views[0] for v in views)
    assert [p.name for p in tmp_path.iterdir()] == [Path(views[0][0]).name]
