"""bench/route_eval.py's replay gives each case the history `agents route` reads in a checkout of the
case's parent: commits the parent can reach, not every commit dated before the case. A real repository
with a side branch merged into main, built in a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from agentfiles.route.index import repo_history
from conftest import ROOT, make_repo, write_files

BACKPORT = "Backport: fix the short read of the buffer in the stream"


def commit_at(root: Path, day: int, files: dict[str, str], message: str) -> None:
    write_files(root, files)
    date = f"2024-01-{day:02d}T12:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", message], check=True, env=env)


def run(root: Path, *args: str, day: int = 1) -> str:
    date = f"2024-01-{day:02d}T12:00:00+00:00"
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
    return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True, env=env).stdout


def test_replay_holds_only_what_the_parent_can_reach(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "hist", commit=False)
    code = {f"pkg/{n}.py": f"def {n}_thing():\n    return '{n}'\n" for n in ("stream", "options", "logs")}
    commit_at(root, 1, code, "Start the package with its three modules")
    commit_at(root, 2, {"pkg/options.py": code["pkg/options.py"] + "# parse\n"}, "Parse the options given on the command line")
    run(root, "branch", "side")
    run(root, "checkout", "-q", "side")
    # on the side branch, dated before the fix on main: main's parent of the fix cannot reach it
    commit_at(root, 3, {"pkg/stream.py": code["pkg/stream.py"] + "# fixed\n"}, BACKPORT)
    run(root, "checkout", "-q", "main")
    commit_at(root, 4, {"pkg/stream.py": code["pkg/stream.py"] + "# fixed\n"}, "Fix the short read of the buffer in the stream")
    run(root, "merge", "-q", "--no-ff", "-m", "Merge branch side", "side", day=5)
    commit_at(root, 6, {"pkg/logs.py": code["pkg/logs.py"] + "# file\n"}, "Write the logs of the package to a file")

    sys.path.insert(0, str(ROOT / "bench"))
    from route_eval import Repository

    repo = Repository("hist", root, 100, tmp_path / "cache")
    replayed = {case.message: (case, list(past.messages)) for case, past in repo.replay()}
    assert len(replayed) == 4  # every non-merge commit with a parent

    fix = replayed["Fix the short read of the buffer in the stream"][1]
    assert BACKPORT not in [subject for subject, _ in fix]  # dated earlier, on a branch its parent cannot reach
    logs = replayed["Write the logs of the package to a file"][1]
    assert BACKPORT in [subject for subject, _ in logs]  # merged before this commit's parent: reachable

    checkout = tmp_path / "checkout"
    for message, (case, messages) in replayed.items():
        parent = repo.history[case.index].parent
        shutil.rmtree(checkout, ignore_errors=True)
        run(root, "worktree", "add", "-q", "--detach", str(checkout), parent)
        seen = repo_history(checkout).messages  # what `agents route` reads in a checkout of the parent
        run(root, "worktree", "remove", "--force", str(checkout))
        assert messages == seen, message
