"""What is known before a step runs, said by `agents status` as by `agents run --dry-run`: a model step
whose context is over its budget is blocked, with the figures the run would refuse it with."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import age, git, task_text, write_files


def status(agents, root: Path) -> dict[str, tuple[str, list[str]]]:  # type: ignore[no-untyped-def]
    result = agents("-C", str(root), "status", "--json")
    assert result.code == 0, result.err
    return {t["id"]: (t["state"], t["reasons"]) for t in result.json["tasks"]}


@pytest.fixture
def big(project: Path) -> Path:
    write_files(project, {
        "data/spec.md": "word " * 40000,
        "data/small.md": "small\n",
        ".agents/tasks/big.md": task_text("Big", role="developer", inputs=["data/spec.md"], outputs=["out/big.md"]),
        ".agents/tasks/small.md": task_text("Small", role="developer", inputs=["data/small.md"], outputs=["out/s.md"]),
        ".agents/tasks/make.md": task_text("Make", run="cat data/spec.md > out/made.md", inputs=["data/spec.md"],
                                           outputs=["out/made.md"]),
        ".agents/tasks/later.md": task_text("Later", role="developer", inputs=["out/made.md"], outputs=["out/l.md"],
                                            needs=["make"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    return project


def test_status_blocks_a_model_step_whose_context_is_over_its_budget(big: Path, agents) -> None:  # type: ignore[no-untyped-def]
    found = status(agents, big)
    state, reasons = found["big"]
    assert state == "blocked"
    assert reasons[0].startswith("context over budget: ~") and "the budget is 40000" in reasons[0]
    assert "largest: data/spec.md (~66667 tokens)" in reasons[0]
    dry = agents("-C", str(big), "run", "--dry-run", "big")
    assert dry.code == 1
    figure = re.search(r"the context is (~\d+) tokens", dry.err)
    assert figure and f"{figure.group(1)} tokens" in reasons[0]  # the run's own figure
    assert found["small"] == ("ready", ["never run"])  # a command step and a step that fits are not judged
    assert found["make"] == ("ready", ["never run"])
    assert found["later"][0] == "pending"
    text = agents("-C", str(big), "status").out
    assert re.search(r"blocked +big +context over budget: ~\d+ tokens, the budget is 40000", text)
    assert "1 blocked" in text
    write_files(big, {"data/spec.md": "a short spec\n"})
    assert status(agents, big)["big"] == ("ready", ["never run"])


def test_graph_and_report_show_the_blocked_state_status_shows(big: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """`agents graph` and `agents report` agree with `agents status`: a step over its budget is blocked."""
    reason = status(agents, big)["big"][1][0]
    nodes = {n["id"]: n for n in agents("-C", str(big), "graph", "--json").json["nodes"]}
    assert nodes["big"]["state"] == "blocked" and nodes["big"]["reasons"][0] == reason
    assert nodes["small"]["state"] == "ready"
    assert re.search(r'\["big<br/>blocked · agent[^"]*"\]:::blocked', agents("-C", str(big), "graph").out)
    assert agents("-C", str(big), "report", "--out", "site").code == 0
    index = (big / "site/index.html").read_text()
    assert 'class="node state-blocked" data-task="big"' in index
    assert 'class="node state-ready" data-task="small"' in index
    assert "context over budget: ~" in (big / "site/tasks/big.html").read_text()


def test_a_step_is_judged_on_what_its_upstream_produced_only_once_that_is_done(big: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(big), "run", "make").code == 0
    found = status(agents, big)
    assert found["later"][0] == "blocked" and found["later"][1][0].startswith("context over budget")


def test_a_warm_status_takes_the_sizes_from_the_cache_and_sees_what_changes_them(big: Path, agents) -> None:  # type: ignore[no-untyped-def]
    from agentfiles.runner.preflight import with_context_budgets
    from agentfiles.storage.workspace import Workspace

    age(big)
    assert status(agents, big)["big"][0] == "blocked"
    assert (big / ".agents/cache/contexts.json").exists()
    workspace = Workspace(big)
    states = with_context_budgets(workspace, workspace.states())
    assert states["big"].state == "blocked" and states["small"].state == "ready"
    assert workspace._project is None  # nothing was parsed: no context was built again
    # What the context is built from, beyond the inputs: a context file imported, a nested CLAUDE.md.
    write_files(big, {"CLAUDE.md": (big / "CLAUDE.md").read_text() + "\nSee @docs/notes.md\n"})
    age(big)
    assert status(agents, big)["small"][0] == "ready"
    write_files(big, {"docs/notes.md": "note " * 40000})
    age(big)
    found = status(agents, big)["small"]
    assert found[0] == "blocked" and "docs/notes.md (~66667 tokens)" in found[1][0]
    write_files(big, {"docs/notes.md": "short\n", "data/CLAUDE.md": "data " * 40000})
    age(big)
    found = status(agents, big)["small"]
    assert found[0] == "blocked" and "data/CLAUDE.md (~66667 tokens)" in found[1][0]
    (big / "data/CLAUDE.md").unlink()
    assert status(agents, big)["small"] == ("ready", ["never run"])


def test_a_stale_step_over_its_budget_says_so_and_why_it_is_stale(project: Path, agents, api) -> None:  # type: ignore[no-untyped-def]
    from conftest import configure
    from fake_anthropic import Reply

    configure(project, api)
    write_files(project, {
        "data/spec.md": "Write hello.\n",
        ".agents/tasks/hello.md": task_text("Hello", role="developer", inputs=["data/spec.md"], outputs=["hello.py"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "hello")
    api.queue(Reply.tool_use("write_file", {"path": "hello.py", "content": "print('hi')\n"}),
              Reply.tool_use("finish", {"summary": "Wrote it."}))
    assert agents("-C", str(project), "run").code == 0
    assert status(agents, project)["hello"] == ("done", [])
    write_files(project, {"data/spec.md": "word " * 40000})
    state, reasons = status(agents, project)["hello"]
    assert state == "blocked" and reasons[0].startswith("context over budget")
    assert reasons[1:] == ["input changed: data/spec.md"]


def test_an_input_a_foreach_item_produces_is_not_missing(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "notes/a.md": "alpha\n",
        ".agents/tasks/upper.md": task_text("Upper", run="tr a-z A-Z < {item} > build/{stem}.up", foreach="notes/*.md",
                                            inputs=["{item}"], outputs=["build/{stem}.up"]),
        ".agents/tasks/both.md": task_text("Both", run="cat build/a.up > both.txt", needs=["upper"],
                                           inputs=["build/a.up"], outputs=["both.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    dry = agents("-C", str(project), "run", "--dry-run")
    assert dry.code == 0, dry.err  # it was 'declared input missing: build/a.up', and the run refused on it
    assert agents("-C", str(project), "run").code == 0
    assert (project / "both.txt").read_text() == "ALPHA\n"


def test_the_producers_of_an_input_are_those_a_comparison_with_every_output_finds() -> None:
    """The index of outputs `agents status` looks inputs up in (instead of comparing each input with every
    output of the project) names the same tasks as that comparison, for paths, folders and globs either side."""
    import random

    from agentfiles.core.globs import matches
    from agentfiles.runner.preflight import Producers

    pool = ["out/a.md", "out/b.md", "out/sub/c.md", "out/*.md", "out/**/*.md", "out", "out/sub", "*.md", "docs/x.txt",
            "docs/*", "docs", "out/sub/*.md", "report.md", "out/a.md/", "d/e/f/g.txt", "d/**", "d/e/*/g.txt", "o?t/a.md",
            "out/[ab].md", "docs/x.txt/y"]
    rng = random.Random(5)
    for _ in range(400):
        outputs = [(rng.choice(pool), f"t{n}") for n in range(rng.randint(1, 12))]
        producers = Producers(outputs)
        for path in pool:
            expected = {t for out, t in outputs
                        if matches(out, path) or matches(path, out) or out.startswith(path.rstrip("/") + "/")}
            assert producers.of(path) == expected, (path, outputs)
