"""`agents run` killed with SIGKILL at many points of a pipeline's life, then a plain `agents run`.

Each point is a moment the run itself makes (a file of its journal, a handoff, an output, git's scratch
ref, HEAD's ref or git's index lock appearing or moving into place, a step's command starting, a line of
its progress), seen through Linux's inotify, so it does not depend on the machine's speed; some points
add a few milliseconds after the moment. The pipelines (pipelines.py) make every moment come a known
number of times: CHAIN lands one step per commit batch, and gives the moments of each step's landing,
step by step; in FAN two steps land in one batch (one fast-import, one ref update for both), and its
points fall inside that batch. Some points kill the next run too, while it finishes or undoes what the
first left; some kill a run that first commits the definitions it uses.

After each kill: nothing landed is lost, whatever differs from HEAD is named by a journal the next run
reads, every step commit holds its outputs, handoff and record, and `agents status` reads the
repository. Then the next `agents run` exits 0 and leaves every step committed exactly once (done),
a clean `git status`, no temporary file, journal, sandbox or stray worktree, `agents status` all done,
and every output as a run without faults makes it.

By default a deterministic sample of the points runs (each kind of moment at two of the chain's five
steps, and every other point); `AGENTS_TEST_FAULTS=all` runs every point."""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import git
from consistency import assert_consistent, step_commit_counts, step_commit_problems
from killing import changed_paths, edit_definitions, index_behind, kill_when, unjournaled
from pipelines import (CHAIN_COMMANDS, COMMAND, HANDOFF, JOURNAL, OUTPUTS, REF, SCRATCH, STEPS, Template,
                       copy_of, landing, pipelines, start_pipeline)  # noqa: F401 - copy_of and pipelines: fixtures
from watcher import Moment, Watcher, available

pytestmark = pytest.mark.skipif(not available(), reason="the kill points are seen through Linux's inotify")

EXHAUSTIVE = os.environ.get("AGENTS_TEST_FAULTS") == "all"

@dataclass(frozen=True)
class Point:
    """Where to kill: a moment of the run (or after how many progress lines), then `delay_ms` more."""

    what: str
    moment: Moment | int
    pipeline: str = "chain"
    delay_ms: int = 0
    uncommitted: bool = False  # the task files are edited and not committed: the run commits them first
    then: Moment | None = None  # the next run is killed too, at this moment of its own
    sampled: bool = True  # in the default sample

    def __str__(self) -> str:
        return (("definitions uncommitted, " if self.uncommitted else "") + self.what
                + (f" +{self.delay_ms} ms" if self.delay_ms else "")
                + (f", then the next run when {self.then}" if self.then else ""))


def _every_other(points: list[Point], first: bool = True) -> list[Point]:
    """The points, every other one left out of the default sample."""
    return [replace(p, sampled=(n % 2 == 0) == first) for n, p in enumerate(points)]


