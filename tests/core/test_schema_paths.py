"""The two paths of core/schema.py decide alike: over every convention document of this repository, its
templates and example, and edge cases of each rule (aliases, defaults, coercions, strict fields, the
before-validators), what the msgspec Structs accept pydantic accepts, with the same values and the same
dumps; what pydantic refuses the Structs refuse, and `parse` then raises pydantic's problems."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import msgspec
import pytest
from pydantic import ValidationError

from agentfiles.core.diagnostics import Invalid
from agentfiles.core.explain import _struct, explainer, problems_from
from agentfiles.core.handoffs import CachedApproval, Handoff, Routing
from agentfiles.core.models import Config, Role, Task
from agentfiles.core.schema import _PREPARE, parse
from agentfiles.storage.documents import load_yaml_text, parse_document, read_text
from conftest import ROOT

SHA = "sha256:" + "a" * 64
DUMPS = [{}, {"exclude_defaults": True}, {"exclude_none": True}, {"exclude_defaults": True, "exclude_none": True}]


def corpus() -> list[tuple[type, dict[str, Any], str]]:
    """Every task, role, handoff and config document of the repository (its own .agents/, the templates,
    the example), as read from its file."""
    found: list[tuple[type, dict[str, Any], str]] = []
    kinds = {"tasks": Task, "roles": Role, "handoffs": Handoff, "agents": Role}
    for path in sorted(ROOT.glob("**/*.md")) + sorted(ROOT.glob("**/config.yaml")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv/", ".git/")) or "/runs/" in rel:
            continue
        kind = Config if path.name == "config.yaml" else kinds.get(path.parent.name)
        if kind is None:
            continue
        text = read_text(path)
        meta = load_yaml_text(text) if kind is Config else parse_document(text).meta
        found.append((kind, meta, rel))
    return found


def fast(kind: type, data: Any) -> Any:
    prepare = _PREPARE.get(kind)
    try:
        return msgspec.convert(prepare(data) if prepare and isinstance(data, dict) else data, kind)
    except (msgspec.ValidationError, ValueError, TypeError):
        return None


def slow(kind: type, data: Any) -> Any:
    try:
        return explainer(kind).model_validate(data)
    except ValidationError:
        return None


def same(kind: type, data: Any) -> tuple[Any, Any]:
    """Both paths' answers, held to agree: the Struct's values and dumps are pydantic's."""
    quick, model = fast(kind, data), slow(kind, data)
    if quick is not None:
        assert model is not None, f"the fast path accepts what pydantic refuses: {data!r}"
        assert quick == _struct(model), data
        for options in DUMPS:
            mine = json.dumps(quick.dump(**options))
            theirs = json.dumps(model.model_dump(mode="json", by_alias=True, **options))
            assert mine == theirs, (data, options)
    if model is None:
        with pytest.raises(Invalid) as refused:
            parse(kind, data)
        with pytest.raises(ValidationError) as error:
            explainer(kind).model_validate(data)
        assert refused.value.problems == problems_from(explainer(kind), error.value)
    else:
        assert parse(kind, data) == _struct(model)
    return quick, model


@pytest.mark.parametrize(("kind", "meta", "rel"), corpus(), ids=lambda v: v if isinstance(v, str) else "")
def test_every_document_of_the_repository_takes_the_fast_path(kind: type, meta: dict[str, Any], rel: str) -> None:
    quick, model = same(kind, meta)
    assert model is not None and quick is not None, rel


def test_the_corpus_holds_each_kind() -> None:
    kinds = {kind for kind, _, _ in corpus()}
    assert kinds == {Task, Role, Handoff, Config}


TASK = {"title": "t", "role": "dev"}
ROLE = {"name": "r", "description": "d"}
HANDOFF = {"schema": 1, "task": "a", "run": "r1", "status": "done"}
FULL_HANDOFF = {
    **HANDOFF, "item": "src/./a.py", "role": "dev", "executor": "agent", "model": "m", "isolation": "os",
    "definition": SHA, "definition_parts": {"task": SHA, "role": SHA}, "inputs": {"a//b.txt": SHA, "handoff:x": SHA},
    "outputs": {"./o.txt": SHA}, "deleted": ["d.txt"], "upstream": {"x": "r0", "f@src/a.py": "r0"},
    "usage": {"input_tokens": 3, "cost_usd": 1, "duration_s": 2}, "failure": {"kind": "crash", "detail": "x"},
    "verification": {"verdict": "pass", "verifier": "rev", "checks": [{"criterion": "c", "verdict": "pass"}],
                     "agree": "all", "panel": [{"verifier": "a", "verdict": "fail", "checks": []}]},
    "routing": {"role": "dev", "candidates": [{"role": "dev", "score": 1, "matched": ["k=v"]}]},
    "review": {"state": "approved", "by": "me", "at": "now"}, "cached_from": "r0",
    "cached_approval": {"run": "r0", "commit": "a" * 40, "by": "me"}, "started": "s", "finished": "f",
}

