"""DVC as a peer of `agents status`: a DVC project of N stages on the same DAG as bench/generate.py (stage
i runs `cat data/in-i.txt > out/s-i.txt` and depends on the outputs of stages i-1 and i//2), with a
dvc.lock that records every stage as reproduced, so `dvc status` has every hash to check and finds
nothing changed. DVC is not a dependency of this project: pass the `dvc` executable of a separate
virtual environment (`python3 -m venv /tmp/dvc && /tmp/dvc/bin/pip install dvc`).
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from pathlib import Path

from generate import git_env, needs_of


def _stage(i: int) -> str:
    return f"s{i:05d}"


def _entry(root: Path, rel: str) -> str:
    data = (root / rel).read_bytes()
    return f"    - path: {rel}\n      hash: md5\n      md5: {hashlib.md5(data).hexdigest()}\n      size: {len(data)}\n"


def make_dvc_project(root: Path, n_stages: int, dvc: Path) -> None:
    """A git + DVC repository at `root` with `n_stages` stages, all up to date, committed."""
    env = git_env()
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run([str(dvc), "init", "-q"], cwd=root, check=True, env=env)
    subprocess.run([str(dvc), "config", "core.analytics", "false"], cwd=root, check=True, env=env)
    (root / "data").mkdir()
    (root / "out").mkdir()
    stages, locked = ["stages:\n"], ["schema: '2.0'\nstages:\n"]
    for i in range(n_stages):
        source, output = f"data/in-{i:05d}.txt", f"out/{_stage(i)}.txt"
        (root / source).write_text(f"input {i}\n")
        (root / output).write_text(f"input {i}\n")
        deps = [source] + [f"out/{_stage(j)}.txt" for j in needs_of(i)]
        command = f"cat {source} > {output}"
        stages.append(
            f"  {_stage(i)}:\n    cmd: {command}\n    deps:\n"
            + "".join(f"    - {d}\n" for d in deps)
            + f"    outs:\n    - {output}\n"
        )
        locked.append(
            f"  {_stage(i)}:\n    cmd: {command}\n    deps:\n"
            + "".join(_entry(root, d) for d in deps)
            + "    outs:\n"
            + _entry(root, output)
        )
    (root / "dvc.yaml").write_text("".join(stages))
    (root / "dvc.lock").write_text("".join(locked))
    (root / ".gitignore").write_text("/out\n")
    # The outputs go into DVC's cache as `dvc repro` would leave them (without running 1,000 commands).
    subprocess.run([str(dvc), "commit", "-f", "-q"], cwd=root, check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "dvc fixture"], check=True, env=env)


def time_dvc_status(dvc: Path, root: Path, repeat: int) -> tuple[list[float], str]:
    """Wall times of `dvc status` (after one warm-up), and what it printed last."""
    env = git_env()
    subprocess.run([str(dvc), "status"], cwd=root, capture_output=True, env=env, check=False)
    times, last = [], ""
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(
            [str(dvc), "status"], cwd=root, capture_output=True, text=True, env=env, check=False
        )
        times.append(time.perf_counter() - start)
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or [f"exit {done.returncode}"]
    return times, last[0] if isinstance(last, list) else last
