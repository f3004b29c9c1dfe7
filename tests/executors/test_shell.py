"""The doer's shell (`run`) keeps what a step may not change read-only with as few mounts as say it: a
folder no output can name anything in is one mount, whatever it holds (a thousand protected files were a
thousand mounts, four seconds a call)."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentfiles.core.globs import OutputSet
from agentfiles.executors.shell import read_only_parts


def test_a_folder_no_output_can_reach_is_one_read_only_part(tmp_path: Path) -> None:
    files = [f"tests/unit/t{n}.py" for n in range(300)] + ["tests/conftest.py", "src/pkg/core.py", "src/pkg/data.txt",
                                                              "src/pkg/sub/x.py", "docs/in.md", "README.md", "pyproject.toml"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    (tmp_path / "empty").mkdir()
    owned = OutputSet(["src/pkg/**/*.py", "docs/out.md"])
    assert read_only_parts(tmp_path, owned) == [
        "README.md", "docs/in.md", "empty", "pyproject.toml", "src/pkg/data.txt", "tests"]
    # A glob that can reach everywhere leaves every file it does not name protected one by one.
    assert read_only_parts(tmp_path, OutputSet(["**/*.md"])) == sorted(
        rel for rel in files if not rel.endswith(".md"))


def test_the_walk_of_a_step_folder_sees_what_os_walk_sees(tmp_path: Path) -> None:
    """tree_of lists with os.scandir (faster than os.walk): the same files, folders and links, a symlinked
    folder as a file (never followed), a folder it cannot list as holding nothing."""
    import os

    from agentfiles.executors.shell import tree_of

    for rel in ("a.txt", "src/pkg/m.py", "src/pkg/deep/n.py", ".hidden/x", "empty/.keep"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    (tmp_path / "link-dir").symlink_to("src")
    (tmp_path / "src/link.py").symlink_to("pkg/m.py")
    (tmp_path / "dangling").symlink_to("nowhere")
    (tmp_path / "src/shut").mkdir()
    (tmp_path / "src/shut/inside").write_text("x\n")
    (tmp_path / "src/shut").chmod(0)
    try:
        files, folders = set(), set()
        for here, dirs, names in os.walk(tmp_path):
            prefix = os.path.relpath(here, tmp_path).replace(os.sep, "/") + "/"
            prefix = "" if prefix == "./" else prefix
            files.update(prefix + n for n in names)
            for name in dirs:
                (files if os.path.islink(os.path.join(here, name)) else folders).add(prefix + name)
        assert tree_of(tmp_path) == (files, folders)
        assert "link-dir" in files and "src/shut" in folders
        assert os.geteuid() == 0 or "src/shut/inside" not in files
    finally:
        (tmp_path / "src/shut").chmod(0o755)


def test_a_command_leaves_no_descriptor_open(tmp_path: Path) -> None:
    """run_process waits on a descriptor of the process (a pidfd) to see it end at once: it is closed after."""
    import os

    from agentfiles.executors.command import run_process

    before = set(os.listdir("/proc/self/fd"))
    for _ in range(5):
        code, out, _, _, _ = run_process(["/bin/sh", "-c", "echo hi; exit 3"], str(tmp_path), {"PATH": "/usr/bin:/bin"}, 30)
        assert (code, out) == (3, b"hi\n")
    assert set(os.listdir("/proc/self/fd")) <= before


def test_a_command_without_input_has_no_named_file_in_the_temporary_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A runner killed outright runs no `finally`: a command step (no input) leaves nothing named in the
    temporary folder while it runs; one given an input has its file there only for the while."""
    import os
    import tempfile

    from agentfiles.executors.command import run_process

    temp = tmp_path / "temp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    listing = ["/bin/sh", "-c", f"ls -A {temp}"]
    code, out, _, _, _ = run_process(listing, str(tmp_path), {"PATH": "/usr/bin:/bin"}, 30)
    assert (code, out) == (0, b"")
    code, out, _, _, _ = run_process(listing, str(tmp_path), {"PATH": "/usr/bin:/bin"}, 30, stdin=b"x")
    assert code == 0 and out.startswith(b"tmp")  # the input's own file, removed after
    assert os.listdir(temp) == []
