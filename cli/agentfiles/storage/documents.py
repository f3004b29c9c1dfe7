"""Markdown documents with YAML frontmatter, and plain YAML files: reading with exact line numbers,
writing with a stable key order."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from agentfiles.core.diagnostics import Loc
from agentfiles.core.fingerprint import read_file
from agentfiles.storage.fastyaml import ALIAS, fast_load

try:  # the C loader is several times faster; PyYAML without libyaml falls back to pure Python
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader  # type: ignore[assignment]

_HANDLER = frontmatter.YAMLHandler()
_BOUNDARY = _HANDLER.FM_BOUNDARY  # `^-{3,}\s*$`, multi-line: a line of three dashes or more


class DocumentError(Exception):
    """A document that cannot be parsed; `line` is 1-based in the file."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclass
class SourceMap:
    """Finds the line of a key or list item inside a YAML text, composing the node tree on demand."""

    yaml_text: str
    first_line: int  # file line of the YAML text's first line
    _root: Any = field(default=None, repr=False)

    def line(self, loc: Loc) -> int:
        """The file line of the value at `loc`; for a missing part, the line of its closest parent."""
        if self._root is None:
            try:
                self._root = yaml.compose(self.yaml_text, Loader=SafeLoader) or False
            except yaml.YAMLError:
                self._root = False
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


@dataclass
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
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader (C or Python) refusing duplicate keys
    except _DuplicateKey as exc:
        raise DocumentError(
            f"duplicate key '{exc.key}' (first at line {first_line + exc.first}); YAML keeps only the last one",
            line=first_line + exc.line,
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = first_line + mark.line if mark else first_line
        problem = (exc.problem or "invalid YAML").strip()
        context = ""
        if exc.context:
            context = f" ({exc.context.strip()}"
            if exc.context_mark and exc.problem_mark and exc.context_mark.line != exc.problem_mark.line:
                context += f" started at line {first_line + exc.context_mark.line}"
            context += ")"
        raise DocumentError(f"YAML syntax error: {problem}{context}", line=line) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow, at a position of the text
        where = first_line + text.count("\n", 0, max(exc.position, 0))
        char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        raise DocumentError(f"YAML syntax error: the character #x{char:04x} is not allowed ({exc.reason})",
                            line=where) from None
    except yaml.YAMLError as exc:
        raise DocumentError(f"YAML syntax error: {exc}", line=first_line) from None
    if ALIAS.search(text):
        _refuse_expansion(data, text, first_line)
    return data


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, line: int) -> None:
        super().__init__(key)
        self.key, self.first, self.line = key, first, line


class _Loader(SafeLoader):  # type: ignore[misc, valid-type]
    """The safe loader, refusing a key given twice in one mapping: YAML would silently keep the last."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = (key_node.tag, key_node.value)
            if key in seen:
                raise _DuplicateKey(key_node.value, seen[key], key_node.start_mark.line)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)  # type: ignore[no-any-return]


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


def read_text(path: Path | str, *, follow: bool = True) -> str:
    """A file's text as UTF-8; raises DocumentError when it is not (and OSError as `read_file`)."""
    data = read_file(path, follow=follow)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"not UTF-8 text (byte {exc.start})") from None


# --------------------------------------------------------------------------------------------- writing


class _Dumper(_BaseDumper):  # type: ignore[misc, valid-type]
    """Block style for structure, flow style for short lists and mappings of scalars, `|` for text."""


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _short_flow(items: list[Any]) -> bool:
    return all(_is_scalar(v) and "\n" not in str(v) for v in items) and len(repr(items)) <= 72


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=bool(data) and _short_flow(data))


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = bool(data) and _short_flow(list(data.values())) and len(repr(data)) <= 72
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=flow)


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(list, _represent_list)
_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(str, _represent_str)


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text in the given key order (never sorted), readable in a diff."""
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)


def dump_document(meta: dict[str, Any], body: str) -> str:
    """A frontmatter document: `---`, YAML in the given key order, `---`, a blank line, the body."""
    post = frontmatter.Post(body.strip("\n"), **meta)
    text = frontmatter.dumps(post, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    return text if text.endswith("\n") else text + "\n"
