from __future__ import annotations

from agentfiles.core.graph import OutputIndex, TaskGraph
from agentfiles.core.models import Task
from agentfiles.core.schema import parse


def tasks(**needs: list[str]) -> dict[str, Task]:
    return {tid: parse(Task, {"title": tid, "run": "true", "needs": ns}) for tid, ns in needs.items()}


def test_order_follows_needs_with_ties_by_id() -> None:
    graph = TaskGraph.build(tasks(c=["a"], b=[], a=[], d=["c", "b"]))
    assert graph.order() == (["a", "b", "c", "d"], [])


def test_cycles_are_reported_as_closed_paths() -> None:
    graph = TaskGraph.build(tasks(a=["b"], b=["a"], c=["c"], d=["a"], e=[]))
    assert graph.cycles() == [["a", "b", "a"], ["c", "c"]]
    order, blocked = graph.order()
    assert order == ["e"] and blocked == ["a", "b", "c", "d"]


def test_longer_cycle_path_follows_needs() -> None:
    graph = TaskGraph.build(tasks(a=["b"], b=["c"], c=["a"]))
    assert graph.cycles() == [["a", "b", "c", "a"]]


def test_requires_is_transitive() -> None:
    graph = TaskGraph.build(tasks(a=[], b=["a"], c=["b"], d=[]))
    assert graph.requires("c", "a") and graph.requires("b", "a")
    assert not graph.requires("a", "c") and not graph.requires("d", "a")


def test_unknown_needs_are_ignored_for_order() -> None:
    graph = TaskGraph.build(tasks(a=["ghost"]))
    assert graph.order() == (["a"], [])


def test_edges_name_needs_handoffs_and_reads() -> None:
    made = {
        "a": parse(Task, {"title": "a", "run": "x", "outputs": ["out/a.txt", "docs/a.md"]}),
        "b": parse(Task, 
            {"title": "b", "run": "y", "needs": ["a"], "inputs": ["out/a.txt", {"handoff": "a"}, "docs/*.md"]}
        ),
    }
    edges = {(e.source, e.target, e.kind, e.detail) for e in TaskGraph.build(made).edges}
    assert edges == {
        ("a", "b", "needs", ""),
        ("a", "b", "handoff", ""),
        ("a", "b", "reads", "out/a.txt"),
        ("a", "b", "reads", "docs/a.md"),
    }


def test_output_index_covers_files_folders_and_globs() -> None:
    index = OutputIndex({"a": parse(Task, {"title": "a", "run": "x", "outputs": ["out/x/1.txt", "out/y.txt"]})})
    assert index.covering("out/y.txt") == [("out/y.txt", "a")]
    assert index.covering("out") == [("out/x/1.txt", "a"), ("out/y.txt", "a")]
    assert index.covering("out/**/*.txt") == [("out/x/1.txt", "a")]
    assert index.covering("ou") == []
