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
from agentfiles.storage.fastyaml import fast_load

try:  # the C loader is several times faster; PyYAML without libyaml falls back to pure Python
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader  # type: ignore[assignment]

_HANDLER = frontmatter.YAMLHandler()
_TOP_KEY = re.compile(r"^([A-Za-z_][\w.-]*)\s*:", re.MULTILINE)


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
    if not _HANDLER.detect(text):
        raise DocumentError("the file does not start with a '---' frontmatter line", line=1)
    try:
        fm, body = _HANDLER.split(text)
    except ValueError:
        raise DocumentError("the frontmatter is not closed by a '---' line", line=1) from None
    offset = text.find(fm) if fm else text.find("\n") + 1
    first_line = text.count("\n", 0, offset) + 1
    meta = load_yaml_text(fm, first_line)
    if meta is None:
        meta = {}
    if not isinstance(meta, dict):
        raise DocumentError("the frontmatter must be a mapping of keys to values", line=first_line)
    return Document(meta=meta, body=body.lstrip("\n"), source=SourceMap(fm, first_line))


def load_yaml_text(text: str, first_line: int = 1) -> Any:
    """Parse YAML; syntax errors and duplicate top-level keys raise DocumentError with a file line.

    The compiled parser answers when it certainly agrees with PyYAML (storage/fastyaml.py); PyYAML
    answers the rest, and explains every error."""
    data = fast_load(text)  # it refuses duplicate keys, so the check below is PyYAML's case only
    if data is not None:
        return data
    try:
        data = yaml.load(text, Loader=SafeLoader)  # noqa: S506 - SafeLoader (C or Python)
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
    except yaml.YAMLError as exc:
        raise DocumentError(f"YAML syntax error: {exc}", line=first_line) from None
    if isinstance(data, dict):
        seen: dict[str, int] = {}
        for match in _TOP_KEY.finditer(text):
            key = match.group(1)
            line = first_line + text.count("\n", 0, match.start())
            if key in seen:
                raise DocumentError(
                    f"duplicate key '{key}' (first at line {seen[key]}); YAML keeps only the last one",
                    line=line,
                )
            seen[key] = line
    return data


def read_text(path: Path | str) -> str:
    """A file's text as UTF-8; raises DocumentError when it is not."""
    with open(path, "rb") as handle:
        data = handle.read()
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
