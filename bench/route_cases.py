"""The routing benchmark's tasks, read from a repository's history (see bench/route_eval.py for the
protocol): each qualifying commit is a task whose answer is known.

A commit qualifies when it is not a merge, changes 1-5 `.py` files, has a message of at least 20
characters and modifies or renames at least one non-test `.py` file that exists at its parent.
Intent = the whole message; truth = those files (a rename by its path at the parent); corpus = the
parent's non-test `.py` files; size of a file = `len(path + "\\n" + text) // 4` tokens.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from agentfiles.route.corpus import is_test

MAX_PY_FILES = 5
MIN_MESSAGE = 20


@dataclass
class Commit:
    sha: str
    parent: str
    message: str
    changed: list[tuple[str, str]]  # (status letter, path); a rename's path is "old\tnew"


@dataclass
class Case:
    repo: str  # the repository's short name
    sha: str
    index: int  # position among all non-merge commits, oldest first
    message: str
    truth: list[str]
    corpus: dict[str, str]  # path -> blob of the parent's non-test .py files
    names_none: bool  # the message names none of the changed files

    def sizes(self, texts: dict[str, str]) -> dict[str, int]:
        return {p: size(p, texts[b]) for p, b in self.corpus.items()}


def size(path: str, text: str) -> int:
    """The one token estimate every ranking is packed with."""
    return len(path + "\n" + text) // 4


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=True).stdout


def commits(repo: Path, rev: str = "HEAD") -> list[Commit]:
    """Every non-merge commit reachable from `rev`, oldest first."""
    raw = git(repo, "log", "--reverse", "--no-merges", "--find-renames", "--format=%x01%H %P%x00%B%x00",
              "--name-status", rev).decode("utf-8", "replace")
    out = []
    for chunk in raw.split("\x01")[1:]:
        head, message, files = chunk.split("\x00", 2)
        shas = head.split()
        changed = []
        for line in files.strip().splitlines():
            status, *paths = line.split("\t")
            if status.startswith("R") and len(paths) == 2:
                changed.append(("R", f"{paths[0]}\t{paths[1]}"))
            elif paths:
                changed.append((status[:1], paths[0]))
        out.append(Commit(shas[0], shas[1] if len(shas) > 1 else "", message.strip(), changed))
    return out


def python_tree(repo: Path, sha: str) -> dict[str, str]:
    """path -> blob of the non-test `.py` files of a commit."""
    raw = git(repo, "ls-tree", "-r", "-z", sha).decode("utf-8", "replace")
    found = {}
    for entry in raw.split("\0"):
        meta, _, path = entry.partition("\t")
        if not path or not path.endswith(".py") or is_test(path):
            continue
        _mode, kind, blob = meta.split()
        if kind == "blob":
            found[path] = blob
    return found


def read_blobs(repo: Path, blobs: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for start in range(0, len(blobs), 2000):
        batch = blobs[start : start + 2000]
        out = git(repo, "cat-file", "--batch", input="".join(b + "\n" for b in batch).encode())
        at = 0
        for blob in batch:
            end = out.index(b"\n", at)
            length = int(out[at:end].split()[2])
            at = end + 1
            texts[blob] = out[at : at + length].decode("utf-8", "replace")
            at += length + 1
    return texts


def qualifying(name: str, repo: Path, history: list[Commit], limit: int | None) -> list[Case]:
    """The newest `limit` qualifying commits (all of them with None), oldest first."""
    cases: list[Case] = []
    for index in range(len(history) - 1, -1, -1):
        commit = history[index]
        if limit is not None and len(cases) >= limit:
            break
        if not commit.parent or len(commit.message) < MIN_MESSAGE:
            continue
        py = [(s, p) for s, p in commit.changed if p.endswith(".py")]
        if not 1 <= len(py) <= MAX_PY_FILES:
            continue
        wanted = [p.split("\t")[0] for s, p in py if s in ("M", "R")]
        wanted = [p for p in wanted if p.endswith(".py") and not is_test(p)]
        if not wanted:
            continue
        corpus = python_tree(repo, commit.parent)
        truth = sorted(p for p in set(wanted) if p in corpus)
        if not truth:
            continue
        lowered = commit.message.lower()
        names_none = not any(Path(p).stem.lower() in lowered for p in truth)
        cases.append(Case(name, commit.sha, index, commit.message, truth, corpus, names_none))
    cases.reverse()
    return cases
