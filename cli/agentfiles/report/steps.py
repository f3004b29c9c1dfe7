"""The pages of one step: the task page (its definition, state, items, runs, and its latest run in full)
and the page of each run (status and failure, facts, usage by doer, verifier and retries, every
criterion's verdict and evidence, the review, the handoff, the diff of its outputs, and, collapsed,
exactly what it saw, turn by turn, with its earlier attempts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfiles.report.html import (
    chip, details, diff_html, e, facts, markdown, money, number, page, plural, pre, seconds, section, table, tokens,
)
from agentfiles.runner.agent import conversation_sections

if TYPE_CHECKING:
    from agentfiles.report.collect import Attempt, Report, Run, Step

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens", "cost_usd", "turns")


def step_href(step_id: str, depth: int) -> str:
    return f"{'../' * depth}tasks/{step_id}.html"


def step_link(report: Report, step_id: str, depth: int) -> str:
    """A link to a step's page, or its plain name when the task no longer exists."""
    if step_id in report.steps:
        return f'<a href="{step_href(step_id, depth)}">{e(step_id)}</a>'
    return f'<span title="no longer a task">{e(step_id)}</span>'


def run_href(run: Run, depth: int) -> str:
    if not run.has_page:
        return f"{step_href(run.task, depth)}#latest"
    return f"{'../' * depth}runs/{run.task}/{run.slug}.html"


def run_path(run: Run) -> str:
    return run_href(run, 0)


def verdict(run: Run) -> tuple[str, str]:
    """A run's verdict in a few words, and the state whose colour it takes: the verifier's criteria and
    the `run:` checks that passed."""
    parts, state = [], "done"
    verification = run.meta.get("verification") or {}
    if verification:
        checks = verification.get("checks") or []
        passed = sum(1 for c in checks if c.get("verdict") == "pass")
        noun = "criterion" if len(checks) == 1 else "criteria"
        parts.append(f"verifier {verification.get('verdict')}: {passed} of {len(checks)} {noun} passed")
        state = {"pass": "done", "uncertain": "uncertain"}.get(str(verification.get("verdict")), "failed")
    checks = run.record.get("checks") or []
    if checks:
        passed = sum(1 for c in checks if c.get("ok"))
        parts.append(f"{passed} of {len(checks)} check{'s' if len(checks) != 1 else ''} passed")
        state = state if passed == len(checks) else "failed"
    if not parts:
        return "pending", "no criteria" if run.status == "done" else "not judged"
    return state, "; ".join(parts)


def diffstat(run: Run) -> str:
    """`+added −removed` lines of a run's output diff (what it proposed, when that did not land)."""
    lines = run.diff.splitlines()
    added = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    removed = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    return f"+{added} −{removed}" if lines else ""


def status_chip(run: Run) -> str:
    return chip("pending", "reverted") if run.reverted else chip(run.status)


# ----------------------------------------------------------------------------------------- task page


def task_page(report: Report, step: Step) -> str:
    task = step.task
    if task is None:
        body = (f'<p class="crumbs"><a href="../index.html">Overview</a> › {e(step.id)}</p>'
                f"<h1><code>{e(step.id)}</code> {chip(step.state.state)}</h1>"
                f'<div class="failure"><strong>{e(step.path)}</strong> cannot be loaded: '
                f'{"; ".join(e(r) for r in step.state.reasons)}</div>'
                "<p><code>agents validate</code> lists every problem with its file and line.</p>")
        return page(step.id, body, depth=1, here="", report=report)
    head = ['<p class="crumbs"><a href="../index.html">Overview</a> › '
            + (f'<a href="{step_href(step.family, 1)}">{e(step.family)}</a> › ' if step.is_item else "")
            + f"{e(step.id)}</p>",
            f'<h1>{e(task.title)} {chip(step.state.state)}</h1>',
            f'<p class="lede"><code>{e(step.id)}</code> · {e(task.kind)} · {e(" + ".join(task.modes))}</p>']
    if step.state.reasons:
        head.append("<ul class=\"reasons\">" + "".join(f"<li>{e(r)}</li>" for r in step.state.reasons) + "</ul>")
    parts = ["".join(head), section("definition", "Definition", _definition(report, step))]
    if step.items:
        rows = []
        for item in step.items:
            child = report.steps[item]
            latest = child.latest
            rows.append([f'<a href="{step_href(item, 1)}">{e(item)}</a>', chip(child.state.state),
                         "; ".join(e(r) for r in child.state.reasons),
                         money(latest.usage.get("cost_usd")) if latest else ""])
        parts.append(section("items", f"Items ({len(step.items)})", table(["item", "state", "why", "cost"], rows)))
    if step.runs:
        rows = [[f'<a href="{run_href(r, 1)}">{e(r.id)}</a>' + (" (latest)" if r.latest else ""), status_chip(r),
                 e(r.date[:16].replace("T", " ")), money(r.usage.get("cost_usd")), seconds(r.usage.get("duration_s"))]
                for r in step.runs]
        parts.append(section("runs", f"Runs ({len(step.runs)})", table(["run", "status", "when", "cost", "time"], rows,
                                                                       numeric=(3, 4))))
    latest = step.latest
    if latest is not None:
        parts.append(f'<section id="latest" class="run"><h2>Latest run: <a href="{run_href(latest, 1)}">{e(latest.id)}</a></h2>'
                     f"{run_body(report, latest, depth=1, level=3)}</section>")
    elif not step.items:
        parts.append(section("latest", "Latest run", f"<p>Not run yet. <code>agents run {e(step.id)}</code> runs it.</p>"))
    return page(step.id, "".join(parts), depth=1, here="", report=report)


