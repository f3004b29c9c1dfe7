"""Times `agents run` of one trivial command step in a repository that carries a large ignored tree (a
`.venv`, a `node_modules`), against the same run in the same repository without it: what a run's start
pays for files no step declares. The run's tripwire (runner/tripwire.py) must tell any change to them,
so it watches them; the bench shows what that costs per file.

Usage (with the project's .venv): .venv/bin/python bench/tree_bench.py [--files 20000 100000] [--repeat 5]
    [--agents PATH [--agents PATH]]

`--agents` given twice times the two installs in turns, run for run (a before and after from the same
minutes). Prints medians of wall and CPU (user + system of the command and what it waited for), the
extra time over the same run without the tree, and that extra per 1,000 files. Asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import git_env  # noqa: E402
from run_bench import project, task, wall  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"


def ignored_tree(root: Path, files: int) -> None:
    """`files` small files under `.venv/`, 20 to a folder, three levels deep, as a package tree is."""
    for n in range(files):
        folder = root / ".venv" / "lib" / f"pkg{n // 400}" / f"mod{n // 20}"
        if n % 20 == 0:
            folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{n}.py").write_bytes(b"x = 1\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, nargs="+", default=[20000, 100000])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--agents", action="append", help="an `agents` to time (default: this venv's); twice: in turns")
    args = parser.parse_args()
    installs = [Path(a) for a in args.agents] if args.agents else [AGENTS]
    print(f"load average {os.getloadavg()[0]:.1f} at the start")
    with tempfile.TemporaryDirectory(prefix="agents-tree-") as scratch:
        root = project(Path(scratch) / "repo", {"hello": task("echo hi > out.txt", ["out.txt"])})
        (root / ".gitignore").write_text(".venv/\n")
        subprocess.run(["git", "-C", str(root), "add", ".gitignore"], check=True, env=git_env())
        subprocess.run(["git", "-C", str(root), "commit", "-qm", "ignore"], check=True, env=git_env())
        floor: dict[Path, tuple[float, float]] = {}
        for files in [0, *args.files]:
            shutil.rmtree(root / ".venv", ignore_errors=True)
            if files:
                ignored_tree(root, files)
            times: dict[Path, list[tuple[float, float]]] = {a: [] for a in installs}
            for agents in installs:  # one untimed run each: caches as a second run finds them
                wall([str(agents), "run", "--force", "hello"], root)
            for _ in range(args.repeat):
                for agents in installs:
                    times[agents].append(wall([str(agents), "run", "--force", "hello"], root))
            for agents in installs:
                w = statistics.median(t[0] for t in times[agents])
                c = statistics.median(t[1] for t in times[agents])
                name = f"[{agents}] " if len(installs) > 1 else ""
                if not files:
                    floor[agents] = (w, c)
                    print(f"{name}no ignored tree: wall median {w:.3f} s (CPU {c:.3f} s)")
                    continue
                extra_w, extra_c = w - floor[agents][0], c - floor[agents][1]
                print(f"{name}{files:,} ignored files: wall median {w:.3f} s (CPU {c:.3f} s), "
                      f"{w / floor[agents][0]:.2f}x the run without them; +{extra_w * 1000:.0f} ms wall, "
                      f"+{extra_c * 1000:.0f} ms CPU, {extra_c * 1e6 / files:.1f} ms CPU per 1,000 files")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
