"""What the router reads of a repository: each file's analysis (Doc: its words by field, the names it
defines, its imports, its size) and the history of commits (History: what each changed, its message,
which files change together), built incrementally. route/signals.py turns them into evidence."""

from __future__ import annotations

import math
import posixpath
from collections import Counter, defaultdict
from dataclasses import field
from typing import Any

from agentfiles.core.records import record
from agentfiles.route.text import path_words, prose, python_imports, python_symbols, words

K1 = 1.2
B = 0.75


# ------------------------------------------------------------------------------------------ documents


@record
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


@record
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
    vectors: Any = None  # embeddings of the messages' subjects, grown on demand (message_vectors)

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

    def message_vectors(self) -> Any:
        """Unit embeddings (n x 256) of every message's subject, computed once each; the optional
        embeddings must be installed (route/dense.py)."""
        import numpy as np

        from agentfiles.route import dense

        done = 0 if self.vectors is None else len(self.vectors)
        if done < len(self.messages):
            fresh = dense.embed([subject for subject, _ in self.messages[done:]])
            self.vectors = fresh if self.vectors is None else np.concatenate([self.vectors, fresh])
        return self.vectors

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