def _definition(report: Report, step: Step) -> str:
    task = step.task
    assert task is not None
    inputs = [(f"handoff of {spec.handoff}" if spec.handoff else f"{spec.path}" + (" (outline)" if spec.view == "outline" else ""))
              for spec in task.inputs]
    needs = ", ".join(f'<a href="{step_href(n, 1)}">{e(n)}</a>' if n in report.steps else e(n) for n in task.needs)
    criteria = "".join(f"<li>{e(c.text)}</li>" if c.text is not None else f"<li><code>run: {e(c.run)}</code></li>"
                       for c in task.acceptance)
    role = task.role or (f"selected by labels {', '.join(f'{k}={v}' for k, v in (task.select or {}).items())}"
                         if task.select else "")
    return facts([
        ("file", f"<code>{e(step.path)}</code>"),
        ("item", f"<code>{e(step.id.split('@', 1)[1])}</code>" if step.is_item else ""),
        ("command", f"<code>{e(task.run)}</code>" if task.run else ""),
        ("role", e(role)),
        ("verifier", e(", ".join(task.verifiers))),
        ("foreach", f"<code>{e(task.foreach)}</code>" if task.foreach else ""),
        ("needs", needs),
        ("inputs", ", ".join(f"<code>{e(i)}</code>" for i in inputs)),
        ("outputs", ", ".join(f"<code>{e(o)}</code>" for o in task.outputs)),
        ("acceptance", f"<ol>{criteria}</ol>" if criteria else ""),
    ]) + (f'<div class="prose">{markdown(step.intent)}</div>' if step.intent.strip() else "")


# ------------------------------------------------------------------------------------------ run page


def run_page(report: Report, run: Run) -> str:
    step = report.steps.get(run.task)
    runs = step.runs if step else [run]
    at = runs.index(run) if run in runs else 0
    newer = runs[at - 1] if at > 0 else None
    older = runs[at + 1] if at + 1 < len(runs) else None
    nav = [f"all runs of {step_link(report, run.task, 2)}"]
    if older:
        nav.insert(0, f'<a rel="prev" href="{run_href(older, 2)}">← earlier run</a>')
    if newer:
        nav.append(f'<a rel="next" href="{run_href(newer, 2)}">later run →</a>')
    title = step.task.title if step and step.task else run.task
    head = (f'<p class="crumbs"><a href="../../index.html">Overview</a> › {step_link(report, run.task, 2)}'
            f" › run {e(run.id)}</p><h1>{e(title)} {status_chip(run)}</h1>"
            f'<p class="lede"><code>{e(run.task)}</code>, run <code>{e(run.id)}</code>'
            + ("" if run.latest else " · not the step's latest run") + "</p>")
    body = head + run_body(report, run, depth=2, level=2) + f'<nav class="pager">{" · ".join(nav)}</nav>'
    return page(f"{run.task} {run.id}", body, depth=2, here="", report=report)


