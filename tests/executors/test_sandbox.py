"""What a step left in its sandbox, judged against what it declared (executors/sandbox.collect)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from agentfiles.executors.sandbox import Sandbox, collect


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture
def box(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    (folder / "in").mkdir(parents=True)
    (folder / "in/a.txt").write_bytes(b"a\n")
    (folder / "in/b.txt").write_bytes(b"b\n")
    (folder / "out").mkdir()
    return folder


INPUTS = {"in/a.txt": digest(b"a\n"), "in/b.txt": digest(b"b\n")}


def test_declared_outputs_are_collected_and_untouched_inputs_are_not_reported(box: Path) -> None:
    (box / "out/r.txt").write_bytes(b"result\n")
    (box / "top.txt").write_bytes(b"top\n")
    found = collect(box, INPUTS, ["out/r.txt", "top.txt"])
    assert found.outputs == {"out/r.txt": b"result\n", "top.txt": b"top\n"}
    assert found.undeclared == [] and found.missing == []


def test_a_declared_output_not_written_is_missing(box: Path) -> None:
    (box / "out/r.txt").write_bytes(b"x")
    found = collect(box, INPUTS, ["out/r.txt", "out/never.txt"])
    assert found.missing == ["out/never.txt"] and found.undeclared == []


def test_undeclared_writes_changed_and_deleted_inputs_are_named_sorted(box: Path) -> None:
    (box / "zz.txt").write_bytes(b"z")
    (box / "out/deep").mkdir()
    (box / "out/deep/extra.txt").write_bytes(b"e")
    (box / "in/a.txt").write_bytes(b"changed\n")
    (box / "in/b.txt").unlink()
    found = collect(box, INPUTS, [])
    assert found.undeclared == ["in/a.txt", "in/b.txt (deleted)", "out/deep/extra.txt", "zz.txt"]
    assert found.outputs == {} and found.missing == []


def test_an_input_rewritten_with_the_same_bytes_is_not_a_change(box: Path) -> None:
    (box / "in/a.txt").write_bytes(b"a\n")
    assert collect(box, INPUTS, []).undeclared == []


def test_an_input_that_is_also_an_output_may_change(box: Path) -> None:
    (box / "in/a.txt").write_bytes(b"rewritten\n")
    found = collect(box, INPUTS, ["in/a.txt"])
    assert found.outputs == {"in/a.txt": b"rewritten\n"} and found.undeclared == []


def test_a_declared_output_that_is_a_symlink_or_a_folder_is_refused(box: Path, tmp_path: Path) -> None:
    (tmp_path / "elsewhere.txt").write_bytes(b"secret")
    os.symlink(tmp_path / "elsewhere.txt", box / "out/link.txt")
    (box / "out/dir.txt").mkdir()
    found = collect(box, INPUTS, ["out/link.txt", "out/dir.txt"])
    assert found.outputs == {}
    assert "out/link.txt (not a regular file)" in found.undeclared
    assert "out/dir.txt" in found.missing


def test_a_symlinked_folder_is_reported_not_followed(box: Path, tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/x.txt").write_bytes(b"x")
    os.symlink(tmp_path / "outside", box / "out/linked")
    found = collect(box, INPUTS, ["out/linked/x.txt"])
    assert found.outputs == {} and found.undeclared == ["out/linked"] and found.missing == ["out/linked/x.txt"]


def test_an_input_replaced_by_a_symlink_is_a_change(box: Path, tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes(b"a\n")
    (box / "in/a.txt").unlink()
    os.symlink(tmp_path / "t.txt", box / "in/a.txt")
    assert collect(box, INPUTS, []).undeclared == ["in/a.txt"]


def test_a_sandbox_holds_the_declared_inputs_hashed_and_the_output_folders(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "src").mkdir(parents=True)
    (repo / "src/m.py").write_bytes(b"print(1)\n")
    (repo / "secret.txt").write_bytes(b"no")
    sandbox = Sandbox(repo, under_lock=False)
    try:
        seen = sandbox.populate(["src/m.py"], ["build/out/r.txt"])
        assert seen == {"src/m.py": digest(b"print(1)\n")}
        assert (sandbox.path / "build/out").is_dir() and not (sandbox.path / "secret.txt").exists()
        assert sandbox.collect(["build/out/r.txt"]).missing == ["build/out/r.txt"]
    finally:
        sandbox.cleanup()
    assert not sandbox.path.exists()
