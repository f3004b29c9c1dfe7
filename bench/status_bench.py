"""Times `agents --version`, `agents --help` and `agents status` on generated projects of 1,000 and
10,000 tasks, and Backlog.md's `backlog task list --plain` on the same 1,000-task DAG, in one run.

Usage (from the repository, after `python3 dev.py test` or `python3 dev.py demo` made .venv):

    .venv/bin/python bench/status_bench.py [--tasks 1000 10000] [--repeat 7] [--no-backlog]

Prints figures; asserts nothing. Targets (issue 2, on a 2-core machine): --version < 0.15 s; warm
status < 0.3 s for 1,000 tasks and < 2 s for 10,000; status >= 3x faster than Backlog.md on 1,000.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from backlog_md import install_backlog, make_backlog_project, time_backlog_list  # noqa: E402
from generate import make_agents_project  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"


def timed(args: list[str], cwd: Path, repeat: int, *, warm_up: bool = True) -> list[float]:
    if warm_up:
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def cold_status(root: Path, repeat: int) -> list[float]:
    """status with the machine-local caches removed before each run (as right after a clone)."""
    times = []
    for _ in range(repeat):
        shutil.rmtree(root / ".agents" / "cache", ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([str(AGENTS), "status"], cwd=root, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return times


def row(label: str, times: list[float]) -> str:
    return f"{label:<44} median {statistics.median(times):7.3f} s   min {min(times):7.3f} s   (n={len(times)})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--no-backlog", action="store_true", help="skip Backlog.md (needs npm)")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="where npm installs Backlog.md")
    args = parser.parse_args()
    # Byte-compile the package as a wheel install does (an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "cli")], check=False,
                   stdout=subprocess.DEVNULL)
    if not AGENTS.exists():
        print(f"no agents executable next to {sys.executable}; run this with the project's .venv python")
        return 2

    print(f"agents: {AGENTS}")
    work = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    print(row("agents --version", timed([str(AGENTS), "--version"], work, args.repeat)))
    print(row("agents --help", timed([str(AGENTS), "--help"], work, args.repeat)))
    medians: dict[int, float] = {}
    for n in args.tasks:
        root = work / f"agents-{n}"
        start = time.perf_counter()
        make_agents_project(root, n)
        print(f"(generated {n} tasks with handoffs in {time.perf_counter() - start:.1f} s)")
        time.sleep(2.1)  # let every file leave the caches' racy window, as files edited earlier would
        cold = cold_status(root, max(1, min(3, args.repeat)))
        print(row(f"agents status, {n} tasks, cold caches", cold))
        warm = timed([str(AGENTS), "status"], root, args.repeat)
        medians[n] = statistics.median(warm)
        print(row(f"agents status, {n} tasks, warm", warm))
        check = subprocess.run([str(AGENTS), "status"], cwd=root, capture_output=True, text=True, check=True)
        print(f"  ({check.stdout.strip().splitlines()[-1]})")

    if not args.no_backlog and 1000 in medians:
        root = work / "backlog-1000"
        home = work / "home"  # a throwaway HOME for Backlog.md
        home.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        make_backlog_project(root, 1000, commit=True)
        for label, native in (("npm launcher", False), ("native binary", True)):
            try:
                backlog = install_backlog(args.cache, native=native)
            except RuntimeError as exc:
                print(f"Backlog.md: not measured ({exc})")
                return 0
            times = time_backlog_list(backlog, root, args.repeat, home=home)
            print(row(f"backlog task list --plain, 1000 ({label})", times))
            ratio = statistics.median(times) / medians[1000]
            print(f"  agents status (warm) is {ratio:.1f}x faster than this, medians of the same run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
