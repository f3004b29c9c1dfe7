"""Applying a step's files to the work tree so that a kill at any moment can be undone or completed.

Before anything changes, the journal records every path a step will write and keeps a copy of what is
there now. After the step's commit it is deleted. The next `agents run` finds a journal left by a killed
run: if that run's commit landed, the work tree is brought in line with it; if not, the old files are
put back. Either way no half-applied step remains.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from agentfiles.core.paths import Reach, check_repo_path, normalize_repo_path
from agentfiles.errors import PreconditionError
from agentfiles.storage.files import atomic_write


class Journal:
    def __init__(self, folder: Path, root: Path, run_id: str) -> None:
        self.folder = folder / run_id
        self.root = root
        self.run_id = run_id

    def apply(self, files: dict[str, bytes], deleted: list[str] = ()) -> None:  # type: ignore[assignment]
        """Back up the current state of the paths of `files` and `deleted`, record the intent, then write
        `files` atomically and remove `deleted`. Nothing is written when any path is one no step may
        write (see `refuse_unwritable`)."""
        refuse_unwritable(self.root, [*files, *deleted])
        backup = self.folder / "backup"
        self.folder.mkdir(parents=True, exist_ok=True)
        entries = {}
        for rel in [*files, *deleted]:
            current = self.root / rel
            existed = current.is_file()
            if existed:
                target = backup / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(current, target)
            entries[rel] = existed
        atomic_write(self.folder / "journal.json", json.dumps({"run": self.run_id, "files": entries}))
        # The record of intent is on disk first; the files themselves are replaced by rename, which no kill
        # can tear, and reach the disk when the system writes them back, as git's own objects do.
        for rel, data in files.items():
            atomic_write(self.root / rel, data, sync=False)
        for rel in deleted:
            try:
                os.unlink(self.root / rel)
            except FileNotFoundError:
                pass
            _remove_empty_parents((self.root / rel).parent, self.root)

    def close(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)

    def undo(self) -> None:
        """Put back what `apply` replaced (when the commit that should follow it failed)."""
        try:
            data = json.loads((self.folder / "journal.json").read_text())
        except (OSError, ValueError):
            shutil.rmtree(self.folder, ignore_errors=True)
            return
        roll_back(self.root, dict(data["files"]), self.folder)


def refuse_unwritable(root: Path, paths: list[str]) -> None:
    """The last check before a step's files land (the runner checked the declared paths before the step
    ran; this holds whatever happened since)."""
    why = unwritable(root, paths)
    if why:
        raise PreconditionError(
            f"nothing of the step was written: {why}",
            hint="`agents validate` names the paths it refuses; fix them, then run again",
        )


def unwritable(root: Path, paths: list[str]) -> str | None:
    """Why one of `paths` may not be written, or None: each must be a normalised repo path, outside .git
    and agents' machine-local state, that reaches its file through no symlink."""
    reach = Reach(root)
    for rel in paths:
        normal = normalize_repo_path(rel) == rel
        why = check_repo_path(rel) if normal else f"path {rel!r} is not in its normal form"
        if why is None and (problem := reach.problem(rel, output=True)):
            why = f"path {rel!r} {problem}"
        if why:
            return why
    return None


def pending_journals(folder: Path) -> list[tuple[str, dict[str, bool], Path]]:
    """Journals left by runs that did not finish: (run id, {path: existed before}, folder)."""
    found = []
    if not folder.is_dir():
        return found
    for entry in sorted(folder.iterdir()):
        path = entry / "journal.json"
        try:
            data = json.loads(path.read_text())
            found.append((str(data["run"]), dict(data["files"]), entry))
        except (OSError, ValueError, KeyError, TypeError):
            shutil.rmtree(entry, ignore_errors=True)  # died before the intent was recorded: nothing applied
    return found


def check_journal(root: Path, files: dict[str, bool], folder: Path) -> None:
    """A journal names only paths a step could have written, and keeps its copies inside the repository;
    anything else did not come from a run of ours, and nothing of it is acted on."""
    where = os.path.relpath(folder, root).replace(os.sep, "/")
    why = unwritable(root, list(files))
    copies = [f"{where}/backup/{rel}" for rel, existed in files.items() if existed]
    reach = Reach(root)
    why = why or next((f"its copy {rel} goes through a symlink" for rel in copies if reach.real(rel) != rel), None)
    if why:
        raise PreconditionError(f"the journal {where} was not left by a run of agents: {why}",
                                hint=f"remove it (`rm -rf {where}`), then run again")


def remove_temporaries(root: Path, files: dict[str, bool]) -> None:
    """Temporary files an atomic write killed halfway left next to the journaled paths."""
    for rel in files:
        target = root / rel
        for leftover in target.parent.glob(f".{target.name}.*.tmp") if target.parent.is_dir() else []:
            try:
                leftover.unlink()
            except OSError:
                pass


def roll_back(root: Path, files: dict[str, bool], folder: Path) -> None:
    """Put back what was there before an unfinished step wrote its files."""
    remove_temporaries(root, files)
    for rel, existed in files.items():
        target = root / rel
        if existed:
            atomic_write(target, (folder / "backup" / rel).read_bytes())
        else:
            try:
                os.unlink(target)
            except FileNotFoundError:
                pass
            _remove_empty_parents(target.parent, root)
    shutil.rmtree(folder, ignore_errors=True)


def _remove_empty_parents(folder: Path, root: Path) -> None:
    while folder != root and root in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent
