from __future__ import annotations

import pytest
from agentfiles.core.diagnostics import Invalid
from agentfiles.core.handoffs import Handoff
from agentfiles.core.models import Config, Role, Task
from agentfiles.core.schema import parse


def problems(model, data):  # type: ignore[no-untyped-def]
    with pytest.raises(Invalid) as info:
        parse(model, data)
    return [p.message for p in info.value.problems]


def test_unknown_key_names_the_nearest_valid_key() -> None:
    assert problems(Task, {"title": "t", "role": "dev", "output": ["a"]}) == [
        "unknown key 'output' - did you mean 'outputs'?"
    ]


def test_unknown_nested_key_names_its_place_and_nearest_key() -> None:
    found = problems(Task, {"title": "t", "role": "dev", "budget": {"context_token": 3}})
    assert found == ["budget: unknown key 'context_token' - did you mean 'context_tokens'?"]
    found = problems(Task, {"title": "t", "role": "dev", "inputs": [{"path": "a", "veiw": "outline"}]})
    assert found == ["inputs[0]: unknown key 'veiw' - did you mean 'view'?"]


def test_unknown_key_without_a_near_match_lists_valid_keys() -> None:
    (message,) = problems(Role, {"name": "r", "description": "d", "agents": {"zzz": 1}})
    assert message.startswith("agents: unknown key 'zzz' (valid keys: labels, budget, max_turns")


def test_missing_required_key_and_wrong_type() -> None:
    assert problems(Task, {"role": "dev"}) == ["missing required key 'title'"]
    (message,) = problems(Task, {"title": "t", "role": "dev", "retries": "often"})
    assert message.startswith("retries: input should be a valid integer") and "'often'" in message


def test_shorthands_normalise_to_the_full_form() -> None:
    task = parse(Task, 
        {
            "title": "t",
            "role": "dev",
            "needs": "a",
            "inputs": ["docs/x.md", {"path": "src/m.py", "view": "outline"}, {"handoff": "a"}],
            "outputs": "out/y.md",
            "acceptance": ["It reads well", {"run": "pytest -q"}],
        }
    )
    assert task.needs == ["a"]
    assert [i.key for i in task.inputs] == ["docs/x.md", "src/m.py", "handoff:a"]
    assert task.inputs[1].view == "outline"
    assert task.outputs == ["out/y.md"]
    assert task.prose_criteria == ["It reads well"]
    assert [c.run for c in task.checks] == ["pytest -q"]


@pytest.mark.parametrize(
    ("path", "why"),
    [("/etc/passwd", "absolute"), ("../x", "'..'"), ("a/../../b", "'..'"), (".git/config", ".git"), ("C:x", "absolute")],
)
def test_paths_that_leave_the_repository_are_refused(path: str, why: str) -> None:
    (message,) = problems(Task, {"title": "t", "role": "dev", "outputs": [path]})
    assert message.startswith("outputs[0]: path") and why in message


def test_paths_are_normalised() -> None:
    task = parse(Task, {"title": "t", "role": "dev", "outputs": ["./out//x.md"]})
    assert task.outputs == ["out/x.md"]


def test_task_consistency_rules() -> None:
    assert problems(Task, {"title": "t"}) == ["missing `role` (or `select` labels, or `run` for a command step)"]
    assert problems(Task, {"title": "t", "executor": "command"}) == [
        "`executor: command` needs `run: <shell command>`"
    ]
    assert problems(Task, {"title": "t", "role": "a", "select": {"lang": "py"}}) == [
        "give either `role` or `select`, not both"
    ]
    assert "at least two" in problems(Task, {"title": "t", "role": "m", "mode": "discussion", "participants": ["a"]})[0]
    assert parse(Task, {"title": "t", "run": "make"}).is_command


def test_invalid_task_ids_in_needs_are_refused() -> None:
    (message,) = problems(Task, {"title": "t", "role": "dev", "needs": ["ok", "Not OK"]})
    assert message.startswith("needs[1]: 'Not OK' is not a valid task id")


def test_config_defaults_and_model_resolution() -> None:
    config = parse(Config, {"models": {"fast": "claude-haiku-4-5"}})
    assert config.resolve_model(None) == "claude-sonnet-4-6"
    assert config.resolve_model("inherit") == "claude-sonnet-4-6"
    assert config.resolve_model("fast") == "claude-haiku-4-5"
    assert config.resolve_model("claude-x") == "claude-x"
    assert config.price("claude-sonnet-4-6") is not None


def test_handoff_schema_key_and_status() -> None:
    handoff = parse(Handoff, {"schema": 1, "task": "a", "run": "r1", "status": "done"})
    assert handoff.schema_version == 1
    assert problems(Handoff, {"schema": 1, "task": "a", "run": "r", "status": "finished"})[0].startswith("status:")


def test_role_labels_accept_scalars_and_lists() -> None:
    role = parse(Role, 
        {"name": "r", "description": "d", "agents": {"labels": {"lang": ["python", "go"], "gpu": True, "n": 2}}}
    )
    assert role.labels() == {"lang": ["python", "go"], "gpu": ["true"], "n": ["2"]}
