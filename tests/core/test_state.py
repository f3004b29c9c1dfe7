"""Task state derived from hashes against handoff records, on real repositories (through `agents status`)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

from agentfiles.storage.documents import dump_document
from conftest import task_text, write_files


def sha(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def states(agents, root: Path) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    result = agents("-C", str(root), "status", "--json")
    assert result.code == 0, result.err
    return {t["id"]: t for t in result.json["tasks"]}


def record(agents, root: Path, task: str, *, status: str = "done", run: str = "r1", **extra: object) -> None:  # type: ignore[no-untyped-def]
    """Write a handoff by hand, with the hashes of the task's current inputs and outputs."""
    from agentfiles.storage.workspace import open_workspace

    ws = open_workspace(root)
    entry = ws.project.tasks[task]
    definition = states(agents, root)[task]["definition"]
    inputs: dict[str, str] = {}
    for spec in entry.model.inputs:
        if spec.handoff:
            body = ws.project.handoffs[spec.handoff].body
            inputs[spec.key] = "sha256:" + hashlib.sha256(body.strip().encode()).hexdigest()
        else:
            inputs[str(spec.path)] = sha(root / str(spec.path))
    outputs = {p: sha(root / p) for p in entry.model.outputs if (root / p).exists()}
    meta = {
        "schema": 1, "task": task, "run": run, "status": status, "definition": definition,
        "inputs": inputs, "outputs": outputs, **extra,
    }
    write_files(root, {f".agents/handoffs/{task}.md": dump_document(meta, "## Summary\n\nDone by hand.\n")})


def age(root: Path, *rels: str) -> None:
    """Move files' times into the past, as if edited before this test (keeps the caches honest)."""
    old = time.time() - 60
    for rel in rels:
        os.utime(root / rel, (old, old))


@pytest.fixture
def pipeline(project: Path) -> Path:
    write_files(
        project,
        {
            "data/name.txt": "Ada\n",
            "out/greeting.txt": "Hello Ada\n",
            "out/shout.txt": "HELLO ADA\n",
            ".agents/tasks/greet.md": task_text(
                "Greet", run="echo hi > out/greeting.txt", inputs=["data/name.txt"], outputs=["out/greeting.txt"]
            ),
            ".agents/tasks/shout.md": task_text(
                "Shout",
                run="tr a-z A-Z < out/greeting.txt > out/shout.txt",
                needs=["greet"],
                inputs=["out/greeting.txt", {"handoff": "greet"}],
                outputs=["out/shout.txt"],
            ),
        },
    )
    return project


def test_never_run_tasks_are_ready_or_pending(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    found = states(agents, pipeline)
    assert found["greet"]["state"] == "ready" and found["greet"]["reasons"] == ["never run"]
    assert found["shout"]["state"] == "pending"
    assert found["shout"]["reasons"] == ["waiting for greet (ready)"]


def test_handwritten_handoff_with_matching_hashes_is_done(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet")
    found = states(agents, pipeline)
    assert found["greet"]["state"] == "done" and found["greet"]["reasons"] == []
    assert found["shout"]["state"] == "ready"


def test_editing_an_input_makes_the_task_stale_naming_it(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet")
    record(agents, pipeline, "shout", upstream={"greet": "r1"})
    age(pipeline, "data/name.txt", "out/greeting.txt", ".agents/handoffs/greet.md", ".agents/handoffs/shout.md")
    assert {t["state"] for t in states(agents, pipeline).values()} == {"done"}
    (pipeline / "data/name.txt").write_text("Bob\n")
    found = states(agents, pipeline)
    assert found["greet"]["state"] == "stale"
    assert found["greet"]["reasons"] == ["input changed: data/name.txt"]
    assert found["shout"]["state"] == "stale"
    assert found["shout"]["reasons"] == ["upstream not done: greet (stale)"]


def test_output_modified_and_missing(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet")
    (pipeline / "out/greeting.txt").write_text("tampered\n")
    assert states(agents, pipeline)["greet"]["reasons"] == ["output modified: out/greeting.txt"]
    (pipeline / "out/greeting.txt").unlink()
    assert states(agents, pipeline)["greet"]["reasons"] == ["output missing: out/greeting.txt"]


def test_definition_change_makes_the_task_stale_but_formatting_does_not(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet")
    path = pipeline / ".agents/tasks/greet.md"
    text = path.read_text()
    path.write_text(text.replace("title: Greet", "# a comment\ntitle:   Greet"))
    assert states(agents, pipeline)["greet"]["state"] == "done"
    path.write_text(text.replace("echo hi", "echo hello"))
    assert states(agents, pipeline)["greet"]["reasons"] == ["definition changed"]


def test_upstream_rerun_makes_dependents_stale(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet", run="r1")
    record(agents, pipeline, "shout", upstream={"greet": "r1"})
    assert states(agents, pipeline)["shout"]["state"] == "done"
    # greet runs again: same outputs and summary, a new run id.
    text = (pipeline / ".agents/handoffs/greet.md").read_text()
    (pipeline / ".agents/handoffs/greet.md").write_text(text.replace("run: r1", "run: r2"))
    found = states(agents, pipeline)
    assert found["greet"]["state"] == "done"
    assert found["shout"]["reasons"] == ["upstream re-ran: greet"]


def test_changed_upstream_handoff_summary_is_a_changed_input(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet")
    record(agents, pipeline, "shout")
    path = pipeline / ".agents/handoffs/greet.md"
    path.write_text(path.read_text().replace("Done by hand.", "Done differently."))
    assert states(agents, pipeline)["shout"]["reasons"] == ["input changed: handoff:greet"]


def test_glob_inputs_report_added_and_removed_files(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            "docs/a.md": "a\n",
            "docs/b.md": "b\n",
            "index.md": "i\n",
            ".agents/tasks/index.md": task_text("Index", run="true", inputs=["docs/*.md"], outputs=["index.md"]),
        },
    )
    from agentfiles.storage.documents import dump_document as dump

    meta = {
        "schema": 1, "task": "index", "run": "r1", "status": "done",
        "inputs": {"docs/a.md": sha(project / "docs/a.md"), "docs/b.md": sha(project / "docs/b.md")},
        "outputs": {"index.md": sha(project / "index.md")},
    }
    write_files(project, {".agents/handoffs/index.md": dump(meta, "## Summary\n\nok\n")})
    assert states(agents, project)["index"]["state"] == "done"
    (project / "docs/b.md").unlink()
    (project / "docs/c.md").write_text("c\n")
    assert states(agents, project)["index"]["reasons"] == ["input added: docs/c.md", "input removed: docs/b.md"]


def test_failed_rejected_and_review_rejected(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, pipeline, "greet", status="failed", failure={"kind": "crash", "detail": "exit 3"})
    found = states(agents, pipeline)
    assert found["greet"]["state"] == "failed" and found["greet"]["reasons"] == ["crash: exit 3"]
    assert found["shout"]["state"] == "blocked" and found["shout"]["reasons"] == ["need greet is failed"]
    record(
        agents, pipeline, "greet", status="rejected",
        verification={"verdict": "fail", "verifier": "reviewer",
                      "checks": [{"criterion": "Is polite", "verdict": "fail", "evidence": "rude"}]},
    )
    assert states(agents, pipeline)["greet"]["reasons"] == ["verification failed: Is polite"]
    record(agents, pipeline, "greet", review={"state": "rejected", "by": "ann", "reason": "too terse"})
    found = states(agents, pipeline)["greet"]
    assert found["state"] == "stale" and found["reasons"] == ["rejected in review: too terse"]


def test_cycle_members_are_blocked(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(
        project,
        {
            ".agents/tasks/a.md": task_text("A", run="true", needs=["b"]),
            ".agents/tasks/b.md": task_text("B", run="true", needs=["a"]),
        },
    )
    found = states(agents, project)
    assert found["a"]["state"] == found["b"]["state"] == "blocked"


def test_status_text_and_task_filter(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(pipeline), "status")
    assert result.code == 0
    lines = result.out.splitlines()
    assert lines[0].split()[:2] == ["ready", "greet"]
    assert lines[1].split()[:2] == ["pending", "shout"]
    assert lines[-1] == "2 tasks: 1 ready, 1 pending"
    one = agents("-C", str(pipeline), "status", "shout", "--json").json
    assert [t["id"] for t in one["tasks"]] == ["shout"]
    missing = agents("-C", str(pipeline), "status", "nope")
    assert missing.code == 2 and missing.err.startswith("error: unknown task: nope")


def test_status_json_shape(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    data = agents("-C", str(pipeline), "--json", "status").json
    assert data["schema_version"] == 1 and data["kind"] == "status"
    for task in data["tasks"]:
        assert {"id", "state", "reasons"} <= set(task)
        assert isinstance(task["reasons"], list)


@pytest.fixture
def model_step(project: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    """A done model step of `developer`, its handoff recording what its definition was made of."""
    write_files(project, {".agents/tasks/write.md": task_text("Write", role="developer", outputs=["out/a.md"]),
                          "out/a.md": "a\n"})
    now = states(agents, project)["write"]
    record(agents, project, "write", role="developer", model="claude-sonnet-4-6",
           definition_parts=now["definition_parts"])
    assert states(agents, project)["write"]["state"] == "done"
    return project


def test_a_changed_role_model_or_config_is_named_part_by_part(model_step: Path, agents) -> None:  # type: ignore[no-untyped-def]
    role = model_step / ".agents/roles/developer.md"
    config = model_step / ".agents/config.yaml"
    role_text, config_text = role.read_text(), config.read_text()
    role.write_text(role_text + "\nOne more rule.\n")
    assert states(agents, model_step)["write"]["reasons"] == ["role changed: developer"]
    role.write_text(role_text)
    config.write_text(config_text.replace("  sonnet: claude-sonnet-4-6", "  sonnet: claude-opus-4-6"))  # an alias
    assert states(agents, model_step)["write"]["reasons"] == ["model changed: claude-sonnet-4-6 -> claude-opus-4-6"]
    config.write_text(config_text + "\nmax_turns: 12\n")
    assert states(agents, model_step)["write"]["reasons"] == ["config changed: max_turns"]  # the role sets the rest
    config.write_text(config_text)
    assert states(agents, model_step)["write"]["state"] == "done"
    task = model_step / ".agents/tasks/write.md"
    task.write_text(task.read_text().replace("title: Write", "title: Write it"))
    assert states(agents, model_step)["write"]["reasons"] == ["definition changed"]
    assert "role changed" not in agents("-C", str(model_step), "status").out


def test_a_config_setting_the_task_sets_itself_does_not_reach_it(model_step: Path, agents) -> None:  # type: ignore[no-untyped-def]
    task = model_step / ".agents/tasks/write.md"
    task.write_text(task_text("Write", role="developer", outputs=["out/a.md"], max_turns=5,
                              budget={"output_tokens": 900}))
    record(agents, model_step, "write", role="developer", model="claude-sonnet-4-6",
           definition_parts=states(agents, model_step)["write"]["definition_parts"])
    config = model_step / ".agents/config.yaml"
    config.write_text(config.read_text() + "\nmax_turns: 12\n")
    assert states(agents, model_step)["write"]["state"] == "done"


def test_a_handoff_without_parts_says_definition_changed(model_step: Path, agents) -> None:  # type: ignore[no-untyped-def]
    record(agents, model_step, "write", role="developer", model="claude-sonnet-4-6")  # as written before parts
    role = model_step / ".agents/roles/developer.md"
    role.write_text(role.read_text() + "\nOne more rule.\n")
    assert states(agents, model_step)["write"]["reasons"] == ["definition changed"]


def test_an_uncertain_task_blocks_what_needs_it(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/a.md": task_text("A", role="developer", outputs=["a.md"]),
                          ".agents/tasks/b.md": task_text("B", role="developer", needs=["a"], outputs=["b.md"])})
    record(agents, project, "a", status="uncertain", failure={"kind": "uncertain", "detail": "the judges split"})
    found = states(agents, project)
    assert found["a"]["state"] == "uncertain" and found["a"]["reasons"][0] == "the judges split"
    assert found["b"]["state"] == "blocked" and found["b"]["reasons"] == ["need a is uncertain"]
    plan = agents("-C", str(project), "run", "--dry-run")
    assert plan.code == 0 and "Nothing to run" in plan.out
    assert "held  a: uncertain: awaiting review" in plan.err and "held  b: needs a, which awaits review" in plan.err
