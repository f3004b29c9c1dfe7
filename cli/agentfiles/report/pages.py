"""The report's overview pages: the index (states, the graph, the steps with their verdict and cost,
what awaits review, usage totals), the history of step commits, and the review queue with each
step's summary, verdict and diff."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from agentfiles.core.state import STATE_FILL, STATES
from agentfiles.report.html import (
    chip, details, diff_html, e, markdown, money, number, page, plural, seconds, section, table,
)
from agentfiles.report.picture import Node, graph_svg
from agentfiles.report.steps import diffstat, run_href, status_chip, step_href, step_link, verdict

if TYPE_CHECKING:
    from agentfiles.report.collect import Report, Run

FILTER = '<input type="search" class="filter" data-filter="{target}" placeholder="Filter {what}" aria-label="Filter {what}" hidden>'


def index_page(report: Report) -> str:
    counts = Counter(s.state.state for s in report.steps.values())  # as `agents status` counts them
    all_usage = report.totals["all"]
    summary = " ".join(chip(state, f"{counts[state]} {state}") for state in STATES if counts[state])
    lede = (f'<p class="lede">{plural(len(report.steps), "task")}, {plural(len(report.runs), "run")} · '
            f"{number(all_usage.get('input_tokens'))} tokens in, {number(all_usage.get('output_tokens'))} out · "
            f"{money(all_usage.get('cost_usd'))} · {seconds(all_usage.get('duration_s'))}</p>")
    parts = [f"<h1>{e(report.root.name)}</h1>{lede}<p class=\"states\">{summary}</p>{_counted(report)}",
             section("graph", "Graph", _graph(report)),
             section("review", f"Awaiting review ({len(report.pending)})", _pending_list(report)),
             section("steps", f"Tasks ({len(report.steps)})",
                     FILTER.format(target="steps-table", what="tasks") + _steps_table(report)),
             section("usage", "Usage", _totals(report))]
    return page("Overview", "".join(parts), depth=0, here="index", report=report)


def _counted(report: Report) -> str:
    """What the counts count, when a foreach task makes them differ from the number of task files."""
    families = [s for s in report.graph_nodes if s.items]
    if not families:
        return ""
    items = sum(len(s.items) for s in families)
    names = ", ".join(f"<code>{e(s.id)}</code>" for s in families)
    return (f'<p class="note">Tasks are counted as <code>agents status</code> lists them: '
            f"{plural(len(report.graph_nodes), 'task file')} (the graph's nodes) and the {plural(items, 'item')} of "
            f"the foreach task{'s' if len(families) != 1 else ''} {names}, each run as a task of its own "
            f"(<code>&lt;task&gt;@&lt;item&gt;</code>).</p>")


def _graph(report: Report) -> str:
    nodes = []
    for step in report.graph_nodes:
        task = step.task
        kind = f"{task.kind} · {' + '.join(task.modes)}" if task else "cannot be loaded"
        caption = f"{step.state.state} · {kind}"
        tooltip = f"{step.id}: {task.title if task else kind}\n{step.state.state}" + "".join(f"\n- {r}" for r in step.state.reasons)
        nodes.append(Node(step.id, step.state.state, caption, step_href(step.id, 0), STATE_FILL[step.state.state], tooltip))
    from agentfiles.core.graph import link_labels

    svg = graph_svg(nodes, link_labels(report.edges))
    if not svg:
        return "<p>No tasks yet: <code>agents new task ID</code> writes one.</p>"
    legend = ("".join(f'<li><span class="swatch state-{s}"></span>{s}</li>' for s in STATES)
              + '<li><span class="line needs"></span>needs</li><li><span class="line reads"></span>reads its handoff or outputs</li>')
    return f'<figure class="graph-figure"><div class="scroll graph-box">{svg}</div><figcaption><ul class="legend">{legend}</ul></figcaption></figure>'


def _steps_table(report: Report) -> str:
    rows = []
    for step in report.steps.values():
        latest = step.latest
        name = f'<a href="{step_href(step.id, 0)}">{e(step.id)}</a>'
        if step.is_item:
            name = f'<span class="item">{name}</span>'
        why = "; ".join(e(r) for r in step.state.reasons[:2]) + (" …" if len(step.state.reasons) > 2 else "")
        if latest is None:
            items = f"{len(step.items)} item{'s' if len(step.items) != 1 else ''}, below" if step.items else ""
            rows.append([name, chip(step.state.state), why, items, "", "", "", "", "", ""])
            continue
        state, text = verdict(latest)
        used = latest.usage
        who = " · ".join(e(x) for x in (latest.meta.get("role"), latest.meta.get("model")) if x) or e(latest.meta.get("executor") or "")
        href = run_href(latest, 0)
        change = diffstat(latest)
        rows.append([name, chip(step.state.state), why, f'<a href="{href}">{status_chip(latest)}</a>', chip(state, text),
                     f'<a href="{href.split("#", 1)[0]}#outputs">{change}</a>' if change else "none", who,
                     number((used.get("input_tokens") or 0) + (used.get("output_tokens") or 0)),
                     money(used.get("cost_usd")), seconds(used.get("duration_s"))])
    headers = ["task", "state", "why", "latest run", "verdict", "diff", "role · model", "tokens", "cost", "time"]
    return table(headers, rows, cls="steps-table", numeric=(7, 8, 9))


def _pending_list(report: Report) -> str:
    if not report.pending:
        return "<p>Nothing to review: every handoff has been reviewed since it last changed.</p>"
    items = []
    for item in report.pending:
        step = report.steps.get(item.task)
        run = step.latest if step else None
        link = run_href(run, 0) if run else step_href(item.task, 0)
        first = (item.summary or "").strip().splitlines()[0] if (item.summary or "").strip() else "(no summary)"
        items.append(f'<li><a href="{link}">{e(item.task)}</a> {chip(item.status)} {e(first)}</li>')
    return f'<ul class="pending">{"".join(items)}</ul><p><a href="review.html">Summaries, verdicts and diffs of each</a></p>'


def _totals(report: Report) -> str:
    def rows(group: dict[str, dict[str, Any]], link: bool = False) -> list[list[str]]:
        return [[(f'<a href="{step_href(name, 0)}">{e(name)}</a>' if link and name in report.steps else e(name)),
                 number(t.get("steps")), number(t.get("input_tokens")), number(t.get("output_tokens")),
                 number(t.get("cache_read_input_tokens")), number(t.get("cache_creation_input_tokens")),
                 money(t.get("cost_usd")), seconds(t.get("duration_s"))]
                for name, t in sorted(group.items(), key=lambda kv: -float(kv[1].get("cost_usd") or 0))]

    headers = ["", "runs", "input", "output", "cache read", "cache write", "cost", "time"]
    numeric = (1, 2, 3, 4, 5, 6, 7)
    total = rows({"all runs": report.totals["all"]})
    out = [table(headers, total, cls="totals", numeric=numeric)]
    for by in ("role", "model", "task"):
        group = report.totals[f"by_{by}"]
        out.append(details(f"By {by} ({len(group)})", table([by, *headers[1:]], rows(group, by == "task"), numeric=numeric),
                           open_=by != "task"))
    return "".join(out) + ('<p class="note">As <code>agents log --usage</code> adds them up: each conversation (doer, '
                           "verifier, discussion) counts for the role and model that had it; a verifier's time for its role, the rest "
                           "of a run's time for its doer's.</p>")


def history_page(report: Report) -> str:
    rows = []
    for run in report.runs:
        used = run.usage
        state, text = verdict(run)
        rows.append([f'<a href="{run_href(run, 0)}">{e(run.date[:16].replace("T", " ") or "?")}</a>',
                     f"<code>{e(run.view.commit[:10])}</code>" if run.view.commit else "—",
                     step_link(report, run.task, 0), status_chip(run), chip(state, text),
                     e(run.meta.get("role") or "none"), e(run.meta.get("model") or "none"),
                     number((used.get("input_tokens") or 0) + (used.get("output_tokens") or 0)),
                     money(used.get("cost_usd")), seconds(used.get("duration_s"))])
    headers = ["when", "commit", "task", "status", "verdict", "role", "model", "tokens", "cost", "time"]
    body = ("<h1>History</h1><p class=\"lede\">Every step commit on this branch, newest first, as <code>agents log</code> lists them.</p>"
            + FILTER.format(target="history-table", what="runs") + table(headers, rows, cls="history-table", numeric=(7, 8, 9))
            if rows else "<h1>History</h1><p>No step has run yet: <code>agents run</code> runs the pipeline.</p>")
    return page("History", body, depth=0, here="history", report=report)


def review_page(report: Report) -> str:
    parts = ["<h1>Awaiting review</h1>"]
    if not report.pending:
        parts.append("<p>Nothing to review: every handoff has been reviewed since it last changed.</p>")
    for item in report.pending:
        step = report.steps.get(item.task)
        run = step.latest if step else None
        parts.append(_review_item(item.task, run))
    return page("Review", "".join(parts), depth=0, here="review", report=report)


def _review_item(task: str, run: Run | None) -> str:
    if run is None:
        return section(f"review-{task}", task, "<p>Its handoff has no run to show.</p>")
    state, text = verdict(run)
    head = (f'<p><a href="{run_href(run, 0)}">run {e(run.id)}</a> {status_chip(run)} {chip(state, text)} '
            f"{money(run.usage.get('cost_usd'))}</p>")
    checks = (run.meta.get("verification") or {}).get("checks") or []
    judged = "".join(f"<li>{chip('done' if c.get('verdict') == 'pass' else 'failed', c.get('verdict'))} {e(c.get('criterion'))}"
                     f"<br><span class=\"evidence\">{e(c.get('evidence') or '')}</span></li>" for c in checks)
    from agentfiles.runner.review import summary_of

    body = head + f'<div class="prose">{markdown(summary_of(run.view.body))}</div>'
    body += f'<ul class="verdict-list">{judged}</ul>' if judged else ""
    body += diff_html(run.diff) if run.diff else "<p>No output changed.</p>"
    body += f"<p><code>agents approve {e(task)}</code> · <code>agents reject {e(task)} --reason …</code></p>"
    return section(f"review-{task}", task, body)


def step_pages(report: Report) -> dict[str, str]:
    """Every page below the report's root, by relative path."""
    from agentfiles.report.steps import run_page, run_path, task_page

    pages = {f"tasks/{step.id}.html": task_page(report, step) for step in report.steps.values()}
    for run in report.runs:
        if run.has_page:
            pages[run_path(run)] = run_page(report, run)
    return pages


def top_pages(report: Report) -> dict[str, str]:
    return {"index.html": index_page(report), "history.html": history_page(report), "review.html": review_page(report)}
