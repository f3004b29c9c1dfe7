"""The pipelines the kill and interrupt suites run, and the moments of their runs. Each makes every moment
come a known number of times:

- CHAIN, five command steps each waiting for the one before (a foreach of two items in the middle, a
  `run:` check on the second), run with `--jobs 1`, lands one step per commit batch;
- FAN, three independent steps and one that joins them, run with `--jobs 3` while the test holds git's
  index lock until all three have executed (as an editor's `git status` may): the first, which ends a
  moment before the others, lands alone and the two others land together, one fast-import and one ref
  update for both;
- CACHED, CHAIN where each step ran before on another branch: the run cache lands each step's earlier
  outputs from git instead of running it, one step per commit batch."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import git, isolate, make_repo, task_text, write_files
from killing import start
from watcher import Moment, Watcher

CHAIN = {
    "notes/a.md": "one two three\n",
    "notes/b.md": "four five\n",
    ".agents/tasks/seed.md": task_text("Seed", run="seq 1 300 > out/seed.txt", outputs=["out/seed.txt"]),
    ".agents/tasks/double.md": task_text(
        "Double", run="awk '{print $1 * 2}' out/seed.txt > out/double.txt", needs=["seed"],
        inputs=["out/seed.txt"], outputs=["out/double.txt"], acceptance=[{"run": "test -s out/double.txt"}]),
    ".agents/tasks/words.md": task_text(
        "Words of {name}", foreach="notes/*.md", run="wc -w < {item} > out/words/{stem}.txt", needs=["double"],
        inputs=["{item}"], outputs=["out/words/{stem}.txt"]),
    ".agents/tasks/summary.md": task_text(
        "Summary", run="cat out/double.txt out/words/a.txt out/words/b.txt | wc -l > out/summary.txt",
        needs=["double", "words"], inputs=["out/double.txt", "out/words/a.txt", "out/words/b.txt"],
        outputs=["out/summary.txt"]),
}
FAN = {  # f2 and f3 end a moment after f1, so that f1's landing starts alone, whatever the machine's speed
    **{f".agents/tasks/f{n}.md": task_text(f"Part {n}", outputs=[f"out/f{n}.txt"],
                                           run=("" if n == 1 else "sleep 0.3; ") + f"seq {n} {n * 100} > out/f{n}.txt")
       for n in (1, 2, 3)},
    ".agents/tasks/join.md": task_text(
        "Join", run="cat out/f1.txt out/f2.txt out/f3.txt | wc -l > out/all.txt", needs=["f1", "f2", "f3"],
        inputs=["out/f1.txt", "out/f2.txt", "out/f3.txt"], outputs=["out/all.txt"]),
}
STEPS = {"chain": ("seed", "double", "words@notes--a.md", "words@notes--b.md", "summary"),
         "fan": ("f1", "f2", "f3", "join")}
OUTPUTS = {"chain": ("out/seed.txt", "out/double.txt", "out/words/a.txt", "out/words/b.txt", "out/summary.txt"),
           "fan": ("out/f1.txt", "out/f2.txt", "out/f3.txt", "out/all.txt")}
STEPS["cached"], OUTPUTS["cached"] = STEPS["chain"], OUTPUTS["chain"]

JOURNAL = ".agents/tmp/journal/*/journal.json"
HANDOFF = ".agents/handoffs/*.md"
REF = ".git/refs/heads/main"
SCRATCH = ".git/refs/agents/landing"
COMMAND = ".agents/tmp/processes/*.json"  # a step's command (or check) running
CHAIN_COMMANDS = (0, 1, 3, 4, 5)  # commands started before each of CHAIN's steps' (double's check is one)


def landing(k: int, commands: int) -> dict[str, Moment]:
    """The moments of the k-th commit batch's landing (its first step's, when it holds several), in
    order; `commands` step commands (and checks) started before its step's command."""
    head = Moment(REF, "in place", k)
    return {
        "its command started": Moment(COMMAND, "created", commands + 1),
        "its journal's folder made": Moment(".agents/tmp/journal/*", "created", k),
        "its journal in place": Moment(JOURNAL, "in place", k),
        "its run record in place": Moment(".agents/runs/*/record.json", "in place", k),
        "its handoff being written": Moment(".agents/handoffs/.*.tmp", "created", k),
        "its handoff in place": Moment(HANDOFF, "in place", k),
        "its output in place": Moment("out/**.txt", "in place", k),
        "fast-import building its commit": Moment(f"{SCRATCH}.lock", "created", 2 * k - 1),
        "its commit built, HEAD not moved": Moment(SCRATCH, "in place", k),
        "HEAD being moved": Moment(f"{REF}.lock", "created", k),
        "HEAD moved": head,
        "the scratch ref deleted": Moment(SCRATCH, "deleted", k),
        "git's index being synced": Moment(".git/index.lock", "created", 1, after=head),
        "git's index synced": Moment(".git/index", "in place", 1, after=head),
        "its journal closed": Moment(JOURNAL, "deleted", k),
    }


