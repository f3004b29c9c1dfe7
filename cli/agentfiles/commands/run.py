"""`agents run`: its options and help, read by typer; what it does is commands/running.py's."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import List, Optional

import typer

from agentfiles.commands.running import run_verb


def run_command(
    ctx: typer.Context,
    tasks: Optional[List[str]] = typer.Argument(None, metavar="[TASK]...", help="Only these tasks (and what they need)."),
    jobs: Optional[int] = typer.Option(None, "--jobs", "-j", min=1, help="Steps run at once (default: config jobs)."),
    dry_run: bool = typer.Option(
        False, "--dry-run", "-n",
        help="Print the plan with each step's reasons (and, for named model steps, exactly what would be sent); run nothing.",
    ),
    force: bool = typer.Option(False, "--force", help="Run even done steps; overwrite uncommitted output edits."),
    keep_going: bool = typer.Option(False, "--keep-going", "-k", help="After a failure, go on with independent steps."),
    no_deps: bool = typer.Option(False, "--no-deps", help="Run only the named tasks, not the needs that are not done."),
    branch: Optional[str] = typer.Option(
        None, "--branch", "-b", metavar="NAME",
        help="Run on this branch (created from the current commit if new), e.g. to review the run as a pull request. "
        "A run refused before any step starts stays on the current branch and creates none.",
    ),
    canary: Optional[int] = typer.Option(
        None, "--canary", min=1, metavar="N",
        help="Roll a role, model or config change out progressively: of the steps stale only because of one, run N "
        "first (in dependency order) and compare each with its previous run; a regression halts the rest.",
    ),
    canary_pick: Optional[List[str]] = typer.Option(
        None, "--canary-pick", metavar="TASK", help="The canary steps by name instead (repeat, or separate with commas).",
    ),
    wave: Optional[int] = typer.Option(
        None, "--wave", min=1, metavar="M", help="After the canaries, run the rest M at a time, halting on a regression.",
    ),
    cluster: Optional[str] = typer.Option(
        None, "--cluster", metavar="ADDRESS",
        help="Carry the steps out on a Dask cluster (its scheduler's address, or local:N to start N worker "
        "processes here); commits stay here. Needs the extra git-agentfiles[dask].",
    ),
    no_cluster: bool = typer.Option(
        False, "--no-cluster", help="Run the steps here, even if .agents/config.yaml names a `cluster:`.",
    ),
    no_cache: bool = typer.Option(
        False, "--no-cache", help="Run every step afresh, never taking an earlier run's outputs from the run cache.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the plan and outcomes as one JSON object."),
) -> int:
    """Run every step that is not done, in dependency order, each in a clean sandbox, one commit per step.

    A step sees only its declared inputs and may write only its declared outputs; its `run:` checks must
    pass before anything lands. A failed step commits its handoff and run record only.
    """
    return run_verb(
        ctx.obj, tasks=tasks, jobs=jobs, dry_run=dry_run, force=force, keep_going=keep_going, no_deps=no_deps,
        branch=branch, canary=canary, canary_pick=canary_pick, wave=wave, cluster=cluster, no_cluster=no_cluster,
        no_cache=no_cache, json_output=json_output,
    )


def register(app: typer.Typer) -> None:
    app.command("run")(run_command)
