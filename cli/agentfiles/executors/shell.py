"""`run`, the doer's shell: one command inside the OS sandbox of its step. It sees the step's folder (the
declared inputs read-only, the files its outputs name writable), the toolchain, no network unless the task
allows it, and nothing of the repository; it is stopped at its time limit; whatever it writes outside the
step's outputs is discarded afterwards and said."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from agentfiles.core.conversation import Limits
from agentfiles.core.globs import OutputSet, overlap
from agentfiles.core.tool_calls import DoerTools
from agentfiles.core.tools import RunResult
from agentfiles.executors.base import Runtime, StepRequest
from agentfiles.executors.command import run_process
from agentfiles.executors.isolation import INSTALL_HINT, Isolation, Mounts, confine, confined_env

FOLDER_REFUSAL = (
    "`run` needs the OS sandbox, and this step has folder isolation (a command could read and change anything "
    f"you can); {INSTALL_HINT.split(', or ')[0]}, and keep `isolation: auto` or `os`. Until then, work from "
    "the files you were given and say in your handoff what should be run"
)


def doer_tools(request: StepRequest, runtime: Runtime, limits: Limits) -> DoerTools:
    """The doer's tools on the step's sandbox, `run` through a StepShell when the step has the OS sandbox."""
    assert request.context is not None
    shell = None
    if "run" in request.tools and request.isolation.mode == "os":
        shell = StepShell(runtime.sandbox, request.env, request.isolation, request.outputs, runtime.cancel, runtime.track)
    return DoerTools(request.context, list(request.outputs), runtime.sandbox, limits,
                     list(request.tools or ["read_file", "write_file"]), shell, FOLDER_REFUSAL)


class StepShell:
    """Runs the commands of one step's `run` calls in its sandbox folder."""

    def __init__(self, folder: Path, env: dict[str, str], isolation: Isolation, outputs: list[str],
                 cancel: Any = None, track: Any = None) -> None:
        assert isolation.mode == "os", "run is refused without the OS sandbox"
        self.folder = folder
        self.env = {**confined_env(env), "PYTHONDONTWRITEBYTECODE": "1"}  # fewer by-products to discard
        self.isolation = isolation
        self.owned = OutputSet(outputs)
        self.cancel = cancel
        self.track = track

    def __call__(self, command: str, timeout: float) -> RunResult:
        before, folders = tree_of(self.folder)
        protect = read_only_parts(self.folder, self.owned, (before, folders))
        argv = confine(["/bin/sh", "-c", "exec 2>&1\n" + command], self.folder, self.isolation, Mounts(protect=protect))
        code, out, err, seconds, timed_out = run_process(argv, str(self.folder), self.env, timeout, self.cancel,
                                                         track=self.track, contained=True)
        discarded = discard_undeclared(self.folder, before, folders, self.owned)
        text = (out + err).decode("utf-8", "replace")
        return RunResult(None if timed_out else code, text, seconds, timed_out, discarded)


def tree_of(folder: Path) -> tuple[set[str], set[str]]:
    """(every file and symlink, every folder) under `folder`, relative to it, in one walk (symlinked folders
    are not followed)."""
    files: set[str] = set()
    folders: set[str] = set()
    stack = [("", os.fspath(folder))]
    while stack:  # os.scandir, not os.walk: a `run` call walks its folder twice, and os.walk took 3 ms a walk
        prefix, here = stack.pop()
        try:
            entries = list(os.scandir(here))
        except OSError:
            continue  # as os.walk: a folder it cannot list holds nothing
        for entry in entries:
            rel = prefix + entry.name
            try:
                is_folder = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_folder = False
            if is_folder:
                folders.add(rel)
                stack.append((rel + "/", entry.path))
            else:
                files.add(rel)
    return files, folders


def read_only_parts(folder: Path, owned: OutputSet, tree: tuple[set[str], set[str]] | None = None) -> list[str]:
    """What of the step's folder a command may read but not change, in as few mounts as say it: a folder in
    which no output can name anything, whole; elsewhere each file (or symlink) the outputs do not name.
    Each is one mount, and mounts cost: a thousand files one by one took seconds a call. `tree` is the
    folder's `tree_of`, when the caller has it."""
    files, folders = tree if tree is not None else tree_of(folder)
    closed: set[str] = set()  # folders mounted whole
    parts: list[str] = []
    for rel in sorted(folders, key=lambda r: (r.count("/"), r)):  # a folder before what it holds
        if rel.rpartition("/")[0] in closed:
            closed.add(rel)
        elif not any(overlap(declared, rel + "/**") for declared in owned.declared):
            closed.add(rel)
            parts.append(rel)
    for rel in files:
        if rel.rpartition("/")[0] not in closed and rel not in owned:
            parts.append(rel)
    return sorted(parts)


def discard_undeclared(folder: Path, before: set[str], folders: set[str], owned: OutputSet) -> list[str]:
    """Remove what a command added to the folder that the step's outputs do not name (caches, build files,
    links), and the folders it made that hold nothing then; returns the paths of the files removed."""
    removed: list[str] = []
    files, now = tree_of(folder)
    for rel in sorted(files - before):
        full = folder / rel
        if rel in owned and not full.is_symlink():
            continue
        full.unlink(missing_ok=True)
        removed.append(rel)
    for rel in sorted(now - folders, key=lambda r: -r.count("/")):
        try:
            (folder / rel).rmdir()  # only when empty: a folder holding a new output stays
        except OSError:
            pass
    return removed
