"""Progressive rollout of a role change (`agents run --canary N`, `--wave M`): `agents status` names the
change on every task it reaches, canaries run first and are compared with their previous runs, a
regression halts the rest, each rollout's commits carry its id, and `agents rewind --rollout ID
--in-place` reverts them. Real git repositories, the local Messages API with scripted answers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply

TASKS = [f"t{n:02d}" for n in range(1, 11)]


def step_of(request: RecordedRequest) -> str:
    return re.search(r"# (?:Verify step|Step) `(t\d\d)`", request.body["messages"][0]["content"][-1]["text"]).group(1)  # type: ignore[union-attr]


class Script:
    """Answers for any number of steps running at once: a doer writes `out/<task>.md` then finishes; the
    verifier passes, except on `fail` (task -> how many of its verdicts fail, one per attempt)."""

    def __init__(self, version: str = "v1", fail: dict[str, int] | None = None, silent: frozenset[str] = frozenset()) -> None:
        self.version = version
        self.fail = dict(fail or {})
        self.silent = silent  # tasks whose doer's first request is refused (the step writes nothing)

    def __call__(self, request: RecordedRequest) -> Reply:
        task = step_of(request)
        if any(tool["name"] == "verdict" for tool in request.body["tools"]):
            if self.fail.get(task):
                self.fail[task] -= 1
                return Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "fail",
                                                              "evidence": f"REGRESSED-{task}: the heading is gone"}]})
            return Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "has it"}]})
        if task in self.silent:
            return Reply.error(400, "REFUSED-BY-THE-API")
        if len(request.body["messages"]) == 1:
            return Reply.tool_use("write_file", {"path": f"out/{task}.md", "content": f"# {task}\n\n{self.version}\n"})
        return Reply.tool_use("finish", {"summary": f"Wrote out/{task}.md."})


def state_of(agents, root: Path) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    return {t["id"]: t for t in agents("-C", str(root), "status", "--json").json["tasks"]}


@pytest.fixture
def ten(project: Path, api: FakeAnthropic, agents) -> Path:  # type: ignore[no-untyped-def]
    """Ten done tasks of the role `developer`, each judged by `reviewer`; then the role's prompt changed."""
    configure(project, api)
    write_files(project, {f".agents/tasks/{t}.md": task_text(
        f"Write {t}", role="developer", outputs=[f"out/{t}.md"], acceptance=["Has a heading"], verifier="reviewer",
        body=f"## Intent\n\nWrite {t}.\n", **({"retries": 1} if t == "t01" else {})) for t in TASKS})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "ten tasks")
    api.queue(*[Script()] * 30)
    assert agents("-C", str(project), "run").code == 0
    assert all(s["state"] == "done" for s in state_of(agents, project).values())
    role = project / ".agents/roles/developer.md"
    role.write_text(role.read_text() + "\nAlways end a file with a line saying who wrote it.\n")
    api.clear()
    return project


def test_status_names_the_role_change_on_every_task_it_reaches(ten: Path, agents) -> None:  # type: ignore[no-untyped-def]
    states = state_of(agents, ten)
    assert [states[t]["state"] for t in TASKS] == ["stale"] * 10
    assert all(states[t]["reasons"] == ["role changed: developer"] for t in TASKS)
    assert set(states[TASKS[0]]["definition_parts"]) == {"task", "role", "model", "config"}
    plain = agents("-C", str(ten), "status").out
    assert plain.count("role changed: developer") == 10
    dry = agents("-C", str(ten), "run", "--canary", "2", "--wave", "4", "--dry-run")
    assert dry.code == 0, dry.err
    assert "canary: t01, t02" in dry.out and "wave 1: t03, t04, t05, t06" in dry.out and "wave 2: t07, t08, t09, t10" in dry.out


def test_a_regressing_canary_halts_the_rollout_and_the_rest_stay_stale(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*[Script("v2", fail={"t02": 1})] * 12)
    result = agents("-C", str(ten), "run", "--canary", "2")
    assert result.code == 1
    assert {step_of(r) for r in api.message_requests} == {"t01", "t02"}  # two ran, no more
    rollout = re.search(r"rollout (rollout-[\w.-]+) halted", result.err).group(1)  # type: ignore[union-attr]
    assert "halted at the canary: t02 regressed: rejected" in result.err and "REGRESSED-t02" in result.err
    assert "8 steps left as they were" in result.err
    assert "REGRESSION  t02" in result.out and "pass -> fail" in result.out
    assert "-v1" in result.out and "+v2" in result.out  # the canary's outputs diff against its previous run
    states = state_of(agents, ten)
    assert states["t01"]["state"] == "done" and states["t02"]["state"] == "rejected"
    stale = [t for t in TASKS if states[t]["state"] == "stale"]
    assert stale == TASKS[2:] and all(states[t]["reasons"] == ["role changed: developer"] for t in stale)
    assert (ten / "out/t02.md").read_text() == "# t02\n\nv1\n"  # nothing of the regression landed
    listed = agents("-C", str(ten), "log", "--rollout", rollout, "--json").json["steps"]
    assert sorted(s["task"] for s in listed) == ["t01", "t02"] and {s["rollout"] for s in listed} == {rollout}
    message = git(ten, "log", "-1", "--format=%B", listed[0]["commit"])
    assert f"Agents-Rollout: {rollout}" in message


