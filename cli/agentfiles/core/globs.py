"""A task's declared outputs as a set of paths: exact files, and globs or folders (`src/pkg/**/*.py`,
`docs/`) whose matching files the step may create, modify and delete. Matching follows the globs of
inputs (core/fingerprint.py), with the regular expressions made here; whether two globs can match one path is decided without listing files."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from functools import lru_cache
from typing import Any

from agentfiles.core.paths import has_glob

FOLDER_GLOB = "**"  # `docs/` as an output is `docs/**`: every file under it


def glob_regex(pattern: str) -> str:
    """A regular expression for the repo paths a whole glob matches (as core/fingerprint.py's `glob_matches`
    finds them)."""
    return glob_parts_regex(pattern.split("/"))


def glob_parts_regex(parts: list[str]) -> str:
    """A regular expression for the slash-joined path below a glob's literal folders."""
    name = r"(?!\.)[^/]+"  # one part that `**` matches: any name not starting with a dot
    out, sep = "", ""
    for index, part in enumerate(parts):
        if part == "**" and index == len(parts) - 1:
            out += f"(?:{sep}{name}(?:/{name})*)?"
        elif part == "**":
            out += f"(?:/{name})*" if sep else f"(?:{name}/)*"
        else:
            out += sep + ("" if part.startswith(".") else r"(?!\.)") + _wildcards(part)
            sep = "/"
    return out


def _wildcards(part: str) -> str:
    """One part of a glob as a regular expression that never matches a slash (fnmatch's syntax)."""
    out, i = [], 0
    while i < len(part):
        char = part[i]
        i += 1
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[" and (end := part.find("]", _class_start(part, i))) != -1:
            chars = part[i:end]
            i = end + 1
            negated = chars.startswith("!")
            body = chars[1:] if negated else chars
            body = body.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")  # literals in a glob's class
            if negated:
                body = "^/" + body  # a negated class never matches the slash between parts
            elif body.startswith("^"):
                body = "\\" + body
            out.append(f"[{body}]")
        else:
            out.append(re.escape(char))
    return "".join(out)


def _class_start(part: str, i: int) -> int:
    """Where the closing `]` of a class opened before `i` may be: after a leading `!`, then a leading `]`."""
    i += part[i : i + 1] == "!"
    return i + (part[i : i + 1] == "]")

# What an output glob or folder never names, whatever it matches: the files agents and Claude Code read as
# instructions (a step rewriting them through `**/*.md` would change what every later step is told) and
# their own folders. Listed by name as an output, such a file is the step's to write.
INSTRUCTION_FILES = ("CLAUDE.md", "CLAUDE.local.md", "AGENTS.md")
INSTRUCTION_FOLDERS = (".agents", ".claude")


def reserved(rel: str) -> str | None:
    """Why no output glob names the repository path `rel` (see INSTRUCTION_FILES), or None."""
    folder, _, name = rel.partition("/")
    if name and folder in INSTRUCTION_FOLDERS:
        return f"is in {folder}/, which no output glob or folder reaches"
    if rel.rpartition("/")[2] in INSTRUCTION_FILES:
        return "is read as instructions by agents and Claude Code, and no output glob or folder names it"
    return None


def folder_output(value: str) -> str:
    """An output written as a folder (`docs/`, or a glob of folders: `src/p*/`) as the glob it means
    (`docs/**`, `src/p*/**`: every file under them); others as they are."""
    stripped = value.strip()
    if stripped.endswith("/") and stripped.strip("/"):
        folder = stripped.rstrip("/")
        return folder if folder.endswith("/" + FOLDER_GLOB) or folder == FOLDER_GLOB else folder + "/" + FOLDER_GLOB
    return value


def folder_glob(value: str) -> str:
    """An input that is a glob of folders (`src/p*/`) as the glob of the files under them (`src/p*/**`);
    others as they are (a folder input, `src/`, is every file under it already)."""
    return folder_output(value) if has_glob(value) else value


@lru_cache(maxsize=4096)
def _matcher(pattern: str) -> re.Pattern[str]:
    return re.compile(glob_regex(pattern))


@lru_cache(maxsize=256)
def _any_matcher(globs: tuple[str, ...]) -> re.Pattern[str]:
    """One expression for "matches any of these globs": a step's `run` asks it of every file it has."""
    return re.compile("|".join(f"(?:{glob_regex(g)})" for g in globs))


def glob_base(pattern: str) -> str:
    """The literal folders a glob starts with (`src/pkg` of `src/pkg/**/*.py`; '' for `*.md`)."""
    parts = pattern.split("/")
    literal = next((i for i, part in enumerate(parts) if has_glob(part)), len(parts))
    return "/".join(parts[:literal])


def matches(pattern: str, rel: str) -> bool:
    """Whether the repo path `rel` is one a declared path names: the same path, or a glob's match."""
    if not has_glob(pattern):
        return rel == pattern
    base = glob_base(pattern)
    if base and not rel.startswith(base + "/"):
        return False
    return _matcher(pattern).fullmatch(rel) is not None


class OutputSet:
    """What a step may write: `rel in outputs` for exact paths and globs alike."""

    def __init__(self, outputs: Iterable[str]) -> None:
        self.declared = list(outputs)
        self.exact = {p for p in self.declared if not has_glob(p)}
        self.globs = [p for p in self.declared if has_glob(p)]
        self._any = _any_matcher(tuple(self.globs)) if self.globs else None

    def __contains__(self, rel: object) -> bool:
        return isinstance(rel, str) and (rel in self.exact or (self.in_globs(rel) and not reserved(rel)))

    def in_globs(self, rel: str) -> bool:
        return self._any is not None and self._any.fullmatch(rel) is not None

    def excluded(self, rel: str) -> str | None:
        """Why `rel`, which an output glob matches, is not the step's to write (a reserved file), or None."""
        return reserved(rel) if rel not in self.exact and self.in_globs(rel) else None

    def __bool__(self) -> bool:
        return bool(self.declared)

    @property
    def has_globs(self) -> bool:
        return bool(self.globs)

    def folders(self) -> list[str]:
        """The folders the outputs go into, to create in a step's sandbox: an exact output's parent, a
        glob's literal base."""
        found = {p.rpartition("/")[0] for p in self.exact} | {glob_base(g) for g in self.globs}
        return sorted(f for f in found if f)


# ------------------------------------------------------------------------------------------ overlap

Token = tuple[str, str]  # ("lit", char) | ("any", "") | ("star", "") | ("class", spec)


def _tokens(segment: str) -> tuple[Token, ...]:
    out: list[Token] = []
    i = 0
    while i < len(segment):
        char = segment[i]
        i += 1
        if char == "*":
            if not out or out[-1][0] != "star":
                out.append(("star", ""))
        elif char == "?":
            out.append(("any", ""))
        elif char == "[":
            start = i + (segment[i : i + 1] == "!")
            start += segment[start : start + 1] == "]"
            end = segment.find("]", start)
            if end == -1:
                out.append(("lit", "["))
            else:
                out.append(("class", segment[i:end]))
                i = end + 1
        else:
            out.append(("lit", char))
    return tuple(out)


def _class_ranges(spec: str) -> tuple[bool, list[tuple[int, int]]]:
    """(negated, [(low, high) code points]) of a character class's text (between the brackets)."""
    negated = spec.startswith(("!", "^"))
    body = spec[1:] if negated else spec
    ranges: list[tuple[int, int]] = []
    i = 0
    while i < len(body):
        if i + 2 < len(body) and body[i + 1] == "-":
            ranges.append((ord(body[i]), ord(body[i + 2])))
            i += 3
        else:
            ranges.append((ord(body[i]), ord(body[i])))
            i += 1
    return negated, ranges


def _accepts(token: Token, char: int) -> bool:
    kind, value = token
    if char == ord("/"):
        return False
    if kind == "lit":
        return ord(value) == char
    if kind in ("any", "star"):
        return True
    negated, ranges = _class_ranges(value)
    inside = any(low <= char <= high for low, high in ranges)
    return inside != negated


def _points(token: Token) -> set[int]:
    """Characters at which a token's set of accepted characters can start or stop."""
    kind, value = token
    if kind == "lit":
        return {ord(value)}
    if kind == "class":
        found: set[int] = set()
        for low, high in _class_ranges(value)[1]:
            found |= {low - 1, low, high, high + 1}
        return {c for c in found if c >= 0}
    return set()


