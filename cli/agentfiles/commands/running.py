"""`agents run` once its arguments are read (by typer, commands/run.py, or without it, commands/cli.py): carry
out the steps that are not done, one commit per step, with progress on a terminal. Imports no typer."""

from __future__ import annotations

import sys
import threading
import time

from agentfiles.commands.output import Options, Output, plural
from agentfiles.errors import EXIT_INTERRUPTED, EXIT_STEP_FAILED

SETUP_SHOWN_S = 1.0  # setup before the first step (checks, plan, loading the model SDK) is said when this long


def _retry_line(retry) -> str:  # type: ignore[no-untyped-def]
    if retry.what == "worker":  # Dask runs it again on another worker: as often as its allowed-failures let it
        return f"retry {retry.task} on another worker: {retry.why}"
    what = "API call, attempt" if retry.what == "API call" else "attempt"
    return f"retry {retry.task} {what} {retry.number} of {retry.of}: {retry.why}"


def _wait_line(wait) -> str:  # type: ignore[no-untyped-def]
    return f"wait  {wait.task}: {wait.why}"


class _Setup:
    """The time from the command's start to its first step, said once when long enough to be noticed."""

    def __init__(self, began: float) -> None:
        self.began: float | None = began

    def setup_line(self) -> str | None:
        if self.began is None:
            return None
        spent, self.began = time.monotonic() - self.began, None
        if spent < SETUP_SHOWN_S:
            return None
        return f"setup {spent:.2f} s before the first step (checking the repository, planning, starting executors)"


class PlainProgress(_Setup):
    """One line per event: for logs, pipes and CI."""

    def __init__(self, out: Output, began: float) -> None:
        super().__init__(began)
        self.out = out
        self.lock = threading.Lock()

    def __call__(self, kind: str, payload: object) -> None:
        with self.lock:
            if kind == "start":
                setup = self.setup_line()
                if setup:
                    self.out.note(setup)
                self.out.note(f"run   {payload}")
            elif kind == "retry":
                self.out.note(_retry_line(payload))
            elif kind == "wait":
                self.out.note(_wait_line(payload))
            elif kind == "finish":
                self.out.note(_finish_line(self.out, payload))
            elif kind == "skip":
                self.out.note(f"skip  {payload.task}: {payload.reason}")  # type: ignore[attr-defined]
            elif kind in ("warning", "note"):
                self.out.diagnostic(kind, str(payload))

    def close(self) -> None:
        pass


def _finish_line(out: Output, outcome) -> str:  # type: ignore[no-untyped-def]
    commit = (outcome.commit or "")[:8]
    if outcome.ok:
        changed = f", changed {', '.join(outcome.changed)}" if outcome.changed else ", no output changed"
        cached = f", outputs of run {outcome.cached_from} from the run cache" if outcome.cached_from else ""
        if outcome.cached_approval:
            cached += f", approved by {outcome.cached_approver or 'a person'} in {outcome.cached_approval[:10]}"
        return (f"{out.paint('done', 'done', stream=sys.stderr)}  {outcome.task} in {outcome.duration_s:.2f} s "
                f"({commit}{cached}{changed})")
    detail = f"{outcome.failure_kind}: {outcome.failure_detail}"
    where = commit or "not started, nothing committed"
    return f"{out.paint(outcome.status, 'failed', stream=sys.stderr)} {outcome.task} in {outcome.duration_s:.2f} s ({where}) {detail}"


class LiveProgress(_Setup):
    """A live table of running steps with their elapsed time, finished steps printed above it."""

    def __init__(self, out: Output, began: float) -> None:
        from rich.console import Console
        from rich.live import Live

        super().__init__(began)
        self.out = out
        self.console = Console(stderr=True)
        self.running: dict[str, float] = {}
        self.lock = threading.Lock()
        self.live = Live(self._render(), console=self.console, refresh_per_second=8, transient=True)
        self.live.__enter__()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()

    def _render(self):  # type: ignore[no-untyped-def]
        from rich.table import Table
        from rich.text import Text

        table = Table.grid(padding=(0, 2))
        now = time.monotonic()
        for task, since in sorted(self.running.items(), key=lambda kv: kv[1]):
            table.add_row(Text("running", style="cyan"), Text(task), Text(f"{now - since:5.1f} s"))
        return table

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                self.live.update(self._render())

    def __call__(self, kind: str, payload: object) -> None:
        with self.lock:
            if kind == "start":
                setup = self.setup_line()
                if setup:
                    self.console.print(setup, highlight=False, markup=False)
                self.running[str(payload)] = time.monotonic()
            elif kind == "retry":
                self.console.print(_retry_line(payload), highlight=False, markup=False)
            elif kind == "wait":
                self.console.print(_wait_line(payload), highlight=False, markup=False)
            elif kind == "finish":
                self.running.pop(payload.task, None)  # type: ignore[attr-defined]
                self.console.print(_finish_line(Output(color=False), payload), highlight=False, markup=False)
            elif kind == "skip":
                self.console.print(f"skip  {payload.task}: {payload.reason}", highlight=False, markup=False)  # type: ignore[attr-defined]
            elif kind in ("warning", "note"):
                self.console.print(f"{kind}: {payload}", highlight=False, markup=False)
            self.live.update(self._render())

    def close(self) -> None:
        self._stop.set()
        self.live.__exit__(None, None, None)


