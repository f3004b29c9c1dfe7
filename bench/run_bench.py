"""Times `agents run`: its own overhead on a trivial command step, a 100-step chain reconciled from
scratch, and 16 independent `sleep 1` steps with --jobs 8; the first two with folder isolation and with
the OS sandbox (bubblewrap) side by side, when bwrap is installed.

Usage (with the project's .venv): .venv/bin/python bench/run_bench.py [--repeat 7] [--agents PATH|wheel:DIR]

`--agents` times another install's `agents` (say a checkout of an earlier commit in its own virtual
environment) with the same fixtures; `wheel:DIR` builds a regular (non-editable) install of the checkout
DIR first, as users get it (bench/installs.py; `--wheel` is `--agents wheel:.` for this checkout), since the
.venv's editable install adds about 22 ms to every start. Given twice, the two installs are timed in turns
(run for run, the chain one after the other), for a before and after from the same minutes. Wall times come with
the CPU time (user + system) of the command and the processes it waited for; the 16 sleeps are split into
the time before the first step started, the steps' own span, and the time after the last step's commit.
Floors from the same run: each install's Python start (`python -c pass`, and with -S), and, with bwrap, the
same 16 sleeps confined in a step's OS sandbox by `xargs -P 8` (the sandbox's own cost, without agents).

Prints figures; asserts nothing. Targets (issue 14, 2-core machine): 0.25 s or less for a trivial step;
40 ms or less of overhead per step in the 100-step chain; the 16 sleeps with --jobs 8 at 95% of the ideal 2.0 s (2.1 s or
less), beside xargs -P 8 running the same sleeps; the OS sandbox
adds under 30 ms to a step.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from generate import git_env  # noqa: E402
from installs import resolve

AGENTS = Path(sys.executable).parent / "agents"


def project(root: Path, tasks: dict[str, str], isolation: str = "auto") -> Path:
    """A committed repository after `agents init` holding `tasks` ({id: task file text})."""
    env = git_env()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run([str(AGENTS), "-C", str(root), "init"], check=True, capture_output=True, env=env)
    config = root / ".agents" / "config.yaml"
    config.write_text(config.read_text().replace("isolation: auto", f"isolation: {isolation}"))
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    for task_id, text in tasks.items():
        (root / ".agents" / "tasks" / f"{task_id}.md").write_text(text)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "fixture"], check=True, env=env)
    return root


def task(run: str, outputs: list[str], inputs: list[str] = (), needs: list[str] = ()) -> str:  # type: ignore[assignment]
    lines = ["---", "title: bench step", f"run: {json.dumps(run)}"]
    if needs:
        lines.append(f"needs: {json.dumps(list(needs))}")
    lines.append(f"inputs: {json.dumps(list(inputs))}")
    lines.append(f"outputs: {json.dumps(list(outputs))}")
    lines += ["---", "## Intent", "", "Benchmark.", ""]
    return "\n".join(lines)


def wall(args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall and CPU seconds (user + system, with the processes it waited for) of one command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, capture_output=True, env=git_env())
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def phases(args: list[str], cwd: Path) -> tuple[float, float, float, float]:
    """(wall, CPU, seconds before the first step started, seconds after the last step's commit) of an
    `agents run`, from its progress lines on stderr as they arrive (`run   x`, `done  x in ...`)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=git_env())
    assert proc.stderr is not None
    first = last = None
    for line in proc.stderr:
        now = time.perf_counter()
        if line.startswith("run ") and first is None:
            first = now
        elif line.startswith("done "):
            last = now
    if proc.wait() != 0 or first is None or last is None:
        raise SystemExit(f"{' '.join(args)} failed")
    end = time.perf_counter()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return end - start, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, first - start, end - last


