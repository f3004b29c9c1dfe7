"""The PyYAML side of documents (storage/documents.py): the reference reading of what the compiled parser
declines, with every error worded and placed, the node tree that finds a key's line, and writing. Imported
only when one of those is needed: PyYAML's import (about 13 ms, most of it compiling its regular
expressions) is off the path of a run's planning and of a status whose documents the fast path reads."""

from __future__ import annotations

from typing import Any

import frontmatter
import yaml

from agentfiles.core.diagnostics import DocumentError

try:  # the C loader is several times faster; PyYAML without libyaml falls back to pure Python
    from yaml import CSafeDumper as _BaseDumper
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeDumper as _BaseDumper  # type: ignore[assignment]
    from yaml import SafeLoader  # type: ignore[assignment]


def load_with_pyyaml(text: str, first_line: int) -> Any:
    """`text` read by PyYAML (refusing a key given twice); DocumentError with the file line of a problem."""
    try:
        return yaml.load(text, Loader=_Loader)  # noqa: S506 - SafeLoader (C or Python) refusing duplicate keys
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


def compose(text: str) -> Any:
    """The node tree of `text` (for line numbers), or False when it does not parse."""
    try:
        return yaml.compose(text, Loader=SafeLoader) or False
    except yaml.YAMLError:
        return False


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
