"""Scaling out: throughput of model steps bound by the model's latency (the local Messages API of the tests
answering each call after a fixed delay) with 1, 2, 4 and 8 workers of a Dask LocalCluster against
`--jobs` 1, 2, 4 and 8 in one process; the runner's overhead per step through the cluster; and the time of a
step served from the run cache against the same step run fresh.

Usage (with the project's .venv, which has the dask extra): .venv/bin/python bench/cluster_bench.py
    [--steps 32] [--delay 1.0]

Prints figures; asserts nothing. Throughput is steps per second between the first step's start and the
last step's commit (as `agents run` reports them on stderr, timestamped as they arrive), so the cluster's
and the command's start-up are left out; each figure is also given as a share of linear scaling (N times
the one-worker throughput of the same kind) and of the ideal (N steps per delay). Each LocalCluster does
one untimed run first, as a cluster's long-lived workers would have (their first step loads the model
SDK). Targets: at least 90% of linear up to 8 workers.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))

from fake_anthropic import FakeAnthropic, Reply  # noqa: E402
from generate import git_env  # noqa: E402

AGENTS = Path(sys.executable).parent / "agents"


def finish(request: object) -> Reply:
    return Reply.tool_use("finish", {"summary": "Done."}, usage={"input_tokens": 50, "output_tokens": 5})


def project(root: Path, steps: int, base_url: str) -> Path:
    """A repository of `steps` independent model steps (no inputs, no outputs: one call each)."""
    env = git_env()
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run([str(AGENTS), "-C", str(root), "init"], check=True, capture_output=True, env=env)
    config = root / ".agents" / "config.yaml"
    text = config.read_text().replace("isolation: auto", "isolation: folder")
    text = text.replace("  stall_s: 60\n", f"  stall_s: 60\n  base_url: {json.dumps(base_url)}\n")
    text = text.replace("default: {concurrent: 5, tokens_per_minute: 400000}", "default: {concurrent: 64}")
    config.write_text(text)
    (root / ".agents" / "tasks" / "describe-project.md").unlink()
    for i in range(steps):
        (root / ".agents" / "tasks" / f"m{i:03d}.md").write_text(
            f"---\ntitle: Model step {i}\nrole: developer\n---\n## Intent\n\nSay you are done ({i}).\n")
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "commit", "-qm", "fixture"], check=True, env=env)
    return root


def timed_run(root: Path, args: list[str]) -> tuple[float, float]:
    """(wall time of the command, seconds from the first step's start to the last step's commit)."""
    env = {**git_env(), "ANTHROPIC_API_KEY": "bench-key"}
    start = time.perf_counter()
    proc = subprocess.Popen([str(AGENTS), "-C", str(root), "run", *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env)
    assert proc.stderr is not None
    first = last = None
    for line in proc.stderr:
        now = time.perf_counter()
        if line.startswith("run ") and first is None:
            first = now
        elif line.startswith("done"):
            last = now
        elif line.startswith(("failed", "error")):
            print("  " + line.rstrip(), file=sys.stderr)
    code = proc.wait()
    wall = time.perf_counter() - start
    if code != 0 or first is None or last is None:
        raise SystemExit(f"agents run {' '.join(args)} failed (exit {code})")
    return wall, last - first


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--delay", type=float, default=1.0)
    args = parser.parse_args()
    import distributed

    subprocess.run([sys.executable, "-m", "compileall", "-q", str(HERE.parent / "cli")], check=False,
                   stdout=subprocess.DEVNULL)
    work = Path(tempfile.mkdtemp(prefix="agents-cluster-bench-"))
    results: dict[tuple[str, int], tuple[float, float]] = {}
    with FakeAnthropic(delay_s=args.delay) as api:
        api.queue(*[finish] * (args.steps * 8 + 40))
        for n in (1, 2, 4, 8):
            root = project(work / f"jobs-{n}", args.steps, api.base_url)
            results[("jobs", n)] = timed_run(root, ["--jobs", str(n)])
            with distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None,
                                          silence_logs=logging.ERROR) as local:
                # A cluster's workers outlive a run: one run first, so that each has loaded the model SDK.
                timed_run(project(work / f"warm-{n}", n, api.base_url), ["--cluster", local.scheduler_address])
                root = project(work / f"cluster-{n}", args.steps, api.base_url)
                results[("cluster", n)] = timed_run(root, ["--cluster", local.scheduler_address])
        print(f"{args.steps} model steps, each one call answered after {args.delay:g} s; throughput in steps/s "
              "from the first step's start to the last step's commit (wall time of the whole command beside it)")
        for kind in ("jobs", "cluster"):
            base = args.steps / results[(kind, 1)][1]
            for n in (1, 2, 4, 8):
                wall, span = results[(kind, n)]
                rate = args.steps / span
                print(f"  {kind:7} {n}: {rate:5.2f} steps/s, {rate / (n * base):4.0%} of linear, "
                      f"{rate / (n / args.delay):4.0%} of the ideal {n / args.delay:g}/s (span {span:.2f} s, wall {wall:.2f} s)")
        for n in (1, 8):
            local_s, cluster_s = results[("jobs", n)][1], results[("cluster", n)][1]
            ideal = args.steps * args.delay / n
            print(f"  runner overhead per step at {n} at once: {(local_s - ideal) / args.steps * n * 1000:.0f} ms in one "
                  f"process, {(cluster_s - ideal) / args.steps * n * 1000:.0f} ms through the cluster "
                  f"(span less {ideal:.1f} s of model time, per step and slot)")

        # A cached step against a fresh one: the same model step run, rewound, and run again.
        fresh, cached = [], []
        for n in range(5):
            root = project(work / f"cache-{n}", 1, api.base_url)
            fresh.append(timed_run(root, [])[0])
            subprocess.run([str(AGENTS), "-C", str(root), "rewind", "m000", "--in-place"], check=True,
                           capture_output=True, env=git_env())
            cached.append(timed_run(root, [])[0])
        f, c = statistics.median(fresh), statistics.median(cached)
        print(f"one model step ({args.delay:g} s of model time): fresh {f:.2f} s, from the run cache {c:.2f} s "
              f"(ratio {c / f:.2f}), medians of {len(fresh)}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    raise SystemExit(main())
