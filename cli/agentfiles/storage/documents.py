"""Markdown documents with YAML frontmatter, and plain YAML files: reading with exact line numbers,
writing with a stable key order."""

from __future__ import annotations

import os
import re
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.diagnostics import DocumentError, Loc
from agentfiles.core.fingerprint import read_file
from agentfiles.core.records import record
from agentfiles.storage.fastyaml import ALIAS, fast_load

_BOUNDARY = re.compile(r"^-{3,}\s*$", re.MULTILINE)  # python-frontmatter's: a line of three dashes or more


@record
class SourceMap:
    """Finds the line of a key or list item inside a YAML text, composing the node tree on demand."""

    yaml_text: str
    first_line: int  # file line of the YAML text's first line
    _root: Any = field(default=None, repr=False)

    def line(self, loc: Loc) -> int:
        """The file line of the value at `loc`; for a missing part, the line of its closest parent."""
        if self._root is None:
            from agentfiles.storage.yaml_text import compose

            self._root = compose(self.yaml_text)
        import yaml
        node = self._root
        line = self.first_line
        if node:
            line = self.first_line + node.start_mark.line
        for part in loc:
            if isinstance(node, yaml.MappingNode) and isinstance(part, str):
                match = next((kv for kv in node.value if kv[0].value == part), None)
                if match is None:
                    break
                line = self.first_line + match[0].start_mark.line
                node = match[1]
            elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
                node = node.value[part]
                line = self.first_line + node.start_mark.line
            else:
                break
        return line


@record
class Document:
    """A parsed markdown-with-frontmatter file."""

    meta: dict[str, Any]
    body: str
    source: SourceMap


def parse_document(text: str) -> Document:
    """Split and parse a frontmatter document; raises DocumentError with the file line of the problem."""
    if text.startswith("\ufeff"):
        text = text[1:]
    opening = _BOUNDARY.match(text)
    if opening is None:
        raise DocumentError("the file does not start with a '---' frontmatter line", line=1)
    closing = _closing(text, opening.end())
    if closing is None:
        raise DocumentError("the frontmatter is not closed by a '---' line", line=1)
    fm, body = text[opening.end() : closing.start()], text[closing.end() :]
    offset = text.find(fm) if fm else text.find("\n") + 1
    first_line = text.count("\n", 0, offset) + 1
    meta = load_yaml_text(fm, first_line)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError("the frontmatter must be a mapping of keys to values",
                            line=SourceMap(fm, first_line).line(()))
    return Document(meta=meta, body=body.lstrip("\n"), source=SourceMap(fm, first_line))


def _closing(text: str, start: int) -> re.Match[str] | None:
    """The first boundary line at or after `start`: what python-frontmatter's split finds (its pattern,
    tried only where a line starts with `---` rather than at every character)."""
    at = text.find("\n---", start - 1)
    while at >= 0:
        found = _BOUNDARY.match(text, at + 1)
        if found is not None:
            return found
        at = text.find("\n---", at + 1)
    return None


def load_yaml_text(text: str, first_line: int = 1) -> Any:
    """Parse YAML; syntax errors, a key given twice in one mapping (at any depth) and aliases that expand
    beyond reason raise DocumentError with a file line.

    The compiled parser answers when it certainly agrees with PyYAML (storage/fastyaml.py); PyYAML
    answers the rest, and explains every error."""
    data = fast_load(text)  # it refuses duplicate keys and aliases, so the checks below are PyYAML's case only
    if data is not None:
        return data
    from agentfiles.storage.yaml_text import load_with_pyyaml  # PyYAML: only for what the fast path declines

    data = load_with_pyyaml(text, first_line)
    if ALIAS.search(text):
        _refuse_expansion(data, text, first_line)
    return data


EXPANSION_LIMIT = 100_000  # values a document may stand for once its aliases are expanded


def _refuse_expansion(data: Any, text: str, first_line: int) -> None:
    """Aliases make a value appear many times over without being copied; whatever reads the data later
    (validation, hashing, caches) copies it. A document that would grow past EXPANSION_LIMIT values, or
    holds itself, is refused before anything does (YAML's "billion laughs")."""
    if not isinstance(data, (list, dict)):
        return
    match = ALIAS.search(text)
    start = match.start() + (match.group()[0] != "*") if match else 0
    line = first_line + text.count("\n", 0, start)
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(data, False)]
    while stack:  # depth first, without recursion: YAML nests deeper than Python's stack
        value, finished = stack.pop()
        children = list(value.values()) + list(value) if isinstance(value, dict) else value
        key = id(value)
        if finished:
            total = 1 + sum(sizes.get(id(c), 1) if isinstance(c, (list, dict)) else 1 for c in children)
            sizes[key] = min(total, EXPANSION_LIMIT + 1)
            on_path.discard(key)
        elif key in on_path:
            raise DocumentError("YAML aliases: a value holds itself through an alias", line=line)
        elif key not in sizes:
            on_path.add(key)
            stack.append((value, True))
            stack.extend((c, False) for c in children if isinstance(c, (list, dict)))
    if sizes.get(id(data), 1) > EXPANSION_LIMIT:
        raise DocumentError(f"YAML aliases: the aliases expand to more than {EXPANSION_LIMIT:,} values", line=line)


def read_text(path: Path | str, *, follow: bool = True, seen: list[os.stat_result] | None = None) -> str:
    """A file's text as UTF-8; raises DocumentError when it is not (and OSError as `read_file`, which puts
    the file's stat in `seen`)."""
    data = read_file(path, follow=follow, seen=seen)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start})") from None


# --------------------------------------------------------------------------------------------- writing


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text in the given key order (never sorted), readable in a diff."""
    from agentfiles.storage.yaml_text import dump_yaml

    return dump_yaml(data)


def dump_document(meta: dict[str, Any], body: str) -> str:
    """A frontmatter document: `---`, YAML in the given key order, `---`, a blank line, the body."""
    from agentfiles.storage.yaml_text import dump_document

    return dump_document(meta, body)
