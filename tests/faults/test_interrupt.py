"""`agents run` interrupted (SIGINT, as Ctrl-C sends; SIGTERM, as `kill` or a CI runner's timeout sends) at
moments of its own making (pipelines.py): before any step starts, while it commits the definitions it
uses, while a step's command or check runs, while a step lands, inside a batch of commits, and while a
model step is answered. Each ends with exit 130, `error:` and `hint:`, no traceback; a step that was
landing lands whole and the others leave nothing behind; then a plain `agents run` completes with every
step committed exactly once. (`AGENTS_TEST_FAULTS=all`: SIGTERM at every moment SIGINT is sent at.)"""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import pytest
from conftest import configure, git, task_text, write_files
from consistency import assert_clean_failure, assert_consistent, step_commit_counts, step_commit_problems
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply
from killing import changed_paths, edit_definitions, index_behind, kill, kill_when, start, unjournaled
from pipelines import (CHAIN_COMMANDS, COMMAND, JOURNAL, OUTPUTS, REF, STEPS, Template, copy_of, landing,  # noqa: F401
                       pipelines, start_pipeline)
from watcher import Moment, Watcher, available

pytestmark = pytest.mark.skipif(not available(), reason="the moments are seen through Linux's inotify")

SIGNALS = {"SIGINT": signal.SIGINT, "SIGTERM": signal.SIGTERM}
# (what, moment, pipeline, definitions uncommitted, whether the run is past its start: steps may be running)
POINTS = [
    ("when the run took its lock", Moment(".agents/run.lock"), "chain", False),
    ("while it commits the definitions it uses", Moment(f"{REF}.lock", "created", 1), "chain", True),
    ("when the definitions' commit landed", Moment(REF, "in place", 1), "chain", True),
    ("while seed's command runs", landing(1, 0)["its command started"], "chain", False),
    ("while double's check runs", Moment(COMMAND, "created", 3), "chain", False),
    ("when double's journal is in place", landing(2, CHAIN_COMMANDS[1])["its journal in place"], "chain", False),
    ("when words@notes--a.md's commit landed", landing(3, CHAIN_COMMANDS[2])["HEAD moved"], "chain", False),
    ("when a batch of two landed", Moment(REF, "in place", 2), "fan", False),
    ("when the batch's first journal closed", Moment(JOURNAL, "deleted", 2), "fan", False),
]

BEFORE_STEPS = [point[0] for point in POINTS[:3]]

EXHAUSTIVE = os.environ.get("AGENTS_TEST_FAULTS") == "all"
# SIGTERM is handled as SIGINT once steps run: by default it is sent before they start and at two moments after.
CASES = [(*point, sig) for point in POINTS for sig in SIGNALS
         if sig == "SIGINT" or EXHAUSTIVE or point[0] in (POINTS[0][0], POINTS[1][0], POINTS[2][0], POINTS[3][0],
                                                          POINTS[7][0])]


@pytest.mark.parametrize("what,moment,pipeline,uncommitted,sig", CASES, ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_interrupted(what: str, moment: Moment, pipeline: str, uncommitted: bool, sig: str,  # type: ignore[no-untyped-def]
                     pipelines: dict[str, Template], copy_of, agents) -> None:
    root = copy_of(pipeline)
    if uncommitted:
        edit_definitions(root)
    head = git(root, "rev-parse", "HEAD").strip()
    users = changed_paths(root)
    watcher = Watcher([root, Path(os.environ["TMPDIR"])])
    try:
        proc = start_pipeline(root, pipeline, watcher)
        said = kill_when(proc, root, watcher, moment, sig=SIGNALS[sig])
    finally:
        watcher.close()
    assert_clean_failure(proc.returncode, said, 130, f"`agents run` interrupted {what}")
    # What it says is what happened: no step is said to be stopped when none had started.
    if what in BEFORE_STEPS:
        assert "error: interrupted before any step started: nothing ran" in said, said
        assert "still running" not in said and "stopped" not in said, said
    elif what == "while seed's command runs":
        assert "error: interrupted: seed was stopped; nothing of it landed" in said, said
    # Whatever landed, landed whole, once; nothing else is left half-done.
    assert unjournaled(root, users) == []
    assert index_behind(root, users) == []
    assert step_commit_problems(root) == []
    assert all(n == 1 and key.endswith("|done") for key, n in step_commit_counts(root, head).items())
    result = agents("-C", str(root), "run")
    assert result.code == 0, result.out + result.err
    assert_consistent(root)
    assert step_commit_counts(root, head) == {f"{step}|done": 1 for step in STEPS[pipeline]}
    assert {rel: (root / rel).read_text() for rel in OUTPUTS[pipeline]} == pipelines[pipeline].outputs


@pytest.mark.parametrize("sig", SIGNALS)
def test_interrupted_while_a_model_answers(sig: str, project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    """The run stops the step within about `api.stall_s` and lands nothing of it."""
    configure(project, api)
    write_files(project, {".agents/tasks/hello.md": task_text(
        "Write hello", role="developer", outputs=["src/hello.py"], body="## Intent\n\nA greeting program.\n")})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    head = git(project, "rev-parse", "HEAD").strip()
    answers = [Reply.tool_use("write_file", {"path": "src/hello.py", "content": "print('hello')\n"}),
               Reply.tool_use("finish", {"summary": "Wrote it."})]
    asked = threading.Event()

    def held(request: RecordedRequest) -> Reply:
        asked.set()
        return Reply.stall(30.0, after_events=2, reply=answers[1])

    api.queue(answers[0], held)
    proc = start(project, "--jobs", "1")
    try:
        assert asked.wait(60), "the run never sent its second request"
    finally:
        said = kill(proc, project, SIGNALS[sig])
    assert_clean_failure(proc.returncode, said, 130, "`agents run` interrupted")
    assert git(project, "rev-parse", "HEAD").strip() == head
    assert_consistent(project)
    api.clear()
    api.queue(*answers)
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.out + result.err
    assert step_commit_counts(project, head) == {"hello|done": 1}
    assert_consistent(project)
