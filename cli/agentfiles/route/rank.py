"""Ranking a corpus of files for an intent, and packing the best into a token budget.

Signals, each normalised to [0, 1] over the corpus before they are weighed:

- lexical: BM25 of the intent's words against each file's words (identifiers split, symbol names
  counted again, path words counted again);
- path: the intent names words of the file's path (its name, its folders);
- history: past commits whose message resembles the intent (BM25 over messages) vote for the files
  they changed;
- co-change: files changed together, in past commits, with the strongest matches;
- imports: files importing, or imported by, the strongest matches (Python);
- recency: files changed in the latest commits;
- churn: how often a file has changed (log-scaled);
- tests: a file under tests/ or named test_* is weighed down unless the intent asks for tests.

Every weight lives in `Weights`; bench/route_eval.py tunes them on older commits of real repositories
and reports on newer ones.
"""

from __future__ import annotations

import math
import posixpath
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any

from agentfiles.route.text import path_words, python_imports, python_symbols, words

K1 = 1.2
B = 0.75


@dataclass(frozen=True)
class Weights:
    # Defaults: the values the grid search of bench/route_eval.py --tune chose on the older 70% of both
    # pallets/click and psf/requests (they agreed on these; churn and tests are click's choice).
    lexical: float = 1.0
    path: float = 0.3
    history: float = 0.5
    cochange: float = 0.3
    imports: float = 0.2
    recency: float = 0.1
    churn: float = 0.0  # files that change often are likelier to change again
    tests: float = 0.5  # share of the score a test file loses when the intent does not mention tests
    seeds: int = 5  # the strongest matches whose neighbours (co-change, imports) are credited
    similar: int = 20  # past commits consulted for the history signal

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


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

    def to_json(self) -> list[Any]:
        return [self.tokens, self.outline_tokens, self.terms, self.length, self.path_terms, self.imports]

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
    return Doc(path, tokens, outlined, dict(terms), sum(terms.values()), sorted(set(path_terms)),
               python_imports(text) if python else [])


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


def _normalised(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values(), default=0.0)
    return {k: v / top for k, v in values.items() if v > 0} if top > 0 else {}


def rank(docs: dict[str, Doc], intent: str, history: History | None = None, weights: Weights = Weights(),
         links: dict[str, set[str]] | None = None) -> list[Ranked]:
    query = words(intent)
    wanted = set(query)
    n = len(docs)
    if not n:
        return []
    average = sum(d.length for d in docs.values()) / n or 1.0
    df = Counter(t for d in docs.values() for t in wanted if t in d.terms)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
    counts = Counter(query)
    lexical: dict[str, float] = {}
    path_hits: dict[str, float] = {}
    matched: dict[str, list[str]] = {}
    for path, doc in docs.items():
        score = 0.0
        hits = []
        for term in wanted:
            tf = doc.terms.get(term)
            if tf:
                score += idf[term] * counts[term] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * doc.length / average))
                hits.append(term)
        if score:
            lexical[path] = score
            matched[path] = sorted(hits, key=lambda t: -idf[t])
        named = [t for t in doc.path_terms if t in wanted]
        if named:
            path_hits[path] = sum(idf[t] for t in named)
    lexical, path_hits = _normalised(lexical), _normalised(path_hits)
    voted: dict[str, float] = defaultdict(float)
    voters: dict[str, str] = {}
    if history is not None and weights.history:
        similar = history.similar(query, weights.similar)
        best = similar[0][1] if similar else 1.0
        for index, similarity in similar:
            subject, files = history.messages[index]
            present = sorted({history.current(f) for f in files} & docs.keys())
            for path in present:  # a commit's vote is shared among the files it changed
                voted[path] += similarity / best / len(present)
                voters.setdefault(path, subject)
    voted_n = {p: min(1.0, v) for p, v in voted.items()}
    base = {
        path: weights.lexical * lexical.get(path, 0.0) + weights.path * path_hits.get(path, 0.0)
        + weights.history * voted_n.get(path, 0.0)
        for path in docs
    }
    seeds = [p for p, s in sorted(base.items(), key=lambda kv: -kv[1])[: weights.seeds] if s > 0]
    cochange: dict[str, float] = defaultdict(float)
    partners: dict[str, str] = {}
    if history is not None and weights.cochange:
        for seed in seeds:
            together = history.pairs.get(seed)
            if not together:
                continue
            total = history.changes[seed] or 1
            for other, times in together.items():
                if other in docs and other != seed:
                    cochange[other] += base[seed] * times / total
                    partners.setdefault(other, seed)
    imported: dict[str, float] = defaultdict(float)
    neighbours: dict[str, str] = {}
    if links is None and weights.imports:
        links = import_graph(docs)
    if links and weights.imports:
        for seed in seeds:
            for other in links.get(seed, ()):
                imported[other] += base[seed]
                neighbours.setdefault(other, seed)
    recent: dict[str, float] = {}
    if history is not None and weights.recency and history.messages:
        latest = len(history.messages) - 1
        for path in docs:
            if path in history.last_change:
                recent[path] = math.exp(-(latest - history.last_change[path]) / 50)
    churn: dict[str, float] = {}
    if history is not None and weights.churn:
        churn = _normalised({p: math.log1p(history.changes[p]) for p in docs if history.changes.get(p)})
    strongest = max((base[s] for s in seeds), default=1.0) or 1.0
    cochange_n = {p: min(1.0, v / strongest) for p, v in cochange.items()}
    imported_n = {p: min(1.0, v / strongest) for p, v in imported.items()}
    wants_tests = bool(wanted & {"test", "tests", "testing"})
    ranked = []
    for path, doc in docs.items():
        signals = {
            "lexical": lexical.get(path, 0.0), "path": path_hits.get(path, 0.0), "history": voted_n.get(path, 0.0),
            "cochange": cochange_n.get(path, 0.0), "imports": imported_n.get(path, 0.0), "recency": recent.get(path, 0.0),
            "churn": churn.get(path, 0.0),
        }
        score = base[path] + weights.cochange * signals["cochange"] + weights.imports * signals["imports"] \
            + weights.recency * signals["recency"] + weights.churn * signals["churn"]
        if score <= 0 or not (base[path] or signals["cochange"] or signals["imports"]):
            continue  # recency or churn alone is no reason to read a file
        if not wants_tests and is_test(path):
            score *= 1 - weights.tests
        why = []
        if signals["lexical"]:
            why.append("mentions " + ", ".join(matched[path][:4]))
        if signals["path"]:
            why.append("its path names " + ", ".join(t for t in doc.path_terms if t in wanted))
        if signals["history"] >= 0.2:
            why.append(f"changed by a similar past commit: \"{voters[path][:60]}\"")
        if signals["cochange"] >= 0.2:
            why.append(f"changed together with {partners[path]}")
        if signals["imports"] >= 0.2:
            why.append(f"import neighbour of {neighbours[path]}")
        if signals["recency"] >= 0.5 and not why:
            why.append("changed recently")
        ranked.append(Ranked(path, score, doc.tokens, doc.outline_tokens, why or ["weak match"], signals))
    ranked.sort(key=lambda r: (-r.score, r.path))
    return ranked


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