def test_without_a_regression_every_wave_runs_and_rewind_reverts_the_rollout(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*[Script("v2")] * 30)
    result = agents("-C", str(ten), "run", "--canary", "2", "--wave", "4", "--json")
    assert result.code == 0, result.err
    rollout = result.json["rollout"]
    assert rollout["phases"] == [TASKS[:2], TASKS[2:6], TASKS[6:]] and rollout["phases_run"] == 3
    assert rollout["halted"] is None and [c["regression"] for c in rollout["compared"]] == [None] * 10
    first = rollout["compared"][0]
    assert first["verdicts"] == [{"criterion": "Has a heading", "before": "pass", "after": "pass"}]
    assert first["changed"] == ["out/t01.md"] and "+v2" in first["diff"]
    assert all(s["state"] == "done" for s in state_of(agents, ten).values())
    assert all((ten / f"out/{t}.md").read_text().endswith("v2\n") for t in TASKS)
    listed = agents("-C", str(ten), "log", "--rollout", rollout["id"])
    assert listed.code == 0 and len(listed.out.strip().splitlines()) == 10
    rewound = agents("-C", str(ten), "rewind", "--rollout", rollout["id"], "--in-place")
    assert rewound.code == 0, rewound.err
    assert "10 steps reverted" in rewound.out
    assert all((ten / f"out/{t}.md").read_text().endswith("v1\n") for t in TASKS)
    states = state_of(agents, ten)
    assert all(states[t]["state"] == "stale" and states[t]["reasons"] == ["role changed: developer"] for t in TASKS)
    assert git(ten, "status", "--porcelain") == ""
    again = agents("-C", str(ten), "log", "--rollout", rollout["id"], "--json").json["steps"]
    assert all(s["reverted"] for s in again)


def test_a_retry_that_hides_a_failed_criterion_is_a_regression(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*[Script("v2", fail={"t01": 1})] * 10)
    result = agents("-C", str(ten), "run", "--canary-pick", "t03,t01")
    assert result.code == 1
    assert {step_of(r) for r in api.message_requests} == {"t01", "t03"}
    assert "t01 regressed: `Has a heading` passed in run" in result.err
    assert "failed on attempt 1 of this run (a retry passed it)" in result.err
    states = state_of(agents, ten)
    assert states["t01"]["state"] == "done" and states["t03"]["state"] == "done"  # it landed; the rest waits
    assert [t for t in TASKS if states[t]["state"] == "stale"] == ["t02", *TASKS[3:]]


