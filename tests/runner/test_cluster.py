"""Steps on a real Dask LocalCluster (`agents run --cluster`): workers carry the steps out, the coordinator
judges and commits; the same commits as a local run, one commit per step when a worker is SIGKILLed
mid-step, and a killed coordinator leaves what a killed local run leaves."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import KEY, ROOT, configure, git, make_repo, run_program, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply

distributed = pytest.importorskip("distributed")


@pytest.fixture(scope="module")
def cluster():  # type: ignore[no-untyped-def]
    """Two worker processes (each with a nanny that restarts it), one thread each, with Dask's own settings."""
    import logging

    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                                  scheduler_kwargs={"dashboard": False}, silence_logs=logging.ERROR) as local, \
            distributed.Client(local) as client:
        yield local, client


def _pipeline(root: Path, api: FakeAnthropic, agents) -> Path:  # type: ignore[no-untyped-def]
    make_repo(root)
    assert agents("-C", str(root), "init").code == 0
    (root / ".agents/tasks/describe-project.md").unlink()
    configure(root, api)
    write_files(root, {
        "notes/a.md": "alpha beta\n",
        "notes/b.md": "gamma\n",
        ".agents/tasks/count.md": task_text("Count", run="cat notes/*.md | wc -w > build/count.txt",
                                            inputs=["notes/*.md"], outputs=["build/count.txt"]),
        ".agents/tasks/upper.md": task_text("Upper", run="tr a-z A-Z < {item} > build/{stem}.up", foreach="notes/*.md",
                                            inputs=["{item}"], outputs=["build/{stem}.up"]),
        ".agents/tasks/summary.md": task_text("Summary", role="developer", needs=["count", "upper"],
                                              inputs=["build/count.txt", "build/a.up"], outputs=["SUMMARY.md"]),
    })
    git(root, "add", "-A")
    git(root, "commit", "-qm", "pipeline")
    return root


def _landed(root: Path, every: bool = False) -> list[tuple[str, list[str]]]:
    """Each step commit's (or `every` commit's) subject and files, runs' own folders left out, in a stable
    order; a review's subject without its run id."""
    found = []
    for sha in git(root, "log", "--format=%H", *([] if every else ["--grep=^Agents-Task"])).split():
        files = [f for f in git(root, "show", "--name-only", "--format=", sha).split() if not f.startswith(".agents/runs/")]
        subject = re.sub(r" run \d{8}T\d{6}Z-[0-9a-f]{6}$", " run RUN", git(root, "log", "-1", "--format=%s", sha).strip())
        found.append((subject, sorted(files)))
    return sorted(found)


def _handoff_facts(root: Path, usage: bool = True) -> dict[str, tuple[str, ...]]:
    """Each handoff's facts but its run's ids and times (and its usage, unless `usage`)."""
    from agentfiles.storage.documents import parse_document

    facts = {}
    for path in sorted((root / ".agents/handoffs").glob("*.md")):
        doc = parse_document(path.read_text())
        body = re.sub(r"\d+\.\d+ s", "N s", doc.body)  # a command's own time is in its summary
        used = {k: v for k, v in (doc.meta.get("usage") or {}).items() if k != "duration_s"} if usage else {}
        facts[path.name] = (doc.meta["status"], doc.meta["definition"], str(doc.meta["inputs"]),
                            str(doc.meta["outputs"]), str(doc.meta.get("model")), body, str(used),
                            str(doc.meta.get("verification")), str((doc.meta.get("review") or {}).get("state")))
    return facts


