"""What every fault must leave behind, checked the same way by each suite of tests/faults/: the repository's
files and history as they were (bad input), or a repository whose step commits each hold their outputs,
handoff and record, with no half-written file, temporary file, pending journal or stray worktree left
once the next `agents run` has completed (interruptions, a full disk, a failing endpoint)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from conftest import git

MACHINE_LOCAL = (".agents/cache", ".agents/tmp", ".agents/run.lock", ".agents/report")


def tree_snapshot(root: Path) -> dict[str, str]:
    """Every file, symlink and folder under `root` outside `.git` and agents' machine-local state, with
    its content hash (a symlink: its target), so that any change a command made shows."""
    found: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        rel_folder = os.path.relpath(folder, root)
        rel_folder = "" if rel_folder == "." else rel_folder + "/"
        dirs[:] = [d for d in dirs if d != ".git" and (rel_folder + d) not in MACHINE_LOCAL]
        for name in dirs:
            path = os.path.join(folder, name)
            found[rel_folder + name] = "link:" + os.readlink(path) if os.path.islink(path) else "folder"
        for name in files:
            rel = rel_folder + name
            if rel in MACHINE_LOCAL:
                continue
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found[rel] = "link:" + os.readlink(path)
            else:
                with open(path, "rb") as handle:
                    found[rel] = hashlib.sha256(handle.read()).hexdigest()
    return found


@dataclass
class RepoState:
    """HEAD, `git status` and the files of a repository at one moment."""

    head: str
    status: str
    files: dict[str, str]

    @classmethod
    def of(cls, root: Path) -> RepoState:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "-q", "--verify", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        return cls(head, git(root, "status", "--porcelain", "--untracked-files=all"), tree_snapshot(root))

    def differences(self, other: RepoState) -> list[str]:
        """What changed from this state to `other`, in words (empty when nothing did)."""
        found = []
        if self.head != other.head:
            found.append(f"HEAD moved from {self.head[:10]} to {other.head[:10]}")
        if self.status != other.status:
            found.append(f"git status changed:\n{self.status}--- to ---\n{other.status}")
        for rel in sorted(set(self.files) | set(other.files)):
            if self.files.get(rel) != other.files.get(rel):
                found.append(f"{rel}: {self.files.get(rel, 'absent')} -> {other.files.get(rel, 'absent')}")
        return found


def leftovers(root: Path) -> list[str]:
    """Temporary files of an atomic write, pending journals and stray worktrees a run left behind."""
    found = [p.relative_to(root).as_posix() for p in root.rglob(".*.tmp") if ".git" not in p.relative_to(root).parts]
    journal = root / ".agents" / "tmp" / "journal"
    if journal.is_dir():
        found += [f"journal {p.name}" for p in journal.iterdir()]
    worktrees = git(root, "worktree", "list", "--porcelain").count("worktree ")
    if worktrees != 1:
        found.append(f"{worktrees - 1} extra git worktree(s): {git(root, 'worktree', 'list')}")
    if (root / ".git" / "index.lock").exists():
        found.append(".git/index.lock")
    return found


def step_commit_problems(root: Path) -> list[str]:
    """Each step commit of HEAD's history must hold its handoff (naming its run), its run record, and,
    for a step that succeeded, every output the handoff lists with the hash it lists."""
    problems = []
    log = git(root, "log", "--format=%H%x00%(trailers:key=Agents-Task,valueonly)%x00"
              "%(trailers:key=Agents-Run,valueonly)%x00%(trailers:key=Agents-Status,valueonly)%x1e", "HEAD")
    for entry in log.split("\x1e"):
        parts = [p.strip() for p in entry.strip().split("\x00")]
        if len(parts) < 4 or not parts[1] or not parts[3]:
            continue  # not a step (definitions, reviews, the user's commits)
        sha, task, run, status = parts[:4]
        changed = set(git(root, "diff-tree", "--no-commit-id", "--name-only", "-r", "--root", sha).split())
        handoff_rel = f".agents/handoffs/{task}.md"
        record_rel = f".agents/runs/{run}/record.json"
        for rel in (handoff_rel, record_rel):
            if rel not in changed:
                problems.append(f"step commit {sha[:10]} ({task}) lacks {rel}")
        try:
            handoff = git(root, "show", f"{sha}:{handoff_rel}")
        except subprocess.CalledProcessError:
            continue
        from agentfiles.storage.documents import parse_document

        meta = parse_document(handoff).meta
        if meta.get("run") != run or meta.get("status") != status:
            problems.append(f"step commit {sha[:10]} ({task}) holds the handoff of run {meta.get('run')}")
        record = json.loads(git(root, "show", f"{sha}:{record_rel}")) if record_rel in changed else {}
        if record and record.get("run") != run:
            problems.append(f"step commit {sha[:10]} ({task}) holds the record of run {record.get('run')}")
        for rel, digest in (meta.get("outputs") or {}).items():
            blob = subprocess.run(["git", "-C", str(root), "show", f"{sha}:{rel}"], capture_output=True).stdout
            if "sha256:" + hashlib.sha256(blob).hexdigest() != digest:
                problems.append(f"step commit {sha[:10]} ({task}) holds {rel} not as its handoff says")
    return problems


def step_commit_counts(root: Path, since: str) -> Counter[str]:
    """How many step commits each step has in HEAD's history after `since`, by `step|status`."""
    out = git(root, "log", "--format=%(trailers:key=Agents-Task,valueonly,separator=)|"
                           "%(trailers:key=Agents-Status,valueonly,separator=)", f"{since}..HEAD")
    return Counter(line for line in out.splitlines() if line.strip() and line != "|")


def assert_consistent(root: Path) -> None:
    """A clean work tree and index, nothing left over, and every step commit whole."""
    status = git(root, "status", "--porcelain", "--untracked-files=all")
    assert status == "", f"git status is not clean:\n{status}"
    assert leftovers(root) == [], leftovers(root)
    assert step_commit_problems(root) == [], step_commit_problems(root)


def assert_clean_failure(code: int, err: str, expected: int, what: str = "") -> None:
    """An exit `expected` that says `error:` and `hint:`, and no internal error or traceback."""
    assert code == expected, f"{what} exit {code}, expected {expected}:\n{err}"
    assert "Traceback" not in err and "this is a bug" not in err and "error: unexpected " not in err, err
    lines = err.splitlines()
    assert any(line.startswith("error: ") for line in lines), err
    assert any(line.startswith("hint: ") for line in lines), err