def run_body(report: Report, run: Run, *, depth: int, level: int) -> str:
    """Everything about one run, with headings from `level`."""
    h = f"h{level}"
    meta, record = run.meta, run.record
    out = []
    failure = meta.get("failure")
    if failure:
        out.append(f'<div class="failure" role="alert"><strong>{e(failure.get("kind"))}</strong>: '
                   f'{e(failure.get("detail") or "")}</div>')
    out.append(facts(_run_facts(run)))
    out.append(f"<{h} id='acceptance'>Acceptance</{h}>{_acceptance(run)}")
    out.append(f"<{h} id='review'>Review</{h}>{_review(report, run)}")
    out.append(f"<{h} id='usage'>Usage</{h}>{_usage(run)}")
    if meta.get("routing"):
        out.append(f"<{h} id='routing'>Routing</{h}>{_routing(meta['routing'])}")
    out.append(f'<{h} id="handoff">Handoff</{h}><div class="prose handoff">{markdown(run.view.body, level + 1) or "<p>(empty)</p>"}</div>')
    hint = f"<code>agents show {e(run.task)} --run {e(run.id)} --diff</code> prints it all"
    if run.diff:
        landed = run.status == "done"
        note = "" if landed else ('<p class="note">Proposed outputs that did not land: '
                                  "they are kept in the run record under <code>proposed/</code>.</p>")
        out.append(f"<{h} id='outputs'>{'Outputs' if landed else 'Proposed outputs (not applied)'}</{h}>{note}{diff_html(run.diff, hint)}")
    else:
        out.append(f"<{h} id='outputs'>Outputs</{h}><p>{'No output changed.' if run.status == 'done' else 'No output was proposed.'}</p>")
    out.append(f"<{h} id='context'>What it saw</{h}>" + details("Inputs and outputs with their hashes", _hashes(meta, record))
               + _seen(run))
    if run.attempts:
        out.append(f"<{h} id='attempts'>Earlier attempts</{h}>" + "".join(_attempt(run, a) for a in run.attempts))
    return "".join(out)


def _run_facts(run: Run) -> list[tuple[str, str]]:
    meta, record = run.meta, run.record
    isolation = meta.get("isolation", record.get("isolation"))
    if isinstance(isolation, dict):
        isolation = ", ".join(f"{k}: {v}" for k, v in isolation.items())
    attempts = record.get("attempt")
    return [
        ("status", status_chip(run) + (f" {chip('failed', str(meta['failure'].get('kind')))}"
                                       if meta.get("failure") and meta["failure"].get("kind") != run.status else "")),
        ("executor", e(meta.get("executor") or record.get("executor") or "")),
        ("role", e(meta.get("role") or "")),
        ("model", e(meta.get("model") or "")),
        ("isolation", e(isolation) if isolation else ""),
        ("verifier", e((meta.get("verification") or {}).get("verifier") or "")),
        ("attempts", e(attempts) if attempts and attempts > 1 else ""),
        ("started", e(meta.get("started") or "")),
        ("finished", e(meta.get("finished") or "")),
        ("time", seconds(run.usage.get("duration_s"))),
        ("cost", money(run.usage.get("cost_usd"))),
        ("commit", (f"<code>{e(run.view.commit[:10])}</code>" if run.view.commit else "not committed")
                   + (f"; its outputs landed with the approval <code>{e(run.view.landed_by[:10])}</code>"
                      if run.view.landed_by else "")),
    ]


def _acceptance(run: Run) -> str:
    verification = run.meta.get("verification") or {}
    rows = [[e(c.get("criterion")), chip("done" if c.get("verdict") == "pass" else "failed", c.get("verdict") or "?"),
             e(c.get("evidence") or "")] for c in verification.get("checks") or []]
    checks = run.record.get("checks") or []
    rows += [[f"<code>run: {e(c.get('run'))}</code>", chip("done" if c.get("ok") else "failed", "pass" if c.get("ok") else "fail"),
              f"exit {e(c.get('exit_code'))}" + (", timed out" if c.get("timed_out") else "")
              + (pre(c["output"]) if c.get("output") and not c.get("ok") else "")] for c in checks]
    if not rows:
        return "<p>No criterion was judged" + (" (the step has none)." if run.status == "done" else ".") + "</p>"
    by = f'<p class="note">Judged by <code>{e(verification.get("verifier"))}</code>, in a context of its own.</p>' if verification else ""
    return by + table(["criterion", "verdict", "evidence"], rows, cls="verdicts")


def _review(report: Report, run: Run) -> str:
    review = run.review
    if run.reverted:
        later = "<p>Reverted by <code>agents rewind --in-place</code>.</p>"
    elif not run.latest:
        later = "<p>A later run replaced this one.</p>" if review else "<p>Not reviewed; a later run replaced it.</p>"
    elif not review:
        return (f'<p>{chip("ready", "awaiting review")} <code>agents approve {e(run.task)}</code> or '
                f'<code>agents reject {e(run.task)} --reason …</code></p>')
    else:
        later = ""
    if not review:
        return later
    reason = f"<blockquote>{e(review.get('reason'))}</blockquote>" if review.get("reason") else ""
    state = "done" if review.get("state") == "approved" else "failed"
    return (f"<p>{chip(state, review.get('state'))} by {e(review.get('by') or 'unknown')} at {e(review.get('at') or '?')}</p>"
            f"{reason}{later}")


def _usage(run: Run) -> str:
    """Tokens, cost, turns and time of each earlier attempt, of the doer and the verifier, and of the whole
    run. The doer's time is what is left of the run's once the earlier attempts' and the verifier's are
    taken out (setting up and landing included); a run recorded before these were timed shows its total."""
    total = run.usage
    verifier = (run.record.get("verifier") or {}).get("usage") or {}
    earlier = [(f"attempt {a.number} (doer and verifier)", a.summary.get("usage") or {}) for a in run.attempts]
    judges = [j.get("usage") or {} for j in (run.record.get("panel") or {}).get("judges") or []]  # a panel's, each for itself
    last = {k: max(0.0, float(total.get(k) or 0) - sum(float(u.get(k) or 0) for u in [*(u for _, u in earlier), verifier, *judges]))
            for k in USAGE_KEYS}
    # The judges of a panel judge at once: the panel takes as long as its slowest judge.
    taken = [*(u.get("duration_s") for _, u in earlier), verifier.get("duration_s") if verifier else 0,
             max((u.get("duration_s") or 0 for u in judges), default=0)]
    last["duration_s"] = max(0.0, float(total.get("duration_s") or 0) - sum(float(t or 0) for t in taken))
    timed = all("duration_s" in u for u in [*(u for _, u in earlier), *([verifier] if verifier else []), *judges])
    rows: list[tuple[str, dict[str, Any]]] = list(earlier)
    label = "doer" + (f" (attempt {run.record.get('attempt')})" if run.attempts else "")
    rows.append((label, last))
    if verifier:
        rows.append(("verifier" + (f" (attempt {run.record.get('attempt')})" if run.attempts else ""), verifier))
    for judge in (run.record.get("panel") or {}).get("judges") or []:
        rows.append((f"verifier {judge.get('role')} ({judge.get('model')})", judge.get("usage") or {}))
    rows.append(("total", total))
    if not any(total.get(k) for k in USAGE_KEYS):
        return f"<p>No model was used; the run took {seconds(total.get('duration_s'))}.</p>"
    cells = [[e(name), number(u.get("input_tokens")), number(u.get("output_tokens")), number(u.get("cache_read_input_tokens")),
              number(u.get("cache_creation_input_tokens")), number(u.get("turns")), money(u.get("cost_usd")),
              seconds(u.get("duration_s")) if timed or name == "total" else "—"] for name, u in rows]
    note = ("The doer's time includes setting up its sandbox and landing the step."
            if timed else "This run was recorded before the time of each attempt and verifier was kept: only its total is known.")
    return (table(["who", "input", "output", "cache read", "cache write", "turns", "cost", "time"], cells, cls="usage",
                  numeric=(1, 2, 3, 4, 5, 6, 7))
            + f'<p class="note">{note}</p>')


def _routing(routing: dict[str, Any]) -> str:
    rows = [[e(c.get("role")), f"{float(c.get('score') or 0):.2f}", e(", ".join(c.get("matched") or []))]
            for c in routing.get("candidates") or []]
    return (f"<p>Role <code>{e(routing.get('role'))}</code>, chosen by {e(routing.get('method'))}: {e(routing.get('reason') or '')}</p>"
            + (table(["candidate", "score", "matched"], rows, numeric=(1,)) if rows else ""))


