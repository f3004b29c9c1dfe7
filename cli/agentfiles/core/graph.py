"""The task graph: who needs whom, who reads whose handoff or outputs; order, cycles and reachability."""

from __future__ import annotations

import bisect
import fnmatch
import heapq
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from agentfiles.core.paths import has_glob
from agentfiles.core.records import record

if TYPE_CHECKING:
    from agentfiles.core.models import Task

EdgeKind = Literal["needs", "handoff", "reads"]


@dataclass(frozen=True)
class Edge:
    """`source` comes before `target`: the target needs it, reads its handoff, or reads one of its outputs."""

    source: str
    target: str
    kind: EdgeKind
    detail: str = ""


@record
class TaskGraph:
    """The tasks and their `needs:` as a graph: order, cycles, ancestors (each worked out once)."""

    tasks: dict[str, Task]
    _needs: dict[str, list[str]] | None = None
    _edges: list[Edge] | None = None
    _ancestors: dict[str, int] | None = None

    def __post_init__(self) -> None:
        if self._needs is None:
            self._needs = {t: [n for n in task.needs if n in self.tasks] for t, task in self.tasks.items()}

    @classmethod
    def build(cls, tasks: dict[str, Task]) -> TaskGraph:
        return cls(tasks)

    @classmethod
    def from_needs(cls, needs: dict[str, list[str]]) -> TaskGraph:
        """A graph of ids and needs only (no task models): enough for order, cycles and reachability."""
        return cls({}, {t: [n for n in ns if n in needs] for t, ns in needs.items()})

    @property
    def edges(self) -> list[Edge]:
        """Every link between tasks, by target: needs, handoff inputs, and inputs that are another's outputs."""
        if self._edges is None:
            self._edges = []
            producers = OutputIndex(self.tasks)
            for task_id in sorted(self.tasks):
                task = self.tasks[task_id]
                for need in task.needs:
                    self._edges.append(Edge(need, task_id, "needs"))
                for spec in task.inputs:
                    if spec.handoff is not None:
                        self._edges.append(Edge(spec.handoff, task_id, "handoff"))
                    elif spec.path is not None:
                        for path, owner in producers.covering(spec.path):
                            if owner != task_id:
                                self._edges.append(Edge(owner, task_id, "reads", path))
        return self._edges

    def needs(self, task_id: str) -> list[str]:
        """The known tasks `task_id` needs directly."""
        assert self._needs is not None
        return self._needs[task_id]

    @property
    def ids(self) -> list[str]:
        assert self._needs is not None
        return list(self._needs)

    def order(self) -> tuple[list[str], list[str]]:
        """A dependency order of the tasks (by `needs`, ties by id), and the tasks a cycle keeps out of it."""
        indegree = {t: 0 for t in self.ids}
        dependents: dict[str, list[str]] = {t: [] for t in self.ids}
        for task_id in self.ids:
            for need in set(self.needs(task_id)):
                indegree[task_id] += 1
                dependents[need].append(task_id)
        ready = [t for t, n in indegree.items() if n == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            task_id = heapq.heappop(ready)
            order.append(task_id)
            for dependent in dependents[task_id]:
                indegree[dependent] -= 1
                if indegree[dependent] == 0:
                    heapq.heappush(ready, dependent)
        placed = set(order)
        return order, sorted(t for t in self.ids if t not in placed)

    def cycles(self) -> list[list[str]]:
        """Each dependency cycle once, as a closed path `[a, b, a]` starting at its smallest id."""
        found: list[list[str]] = []
        for component in _strong_components({t: self.needs(t) for t in self.ids}):
            members = set(component)
            start = min(component)
            if len(component) == 1 and start not in self.needs(start):
                continue
            path = _cycle_through(start, members, self.needs)
            found.append(path)
        return sorted(found)

    def requires(self, task_id: str, other: str) -> bool:
        """True when `task_id` needs `other`, directly or transitively."""
        if self._ancestors is None:
            self._ancestors = self._compute_ancestors()
        index = self._index[other]
        return bool(self._ancestors.get(task_id, 0) >> index & 1)

    def _compute_ancestors(self) -> dict[str, int]:
        self._index = {t: i for i, t in enumerate(sorted(self.ids))}
        order, _ = self.order()
        bits: dict[str, int] = {}
        for task_id in order:
            value = 0
            for need in self.needs(task_id):
                value |= (1 << self._index[need]) | bits.get(need, 0)
            bits[task_id] = value
        return bits


def link_labels(edges: list[Edge]) -> dict[tuple[str, str], list[str]]:
    """Edge labels grouped by (source, target): `needs`, `handoff`, `reads <path>`."""
    grouped: dict[tuple[str, str], list[str]] = {}
    for edge in edges:
        label = f"reads {edge.detail}" if edge.kind == "reads" else edge.kind
        labels = grouped.setdefault((edge.source, edge.target), [])
        if label not in labels:
            labels.append(label)
    return grouped


class OutputIndex:
    """Declared outputs and the tasks declaring them, searchable by an input's path, folder or glob."""

    def __init__(self, tasks: dict[str, Task]) -> None:
        self.owners: dict[str, list[str]] = {}
        for task_id in sorted(tasks):
            for path in tasks[task_id].outputs:
                self.owners.setdefault(path, []).append(task_id)
        self._sorted = sorted(p for p in self.owners if not has_glob(p))
        self.globs = sorted(p for p in self.owners if has_glob(p))  # outputs that are globs (or folders)

    def covering(self, pattern: str, folder: bool = True) -> list[tuple[str, str]]:
        """The (output path, task) pairs an input path, folder or glob covers: an output glob counts
        when a file could match both it and the input. `folder`: a plain path may be a folder (False
        for a file of the repository: nothing is under it)."""
        from agentfiles.core.globs import overlap, reserved

        if has_glob(pattern):
            hits = [p for p in self._sorted if fnmatch.fnmatchcase(p, pattern)]
            hits += [g for g in self.globs if overlap(pattern, g)]
        else:
            hits = [pattern] if pattern in self.owners else []
            prefix = pattern.rstrip("/") + "/"
            start = bisect.bisect_left(self._sorted, prefix)
            while start < len(self._sorted) and self._sorted[start].startswith(prefix):
                hits.append(self._sorted[start])
                start += 1
            if not reserved(pattern):  # no glob names CLAUDE.md
                under = pattern.rstrip("/") + ("/**" if folder else "")  # the file, or under the folder
                hits += [g for g in self.globs if overlap(under, g)]
        return [(path, owner) for path in hits for owner in self.owners[path]]


def _strong_components(adjacency: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative so that long chains do not hit the recursion limit."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    components: list[list[str]] = []
    counter = 0
    for root in sorted(adjacency):
        if root in index:
            continue
        work = [(root, iter(adjacency[root]))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(adjacency[child])))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                components.append(sorted(component))
    return components


def _cycle_through(start: str, members: set[str], needs) -> list[str]:  # type: ignore[no-untyped-def]
    """A shortest closed path from `start` back to itself inside one strongly connected component."""
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for child in sorted(needs(node)):
                if child not in members:
                    continue
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [start, start]