def _points() -> list[Point]:
    points = _every_other([
        Point("when the run took its lock", Moment(".agents/run.lock")),
        Point("when the run cache is written", Moment(".agents/cache/run-cache.json", "in place")),
        Point("when git status refreshed the index", Moment(".git/index", "in place")),
        Point("when the check's command started", Moment(COMMAND, "created", 3)),
        Point("when a check's checkout is made", Moment(".git/agents-checks", "created")),
        Point("when the status cache is written", Moment(".agents/cache/status.json", "in place"))])
    for k, step in enumerate(STEPS["chain"], 1):
        for index, (what, moment) in enumerate(landing(k, CHAIN_COMMANDS[k - 1]).items()):
            sampled = (index + k) % 5 in (0, 2)  # each kind at two of the five steps, each step at six kinds
            points.append(Point(f"{step}: {what}", moment, sampled=sampled))
    points += _every_other([Point(f"{STEPS['chain'][k - 1]}: {what}", moment, delay_ms=delay)
                            for k, what, moment, delay in (
        (1, "its journal in place", Moment(JOURNAL, "in place", 1), 2),
        (3, "its commit built, HEAD not moved", Moment(SCRATCH, "in place", 3), 1),
        (2, "HEAD moved", Moment(REF, "in place", 2), 1),
        (5, "HEAD moved", Moment(REF, "in place", 5), 5),
        (4, "its handoff in place", Moment(HANDOFF, "in place", 4), 3))], first=False)
    points += _every_other([Point(f"after {n} progress lines", n) for n in (1, 2, 3, 5, 6, 8)], first=False)
    # FAN: the second batch lands f2 and f3 together (the test holds git's index lock until they executed).
    batch = landing(2, 3)
    points += _every_other([Point(f"a batch of two: {what} (the first's)", batch[what], "fan") for what in (
        "its journal in place", "its handoff in place", "its output in place", "its commit built, HEAD not moved",
        "HEAD being moved", "HEAD moved", "the scratch ref deleted", "git's index being synced",
        "git's index synced", "its journal closed")] + [
        Point("a batch of two: the second's journal in place", Moment(JOURNAL, "in place", 3), "fan"),
        Point("a batch of two: the second's handoff in place", Moment(HANDOFF, "in place", 3), "fan"),
        Point("a batch of two: the second's output in place", Moment("out/**.txt", "in place", 3), "fan"),
        Point("a batch of two: the second's journal closed", Moment(JOURNAL, "deleted", 3), "fan"),
        Point("a batch of two: fast-import building its commits", Moment(f"{SCRATCH}.lock", "created", 3), "fan"),
        Point("a batch of two: its commits built", Moment(SCRATCH, "in place", 2), "fan", delay_ms=2),
        Point("a batch of two: HEAD moved", Moment(REF, "in place", 2), "fan", delay_ms=1)], first=False)
    # The steps come from the run cache: their outputs are taken from git, and land as a run's would.
    points += _every_other([Point(f"from the run cache, {STEPS['chain'][k - 1]}: {what}", landing(k, 0)[what], "cached")
                            for k, what in ((1, "HEAD moved"), (2, "its handoff in place"), (3, "its journal in place"),
                                            (4, "its commit built, HEAD not moved"), (5, "git's index synced"))])
    # The run first commits the definitions it uses (one commit of their own, then the chain's batches).
    definitions = Moment(REF, "in place", 1)
    points += _every_other([Point(f"the definitions' commit: {what}", moment, uncommitted=True) for what, moment in (
        ("the index taking them", Moment(".git/index", "in place", 1, after=Moment(".agents/run.lock"))),
        ("HEAD being moved", Moment(f"{REF}.lock", "created", 1)),
        ("HEAD moved", definitions),
        ("git's index synced", Moment(".git/index", "in place", 1, after=definitions)),
        ("seed's journal in place", Moment(JOURNAL, "in place", 1)),
        ("seed's commit: HEAD moved", Moment(REF, "in place", 2)),
    )], first=False)
    points = [replace(p, sampled=True) if "definitions' commit: HEAD moved" in str(p) else p for p in points]
    # The next run is killed too, while it finishes or undoes what the first left.
    points += _every_other([Point(f"{STEPS['chain'][k - 1]}: {what}", moment, then=then) for k, what, moment, then in (
        (2, "its handoff in place", Moment(HANDOFF, "in place", 2), Moment(JOURNAL, "deleted", 1)),
        (2, "HEAD moved", Moment(REF, "in place", 2), Moment(".git/index", "in place", 1)),
        (3, "its journal in place", Moment(JOURNAL, "in place", 3), Moment(JOURNAL, "in place", 1)),
        (4, "HEAD being moved", Moment(f"{REF}.lock", "created", 4), Moment(REF, "in place", 1)),
        (1, "its commit built, HEAD not moved", Moment(SCRATCH, "in place", 1), Moment(SCRATCH, "in place", 1)),
    )])
    return points


POINTS = _points()
CHOSEN = POINTS if EXHAUSTIVE else [p for p in POINTS if p.sampled]


def _run_killed(root: Path, pipeline: str, moment: Moment | int, delay_ms: int = 0) -> str:
    """Start `agents run` on `root` and SIGKILL it at `moment`; returns what it printed."""
    watcher = Watcher([root, Path(os.environ["TMPDIR"])])
    try:
        return kill_when(start_pipeline(root, pipeline, watcher), root, watcher, moment, delay_ms)
    finally:
        watcher.close()