def sandboxed_sleep(work: Path) -> str:
    """`sleep 1` confined as agents confines a step's command (executors/isolation.py), as one shell word list."""
    from agentfiles.executors.isolation import Isolation, confine

    folder = work / "bare-sandbox"
    folder.mkdir()
    return shlex.join(confine(["/bin/sh", "-c", "sleep 1"], folder, Isolation("os")))


def python_start(agents: str) -> tuple[float, float]:
    """Median seconds of `python -c pass` and `python -S -c pass` with the interpreter of `agents`' script."""
    python = Path(agents).read_text().splitlines()[0].removeprefix("#!").strip()
    runs = [[wall([python, *flags, "-c", "pass"], Path.cwd())[0] for _ in range(9)] for flags in ([], ["-S"])]
    return statistics.median(runs[0]), statistics.median(runs[1])


def command_seconds(root: Path) -> float:
    """The commands' own time, as the run records measured it around the shell."""
    total = 0.0
    for record in (root / ".agents" / "runs").glob("*/record.json"):
        data = json.loads(record.read_text())
        total += float(data.get("command_s") or 0.0)
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--agents", action="append",
                        help="an `agents` to time (default: this venv's), or wheel:CHECKOUT for a regular install "
                        "built from that checkout; given twice, the two are timed in turns")
    parser.add_argument("--wheel", action="store_true",
                        help="time a regular install built from this checkout instead of the editable .venv")
    args = parser.parse_args()
    specs = (args.agents or []) + ([f"wheel:{HERE.parent}"] if args.wheel else [])
    installs = [resolve(a) for a in specs or [str(AGENTS)]]
    label = {a: f"[{a}] " if len(installs) > 1 else "" for a in installs}
    # Byte-compile the package as a wheel install does (an editable install under
    # PYTHONDONTWRITEBYTECODE=1 would otherwise recompile every module on every start).
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "cli")], check=False,
                   stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="agents-run-bench-"))
    atexit.register(shutil.rmtree, work, ignore_errors=True)  # generated projects: hundreds of MB
    print(f"timing {', '.join(installs)}; load average {os.getloadavg()[0]:.1f} at the start")
    for agents in installs:
        started, bare = python_start(agents)
        print(f"{label[agents]}its Python starts in {started * 1000:.0f} ms (`python -c pass`; {bare * 1000:.0f} ms with -S)")

    modes = ["folder", "os"] if shutil.which("bwrap") else ["folder"]
    trivial: dict[tuple[str, str], float] = {}
    chain: dict[tuple[str, str], float] = {}
    for mode in modes:
        # 1. One trivial step, forced again and again (each install in turn): wall time minus the shell
        # command's own time.
        root = project(work / f"trivial-{mode}", {"t": task("echo hi > o.txt", ["o.txt"])}, mode)
        walls: dict[str, list[float]] = {a: [] for a in installs}
        cpus: dict[str, list[float]] = {a: [] for a in installs}
        own: dict[str, list[float]] = {a: [] for a in installs}
        for agents in installs:
            wall([agents, "run", "--force"], root)
        for _ in range(args.repeat):
            for agents in installs:
                seconds, cpu = wall([agents, "run", "--force"], root)
                walls[agents].append(seconds)
                cpus[agents].append(cpu)
                start = time.perf_counter()
                subprocess.run(["/bin/sh", "-c", "echo hi > /dev/null"], check=True)
                own[agents].append(time.perf_counter() - start)
        for agents in installs:
            overhead = [w - o for w, o in zip(walls[agents], own[agents])]
            trivial[(agents, mode)] = statistics.median(overhead)
            print(f"{label[agents]}[{mode}] trivial step: wall median {statistics.median(walls[agents]):.3f} s (CPU "
                  f"{statistics.median(cpus[agents]):.3f} s), overhead median {statistics.median(overhead):.3f} s, min "
                  f"{min(overhead):.3f} s (n={args.repeat})")

        # 2. A chain of 100 steps, each reading the previous one's output.
        tasks = {"s000": task("echo 0 > out/s000.txt", ["out/s000.txt"])}
        for i in range(1, 100):
            prev, cur = f"s{i - 1:03d}", f"s{i:03d}"
            tasks[cur] = task(f"cat out/{prev}.txt > out/{cur}.txt; echo {i} >> out/{cur}.txt",
                              [f"out/{cur}.txt"], [f"out/{prev}.txt"], [prev])
        for number, agents in enumerate(installs):
            root = project(work / f"chain-{mode}-{number}", tasks, mode)
            seconds, cpu = wall([agents, "run"], root)
            commits = int(subprocess.run(["git", "-C", str(root), "rev-list", "--count", "HEAD"], capture_output=True,
                                         text=True, check=True).stdout) - 1
            spent = command_seconds(root)
            chain[(agents, mode)] = seconds
            print(f"{label[agents]}[{mode}] 100-step chain: wall {seconds:.2f} s (CPU {cpu:.2f} s) for {commits} step "
                  f"commits; the commands (with their sandbox) took {spent:.2f} s; overhead {seconds - spent:.2f} s in "
                  f"total, {(seconds - spent) / 100:.3f} s per step")
    if "os" in modes:
        for agents in installs:
            os_chain, folder_chain = chain[(agents, "os")], chain[(agents, "folder")]
            print(f"{label[agents]}the OS sandbox adds {(os_chain - folder_chain) / 100 * 1000:.1f} ms per step over "
                  f"folder isolation in the 100-step chain (ratio {os_chain / folder_chain:.2f}), "
                  f"{(trivial[(agents, 'os')] - trivial[(agents, 'folder')]) * 1000:.1f} ms to a single trivial run")

    # 3. Sixteen independent one-second sleeps, eight at a time, against `xargs -P 8` running the same
    # sixteen commands in the same run (its floor: 2.0 s).
    sleeps = {f"z{i:02d}": task(f"sleep 1; echo {i} > out/z{i:02d}.txt", [f"out/z{i:02d}.txt"]) for i in range(16)}
    runs: dict[str, list[tuple[float, float, float, float]]] = {a: [] for a in installs}
    peer, sandboxed = [], []
    confined = sandboxed_sleep(work) if "os" in modes else None
    for n in range(max(3, args.repeat // 2)):
        for number, agents in enumerate(installs):
            root = project(work / f"sleeps-{n}-{number}", sleeps)
            runs[agents].append(phases([agents, "run", "--jobs", "8"], root))
        peer.append(wall(["/bin/sh", "-c", "seq 16 | xargs -P 8 -I{} sh -c 'sleep 1'"], root)[0])
        if confined is not None:
            sandboxed.append(wall(["/bin/sh", "-c", f"seq 16 | xargs -P 8 -I{{}} {confined}"], root)[0])
    ideal, xargs = 2.0, statistics.median(peer)
    if sandboxed:
        print(f"16 x `sleep 1` in the OS sandbox of a step (the same bubblewrap arguments), by `xargs -P 8`: wall median "
              f"{statistics.median(sandboxed):.2f} s ({ideal / statistics.median(sandboxed):.0%} of the ideal 2.0 s): the "
              f"floor of the run below, which runs its steps in that sandbox")
    for agents in installs:
        ours, cpus_, starts, ends = zip(*runs[agents])
        median = statistics.median(ours)
        print(f"{label[agents]}16 x `sleep 1` with --jobs 8: wall median {median:.2f} s (min {min(ours):.2f}; CPU "
              f"{statistics.median(cpus_):.2f} s), `xargs -P 8` median {xargs:.2f} s; efficiency {ideal / median:.0%} of the "
              f"ideal 2.0 s ({ideal / xargs:.0%} for xargs), {xargs / median:.0%} of xargs (n={len(ours)}); medians: "
              f"{statistics.median(starts):.3f} s before the first step started, {statistics.median(ends):.3f} s after the "
              f"last step's commit")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