def _seen(run: Run) -> str:
    """What the step saw: a model step's context turn by turn; a command step's command, environment and
    output. Collapsed, except the output of a failed command."""
    record = run.record
    if not run.folder_present:
        return (f"<p>The run record is not in the working tree (<code>.agents/runs/{e(run.id)}/</code>)"
                + (f"; <code>git show {e(run.view.commit[:10])}</code> has it" if run.view.commit else "") + ".</p>")
    out = []
    if record.get("command") is not None:
        names = record.get("env") or []
        own = [n for n in names if n.startswith("AGENTS_")]
        others = len(names) - len(own)
        out.append(facts([("command", f"<code>{e(record['command'])}</code>"), ("exit code", e(record.get("exit_code"))),
                          ("environment", e(", ".join(own)) + (f" and {others} inherited" if others else "")),
                          ("withheld", e(", ".join(record.get("env_withheld") or [])))]))
    if record.get("executor") == "claude-code" or run.meta.get("executor") == "claude-code":
        out.append('<p class="note">Carried out by Claude Code: <code>claude -p</code> was given this system prompt and '
                   "prompt, with its own file tools in a folder holding the declared inputs.</p>")
    if run.router_requests:
        out.append(conversation("The router's context", run.router_requests))
    if record.get("discussion"):
        positions = "".join(f"<h4>Round {e(p.get('round'))}: {e(p.get('role'))}</h4>{pre(str(p.get('position') or ''))}"
                            for p in record["discussion"])
        out.append(details(f"The discussion ({len(record['discussion'])} positions)", positions, cls="context"))
    if run.view.requests:
        out.append(conversation("The doer's context" + (f" (attempt {record.get('attempt')})" if run.attempts else ""),
                                run.view.requests))
    if run.verifier_requests:
        out.append(conversation(f"The verifier's context ({(record.get('verifier') or {}).get('role', '?')})",
                                run.verifier_requests))
    for name in ("stdout", "stderr"):
        text = run.view.streams.get(name, "")
        if text.strip():
            out.append(details(f"{name} ({plural(len(text.splitlines()), 'line')})", pre(text), open_=run.status == "failed",
                               cls="stream"))
    return "".join(out) or "<p>Nothing was sent to a model and the command printed nothing.</p>"


def conversation(title: str, requests: list[dict[str, Any]]) -> str:
    """A recorded conversation, collapsed, one collapsed part per request (the first in full, later ones
    with only what they added)."""
    turns: dict[int, list[str]] = {}
    for part in conversation_sections(requests):
        body = "" if part.text is None else pre(part.text)
        turns.setdefault(part.turn, []).append(f'<div class="part part-{e(part.kind)}"><h5>{e(part.heading)}</h5>{body}</div>')
    inner = "".join(
        details(f"Request {turn}" + (" (the whole context)" if turn == 1 else " (what was added)"), "".join(parts), cls="turn")
        for turn, parts in turns.items()
    )
    return details(f"{e(title)}: {plural(len(requests), 'request')}", inner, cls="context")


def _attempt(run: Run, attempt: Attempt) -> str:
    summary = attempt.summary
    verification = summary.get("verification") or {}
    rows = [[e(c.get("criterion")), chip("done" if c.get("verdict") == "pass" else "failed", c.get("verdict") or "?"),
             e(c.get("evidence") or "")] for c in verification.get("checks") or []]
    failure = summary.get("failure") or {}
    body = [f'<div class="failure"><strong>{e(failure.get("kind"))}</strong>: {e(failure.get("detail") or "")}</div>'
            if failure.get("kind") else ""]
    if rows:
        body.append(table(["criterion", "verdict", "evidence"], rows, cls="verdicts"))
    body.append(f"<h5>Proposed outputs (not applied)</h5>{diff_html(attempt.diff)}" if attempt.diff else "<p>No output was proposed.</p>")
    if attempt.requests:
        body.append(conversation("The doer's context", attempt.requests))
    if attempt.verifier_requests:
        body.append(conversation("The verifier's context", attempt.verifier_requests))
    state = "failed" if verification.get("verdict") != "pass" else "done"
    return details(f"Attempt {attempt.number} {chip(state, verification.get('verdict') or failure.get('kind') or '?')} "
                   f"{tokens(summary.get('usage') or {})}, {money((summary.get('usage') or {}).get('cost_usd'))}",
                   "".join(body), cls="attempt")


def _hashes(meta: dict[str, Any], record: dict[str, Any]) -> str:
    rows = [["input", f"<code>{e(p)}</code>", f"<code>{e(str(d)[:19])}</code>"] for p, d in (meta.get("inputs") or record.get("inputs") or {}).items()]
    outputs = meta.get("outputs") or record.get("outputs") or {}
    rows += [["output", f"<code>{e(p)}</code>", f"<code>{e(str(d)[:19])}</code>"] for p, d in outputs.items()]
    rows += [["upstream", f'<code>{e(t)}</code>', f"<code>{e(r)}</code>"] for t, r in (meta.get("upstream") or {}).items()]
    return table(["", "path", "sha256 / run"], rows) if rows else "<p>None.</p>"