@pytest.mark.parametrize("point", CHOSEN, ids=[str(p) for p in CHOSEN])
def test_sigkill(point: Point, pipelines: dict[str, Template], copy_of, agents) -> None:  # type: ignore[no-untyped-def]
    template = pipelines[point.pipeline]
    root = copy_of(point.pipeline)
    if point.uncommitted:
        edit_definitions(root)
    head = git(root, "rev-parse", "HEAD").strip()
    users = changed_paths(root)
    _run_killed(root, point.pipeline, point.moment, point.delay_ms)
    if point.then is not None:
        _run_killed(root, "chain", point.then)
    # What the kills left: nothing landed lost, every difference from HEAD journaled, every step commit whole,
    # no step committed twice, and a repository the read verbs can read.
    assert subprocess.run(["git", "-C", str(root), "merge-base", "--is-ancestor", head, "HEAD"]).returncode == 0
    assert unjournaled(root, users) == []
    assert index_behind(root, users) == []
    assert step_commit_problems(root) == []
    assert all(n == 1 for n in step_commit_counts(root, head).values()), step_commit_counts(root, head)
    status = agents("-C", str(root), "status")
    assert status.code == 0 and "Traceback" not in status.err, status.out + status.err
    # The next run completes the pipeline from there.
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.out + result.err
    assert "Traceback" not in result.err and "this is a bug" not in result.err
    assert_consistent(root)
    assert step_commit_counts(root, head) == Counter(f"{step}|done" for step in STEPS[point.pipeline])
    assert list(Path(os.environ["TMPDIR"]).glob("agents-*/step-*")) == []  # no sandbox of the killed run left
    states = {t["id"]: t["state"] for t in agents("-C", str(root), "status", "--json").json["tasks"]}
    assert set(STEPS[point.pipeline]) <= set(states) and set(states.values()) == {"done"}, states
    assert {rel: (root / rel).read_text() for rel in OUTPUTS[point.pipeline]} == template.outputs


def test_the_sample_is_big_enough() -> None:
    """The default sample holds 50 or more distinct points, each kind of moment of the chain's landings
    among them, and the points of a landing are each distinct."""
    assert len(CHOSEN) >= 50
    assert len({str(p) for p in POINTS}) == len(POINTS)
    kinds = {p.what.split(": ", 1)[1] for p in CHOSEN if p.pipeline == "chain" and p.what.split(": ")[0] in STEPS["chain"]}
    assert set(landing(1, 0)) <= kinds


def test_a_batch_lands_several_steps(copy_of) -> None:  # type: ignore[no-untyped-def]
    """FAN's points are inside a batch: with the index lock held as the test holds it, two of its steps land
    with one move of HEAD."""
    root = copy_of("fan")
    watcher = Watcher([root, Path(os.environ["TMPDIR"])])
    try:
        proc = start_pipeline(root, "fan", watcher)
        out, _ = proc.communicate(timeout=120)
    finally:
        watcher.close()
    assert proc.returncode == 0, out
    moves = git(root, "reflog", "--format=%H", "main").split()  # newest first
    steps = [int(git(root, "rev-list", "--count", f"{older}..{newer}")) for newer, older in zip(moves, moves[1:])]
    assert sorted(steps) == [1, 1, 2], steps  # one of f1, f2, f3 alone, the two others together, then join


def test_the_cached_pipeline_lands_from_the_run_cache(copy_of, agents) -> None:  # type: ignore[no-untyped-def]
    """CACHED's points are in landings of the run cache: every step of its run is taken from it."""
    root = copy_of("cached")
    result = agents("-C", str(root), "run", "--jobs", "1", "--json")
    assert result.code == 0, result.out + result.err
    outcomes = result.json["outcomes"]
    assert sorted(o["task"] for o in outcomes) == sorted(STEPS["cached"])  # items of a foreach land in any order
    assert all(o.get("cached_from") for o in outcomes), outcomes