def _share_char(a: Token, b: Token, first: bool) -> bool:
    """Whether one character (not `/`; not a leading `.`, when `first`) is accepted by both tokens."""
    candidates = _points(a) | _points(b) | {ord("x")}
    return any(_accepts(a, c) and _accepts(b, c) and not (first and c == ord(".")) for c in candidates)


def _meet(a: Sequence[Any], b: Sequence[Any], star: Callable[[Any], bool],
          pair: Callable[[Any, Any, bool], bool]) -> bool:
    """Whether two patterns, as sequences of tokens, can match one sequence: a `star` token matches any
    number of elements, another token one; `pair(x, y, started)` says whether token `x` (a star or not)
    and a single token `y` can match one element, after (`started`) or at the start of the sequence."""
    seen: set[tuple[int, int, bool]] = set()
    stack = [(0, 0, False)]
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        i, j, started = state
        if i == len(a) and j == len(b):
            return True
        x, y = (a[i] if i < len(a) else None), (b[j] if j < len(b) else None)
        for one, other, skip, eat in ((x, y, (i + 1, j), (i, j + 1)), (y, x, (i, j + 1), (i + 1, j))):
            if one is not None and star(one):
                stack.append((*skip, started))  # the star matches nothing more
                if other is not None and (star(other) or pair(one, other, started)):
                    stack.append((*eat, True))  # it matches the other's next element too
        if x is not None and y is not None and not star(x) and not star(y) and pair(x, y, started):
            stack.append((i + 1, j + 1, True))
    return False


def _segments_meet(p: str, q: str) -> bool:
    """Whether two parts of globs (no `/`, no `**`) can match one name. A wildcard never matches a
    leading dot, so a part starting with a literal `.` meets only another that does."""
    if p.startswith(".") != q.startswith("."):
        return False
    dotted = p.startswith(".")
    return _meet(_tokens(p), _tokens(q), lambda t: t[0] == "star",
                 lambda x, y, started: _share_char(x, y, not started and not dotted))


def overlap(a: str, b: str) -> bool:
    """Whether the declared paths (exact or glob) `a` and `b` can name one file. `**` is any number of
    folders not starting with a dot; a trailing `**` also names the folder itself, so `docs/**` meets a
    file `docs` (a folder and a file cannot share a path either)."""

    def pair(x: str, y: str, started: bool) -> bool:
        return not y.startswith(".") if x == "**" else _segments_meet(x, y)

    return _meet(a.split("/"), b.split("/"), lambda part: part == "**", pair)


def inside(a: str, b: str) -> bool:
    """Whether a path `a` names could lie inside a folder `b` names, or the reverse (`out` and
    `out/x.md`): one file cannot be both a file and a folder holding another."""
    return overlap(a + "/**", b) or overlap(a, b + "/**")


def _literal_ends(path: str) -> tuple[str, str]:
    """The text every path a glob matches starts with, and the text each ends with."""
    first = min((i for i in map(path.find, "*?[") if i != -1), default=len(path))
    last = max(path.rfind(c) for c in "*?]")
    return path[:first], path[last + 1:]


def colliding(named: list[tuple[str, str]]) -> list[tuple[tuple[str, str], tuple[str, str]]]:
    """Pairs of (owner, path) of different owners, at least one path a glob, that can name one file (as
    `overlap`): found without comparing every pair, since two such paths share their literal start (one
    is a prefix of the other) and their literal end (one a suffix of the other). Two equal paths are
    left to the caller, who names them as such."""
    ends = sorted((*_literal_ends(path), owner, path) for owner, path in named)
    found = []
    for i, (prefix, suffix, owner, path) in enumerate(ends):
        for other_prefix, other_suffix, other, other_path in ends[i + 1:]:
            if not other_prefix.startswith(prefix):
                break
            if other == owner or other_path == path or not (has_glob(path) or has_glob(other_path)):
                continue
            if (other_suffix.endswith(suffix) or suffix.endswith(other_suffix)) and overlap(path, other_path):
                found.append(((owner, path), (other, other_path)))
    return found
