"""Words of code and prose for matching: identifiers split at case changes, underscores, dots and
slashes; lowercased, lightly stemmed, stop words dropped; and the imports and top-level names of a
Python file."""

from __future__ import annotations

import re

_WORD = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_CAMEL = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
STOP = frozenset(
    """a an and are as at be but by for from has have if in into is it its not of on or so that the their
    then there these this to was were when which while will with without you your we our can could should
    would may might do does did done use used using via also all any each more most some such than too very
    just only other add adds added fix fixes fixed make makes made change changes changed update updates
    updated remove removes removed now new get gets set sets allow allows support supports when where why how
    self none true false return def class import pass raise try except else elif yield lambda assert del
    global nonlocal py""".split()
)


def stem(word: str) -> str:
    """A light stemmer, enough to match `prices` with `price`, `parsing` with `parser` and `parse`,
    `shipping` with `ship`: plural endings, then -ing/-ed/-er (and a doubled consonant), then a final e."""
    if len(word) <= 3:
        return word
    if word.endswith("ies") and len(word) > 4:
        word = word[:-3] + "y"
    elif word.endswith("sses"):
        word = word[:-2]
    elif word.endswith("es") and word[:-2].endswith(("s", "x", "z", "ch", "sh")):
        word = word[:-2]
    elif word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    for suffix in ("ing", "ed", "er"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz":
                word = word[:-1]
            break
    if word.endswith("e") and len(word) > 3:
        word = word[:-1]
    return word


def words(text: str) -> list[str]:
    """Matching terms of a text: every identifier and its parts."""
    out: list[str] = []
    for token in _WORD.findall(text):
        parts = _CAMEL.findall(token)
        lowered = token.lower()
        if len(parts) > 1 and lowered not in STOP and len(lowered) > 2:
            out.append(stem(lowered))
        for part in parts:
            part = part.lower()
            if len(part) > 1 and part not in STOP:
                out.append(stem(part))
    return out


def spoken(text: str) -> dict[str, str]:
    """Each matching term of `text` (as `words` gives it) to the word the text wrote it as, first one wins:
    reasons name `prices`, not the stem `pric`."""
    out: dict[str, str] = {}
    for token in _WORD.findall(text):
        for part in [token, *_CAMEL.findall(token)]:
            lowered = part.lower()
            if len(lowered) > 1 and lowered not in STOP:
                out.setdefault(stem(lowered), lowered)
    return out


def path_words(path: str) -> list[str]:
    """Terms of a path: its folders and the file's stem, split like identifiers."""
    stem_path = path.rsplit(".", 1)[0] if "." in path.rsplit("/", 1)[-1] else path
    return words(stem_path.replace("/", " ").replace("_", " ").replace("-", " ") + " " + stem_path.replace("/", " "))


_IMPORT = re.compile(r"^\s*(?:from\s+(\.*[\w.]*)\s+import\s+([\w*, ()]+)|import\s+([\w., ]+))", re.MULTILINE)
_DEF = re.compile(r"^(?:\s{0,4})(?:async\s+)?(?:def|class)\s+([A-Za-z_][A-Za-z0-9_]*)", re.MULTILINE)


def python_imports(text: str) -> list[str]:
    """Modules a Python file imports, as written (`pkg.mod`, `.sibling`), including `from x import y` as
    both `x` and `x.y` (y may be a module)."""
    found: list[str] = []
    for match in _IMPORT.finditer(text):
        source, names, plain = match.groups()
        if plain:
            found += [n.strip().split(" as ")[0].strip() for n in plain.split(",") if n.strip()]
        elif source is not None:
            found.append(source)
            for name in names.replace("(", " ").replace(")", " ").split(","):
                name = name.strip().split(" as ")[0].strip()
                if name and name != "*":
                    found.append(f"{source}.{name}" if not source.endswith(".") else f"{source}{name}")
    return found


def python_symbols(text: str) -> list[str]:
    """Names defined by `def` and `class` at the top level or one indent in (methods)."""
    return _DEF.findall(text)


_PROSE = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'|#([^\n]*)', re.DOTALL)


def prose(text: str) -> str:
    """The docstrings and comments of a Python file: what its authors say it does."""
    return "\n".join(next(g for g in m.groups() if g is not None) for m in _PROSE.finditer(text))
