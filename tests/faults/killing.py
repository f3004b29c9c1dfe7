"""Killing `agents run` with SIGKILL at a moment of its own making, and what a kill may leave behind, shared
by the kill suites of tests/faults/: the run is a separate program (python -m agentfiles), the moment is
seen through inotify (watcher.py) or in its progress lines, and after the kill the test waits for what
the run had started (a git command halfway) to finish, as it would for a user."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import git
from watcher import Moment, Watcher


# Starts the program with SIGINT as a terminal gives it: a suite started in the background by a script (a
# shell's `&` ignores SIGINT for all it starts, and the ignoring is inherited) would otherwise hand `agents`
# an ignored SIGINT, and the interrupt tests would test the shell, not agents.
_SIGINT_AS_IN_A_TERMINAL = ("import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
                            "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])")


def start(root: Path, *args: str) -> subprocess.Popen[bytes]:
    """`agents -C ROOT run ARGS` as a program of its own, its output (both streams) on a pipe."""
    return subprocess.Popen(
        [sys.executable, "-c", _SIGINT_AS_IN_A_TERMINAL, "-m", "agentfiles", "-C", str(root), "run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def kill(proc: subprocess.Popen[bytes], root: Path, sig: int = signal.SIGKILL) -> str:
    """Send `sig` to `proc` now and wait for it to end (a SIGINT or SIGTERM: by itself, within a minute);
    returns what it had printed. Then waits until no process it started is left working in the repository
    or its sandboxes (git and step commands run in sessions of their own)."""
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        out, _ = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        raise AssertionError(f"the run did not end within a minute of signal {sig}:\n{out.decode('utf-8', 'replace')}")
    wait_for_orphans([root, Path(os.environ["TMPDIR"])])
    return out.decode("utf-8", "replace")


def kill_when(proc: subprocess.Popen[bytes], root: Path, watcher: Watcher | None, moment: Moment | int,
              delay_ms: int = 0, sig: int = signal.SIGKILL) -> str:
    """Send `sig` (SIGKILL) to `proc` once `moment` has come (a file-system moment, or the number of
    progress lines it printed), `delay_ms` later; fails when the run ended without reaching it."""
    if isinstance(moment, int):
        assert proc.stdout is not None
        lines = [proc.stdout.readline() for _ in range(moment)]
        came = all(lines)
        printed = b"".join(lines).decode("utf-8", "replace")
    else:
        assert watcher is not None
        came = watcher.wait(moment, time.monotonic() + 60, lambda: proc.poll() is None)
        printed = ""
    if delay_ms:
        time.sleep(delay_ms / 1000)
    said = printed + kill(proc, root, sig)
    seen = "\n".join(f"  {kind} {rel}" for kind, rel in watcher.seen) if watcher else ""
    assert came, f"the run ended before {moment}:\n{said}\nit did:\n{seen}"
    return said


def wait_for_orphans(places: list[Path], patience_s: float = 15.0) -> None:
    """Wait until no process (but this one) works in a folder under `places`."""
    roots = [str(p.resolve()) for p in places]
    deadline = time.monotonic() + patience_s
    while time.monotonic() < deadline:
        busy = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cwd = os.readlink(f"/proc/{entry.name}/cwd")
            except OSError:
                continue
            if any(cwd == r or cwd.startswith(r + "/") for r in roots):
                busy = True
                break
        if not busy:
            return
        time.sleep(0.01)


def pending_journals(root: Path) -> set[str]:
    """The paths the journals of unfinished steps name."""
    found: set[str] = set()
    folder = root / ".agents" / "tmp" / "journal"
    for entry in folder.iterdir() if folder.is_dir() else []:
        try:
            found |= set(json.loads((entry / "journal.json").read_text())["files"])
        except (OSError, ValueError, KeyError):
            pass
    return found


def unjournaled(root: Path, users: set[str]) -> list[str]:
    """Paths that differ from HEAD (in the work tree or the index) and that no journal names: what the next
    run could neither finish nor undo. A temporary file of an atomic write is its journaled path's; `users`
    are the paths the user had changed before the run (staged by it or not)."""
    journaled = pending_journals(root) | users
    found = []
    for line in git(root, "status", "--porcelain", "--untracked-files=all").splitlines():
        path = line[3:]
        folder, _, name = path.rpartition("/")
        if path in journaled or (name.startswith(".") and name.endswith(".tmp")
                                 and any(j.rpartition("/")[0] == folder and name.startswith(f".{j.rpartition('/')[2]}.")
                                         for j in journaled)):
            continue
        found.append(line)
    return found


def index_behind(root: Path, paths: set[str]) -> list[str]:
    """Those of `paths` that HEAD holds as the work tree has them while the index holds something else: a
    landed commit that `git commit` would undo."""
    behind = []
    for rel in sorted(paths):
        landed = subprocess.run(["git", "-C", str(root), "show", f"HEAD:{rel}"], capture_output=True)
        staged = subprocess.run(["git", "-C", str(root), "diff", "--cached", "--quiet", "--", rel])
        if landed.returncode == 0 and (root / rel).is_file() and landed.stdout == (root / rel).read_bytes() \
                and staged.returncode != 0:
            behind.append(rel)
    return behind


def edit_definitions(root: Path) -> None:
    """Change every task file without committing it: the run commits them first."""
    for task in (root / ".agents" / "tasks").glob("*.md"):
        task.write_text(task.read_text() + "\nEdited, not committed.\n")


def changed_paths(root: Path) -> set[str]:
    return {line[3:] for line in git(root, "status", "--porcelain").splitlines()}

