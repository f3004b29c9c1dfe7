"""Consistency sampling (`samples: K`): the doer runs K times at once in clean contexts of their own; the
majority output goes on, no majority is `uncertain` with every candidate in the run record; and
`agents replay --live --samples K` measures drift. Over real HTTP against the local Messages API."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, RecordedRequest, Reply


def doers(contents: list[str], usage: dict[str, int] | None = None):  # type: ignore[no-untyped-def]
    """Answers for doers running at once: each conversation's first turn writes the next of `contents`,
    its second finishes (which sample gets which content depends on the order the requests arrive)."""
    lock = threading.Lock()
    left = list(contents)

    def answer(request: RecordedRequest) -> Reply:
        if len(request.body["messages"]) > 1:
            return Reply.tool_use("finish", {"summary": "Wrote the summary."}, usage=usage)
        with lock:
            content = left.pop(0)
        return Reply.tool_use("write_file", {"path": "out/summary.md", "content": content}, usage=usage)

    return [answer] * (2 * len(contents))


def commit_all(root: Path) -> None:
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tasks")


def handoff(root: Path, task: str = "summary") -> dict:  # type: ignore[type-arg]
    from agentfiles.storage.documents import parse_document

    return parse_document((root / f".agents/handoffs/{task}.md").read_text()).meta


def record_of(root: Path, run: str) -> tuple[Path, dict]:  # type: ignore[type-arg]
    folder = root / ".agents/runs" / run
    return folder, json.loads((folder / "record.json").read_text())


@pytest.fixture
def sampled(project: Path, api: FakeAnthropic) -> Path:
    configure(project, api)
    write_files(project, {
        "notes.md": "The meeting moved to Tuesday.\n",
        ".agents/tasks/summary.md": task_text("Summarise the notes", role="developer", inputs=["notes.md"],
                                              outputs=["out/summary.md"], samples=3),
    })
    commit_all(project)
    return project


def test_two_equal_samples_of_three_land_and_the_record_keeps_all_three(sampled: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*doers(["Tuesday.\n", "Tuesday.\n", "Wednesday?\n"], usage={"input_tokens": 10, "output_tokens": 2}))
    result = agents("-C", str(sampled), "run")
    assert result.code == 0, result.err
    assert (sampled / "out/summary.md").read_text() == "Tuesday.\n"
    # Three doers, each its own clean context: the same first request, none seeing another's work.
    firsts = [r.body for r in api.message_requests if len(r.body["messages"]) == 1]
    assert len(firsts) == 3 and firsts[0] == firsts[1] == firsts[2]
    meta = handoff(sampled)
    assert meta["status"] == "done"
    assert meta["usage"]["input_tokens"] == 60  # six turns, the budget's usage counted for every sample
    folder, record = record_of(sampled, meta["run"])
    samples = record["samples"]
    assert len(samples) == 3 and [s["sample"] for s in samples] == [1, 2, 3]
    chosen = [s for s in samples if s["chosen"]]
    assert len(chosen) == 1 and (folder / "requests/001.json").is_file()  # the winner's conversation, for replay
    kept = {(folder / f"samples/sample-{s['sample']}/proposed/out/summary.md").read_text() for s in samples}
    assert kept == {"Tuesday.\n", "Wednesday?\n"}
    assert sorted(s["group"] for s in samples) == [1, 1, 2] or sorted(s["group"] for s in samples) == [1, 2, 2]
    for other in (s for s in samples if not s["chosen"]):
        assert (folder / f"samples/sample-{other['sample']}/requests/001.json").is_file()
    assert "2 of 3 samples agree" in (sampled / ".agents/handoffs/summary.md").read_text()


def test_three_different_samples_are_uncertain_and_a_person_picks_one(sampled: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    api.queue(*doers(["Tuesday.\n", "Wednesday.\n", "Friday.\n"]))
    before = git(sampled, "rev-parse", "HEAD").strip()
    result = agents("-C", str(sampled), "run")
    assert result.code == 1
    assert "step summary uncertain" in result.err and "no majority among 3 samples" in result.err
    assert not (sampled / "out/summary.md").exists()
    assert git(sampled, "rev-list", "--count", f"{before}..HEAD").strip() == "1"
    meta = handoff(sampled)
    assert meta["status"] == "uncertain" and meta["outputs"] == {}
    folder, record = record_of(sampled, meta["run"])
    texts = {s["sample"]: (folder / f"samples/sample-{s['sample']}/proposed/out/summary.md").read_text()
             for s in record["samples"]}
    assert sorted(texts.values()) == ["Friday.\n", "Tuesday.\n", "Wednesday.\n"]
    assert [s["group"] for s in record["samples"]] == [1, 2, 3]
    review = agents("-C", str(sampled), "review")
    assert "samples: 3, in 3 group(s)" in review.out and "+Friday." in review.out
    assert "agents approve summary --sample N" in review.out
    plain = agents("-C", str(sampled), "approve", "summary")
    assert plain.code == 2 and "say which one to land" in plain.err and "--sample N" in plain.err
    pick = next(n for n, text in texts.items() if text == "Wednesday.\n")
    approved = agents("-C", str(sampled), "approve", "summary", "--sample", str(pick))
    assert approved.code == 0, approved.err
    assert (sampled / "out/summary.md").read_text() == "Wednesday.\n"
    meta = handoff(sampled)
    assert meta["status"] == "done" and meta["review"]["reason"] == f"chose sample {pick}"
    row = next(t for t in agents("-C", str(sampled), "status", "--json").json["tasks"] if t["id"] == "summary")
    assert row["state"] == "done"
    # Rewound, it is served from the run cache as the person chose it: no doer runs again.
    approval = git(sampled, "rev-parse", "HEAD").strip()
    assert agents("-C", str(sampled), "rewind", "summary").code == 0  # on a branch: the approval is on main
    assert not (sampled / "out/summary.md").exists()
    sent = len(api.message_requests)
    again = agents("-C", str(sampled), "run")
    assert again.code == 0, again.err
    assert len(api.message_requests) == sent and (sampled / "out/summary.md").read_text() == "Wednesday.\n"
    assert f"from the run cache, approved by Test Author <author@example.invalid> in {approval[:10]}" in again.err


@pytest.fixture
def judged(project: Path, api: FakeAnthropic) -> Path:
    """Three samples of prose, compared by the verifier judging which mean the same."""
    configure(project, api)
    write_files(project, {
        "notes.md": "The meeting moved to Tuesday.\n",
        ".agents/tasks/summary.md": task_text("Summarise the notes", role="developer", inputs=["notes.md"],
                                              outputs=["out/summary.md"], samples=3, compare="verifier",
                                              acceptance=["Names the new day"], verifier="reviewer"),
    })
    commit_all(project)
    return project


def test_a_verifier_may_judge_which_prose_samples_mean_the_same(judged: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    project = judged

    def judge(request: RecordedRequest) -> Reply:
        brief = request.body["messages"][0]["content"][0]["text"]
        candidates = {int(part.split("\n", 1)[0]): part for part in brief.split("### Candidate ")[1:]}
        assert sorted(candidates) == [1, 2, 3]  # the three different outputs, each in full
        friday = [n for n, text in candidates.items() if "Friday" in text]
        same = [n for n in candidates if n not in friday]
        return Reply.tool_use("equivalence", {"groups": [same, friday], "reason": "the same day"})

    api.queue(*doers(["It is on Tuesday.\n", "Tuesday it is.\n", "Friday.\n"]), judge,
              Reply.tool_use("verdict", {"checks": [{"criterion": "1", "verdict": "pass", "evidence": "Tuesday"}]}))
    result = agents("-C", str(project), "run")
    assert result.code == 0, result.err
    assert "Tuesday" in (project / "out/summary.md").read_text()
    _, record = record_of(project, handoff(project)["run"])
    assert record["equivalence"]["groups"] and record["equivalence"]["role"] == "reviewer"
    assert sum(1 for s in record["samples"] if s["group"] == next(s["group"] for s in record["samples"] if s["chosen"])) == 2


def test_samples_do_not_apply_to_a_discussion(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/talk.md": task_text(
        "Talk", role="developer", mode="discussion", participants=["planner", "reviewer"], outputs=["a.md"], samples=3)})
    result = agents("-C", str(project), "validate")
    assert result.code == 2 and "`samples` does not apply to `mode: discussion`" in result.err


def test_replay_live_samples_measures_drift(sampled: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    (sampled / ".agents/tasks/summary.md").write_text(task_text(
        "Summarise the notes", role="developer", inputs=["notes.md"], outputs=["out/summary.md"]))
    commit_all(sampled)
    api.queue(*doers(["Tuesday.\n"]))
    assert agents("-C", str(sampled), "run").code == 0
    api.queue(*doers(["Tuesday.\n", "Tuesday.\n", "Tuesday.\n", "Thursday.\n"]))
    result = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "4")
    assert result.code == 1
    assert "3 of 4 fresh answers match the recorded outputs (75%)" in result.out
    assert "-Tuesday." in result.out and "+Thursday." in result.out
    api.queue(*doers(["Tuesday.\n", "Tuesday.\n"]))
    data = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "2", "--json")
    assert data.code == 0 and data.json["matching"] == 2 and data.json["share"] == 1.0
    without = agents("-C", str(sampled), "replay", "summary", "--samples", "2")
    assert without.code == 2 and "needs --live" in without.err
    # The samples are listed in their order, whichever of them match: the first (which runs before the
    # others) drifts here, the second matches.
    api.queue(*doers(["Thursday.\n", "Tuesday.\n", "Tuesday.\n"]))
    listed = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "3")
    named = [line for line in listed.out.splitlines() if line.startswith("sample")]
    assert named == ["sample 1: differ from the recorded outputs", "samples 2, 3: match the recorded outputs"], listed.out
    api.queue(*doers(["Thursday.\n", "Tuesday.\n"]))
    groups = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "2", "--json").json["groups"]
    assert [(g["samples"], g["matches"]) for g in groups] == [([1], False), ([2], True)]


def test_replay_of_a_sampled_run_replays_the_sample_a_person_chose(sampled: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    import shutil

    api.queue(*doers(["Tuesday.\n", "Wednesday.\n", "Friday.\n"]))
    assert agents("-C", str(sampled), "run").code == 1
    # No sample was chosen: there is no one conversation to replay, and saying so is not a 0% drift.
    for args in ([], ["--live", "--samples", "3"]):
        refused = agents("-C", str(sampled), "replay", "summary", *args)
        assert refused.code == 2, refused.out + refused.err
        assert "its 3 samples disagree and none was chosen" in refused.err and "--sample N" in refused.err
        assert "fresh answers match" not in refused.out
    folder, record = record_of(sampled, handoff(sampled)["run"])
    pick = next(s["sample"] for s in record["samples"]
                if (folder / f"samples/sample-{s['sample']}/proposed/out/summary.md").read_text() == "Wednesday.\n")
    assert agents("-C", str(sampled), "approve", "summary", "--sample", str(pick)).code == 0
    replayed = agents("-C", str(sampled), "replay", "summary")
    assert replayed.code == 0, replayed.out + replayed.err
    assert "same  out/summary.md" in replayed.out and "outputs identical" in replayed.out
    requests = len(api.message_requests)
    api.queue(*doers(["Wednesday.\n", "Tuesday.\n"]))
    drifted = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "2")
    assert drifted.code == 1 and "1 of 2 fresh answers match the recorded outputs (50%)" in drifted.out
    # The drifting answer is diffed against the sample the approval landed, not against nothing.
    assert "-Wednesday." in drifted.out and "+Tuesday." in drifted.out, drifted.out
    fresh = [r.body for r in api.message_requests[requests:] if len(r.body["messages"]) == 1]
    from agentfiles.core.paths import Layout
    from agentfiles.storage.inspect import recorded_turns

    chosen = recorded_turns(Layout(sampled), folder / f"samples/sample-{pick}")[0]  # as it was sent
    assert len(fresh) == 2 and all(body == chosen for body in fresh)
    # A record whose conversation is gone cannot be replayed: an error, not a drift of 0%.
    shutil.rmtree(folder / f"samples/sample-{pick}/requests")
    gone = agents("-C", str(sampled), "replay", "summary", "--live", "--samples", "2")
    assert gone.code == 2 and "holds no model requests" in gone.err and "hint: " in gone.err
    assert "fresh answers match" not in gone.out


def test_an_equivalence_judge_that_fails_is_named_in_the_uncertain_step(judged: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    project = judged
    api.queue(*doers(["It is on Tuesday.\n", "Tuesday it is.\n", "Friday.\n"]), Reply.error(400, "JUDGE-REFUSED"))
    result = agents("-C", str(project), "run")
    assert result.code == 1
    assert "no majority among 3 samples" in result.err
    assert "the verifier `reviewer` could not judge which samples mean the same: api:" in result.err
    assert "JUDGE-REFUSED" in result.err
    meta = handoff(project)
    assert meta["status"] == "uncertain" and "could not judge which samples mean the same" in meta["failure"]["detail"]


def test_samples_of_a_command_step_check_that_it_is_deterministic(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        ".agents/tasks/same.md": task_text("Same", run="echo same > out/same.txt", outputs=["out/same.txt"], samples=3),
        ".agents/tasks/stamp.md": task_text("Stamp", run="date +%N > out/stamp.txt", outputs=["out/stamp.txt"],
                                            samples=3),
    })
    commit_all(project)
    result = agents("-C", str(project), "run", "--keep-going")
    assert result.code == 1
    assert (project / "out/same.txt").read_text() == "same\n" and not (project / "out/stamp.txt").exists()
    assert "3 of 3 samples agree" in (project / ".agents/handoffs/same.md").read_text()
    assert "step stamp uncertain: no majority among 3 samples: 3 different outputs" in result.err
