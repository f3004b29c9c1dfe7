"""The clean working folder of one step: only the declared inputs (at their repo-relative paths), the files
its output globs match, and the folders of its outputs; afterwards, what the step wrote and deleted,
checked against what it declared."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import field
from pathlib import Path

from agentfiles.core.fingerprint import PREFIX
from agentfiles.core.globs import OutputSet
from agentfiles.core.records import record
from agentfiles.core.scratch import scratch_folder


@record
class Collected:
    """What a step left in its sandbox, sorted against what it declared."""

    outputs: dict[str, bytes] = field(default_factory=dict)  # declared outputs the step wrote
    undeclared: list[str] = field(default_factory=list)  # files written (or inputs changed) beyond them
    missing: list[str] = field(default_factory=list)  # declared outputs not written
    deleted: list[str] = field(default_factory=list)  # files under its output globs it deleted


def sandbox_home(root: Path) -> Path:
    """Where one repository's sandboxes live: outside it (so `..` from a step finds nothing of the
    repository), and one folder per repository so a run can clear what a killed run left there."""
    digest = hashlib.sha256(str(root.resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"agents-{digest}"


def clear_sandboxes(root: Path) -> None:
    """Remove sandboxes left behind (only call this while holding the repository's run lock)."""
    shutil.rmtree(sandbox_home(root), ignore_errors=True)


def release_sandboxes(root: Path) -> None:
    """Remove the repository's sandbox folder at the end of a run when nothing is left in it (only call this
    while holding the run lock): each step removed its own sandbox, and an empty folder per run would pile
    up in the temporary folder. What a step could not remove stays there for the next run to clear."""
    home = sandbox_home(root)
    for view in home.glob("etc-*"):  # the steps' /etc (executors/isolation.py's etc_view)
        shutil.rmtree(view, ignore_errors=True)
    try:
        home.rmdir()
    except OSError:
        pass  # not there, or not empty


class Sandbox:
    def __init__(self, root: Path, *, under_lock: bool = True) -> None:
        """`under_lock`: made by a run holding the repository's lock (the next run clears leftovers);
        otherwise (a replay) the sandbox lives in a folder of its own."""
        self.root = root  # the repository
        if under_lock:
            home = sandbox_home(root)
            home.mkdir(parents=True, exist_ok=True)
            self.path = Path(tempfile.mkdtemp(prefix="step-", dir=home)) / "work"
        else:
            self.path = Path(scratch_folder("replay")) / "work"
        self.path.mkdir()
        self.inputs: dict[str, str] = {}  # rel -> sha256 of the copy the step sees

    def populate(self, files: list[str], outputs: list[str]) -> dict[str, str]:
        """Copy `files` from the repository (hashing each copy) and create the outputs' folders."""
        for rel in files:
            target = self.path / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            with open(self.root / rel, "rb") as src, open(target, "wb") as dst:
                while chunk := src.read(1 << 20):
                    digest.update(chunk)
                    dst.write(chunk)
            self.inputs[rel] = PREFIX + digest.hexdigest()
        for folder in OutputSet(outputs).folders():
            (self.path / folder).mkdir(parents=True, exist_ok=True)
        return dict(self.inputs)

    def collect(self, outputs: list[str]) -> Collected:
        return collect(self.path, self.inputs, outputs)

    def cleanup(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)


def collect(folder: Path, inputs: dict[str, str], outputs: list[str]) -> Collected:
    """The outputs' bytes (each exact output; each file under an output glob that the step created or
    changed), the files under its output globs it deleted, and every other file the step created,
    changed or deleted in `folder` (which held `inputs`, rel -> sha256, when the step started)."""
    result = Collected()
    owned = OutputSet(outputs)
    for here, dirs, files in os.walk(folder):
        base = Path(here).relative_to(folder).as_posix()
        for name in files + [d for d in dirs if os.path.islink(os.path.join(here, d))]:
            rel = name if base == "." else f"{base}/{name}"
            full = os.path.join(here, name)
            mode = os.lstat(full).st_mode
            if rel in owned:
                if not stat.S_ISREG(mode):
                    result.undeclared.append(f"{rel} (not a regular file)")
                    continue
                with open(full, "rb") as handle:
                    data = handle.read()
                if rel in owned.exact or _digest(data) != inputs.get(rel):
                    result.outputs[rel] = data  # an exact output always; under a glob, what changed
            elif rel in inputs and stat.S_ISREG(mode):
                with open(full, "rb") as handle:
                    if _digest(handle.read()) != inputs[rel]:
                        result.undeclared.append(rel)
            elif owned.excluded(rel):
                result.undeclared.append(f"{rel} (no output glob names it: list it as an output)")
            else:
                result.undeclared.append(rel)
    for rel in inputs:
        if not os.path.lexists(folder / rel):
            if rel not in owned:
                result.undeclared.append(f"{rel} (deleted)")
            elif rel not in owned.exact:
                result.deleted.append(rel)
    result.missing = [o for o in outputs if o in owned.exact and o not in result.outputs]
    result.undeclared.sort()
    result.deleted.sort()
    return result


def _digest(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()
