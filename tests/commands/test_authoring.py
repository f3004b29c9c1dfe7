"""Writing tasks as a newcomer does: the starter layout, `agents new task` with its limits, and what
`agents validate` warns about in a task that is not finished or sends a file twice."""

from __future__ import annotations

from pathlib import Path

from conftest import git, task_text, write_files


def warnings_of(agents, root: Path) -> list[str]:  # type: ignore[no-untyped-def]
    data = agents("-C", str(root), "validate", "--json").json
    assert data["ok"], data["errors"]
    return [f"{w['file']}:{w['line']}: {w['message']}" for w in data["warnings"]]


def test_the_starter_task_sends_claude_md_once(repo: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(repo), "init").code == 0
    assert warnings_of(agents, repo) == []
    preview = agents("-C", str(repo), "run", "describe-project", "--dry-run", "--json").json["previews"][0]
    sent = str(preview["request"])
    assert sent.count("Describe the project here") == 1  # the system prompt's CLAUDE.md, not an input again


def test_validate_warns_about_a_context_file_declared_as_an_input(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "CLAUDE.md": (project / "CLAUDE.md").read_text() + "\nConventions: @docs/style.md\n",
        "docs/style.md": "Write short sentences.\n",
        "docs/guide.md": "A guide.\n",
        "src/CLAUDE.md": "Code rules.\n",
        ".agents/tasks/twice.md": task_text("Twice", role="developer", inputs=["CLAUDE.md", "docs/*.md"],
                                            outputs=["out.md"], acceptance=["It is short"]),
        ".agents/tasks/nested.md": task_text("Nested", role="developer", inputs=["src/CLAUDE.md"],
                                             outputs=["src/out.md"], acceptance=["It is short"]),
        ".agents/tasks/command.md": task_text("Command", run="cat CLAUDE.md > copy.md", inputs=["CLAUDE.md"],
                                              outputs=["copy.md"]),
    })
    found = warnings_of(agents, project)
    context = [w for w in found if "context file" in w]
    assert len(context) == 3, found
    assert any(w.startswith(".agents/tasks/twice.md:4: input 'CLAUDE.md' is a context file") for w in context)
    assert any("input 'docs/*.md' (docs/style.md) is a context file" in w for w in context)  # an @import
    assert any(w.startswith(".agents/tasks/nested.md:") and "'src/CLAUDE.md'" in w for w in context)
    assert not any("command.md" in w for w in context)  # a command step has no system prompt
    text = agents("-C", str(project), "validate").err
    assert "declaring it sends it twice" in text and "hint: remove it from `inputs`" in text


def test_new_task_takes_budget_retries_and_timeout(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(project), "new", "task", "summarise", "--role", "developer", "-o", "out/s.md",
                    "-a", "It is short", "--intent", "Readers need the gist.", "--budget-tokens", "9000",
                    "--budget-output-tokens", "2000", "--budget-usd", "0.5", "--retries", "2", "--timeout", "90")
    assert result.code == 0, result.err
    assert result.err == ""
    from agentfiles.storage.documents import parse_document

    meta = parse_document((project / ".agents/tasks/summarise.md").read_text()).meta
    assert meta["budget"] == {"context_tokens": 9000, "output_tokens": 2000, "usd": 0.5}
    assert meta["retries"] == 2 and meta["timeout"] == 90
    assert warnings_of(agents, project) == []
    bad = agents("-C", str(project), "new", "task", "other", "--role", "developer", "-o", "o.md", "--budget-usd", "0")
    assert bad.code == 2 and "budget.usd" in bad.err and "hint:" in bad.err
    assert not (project / ".agents/tasks/other.md").exists()


def test_new_task_takes_a_verifier_panel_and_samples(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    from agentfiles.storage.documents import parse_document

    result = agents("-C", str(project), "new", "task", "judged", "--role", "developer", "-o", "out/j.md",
                    "-a", "It is short", "--intent", "Readers need the gist.", "--verifier", "reviewer",
                    "--verifier", "planner", "--agree", "majority", "--samples", "3")
    assert result.code == 0, result.err
    meta = parse_document((project / ".agents/tasks/judged.md").read_text()).meta
    assert meta["verifier"] == ["reviewer", "planner"] and meta["agree"] == "majority" and meta["samples"] == 3
    assert "a panel of two has no majority" in result.err
    one = agents("-C", str(project), "new", "task", "single", "--role", "developer", "-o", "out/s.md",
                 "-a", "It is short", "--intent", "Gist.", "--verifier", "reviewer")
    assert one.code == 0 and parse_document((project / ".agents/tasks/single.md").read_text()).meta["verifier"] == "reviewer"
    bad = agents("-C", str(project), "new", "task", "bad", "--role", "developer", "-o", "b.md", "-a", "Short",
                 "--verifier", "developer", "--verifier", "reviewer")
    assert bad.code == 2 and "the doer's own role" in bad.err and not (project / ".agents/tasks/bad.md").exists()


def test_validate_warns_about_what_a_new_task_leaves_unfinished(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    created = agents("-C", str(project), "new", "task", "draft", "--role", "developer", "-o", "d.md")
    assert created.code == 0
    assert "the intent is still the placeholder" in created.err  # said at once, by `new` too
    write_files(project, {
        ".agents/tasks/silent.md": task_text("Silent", run="make test"),
        ".agents/tasks/eager.md": task_text("Eager", run="date > d.txt", outputs=["d.txt"], retries=2),
    })
    found = warnings_of(agents, project)
    assert ".agents/tasks/draft.md:None: the intent is still the placeholder `agents new task` wrote" in found
    assert ".agents/tasks/draft.md:None: a model step with no acceptance criteria: nothing verifies its work" in found
    assert any(w.startswith(".agents/tasks/silent.md:2: a command step with no outputs") for w in found), found
    assert any(w.startswith(".agents/tasks/eager.md:") and "`retries: 2` re-runs a step its verifier rejects" in w
               for w in found), found
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "validate").code == 0  # warnings, not errors


def test_the_handoffs_of_foreach_items_are_not_of_unknown_tasks(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "notes/a.md": "a\n",
        ".agents/tasks/copy.md": task_text("Copy", run="cp {item} out/{stem}.txt", foreach="notes/*.md",
                                           inputs=["{item}"], outputs=["out/{stem}.txt"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "copy")
    assert agents("-C", str(project), "run").code == 0
    assert (project / ".agents/handoffs/copy@notes--a.md.md").is_file()
    assert warnings_of(agents, project) == []
    (project / ".agents/tasks/copy.md").unlink()
    assert any("handoff of unknown task 'copy@notes--a.md'" in w for w in warnings_of(agents, project))