def test_canary_options_are_checked_before_anything_runs(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    both = agents("-C", str(ten), "run", "--canary", "2", "--canary-pick", "t01")
    assert both.code == 2 and "not both" in both.err
    wrong = agents("-C", str(ten), "run", "--canary-pick", "nope")
    assert wrong.code == 2 and "nope" in wrong.err
    for empty in ("", ",,", " , "):  # not a rollout of every step at once
        for extra in ([], ["--dry-run"]):
            given = agents("-C", str(ten), "run", "--canary-pick", empty, *extra)
            assert given.code == 2 and "--canary-pick names no task" in given.err and "hint: " in given.err
    git(ten, "checkout", "--", ".agents/roles/developer.md")
    nothing = agents("-C", str(ten), "run", "--canary", "2")
    assert nothing.code == 0 and "Nothing to run" in nothing.out
    (ten / ".agents/tasks/t01.md").write_text(task_text("Changed", role="developer", outputs=["out/t01.md"]))
    refused = agents("-C", str(ten), "run", "--canary", "1")
    assert refused.code == 2 and "nothing to roll out" in refused.err
    assert api.message_requests == []


def test_a_task_waiting_for_a_rolled_out_one_is_rolled_out_after_it(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {
        ".agents/tasks/t11.md": task_text("Write t11", role="developer", outputs=["out/t11.md"]),
        ".agents/tasks/t12.md": task_text("Write t12", role="developer", needs=["t11"], inputs=["out/t11.md"],
                                          outputs=["out/t12.md"]),
        ".agents/tasks/t13.md": task_text("Write t13", role="planner", needs=["t11"], inputs=["out/t11.md"],
                                          outputs=["out/t13.md"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a chain")
    api.queue(*[Script()] * 6)
    assert agents("-C", str(project), "run").code == 0
    role = project / ".agents/roles/developer.md"
    role.write_text(role.read_text() + "\nOne more rule.\n")
    states = state_of(agents, project)
    assert states["t12"]["reasons"] == ["role changed: developer", "upstream not done: t11 (stale)"]
    assert states["t13"]["reasons"] == ["upstream not done: t11 (stale)"]
    dry = agents("-C", str(project), "run", "--canary", "1", "--dry-run")
    assert "rollout: 2 steps stale only because" in dry.out
    assert "canary: t11" in dry.out and "wave 1: t12, t13" in dry.out  # t13 is not the rollout's, but waits for it
    api.queue(*[Script("v2")] * 6)
    result = agents("-C", str(project), "run", "--canary", "1", "--json")
    assert result.code == 0, result.err
    assert [c["task"] for c in result.json["rollout"]["compared"]] == ["t11", "t12"]
    assert all(s["state"] == "done" for s in state_of(agents, project).values())


def test_a_rerun_rollout_runs_its_canary_again_rather_than_take_it_from_the_run_cache(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*[Script("v2", fail={"t01": 1})] * 10)
    first = agents("-C", str(ten), "run", "--canary-pick", "t01")
    assert first.code == 1 and "(a retry passed it)" in first.err
    rollout = re.search(r"rollout (rollout-[\w.-]+) halted", first.err).group(1)  # type: ignore[union-attr]
    assert agents("-C", str(ten), "rewind", "--rollout", rollout, "--in-place").code == 0
    # The same change rolled out again: the run cache holds t01's landed run with this definition and these
    # inputs, the very run the first rollout flagged. A canary is run to be watched, so it runs again.
    api.clear()
    api.queue(*[Script("v2", fail={"t01": 1})] * 10)
    again = agents("-C", str(ten), "run", "--canary", "1", "--wave", "1")
    assert again.code == 1, again.out
    assert {step_of(r) for r in api.message_requests} == {"t01"}
    assert "t01 regressed: `Has a heading` passed in run" in again.err and "from the run cache" not in again.err
    assert [t for t, s in state_of(agents, ten).items() if s["state"] == "stale"] == TASKS[1:]


def test_a_halt_in_a_wave_says_which_and_a_step_that_wrote_nothing_changed_nothing(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*[Script("v2", silent=frozenset({"t09"}))] * 30)
    result = agents("-C", str(ten), "run", "--canary", "8", "--wave", "1")
    assert result.code == 1
    assert re.search(r"rollout rollout-[\w.-]+ halted at wave 1 of 2: t09 regressed: failed: api: .*REFUSED-BY-THE-API", result.err)
    assert "hint: 1 step left as it was (t10);" in result.err
    line = next(line for line in result.out.splitlines() if "REGRESSION  t09" in line)
    assert line.endswith("; wrote no output"), line
    assert state_of(agents, ten)["t10"]["state"] == "stale"
    assert (ten / "out/t09.md").read_text() == "# t09\n\nv1\n"


def test_steps_a_failure_kept_from_starting_stay_stale_and_are_no_regression(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    # One at a time, t02 (no retries) runs first in the wave and is rejected: no other step of the wave starts.
    api.queue(*[Script("v2", fail={"t02": 1})] * 30)
    result = agents("-C", str(ten), "run", "--canary", "1", "--wave", "9", "--jobs", "1")
    assert result.code == 1
    assert {step_of(r) for r in api.message_requests} == {"t01", "t02"}
    assert re.search(r"halted at wave 1 of 1: t02 regressed: rejected", result.err), result.err
    assert "hint: 8 steps left as they were (t03, t04, t05, t06, t07, t08, t09, t10);" in result.err
    regressed = re.findall(r"REGRESSION  (t\d\d)", result.out)
    assert regressed == ["t02"], result.out  # a step that never started did not regress
    assert "a step it needs failed" not in result.out
    states = state_of(agents, ten)
    assert [t for t in TASKS if states[t]["state"] == "stale"] == TASKS[2:]


def test_a_failed_step_that_is_not_the_rollouts_is_named_in_the_halt(ten: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    # t02 failed before (the API refused it): no longer stale for its role alone, it runs in the last wave.
    api.queue(*[Script("v2", silent=frozenset({"t02"}))] * 30)
    assert agents("-C", str(ten), "run", "t02").code == 1
    result = agents("-C", str(ten), "run", "--canary", "1", "--wave", "9", "--jobs", "1", "--json")
    assert result.code == 1
    rollout = result.json["rollout"]
    assert rollout["phases"] == [["t01"], TASKS[1:]]
    assert rollout["halted"].startswith("wave 1 of 1: step t02 failed: api: "), rollout["halted"]
    assert "REFUSED-BY-THE-API" in rollout["halted"]
    assert [c["task"] for c in rollout["compared"]] == ["t01"]
    assert rollout["skipped"] == TASKS[2:] and rollout["not_run"] == []
    text = agents("-C", str(ten), "status", "--json").json["tasks"]
    assert [t["id"] for t in text if t["state"] == "stale"] == TASKS[2:]