@dataclass
class Template:
    root: Path
    outputs: dict[str, str] = field(default_factory=dict)  # what a run without faults makes


@pytest.fixture(scope="module")
def pipelines(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Template]:
    """A committed project for each pipeline, and what its outputs hold after a run without faults."""
    from agentfiles.commands.app import run

    made = {}
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path_factory)
        for name, files in (("chain", CHAIN), ("fan", FAN)):
            root = make_repo(tmp_path_factory.mktemp(name) / "repo")
            assert run(["-C", str(root), "init"]) == 0
            (root / ".agents" / "tasks" / "describe-project.md").unlink()
            write_files(root, files)
            git(root, "add", "-A")
            git(root, "commit", "-qm", f"the {name} pipeline")
            # The folders the runs write in are there already, as after any earlier run, and a ref under
            # refs/agents/ keeps git from removing that folder when the scratch ref goes: a file made in a
            # folder inotify does not watch yet may go unseen, and the points count on every one.
            for folder in (".agents/tmp/journal", ".agents/tmp/processes", ".agents/cache", "out/words"):
                (root / folder).mkdir(parents=True, exist_ok=True)
            git(root, "update-ref", "refs/agents/keep", "HEAD")
            model = tmp_path_factory.mktemp(f"{name}-model") / "repo"
            shutil.copytree(root, model, symlinks=True)
            assert run(["-C", str(model), "run"]) == 0
            made[name] = Template(root, {rel: (model / rel).read_text() for rel in OUTPUTS[name]})
            if name == "chain":  # CACHED: the chain's steps ran on another branch; the run cache lands them
                start = git(model, "rev-parse", "HEAD~5").strip()
                git(model, "branch", "earlier")
                git(model, "reset", "-q", "--hard", start)
                made["cached"] = Template(model, made["chain"].outputs)
    return made


@pytest.fixture
def copy_of(pipelines: dict[str, Template], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """`copy_of(name)`: a fresh copy of that pipeline's project to fault (runs in this process use this
    test's temporary folder, as the runs it starts do)."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)

    def make(name: str) -> Path:
        root = tmp_path / "repo"
        shutil.copytree(pipelines[name].root, root, symlinks=True)
        return root

    return make


def start_pipeline(root: Path, pipeline: str, watcher: Watcher) -> subprocess.Popen[bytes]:
    """`agents run` of `pipeline` on `root` as a program: CHAIN with `--jobs 1`; FAN with `--jobs 3`,
    holding git's index lock from its start until its three first steps have executed, so the first
    lands alone (its index sync waiting for the lock) and the two others together once it is free."""
    if pipeline in ("chain", "cached"):
        return start(root, "--jobs", "1")
    lock = root / ".git" / "index.lock"
    proc = start(root, "--jobs", "3")
    assert watcher.wait(Moment(".agents/run.lock"), time.monotonic() + 60, lambda: proc.poll() is None)
    deadline = time.monotonic() + 10
    while True:
        try:
            os.close(os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
            break
        except FileExistsError:  # the run's own `git status` holds it this instant
            assert time.monotonic() < deadline
            time.sleep(0.001)
    try:
        executed = Moment("agents-*/step-*", "deleted", 3)  # the third step's sandbox removed: it has executed
        assert watcher.wait(executed, time.monotonic() + 60, lambda: proc.poll() is None), watcher.seen
        # it is queued for landing a moment later: let it get there
        watcher.wait(Moment("never", "created"), time.monotonic() + 0.2, lambda: True)
    finally:
        lock.unlink()
    return proc
