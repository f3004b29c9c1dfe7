"""`agents graph`: the task graph as Mermaid (default) or Graphviz DOT, nodes labelled with their state."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from enum import Enum

import typer

from agentfiles.commands.output import Options


class Format(str, Enum):
    mermaid = "mermaid"
    dot = "dot"


def _mermaid(nodes: list[tuple[str, str, str]], links: dict[tuple[str, str], list[str]]) -> str:
    ids = {task_id: f"t{i}" for i, (task_id, _, _) in enumerate(nodes)}
    lines = ["flowchart LR"]
    for task_id, state, kind in nodes:
        lines.append(f'  {ids[task_id]}["{task_id}<br/>{state} · {kind}"]:::{state}')
    for (source, target), labels in links.items():
        if source not in ids or target not in ids:
            continue
        arrow = "-->" if "needs" in labels else "-.->"
        text = " + ".join(labels).replace('"', "'")
        lines.append(f'  {ids[source]} {arrow}|"{text}"| {ids[target]}')
    from agentfiles.core.state import STATE_FILL

    used = {state for _, state, _ in nodes}
    for state, fill in STATE_FILL.items():
        if state in used:
            lines.append(f"  classDef {state} fill:{fill},stroke:#495057")
    return "\n".join(lines) + "\n"


def _dot(nodes: list[tuple[str, str, str]], links: dict[tuple[str, str], list[str]]) -> str:
    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    from agentfiles.core.state import STATE_FILL

    lines = ["digraph agents {", "  rankdir=LR;", '  node [shape=box, style="rounded,filled"];']
    known = {task_id for task_id, _, _ in nodes}
    for task_id, state, kind in nodes:
        label = quote(f"{task_id}\\n{state} · {kind}").replace("\\\\n", "\\n")
        lines.append(f"  {quote(task_id)} [label={label}, fillcolor={quote(STATE_FILL[state])}];")
    for (source, target), labels in links.items():
        if source not in known or target not in known:
            continue
        style = "" if "needs" in labels else ", style=dashed"
        lines.append(f"  {quote(source)} -> {quote(target)} [label={quote(' + '.join(labels))}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def graph_command(
    ctx: typer.Context,
    fmt: Format = typer.Option(Format.mermaid, "--format", "-f", help="mermaid or dot."),
    json_output: bool = typer.Option(False, "--json", help="Print nodes and edges as one JSON object."),
) -> int:
    """Print the task graph: nodes labelled with state, kind and execution mode, edges with the link (needs, handoff, reads)."""
    from agentfiles.core.graph import Edge
    from agentfiles.runner.preflight import with_context_budgets
    from agentfiles.storage.workspace import open_workspace

    opts: Options = ctx.obj
    out = opts.out(json_output)
    workspace = open_workspace(opts.directory)
    states = with_context_budgets(workspace, workspace.states())  # as `agents status` shows them
    project = workspace.project
    tasks = project.tasks

    def kind(task_id: str) -> str:
        if task_id not in tasks:
            return "invalid"
        return tasks[task_id].model.kind

    def modes(task_id: str) -> list[str]:
        return tasks[task_id].model.modes if task_id in tasks else []

    def label(task_id: str) -> str:
        return " · ".join([kind(task_id), *([" + ".join(modes(task_id))] if modes(task_id) else [])])

    # A foreach task is one node (its state sums up its items'), as it is one file; a task whose file
    # cannot be loaded is a node too, marked invalid, with the needs that could still be read.
    shown = set(tasks) | set(project.broken_tasks)
    nodes = [(task_id, states[task_id].state, label(task_id)) for task_id in states if task_id in shown]
    edges = workspace.graph.edges + [
        Edge(need, task_id, "needs") for task_id, needs in project.broken_tasks.items() for need in needs
    ]
    for task_id, state, _ in nodes:
        if state == "invalid":
            out.diagnostic("warning", f"{task_id}: {states[task_id].reasons[0]}", "`agents validate` lists every problem")
    if out.json_mode:
        out.json(
            "graph",
            {
                "nodes": [
                    {"id": t, "state": s, "kind": kind(t), "modes": modes(t), "reasons": states[t].reasons}
                    for t, s, _ in nodes
                ],
                "edges": [
                    {"from": e.source, "to": e.target, "kind": e.kind, "path": e.detail or None} for e in edges
                ],
            },
        )
        return 0
    from agentfiles.core.graph import link_labels

    links = link_labels(edges)
    text = _mermaid(nodes, links) if fmt is Format.mermaid else _dot(nodes, links)
    out.line(text.rstrip("\n"))
    return 0


def register(app: typer.Typer) -> None:
    app.command("graph")(graph_command)
