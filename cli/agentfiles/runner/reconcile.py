"""`agents run`: bring the repository to its declared state. Takes the run lock, finishes or undoes what a
killed run left, plans the steps that are not done, refuses what would lose the user's work, and runs
the plan."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agentfiles.core.cluster import CLUSTER_HINT, cluster_problem
from agentfiles.core.models import ApiSettings
from agentfiles.core.paths import has_glob
from agentfiles.core.plan import PlannedStep, plan_run
from agentfiles.core.records import record
from agentfiles.errors import ConventionError, PreconditionError, UsageError
from agentfiles.executors.sandbox import clear_sandboxes, release_sandboxes
from agentfiles.runner.scheduler import Report, run_steps
from agentfiles.core.foreach import family_of
from agentfiles.runner.attempt import RunContext
from agentfiles.runner.branch import switch_back, switch_branch
from agentfiles.runner.cache import RunCache
from agentfiles.runner.execute import execute
from agentfiles.runner.definitions import commit_definitions
from agentfiles.runner.globs import owned_files
from agentfiles.runner.interrupts import interrupts_cancel, terminate_interrupts
from agentfiles.runner.preflight import known_failures, will_start
from agentfiles.runner.resolvers import executor_resolver, isolation_resolver
from agentfiles.runner.resolve import StepGone, changed_meanwhile, resolve_step
from agentfiles.runner.step import StepRunner
from agentfiles.runner.tripwire import GitAnswers, Tripwire
from agentfiles.storage.checkouts import CheckTrees
from agentfiles.storage.git import Git
from agentfiles.storage.files import text_reader
from agentfiles.storage.journal import check_journal, pending_journals, remove_temporaries, roll_back
from agentfiles.storage.processes import ProcessRegistry
from agentfiles.storage.lock import RunLock
from agentfiles.storage.workspace import Workspace, open_workspace

if TYPE_CHECKING:  # a rollout's modules are imported by the runs that ask for one (--canary, --wave)
    from agentfiles.core.rollout import RolloutPlan, RolloutRequest
    from agentfiles.runner.rollout import RolloutResult


@record
class RunOptions:
    """What `agents run` was asked to do."""

    targets: list[str] = field(default_factory=list)
    jobs: int | None = None
    force: bool = False
    keep_going: bool = False
    dry_run: bool = False
    with_needs: bool = True
    lock_wait_s: float = 3.0
    branch: str | None = None
    rollout: RolloutRequest | None = None  # --canary N, --canary-pick, --wave M (core/rollout.py)
    cache: bool = True  # --no-cache: every step runs afresh
    cluster: str | None = None  # --cluster ADDRESS (or local:N): steps run on a Dask cluster
    no_cluster: bool = False  # --no-cluster: steps run here, whatever the config's `cluster:` says


@record
class Preview:
    """What a model step would be sent now, for `--dry-run`."""

    step: str
    role: str
    model: str
    tokens: int
    budget: int | None
    request: dict[str, object]
    cache: list[str] = field(default_factory=list)  # breakpoints below the model's minimum (core/prompt_cache.py)


@record
class RunResult:
    """What `agents run` did (or, with --dry-run, would do)."""

    plan: list[PlannedStep]
    report: Report | None = None
    recovered: list[str] = field(default_factory=list)
    previews: list[Preview] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # what a real run would refuse
    branch: str | None = None  # "created branch x" / "switched to branch x" (--branch)
    known_failures: dict[str, str] = field(default_factory=dict)  # step -> why it would fail before it starts
    held: dict[str, str] = field(default_factory=dict)  # steps left out until a person reviews, and why
    rollout_plan: RolloutPlan | None = None
    rollout: RolloutResult | None = None


def _check_project(workspace: Workspace, targets: list[str]) -> None:
    """Refuse to run on problems in what the run would use; with targets, a broken file elsewhere in the
    project does not stop them."""
    from agentfiles.core.validation import scoped_to

    workspace.require_usable()
    errors = [d for d in workspace.validate(warnings=False) if d.severity == "error"]
    if targets:
        errors = scoped_to(workspace.project, targets, errors)
    if errors:
        hint = "fix them, then run again"
        if not targets:
            hint += "; `agents run TASK` runs a task whose own files and needs are valid"
        raise ConventionError(f"{len(errors)} problem(s) in the project's files", diagnostics=errors, hint=hint)
    known = workspace.facts().tasks if any("@" in t for t in targets) else workspace.project.tasks
    unknown = [t for t in targets if t not in known]
    if unknown:
        from agentfiles.core.typos import unknown_task

        raise unknown_task(unknown, known)


def recover(workspace: Workspace, git: Git) -> list[str]:
    """Complete or undo every step a killed run left half-landed; returns their run ids."""
    layout = workspace.layout
    local = layout.rel(layout.agents / "tmp")
    planted = git.tracked([local])
    if planted:  # a clone's files there would be acted on as a killed run's journal and processes
        raise PreconditionError(
            f"the repository tracks files in {local}/, the machine-local state of agents: "
            + ", ".join(planted[:3]),
            hint=f"untrack and remove them: `git rm -r --cached {local} && rm -rf {local}`, then commit",
        )
    found = pending_journals(layout.agents / "tmp" / "journal")
    for _, files, folder in found:
        check_journal(layout.root, files, folder)
    landed = git.landed_runs([run_id for run_id, _, _ in found])
    ProcessRegistry(layout.agents / "tmp" / "processes").stop_leftovers()
    for run_id, files, folder in found:
        if run_id in landed:
            remove_temporaries(layout.root, files)
            git.sync_index(list(files))  # the commit landed: the index may not have followed
            shutil.rmtree(folder, ignore_errors=True)
        else:
            roll_back(layout.root, files, folder)
    if found or (workspace.root / ".git" / "worktrees").is_dir():
        git.run("worktree", "prune", check=False)  # checkouts of checks a killed run left behind
    clear_sandboxes(workspace.root)
    return [run_id for run_id, _, _ in found]


def reconcile(directory: Path, options: RunOptions, on_event: Callable[[str, object], None]) -> RunResult:
    with terminate_interrupts():
        try:
            return _reconcile(directory, options, on_event)
        except StepGone as gone:  # the plan comes from the facts, each step from the files, read moments apart
            step, why = gone.args
            raise changed_meanwhile(f"{step}: {why}") from None


def _reconcile(directory: Path, options: RunOptions, on_event: Callable[[str, object], None]) -> RunResult:
    _check_cluster_option(options.cluster, options.no_cluster)
    workspace = open_workspace(directory)
    if options.dry_run:
        _check_project(workspace, options.targets)
        facts = workspace.facts()
        held: dict[str, str] = {}
        states = workspace.states()
        plan = plan_run(facts, states, options.targets, force=options.force, with_needs=options.with_needs, held=held)
        _still_there(workspace, plan)
        rollout = _plan_rollout(plan, states, options)
        warnings = []
        if options.branch and Git(workspace.root).branch() != options.branch:
            warnings.append(f"this plan is for the current branch; the run would first switch to {options.branch}")
        try:
            _refuse_dirty_outputs(workspace, Git(workspace.root), plan, options.force)
        except PreconditionError as exc:
            warnings.append(f"the run would be refused: {exc.message} ({exc.hint})")
        return RunResult(plan, previews=_previews(workspace, plan, options.targets), warnings=warnings,
                         known_failures=known_failures(workspace, plan), held=held, rollout_plan=rollout)
    git = Git(workspace.root)
    lock = RunLock(workspace.layout.agents / "run.lock")
    lock.acquire(options.lock_wait_s)
    undo: Callable[[], None] | None = None  # a run refused before it starts leaves no branch behind
    asked: GitAnswers | None = None
    try:
        recovered = recover(workspace, git)  # before reading anything a killed run may have half-written
        origin = (git.branch(), git.head()) if options.branch else (None, None)  # where `--branch` goes back to
        switched = switch_branch(git, options.branch) if options.branch else None
        if switched and options.branch:
            undo = partial(switch_back, git, origin, options.branch, switched, on_event)
        asked = GitAnswers(git)  # the tripwire's questions to git, answered while the run checks and plans
        workspace = open_workspace(directory)
        _check_project(workspace, options.targets)
        facts = workspace.facts()
        held = {}
        states = workspace.states()
        plan = plan_run(facts, states, options.targets, force=options.force, with_needs=options.with_needs, held=held)
        _still_there(workspace, plan)
        result = RunResult(plan, recovered=recovered, branch=f"{switched} branch {options.branch}" if switched else None,
                           held=held)
        for unused in workspace.project.limits_for_no_model():  # a warning validate gives, which a run skips
            result.warnings.append(f"{unused.where}{unused.message}")
            on_event("warning", result.warnings[-1])
        result.rollout_plan = _plan_rollout(plan, states, options)
        if not plan:
            return result
        cluster_address = options.cluster or (None if options.no_cluster else workspace.project.config.cluster)
        executor_for = executor_resolver(workspace, shipped=bool(cluster_address))

        def emit(kind: str, payload: object) -> None:
            if kind == "warning":
                result.warnings.append(str(payload))
            on_event(kind, payload)

        isolation_for = isolation_resolver(workspace, [step.task for step in plan], emit)
        project = workspace.project
        for step in plan:  # fail before anything runs when a step cannot be carried out
            executor_for(step.task)
            task = project.tasks[family_of(step.task)].model
            if task.prose_criteria and project.verifier_of(task):
                executor_for(step.task, True)
        _refuse_dirty_outputs(workspace, git, plan, options.force)
        failing = known_failures(workspace, plan)
        if failing and not options.keep_going:  # the run would stop there: nothing runs, nothing is committed
            result.known_failures = failing
            if undo is not None:
                undo()
                result.branch = undo = None
            return result
        undo = None  # from here on, what the run does is on the branch
        starting = will_start(plan, failing)  # their definitions only: a step refused at its start commits nothing
        committed = commit_definitions(workspace, git, starting) if starting else []
        if committed:
            asked.index_changed()
            emit("note", f"committed the definitions this run uses, which were not in git: {', '.join(committed)}")
        git.pin()  # the steps' commits go on HEAD as it is now, or nowhere
        cancelled = threading.Event()
        ctx = RunContext(project=workspace.project, git=git, executor_for=executor_for, isolation_for=isolation_for,
                         check_trees=CheckTrees(git), cancelled=cancelled,
                         tripwire=Tripwire(workspace.root, git, cancelled, asked),  # guards git's calls from now on
                         processes=ProcessRegistry(workspace.layout.agents / "tmp" / "processes"), on_event=on_event,
                         rollout=result.rollout_plan.id if result.rollout_plan else None,
                         cache=_run_cache(workspace, git, options, result.rollout_plan))
        try:
            configured = None if options.no_cluster else project.config.cluster
            with _cluster(options.cluster, configured, project.config.api, emit) as cluster:
                if cluster is not None:
                    ctx.execute = cluster.executes(execute)
                runner = StepRunner(ctx)
                jobs = options.jobs or (cluster.threads if cluster is not None else project.config.jobs)
                with interrupts_cancel(ctx.cancelled):
                    if result.rollout_plan is not None:
                        from agentfiles.runner.rollout import run_rollout

                        result.rollout, result.report = run_rollout(ctx, plan, result.rollout_plan, runner, jobs,
                                                                    options.keep_going, on_event)
                    else:
                        result.report = run_steps(
                            plan, runner.execute, runner.land, jobs=jobs, keep_going=options.keep_going,
                            on_event=on_event, cancelled=ctx.cancelled, prepare=runner.prepare_landing,
                        )
        finally:
            ctx.check_trees.close()
            ctx.tripwire.close()
        if ctx.index_behind:
            emit("warning", f"git's index was locked by another process (.git/index.lock) when {len(ctx.index_behind)} "
                 "step(s) committed: their commits and files stand, and `git status` may show their files as "
                 "changed until the next `agents run` (or `git reset -q`) brings the index up to date")
        return result
    except BaseException:
        if undo is not None:
            undo()
        raise
    finally:
        if asked is not None:
            asked.close()
        git.close()
        release_sandboxes(workspace.root)
        lock.release()


def _check_cluster_option(address: str | None, no_cluster: bool = False) -> None:
    """`--cluster` by the rules of `cluster:` in the config, before anything is read or locked; an empty
    address (an unset variable, `--cluster "$SCHEDULER"`) is refused rather than read as no option."""
    if address is not None and no_cluster:
        raise UsageError("--cluster and --no-cluster contradict each other",
                         hint="give one: --cluster ADDRESS runs the steps on that cluster, --no-cluster here")
    problem = cluster_problem(address) if address is not None else None
    if problem and not address:
        raise UsageError("`--cluster ''` names no cluster", hint="give a scheduler's address (tcp://HOST:8786) or "
                         "local:N, or leave the option out to run as the config says (`cluster:`, else here)")
    if problem:
        raise UsageError(problem, hint=CLUSTER_HINT)


def _cluster(option: str | None, configured: str | None, settings: ApiSettings,
             emit: Callable[[str, object], None]) -> Any:
    """The run's Dask cluster (runner/cluster.py, which imports Dask): `--cluster`'s, else the config's;
    or a stand-in holding None."""
    address = option or configured
    if not address:
        return nullcontext(None)
    from agentfiles.runner.cluster import on_cluster

    asked = f"`--cluster {address}`" if option else f"`cluster: {address}` in .agents/config.yaml"
    return on_cluster(address, settings, emit, asked)


def _still_there(workspace: Workspace, plan: list[PlannedStep]) -> None:
    """Each planned step's task is in the project as checked (the facts the plan comes from are read after)."""
    tasks = workspace.project.tasks
    for step in plan:
        if family_of(step.task) not in tasks:
            raise StepGone(step.task, "its task file appeared after the run checked the project")


