"""The clean working folder of one step: only the declared inputs (at their repo-relative paths) and the
folders of the declared outputs; afterwards, what the step wrote, checked against what it declared."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from agentfiles.core.fingerprint import PREFIX


@dataclass
class Collected:
    outputs: dict[str, bytes] = field(default_factory=dict)  # declared outputs the step wrote
    undeclared: list[str] = field(default_factory=list)  # files written (or inputs changed) beyond them
    missing: list[str] = field(default_factory=list)  # declared outputs not written


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root  # the repository
        self.path = Path(tempfile.mkdtemp(prefix="agents-step-")) / "work"
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
        for rel in outputs:
            (self.path / rel).parent.mkdir(parents=True, exist_ok=True)
        return dict(self.inputs)

    def collect(self, outputs: list[str]) -> Collected:
        """The declared outputs' bytes, and every other file the step created or changed."""
        result = Collected()
        declared = set(outputs)
        for folder, dirs, files in os.walk(self.path):
            base = Path(folder).relative_to(self.path).as_posix()
            for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
                rel = name if base == "." else f"{base}/{name}"
                full = os.path.join(folder, name)
                mode = os.lstat(full).st_mode
                if rel in declared:
                    if not stat.S_ISREG(mode):
                        result.undeclared.append(f"{rel} (not a regular file)")
                        continue
                    with open(full, "rb") as handle:
                        result.outputs[rel] = handle.read()
                elif rel in self.inputs and stat.S_ISREG(mode):
                    with open(full, "rb") as handle:
                        if PREFIX + hashlib.sha256(handle.read()).hexdigest() != self.inputs[rel]:
                            result.undeclared.append(rel)
                else:
                    result.undeclared.append(rel)
        for rel in self.inputs:
            if rel not in declared and not os.path.lexists(self.path / rel):
                result.undeclared.append(f"{rel} (deleted)")
        result.missing = [o for o in outputs if o not in result.outputs]
        result.undeclared.sort()
        return result

    def cleanup(self) -> None:
        shutil.rmtree(self.path.parent, ignore_errors=True)
