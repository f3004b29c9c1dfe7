"""The status index: the state-deciding facts of each task (its task file and handoff together) and the
sha256 of each file they name, each kept with the stat signature of what it came from. One file,
read once and written once per run (orjson). A warm `agents status` stats files and parses none; a
cold one parses them all, over the cores when there are many.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from stat import S_ISREG
from typing import Any

import orjson

from agentfiles import __version__
from agentfiles.core.facts import Facts, HandoffFacts, TaskFacts
from agentfiles.core.fingerprint import FileHasher, digest_fd, digest_file
from agentfiles.core.paths import Layout
from agentfiles.storage.cache import RACY_WINDOW_NS
from agentfiles.storage.files import atomic_write
from agentfiles.storage.parallel import in_parallel

INDEX_VERSION = 4
PARALLEL_FROM = 2000  # tasks to read: below this a second process costs more than it saves
# Tasks parsed into models at once: each batch's models are freed before the next is read, so its memory
# is reused instead of fresh pages (a page fault each, which costs as much as parsing a small file).
BATCH = 200
_DOCUMENT = "document"  # in place of a digest: a task or handoff file, stat'ed where it was read
Sig = list[int]


def _sig(path: str, stats: dict[str, list[int]] | None = None, rel: str = "") -> Sig | None:
    """Size, mtime, ctime and inode of a regular file (None for anything else); with `stats`, the file's
    full signature (mode first, zeros when missing) is kept there under `rel` for the snapshot."""
    full, sig = _stat(path)
    if stats is not None:
        stats[rel] = full
    return sig


def _stat(path: str) -> tuple[list[int], Sig | None]:
    """A file's full signature (mode, size, mtime, ctime, inode; zeros when missing) and, for a regular
    file, the signature the index keeps (size, mtime, ctime, inode)."""
    try:
        st = os.stat(path)
    except OSError:
        return [0, 0, 0, 0, 0], None
    return _signed(st)


def _signed(st: os.stat_result) -> tuple[list[int], Sig | None]:
    sig = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
    return [st.st_mode, *sig], sig if S_ISREG(st.st_mode) else None


def _stat_digest(path: str, entry: list[Any] | None) -> tuple[list[int], str | None]:
    """A file's full signature and sha256 (None unless a regular file), from one open: `entry` ([sig,
    digest] from the index) saves the read while the signature holds."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # a FIFO must not block the open
    except OSError:  # missing, or not readable: its signature still says which
        return _stat(path)[0], None
    try:
        st = os.fstat(fd)
        full = [st.st_mode, st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        if not S_ISREG(st.st_mode):
            return full, None
        if entry is not None and entry[0] == full[1:]:
            return full, entry[1]
        try:
            return full, digest_fd(fd, st.st_size)
        except OSError:  # unreadable after all (an I/O error): as a missing file, it matches no record
            return full, None
    finally:
        os.close(fd)


def _racy(sig: Sig | None, now: int) -> bool:
    """Changed so recently that a later edit could keep the same signature (git's "racy" files)."""
    return sig is not None and now - sig[1] < RACY_WINDOW_NS


class StatusIndex:
    """The index file: `env` (signatures of config and roles, which every definition depends on),
    `docs` (per task id: task and handoff signatures and their facts), `hashes` (per file: signature
    and sha256)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.env: dict[str, Sig] = {}
        self.docs: dict[str, list[Any]] = {}
        self.hashes: dict[str, list[Any]] = {}
        self.stats: dict[str, list[int]] = {}  # this run's signatures of the files read (for the snapshot)
        self.found: dict[str, str | None] = {}  # sha256 of files hashed this run by the processes reading tasks
        self.judged: dict[str, list[Any]] = {}  # per done step read this run: [local reasons, assumed] (_judge)
        self.dirty = False
        self.read = 0  # tasks whose files were read this run (build_facts)
        try:
            data = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if isinstance(data, dict) and data.get("version") == [INDEX_VERSION, __version__]:
            self.env, self.docs, self.hashes = data["env"], data["docs"], data["hashes"]

    def hasher(self, root: Path) -> FileHasher:
        """sha256 of a repo file, from the index while its signature holds; each file is stat'ed once a run."""
        base = f"{root}{os.sep}"
        hashes = self.hashes
        seen = self.found  # hashed (and stat'ed) already where the tasks naming them were read
        now = time.time_ns()

        def hash_file(rel: str) -> str | None:
            if rel in seen:
                return seen[rel]
            full = base + rel
            sig = _sig(full, self.stats, rel)
            entry = hashes.get(rel)
            if sig is None:
                digest = None
            elif entry is not None and entry[0] == sig:
                digest = entry[1]
            else:
                digest = digest_file(full)
                if digest is not None and not _racy(sig, now):
                    hashes[rel] = [sig, digest]
                    self.dirty = True
            seen[rel] = digest
            return digest

        return hash_file

    def save(self, make_folders: bool = True) -> None:
        """Write the index when it changed; without `make_folders`, not when its folder is gone meanwhile."""
        if not self.dirty:
            return
        payload = {
            "version": [INDEX_VERSION, __version__],
            "env": self.env,
            "docs": self.docs,
            "hashes": self.hashes,
        }
        try:
            atomic_write(self.path, orjson.dumps(payload), sync=False, make_folders=make_folders)
            self.dirty = False
        except OSError:
            pass


def build_facts(layout: Layout, index: StatusIndex, require: Callable[[Any], None]) -> Facts:
    """The facts of every task: from the index for each task whose files (and the config and roles) are
    unchanged, read afresh for the others. `require(frame)` refuses a project whose config or layout
    is broken; when nothing changed, nothing is parsed at all."""
    from agentfiles.core.paths import is_valid_id
    from agentfiles.storage.files import markdown_listing

    frames: list[Any] = []

    def frame() -> Any:
        if not frames:
            from agentfiles.storage.project import load_frame

            frames.append(load_frame(layout.root)[0])
            require(frames[0])
        return frames[0]

    task_names, odd_tasks, tasks_not_folder = markdown_listing(layout.tasks)
    handoff_names, odd_handoffs, handoffs_not_folder = markdown_listing(layout.handoffs)
    tasks = {n[:-3] for n in task_names if is_valid_id(n[:-3])}
    handoffs = {n[:-3] for n in handoff_names}
    if odd_tasks or odd_handoffs or tasks_not_folder or handoffs_not_folder or len(tasks) != len(task_names):
        frame()  # what is not a task file is reported, never skipped
    base = f"{layout.root}{os.sep}"
    env = {rel: sig for rel in _env_files(layout) if (sig := _sig(base + rel, index.stats, rel)) is not None}
    if env != index.env:
        frame()
        index.env, index.docs, index.dirty = env, {}, True
    ids = sorted(tasks | handoffs)
    now = time.time_ns()
    kept: dict[str, list[Any]] = {}
    made: dict[str, Made] = {}  # the facts of the tasks read this run, made as each batch came in
    stale: list[str] = []
    for task_id in ids if index.docs else ():  # with nothing to keep, the reading processes stat the files
        trel, hrel = f".agents/tasks/{task_id}.md", f".agents/handoffs/{task_id}.md"
        tsig = _sig(base + trel, index.stats, trel) if task_id in tasks else None
        hsig = _sig(base + hrel, index.stats, hrel) if task_id in handoffs else None
        old = index.docs.get(task_id)
        if old is not None and old[0] == tsig and old[1] == hsig and _items_hold(layout.root, old[3]):
            kept[task_id] = old
        else:
            stale.append(task_id)
    if not index.docs:
        stale = ids
    index.read = len(stale)
    if stale:
        loaded = frame()

        def work(chunk: list[str]) -> list[list[Any]]:
            docs = _hash_named(index, base, _read_docs(loaded, base, chunk, tasks, handoffs))
            return _judge(layout.root, base, index, docs, handoffs)

        stats, found, hashes = index.stats, index.found, index.hashes

        def absorb(docs: list[list[Any]]) -> None:  # in this process, as each batch comes in
            for doc in docs:
                if (judged := doc.pop()) is not None:
                    index.judged[doc[0]] = judged
                for rel, full, digest in doc.pop():
                    stats[rel] = full
                    if digest == _DOCUMENT:
                        continue
                    found[rel] = digest
                    sig = full[1:]  # with a digest, a regular file's
                    if digest is not None and not _racy(sig, now) and ((had := hashes.get(rel)) is None or had[0] != sig):
                        hashes[rel] = [sig, digest]
                kept[doc[0]] = entry = doc[1:]
                made[doc[0]] = _facts_of(entry)
                if not (_racy(doc[1], now) or _racy(doc[2], now)):
                    index.docs[doc[0]] = entry

        in_parallel(work, stale, PARALLEL_FROM, absorb)
    if len(index.docs) != len(kept) or stale:
        index.docs = {k: v for k, v in index.docs.items() if k in kept}
        index.dirty = True
    return _assemble(frames[0] if frames else None, ids, kept, made)


def _env_files(layout: Layout) -> list[str]:
    from agentfiles.storage.files import markdown_names

    found = [".agents/config.yaml"]
    for folder, prefix in ((layout.claude_agents, ".claude/agents/"), (layout.roles, ".agents/roles/")):
        found.extend(prefix + name for name in markdown_names(folder))
    return found


def _items_hold(root: Path, family: list[Any] | None) -> bool:
    """A foreach task's items are files anywhere in the repository: its facts hold while its glob matches
    the same files."""
    if not family:
        return True
    from agentfiles.core.foreach import items_of

    return items_of(root, family[0]) == family[1]


def _read_docs(frame: Any, base: str, chunk: list[str], tasks: set[str], handoffs: set[str]) -> list[list[Any]]:
    """[id, task sig, handoff sig, facts of the task, (glob, items) or None, facts of the handoff or None,
    [[rel, full signature, _DOCUMENT] of the task and handoff files]]; a file's signature is the stat of
    the file opened to be read, taken before it was read, so a later edit never hides behind it."""
    from agentfiles.core.facts import handoff_facts, task_facts
    from agentfiles.storage.project import load_some

    out = []
    for start in range(0, len(chunk), BATCH):  # a batch's models are freed before the next is read
        part = chunk[start : start + BATCH]
        seen: dict[str, os.stat_result] = {}
        project = load_some(frame, part, tasks, handoffs, seen)
        for task_id in part:
            files = []
            sigs: list[Sig | None] = [None, None]
            for at, (names, rel) in enumerate(((tasks, f".agents/tasks/{task_id}.md"),
                                               (handoffs, f".agents/handoffs/{task_id}.md"))):
                if task_id in names:
                    st = seen.get(rel)  # as it was read; else (not read: gone, a folder) as it is now
                    full, sigs[at] = _stat(base + rel) if st is None else _signed(st)
                    files.append([rel, full, _DOCUMENT])
            tsig, hsig = sigs
            found, family = task_facts(project, task_id) if task_id in tasks else ([], None)
            entry = project.handoffs.get(task_id)
            handoff = handoff_facts(entry.model, entry.body).to_json() if entry else None
            facts = [f.to_json() for f in found]
            out.append([task_id, tsig, hsig, facts, list(family) if family else None, handoff, files])
    return out


def _hash_named(index: StatusIndex, base: str, docs: list[list[Any]]) -> list[list[Any]]:
    """Stat and hash the files the tasks just read name (inputs, outputs, recorded outputs), in the process
    that read them: a cold status hashes over the cores too, and the main process derives the states
    from these digests without a stat of its own. Each doc gains a last element: [[rel, full signature,
    digest or None], ...]; a file the index knows unchanged is not read again."""
    from agentfiles.core.paths import has_glob

    done: set[str] = set()
    for doc in docs:
        found = doc.pop()
        names = [p for f in doc[3] for kind, p in f[2] if kind == "path"] + [p for f in doc[3] for p in f[3]]
        if doc[5] is not None:
            names += [k for k in doc[5][3] if not k.startswith("handoff:")] + list(doc[5][4])
        for rel in names:
            if rel in done or has_glob(rel):
                continue
            done.add(rel)
            found.append([rel, *_stat_digest(base + rel, index.hashes.get(rel))])
        doc.append(found)
    return docs


def _judge(root: Path, base: str, index: StatusIndex, docs: list[list[Any]], handoffs: set[str]) -> list[list[Any]]:
    """Compare each step just read with its handoff as far as this process can (core/state.py's
    local_reasons: all but its upstream steps), from the digests just taken, so that the main process
    only adds the upstream steps. Each doc gains a last element: [reasons, assumed] or None; a file
    hashed for it beyond those named (a glob's matches) joins its list of files."""
    from agentfiles.core.facts import HandoffFacts, TaskFacts
    from agentfiles.core.state import UNKNOWN, local_reasons

    known = {rel: digest for doc in docs for rel, _, digest in doc[-1] if digest != _DOCUMENT}
    bodies = {doc[0]: doc[5][6] if doc[5] is not None else None for doc in docs}
    files: list[list[Any]] = []

    def hash_file(rel: str) -> str | None:
        if rel not in known:
            full, known[rel] = _stat_digest(base + rel, index.hashes.get(rel))
            files.append([rel, full, known[rel]])
        return known[rel]

    for doc in docs:
        facts = doc[3]
        if doc[5] is None or len(facts) != 1 or facts[0][0] != doc[0] or facts[0][7] or facts[0][8] is not None:
            doc.append(None)  # no handoff, a foreach task, or an invalid one: the main process decides
            continue
        task = TaskFacts.from_json(facts[0])
        digests = {value: bodies.get(value, UNKNOWN if value in handoffs else None)
                   for kind, value in task.inputs if kind == "handoff"}
        files = doc[-1]
        assumed: list[list[str | None]] = []
        reasons = local_reasons(root, task, HandoffFacts.from_json(doc[5]), hash_file, digests, assumed)
        doc.append([reasons, assumed])
    return docs


Made = tuple[list[TaskFacts], "list[Any] | None", "HandoffFacts | None"]


def _facts_of(entry: list[Any]) -> Made:
    """The facts of an index entry: [task sig, handoff sig, task facts, (glob, items), handoff facts]."""
    handoff = entry[4]
    return [TaskFacts.from_json(f) for f in entry[2]], entry[3], HandoffFacts.from_json(handoff) if handoff else None


def _assemble(frame: Any, ids: list[str], docs: dict[str, list[Any]], made: dict[str, Made]) -> Facts:
    tasks: dict[str, TaskFacts] = {}
    foreach: dict[str, tuple[str, list[str]]] = {}
    handoffs: dict[str, HandoffFacts] = {}
    for task_id, needs in (frame.broken_tasks if frame else {}).items():
        reason = frame.problem_of(frame.layout.rel(frame.layout.task_file(task_id)))
        tasks[task_id] = TaskFacts(
            task_id,
            list(needs),
            [],
            [],
            "",
            False,
            invalid=f"{reason.where}{reason.message}" if reason else "cannot be loaded",
        )
    for task_id in ids:
        found, family, handoff = made.get(task_id) or _facts_of(docs[task_id])
        for facts in found:
            tasks[facts.id] = facts
        if family:
            foreach[task_id] = (family[0], family[1])
        if handoff is not None:
            handoffs[task_id] = handoff
    return Facts(tasks, handoffs, foreach)