def _plan_rollout(plan: list[PlannedStep], states: Any, options: RunOptions) -> RolloutPlan | None:
    """The rollout the options ask for (--canary, --wave), if there are steps to roll out."""
    if options.rollout is None or not plan:
        return None
    from agentfiles.core.rollout import plan_rollout

    return plan_rollout(plan, states, options.rollout)


def _run_cache(workspace: Workspace, git: Git, options: RunOptions, rollout: RolloutPlan | None) -> RunCache | None:
    """The run cache, unless `--no-cache` or `--force` (which asks for the steps to run again). A rollout's
    own steps never come from it: each is run to be compared with its previous run, and a cached run is
    one an earlier rollout may have flagged (then rewound)."""
    if not options.cache or options.force:
        return None
    fresh = frozenset(rollout.candidates) if rollout is not None else frozenset()
    return RunCache(workspace.root, workspace.layout.cache / "run-cache.json", fresh, git)


def _previews(workspace: Workspace, plan: list[PlannedStep], targets: list[str]) -> list[Preview]:
    """The exact requests of the named model steps, from the files as they are now."""
    from agentfiles.core.prompt_cache import cache_notes
    from agentfiles.runner.agent import agent_plan

    project = workspace.project
    root = workspace.root
    previews = []
    for planned in plan:
        if not targets or (planned.task not in targets and family_of(planned.task) not in targets):
            continue
        step = resolve_step(project, planned.task)
        if step.task.is_command:
            continue

        read = text_reader(root, missing_ok=True)
        kind = step.task.executor if step.task.executor != "auto" else project.config.executor
        agent = agent_plan(project, step, read, purpose="claude-code" if kind == "claude-code" else "do")
        previews.append(Preview(planned.task, agent.role, agent.model, agent.tokens, agent.budget.context_tokens,
                                agent.request, cache_notes(agent.request)))
    return previews


def _refuse_dirty_outputs(workspace: Workspace, git: Git, plan: list[PlannedStep], force: bool) -> None:
    if force:
        return
    project = workspace.project
    paths = []
    for step in plan:
        outputs = resolve_step(project, step.task).task.outputs
        paths.extend(p for p in outputs if not has_glob(p))
        paths.extend(owned_files(workspace.root, outputs))  # the files its output globs match now
    dirty = git.dirty(paths)
    if dirty:
        shown = ", ".join(dirty[:5]) + (f" and {len(dirty) - 5} more" if len(dirty) > 5 else "")
        raise PreconditionError(
            f"declared outputs have uncommitted changes: {shown}",
            hint="commit or stash them first, or pass --force to let the steps overwrite them",
        )

