"""Times `agents --version`, `agents --help` and `agents status` (cold: no caches, as after a clone;
warm: unchanged since the last run; right after an edit of one task early in the chain, which leaves
every task after it stale) on generated projects of 1,000 and 10,000 tasks, and on 2,000 model steps
that never ran (a first status sizes each one's context against its budget), beside their
floors and peers from the same run: `cat` of every task and handoff file (the floor of a cold status),
a Python reader's floor (the same files read, their frontmatters parsed by yaml-rs, the inputs and outputs
hashed, over as many processes as the status uses, and nothing else),
`git status --porcelain` (of a warm one), Backlog.md's `backlog task list --plain` on the same
1,000-task DAG, and `dvc status` on 1,000 reproduced stages when a `dvc` executable is given.

Usage (from the repository, after `python3 dev.py test` or `python3 dev.py demo` made .venv):

    .venv/bin/python bench/status_bench.py [--tasks 1000 10000] [--repeat 7] [--no-backlog] [--dvc PATH]
                                           [--model-steps 2000] [--wheel | --agents PATH]

`--wheel` times a regular (non-editable) install built from this checkout, as users get it (the .venv's
editable install adds about 22 ms to every start; bench/installs.py); `--agents` another install's `agents`.

Prints figures and ratios; asserts nothing. Targets (issue 14, 2-core machine, medians): `--version` within
1.5x and `--help` within 3x of `python -c pass` (the same interpreter, timed in the same run); cold status at
10,000 tasks under 1.5 s and within 4x of `cat`; warm status at 10,000 tasks under 0.3 s and within 4x
of `git status --porcelain`, linear in tasks; a cold status with one broken task file names it.
"""

from __future__ import annotations

import argparse
import atexit
import fcntl
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from backlog_md import install_backlog, make_backlog_project, time_backlog_list  # noqa: E402
from generate import make_agents_project, make_model_project  # noqa: E402
from installs import resolve

AGENTS = Path(sys.executable).parent / "agents"


CPU: dict[int, float] = {}  # id(times list) -> CPU seconds of the children it timed (user + sys)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(args: list[str], cwd: Path, repeat: int, *, warm_up: bool = True) -> list[float]:
    if warm_up:
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
    times, cpu = [], []
    for _ in range(repeat):
        before = _children_cpu()
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - before)
    CPU[id(times)] = statistics.median(cpu)
    return times


