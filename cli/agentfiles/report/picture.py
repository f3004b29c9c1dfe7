"""The task graph as a picture: a layered layout computed here (each task one layer after the furthest
task it depends on, rows ordered by the barycentre of their neighbours) and drawn as inline SVG, each
node a link to its step's page. Nothing is laid out in the browser."""

from __future__ import annotations

from html import escape

from agentfiles.core.records import record
from agentfiles.report.html import plural

NODE_H = 46
GAP_X = 64
GAP_Y = 18
PAD_X = 12
MARGIN = 8
ID_CHAR_W = 7.3  # 12px monospace
CAPTION_CHAR_W = 6.2  # 11px sans-serif, on average
SWEEPS = 4


@record
class Node:
    id: str
    state: str
    caption: str  # state, kind and modes
    href: str
    fill: str
    tooltip: str = ""

    @property
    def width(self) -> float:
        return max(120.0, len(self.id) * ID_CHAR_W, len(self.caption) * CAPTION_CHAR_W) + 2 * PAD_X


def layers(ids: list[str], links: list[tuple[str, str]]) -> dict[str, int]:
    """Each node's layer: one more than the furthest of its predecessors (longest path from a source).
    Nodes on a cycle are placed after whatever of their predecessors could be placed."""
    known = set(ids)
    preds: dict[str, set[str]] = {n: set() for n in ids}
    succs: dict[str, set[str]] = {n: set() for n in ids}
    for source, target in links:
        if source in known and target in known and source != target:
            preds[target].add(source)
            succs[source].add(target)
    indegree = {n: len(preds[n]) for n in ids}
    ready = [n for n in ids if indegree[n] == 0]
    layer: dict[str, int] = {}
    while True:
        while ready:
            node = ready.pop()
            layer[node] = max((layer[p] + 1 for p in preds[node] if p in layer), default=0)
            for child in succs[node]:
                indegree[child] -= 1
                if indegree[child] == 0:
                    ready.append(child)
        rest = [n for n in ids if n not in layer]
        if not rest:
            return layer
        ready.append(rest[0])  # break a cycle at its first node in the given order
        indegree[rest[0]] = 0


def arrange(ids: list[str], links: list[tuple[str, str]]) -> list[list[str]]:
    """Rows of each layer, ordered to keep linked nodes level (a few barycentre sweeps, both ways)."""
    layer = layers(ids, links)
    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for node in ids:  # the given order (dependency order) is the first guess
        rows[layer[node]].append(node)
    neighbours: dict[str, list[str]] = {n: [] for n in ids}
    for source, target in links:
        if source in neighbours and target in neighbours and source != target:
            neighbours[source].append(target)
            neighbours[target].append(source)
    for sweep in range(SWEEPS):
        order = range(1, len(rows)) if sweep % 2 == 0 else range(len(rows) - 2, -1, -1)
        position = {n: i for row in rows for i, n in enumerate(row)}
        for index in order:
            centre: dict[str, float] = {}
            for name in rows[index]:
                near = [position[m] for m in neighbours[name] if layer[m] != index]
                centre[name] = sum(near) / len(near) if near else position[name]
            rows[index].sort(key=centre.__getitem__)
            position.update({n: i for i, n in enumerate(rows[index])})
    return rows


def graph_svg(nodes: list[Node], links: dict[tuple[str, str], list[str]]) -> str:
    """The inline SVG of the graph; empty when there are no nodes."""
    if not nodes:
        return ""
    by_id = {n.id: n for n in nodes}
    rows = arrange([n.id for n in nodes], list(links))
    widths = [max(by_id[n].width for n in row) if row else 0 for row in rows]
    tallest = max(len(row) for row in rows)
    height = tallest * (NODE_H + GAP_Y) - GAP_Y + 2 * MARGIN
    width = sum(widths) + GAP_X * (len(rows) - 1) + 2 * MARGIN
    box: dict[str, tuple[float, float, float]] = {}  # x, y, width
    x = float(MARGIN)
    for row, row_width in zip(rows, widths):
        top = MARGIN + (height - 2 * MARGIN - (len(row) * (NODE_H + GAP_Y) - GAP_Y)) / 2
        for i, name in enumerate(row):
            box[name] = (x, top + i * (NODE_H + GAP_Y), row_width)
        x += row_width + GAP_X
    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="graph" viewBox="0 0 {width:.0f} {height:.0f}" '
         f'width="{width:.0f}" height="{height:.0f}" role="img" aria-labelledby="graph-title">'),
        f'<title id="graph-title">Task graph: {plural(len(nodes), "task file")}</title>',
        ('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
         'orient="auto"><path d="M0,0 L10,5 L0,10 z" class="arrowhead"/></marker></defs>'),
        '<g class="edges">',
    ]
    for (source, target), labels in links.items():
        if source not in box or target not in box or source == target:
            continue
        sx, sy, sw = box[source]
        tx, ty, _ = box[target]
        x1, y1, x2, y2 = sx + sw, sy + NODE_H / 2, tx, ty + NODE_H / 2
        bend = max(24.0, abs(x2 - x1) / 2)
        kind = "needs" if "needs" in labels else "reads"
        parts.append(
            f'<path class="edge {kind}" data-from="{escape(source)}" data-to="{escape(target)}" '
            f'd="M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}" '
            f'marker-end="url(#arrow)"><title>{escape(source)} → {escape(target)}: {escape(" + ".join(labels))}</title></path>'
        )
    parts.append('</g><g class="nodes">')
    for node in nodes:
        nx, ny, nw = box[node.id]
        parts.append(
            f'<a href="{escape(node.href)}" class="node state-{node.state}" data-task="{escape(node.id)}">'
            f'<title>{escape(node.tooltip or node.id)}</title>'
            f'<rect x="{nx:.1f}" y="{ny:.1f}" width="{nw:.1f}" height="{NODE_H}" rx="7" fill="{node.fill}"/>'
            f'<text x="{nx + PAD_X:.1f}" y="{ny + 19:.1f}" class="node-id">{escape(node.id)}</text>'
            f'<text x="{nx + PAD_X:.1f}" y="{ny + 36:.1f}" class="node-caption">{escape(node.caption)}</text></a>'
        )
    parts.append("</g></svg>")
    return "".join(parts)
