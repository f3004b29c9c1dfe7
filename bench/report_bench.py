"""Times `agents report` on the 1,000-task bench repository (bench/generate.py) after 100 real step
commits, against floors from the same run over the same history: `git log` of the step commits and
`agents log --usage`. Also the report of an unchanged history, which is not written again.

Usage (with the project's .venv): .venv/bin/python bench/report_bench.py [--tasks 1000] [--steps 100] [--repeat 5]

Prints figures; asserts nothing. Target (issue 18, 2-core machine): the report written in under 5 s.
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

from generate import git_env, make_agents_project, task_id  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"


def timed(args: list[str], cwd: Path, repeat: int, before: object = None) -> list[float]:
    times = []
    for _ in range(repeat):
        if callable(before):
            before()
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=git_env())
        times.append(time.perf_counter() - start)
    return times


def row(label: str, times: list[float], floor: float | None = None) -> str:
    ratio = f"   {statistics.median(times) / floor:6.1f} x the floor" if floor else ""
    return f"{label:<52} median {statistics.median(times):7.3f} s   min {min(times):7.3f} s{ratio}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--steps", type=int, default=100, help="step commits: the last STEPS tasks of the chain run again")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "cli")], check=False,
                   stdout=subprocess.DEVNULL)  # as installing a wheel does
    work = Path(tempfile.mkdtemp(prefix="agents-report-bench-"))
    root = work / "repo"
    make_agents_project(root, args.tasks)
    # An input of the chain's STEPS-th task from the end changes: it and every later task run again,
    # each a step commit with its handoff and run record, as a real run leaves them.
    first = args.tasks - args.steps
    (root / f"data/in-{first:05d}.txt").write_text(f"input {first}, edited\n")
    env = git_env()
    subprocess.run(["git", "-C", str(root), "commit", "-qam", "edit an input"], check=True, env=env)
    start = time.perf_counter()
    subprocess.run([str(AGENTS), "run"], cwd=root, check=True, capture_output=True, env=env)
    made = int(subprocess.run(["git", "-C", str(root), "rev-list", "--count", "--grep=^Agents-Task: ", "HEAD"],
                              capture_output=True, text=True, check=True).stdout)
    print(f"repository: {args.tasks} tasks, {made} step commits (from {task_id(first)}), made in "
          f"{time.perf_counter() - start:.1f} s: {root}")
    out = work / "site"

    def remove() -> None:
        shutil.rmtree(out, ignore_errors=True)

    floor = timed(["git", "log", "--grep=^Agents-Task: ", "--format=%H %B"], root, args.repeat)
    log = timed([str(AGENTS), "log", "--usage"], root, args.repeat)
    written = timed([str(AGENTS), "report", "--out", str(out)], root, args.repeat, before=remove)
    forced = timed([str(AGENTS), "report", "--out", str(out), "--force"], root, args.repeat)
    unchanged = timed([str(AGENTS), "report", "--out", str(out)], root, args.repeat)
    pages = sum(1 for _ in out.rglob("*.html"))
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    base = statistics.median(floor)
    print(row("floor: git log of the step commits", floor))
    print(row("agents log --usage", log, base))
    print(row(f"agents report, into a new folder ({pages} pages, {size / 1e6:.1f} MB)", written, base))
    print(row("agents report --force, over the last one", forced, base))
    print(row("agents report, nothing changed (not written)", unchanged, base))
    print(f"report written in {statistics.median(written):.2f} s against a target of 5 s; "
          f"{statistics.median(written) / statistics.median(log):.1f} x `agents log --usage`")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
