"""Writing the report: a fingerprint of what it shows (HEAD, the working tree's changes, the derived
states) is compared with the one kept in the output folder, so that an unchanged history is not
rebuilt; otherwise every page is written into a fresh folder that then takes the old one's place, so
that nobody ever sees half a report, and pages of steps that are gone do not linger. Where that folder
cannot be made or moved (a parent this user may not write, a mount point) the report is written inside
the output folder, entry by entry; a folder that cannot be written at all is a usage error."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from importlib import resources
from pathlib import Path
from typing import Any

from agentfiles import __version__
from agentfiles.core.paths import find_project_root
from agentfiles.core.records import record
from agentfiles.errors import UsageError
from agentfiles.storage.git import Git

MARKER = ".agents-report.json"
FORMAT = 1  # of the pages: a report written by another format is rebuilt
ASSETS = ("report.css", "report.js")
DEFAULT_OUT = ".agents/report"


@record
class ReportResult:
    out: Path
    rebuilt: bool
    fingerprint: str
    pages: int = 0
    tasks: int = 0  # as `agents status` counts them: each item of a foreach task is one
    runs: int = 0
    seconds: float = 0.0
    exposed: str | None = None  # the folder, relative to the repository, when `git add -A` would commit it

    @property
    def index(self) -> Path:
        return self.out / "index.html"

    def to_json(self) -> dict[str, Any]:
        return {"out": str(self.out), "index": str(self.index), "rebuilt": self.rebuilt, "fingerprint": self.fingerprint,
                "pages": self.pages, "tasks": self.tasks, "runs": self.runs, "seconds": round(self.seconds, 3),
                "exposed": self.exposed}


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
    exposed = exposed_folder(root, target)
    kept = None if force else _kept(target, digest)
    if kept is not None:
        return ReportResult(target, rebuilt=False, fingerprint=digest, pages=len(kept["files"]), tasks=kept["tasks"],
                            runs=kept["runs"], seconds=time.perf_counter() - start, exposed=exposed)
    from agentfiles.report.collect import collect
    from agentfiles.report.pages import step_pages, top_pages

    report = collect(workspace)
    pages = {**top_pages(report), **step_pages(report)}
    marker = {"format": FORMAT, "agents": __version__, "fingerprint": digest, "head": report.head, "built": report.built,
              "tasks": len(report.steps), "runs": len(report.runs), "files": sorted(pages)}
    _write(target, _files(pages, marker))
    return ReportResult(target, rebuilt=True, fingerprint=digest, pages=len(pages), tasks=len(report.steps),
                        runs=len(report.runs), seconds=time.perf_counter() - start, exposed=exposed)


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


def exposed_folder(root: Path, target: Path) -> str | None:
    """`target` relative to the repository when the report would land in its working tree for `git add -A`
    to commit: inside it, and neither ignored nor already tracked (a site published from the repository)."""
    try:
        rel = target.relative_to(root.resolve()).as_posix()
    except ValueError:
        return None
    git = Git(root)
    probe = f"{rel}/index.html"
    if git.run("check-ignore", "-q", "--", probe, check=False).returncode == 0:
        return None
    return None if git.run("ls-files", "--", probe, check=False).stdout.strip() else rel


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


def _kept(target: Path, digest: str) -> dict[str, Any] | None:
    """The marker of the report in `target` when it shows `digest` and every page it wrote is still there
    (a page deleted by hand is written again), else None."""
    try:
        data = json.loads((target / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("fingerprint") != digest:
        return None
    files = data.get("files")
    if not isinstance(files, list) or not isinstance(data.get("tasks"), int) or not isinstance(data.get("runs"), int):
        return None  # written before the marker listed its pages
    if not all(isinstance(f, str) and (target / f).is_file() for f in [*files, *(f"assets/{a}" for a in ASSETS)]):
        return None
    return data


def _files(pages: dict[str, str], marker: dict[str, Any]) -> dict[str, bytes]:
    """Every file of the report by relative path: the pages, the assets, the marker."""
    files = {rel: text.encode("utf-8") for rel, text in pages.items()}
    static = resources.files("agentfiles.report") / "static"
    for name in ASSETS:
        files[f"assets/{name}"] = (static / name).read_bytes()
    files[MARKER] = (json.dumps(marker, indent=2) + "\n").encode("utf-8")
    return files


def _fill(folder: Path, files: dict[str, bytes]) -> None:
    folder.mkdir(parents=True)
    made: set[Path] = {folder}
    for rel, data in files.items():
        path = folder / rel
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(data)


def _unwritable(target: Path, error: OSError) -> UsageError:
    return UsageError(f"cannot write the report into {target}: {error.strerror or error}",
                      hint="pass --out with a folder you can write to, or leave --out out to write .agents/report/ "
                           "in the repository")


def _write(target: Path, files: dict[str, bytes]) -> None:
    """Every file into a fresh sibling folder, which then replaces `target` as a whole. Where no sibling
    can be made (a parent you cannot write) or `target` cannot be renamed (a mount point), the files are
    written inside `target` instead (`_write_inside`)."""
    fresh = target.parent / f".{target.name}.new-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(fresh, ignore_errors=True)
        _fill(fresh, files)
    except OSError as error:
        shutil.rmtree(fresh, ignore_errors=True)
        if not target.is_dir():
            raise _unwritable(target, error) from None
        return _write_inside(target, files)
    except BaseException:
        shutil.rmtree(fresh, ignore_errors=True)
        raise
    try:
        if target.exists():
            os.replace(target, old)
    except OSError:  # a mount point (EBUSY), or a folder this user may not move
        shutil.rmtree(fresh, ignore_errors=True)
        return _write_inside(target, files)
    try:
        os.replace(fresh, target)
    except BaseException as error:
        shutil.rmtree(fresh, ignore_errors=True)
        if old.exists() and not target.exists():
            os.replace(old, target)  # put the earlier report back
        if isinstance(error, OSError):
            raise _unwritable(target, error) from None
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_inside(target: Path, files: dict[str, bytes]) -> None:
    """Every file into a hidden folder inside `target`, then each entry of the report moved into place (the
    overview last, the marker after it). The marker says `being written` meanwhile, so that a report left
    half-replaced by a crash is written again next time rather than taken as up to date."""
    stage = target / f".new-{os.getpid()}"
    attic = target / f".old-{os.getpid()}"
    try:
        for folder in (stage, attic):
            shutil.rmtree(folder, ignore_errors=True)
        _fill(stage, files)
        attic.mkdir()
        writing = target / f".marker-{os.getpid()}"
        writing.write_text(json.dumps({"format": FORMAT, "fingerprint": None, "writing": True}) + "\n", encoding="utf-8")
        os.replace(writing, target / MARKER)
        entries = sorted({rel.split("/", 1)[0] for rel in files} - {MARKER}, key=lambda name: name == "index.html")
        for name in entries:
            if (target / name).is_dir() and not (target / name).is_symlink():
                os.replace(target / name, attic / name)
            os.replace(stage / name, target / name)
        for leftover in target.iterdir():  # what the earlier report had and this one does not
            if leftover.name not in entries and leftover.name != MARKER and leftover not in (stage, attic):
                os.replace(leftover, attic / leftover.name)
        os.replace(stage / MARKER, target / MARKER)
    except OSError as error:
        raise _unwritable(target, error) from None
    finally:
        for folder in (stage, attic):
            shutil.rmtree(folder, ignore_errors=True)
