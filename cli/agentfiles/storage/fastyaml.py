"""The compiled fast path for the convention's YAML: yaml-rs (Rust) parses, and its answer is kept only
when PyYAML (YAML 1.1, the reference) would certainly have built the same data; otherwise the caller
parses with PyYAML, which also explains every error with its line.

yaml-rs follows YAML 1.2, which reads some plain scalars differently (`yes`, `on`, `017`, `0o17`, `1e5`,
`-.5`, `1:30`, dates) and ignores tags. Such a document is handed back to PyYAML: the checks below look
at the parsed data (its strings, serialised once with orjson) and, when it holds numbers, at the text.
"""

from __future__ import annotations

import functools
import re
from typing import Any

try:
    import orjson
    import yaml_rs
except ImportError:  # pragma: no cover - both are dependencies; without them PyYAML does all the work
    yaml_rs = None

# Strings PyYAML would have read as something else had they been plain: bools, nulls, merge and value keys.
_WORDS = frozenset(
    b"yes Yes YES no No NO true True TRUE false False FALSE on On ON off Off OFF ~ null Null NULL << = ! & *".split()
) | {b""}
# A JSON string of up to five characters: its opening quote follows `[`, `{`, `,` or `:` and its closing one
# comes before `]`, `}`, `,` or `:`. Without both, a match could start at a string's closing quote and take
# the next string's opening one (`"abcdefg","yes"` read as `","`), and the word after it would go unseen.
# The quote first (then a look behind it) lets the search skip from quote to quote.
_SHORT_STRING = re.compile(rb'"(?<=[\[{,:]")([^"\\]{0,5})"(?=[\]},:])')
_NUMERIC_STRING = re.compile(rb'"([-+.0-9][^"\\]*)"')
# PyYAML's implicit int, float and timestamp forms (yaml/resolver.py), to test those strings against.
_NUMBER_11 = re.compile(
    r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+"
    r"|[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
    r"|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:(?:[Tt]|[ \t]+).*)?"
)
_JSON_NUMBER = re.compile(rb"[:,\[]-?[0-9]")
# Number forms the two YAML versions read differently (leading zero, 0o, exponent, signed leading dot),
# and tags, which yaml-rs ignores.
# The look-ahead lets the many blanks before other tokens fail at once.
_RISKY_TEXT = re.compile(r"[ \t\n\r\f\v\[{,](?=[-+.0-9!])(?:[-+]?0[0-9oO_]|[-+]?\.?[0-9][0-9.]*[eE][0-9]|[-+]\.[0-9]|!)")
# An alias (`*name`) where a YAML token may start: yaml-rs would copy what it names, however often.
ALIAS = re.compile(r"(?:^|[\s\[{,:-])\*[^\s\[\]{},]")
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
    if text.isascii():  # PyYAML refuses control characters: ASCII text is printable once \t \n \r are out
        if not text.replace("\n", "").replace("\t", "").replace("\r", "").isprintable():
            return None
    elif _control().search(text):
        return None
    if "*" in text and ALIAS.search(text):
        return None  # PyYAML shares what an alias names; the caller then checks what it would grow to
    if text.startswith(("---", "...", "%", "!")) or "\n---" in text or "\n..." in text or "\n%" in text:
        return None
    try:
        data = yaml_rs.loads(text, parse_datetime=False)
    except Exception:  # noqa: BLE001 - any refusal is PyYAML's to explain
        return None
    if data is None or isinstance(data, (str, int, float, bool)):
        return None  # not a mapping: PyYAML says what it is
    try:
        dumped = orjson.dumps(data, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return None
    for short in _SHORT_STRING.findall(dumped):
        if short in _WORDS and not _only_quoted(short.decode(), text):
            return None
    for number in _NUMERIC_STRING.findall(dumped):
        found = number.decode()
        if _NUMBER_11.fullmatch(found) and (" " in found or "\t" in found or not _only_quoted(found, text)):
            return None  # a plain 017 or 2026-01-05: PyYAML reads a number or a date; quoted, both a string
            # (one with a blank could also be a plain scalar folded over two lines, which the text never shows)
    if (_JSON_NUMBER.search(dumped) or "!" in text) and _RISKY_TEXT.search(text):
        return None
    return data


def _only_quoted(word: str, text: str) -> bool:
    """Whether every occurrence of `word` in the text is a quoted scalar of its own ('yes' or "yes"), which
    both versions read as that string; a plain `yes` is never next to a quote. A word the text does not
    hold as it is (written with escapes, or folded from a plain scalar over several lines) is not."""
    seen = text.count(word)
    return bool(word) and seen > 0 and seen == text.count(f"'{word}'") + text.count(f'"{word}"')
