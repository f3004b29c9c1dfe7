"""What the coding tools cost. (1) A one-line change to a 2,000-line file through `edit_file` against
through `write_file`: the size of the call the model has to write (its output tokens), against the floor,
the changed line itself. Both calls are carried out by the doer's tools (core/tool_calls.py) on a copy of
the file and must leave the same bytes. (2) A `run` call's overhead over its command's own time: the
command run through the doer's shell (the OS sandbox, with the walks that discard by-products) against
the same command started directly, and against bubblewrap alone, interleaved, in a step folder of a few
files and of 1,000 files.

Usage (with the project's .venv): .venv/bin/python bench/coding_bench.py [--repeat 30]

Token counts are estimates: characters / 4 (what tests/fake_anthropic.py reports as output tokens) and
the budget estimate of core/tokens.py (UTF-8 bytes / 3); the ratios hold for any tokenizer that counts
the same text alike. Prints figures and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentfiles.core.context import StepContext
from agentfiles.core.conversation import Limits, Outcome
from agentfiles.core.globs import OutputSet
from agentfiles.core.tokens import estimate_tokens
from agentfiles.core.tool_calls import DoerTools
from agentfiles.core.tools import ALL
from agentfiles.executors.command import run_process
from agentfiles.executors.isolation import Isolation, Mounts, choose_mode, confine, confined_env
from agentfiles.executors.shell import StepShell, tree_of

LINES = 2000
TARGET = "src/pkg/big.py"


def big_file() -> str:
    return "".join(f"def f{n}(x):\n    return x + {n}\n\n" for n in range(LINES // 3)) + "VALUE = 1\n"


def tokens() -> None:
    text = big_file()
    line, changed = "    return x + 500\n", "    return x - 500\n"
    assert text.count(line) == 1
    calls = {
        "edit_file": {"path": TARGET, "old_string": line, "new_string": changed},
        "write_file": {"path": TARGET, "content": text.replace(line, changed)},
    }
    results = {}
    for name, args in calls.items():
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / TARGET).parent.mkdir(parents=True)
            (folder / TARGET).write_text(text)
            tools = DoerTools(StepContext(system=["s"], brief="b"), ["src/pkg/**/*.py"], folder, Limits(max_turns=3),
                              list(ALL))
            answer, error, _ = tools.handle({"id": "t", "name": name, "input": args}, Outcome(ok=False))
            assert not error, answer
            results[name] = (folder / TARGET).read_bytes()
    assert results["edit_file"] == results["write_file"], "the two calls left different files"
    floor = changed
    print(f"(1) a one-line change to a {text.count(chr(10))}-line file ({len(text.encode())} bytes); both calls leave "
          "the same bytes")
    print(f"    {'what the model writes':<28}{'chars':>8}{'~tok (c/4)':>12}{'~tok (b/3)':>12}{'x floor':>9}")
    rows = [("the changed line (floor)", floor)] + [(f"{n} call", json.dumps(a)) for n, a in calls.items()]
    for label, written in rows:
        print(f"    {label:<28}{len(written):>8}{len(written) // 4:>12}{estimate_tokens(written):>12}"
              f"{len(written) / len(floor):>9.1f}")
    print(f"    write_file / edit_file: {len(json.dumps(calls['write_file'])) / len(json.dumps(calls['edit_file'])):.0f}x")


def run_overhead(repeat: int) -> None:
    mode, note = choose_mode("auto")
    if mode != "os":
        print(f"(2) skipped: no OS sandbox here ({note})")
        return
    print(f"(2) a `run` call's overhead over its command (`true`), medians of {repeat}, interleaved; `per-file mounts`"
          " is the run tool as it was, one read-only mount per file its outputs do not name")
    print("    (`runner CPU`: the CPU time the run tool takes in the runner's own process, walks and mounts included,"
          " bubblewrap's not: the part of the overhead this code decides, and the figure that holds under load)")
    print(f"    {'step folder':<26}{'direct':>9}{'bwrap':>9}{'run tool':>10}{'overhead':>10}{'runner CPU':>12}"
          f"{'per-file mounts':>17}")
    for label, files, where in (("10 outputs", 10, "src"), ("1,000 outputs", 1000, "src"),
                                ("1,000 inputs, 10 outputs", 1000, "tests")):
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "work"
            for n in range(files):
                path = folder / f"{where}/pkg{n % 20}/m{n}.py"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(f"X = {n}\n")
            for n in range(10 if where == "tests" else 0):
                (folder / f"src/m{n}.py").parent.mkdir(parents=True, exist_ok=True)
                (folder / f"src/m{n}.py").write_text("Y = 1\n")
            iso = Isolation("os")
            env = confined_env({"PATH": "/usr/bin:/bin"})
            shell = StepShell(folder, env, iso, ["src/**/*.py"])
            each = sorted(rel for rel in tree_of(folder)[0] if rel not in OutputSet(["src/**/*.py"]))
            times: dict[str, list[float]] = {"direct": [], "bwrap": [], "run": [], "each": [], "cpu": []}
            for _ in range(repeat):
                started = time.perf_counter()
                subprocess.run(["/bin/sh", "-c", "true"], cwd=folder, env=env, check=True)
                times["direct"].append(time.perf_counter() - started)
                started = time.perf_counter()
                run_process(confine(["/bin/sh", "-c", "true"], folder, iso, Mounts()), str(folder), env, 30.0)
                times["bwrap"].append(time.perf_counter() - started)
                started, cpu = time.perf_counter(), time.process_time()
                result = shell("true", 30.0)
                times["run"].append(time.perf_counter() - started)
                times["cpu"].append(time.process_time() - cpu)
                assert result.exit_code == 0, result.output
                if each and len(times["each"]) < 3:  # seconds each: three are enough
                    started = time.perf_counter()
                    run_process(confine(["/bin/sh", "-c", "true"], folder, iso, Mounts(protect=each)), str(folder), env, 60.0)
                    times["each"].append(time.perf_counter() - started)
            direct, bwrap, run, cpu = (statistics.median(times[k]) * 1000 for k in ("direct", "bwrap", "run", "cpu"))
            per_file = f"{statistics.median(times['each']) * 1000:>15.1f}ms" if times["each"] else f"{'-':>17}"
            print(f"    {label:<26}{direct:>7.1f}ms{bwrap:>7.1f}ms{run:>8.1f}ms{run - direct:>8.1f}ms{cpu:>10.1f}ms{per_file}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    tokens()
    print()
    run_overhead(args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
