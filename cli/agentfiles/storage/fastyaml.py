"""The compiled fast path for the convention's YAML: yaml-rs (Rust) parses, and its answer is kept only
when PyYAML (YAML 1.1, the reference) would certainly have built the same data; otherwise the caller
parses with PyYAML, which also explains every error with its line.

yaml-rs follows YAML 1.2, which reads some plain scalars differently (`yes`, `on`, `017`, `0o17`, `1e5`,
`-.5`, `1:30`, dates) and ignores tags. Such a document is handed back to PyYAML: the checks below walk
the parsed data (each key and string, and whether it holds numbers) and, when it holds numbers or tags,
look at the text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

try:
    import yaml_rs
except ImportError:  # pragma: no cover - a dependency; without it PyYAML does all the work
    yaml_rs = None

# Strings PyYAML would have read as something else had they been plain: bools, nulls, merge and value keys.
_WORDS = frozenset((
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
    "on", "On", "ON", "off", "Off", "OFF", "~", "null", "Null", "NULL", "<<", "=", "!", "&", "*", "",
))
_NUMERIC_START = frozenset("-+.0123456789")  # how each of PyYAML's implicit number and date forms starts
# What a string that needs a look starts with: a number or date form, a block scalar's indicator (no plain
# scalar starts so: yaml-rs reads one in a flow collection that PyYAML refuses), a newline (an empty block
# scalar is "\n" to yaml-rs, "" to PyYAML).
_LOOKED_AT = _NUMERIC_START | {"|", ">", "\n"}
_PRINTABLE = bytes(range(0x20, 0x7F)) + b"\n\r"  # (a bytes translate: 5x faster than str.isprintable)
# PyYAML's implicit int, float and timestamp forms (yaml/resolver.py), to test those strings against.
_NUMBER_11 = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+).*)?"
)
# Number forms the two YAML versions read differently (leading zero, 0o, exponent without a dot or without
# its sign, signed leading dot, `._5`), and tags, which yaml-rs ignores.
# The look-ahead lets the many blanks before other tokens fail at once.
_RISKY_TEXT = re.compile(
    r"[ \t\n\r\f\v\[{,](?=[-+.0-9!])"
    r"(?:[-+]?0[0-9oO_]|[-+]?[0-9][0-9_]*[eE][-+]?[0-9]|[-+]?\.?[0-9][0-9.]*[eE][0-9]|[-+]\.[0-9]|[-+]?\._|!)"
)
# An alias (`*name`) where a YAML token may start: yaml-rs would copy what it names, however often.
ALIAS = re.compile(r"(?:^|[\s\[{,:-])\*[^\s\[\]{},]")
# An anchor (`&name`): PyYAML refuses one given twice, or with nothing after it in a flow mapping.
ANCHOR = re.compile(r"(?:^|[\s\[{,:-])&[^\s\[\]{},]")
# A `?` standing alone (a complex key): PyYAML refuses one inside a flow scalar that yaml-rs reads as text.
QUESTION = re.compile(r"(?:^|[\s\[{,])\?(?=[\s\[\]{},]|$)", re.MULTILINE)
# What PyYAML refuses in non-ASCII text; compiled at first use (5 ms: its ranges span all of Unicode), as
# most documents are ASCII and never need it.
@functools.cache
def _control() -> re.Pattern[str]:
    return re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def fast_load(text: str) -> Any:
    """The data of a single YAML document, or None when PyYAML must decide (an error, a YAML 1.1 reading,
    several documents, directives, tags, characters PyYAML refuses)."""
    if yaml_rs is None:
        return None
    if "\t" in text:
        return None  # PyYAML refuses a tab in most places outside quotes (a line of blanks, before a comment,
        # in a flow list) where yaml-rs takes it: a file must not be valid only where yaml-rs is installed
    if text.isascii():  # PyYAML refuses control characters: ASCII text holds none when deleting the
        if text.encode("ascii").translate(None, _PRINTABLE):  # printable ones and \n \r leaves nothing
            return None
    elif _control().search(text) or "\x85" in text or "\u2028" in text or "\u2029" in text:
        return None  # ... and these three are line breaks to PyYAML (YAML 1.1), to yaml-rs characters
    if "*" in text and ALIAS.search(text):
        return None  # PyYAML shares what an alias names; the caller then checks what it would grow to
    if ("&" in text and ANCHOR.search(text)) or ("?" in text and QUESTION.search(text)):
        return None
    if text.startswith(("---", "...", "%", "!")) or "\n---" in text or "\n..." in text or "\n%" in text:
        return None
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - any refusal is PyYAML's to explain
        return None
    if type(data) is not dict and type(data) is not list:
        return None  # not a mapping: PyYAML says what it is
    try:
        numbers = _holds_numbers(data, text)
    except _PyYAMLDecides:
        return None
    if (numbers or "!" in text) and _RISKY_TEXT.search(text):
        return None
    return data


class _PyYAMLDecides(Exception):
    """A key or string the two versions may read differently, or a value the walk does not know."""


def _holds_numbers(data: dict[Any, Any] | list[Any], text: str) -> bool:
    """Whether `data` holds an int or a float; raises _PyYAMLDecides at a key that is not a string (PyYAML
    reads `1:`, `true:` or `~:` as it will) or a string that a plain scalar would make something else.
    A walk, not a scan of the data serialised: a string is judged whole, wherever it stands."""
    numbers = False
    stack: list[Any] = [data]
    pop, push, words, starts = stack.pop, stack.append, _WORDS, _LOOKED_AT
    while stack:
        node = pop()
        if type(node) is dict:
            for key in node:
                if type(key) is not str:
                    raise _PyYAMLDecides
                if key in words or key[:1] in starts:
                    _check(key, text)
            values = node.values()
        else:
            values = node
        for value in values:
            kind = type(value)
            if kind is str:
                if value in words or value[:1] in starts:
                    _check(value, text)
            elif kind is dict or kind is list:
                push(value)
            elif kind is int or kind is float:
                numbers = True
            elif kind is not bool and value is not None:
                raise _PyYAMLDecides
    return numbers


def _check(word: str, text: str) -> None:
    """Raise _PyYAMLDecides unless `word` reads as this string in both versions wherever it stands."""
    if word in _WORDS and not _only_quoted(word, text):
        raise _PyYAMLDecides
    if word[:1] in ("|", ">") or (word[:1] == "\n" and not word.strip("\n")):
        raise _PyYAMLDecides
    if word[:1] in _NUMERIC_START and _number_11(word) and (" " in word or "\t" in word or not _only_quoted(word, text)):
        raise _PyYAMLDecides  # a plain 017 or 2026-01-05: PyYAML reads a number or a date; quoted, both a string
        # (one with a blank could also be a plain scalar folded over two lines, which the text never shows)


_NUMBER_FORMS: dict[str, bool] = {}  # run ids, dates and numbers recur across a project's handoffs


def _number_11(word: str) -> bool:
    known = _NUMBER_FORMS.get(word)
    if known is None:
        known = _NUMBER_11.fullmatch(word) is not None
        if len(_NUMBER_FORMS) < 100_000:
            _NUMBER_FORMS[word] = known
    return known


def _only_quoted(word: str, text: str) -> bool:
    """Whether every occurrence of `word` in the text is a quoted scalar of its own ('yes' or "yes"), which
    both versions read as that string; a plain `yes` is never next to a quote. A word the text does not
    hold as it is (written with escapes, or folded from a plain scalar over several lines) is not."""
    seen = text.count(word)
    return bool(word) and seen > 0 and seen == text.count(f"'{word}'") + text.count(f'"{word}"')
