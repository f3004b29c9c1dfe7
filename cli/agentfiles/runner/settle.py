"""Settling an `uncertain` step (its verifier panel or its samples disagreed): a person's approval lands
the outputs its run record keeps (for a sampled step, the sample they choose), checked against the hashes
the record gives and against the files as the step saw them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agentfiles.core.fingerprint import digest_bytes
from agentfiles.core.globs import OutputSet
from agentfiles.errors import PreconditionError, UsageError
from agentfiles.storage.journal import unwritable
from agentfiles.storage.records import read_record, record_file, run_folder

if TYPE_CHECKING:
    from agentfiles.core.paths import Layout
    from agentfiles.storage.git import Git


def uncertain_outputs(layout: Layout, git: Git, task: str, meta: dict[str, Any],
                      sample: int | None) -> tuple[dict[str, bytes], list[str]]:
    """What approving this uncertain run lands: the outputs it proposed, or sample `sample`'s, and the files
    under its output globs that it (or that sample) deleted and the work tree still has."""
    run = str(meta.get("run"))
    record = read_record(layout, run) or {}
    samples = record.get("samples") or []
    folder = run_folder(layout, run)
    if sample is not None:
        if not samples:
            raise UsageError(f"run {run} of {task} took no samples: --sample does not apply",
                             hint=f"`agents approve {task}` lands what it proposed")
        entry = next((s for s in samples if s.get("sample") == sample), None)
        if entry is None or not entry.get("ok"):
            good = ", ".join(str(s.get("sample")) for s in samples if s.get("ok")) or "none"
            raise UsageError(f"run {run} of {task} has no sample {sample} that produced outputs",
                             hint=f"the samples with outputs: {good} (`agents review` shows them)")
        wanted, base = dict(entry.get("outputs") or {}), folder / "samples" / f"sample-{sample}" / "proposed"
        gone = entry.get("deleted")
    else:
        wanted, base, gone = dict(record.get("outputs") or {}), folder / "proposed", record.get("deleted")
        if not wanted and samples:
            shown = ", ".join(f"{s.get('sample')} (group {s.get('group')})" for s in samples if s.get("ok"))
            raise UsageError(f"the samples of run {run} of {task} disagree: say which one to land",
                             hint=f"`agents approve {task} --sample N`; the samples: {shown}; `agents review` shows them")
    declared = OutputSet(_declared_outputs(layout, task))
    deleted = sorted(map(str, gone)) if isinstance(gone, list) else []
    # A record is read back from a repository that may be hostile: it lands declared outputs only, where a
    # step may write, and deletes only files under the output globs.
    strays = sorted(rel for rel in wanted if rel not in declared) + [
        f"deleting {rel}" for rel in deleted if rel not in declared or rel in declared.exact]
    why = unwritable(layout.root, [*wanted, *deleted]) if not strays else None
    if strays or why:
        what = f"{', '.join(strays[:3])}, not an output it declares" if strays else f"a file no step may write: {why}"
        raise PreconditionError(f"the run record of {task} proposes {what}",
                                hint=f"restore {layout.rel(folder)} from git, or run `agents run {task}` again")
    found: dict[str, bytes] = {}
    for rel, digest in sorted(wanted.items()):
        path = base / rel
        data = path.read_bytes() if record_file(layout, path) else None
        if data is None or digest_bytes(data) != digest:
            raise PreconditionError(f"the run record of {task} does not hold its proposed {rel} as it was produced",
                                    hint=f"restore {layout.rel(folder)} from git, or run `agents run {task}` again")
        found[rel] = data
    deleted = [rel for rel in deleted if (layout.root / rel).is_file()]
    _unchanged_since(git, layout, task, run, [*found, *deleted])
    return found, deleted


def _declared_outputs(layout: Layout, task: str) -> list[str]:
    """The outputs the step declares now (of a foreach item: with its placeholders filled in)."""
    from agentfiles.runner.resolve import resolve_step
    from agentfiles.storage.workspace import open_workspace

    workspace = open_workspace(layout.root)
    workspace.require_loaded()
    try:
        return list(resolve_step(workspace.project, task).task.outputs)
    except KeyError:
        raise UsageError(f"task '{task}' is no longer in the project", hint="`agents status` lists the tasks") from None


def _unchanged_since(git: Git, layout: Layout, task: str, run: str, paths: list[str]) -> None:
    """Refuse when an output changed after the step ran: the proposal was made against the file as it was."""
    step = git.text("log", "-1", "--format=%H", f"--grep=^Agents-Run: {run}$", "HEAD").strip()
    if not step or not paths:
        return
    dirty = git.dirty(paths)
    then = git.blobs([f"{step}:{p}" for p in paths])
    now = [(layout.root / p).read_bytes() if (layout.root / p).is_file() else None for p in paths]
    moved = [p for p, a, b in zip(paths, then, now) if a != b] + dirty
    if moved:
        raise PreconditionError(
            f"{', '.join(sorted(set(moved)))} changed after run {run} of {task} proposed its outputs",
            hint=f"the proposal no longer applies to the file as it is: `agents reject {task} --reason TEXT`, or "
                 f"`agents run {task}` to run it again",
        )