def timed_each(args: list[str], cwd: Path, repeat: int, before: Callable[[int], None]) -> list[float]:
    """`args` timed `repeat` times, `before(n)` run (untimed) ahead of the n-th."""
    times, cpu = [], []
    for n in range(repeat):
        before(n)
        started_cpu = _children_cpu()
        start = time.perf_counter()
        subprocess.run(args, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
        cpu.append(_children_cpu() - started_cpu)
    CPU[id(times)] = statistics.median(cpu)
    return times


def settle(root: Path) -> float:
    """Wait for the process a cold status leaves writing its caches after it has answered (storage/parallel.py
    `detached`; an older `agents` has none); returns the seconds waited. Its time is not the answer's, and
    removing the caches under it would leave some behind."""
    start = time.perf_counter()
    try:
        fd = os.open(root / ".agents" / "cache" / "writing.lock", os.O_RDONLY)
    except OSError:
        return 0.0
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
    finally:
        os.close(fd)
    return time.perf_counter() - start


WRITER: list[float] = []  # seconds each cold status's cache writer went on after the answer


def cold_status(root: Path, repeat: int) -> list[float]:
    """status with the machine-local caches removed before each run (as right after a clone)."""

    def fresh(n: int) -> None:
        waited = settle(root)
        if n:
            WRITER.append(waited)
        shutil.rmtree(root / ".agents" / "cache", ignore_errors=True)

    WRITER.clear()
    times = timed_each([str(AGENTS), "status"], root, repeat, fresh)
    WRITER.append(settle(root))
    return times


# The least a status in Python does on a cold project, in the interpreter agents runs in, over as many
# processes as its cold status forks (storage/parallel.py `workers`): read each task and handoff file and
# parse its frontmatter with the compiled YAML parser, read and sha256 every other file it must hash (the
# generated project's inputs and outputs: every file outside .git and .agents). No checking, no models, no
# states, no caches: what is left above this is agents' own work on each document.
READER_FLOOR = r"""
import hashlib, os, sys
import yaml_rs
from agentfiles.storage.parallel import workers

root = sys.argv[1]
documents = sorted(os.path.join(root, ".agents", d, n) for d in ("tasks", "handoffs")
                   for n in os.listdir(os.path.join(root, ".agents", d)) if n.endswith(".md"))
others = sorted(os.path.join(top, n) for top, dirs, names in os.walk(root)
                if not (dirs.__setitem__(slice(None), [d for d in dirs if d not in (".git", ".agents")]))
                for n in names)

def read(path):
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, os.fstat(fd).st_size + 1)
    finally:
        os.close(fd)

def work(share, of):
    for path in documents[share::of]:
        text = read(path).decode()
        yaml_rs.loads(text[4:text.index("\n---", 3)], parse_datetime=False)
    for path in others[share::of]:
        hashlib.sha256(read(path)).hexdigest()

jobs, share, children = workers(), 0, []
for n in range(1, jobs):
    pid = os.fork()
    if pid == 0:
        share, children = n, None
        break
    children.append(pid)
work(share, jobs)
if children is None:  # a child: its share done
    os._exit(0)
for pid in children:
    os.waitpid(pid, 0)
"""


def row(label: str, times: list[float]) -> str:
    cpu = f"   cpu {CPU[id(times)]:6.3f} s" if id(times) in CPU else ""
    return f"{label:<52} median {statistics.median(times):7.3f} s   min {min(times):7.3f} s{cpu}   (n={len(times)})"


def ratio(label: str, times: list[float], floor: list[float], target: float) -> str:
    value = statistics.median(times) / statistics.median(floor)
    return f"  {label}: {value:.1f}x (target: within {target:g}x)"


def after_an_edit(root: Path, repeat: int) -> list[float]:
    """status right after a person edits one task near the start of the chain (a new line in its intent
    before each run), as the daily loop goes: the task and everything downstream of it turn stale."""
    path = root / ".agents" / "tasks" / "task-00010.md"
    before = path.read_bytes()
    try:
        return timed_each([str(AGENTS), "status"], root, repeat,
                          lambda n: path.write_bytes(before + f"\nEdit {n}.\n".encode()))
    finally:
        path.write_bytes(before)


def broken_file_check(root: Path) -> str:
    """A cold status with one broken task file: it must still name that file and line."""
    path = root / ".agents" / "tasks" / "task-00005.md"
    before = path.read_bytes()
    path.write_text("---\ntitle: [unclosed\nrun: x\n---\n")
    try:
        settle(root)
        shutil.rmtree(root / ".agents" / "cache", ignore_errors=True)
        done = subprocess.run([str(AGENTS), "status"], cwd=root, capture_output=True, text=True, check=False)
        line = next((x for x in done.stdout.splitlines() if x.startswith("invalid")), f"exit {done.returncode}")
        return " ".join(line.split())
    finally:
        path.write_bytes(before)
        settle(root)
        shutil.rmtree(root / ".agents" / "cache", ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--model-steps", type=int, default=2000,
                        help="ready model steps whose contexts a first status sizes (0: skip)")
    parser.add_argument("--no-backlog", action="store_true", help="skip Backlog.md (needs npm)")
    parser.add_argument("--cache", type=Path, default=HERE / ".cache", help="where npm installs Backlog.md")
    parser.add_argument("--dvc", type=Path, help="a dvc executable (from a separate venv) to time as a peer")
    parser.add_argument("--agents", help="another install's `agents` to time, or wheel:CHECKOUT")
    parser.add_argument("--wheel", action="store_true",
                        help="time a regular install built from this checkout instead of the editable .venv")
    args = parser.parse_args()
    global AGENTS
    if args.agents or args.wheel:
        AGENTS = Path(resolve(args.agents or f"wheel:{HERE.parent}"))
    # Byte-compile the package as a wheel install does (an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "cli")], check=False,
                   stdout=subprocess.DEVNULL)
    if not AGENTS.exists():
        print(f"no agents executable next to {sys.executable}; run this with the project's .venv python")
        return 2

    print(f"agents: {AGENTS}")
    work = Path(tempfile.mkdtemp(prefix="agents-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # generated projects: hundreds of MB
    python = Path(AGENTS).read_text().splitlines()[0].removeprefix("#!").strip()  # the interpreter it starts
    started = timed([python, "-c", "pass"], work, max(args.repeat, 9))
    print(row("python -c pass (the interpreter of agents)", started))
    version = timed([str(AGENTS), "--version"], work, args.repeat)
    print(row("agents --version", version))
    print(ratio("agents --version / python -c pass", version, started, 1.5))
    shown = timed([str(AGENTS), "--help"], work, args.repeat)
    print(row("agents --help", shown))
    print(ratio("agents --help / python -c pass", shown, started, 3))
    medians: dict[int, float] = {}
    for n in args.tasks:
        root = work / f"agents-{n}"
        start = time.perf_counter()
        make_agents_project(root, n)
        print(f"(generated {n} tasks with handoffs in {time.perf_counter() - start:.1f} s)")
        time.sleep(2.1)  # let every file leave the caches' racy window, as files edited earlier would
        files = sorted(str(p) for d in ("tasks", "handoffs") for p in (root / ".agents" / d).glob("*.md"))
        cat = timed(["cat", *files], root, args.repeat)
        print(row(f"cat of the {len(files)} task and handoff files", cat))
        floor = timed([sys.executable, "-c", READER_FLOOR, str(root)], root, args.repeat)
        print(row("a Python reader's floor: the same files read, frontmatters parsed, inputs hashed", floor))
        cold = cold_status(root, max(1, min(5, args.repeat)))
        print(row(f"agents status, {n} tasks, cold (no caches)", cold))
        print(ratio("cold status / cat", cold, cat, 4))
        print(f"  cold status / the Python reader's floor: {statistics.median(cold) / statistics.median(floor):.1f}x")
        if any(WRITER):
            print("  (its caches are written by a process of its own after the answer: "
                  f"{statistics.median(WRITER):.3f} s more, median, timed apart)")
        git = timed(["git", "status", "--porcelain"], root, args.repeat)
        print(row("git status --porcelain", git))
        warm = timed([str(AGENTS), "status"], root, args.repeat)
        medians[n] = statistics.median(warm)
        print(row(f"agents status, {n} tasks, warm", warm))
        print(ratio("warm status / git status --porcelain", warm, git, 4))
        print(f"  warm status per task: {medians[n] / n * 1e6:.0f} us")
        edited = after_an_edit(root, args.repeat)
        print(row(f"agents status, {n} tasks, right after an edit", edited))
        print("  (one task early in the chain edited before each run: every task after it is stale)")
        check = subprocess.run([str(AGENTS), "status"], cwd=root, capture_output=True, text=True, check=True)
        print(f"  ({check.stdout.strip().splitlines()[-1]})")
        sizes = sum(f.stat().st_size for f in (root / ".agents" / "cache").glob("*") if f.is_file())
        print(f"  caches after a status: {sizes / 1e6:.1f} MB")
        print(f"  one broken task file, cold: {broken_file_check(root)}")
    if args.model_steps:
        root = work / f"model-{args.model_steps}"
        make_model_project(root, args.model_steps)
        time.sleep(2.1)
        first = cold_status(root, max(1, min(3, args.repeat)))
        print(row(f"agents status, {args.model_steps} ready model steps, cold", first))
        print(f"  ({statistics.median(first) / args.model_steps * 1e3:.2f} ms a step: its context built and sized "
              "against its budget)")
        warm = timed([str(AGENTS), "status"], root, args.repeat)
        print(row(f"agents status, {args.model_steps} ready model steps, warm", warm))
    if len(medians) > 1:
        small, large = min(medians), max(medians)
        per = [medians[small] / small, medians[large] / large]
        print(f"warm status per task: {per[0] * 1e6:.0f} us at {small}, {per[1] * 1e6:.0f} us at {large}")

    if args.dvc and 1000 in medians:
        from dvc_peer import make_dvc_project, time_dvc_status

        root = work / "dvc-1000"
        make_dvc_project(root, 1000, args.dvc)
        times, said = time_dvc_status(args.dvc, root, max(1, min(5, args.repeat)))
        print(row("dvc status, 1000 reproduced stages", times) + f"  ({said})")
        print(f"  agents status (warm, 1000 tasks) is {statistics.median(times) / medians[1000]:.0f}x faster, "
              "medians of the same run")

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
            ratio_value = statistics.median(times) / medians[1000]
            print(f"  agents status (warm) is {ratio_value:.1f}x faster than this, medians of the same run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
