"""The hashes that decide whether a step is current: of files, of a task's definition, of a handoff,
and the expansion of a task's declared inputs into the files they name."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from stat import S_ISDIR
from typing import TYPE_CHECKING

import orjson

from agentfiles.core.globs import glob_parts_regex
from agentfiles.core.paths import has_glob, normalize_repo_path, off_limits, reach_of

if TYPE_CHECKING:
    from agentfiles.core.models import Role, Task

PREFIX = "sha256:"
FileHasher = Callable[[str], "str | None"]


def digest_bytes(data: bytes) -> str:
    return PREFIX + hashlib.sha256(data).hexdigest()


_WHOLE = 1 << 20  # files up to this size are read in one call: most inputs, and far cheaper than chunks


def read_all(fd: int, size: int) -> bytes:
    """The bytes of an open file that fstat says holds `size`: one read unless it grew meanwhile (or is not
    a regular file, which may say 0). With open, fstat and close, four system calls: Python's `open`
    spends seven on a small file (it also asks whether the file is a terminal, and where it stands)."""
    data = os.read(fd, size + 1)
    if len(data) <= size:
        return data
    chunks = [data]
    while chunk := os.read(fd, _WHOLE):
        chunks.append(chunk)
    return b"".join(chunks)


def read_file(
    path: str | os.PathLike[str], *, follow: bool = True, seen: list[os.stat_result] | None = None
) -> bytes:
    """A file's bytes (OSError as `open` raises it: a folder is IsADirectoryError; a symlink, when not to
    `follow` it, is ELOOP). `seen` gets the file's stat, taken before it is read (no stat call of its own)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW))
    try:
        st = os.fstat(fd)
        if seen is not None:
            seen.append(st)
        return read_all(fd, st.st_size)
    finally:
        os.close(fd)


def digest_fd(fd: int, size: int) -> str:
    """`sha256:<hex>` of the rest of an open file that fstat says holds `size` bytes."""
    if size < _WHOLE:
        return PREFIX + hashlib.sha256(read_all(fd, size)).hexdigest()
    digest = hashlib.sha256()
    while chunk := os.read(fd, _WHOLE):
        digest.update(chunk)
    return PREFIX + digest.hexdigest()