class _Seen:
    """The run's events, passed on to `sink` and remembered, to say what an interruption stopped."""

    def __init__(self, sink) -> None:  # type: ignore[no-untyped-def]
        self.sink = sink
        self.started: list[str] = []
        self.finished: list[str] = []
        self.landed = 0
        self.definitions = False

    def __call__(self, kind: str, payload: object) -> None:
        if kind == "start":
            self.started.append(str(payload))
        elif kind == "finish":
            self.finished.append(payload.task)  # type: ignore[attr-defined]
            self.landed += bool(payload.commit)  # type: ignore[attr-defined]
        elif kind == "note" and str(payload).startswith("committed the definitions"):
            self.definitions = True
        self.sink(kind, payload)

    def interrupted(self) -> str:
        """What the interruption did: nothing had started, which steps it stopped, what landed before."""
        if not self.started:
            kept = "; the commit of the definitions it uses, made first, stays" if self.definitions else ""
            return f"interrupted before any step started: nothing ran{kept}"
        stopped = [t for t in self.started if t not in self.finished]
        if stopped:
            names = ", ".join(stopped[:5]) + (f" and {len(stopped) - 5} more" if len(stopped) > 5 else "")
            one = len(stopped) == 1
            said = f"interrupted: {names} {'was' if one else 'were'} stopped; nothing of {'it' if one else 'theirs'} landed"
        else:
            said = "interrupted between steps: none was running"
        if self.landed:
            said += f"; {plural(self.landed, 'step')} that ended first landed (`agents log`)"
        return said


def run_verb(
    opts: Options,
    *,
    tasks: list[str] | None = None,
    jobs: int | None = None,
    dry_run: bool = False,
    force: bool = False,
    keep_going: bool = False,
    no_deps: bool = False,
    branch: str | None = None,
    canary: int | None = None,
    canary_pick: list[str] | None = None,
    wave: int | None = None,
    cluster: str | None = None,
    no_cluster: bool = False,
    no_cache: bool = False,
    json_output: bool = False,
) -> int:
    """The exit code of `agents run` with these options (their meaning: commands/run.py)."""
    began = time.monotonic()
    if not dry_run:  # whether the OS sandbox works here, found out while the runner's modules load
        from agentfiles.executors.isolation import start_probe

        start_probe()
    from agentfiles.runner.reconcile import RunOptions, reconcile

    out = opts.out(json_output)
    options = RunOptions(
        targets=list(tasks or []), jobs=jobs, force=force, keep_going=keep_going, dry_run=dry_run,
        with_needs=not no_deps, branch=branch, rollout=_rollout_request(canary, canary_pick, wave), cache=not no_cache,
        cluster=cluster, no_cluster=no_cluster,
    )
    live = not out.json_mode and not dry_run and sys.stderr.isatty()
    progress = LiveProgress(out, began) if live else PlainProgress(out, began)
    seen = _Seen(progress if not out.json_mode else (lambda *a: None))
    try:
        result = reconcile(opts.directory, options, seen)
    except KeyboardInterrupt:
        progress.close()
        out.diagnostic("error", seen.interrupted(), "run `agents run` again to carry on")
        return EXIT_INTERRUPTED
    finally:
        progress.close()
    report = result.report
    halted = bool(result.rollout and result.rollout.halted)
    failed = bool(report and report.failed) or halted
    if out.json_mode:
        out.json(
            "run",
            {
                "dry_run": dry_run,
                "plan": [s.to_json() for s in result.plan],
                "outcomes": [o.to_json() for o in report.outcomes] if report else [],
                "skipped": [{"task": s.task, "reason": s.reason} for s in report.skipped] if report else [],
                "recovered": result.recovered,
                "branch": result.branch,
                "warnings": result.warnings,
                "previews": [
                    {"step": p.step, "role": p.role, "model": p.model, "tokens": p.tokens, "budget": p.budget,
                     "request": p.request, "cache": p.cache}
                    for p in result.previews
                ],
                "known_failures": result.known_failures,
                "held": result.held,
                "rollout": (result.rollout.to_json() if result.rollout
                            else result.rollout_plan.to_json() if result.rollout_plan else None),
            },
        )
        return EXIT_STEP_FAILED if failed or result.known_failures else 0
    for run_id in result.recovered:
        out.note(f"recovered the unfinished step of run {run_id}")
    if result.branch:
        out.note(result.branch)
    if dry_run:
        if not result.plan:
            out.line(_nothing(result.held))
        for step in result.plan:
            after = f"  (after {', '.join(step.needs)})" if step.needs else ""
            out.line(f"{step.task}: {'; '.join(step.reasons)}{after}")
        _held(out, result.held)
        if result.rollout_plan is not None:
            from agentfiles.commands.rollout_report import render_plan

            render_plan(out, result.rollout_plan)
        for warning in result.warnings:
            out.diagnostic("warning", warning)
        if result.previews:
            from agentfiles.runner.agent import render_request

            for preview in result.previews:
                budget = f" of a budget of {preview.budget}" if preview.budget else ""
                verdict = " - OVER BUDGET, it would be refused" if preview.budget and preview.tokens > preview.budget else ""
                out.line("")
                out.line(f"# {preview.step}: role {preview.role}, model {preview.model}, ~{preview.tokens} tokens{budget}{verdict}")
                out.line(render_request(preview.request).rstrip())
                for note in preview.cache:
                    out.diagnostic("warning", f"{preview.step}: {note}")
        if result.known_failures:
            _known_failures(out, result.known_failures)
            return EXIT_STEP_FAILED
        return 0
    if not result.plan:
        out.line(_nothing(result.held))
        _held(out, result.held)
        return 0
    if report is None and result.known_failures:  # the run would have stopped at one of them: it did not start
        others = len(result.plan) - len(result.known_failures)
        _known_failures(out, result.known_failures, "nothing ran and nothing was committed" + (
            f"; `agents run --keep-going` runs the {plural(others, 'other step')} meanwhile" if others else ""))
        return EXIT_STEP_FAILED
    if report is None:
        return 0
    _held(out, result.held)
    if result.rollout is not None:
        from agentfiles.commands.rollout_report import render_result

        render_result(out, result.rollout)
    out.line(_summary(len(result.plan), report, time.monotonic() - began,
                      len(result.rollout.not_run) if result.rollout else 0))
    if report.interrupted:
        out.diagnostic("error", seen.interrupted(), "run `agents run` again to carry on")
        return EXIT_INTERRUPTED
    if failed:
        for outcome in report.failed:
            kind = "" if outcome.failure_kind == outcome.status else f"{outcome.failure_kind}: "
            out.diagnostic("error", f"step {outcome.task} {outcome.status}: {kind}{outcome.failure_detail}")
        first = report.failed[0] if report.failed else None
        if first is not None and first.status == "uncertain":
            out.diagnostic("hint", f"`agents review` shows what disagrees; then `agents approve {first.task}` (of samples: "
                           f"`--sample N`) lands it, `agents reject {first.task} --reason TEXT` runs it again")
        elif first is not None and first.commit is None:  # refused at its start: no handoff to show
            out.diagnostic("hint", f"nothing was committed for {first.task}: fix what the error names, then run "
                           f"`agents run` again (`agents run --dry-run {first.task}` checks it without running)")
        elif first is not None:
            out.diagnostic("hint", f"see `agents show {first.task}`; fix, then run `agents run` again")
        return EXIT_STEP_FAILED
    return 0


