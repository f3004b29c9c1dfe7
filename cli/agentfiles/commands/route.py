"""`agents route`: propose the files a step should read, within a token budget, and why each."""

# No `from __future__ import annotations`: typer reads these signatures at every start, and string
# annotations would have to be evaluated each time.

from typing import Optional

import typer

from agentfiles.commands.output import Options


def route_command(
    ctx: typer.Context,
    task: Optional[str] = typer.Argument(None, metavar="[TASK]", help="Propose the inputs of this task."),
    intent: Optional[str] = typer.Option(None, "--intent", "-i", help="Route this text instead of a task."),
    budget: Optional[int] = typer.Option(
        None, "--budget", "-b", min=1,
        help="Tokens the proposal may use (default: what the task's context budget leaves for inputs, else 16000).",
    ),
    write: bool = typer.Option(
        False, "--write",
        help="Put the proposal into the task's `inputs`, keeping its handoffs, the outputs of the tasks it needs, "
             "and what was declared by hand.",
    ),
    replace: bool = typer.Option(
        False, "--replace", help="With --write: replace the inputs declared by hand too (handoffs and needed outputs stay).",
    ),
    explain: bool = typer.Option(False, "--explain", help="Show every signal's share of each file's score."),
    outlines: bool = typer.Option(True, "--outlines/--no-outlines", help="Take a large file as its outline when that fits."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> int:
    """Rank the repository's files for a task's intent (or --intent TEXT) and pack the best into a token
    budget, each with why: words it shares with the intent, its path, similar past commits that changed
    it, files changed together with or imported by the strongest matches, recency."""
    from agentfiles.core.paths import find_project_root
    from agentfiles.errors import PreconditionError, UsageError
    from agentfiles.route.propose import DEFAULT_BUDGET, propose, task_intent, write_proposal

    opts: Options = ctx.obj
    out = opts.out(json_output)
    if (task is None) == (intent is None):
        raise UsageError("give a TASK or --intent TEXT (one of them)", hint="e.g. agents route --intent 'fix the parser' --budget 8000")
    if replace and not write:
        raise UsageError("--replace goes with --write", hint="agents route TASK --write --replace")
    if write and task is None:
        raise UsageError("--write needs a TASK to write the inputs of", hint="agents route TASK --write")
    if intent is not None and not intent.strip():
        raise UsageError("the intent is empty",
                         hint="say what the step should achieve, e.g. agents route --intent 'fix the parser'")
    text, covered = intent or "", frozenset[str]()
    if intent is not None:
        _require_words(intent, "the intent has no word to match")
    if task is None:
        from agentfiles.core.paths import find_git_root, require_directory

        require_directory(opts.directory)
        root = find_git_root(opts.directory)  # routing an intent needs a repository, not a project
        if root is None:
            raise PreconditionError(f"not inside a git repository: {opts.directory.resolve()}",
                                    hint="routing ranks the files git tracks; run it inside a repository")
    else:
        from agentfiles.storage.workspace import open_workspace

        root = find_project_root(opts.directory)
        workspace = open_workspace(opts.directory)
        workspace.require_loaded()
        if task not in workspace.project.tasks:
            from agentfiles.core.typos import unknown_task

            raise unknown_task([task], workspace.project.tasks)
        if write and workspace.project.tasks[task].model.is_command:
            raise UsageError(f"{task} is a command step: its inputs are what its command reads, not a context",
                             hint="route proposes the context of a model step; edit a command step's inputs by hand")
        text, available, covered = task_intent(workspace.project, task, replace)
        _require_words(text, "the task's title and body have no word to match")
        if budget is None and available is not None:
            if available <= 0:
                raise PreconditionError(
                    f"{task}'s context budget is used up before any input: its prompt, CLAUDE.md and brief fill it",
                    hint="raise `budget.context_tokens` of the task (or its role), or pass --budget N",
                )
            budget = available
    proposal = propose(root, text, budget if budget is not None else DEFAULT_BUDGET, outlines=outlines,
                       covered=covered)
    written = write_proposal(opts.directory, task, proposal, replace) if write and task else None
    if out.json_mode:
        out.json("route", {**proposal.to_json(explain), "task": task, "written": written, "seconds": proposal.seconds})
        return 0
    if not proposal.picks:
        out.line(f"No file matches the intent within {proposal.budget} tokens.")
    for number, pick in enumerate(proposal.picks, 1):
        view = " (outline)" if pick.view == "outline" else ""
        out.line(f"{number:>3}. {pick.ranked.path}{view}  ~{pick.tokens} tokens  score {pick.ranked.score:.2f}")
        out.line(f"     {'; '.join(pick.ranked.why)}")
        if explain:
            shares = ", ".join(f"{k} {v:.2f}" for k, v in pick.ranked.signals.items() if v)
            out.line(f"     signals: {shares}")
    out.line(f"{len(proposal.picks)} file(s), ~{proposal.used} of {proposal.budget} tokens")
    if written:
        out.line(f"wrote the inputs of {written}; review it with `git diff {written}`")
    return 0


def _require_words(text: str, message: str) -> None:
    """Refuse an intent of common words and punctuation only: nothing in it to match, and a file
    proposed for it would be proposed by the embeddings alone."""
    from agentfiles.errors import UsageError
    from agentfiles.route.text import words

    if not words(text):
        raise UsageError(message, hint="common words (the, a, of, to, fix, add...) and punctuation are not matched; name "
                                       "what the step is about, e.g. agents route --intent 'retry the upload when the session expires'")


def register(app: typer.Typer) -> None:
    app.command("route")(route_command)
