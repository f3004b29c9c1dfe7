"""Ranking a corpus of files for an intent, and packing the best into a token budget.

The evidence for each file is route/signals.py's (words by field, past commits, co-change, imports,
size, dense similarity); one linear model learned across repositories (route/model.py, fitted by
bench/route_train.py) weighs it. A test file is weighed down unless the intent speaks of tests.
This module also holds what the signals read: a file's analysis (Doc) and the history (History).
"""

from __future__ import annotations

import math
import posixpath
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from agentfiles.route.text import path_words, prose, python_imports, python_symbols, words

K1 = 1.2
B = 0.75


# ------------------------------------------------------------------------------------------ documents


@dataclass
class Doc:
    path: str
    tokens: int  # the runner's estimate of the full text
    outline_tokens: int  # ... and of its outline
    terms: dict[str, int]
    length: int
    path_terms: list[str]
    imports: list[str]
    symbols: dict[str, int] = field(default_factory=dict)  # terms of the names it defines
    prose: dict[str, int] = field(default_factory=dict)  # terms of its docstrings and comments
    names: list[str] = field(default_factory=list)  # the names it defines, as written

    def to_json(self) -> list[Any]:
        return [self.tokens, self.outline_tokens, self.terms, self.length, self.path_terms, self.imports,
                self.symbols, self.prose, self.names]

    @classmethod
    def from_json(cls, path: str, data: list[Any]) -> Doc:
        return cls(path, *data)


def analyze(path: str, text: str) -> Doc:
    from agentfiles.core.outline import outline
    from agentfiles.core.tokens import estimate_tokens

    terms = Counter(words(text))
    python = path.endswith(".py")
    symbols = python_symbols(text) if python else []
    for symbol in symbols:
        terms.update(words(symbol))  # a defined name says more than a use
    path_terms = path_words(path)
    terms.update(path_terms)
    tokens = estimate_tokens(text)
    outlined = estimate_tokens(outline(path, text)) if tokens > 200 else tokens
    symbol_terms = Counter(t for symbol in symbols for t in words(symbol))
    prose_terms = Counter(words(prose(text))) if python else Counter()
    return Doc(path, tokens, outlined, dict(terms), sum(terms.values()), sorted(set(path_terms)),
               python_imports(text) if python else [], dict(symbol_terms), dict(prose_terms), sorted(set(symbols)))


def is_test(path: str) -> bool:
    name = posixpath.basename(path)
    parts = path.split("/")
    return name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py" or any(
        p in ("tests", "test", "testing") for p in parts[:-1])


def import_graph(docs: dict[str, Doc]) -> dict[str, set[str]]:
    """Undirected links between Python files that import one another, resolved against the corpus."""
    modules: dict[str, list[str]] = defaultdict(list)
    for path in docs:
        if not path.endswith(".py"):
            continue
        parts = path[:-3].split("/")
        if parts[-1] == "__init__":
            parts = parts[:-1]
        for start in range(len(parts)):
            modules[".".join(parts[start:])].append(path)
    links: dict[str, set[str]] = defaultdict(set)
    for path, doc in docs.items():
        package = path.rsplit("/", 1)[0].split("/") if "/" in path else []
        for name in doc.imports:
            if name.startswith("."):
                level = len(name) - len(name.lstrip("."))
                base = package[: len(package) - (level - 1)] if level > 1 else package
                name = ".".join([*base, name.lstrip(".")]).strip(".")
            targets = modules.get(name)
            if targets and len(targets) == 1 and targets[0] != path:
                links[path].add(targets[0])
                links[targets[0]].add(path)
    return links


# ------------------------------------------------------------------------------------------ history


@dataclass
class History:
    """Past commits, oldest first: the files each modified and the words of its message; built
    incrementally."""

    messages: list[tuple[str, list[str]]] = field(default_factory=list)  # (subject, changed files)
    postings: dict[str, list[tuple[int, int]]] = field(default_factory=lambda: defaultdict(list))  # term -> (commit, tf)
    lengths: list[int] = field(default_factory=list)
    changes: Counter = field(default_factory=Counter)  # type: ignore[type-arg]
    pairs: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # type: ignore[type-arg]
    last_change: dict[str, int] = field(default_factory=dict)
    described: dict[str, Counter] = field(default_factory=lambda: defaultdict(Counter))  # type: ignore[type-arg]
    max_files: int = 30  # a commit touching more files says little about which belong together

    alias: dict[str, str] = field(default_factory=dict)  # an old path -> the path it was renamed to

    def rename(self, old: str, new: str) -> None:
        """Carry a file's history over to its new path (its changes and the company it kept)."""
        if old == new:
            return
        self.alias[old] = new
        if old in self.changes:
            self.changes[new] += self.changes.pop(old)
        if old in self.last_change:
            self.last_change[new] = max(self.last_change.pop(old), self.last_change.get(new, -1))
        if old in self.described:
            self.described[new].update(self.described.pop(old))
        partners = self.pairs.pop(old, None)
        if partners:
            mine = self.pairs[new]
            for other, weight in partners.items():
                mine[other] += weight
                theirs = self.pairs[other]
                theirs[new] += theirs.pop(old, 0)

    def current(self, path: str) -> str:
        seen = 0
        while path in self.alias and seen < 50:
            path, seen = self.alias[path], seen + 1
        return path

    def add(self, message: str, files: list[str], renames: list[tuple[str, str]] = ()) -> None:  # type: ignore[assignment]
        for old, new in renames:
            self.rename(old, new)
        index = len(self.messages)
        self.messages.append((message.splitlines()[0] if message else "", files))
        terms = Counter(words(message))
        self.lengths.append(sum(terms.values()))
        for term, tf in terms.items():
            self.postings[term].append((index, tf))
        for path in files:
            self.changes[path] += 1
            self.last_change[path] = index
            self.described[path].update(terms)  # the messages of the commits that changed a file describe it
        if 1 < len(files) <= self.max_files:
            share = 1 / (len(files) - 1)  # a pair from a small commit says more than one from a large one
            for a in files:
                for b in files:
                    if a != b:
                        self.pairs[a][b] += share

    def similar(self, query: list[str], limit: int) -> list[tuple[int, float]]:
        """The past commits whose messages best match the query words, with their BM25 scores."""
        n = len(self.messages)
        if not n or not query:
            return []
        average = sum(self.lengths) / n or 1.0
        scores: dict[int, float] = defaultdict(float)
        for term in set(query):
            posting = self.postings.get(term)
            if not posting:
                continue
            idf = math.log(1 + (n - len(posting) + 0.5) / (len(posting) + 0.5))
            for index, tf in posting:
                norm = tf * (K1 + 1) / (tf + K1 * (1 - B + B * self.lengths[index] / average))
                scores[index] += idf * norm
        return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]