def _known_failures(out: Output, failing: dict, outcome: str = "") -> None:  # type: ignore[type-arg]
    """Each step that would fail before it starts, then what to do (after what happened, when it is said)."""
    for step_id, why in failing.items():
        out.diagnostic("error", f"step {step_id} would fail before it starts: {why}")
    out.diagnostic("hint", (f"{outcome}. " if outcome else "") + "Fix what each names (create the input, or declare "
                   "the task that produces it under `needs:`; shrink the context), then run `agents run` again")


def _rollout_request(canary: int | None, canary_pick: list[str] | None, wave: int | None):  # type: ignore[no-untyped-def]
    """The rollout `--canary`, `--canary-pick` and `--wave` ask for, or None without them."""
    from agentfiles.errors import UsageError

    picked = [t.strip() for given in canary_pick or [] for t in given.split(",") if t.strip()]
    if canary_pick is not None and not picked:  # an empty list is no reason to run every step at once
        raise UsageError("--canary-pick names no task",
                         hint="name the canaries (`--canary-pick t01,t02`), or give --canary N for the first N")
    if canary and picked:
        raise UsageError("give either --canary N or --canary-pick TASK, not both",
                         hint="--canary 2 runs the first two in dependency order; --canary-pick names them")
    if not (canary or picked or wave):
        return None
    from agentfiles.core.rollout import RolloutRequest

    return RolloutRequest(canary, picked, wave)


def _nothing(held: dict) -> str:  # type: ignore[type-arg]
    """Why an empty plan is empty: every task done, or some held (awaiting review, or needing what is)."""
    return "Nothing to run: every task is done." if not held else "Nothing to run."


def _held(out: Output, held: dict) -> None:  # type: ignore[type-arg]
    for task, why in held.items():
        out.note(f"held  {task}: {why}")


def _summary(planned: int, report, seconds: float, held: int = 0) -> str:  # type: ignore[no-untyped-def]
    """`3 steps: 1 done, 1 rejected, 1 skipped in 4.20 s` (the whole command's wall time); `held`: steps a
    halted rollout did not start."""
    counts = {status: sum(1 for o in report.outcomes if o.status == status)
              for status in ("done", "rejected", "uncertain", "failed")}
    parts = [f"{n} {status}" for status, n in counts.items() if n or status == "done"]
    if report.skipped:
        parts.append(f"{len(report.skipped)} skipped")
    if held:
        parts.append(f"{held} held by the rollout")
    return f"{plural(planned, 'step')}: {', '.join(parts)} in {seconds:.2f} s"