def test_a_pipeline_on_the_cluster_lands_the_same_commits_as_without(tmp_path: Path, api: FakeAnthropic, agents, cluster) -> None:  # type: ignore[no-untyped-def]
    local, client = cluster
    summary = [Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": "3 words\n"}),
               Reply.tool_use("finish", {"summary": "Summarised."})]
    here = _pipeline(tmp_path / "here", api, agents)
    api.queue(*summary)
    assert agents("-C", str(here), "run").code == 0
    there = _pipeline(tmp_path / "there", api, agents)
    api.queue(*summary)
    seen = len(api.message_requests)
    result = agents("-C", str(there), "run", "--cluster", local.scheduler_address)
    assert result.code == 0, result.err
    assert f"steps run on the Dask cluster at {local.scheduler_address}" in result.err
    assert _landed(here) == _landed(there)
    # One endpoint answers both runs, so the second reads the first's prompt cache: usage differs.
    assert _handoff_facts(here, usage=False) == _handoff_facts(there, usage=False)
    for rel in ("build/count.txt", "build/a.up", "build/b.up", "SUMMARY.md"):
        assert (here / rel).read_bytes() == (there / rel).read_bytes()
    # The model step ran on a worker, with the key it needs, and no record keeps it.
    assert api.message_requests[seen].api_key == KEY
    assert sum(client.run(lambda: 1).values()) == 2
    records = "".join(p.read_text() for p in (there / ".agents/runs").rglob("*.json"))
    assert KEY not in records and '"worker": "cluster"' in records
    assert git(there, "status", "--porcelain") == ""


def test_the_demo_on_the_cluster_lands_what_it_lands_without(tmp_path: Path, cluster, capsys) -> None:  # type: ignore[no-untyped-def]
    """`python3 dev.py demo --cluster ADDRESS`: command steps, a foreach, a stale re-run, a model step with a
    verifier that rejects once, a review; the same commits, outputs and handoffs as the demo run here (run
    ids, times, and the order in which independent steps landed aside)."""
    sys.path.insert(0, str(ROOT / "demo"))
    from pipeline import run_demo

    local, _ = cluster
    agents = Path(sys.executable).parent / "agents"
    assert run_demo(tmp_path / "here", agents) == 0
    assert run_demo(tmp_path / "there", agents, local.scheduler_address) == 0
    here, there = tmp_path / "here", tmp_path / "there"
    assert "--cluster " + local.scheduler_address in capsys.readouterr().out
    assert _landed(here, every=True) == _landed(there, every=True)
    assert _handoff_facts(here) == _handoff_facts(there)
    files = [f for f in git(here, "ls-files").split() if not f.startswith(".agents/runs/")]
    assert files == [f for f in git(there, "ls-files").split() if not f.startswith(".agents/runs/")]
    assert [f for f in files if not f.startswith(".agents/") and (here / f).read_bytes() != (there / f).read_bytes()] == []
    assert '"worker": "cluster"' in "".join(p.read_text() for p in (there / ".agents/runs").rglob("record.json"))


