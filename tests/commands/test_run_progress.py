"""What `agents run` says about time: a step's time runs from its start to its commit, the setup before
the first step is said when it is long, and the summary gives the whole command's time."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from conftest import git, task_text, write_files


def test_a_steps_time_runs_to_its_commit_and_a_long_setup_is_said(project: Path, agents, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # A git that is slow where the run prepares (`status`, the checks of uncommitted outputs and
    # definitions) and where a step's commit lands (`update-ref`): both must show in what is said.
    shim = tmp_path / "bin" / "git"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\nfor a; do case "$a" in status) sleep 0.6; break;; update-ref) sleep 1.2; break;; esac; done\n'
                    f'exec {shutil.which("git")} "$@"\n')
    shim.chmod(0o755)
    write_files(project, {".agents/tasks/one.md": task_text("One", run="echo 1 > one.txt", outputs=["one.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    monkeypatch.setenv("PATH", f"{shim.parent}:{Path(shutil.which('git')).parent}:/usr/bin:/bin")
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    setup = re.search(r"^setup (\d+\.\d+) s before the first step", result.err, re.M)
    assert setup and float(setup.group(1)) >= 1.0, result.err
    shown = float(re.search(r"^done  one in (\d+\.\d+) s", result.err, re.M).group(1))
    assert shown >= 1.2  # the commit is part of the step
    from agentfiles.storage.documents import parse_document

    recorded = parse_document((project / ".agents/handoffs/one.md").read_text()).meta["usage"]["duration_s"]
    assert recorded < shown  # the handoff can only time what happened before it was written
    total = float(re.search(r"^1 step: 1 done in (\d+\.\d+) s$", result.out, re.M).group(1))
    assert total >= shown + float(setup.group(1)) - 0.011  # each figure is rounded to 0.01 s
