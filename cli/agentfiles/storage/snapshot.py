"""The states of the last `agents status`, with the stat signature of every file they were derived from
(task and handoff files, config and roles, every input and output hashed, every glob's matches). When
none of those changed, the states are the same: a warm `agents status` stats those files, compares
one list of integers, and derives nothing. This is `git status`'s bargain: trust a file whose size,
mtime, ctime and inode are unchanged, except when it changed within two seconds of being recorded.
"""

from __future__ import annotations

import hashlib
import os
import stat
from array import array
from collections.abc import Callable
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson

from agentfiles import __version__
from agentfiles.core.paths import Layout, has_glob
from agentfiles.core.state import TaskState
from agentfiles.storage.cache import RACY_WINDOW_NS
from agentfiles.storage.files import atomic_write, markdown_names

if TYPE_CHECKING:
    from agentfiles.core.facts import Facts

SNAPSHOT_VERSION = 5
PARALLEL_STATS = 8000  # files to stat: below this, a second process costs more than it saves
_MISSING = (0, 0, 0, 0, 0)
T = TypeVar("T")


def _fingerprint(sigs: list[int]) -> str:
    """One digest of all signatures: the snapshot stays small, and comparing it is one string compare."""
    try:
        packed = array("Q", sigs).tobytes()
    except OverflowError:  # a negative timestamp (before 1970): the numbers as text (an empty digest matched)
        packed = repr(sigs).encode()
    return hashlib.blake2b(packed, digest_size=20).hexdigest()


