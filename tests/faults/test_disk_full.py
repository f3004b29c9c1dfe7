"""A full disk, at many fill levels: through a small tmpfs holding the repository and the temporary folders
(where the machine lets a test mount one), and through a file-size limit (RLIMIT_FSIZE, which any user can
set). Each `agents run` ends with a step done or failed, or with `error:` and `hint:` and exit 2, never an
internal error; nothing landed is lost; once there is room again, the next run completes and leaves a
consistent repository."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Result, git, task_text, write_files
from consistency import assert_clean_failure, assert_consistent, leftovers

# Three command steps, two in a chain, each writing about 24 KiB: the disk runs out in the sandbox, in the
# run record, in git's objects or its index, depending on how much room there was.
PIPELINE = {
    ".agents/tasks/numbers.md": task_text("Numbers", run="seq 1 5000 > out/numbers.txt", outputs=["out/numbers.txt"]),
    ".agents/tasks/reversed.md": task_text("Reversed", run="sort -rn out/numbers.txt > out/reversed.txt",
                                           needs=["numbers"], inputs=["out/numbers.txt"], outputs=["out/reversed.txt"]),
    ".agents/tasks/letters.md": task_text("Letters", run="seq 1 4000 | sed 's/^/line /' > out/letters.txt",
                                          outputs=["out/letters.txt"]),
}
TASKS = ("numbers", "reversed", "letters")


def _pipeline(root: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    assert agents("-C", str(root), "init").code == 0
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    write_files(root, PIPELINE)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "a pipeline")
    return root


def _run(root: Path, *, env: dict[str, str] | None = None, limit: int | None = None) -> Result:
    def limited() -> None:
        if limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = subprocess.run([sys.executable, "-m", "agentfiles", "-C", str(root), "run"], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, preexec_fn=limited, timeout=300)
    return Result(done.returncode, done.stdout, done.stderr)


def _check_stopped_run(root: Path, result: Result, head: str) -> None:
    """What a run stopped by the machine must show and leave: a step's failure (exit 1), or `error:` and
    `hint:` (exit 2), no internal error; the history it started from; no change outside a journal."""
    said = result.out + result.err
    assert "Traceback" not in said and "this is a bug" not in said, said
    if result.code != 0:
        assert_clean_failure(result.code, result.err, 2 if result.code == 2 else 1, "`agents run`")
    assert subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", head, "HEAD"]).returncode == 0
    journals = root / ".agents" / "tmp" / "journal"
    pending = {line for j in (journals.iterdir() if journals.is_dir() else []) for line in _journaled(j)}
    changed = {line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines()}
    assert changed <= pending, f"changed outside a journal: {changed - pending}"


def _journaled(folder: Path) -> set[str]:
    import json

    try:
        return set(json.loads((folder / "journal.json").read_text())["files"])
    except (OSError, ValueError, KeyError):
        return set()


def _completes(root: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """Once there is room again, the next run completes the pipeline and leaves the repository consistent."""
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.err
    assert_consistent(root)
    for task in TASKS:
        assert (root / "out" / f"{task}.txt").stat().st_size > 20_000
    states = {t["id"]: t["state"] for t in agents("-C", str(root), "status", "--json").json["tasks"]}
    assert states == {task: "done" for task in TASKS}, states


# ------------------------------------------------------------------------------------------ a small tmpfs

FREE_KIB = (0, 4, 24, 56, 72, 96, 128, 512)


@pytest.fixture(scope="module")
def small_disk(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root; test_a_file_size_limit covers a full disk without it")
    mount = tmp_path_factory.mktemp("small-disk")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m,mode=0755", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"this machine does not let a test mount a tmpfs: {done.stderr.strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path, free: int) -> Path:
    """A file that leaves `free` bytes of `disk` unused (tmpfs counts in pages of 4 KiB)."""
    filler = disk / "filler"
    stats = os.statvfs(disk)
    size = max(stats.f_bavail * stats.f_frsize - free, 0)
    with open(filler, "wb") as handle:
        try:
            handle.truncate(0)
            handle.write(b"\0" * size)
        except OSError:
            pass
    return filler


@pytest.mark.parametrize("free", FREE_KIB, ids=[f"{k} KiB free" for k in FREE_KIB])
def test_a_small_disk_that_fills_up(small_disk: Path, free: int, agents) -> None:  # type: ignore[no-untyped-def]
    disk = small_disk / f"free-{free}"
    disk.mkdir()
    try:
        root = _pipeline(disk / "repo", agents)
        tmp = disk / "tmp"
        tmp.mkdir()
        head = git(root, "rev-parse", "HEAD").strip()
        filler = _fill(small_disk, free * 1024)
        result = _run(root, env={"TMPDIR": str(tmp)})
        filler.unlink()
        _check_stopped_run(root, result, head)
        _completes(root, agents)
        left = [p for p in tmp.rglob("*") if p.is_file() or p.name.startswith(("step-", "agents-index", "agents-check"))]
        assert left == []  # no sandbox, private index or checkout left in the temporary folder
    finally:
        subprocess.run(["rm", "-rf", str(disk)], check=False)


# ------------------------------------------------------------------------------------------ RLIMIT_FSIZE

LIMITS = (512, 2048, 8192, 24576, 65536)


@pytest.mark.parametrize("limit", LIMITS, ids=[f"files up to {n} bytes" for n in LIMITS])
def test_a_file_size_limit(tmp_path: Path, limit: int, agents) -> None:  # type: ignore[no-untyped-def]
    root = _pipeline(tmp_path / "repo", agents)
    head = git(root, "rev-parse", "HEAD").strip()
    result = _run(root, limit=limit)
    assert result.code != 0 or limit > 30_000, result.err  # every output is larger than the lower limits
    _check_stopped_run(root, result, head)
    _completes(root, agents)
    assert leftovers(root) == []