def test_a_worker_killed_mid_step_costs_a_rerun_not_a_second_commit(project: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    local, client = cluster
    write_files(project, {
        ".agents/tasks/slow.md": task_text("Slow", run="sleep 4; echo done > out/slow.txt", outputs=["out/slow.txt"]),
        ".agents/tasks/quick.md": task_text("Quick", run="echo q > out/quick.txt", outputs=["out/quick.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two")
    killed: list[int] = []

    def kill_the_worker_running_slow() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not killed:
            for worker, keys in client.processing().items():
                if keys:
                    time.sleep(1.0)  # inside `sleep 4`
                    pid = client.run(os.getpid, workers=[worker])[worker]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
            time.sleep(0.1)

    killer = threading.Thread(target=kill_the_worker_running_slow)
    killer.start()
    result = run_program("-C", str(project), "run", "--jobs", "1", "slow", "--cluster", local.scheduler_address)
    killer.join()
    assert killed, "no worker was seen running the step"
    assert result.code == 0, result.err
    # The progress says the step runs again, and why, between its start and its end.
    said = re.search(r"^retry slow on another worker: the worker running it \((tcp://[\d.]+:\d+)\) died mid-step; "
                     r"nothing it did was kept$", result.err, re.MULTILINE)
    assert said, result.err
    lines = result.err.splitlines()
    assert lines.index("run   slow") < lines.index(said.group(0)) < next(n for n, s in enumerate(lines) if s.startswith("done  slow"))
    assert git(project, "log", "--format=%s", "--grep=^Agents-Task: slow").splitlines() == ["agents(slow): Slow"]
    assert (project / "out/slow.txt").read_text() == "done\n"
    assert run_program("-C", str(project), "run", "--cluster", local.scheduler_address).code == 0
    states = run_program("-C", str(project), "status", "--json")
    assert '"state": "done"' in states.out and '"state": "ready"' not in states.out
    client.wait_for_workers(2, timeout=180)  # the killed worker restarting: over 60 s once, at load 8


def test_no_cluster_runs_here_the_steps_the_config_sends_to_a_cluster(project: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    """`cluster:` in the config, and one run that should not use it (the cluster is down, or busy):
    `--no-cluster` runs the steps here; without it the config's cluster carries them out."""
    local, _client = cluster
    config = project / ".agents/config.yaml"
    config.write_text(config.read_text() + f"cluster: {local.scheduler_address}\n")
    write_files(project, {
        ".agents/tasks/a.md": task_text("A", run="echo a > out/a.txt", outputs=["out/a.txt"]),
        ".agents/tasks/b.md": task_text("B", run="echo b > out/b.txt", outputs=["out/b.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two")

    def worker(task: str) -> str | None:
        run = git(project, "log", "-1", "--format=%(trailers:key=Agents-Run,valueonly)", f"--grep=^Agents-Task: {task}").strip()
        return json.loads((project / f".agents/runs/{run}/record.json").read_text()).get("worker")

    here = run_program("-C", str(project), "run", "a", "--no-cluster")
    assert here.code == 0, here.err
    assert "Dask" not in here.err and worker("a") is None
    there = run_program("-C", str(project), "run", "b")
    assert there.code == 0, there.err
    assert f"note: steps run on the Dask cluster at {local.scheduler_address}" in there.err and worker("b") == "cluster"
    both = run_program("-C", str(project), "run", "--cluster", "local:1", "--no-cluster")
    assert both.code == 2 and both.err.startswith("error: --cluster and --no-cluster contradict each other\nhint: ")
    dry = run_program("-C", str(project), "run", "--dry-run", "--no-cluster", "--force", "a")
    assert dry.code == 0 and "Dask" not in dry.err


def test_a_worker_killed_during_a_model_call_gives_back_its_slot_and_the_step_lands_once(project: Path, api: FakeAnthropic, cluster) -> None:  # type: ignore[no-untyped-def]
    """SIGKILL to the worker whose step's model call is in flight, under a limit of one call at once: the
    dead worker's slot comes back as the scheduler loses the worker (not after a lease's timeout: the
    step run again on the other worker never waits for it), and the step lands once."""
    local, client = cluster
    write_files(project, {".agents/tasks/m0.md": task_text("M0", role="developer", outputs=["m0.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    configure(project, api, limits={"default": {"concurrent": 1}}, stall_s=30.0)
    api.delay_s = 2.0
    write = Reply.tool_use("write_file", {"path": "m0.txt", "content": "m0\n"})
    api.queue(write, write, Reply.tool_use("finish", {"summary": "done"}))  # the first answer is lost with its worker
    killed: list[int] = []

    def kill_the_worker_waiting_on_the_model() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not api.message_requests:
            time.sleep(0.05)
        for worker, keys in client.processing().items():
            if keys:
                pid = client.run(os.getpid, workers=[worker])[worker]
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

    killer = threading.Thread(target=kill_the_worker_waiting_on_the_model)
    killer.start()
    result = run_program("-C", str(project), "run", "--cluster", local.scheduler_address)
    killer.join()
    assert len(killed) == 1, "no worker was seen running the step"
    assert result.code == 0, result.err
    assert "wait  m0" not in result.err
    assert git(project, "log", "--format=%s", "--grep=^Agents-Task: m0").splitlines() == ["agents(m0): M0"]
    assert (project / "m0.txt").read_text() == "m0\n" and len(api.message_requests) == 3  # the first call, lost; then two
    assert '"state": "done"' in run_program("-C", str(project), "status", "--json").out
    client.wait_for_workers(2, timeout=180)  # the killed worker restarting: over 60 s once, at load 8


def test_a_killed_coordinator_leaves_what_a_killed_local_run_leaves(project: Path, cluster) -> None:  # type: ignore[no-untyped-def]
    local, _ = cluster
    tasks = {f".agents/tasks/t{i}.md": task_text(f"T{i}", run=f"sleep 0.5; echo $AGENTS_RUN > out/t{i}.txt",
                                                 outputs=[f"out/t{i}.txt"]) for i in range(6)}
    write_files(project, tasks)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "six")
    proc = subprocess.Popen([sys.executable, "-m", "agentfiles", "-C", str(project), "run", "--cluster",
                             local.scheduler_address], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # killed once the first step has landed, while others run on the workers
        if line.startswith("done"):
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    result = run_program("-C", str(project), "run")
    assert result.code == 0, result.err
    assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
    subjects = git(project, "log", "--format=%s", "--grep=^Agents-Task").splitlines()
    assert sorted(subjects) == sorted(f"agents(t{i}): T{i}" for i in range(6))  # each step once


@pytest.mark.parametrize("address", ["bogus", "127.0.0.1", "http://x:1"])
def test_an_address_dask_cannot_read_is_a_usage_error_not_a_bug(project: Path, agents, address: str) -> None:  # type: ignore[no-untyped-def]
    """The issue-16 verification: Dask's ValueError ('missing port number in address') escaped as an
    internal error, exit 1, 'this is a bug'."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo t > t.txt", outputs=["t.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "t")
    head = git(project, "rev-parse", "HEAD")
    result = agents("-C", str(project), "run", "--cluster", address)
    assert result.code == 2, result.err
    assert f"error: `{address}` is not a Dask scheduler address" in result.err and "hint: give a Dask scheduler's address as" in result.err
    assert "bug" not in result.err and git(project, "rev-parse", "HEAD") == head


def test_the_workers_share_the_runs_rate_limits(project: Path, api: FakeAnthropic, agents, cluster) -> None:  # type: ignore[no-untyped-def]
    """Two workers, each running a model step at the same time, against an endpoint that allows one call at
    once: the limit (one at once) holds across the workers, so the endpoint never refuses one."""
    local, _ = cluster
    write_files(project, {f".agents/tasks/m{i}.md": task_text(f"M{i}", role="developer") for i in range(4)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "four")
    api.concurrency_limit, api.delay_s = 1, 0.5
    api.queue(*[Reply.tool_use("finish", {"summary": "done"})] * 4)
    configure(project, api, limits={"default": {"concurrent": 1}})
    result = agents("-C", str(project), "--json", "run", "--cluster", local.scheduler_address)
    assert result.code == 0, result.err
    assert [o["status"] for o in result.json["outcomes"]] == ["done"] * 4
    assert api.peak == 1 and api.limited == 0 and len(api.message_requests) == 4


def test_a_coordinator_whose_model_steps_all_run_on_workers_never_loads_the_sdk(project: Path, api: FakeAnthropic, cluster) -> None:  # type: ignore[no-untyped-def]
    """The model SDK's import (seconds of CPU) is for the workers to pay when the coordinator holds no
    conversation itself; one with a verifier there loads it as a local run does."""
    local, _ = cluster
    write_files(project, {f".agents/tasks/m{i}.md": task_text(f"M{i}", role="developer") for i in range(2)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "two")
    api.queue(*[Reply.tool_use("finish", {"summary": "done"})] * 2)
    configure(project, api)
    program = ("import sys\nfrom agentfiles.commands.app import run\n"
               f"code = run(['-C', {str(project)!r}, 'run', '--cluster', {local.scheduler_address!r}])\n"
               "print('exit', code, 'sdk', 'anthropic' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False,
                          env=os.environ.copy())
    assert done.stdout.splitlines()[-1] == "exit 0 sdk False", done.stdout + done.stderr
    assert len(api.message_requests) == 2
    write_files(project, {".agents/tasks/judged.md": task_text("Judged", role="developer", acceptance=["It says done."],
                                                                      verifier="reviewer")})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "judged")
    api.queue(Reply.tool_use("finish", {"summary": "done"}),
              Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "it does"}]}))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=False,
                          env=os.environ.copy())
    assert done.stdout.splitlines()[-1] == "exit 0 sdk True", done.stdout + done.stderr
    assert "The verifier `reviewer` passed attempt 1" in (project / ".agents/handoffs/judged.md").read_text()


def test_the_workers_share_the_runs_tokens_a_minute(project: Path, api: FakeAnthropic, agents, cluster) -> None:  # type: ignore[no-untyped-def]
    """Two model steps on two workers at once, under a tokens-a-minute limit that holds one call's tokens
    but not two: the second call waits until the first's tokens have come back, wherever it runs."""
    from agentfiles.executors.anthropic import estimate_tokens

    local, _ = cluster
    write_files(project, {f".agents/tasks/m{i}.md": task_text(f"M{i}", role="developer") for i in range(3)})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "three")
    configure(project, api)
    api.queue(Reply.tool_use("finish", {"summary": "done"}))
    assert agents("-C", str(project), "run", "m0").code == 0  # here, to learn what such a call is estimated at
    tokens = estimate_tokens(api.message_requests[0].body)
    configure(project, api, limits={"default": {"concurrent": 8, "tokens_per_minute": tokens * 18 // 10}}, stall_s=30.0)
    api.delay_s = 1.5
    api.queue(*[Reply.tool_use("finish", {"summary": "done"})] * 2)
    result = agents("-C", str(project), "run", "--cluster", local.scheduler_address)
    assert result.code == 0, result.err
    assert "done  m1" in result.err and "done  m2" in result.err
    assert api.peak == 1 and len(api.message_requests) == 3  # the second call waited (about 7 s at this rate)
    assert f"is at its {tokens * 18 // 10} tokens a minute (api.limits)" in result.err


def test_a_scheduler_that_cannot_keep_the_limits_stops_the_run_before_any_step(project: Path, tmp_path: Path) -> None:
    """The rate limits live in the scheduler's process, which must import agentfiles as the workers do."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo x > o.txt", outputs=["o.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    where = tmp_path / "scheduler.json"
    without = "import sys\nsys.modules['agentfiles'] = None\nfrom distributed.cli.dask_scheduler import main\nmain()"
    scheduler = subprocess.Popen([sys.executable, "-c", without, "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                  "--scheduler-file", str(where)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not where.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(0.5)  # written, not only created
        address = json.loads(where.read_text())["address"]
        result = run_program("-C", str(project), "run", "--cluster", address)
    finally:
        scheduler.terminate()
        scheduler.wait()
    assert result.code == 2
    assert f"error: the Dask scheduler at {address} cannot keep the run's rate limits" in result.err
    assert "hint: install agents with its extra `dask` where the scheduler runs too (`pip install '.[dask]'` in a clone)" in result.err
    assert "Traceback" not in result.err and not (project / "o.txt").exists()
    assert git(project, "log", "-1", "--format=%s").strip() == "one"


def test_a_step_on_a_worker_says_when_its_model_call_waits_or_is_retried(project: Path, api: FakeAnthropic, agents, cluster) -> None:  # type: ignore[no-untyped-def]
    """What a worker's model call goes through shows in the coordinator's progress, as for a local step."""
    local, _ = cluster
    write_files(project, {".agents/tasks/m0.md": task_text("M0", role="developer")})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "one")
    configure(project, api)
    api.queue(Reply.error(429, "slow down", retry_after=1.0), Reply.tool_use("finish", {"summary": "done"}))
    result = agents("-C", str(project), "run", "--cluster", local.scheduler_address)
    assert result.code == 0, result.err
    assert "retry m0 API call, attempt 2 of 3: HTTP 429" in result.err
    assert "wait  m0: the API asked for a pause: every call to claude" in result.err


def test_a_local_cluster_leaves_dasks_own_messages_out_of_the_runs_output(project: Path) -> None:
    """`--cluster local:1` while port 8787 (the default of Dask's dashboard) is taken, as by another run's
    cluster, with a step whose input makes the work order large: the run's output is its own lines only
    (Dask warned that the port was in use and that it sent a large graph), in the singular for one worker."""
    import socket

    write_files(project, {
        "big.txt": "0123456789abcdef\n" * 800_000,  # 13.6 MB: above Dask's large-graph warning
        ".agents/tasks/big.md": task_text("Big", run="wc -c < big.txt > big.count", inputs=["big.txt"],
                                          outputs=["big.count"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "big")
    holder = socket.socket()
    try:
        holder.bind(("0.0.0.0", 8787))
        holder.listen()
    except OSError:  # another process holds it: as taken for this run
        pass
    try:
        result = run_program("-C", str(project), "run", "--cluster", "local:1")
    finally:
        holder.close()
    assert result.code == 0, result.err
    assert (project / "big.count").read_text().strip() == "13600000"
    lines = result.err.splitlines()
    assert "note: steps run on the Dask cluster at local:1 (1 worker thread)" in lines
    ours = re.compile(r"(note: |setup \d|run   big$|done  big in )")
    assert [line for line in lines if not ours.match(line)] == [], result.err
