"""The repository as the router sees it: every tracked text file analysed once per content (cached by
git blob hash in `.agents/cache/route/`), and the commit history (cached by HEAD, extended
incrementally when HEAD moves forward)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from agentfiles.core.paths import check_repo_path
from agentfiles.route.corpus import Doc, History, analyze
from agentfiles.storage.git import Git

MAX_FILE_BYTES = 1024 * 1024
HISTORY_COMMITS = 3000
SCHEMA = 4


def _cache_dir(root: Path) -> Path:
    """In the project's cache; in a repository without the agents layout, inside .git/."""
    if (root / ".agents").is_dir():
        return root / ".agents" / "cache" / "route"
    return root / ".git" / "agents-route-cache"


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _save_json(path: Path, data: Any) -> None:
    from agentfiles.storage.files import atomic_write

    try:
        atomic_write(path, json.dumps(data, separators=(",", ":")))
    except OSError:
        pass  # a cache that cannot be written only costs time


def excluded(path: str) -> bool:
    """Files never proposed: the convention's own, CLAUDE.md files (every step gets them anyway), and any
    path a task may not declare (a control character in its name, say: git tracks such names)."""
    return path.startswith(".agents/") or path.rsplit("/", 1)[-1] == "CLAUDE.md" or check_repo_path(path) is not None


def tracked_files(git: Git) -> dict[str, str]:
    """path -> blob hash of every tracked regular file, with the hash of its working-tree content when
    it has unstaged changes."""
    raw = git.run("ls-files", "-s", "-z").stdout.decode("utf-8", "replace")
    files: dict[str, str] = {}
    for entry in raw.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, blob, _stage = meta.split()
        if mode in ("100644", "100755") and not excluded(path):
            files[path] = blob
    changed = [p for p in git.run("diff", "--name-only", "-z").stdout.decode("utf-8", "replace").split("\0") if p in files]
    present = [p for p in changed if (git.root / p).is_file()]
    if present:
        hashes = git.run("hash-object", "--stdin-paths", input="\n".join(present).encode()).stdout.decode().split()
        files.update(zip(present, hashes))
    for path in changed:
        if path not in present:
            files.pop(path, None)  # deleted in the work tree
    return files


def repo_docs(root: Path, git: Git | None = None, files: dict[str, str] | None = None) -> dict[str, Doc]:
    git = git or Git(root)
    files = tracked_files(git) if files is None else files
    cache_path = _cache_dir(root) / "docs.json"
    cached = _load_json(cache_path)
    entries: dict[str, Any] = cached["docs"] if isinstance(cached, dict) and cached.get("schema") == SCHEMA else {}
    docs: dict[str, Doc] = {}
    fresh: dict[str, Any] = {}
    dirty = False
    for path, blob in files.items():
        key = f"{blob} {path}"
        data = entries.get(key)
        if data is None:
            dirty = True
            data = _analyze_file(root / path, path)
        fresh[key] = data
        if data:
            docs[path] = Doc.from_json(path, data)
    if dirty or len(fresh) != len(entries):
        _save_json(cache_path, {"schema": SCHEMA, "docs": fresh})
    return docs


def _analyze_file(path: Path, rel: str) -> list[Any] | None:
    """A Doc as JSON, or None for a file the router never proposes (binary, too large, unreadable)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if len(data) > MAX_FILE_BYTES or b"\0" in data[:8192]:
        return None
    return analyze(rel, data.decode("utf-8", "replace")).to_json()


def _log(git: Git, span: str) -> list[list[Any]]:
    """[message, files it modified, [old, new] renames] of the non-merge commits in `span`, oldest first. Added and deleted
    files are left out: a commit that adds a tree of files says nothing about which belong together."""
    done = git.run("log", f"--max-count={HISTORY_COMMITS}", "--no-merges", "--find-renames",
                   "--format=%x01%B%x00", "--name-status", span, check=False)
    if done.returncode != 0:
        return []
    out = []
    for chunk in done.stdout.decode("utf-8", "replace").split("\x01")[1:]:
        message, _, names = chunk.partition("\x00")
        modified, renames = [], []
        for line in names.strip().splitlines():
            status, *paths = line.split("\t")
            if status == "M" and paths:
                modified.append(paths[0])
            elif status.startswith("R") and len(paths) == 2:
                renames.append(paths)
        out.append([message.strip()[:500], modified, renames])
    out.reverse()  # oldest first
    return out


def repo_history(root: Path, git: Git | None = None) -> History:
    """The commits reachable from HEAD (the newest HISTORY_COMMITS), as a History."""
    git = git or Git(root)
    head = git.head()
    history = History()
    if head is None:
        return history
    cache_path = _cache_dir(root) / "history.json"
    cached = _load_json(cache_path)
    commits: list[list[Any]] | None = None
    if isinstance(cached, dict) and cached.get("schema") == SCHEMA:
        if cached.get("head") == head:
            commits = cached["commits"]
        elif git.run("merge-base", "--is-ancestor", str(cached.get("head")), head, check=False).returncode == 0:
            commits = (cached["commits"] + _log(git, f"{cached['head']}..{head}"))[-HISTORY_COMMITS:]
    if commits is None:
        commits = _log(git, head)
    if not isinstance(cached, dict) or cached.get("head") != head:
        _save_json(cache_path, {"schema": SCHEMA, "head": head, "commits": commits})
    for message, files, renames in commits:
        history.add(message, files, [tuple(r) for r in renames])
    return history


def dense_similarity(root: Path, docs: dict[str, Doc], intent: str,
                     files: dict[str, str] | None = None) -> dict[str, float] | None:
    """Each file's embedding similarity to the intent (the best 40-line window), or None without the
    optional embeddings. Window vectors are cached by blob in dense.npy (float16) and dense.json."""
    from agentfiles.route import dense

    if not docs or not dense.available():
        return None
    import numpy as np

    files = tracked_files(Git(root)) if files is None else files
    folder = _cache_dir(root)
    index = _load_json(folder / "dense.json")
    try:
        matrix = np.load(folder / "dense.npy") if isinstance(index, dict) and index.get("schema") == SCHEMA else None
    except (OSError, ValueError):
        matrix = None
    spans: dict[str, list[int]] = index["spans"] if matrix is not None else {}
    parts, fresh, at, dirty = [], {}, 0, False
    for path in docs:
        key = f"{files.get(path)} {path}"
        if key in spans:
            start, stop = spans[key]
            block = matrix[start:stop]  # type: ignore[index]
        else:
            dirty = True
            try:
                text = (root / path).read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            block = dense.file_vectors(path, text).astype(np.float16)
        parts.append(block)
        fresh[key] = [at, at + len(block)]
        at += len(block)
    if not parts:
        return None
    vectors = np.concatenate(parts).astype(np.float32)
    if dirty or len(fresh) != len(spans):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / "dense.npy", vectors.astype(np.float16))
            _save_json(folder / "dense.json", {"schema": SCHEMA, "spans": fresh})
        except OSError:
            pass  # a cache that cannot be written only costs time
    similarity = vectors @ dense.embed([intent])[0]
    return {key.split(" ", 1)[1]: float(similarity[a:b].max()) for key, (a, b) in fresh.items() if b > a}