def digest_file(path: str | os.PathLike[str]) -> str | None:
    """`sha256:<hex>` of a file's bytes, or None when it does not exist or is not a file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
        return None
    try:
        st = os.fstat(fd)
        return None if S_ISDIR(st.st_mode) else digest_fd(fd, st.st_size)
    except IsADirectoryError:
        return None
    finally:
        os.close(fd)


def _canonical(data: object) -> bytes:
    """Sorted keys, no blanks, UTF-8 (json's `sort_keys`, `separators=(",", ":")`, `ensure_ascii=False`):
    what the definition digests recorded in every handoff hash. orjson writes the same bytes several times
    faster, except floats (`2.5e-05` in json, `0.000025` in orjson; NaN and infinities are null there), big
    integers and keys that are not strings, which json still writes."""
    if not _holds_float(data):
        try:
            return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # orjson.JSONEncodeError: an integer over 64 bits, a key that is not a string
            pass
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _holds_float(data: object) -> bool:
    """Whether a float is anywhere in `data` (a walk of its mappings and lists: a definition's few dozen
    values take a microsecond or two, where a search of orjson's text for a float's form took ten)."""
    stack = [data]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            node = node.values()
        elif not isinstance(node, (list, tuple)):
            if isinstance(node, float):
                return True
            continue
        for value in node:
            kind = type(value)
            if kind is not str and kind is not int and kind is not bool and value is not None:
                stack.append(value)  # a container, a float or anything else: judged when taken
    return False


def definition_digest(task: Task, intent: str, role: Role | None, role_prompt: str, model: str | None) -> str:
    """What a step is asked to do: the task's fields and intent, its role's fields and prompt, the model.

    Fields are hashed after parsing (not the file bytes), so comments and formatting do not make a task
    stale; fields left at their defaults are left out, so a new optional field does not either; nor does
    `cache`, which says how a step may be carried out, not what it is.
    """
    return definition_with_parts(task, intent, role, role_prompt, model, None)[0]


def definition_with_parts(
    task: Task, intent: str, role: Role | None, role_prompt: str, model: str | None, config: dict[str, object] | None
) -> tuple[str, dict[str, str]]:
    """The definition digest and what it is made of, each part hashed on its own so that a change can be
    named: `task` (its fields and intent), `role` (the role's fields and prompt), `model` (the model id)
    and, given `config`, `config` (the settings a model step takes from .agents/config.yaml). Each
    model is dumped once for both."""
    whole: dict[str, object] = {
        "task": task.dump(exclude_defaults=True, exclude={"cache"}),
        "intent": intent.strip(),
    }
    parts = {"task": digest_bytes(_canonical(whole))}
    if task.is_command:  # a command step is defined by the task alone
        return parts["task"], parts
    if role is not None:
        whole["role"] = role.dump(exclude_defaults=True, exclude={"agents": {"cache"}})
        whole["prompt"] = role_prompt.strip()
        parts["role"] = digest_bytes(_canonical({"role": whole["role"], "prompt": whole["prompt"]}))
    if model:
        whole["model"] = model
        parts["model"] = digest_bytes(model.encode("utf-8"))
    if config is not None:
        parts["config"] = digest_bytes(_canonical(config))
    return digest_bytes(_canonical(whole)), parts


def handoff_digest(handoff_body: str) -> str:
    """A handoff as a downstream step sees it: its markdown body (reviews and stats do not count)."""
    return digest_bytes(handoff_body.strip().encode("utf-8"))


def expand_path_input(root: Path, pattern: str, refused: list[tuple[str, str]] | None = None) -> list[str]:
    """The repo-relative files a path input names: itself, the files under a folder, or a glob's matches.

    Only files a step may read: anything in `.git` (at any depth) or in the machine-local state of
    `.agents/` is never a match, and a file whose name has a control character, or that a symlink
    leads out of the repository or into `.git`, is left out and added to `refused` as (path, why).
    """
    reach = reach_of(root)

    def allowed(rel: str) -> bool:
        if off_limits(rel):
            return False
        why = reach.problem(rel)
        if why and refused is not None:
            refused.append((rel, why))
        return why is None

    pattern = normalize_repo_path(pattern)
    full = root / pattern
    if not has_glob(pattern):
        if not os.path.lexists(full) or not allowed(pattern):
            return []
        if full.is_file():
            return [pattern]
        return sorted(f for f in _files_under(root, pattern) if allowed(f)) if full.is_dir() else []
    found: set[str] = set()
    for rel in glob_matches(root, pattern):
        if off_limits(rel):
            continue
        if (root / rel).is_file():
            found.add(rel)
        elif (  # a folder a wildcard matched is followed only when it is no symlink
            (root / rel).is_dir() and pattern.endswith("**") and allowed(rel)
            and (rel == pattern.removesuffix("/**") or not os.path.islink(root / rel))
        ):
            found.update(_files_under(root, rel))
    return sorted(f for f in found if allowed(f))


def glob_matches(root: Path, pattern: str) -> list[str]:
    """The files and folders a glob matches under `root`, as `glob.glob(pattern, recursive=True)` finds
    them (a wildcard matches a leading `.` only where the pattern's part starts with one; `**` is any
    depth of folders), but never through a symlinked folder: a symlink loop in a cloned repository
    would make `glob.glob` run for ever."""
    parts = pattern.split("/")
    literal = next((i for i, part in enumerate(parts) if has_glob(part)), len(parts))
    base, rest = "/".join(parts[:literal]), parts[literal:]
    top = root / base if base else root
    if not rest or not top.is_dir():
        return []
    matcher = re.compile(glob_parts_regex(rest))
    # A trailing `**` may match nothing, and then what precedes it matches folders only (`*/**` is `docs/`).
    head = list(rest)
    while head and head[-1] == "**":
        head.pop()
    folders_only = re.compile(glob_parts_regex(head)) if head and head != rest else None
    found = [base] if base and set(rest) == {"**"} else []  # `docs/**` is docs/ too
    hidden = any(part.startswith(".") for part in rest)
    for folder, dirs, files in os.walk(top):
        inner = os.path.relpath(folder, top).replace(os.sep, "/")
        prefix = "" if inner == "." else inner + "/"
        found += [f"{base}/{prefix}{name}" if base else prefix + name
                  for names, is_dir in ((dirs, True), (files, False)) for name in names
                  if matcher.fullmatch(prefix + name)
                  and (is_dir or folders_only is None or not folders_only.fullmatch(prefix + name))]
        if "**" not in rest and prefix.count("/") + 1 >= len(rest):
            dirs[:] = []  # deeper folders cannot match
        else:  # nor can .git, agents' state, or (unless a part starts with a dot) a hidden folder
            dirs[:] = [d for d in dirs if (hidden or not d.startswith("."))
                       and not off_limits(normalize_repo_path(f"{base}/{prefix}{d}"))]
    return found


def _files_under(root: Path, rel: str) -> list[str]:
    out: list[str] = []
    for folder, dirs, files in os.walk(root / rel):
        base = Path(folder).relative_to(root).as_posix()
        prefix = "" if base == "." else base + "/"
        dirs[:] = [d for d in dirs if not off_limits(prefix + d)]
        out.extend(prefix + name for name in files)
    return out


def input_digests(
    root: Path,
    inputs: list[list[str]],
    hash_file: FileHasher,
    handoff_digests: dict[str, str],
) -> dict[str, str | None]:
    """Current hashes of everything a task declares as input, keyed as a handoff records them.

    `inputs` holds `["path", pattern]` and `["handoff", task]` pairs. Path inputs expand to files (a
    literal path that is missing maps to None); `handoff: x` maps `handoff:x` to the digest of x's
    handoff body, or None when x has no handoff.
    """
    result: dict[str, str | None] = {}
    for kind, value in inputs:
        if kind == "handoff":
            result[f"handoff:{value}"] = handoff_digests.get(value)
            continue
        if not has_glob(value):
            digest = hash_file(value)  # the common case: one existing file, one stat
            if digest is not None:
                result[value] = digest
                continue
        files = expand_path_input(root, value)
        if not files and not has_glob(value):
            result[value] = None
        for rel in files:
            result[rel] = hash_file(rel)
    return result
