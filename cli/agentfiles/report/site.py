"""Writing the report: a fingerprint of what it shows (HEAD, the working tree's changes, the derived
states) is compared with the one kept in the output folder, so that an unchanged history is not
rebuilt; otherwise every page is written into a fresh folder that then takes the old one's place, so
that nobody ever sees half a report, and pages of steps that are gone do not linger."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from agentfiles import __version__
from agentfiles.core.paths import find_project_root
from agentfiles.errors import UsageError
from agentfiles.storage.git import Git

MARKER = ".agents-report.json"
FORMAT = 1  # of the pages: a report written by another format is rebuilt
ASSETS = ("report.css", "report.js")
DEFAULT_OUT = ".agents/report"


@dataclass
class ReportResult:
    out: Path
    rebuilt: bool
    fingerprint: str
    pages: int = 0
    steps: int = 0
    runs: int = 0
    seconds: float = 0.0

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "index": str(self.index), "rebuilt": self.rebuilt, "fingerprint": self.fingerprint,
                "pages": self.pages, "steps": self.steps, "runs": self.runs, "seconds": round(self.seconds, 3)}


def build_report(directory: Path, out: Path | None = None, *, force: bool = False) -> ReportResult:
    """Write the report of the project at `directory` into `out` (default `.agents/report/`), unless the
    report there already shows the same history and working state (`force` writes it anyway)."""
    from agentfiles.storage.workspace import open_workspace

    start = time.perf_counter()
    root = find_project_root(directory)
    target = (out if out is not None else root / DEFAULT_OUT).resolve()
    _check_target(root, target)
    workspace = open_workspace(root)
    states = workspace.states()  # from the machine-local index while no convention file changed
    digest = fingerprint(root, target, [s.to_json() for s in states.values()])
    if not force and _kept_fingerprint(target) == digest and (target / "index.html").is_file():
        return ReportResult(target, rebuilt=False, fingerprint=digest, seconds=time.perf_counter() - start)
    from agentfiles.report.collect import collect
    from agentfiles.report.pages import step_pages, top_pages

    report = collect(workspace)
    pages = {**top_pages(report), **step_pages(report)}
    marker = {"format": FORMAT, "agents": __version__, "fingerprint": digest, "head": report.head, "built": report.built}
    _write(target, pages, marker)
    return ReportResult(target, rebuilt=True, fingerprint=digest, pages=len(pages), steps=len(report.steps),
                        runs=len(report.runs), seconds=time.perf_counter() - start)


def fingerprint(root: Path, out: Path, states: list[dict[str, Any]]) -> str:
    """What the report shows depends on: the commits (HEAD), the working tree's uncommitted changes
    (each changed file's path, size and time) and the derived state of every task. The report's own
    folder is left out."""
    git = Git(root)
    args = ["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", "."]
    try:
        args.append(f":(exclude){out.relative_to(root.resolve()).as_posix()}")
    except ValueError:
        pass  # written outside the repository
    status = git.run(*args).stdout
    digest = hashlib.sha256(json.dumps([FORMAT, __version__, git.head(), git.branch(), states]).encode())
    digest.update(status)
    for entry in status.split(b"\0"):
        if len(entry) > 3:
            try:
                st = os.stat(root / entry[3:].decode("utf-8", "surrogateescape"))
            except OSError:
                continue
            digest.update(f"{st.st_size}:{st.st_mtime_ns}".encode())
    return digest.hexdigest()


def _check_target(root: Path, target: Path) -> None:
    """Refuse an output folder that holds the repository, is inside .git, is a file, or holds files that
    no report wrote: the folder is replaced as a whole."""
    here = root.resolve()
    hint = "pass --out with a new or empty folder, or one an earlier `agents report` wrote"
    if target == here or here.is_relative_to(target):
        raise UsageError(f"--out {target} holds the repository: the report's folder is replaced as a whole", hint=hint)
    if target.is_relative_to(here / ".git"):
        raise UsageError(f"--out {target} is inside .git", hint=hint)
    if target.exists() and not target.is_dir():
        raise UsageError(f"--out {target} is a file, not a folder", hint=hint)
    if target.is_dir() and any(target.iterdir()) and not (target / MARKER).is_file():
        raise UsageError(f"{target} is not empty and was not written by `agents report`: it would be replaced", hint=hint)


def _kept_fingerprint(target: Path) -> str | None:
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("fingerprint") if isinstance(data, dict) and data.get("format") == FORMAT else None


def _write(target: Path, pages: dict[str, str], marker: dict[str, Any]) -> None:
    """Every page, the assets and the marker into a fresh sibling folder, which then replaces `target`."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fresh = target.parent / f".{target.name}.new-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(fresh, ignore_errors=True)
    try:
        folders: set[Path] = set()
        for rel, text in pages.items():
            path = fresh / rel
            if path.parent not in folders:
                path.parent.mkdir(parents=True, exist_ok=True)
                folders.add(path.parent)
            path.write_text(text, encoding="utf-8")
        static = resources.files("agentfiles.report") / "static"
        (fresh / "assets").mkdir(parents=True, exist_ok=True)
        for name in ASSETS:
            (fresh / "assets" / name).write_bytes((static / name).read_bytes())
        (fresh / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
        if target.exists():
            os.replace(target, old)
        os.replace(fresh, target)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)  # put the earlier report back
        raise
    shutil.rmtree(old, ignore_errors=True)