EDGES: list[tuple[type, Any]] = [
    # aliases and defaults
    (Config, {}), (Config, {"schema": 1}), (Config, {"schema_version": 1}), (Config, {"schema": 2}),
    (Config, {"schema": True}), (Config, {"schema": 1.0}), (Config, {"jobs": "4"}), (Config, {"jobs": 0}),
    (Config, {"jobs": 256}), (Config, {"jobs": 257}), (Config, {"timeout": 5}), (Config, {"timeout": 5.5}),
    (Config, {"timeout": 0}), (Config, {"timeout": float("inf")}), (Config, {"timeout": float("nan")}),
    (Config, {"timeout": "5"}), (Config, {"timeout": True}), (Config, {"network": "yes"}), (Config, {"network": 1}),
    (Config, {"verifier": "a"}), (Config, {"verifier": ["a", "b"]}), (Config, {"verifier": ["a", 1]}),
    (Config, {"verifier": {"a": 1}}), (Config, {"budget": {"usd": 1}}), (Config, {"budget": {"usd": 0}}),
    (Config, {"budget": {"context_tokens": 10, "precise": True}}), (Config, {"budget": None}),
    (Config, {"api": {"limits": {"default": {"concurrent": True}}}}),
    (Config, {"api": {"limits": {"default": {"concurrent": 2, "tokens_per_minute": 1000}}}}),
    (Config, {"api": {"limits": {"fast": {"concurrent": 2}}}, "models": {"fast": "claude-haiku-4-5"}}),
    (Config, {"api": {"retries": 21}}), (Config, {"api": {"provider": "azure"}}), (Config, {"api": {"stall_s": 1}}),
    (Config, {"api": {"backoff_s": 0}}), (Config, {"prices": {"m": {"input": 1, "output": 2}}}),
    (Config, {"prices": {"m": {"input": -1, "output": 2}}}), (Config, {"prices": {"m": {"input": 1}}}),
    (Config, {"commit": {"enabled": False}}), (Config, {"commit": {"sign": True}}),
    (Config, {"commit": {"definitions": False}}),
    (Config, {"toolchain": [".venv"]}), (Config, {"toolchain": [".git/x"]}), (Config, {"toolchain": [""]}),
    (Config, {"toolchain": "x"}), (Config, {"cluster": "local:2"}), (Config, {"cluster": "nowhere"}),
    (Config, {"models": {"a": 1}}), (Config, {"models": {1: "a"}}), (Config, {"isolation": "os"}),
    (Config, {"isolation": "vm"}), (Config, {"cache": False}), (Config, {"executor": "claude-code"}),
    (Config, {"jobs": 2**70}), (Config, {"model": None}), (Config, {"modle": "x"}), (Config, []), (Config, "x"),
    # roles: Claude Code's keys, labels as text, `agents:` empty
    (Role, ROLE), (Role, {**ROLE, "agents": None}), (Role, {**ROLE, "agents": {}}), (Role, {"name": "r"}),
    (Role, {**ROLE, "agents": {"labels": {"lang": "py", "level": 2, "on": True, "r": 1.5, "list": [1, "a", False]}}}),
    (Role, {**ROLE, "agents": {"labels": {"a": None}}}), (Role, {**ROLE, "agents": {"labels": {"a": {"b": 1}}}}),
    (Role, {**ROLE, "agents": {"labels": "x"}}), (Role, {**ROLE, "agents": {"budget": {"output_tokens": 5}}}),
    (Role, {**ROLE, "agents": {"max_turns": 0}}), (Role, {**ROLE, "agents": {"cache": False, "network": True}}),
    (Role, {**ROLE, "tools": "Read, Grep"}), (Role, {**ROLE, "tools": ["Read"]}), (Role, {**ROLE, "tools": 3}),
    (Role, {**ROLE, "mcpServers": {"x": {"a": [1, None]}}, "hooks": [{"k": None}], "maxTurns": 3}),
    (Role, {**ROLE, "hooks": {"when": datetime.date(2024, 1, 2)}}), (Role, {**ROLE, "maxTurns": "3"}),
    (Role, {**ROLE, "maxTurns": True}), (Role, {**ROLE, "background": "no"}), (Role, {**ROLE, "disabled": False}),
    (Role, {**ROLE, "description": datetime.date(2024, 1, 2)}), (Role, {**ROLE, "colour": "red"}),
    (Role, {**ROLE, "model": "inherit", "permissionMode": "plan", "skills": ["a"], "memory": "m", "effort": "high"}),
    # tasks: shorthands, folders as globs, strict samples, the rules between keys
    (Task, TASK), (Task, {"title": "", "role": "dev"}), (Task, {"title": 5, "role": "dev"}), (Task, {"role": "x"}),
    (Task, {**TASK, "needs": "a"}), (Task, {**TASK, "needs": ["A"]}), (Task, {**TASK, "needs": ["a", "b.c"]}),
    (Task, {**TASK, "inputs": "src/"}), (Task, {**TASK, "inputs": ["src/p*/", {"path": "d/*/"}, {"handoff": "x"}]}),
    (Task, {**TASK, "inputs": [{"path": "a", "view": "outline"}, {"handoff": "x", "view": "outline"}]}),
    (Task, {**TASK, "inputs": [{"path": "a", "handoff": "x"}]}), (Task, {**TASK, "inputs": [{}]}),
    (Task, {**TASK, "inputs": [{"path": "../a"}]}), (Task, {**TASK, "inputs": [{"path": "/a"}]}),
    (Task, {**TASK, "inputs": [{"handoff": "Bad"}]}), (Task, {**TASK, "inputs": [3]}),
    (Task, {**TASK, "outputs": "docs/"}), (Task, {**TASK, "outputs": ["./a//b.txt", "src/p*/", "c\\d"]}),
    (Task, {**TASK, "outputs": [".git/x"]}), (Task, {**TASK, "outputs": [1]}),
    (Task, {**TASK, "acceptance": "it works"}), (Task, {**TASK, "acceptance": ["a", {"run": "make", "timeout": 5}]}),
    (Task, {**TASK, "acceptance": [{"text": "a", "run": "b"}]}), (Task, {**TASK, "acceptance": [{"timeout": 1}]}),
    (Task, {**TASK, "acceptance": [{"run": "x", "timeout": 0}]}),
    (Task, {**TASK, "samples": 3}), (Task, {**TASK, "samples": True}), (Task, {**TASK, "samples": 3.0}),
    (Task, {**TASK, "samples": "3"}), (Task, {**TASK, "samples": 10}), (Task, {**TASK, "retries": 2.0}),
    (Task, {**TASK, "retries": "2"}), (Task, {**TASK, "retries": 11}), (Task, {**TASK, "timeout": 3}),
    (Task, {**TASK, "timeout": 0.5}), (Task, {**TASK, "timeout": -1}), (Task, {**TASK, "rounds": 0}),
    (Task, {**TASK, "verifier": ["a", "b"], "agree": "majority"}), (Task, {**TASK, "agree": "all"}),
    (Task, {**TASK, "agree": "most"}), (Task, {**TASK, "compare": "verifier", "samples": 2}),
    (Task, {"title": "t", "select": {"lang": "py"}}), (Task, {"title": "t", "select": {"lang": 1}}),
    (Task, {"title": "t", "role": "a", "select": {"lang": "py"}}),
    (Task, {"title": "t", "select": {"lang": "py"}, "route": "model"}),
    (Task, {"title": "t", "run": "make"}), (Task, {"title": "t", "executor": "command"}),
    (Task, {"title": "t", "run": "make", "executor": "agent", "role": "a"}), (Task, {"title": "t"}),
    (Task, {"title": "t", "run": "make", "executor": "command", "env": "A", "publish_secrets": "A"}),
    (Task, {"title": "t", "run": "make", "publish_secrets": ["B"]}), (Task, {**TASK, "foreach": "src/*.py"}),
    (Task, {**TASK, "foreach": "../x"}), (Task, {**TASK, "mode": "discussion", "participants": ["a", "b"]}),
    (Task, {**TASK, "mode": "discussion", "participants": "a"}), (Task, {**TASK, "participants": ["a", "b"]}),
    (Task, {**TASK, "mode": "discussion", "participants": ["a", "b"], "samples": 2}),
    (Task, {**TASK, "budget": {"usd": 0.5, "context_tokens": 100}}), (Task, {**TASK, "budget": {"usd": "1"}}),
    (Task, {**TASK, "isolation": "folder", "network": True, "cache": False, "model": "opus", "max_turns": 3}),
    (Task, {**TASK, "max_turns": 0}), (Task, {**TASK, "network": "off"}), (Task, {**TASK, "ouputs": []}),
    (Task, {**TASK, "env": None}), (Task, {**TASK, "needs": None}), (Task, None), (Task, ["x"]),
    # handoffs
    (Handoff, HANDOFF), (Handoff, FULL_HANDOFF), (Handoff, {**HANDOFF, "schema_version": 1, "schema": None}),
    (Handoff, {**HANDOFF, "inputs": None, "outputs": None}), (Handoff, {**HANDOFF, "deleted": None}),
    (Handoff, {**HANDOFF, "definition": SHA + "\n"}), (Handoff, {**HANDOFF, "definition": SHA.upper()}),
    (Handoff, {**HANDOFF, "definition_parts": {"tool": SHA}}), (Handoff, {**HANDOFF, "inputs": {"../x": SHA}}),
    (Handoff, {**HANDOFF, "inputs": {"handoff:Bad": SHA}}), (Handoff, {**HANDOFF, "outputs": {"a": "sha256:1"}}),
    (Handoff, {**HANDOFF, "task": "a@src/x.py"}), (Handoff, {**HANDOFF, "task": "A"}), (Handoff, {**HANDOFF, "run": "-x"}),
    (Handoff, {**HANDOFF, "status": "ok"}), (Handoff, {**HANDOFF, "upstream": {"x": "bad run"}}),
    (Handoff, {**HANDOFF, "usage": {"input_tokens": True, "cost_usd": "0.5"}}),
    (Handoff, {**HANDOFF, "usage": {"turns": 1.0}}),
    (Handoff, {**HANDOFF, "failure": {"kind": "oops"}}), (Handoff, {**HANDOFF, "item": "/etc/passwd"}),
    (Handoff, {**HANDOFF, "cached_approval": {"run": "r", "commit": "A" * 40}}), (Handoff, {**HANDOFF, "started": 5}),
    (Handoff, {**HANDOFF, "started": datetime.datetime(2024, 1, 2, 3, 4, 5)}), (Handoff, {**HANDOFF, "extra": 1}),
    (CachedApproval, {"run": "r0", "commit": "a" * 40}), (CachedApproval, {"run": "r0", "commit": "a" * 40 + "\n"}),
    (Routing, {"role": "dev", "method": "model", "candidates": [{"role": "a", "score": 0.5}]}),
    (Routing, {"role": "dev", "method": "magic"}),
]


@pytest.mark.parametrize(("kind", "data"), EDGES, ids=[f"{k.__name__}-{i}" for i, (k, _) in enumerate(EDGES)])
def test_both_paths_decide_each_edge_alike(kind: type, data: Any) -> None:
    same(kind, data)


def test_the_edges_take_both_paths() -> None:
    """The cases are not all of one kind: some the fast path takes, some only pydantic, some neither."""
    outcomes = {(fast(k, d) is not None, slow(k, d) is not None) for k, d in EDGES}
    assert outcomes == {(True, True), (False, True), (False, False)}


def test_what_pydantic_alone_accepts_is_read_as_pydantic_reads_it() -> None:
    config = parse(Config, {"jobs": "8", "schema_version": 1, "network": "yes"})
    assert (config.jobs, config.schema_version, config.network) == (8, 1, True)
    assert parse(Task, {**TASK, "retries": 2.0}).retries == 2


def test_a_task_keeps_the_keys_its_document_gave() -> None:
    assert "agree" in parse(Task, {**TASK, "agree": "all"}).fields_set
    assert "agree" not in parse(Task, TASK).fields_set
    assert "agree" in parse(Task, {**TASK, "agree": "all", "retries": "1"}).fields_set  # through pydantic too


def test_the_repository_documents_are_there() -> None:
    assert any(rel.startswith("templates/") for _, _, rel in corpus())
    assert Path(ROOT / ".agents/handoffs").is_dir()


def test_each_struct_has_the_fields_of_its_pydantic_model() -> None:
    """A key added to one path and not the other fails here, before any document needs it: the same
    fields in the same order, with the same keys (aliases) and defaults."""
    from agentfiles.core.explain import _STRUCTS
    from agentfiles.core.fields import REQUIRED, layout

    assert len(_STRUCTS) == 21
    for name, kind in _STRUCTS.items():
        model = explainer(kind)
        mine = [(field, key, None if default is REQUIRED else default) for field, key, default in layout(kind)]
        theirs = [(field, info.alias or field, None if info.is_required() else
                   _struct(info.get_default(call_default_factory=True))) for field, info in model.model_fields.items()]
        assert mine == theirs, name
