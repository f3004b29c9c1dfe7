"""How `agents run` tells a progressive rollout (`--canary`, `--wave`): its phases before it runs (with
--dry-run), then each of its steps against its previous run, and why it halted."""

from __future__ import annotations

from typing import Any

from agentfiles.commands.output import Output, plural


def render_plan(out: Output, plan: Any) -> None:
    """The rollout's phases, canary first."""
    out.line(f"rollout: {plural(len(plan.candidates), 'step')} stale only because their role, model or config "
             "changed")
    for number, phase in enumerate(plan.phases):
        what = "canary" if number == 0 else f"wave {number}"
        out.line(f"  {what}: {', '.join(phase)}")


def render_result(out: Output, result: Any) -> None:
    """Each step of the rollout against its previous run, then whether it completed or halted."""
    plan = result.plan
    out.line(f"rollout {plan.id}: {result.phases_run} of {len(plan.phases)} phase(s) run "
             f"(canary: {', '.join(plan.canaries)})")
    for compared in result.compared:
        mark = out.paint("REGRESSION", "failed") if compared.regression else out.paint(compared.status, compared.status)
        changed = (f"{plural(len(compared.changed), 'output')} changed" if compared.changed
                   else "outputs unchanged" if compared.wrote else "wrote no output")
        runs = f"run {compared.before or '-'} -> {compared.after or '-'}"
        out.line(f"  {mark}  {compared.task}  {runs}; {changed}")
        if compared.regression:
            out.line(f"    regression: {compared.regression}")
        for verdict in compared.verdicts:
            moved = "" if verdict["before"] == verdict["after"] else "  <- changed"
            out.line(f"    {verdict['before']:>9} -> {verdict['after']:<9} {verdict['criterion']}{moved}")
        if compared.diff and (compared.regression or compared.task in plan.canaries):
            for line in compared.diff.rstrip().splitlines():
                out.line(f"    {line}")
    if result.halted:
        left = len(result.left)
        out.diagnostic("error", f"rollout {plan.id} halted at {result.halted}",
                       f"{plural(left, 'step')} left as {'it was' if left == 1 else 'they were'}"
                       + (f" ({', '.join(result.left[:8])}{' ...' if left > 8 else ''})"
                          if left else "")
                       + f"; `agents rewind --rollout {plan.id} --in-place` reverts what it ran")
    else:
        out.line(f"rollout {plan.id} completed: no regression; `agents log --rollout {plan.id}` lists its steps")