def _signatures(base: str, folders: list[list[Any]]) -> list[int]:
    """Mode, size, mtime, ctime and inode of each file, flattened; zeros for one that does not exist.
    Files are grouped by folder and stat'ed relative to it: one path lookup each instead of a walk."""
    out: list[int] = []
    extend = out.extend
    stat = os.stat
    for folder, names in folders:
        try:
            fd = os.open(base + folder if folder else base, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            for _ in names:
                extend(_MISSING)
            continue
        try:
            for name in names:
                try:
                    st = stat(name, dir_fd=fd)
                except OSError:
                    try:  # a link to nothing exists for the states (an input that is there, unreadable)
                        st = os.lstat(name, dir_fd=fd)
                    except OSError:
                        extend(_MISSING)
                        continue
                extend((st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino))
        finally:
            os.close(fd)
    return out


def _cut(count: int) -> int:
    """Where the files are cut in two: this process takes the first two fifths, as it also checks the
    folders and builds the states while a second one stats the rest."""
    return count * 2 // 5


def _split(folders: list[list[Any]]) -> tuple[list[list[Any]], list[list[Any]]]:
    """The files cut at `_cut` (a folder's names may be split): the first part, the second."""
    cut = _cut(sum(len(names) for _, names in folders))
    first: list[list[Any]] = []
    second: list[list[Any]] = []
    seen = 0
    for folder, names in folders:
        if seen >= cut:
            second.append([folder, names])
        elif seen + len(names) <= cut:
            first.append([folder, names])
        else:
            first.append([folder, names[: cut - seen]])
            second.append([folder, names[cut - seen :]])
        seen += len(names)
    return first, second


def _in_parts(first: str, second: str) -> str:
    return hashlib.blake2b(f"{first} {second}".encode(), digest_size=20).hexdigest()


def _parts_fingerprint(sigs: list[int]) -> str:
    """The snapshot's fingerprint of the signatures (5 numbers a file) of its files: one digest of each part."""
    cut = _cut(len(sigs) // 5) * 5
    return _in_parts(_fingerprint(sigs[:cut]), _fingerprint(sigs[cut:]))


def _files_fingerprint(base: str, folders: list[list[Any]], meanwhile: Callable[[], T]) -> tuple[str, T]:
    """`_parts_fingerprint` of the files as they are now, and what `meanwhile()` returned. Each stat is a
    system call: with many files, a forked process on another core stats the second part while this one
    runs `meanwhile` and stats the first (git stats its index with several threads for the same reason)."""
    first, second = _split(folders)
    theirs = None
    if sum(len(names) for _, names in folders) >= PARALLEL_STATS:
        from agentfiles.storage.parallel import in_background

        theirs = in_background(lambda: _fingerprint(_signatures(base, second)).encode())
    try:
        found = meanwhile()
        mine = _fingerprint(_signatures(base, first))
    finally:
        answer = theirs() if theirs is not None else None  # the process is waited for, whatever happened
    return _in_parts(mine, answer.decode() if answer else _fingerprint(_signatures(base, second))), found


def files_signature(root: Path, files: list[str]) -> tuple[str, int]:
    """One digest of the stat signatures of `files` (repo-relative; zeros for one that does not exist), and
    the newest mtime among them (a result derived from files changed within the racy window is not kept)."""
    sigs = _signatures(f"{root}{os.sep}", _by_folder(files))
    newest = max((sigs[i + 2] for i in range(0, len(sigs), 5) if stat.S_ISREG(sigs[i])), default=0)
    return _fingerprint(sigs), newest


def _chunks(sigs: list[int]) -> list[list[int]]:
    return [sigs[i : i + 5] for i in range(0, len(sigs), 5)]


def _folder(sig: list[int] | None) -> bool:
    return sig is not None and stat.S_ISDIR(sig[0])


def _paths(folders: list[list[Any]]) -> list[str]:
    return [f"{folder}/{name}" if folder else name for folder, names in folders for name in names]


def _by_folder(files: list[str]) -> list[list[Any]]:
    grouped: dict[str, list[str]] = {}
    for rel in files:
        folder, _, name = rel.rpartition("/")
        grouped.setdefault(folder, []).append(name)
    return [[folder, names] for folder, names in grouped.items()]


def _layout_names(layout: Layout) -> list[Any]:
    """Which names the convention folders hold (a new or removed file changes them), in the order the folder
    lists them: the same list is the same names, and a folder listed in another order is merely derived again."""
    found: list[Any] = []
    for folder in (layout.tasks, layout.handoffs, layout.roles, layout.claude_agents):
        try:
            found.append(os.listdir(folder))
        except FileNotFoundError:
            found.append(None)
        except OSError:
            found.append(False)  # not a folder
    return found


def _globs(root: Path, patterns: list[str]) -> list[list[Any]]:
    from agentfiles.core.fingerprint import expand_path_input

    return [[p, expand_path_input(root, p)] for p in patterns]


def read_snapshot(layout: Layout, path: Path) -> dict[str, TaskState] | None:
    """The recorded states, if every file they came from is unchanged; else None."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or data.get("version") != [SNAPSHOT_VERSION, __version__]:
        return None

    def recorded() -> dict[str, TaskState] | None:  # while the files are stat'ed
        if _layout_names(layout) != data["names"]:
            return None
        if data["globs"] and _globs(layout.root, [g[0] for g in data["globs"]]) != data["globs"]:
            return None
        return {row[0]: TaskState(*row) for row in data["states"]}

    try:
        sigs, states = _files_fingerprint(f"{layout.root}{os.sep}", data["files"], recorded)
    except (KeyError, TypeError, ValueError):
        return None
    return states if sigs == data["sigs"] else None


def layout_names(layout: Layout) -> list[Any]:
    """The convention folders' names as a snapshot records them: taken before the files are read, so a file
    added while (or after) a status reads makes the names differ next time."""
    return _layout_names(layout)


def snapshot_sources(
    layout: Layout, facts: Facts, known: dict[str, list[int]], names: list[Any]
) -> dict[str, Any]:
    """What the snapshot of states derived from `facts` vouches for, as the status found it: the folders'
    `names` (`layout_names`, taken before reading), each glob's matches, and the signature of each file
    the states depend on that was not read or hashed for the facts, taken now: before the states are
    derived (what changes after this is seen next time: the signatures differ), after the facts were read
    (a foreach task's items found different from those read keep the snapshot unwritten). `vouched`
    completes it once the states are derived, with the signatures of the files read or hashed (`known`);
    the writing (`write_snapshot`) may come later, in another process."""
    root = layout.root
    base = f"{root}{os.sep}"
    documents = [f".agents/tasks/{t}.md" for t in facts.tasks if "@" not in t]
    documents += [f".agents/handoffs/{t}.md" for t in facts.handoffs]
    documents += [".agents/config.yaml"]
    documents += [f".agents/roles/{n}" for n in markdown_names(layout.roles)]
    documents += [f".claude/agents/{n}" for n in markdown_names(layout.claude_agents)]
    # a task that never ran is blocked or ready by whether its literal inputs exist: none of them is hashed
    documents += [p.rstrip("/") for tid, task in facts.tasks.items() if tid not in facts.handoffs
                  for kind, p in task.inputs if kind == "path" and not has_glob(p) and p.rstrip("/")]
    patterns = [glob for glob, _ in facts.foreach.values()]
    for task in facts.tasks.values():
        for kind, p in task.inputs:  # a folder input was hashed as "not a file": its mode is 0 or a dir's
            if kind == "path" and (has_glob(p) or _folder(known.get(p))):
                patterns.append(p)
        patterns += [p for p in task.outputs if has_glob(p)]  # a file added under an output glob
    globs = _globs(root, list(dict.fromkeys(patterns)))
    listed = dict(globs)
    items_differ = any(listed[glob] != items for glob, items in facts.foreach.values())
    late = [d for d in dict.fromkeys(documents) if d not in known]
    matched = [rel for _, found in globs for rel in found if rel not in known and rel not in late]
    grouped = _by_folder([*late, *dict.fromkeys(matched)])
    taken = dict(zip(_paths(grouped), _chunks(_signatures(base, grouped))))
    # A glob's match not read or hashed for the states: its content decides nothing (the listing of its glob
    # records it); one new since the status began (its inode changed after `since`, whatever its mtime says)
    # may be missing from what was hashed: `write_snapshot` writes nothing then.
    newest = max((taken[rel][3] for rel in matched), default=0)
    return {"names": names, "globs": globs, "found": {rel: taken[rel] for rel in late}, "matched_ctime": newest,
            "items_differ": items_differ}


def vouched(sources: dict[str, Any], known: dict[str, list[int]]) -> dict[str, Any]:
    """`snapshot_sources` once the states are derived: with the signature of every file read or hashed for
    them (`known`: those the derivation hashed too), each taken as the file was read."""
    return {**sources, "found": {**sources["found"], **known}}


def write_snapshot(
    path: Path, sources: dict[str, Any], states: dict[str, TaskState], since_ns: int, make_folders: bool = True
) -> None:
    """Record `states` with what they were derived from (`snapshot_sources`), unless a file changed so
    recently before `since_ns` (when the status began to look) that a later edit might keep its signature:
    then the next run derives again. Without `make_folders`, nothing is written where the cache folder is
    gone meanwhile (removed, or the project moved)."""
    folders: dict[str, tuple[list[str], list[list[int]]]] = {}  # in one pass: each folder's names and rows
    newest = 0  # the newest mtime of a file (a folder's changes show in its globs): the caches' racy window
    for rel, row in sources["found"].items():
        folder, _, name = rel.rpartition("/")
        if (group := folders.get(folder)) is None:
            group = folders[folder] = ([], [])
        group[0].append(name)
        group[1].append(row)
        if row[2] > newest and stat.S_ISREG(row[0]):
            newest = row[2]
    if since_ns - newest < RACY_WINDOW_NS:
        return
    if sources["matched_ctime"] >= since_ns or sources["items_differ"]:
        return  # a file a glob matches appeared (or changed) after the status began: derive next time
    files = [[folder, names] for folder, (names, _) in folders.items()]
    sigs = list(chain.from_iterable(row for _, rows in folders.values() for row in rows))
    data = {
        "version": [SNAPSHOT_VERSION, __version__],
        "names": sources["names"],
        "globs": sources["globs"],
        "files": files,
        "sigs": _parts_fingerprint(sigs),
        "states": [[s.id, s.state, s.reasons, s.run, s.definition, s.isolation, s.parts, s.command]
                   for s in states.values()],
    }
    try:
        atomic_write(path, orjson.dumps(data), sync=False, make_folders=make_folders)
    except OSError:
        pass