# ------------------------------------------------------------------------------------------ ranking


@dataclass
class Ranked:
    path: str
    score: float
    tokens: int
    outline_tokens: int
    why: list[str]
    signals: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "tokens": self.tokens, "score": round(self.score, 4), "why": "; ".join(self.why)}


def rank(docs: dict[str, Doc], intent: str, history: History | None = None,
         links: dict[str, set[str]] | None = None, dense: dict[str, float] | None = None) -> list[Ranked]:
    """The files with any evidence for the intent, best first, each with its signals and why. The
    score is the learned model's (route/model.py), as a share of the best file's: exp(s - s_best);
    the order also charges each file its size (alpha * log tokens), as the budget will."""
    from agentfiles.route import model
    from agentfiles.route.signals import compute, score

    found = compute(docs, intent, history, links, dense)
    weights = model.WEIGHTS if dense else model.LEXICAL_WEIGHTS
    wanted = set(words(intent))
    wants_tests = bool(wanted & {"test", "tests", "testing"})
    raw: dict[str, float] = {}
    for path, values in found.values.items():
        if not any(values.get(k) for k in model.EVIDENCE) and values.get("dense_rr", 0.0) < 0.1:
            continue  # size, recency or churn alone is no reason to read a file
        raw[path] = score(found, path, weights) - (0.0 if wants_tests or not is_test(path) else model.TEST_PENALTY)
    if not raw:
        return []
    best = max(raw.values())
    ranked = [Ranked(path, math.exp(value - best), docs[path].tokens, docs[path].outline_tokens,
                     _why(found, path, docs[path], wanted), found.values[path]) for path, value in raw.items()]
    ranked.sort(key=lambda r: (-(math.log(r.score) - model.ALPHA * math.log1p(r.tokens)), r.path))
    return ranked


def _why(found: Any, path: str, doc: Doc, wanted: set[str]) -> list[str]:
    values = found.values[path]
    why = []
    if found.matched.get(path):
        why.append("mentions " + ", ".join(found.matched[path][:4]))
    if values.get("path"):
        why.append("its path names " + ", ".join(t for t in doc.path_terms if t in wanted))
    if values.get("defines"):
        why.append("defines a name the intent writes out")
    if values.get("described", 0.0) >= 0.3:
        why.append("past commits that changed it speak of the same things")
    if values.get("similar", 0.0) >= 0.2 and path in found.voters:
        why.append(f"changed by a similar past commit: \"{found.voters[path][:60]}\"")
    if values.get("cochange", 0.0) >= 0.2 and path in found.partners:
        why.append(f"changed together with {found.partners[path]}")
    if values.get("imports", 0.0) >= 0.2 and path in found.neighbours:
        why.append(f"import neighbour of {found.neighbours[path]}")
    if values.get("dense_rr", 0.0) >= 0.2:
        why.append("close in meaning (embeddings)")
    return why or ["weak match"]


@dataclass
class Pick:
    ranked: Ranked
    view: str  # full | outline
    overhead: int = 0  # tokens of the heading and fences the step's brief wraps the file in

    @property
    def tokens(self) -> int:
        return (self.ranked.tokens if self.view == "full" else self.ranked.outline_tokens) + self.overhead


def wrapping(path: str, view: str) -> int:
    """Tokens the runner's brief adds around one input: its heading, the note on an outline, the fences
    (see core/context.assemble), rounded up."""
    from agentfiles.core.tokens import estimate_tokens

    note = " (outline; `read_file` gives the full text)" if view == "outline" else ""
    return estimate_tokens(f"### `{path}`{note}\n\n````\n\n````\n\n") + 1


def pack(ranked: list[Ranked], budget: int, outlines: bool = False, wrapped: bool = False) -> list[Pick]:
    """The best files that fit, in rank order: a file that does not fit is skipped (or, with `outlines`,
    taken as its outline when that fits) and the next one tried. `wrapped` counts what the step's brief
    adds around each file too, so that the proposal fits the step's budget as the runner counts it."""
    picks: list[Pick] = []
    left = budget
    for item in ranked:
        full = wrapping(item.path, "full") if wrapped else 0
        short = wrapping(item.path, "outline") if wrapped else 0
        if item.tokens + full <= left:
            picks.append(Pick(item, "full", full))
        elif outlines and item.outline_tokens < item.tokens and item.outline_tokens + short <= left:
            picks.append(Pick(item, "outline", short))
        else:
            continue
        left -= picks[-1].tokens
        if left <= 0:
            break
    return picks
