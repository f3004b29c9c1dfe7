"""A project with broken files: read verbs show what they can and mark the rest, `run` refuses only what
depends on a broken file, `validate` lists every problem with a hint, and nothing is skipped in silence."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import git, task_text, write_files

BROKEN_TASK = "---\ntitle: [unclosed\nrun: 'true'\n---\n"
# The frontmatter of a public Claude Code subagent: strict YAML rejects the unquoted `: ` in the description.
FOREIGN_ROLE = (
    "---\nname: privacy-officer\ndescription: Reviews data handling. Triggers on: 'GDPR', 'privacy policy'\n"
    "tools: Read, Grep\n---\n\nYou review privacy.\n"
)


@pytest.fixture
def broken(project: Path) -> Path:
    """Two valid command tasks, one broken task file, and a task that needs the broken one."""
    write_files(project, {
        ".agents/tasks/other.md": task_text("Other", run="echo ok > out.txt", outputs=["out.txt"]),
        ".agents/tasks/bad.md": BROKEN_TASK,
        ".agents/tasks/after-bad.md": task_text("After", run="true", needs=["bad"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    return project


def test_status_marks_a_broken_task_and_shows_the_rest(broken: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(broken), "status")
    assert result.code == 0, result.err
    rows = {line.split()[1]: line for line in result.out.splitlines() if line and not line[0].isdigit()}
    assert rows["bad"].startswith("invalid")
    assert ".agents/tasks/bad.md:3: YAML syntax error" in rows["bad"]
    assert rows["other"].startswith("ready")
    assert rows["after-bad"].startswith("blocked") and "need bad is invalid" in rows["after-bad"]
    tasks = {t["id"]: t for t in agents("-C", str(broken), "status", "--json").json["tasks"]}
    assert tasks["bad"]["state"] == "invalid" and tasks["bad"]["reasons"][0].startswith(".agents/tasks/bad.md:3:")
    # the cached facts say the same on the next run
    assert agents("-C", str(broken), "status", "--json").json["tasks"] == list(tasks.values())
    assert agents("-C", str(broken), "validate").code == 2


def test_graph_shows_the_broken_task_as_a_node(broken: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(broken), "graph", "--json")
    assert result.code == 0, result.err
    nodes = {n["id"]: n for n in result.json["nodes"]}
    assert nodes["bad"]["state"] == "invalid" and nodes["bad"]["kind"] == "invalid"
    assert {"from": "bad", "to": "after-bad", "kind": "needs", "path": None} in result.json["edges"]
    assert "warning: bad: .agents/tasks/bad.md:3" in result.err
    assert agents("-C", str(broken), "graph").code == 0


def test_run_of_a_valid_task_is_not_stopped_by_a_broken_one(broken: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(broken), "run", "other")
    assert result.code == 0, result.err
    assert (broken / "out.txt").read_text() == "ok\n"
    needing = agents("-C", str(broken), "run", "after-bad")
    assert needing.code == 2 and ".agents/tasks/bad.md:3" in needing.err and "hint:" in needing.err
    everything = agents("-C", str(broken), "run")
    assert everything.code == 2 and "`agents run TASK` runs a task whose own files and needs are valid" in everything.err


def test_a_claude_code_subagent_strict_yaml_rejects_is_left_out(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".claude/agents/privacy-officer.md": FOREIGN_ROLE,
                          ".agents/tasks/other.md": task_text("Other", run="true")})
    roles = agents("-C", str(project), "roles")
    assert roles.code == 0, roles.err
    assert "developer" in roles.out and "privacy-officer" not in roles.out
    assert "warning: .claude/agents/privacy-officer.md:3: YAML syntax error" in roles.err
    assert "left out" in roles.err and "hint:" in roles.err
    problems = agents("-C", str(project), "roles", "--json").json["problems"]
    assert problems[0]["file"] == ".claude/agents/privacy-officer.md" and problems[0]["severity"] == "warning"
    assert agents("-C", str(project), "status").code == 0
    assert agents("-C", str(project), "validate").code == 0  # a warning: agents does not own the file
    write_files(project, {".agents/tasks/private.md": task_text("P", role="privacy-officer")})
    status = agents("-C", str(project), "status", "--json").json["tasks"]
    private = next(t for t in status if t["id"] == "private")
    assert private["state"] == "invalid" and "role 'privacy-officer' was left out" in private["reasons"][0]
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert [e["file"] for e in found] == [".agents/tasks/private.md"] and found[0]["hint"]


def test_a_left_out_subagent_is_not_counted_and_a_task_naming_it_is_told_why(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".claude/agents/privacy-officer.md": FOREIGN_ROLE})
    roles = len(agents("-C", str(project), "roles", "--json").json["roles"])
    checked = agents("-C", str(project), "validate")
    assert checked.code == 0
    assert f"{roles} roles (1 left out: privacy-officer)" in checked.out
    counts = agents("-C", str(project), "validate", "--json").json["counts"]
    assert counts["roles"] == roles and counts["roles_left_out"] == ["privacy-officer"]
    made = agents("-C", str(project), "new", "task", "private", "--role", "privacy-officer", "--intent", "Check it.")
    assert made.code == 2 and not (project / ".agents/tasks/private.md").exists()
    assert ("error: role 'privacy-officer' was left out, so this task cannot run: .claude/agents/privacy-officer.md:3: "
            "YAML syntax error") in made.err
    assert "hint: fix the YAML at that line; quote a value" in made.err
    write_files(project, {".agents/tasks/private.md": task_text("P", role="privacy-officer")})
    private = agents("-C", str(project), "status", "--json").json["tasks"][0]
    assert private["reasons"] == [private["reasons"][0]]
    assert private["reasons"][0].startswith("role 'privacy-officer' was left out: .claude/agents/privacy-officer.md:3: ")


def test_a_broken_role_of_the_project_is_listed_as_a_problem(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/roles/r2.md": "---\nname: r2\ndescrption: x\n---\n"})
    result = agents("-C", str(project), "roles")
    assert result.code == 0 and "developer" in result.out
    assert "unknown key 'descrption' - did you mean 'description'?" in result.err
    assert agents("-C", str(project), "validate").code == 2


@pytest.mark.parametrize(
    "case",
    ["task file is a folder", "tasks folder is a file", "bad task name", "handoff is a folder"],
)
def test_what_is_not_a_task_file_is_reported_not_skipped(project: Path, agents, case: str) -> None:  # type: ignore[no-untyped-def]
    tasks = project / ".agents" / "tasks"
    if case == "task file is a folder":
        (tasks / "folder.md").mkdir()
        where = ".agents/tasks/folder.md"
    elif case == "tasks folder is a file":
        tasks.rmdir()
        tasks.write_text("")
        where = ".agents/tasks"
    elif case == "bad task name":
        write_files(project, {".agents/tasks/Bad Name.md": task_text("Bad", run="true")})
        where = ".agents/tasks/Bad Name.md"
    else:
        write_files(project, {".agents/tasks/t.md": task_text("T", run="true")})
        (project / ".agents" / "handoffs" / "t.md").mkdir(parents=True)
        where = ".agents/handoffs/t.md"
    result = agents("-C", str(project), "validate")
    assert result.code == 2 and "ok:" not in result.out
    assert f"error: {where}" in result.err and "hint:" in result.err
    status = agents("-C", str(project), "status")
    if case == "tasks folder is a file":
        assert status.code == 2 and "error: .agents/tasks: .agents/tasks is a file" in status.err
    else:
        assert status.code == 0 and "invalid" in status.out and where in status.out


def test_the_whole_repository_as_an_input_is_refused(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", inputs=["./"])})
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert [e["message"] for e in found] == [
        "input '.' is the whole repository, .agents/ and the step's own outputs included"
    ]
    assert "declare the folders or globs" in found[0]["hint"]


BROKEN_CONFIGS = {
    "yaml": "model: [\n",
    "not a mapping": "- a\n",
    "not utf-8": b"\xff\xfe",
    "unknown verifier": "verifier: nobody\n",
    "a folder": None,
    "schema": "jobs: 0\nfoo: 1\n",
}


@pytest.mark.parametrize("kind", sorted(BROKEN_CONFIGS))
def test_every_config_problem_has_a_hint(project: Path, agents, kind: str) -> None:  # type: ignore[no-untyped-def]
    config = project / ".agents" / "config.yaml"
    config.unlink()
    text = BROKEN_CONFIGS[kind]
    if text is None:
        config.mkdir()
    else:
        config.write_bytes(text if isinstance(text, bytes) else text.encode())
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert found and all(e["file"] == ".agents/config.yaml" for e in found)
    assert all(e["hint"] for e in found), found
    assert "Errno" not in str(found)


def test_every_task_problem_has_a_hint(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (project / "somedir").mkdir()
    write_files(project, {
        ".agents/tasks/t.md": task_text(
            "T", run="true",
            outputs=[".agents/x.txt", "somedir", "out/*.txt", "o/{item}.txt", "a.txt", "a.txt"],
            inputs=[{"handoff": "ghost"}, "i/{item}.txt", "missing.txt"],
        ),
        ".agents/tasks/u.md": task_text("U", role="nobody", participants=["x", "y"], mode="discussion"),
    })
    found = agents("-C", str(project), "validate", "--json").json
    problems = found["errors"] + found["warnings"]
    assert len(found["errors"]) >= 8
    missing = [p["message"] for p in problems if not p["hint"]]
    assert missing == []


@pytest.mark.parametrize(("setting", "said"), [
    ("enabled: false", "steps always commit: `enabled: false` is not supported"),
    ("sign: true", "signed step commits are not supported: `sign: true`"),
])
def test_a_commit_setting_agents_cannot_honour_is_refused_not_ignored(  # type: ignore[no-untyped-def]
    project: Path, agents, setting: str, said: str
) -> None:
    """`commit: {enabled: false}` and `{sign: true}` were accepted and did nothing: steps committed, unsigned."""
    config = project / ".agents" / "config.yaml"
    config.write_text(config.read_text().replace("commit:\n", f"commit:\n  {setting}\n"))
    found = agents("-C", str(project), "validate", "--json").json["errors"]
    assert [e["file"] for e in found] == [".agents/config.yaml"] and said in found[0]["message"]
    assert found[0]["line"] and "remove the key" in found[0]["hint"]
    run = agents("-C", str(project), "run")
    assert run.code == 2 and said in run.err


def test_the_commit_setting_of_earlier_inits_stays_valid(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    config = project / ".agents" / "config.yaml"
    config.write_text(config.read_text().replace("commit:\n", "commit:\n  enabled: true\n"))
    assert agents("-C", str(project), "validate").code == 0


@pytest.mark.parametrize(("fields", "said"), [
    ({"role": "nosuchrole"}, "unknown role 'nosuchrole'"),
    ({"role": "developer", "inputs": [{"handoff": "nosuch"}]}, "input handoff:nosuch names no task"),
])
def test_status_marks_invalid_a_task_that_validate_and_run_refuse(project: Path, agents, fields: dict, said: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    """The issue-12 verification: status said `ready` for a task naming an unknown role or handoff, which
    validate and run refuse; an unrelated task still runs."""
    write_files(project, {".agents/tasks/bad.md": task_text("Bad", outputs=["b.md"], **fields),
                          ".agents/tasks/good.md": task_text("Good", run="echo g > g.txt", outputs=["g.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    rows = {t["id"]: t for t in agents("-C", str(project), "status", "--json").json["tasks"]}
    assert rows["bad"]["state"] == "invalid" and said in rows["bad"]["reasons"][0]
    assert agents("-C", str(project), "validate").code == 2
    assert agents("-C", str(project), "run", "good").code == 0


@pytest.mark.parametrize(("value", "said"), [
    ("bogus", "`bogus` is not a Dask scheduler address: no port (HOST:PORT)"),
    ("local:0", "`local:0` is not local:N with N workers (1-256)"),
    ("local:two", "`local:two` is not local:N with N workers (1-256)"),
    ("http://host:8786", "`http://host:8786` is not a Dask scheduler address: unknown protocol `http` (tcp, tls, ws, wss, ucx, inproc)"),
    ("tcp://host:port", "`tcp://host:port` is not a Dask scheduler address: `port` is not a port (1-65535)"),
    ("''", "an empty address names no cluster"),
])
def test_a_cluster_in_the_config_is_checked_as_the_option_is(project: Path, agents, value: str, said: str) -> None:  # type: ignore[no-untyped-def]
    """`cluster: bogus` and `cluster: local:0` passed `agents validate` and stopped only the run that tried
    them; now validate and run refuse them at their line, with a hint, as `--cluster` is refused."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo t > t.txt", outputs=["t.txt"])})
    config = project / ".agents" / "config.yaml"
    config.write_text(config.read_text() + f"cluster: {value}\n")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "a cluster")
    head = git(project, "rev-parse", "HEAD")
    found = agents("-C", str(project), "validate", "--json")
    assert found.code == 2
    line = len(config.read_text().splitlines())
    assert [(e["file"], e["line"], e["message"]) for e in found.json["errors"]] == [
        (".agents/config.yaml", line, f"cluster: {said}")]
    assert "tcp://HOST:8786" in found.json["errors"][0]["hint"] and "local:N" in found.json["errors"][0]["hint"]
    run = agents("-C", str(project), "run")
    assert run.code == 2 and said in run.err and "hint: " in run.err
    if value != "''":  # the same rule for the option, a usage error
        config.write_text(config.read_text().replace(f"cluster: {value}\n", ""))
        option = agents("-C", str(project), "run", "--cluster", value)
        assert option.code == 2 and option.err.startswith(f"error: {said}\nhint: give a Dask scheduler's address")
    assert git(project, "rev-parse", "HEAD") == head and not (project / "t.txt").exists()


@pytest.mark.parametrize("value", ["local:2", "tcp://127.0.0.1:8786", "127.0.0.1:8786", "tls://[::1]:8786",
                                   "scheduler.example.org:8786"])
def test_a_cluster_address_of_either_form_is_valid(project: Path, agents, value: str) -> None:  # type: ignore[no-untyped-def]
    config = project / ".agents" / "config.yaml"
    config.write_text(config.read_text() + f"cluster: {value}\n")
    assert agents("-C", str(project), "validate").code == 0


def test_an_empty_cluster_option_is_a_usage_error_not_no_option(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """`--cluster ''` (an unset variable in `--cluster "$SCHEDULER"`) ran as if the option were not given:
    on the config's cluster, or here."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo t > t.txt", outputs=["t.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "t")
    head = git(project, "rev-parse", "HEAD")
    for args in (["run"], ["run", "--dry-run"], ["run", "t"]):
        result = agents("-C", str(project), *args, "--cluster", "")
        assert result.code == 2, result.err
        assert result.err.startswith("error: `--cluster ''` names no cluster\nhint: give a scheduler's address")
    assert git(project, "rev-parse", "HEAD") == head and not (project / "t.txt").exists()


@pytest.mark.parametrize("key", ["concurrent", "tokens_per_minute"])
def test_a_limit_given_as_true_is_refused_not_read_as_one(project: Path, agents, key: str) -> None:  # type: ignore[no-untyped-def]
    """`api.limits: {default: {concurrent: true}}` passed as one call at once (a bool is an int to pydantic)."""
    config = project / ".agents" / "config.yaml"
    text = config.read_text()
    old = "    default: {concurrent: 5, tokens_per_minute: 400000}\n"
    assert old in text
    config.write_text(text.replace(old, f"    default: {{{key}: true}}\n"))
    line = text.splitlines().index(old.rstrip("\n")) + 1
    said = f"api.limits.default.{key}: a number is expected, not `true`"
    found = agents("-C", str(project), "validate", "--json")
    assert found.code == 2
    assert [(e["file"], e["line"], e["message"]) for e in found.json["errors"]] == [(".agents/config.yaml", line, said)]
    assert found.json["errors"][0]["hint"]
    run = agents("-C", str(project), "run")
    assert run.code == 2 and said in run.err


@pytest.mark.parametrize(("old", "new", "key", "hint"), [
    ("jobs: 4", "jobs: true", "jobs", "`jobs: 4`"),
    ("  retries: 4", "  retries: true", "api.retries", "`retries: 4`"),
    ("  context_tokens: 60000", "  context_tokens: true", "budget.context_tokens", "`context_tokens: 40000`"),
    ("jobs: 4", "jobs: 4\nmax_turns: false", "max_turns", "`max_turns: 30`"),
    ("jobs: 4", "jobs: 4\ntimeout: true", "timeout", "`timeout: 600`"),
    ("  claude-haiku-4-5: {input: 1.0, output: 5.0, cache_write: 1.25, cache_read: 0.1}",
     "  claude-haiku-4-5: {input: true, output: 5.0, cache_write: 1.25, cache_read: 0.1}",
     "prices['claude-haiku-4-5'].input", "`input: 3.0`"),
])
def test_a_count_in_the_config_given_as_true_is_refused_not_read_as_one(  # type: ignore[no-untyped-def]
    project: Path, agents, old: str, new: str, key: str, hint: str
) -> None:
    """`jobs: true` ran one step at a time, `retries: true` retried once: pydantic reads a bool as the int 1."""
    config = project / ".agents" / "config.yaml"
    text = config.read_text()
    lines = text.splitlines()
    assert old in lines
    config.write_text(text.replace(old + "\n", new + "\n", 1))
    line = lines.index(old) + 1 + new.count("\n")
    word = "false" if "false" in new else "true"
    said = f"{key}: a number is expected, not `{word}`"
    found = agents("-C", str(project), "validate", "--json")
    assert found.code == 2
    assert [(e["file"], e["line"], e["message"]) for e in found.json["errors"]] == [(".agents/config.yaml", line, said)]
    assert hint in found.json["errors"][0]["hint"]
    run = agents("-C", str(project), "run")
    assert run.code == 2 and f"error: .agents/config.yaml:{line}: {said}\nhint: " in run.err
    assert "Traceback" not in run.err


@pytest.mark.parametrize("key", ["retries", "max_turns", "timeout"])
def test_a_count_in_a_task_given_as_true_is_refused(project: Path, agents, key: str) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", role="developer", outputs=["t.txt"]).replace(
        "---\n", f"---\n{key}: true\n", 1)})
    found = agents("-C", str(project), "validate", "--json")
    assert found.code == 2
    (error,) = [e for e in found.json["errors"] if e["file"] == ".agents/tasks/t.md"]
    assert (error["line"], error["message"]) == (2, f"{key}: a number is expected, not `true`")


def test_a_limit_for_a_model_nothing_calls_is_a_warning_in_validate_and_run(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """A model name in `api.limits` that is no alias and no model of the project's roles, tasks and config
    (a typo: `sonet`) limited nothing, in silence. Model ids are open-ended, so it is a warning."""
    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo t > t.txt", outputs=["t.txt"])})
    config = project / ".agents" / "config.yaml"
    text = config.read_text()
    old = "    default: {concurrent: 5, tokens_per_minute: 400000}\n"
    config.write_text(text.replace(old, old + "    sonet: {concurrent: 2}\n    haiku: {concurrent: 3}\n"
                                   "    claude-opus-4-6: {concurrent: 1}\n"))
    git(project, "add", "-A")
    git(project, "commit", "-qm", "limits")
    line = text.splitlines().index(old.rstrip("\n")) + 2
    said = "api.limits: no model of the project is called 'sonet' - did you mean 'sonnet'?"
    found = agents("-C", str(project), "validate", "--json")
    assert found.code == 0 and found.json["errors"] == []
    warned = [w for w in found.json["warnings"] if w["file"] == ".agents/config.yaml"]
    assert [(w["line"], w["message"]) for w in warned] == [(line, said)]
    assert "model id or alias" in warned[0]["hint"]
    run = agents("-C", str(project), "run")
    assert run.code == 0 and f"warning: .agents/config.yaml:{line}: {said}" in run.err


def test_a_limit_under_an_alias_of_models_applies_to_its_model() -> None:
    """`models: {fast: claude-haiku-4-5}` with `api.limits: {fast: ...}`: the limit is the haiku calls'."""
    from agentfiles.core.models import Config
    from agentfiles.core.schema import parse

    config = parse(Config, {"models": {"fast": "claude-haiku-4-5", "sonnet": "claude-sonnet-4-5"},
                                    "api": {"limits": {"fast": {"concurrent": 2}, "sonnet": {"concurrent": 3}}}})
    assert config.api.limit("claude-haiku-4-5").concurrent == 2
    assert config.api.limit("claude-sonnet-4-5").concurrent == 3
    assert config.api.limit("claude-opus-4-6").concurrent == 5  # the default
