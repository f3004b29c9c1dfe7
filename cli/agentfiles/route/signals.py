"""What the router knows of each file for an intent, as numbers a learned model weighs (route/model.py):
lexical matching by field (all words, the intent's first line alone, path, defined names, docstrings
and comments), the messages of past commits as a description of the files they changed, similar past
commits (by words, by recency, and by meaning with the embeddings), files changed together
with or importing the strongest matches, recency, churn, size, and dense similarity when the optional
embeddings are installed. Each signal is scaled per intent (to the best file's value, or as
1/(1 + rank)), so that one set of weights holds across repositories of any size."""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import field
from typing import Mapping

from agentfiles.core.records import record
from agentfiles.route.corpus import Doc, History, import_graph
from agentfiles.route.text import words

K1 = 1.2
B = 0.75
SEEDS = 5  # the strongest matches whose neighbours (co-change, imports) are credited
SIMILAR = 20  # past commits consulted for the similar-commits vote

NAMES = ("lexical", "lexical_rr", "coverage", "path", "defines", "symbols", "prose", "described", "described_rr", "similar",
         "cochange", "imports", "recency", "churn", "size", "init", "dense", "dense_rr",
         "subject", "rarest", "recent", "recent_rr", "similar_recent", "similar_dense", "cochange1", "samedir")


@record
class Signals:
    values: dict[str, dict[str, float]]  # path -> signal -> value (absent = 0)
    matched: dict[str, list[str]] = field(default_factory=dict)  # path -> intent words it contains
    voters: dict[str, str] = field(default_factory=dict)  # path -> a similar past commit that changed it
    partners: dict[str, str] = field(default_factory=dict)  # path -> the strong match it changes with
    neighbours: dict[str, str] = field(default_factory=dict)  # path -> the strong match it imports or is imported by

    def vector(self, path: str) -> list[float]:
        mine = self.values.get(path, {})
        return [mine.get(name, 0.0) for name in NAMES]


def bm25(fields: Mapping[str, Mapping[str, int]], query: list[str]) -> dict[str, float]:
    """BM25 of the query against each document's term counts (documents with no match left out)."""
    n = len(fields)
    if not n or not query:
        return {}
    lengths = {p: sum(t.values()) for p, t in fields.items()}
    average = sum(lengths.values()) / n or 1.0
    wanted = Counter(query)
    df = Counter(t for terms in fields.values() for t in wanted if t in terms)
    idf = {t: math.log(1 + (n - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted if df[t]}
    scores: dict[str, float] = {}
    for path, terms in fields.items():
        score = 0.0
        for term, weight in idf.items():
            tf = terms.get(term)
            if tf:
                score += weight * wanted[term] * tf * (K1 + 1) / (tf + K1 * (1 - B + B * lengths[path] / average))
        if score:
            scores[path] = score
    return scores


def scaled(values: dict[str, float]) -> dict[str, float]:
    top = max(values.values(), default=0.0)
    return {k: v / top for k, v in values.items() if v > 0} if top > 0 else {}


def reciprocal_rank(values: dict[str, float]) -> dict[str, float]:
    ordered = sorted((p for p, v in values.items() if v > 0), key=lambda p: -values[p])
    return {p: 1 / (1 + rank) for rank, p in enumerate(ordered)}


def compute(docs: dict[str, Doc], intent: str, history: History | None = None,
            links: dict[str, set[str]] | None = None, dense: dict[str, float] | None = None) -> Signals:
    """Every signal of every file for the intent; `dense` is each file's embedding similarity, if known."""
    query = words(intent)
    wanted = set(query)
    out: dict[str, dict[str, float]] = defaultdict(dict)

    def put(name: str, values: dict[str, float]) -> None:
        for path, value in values.items():
            if value:
                out[path][name] = value

    lexical = bm25({p: d.terms for p, d in docs.items()}, query)
    put("lexical", scaled(lexical))
    put("lexical_rr", reciprocal_rank(lexical))
    df = Counter(t for d in docs.values() for t in wanted if t in d.terms)
    idf = {t: math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5)) for t in wanted}
    total = sum(idf.values()) or 1.0
    matched = {p: sorted((t for t in wanted if t in d.terms), key=lambda t: -idf[t]) for p, d in docs.items()}
    put("coverage", {p: sum(idf[t] for t in hits) / total for p, hits in matched.items()})
    rarest = max(idf.values(), default=0.0) or 1.0
    put("rarest", {p: idf[hits[0]] / rarest for p, hits in matched.items() if hits})
    subject = intent.strip().splitlines()[0] if intent.strip() else ""
    put("subject", scaled(bm25({p: d.terms for p, d in docs.items()}, words(subject))))
    put("path", scaled({p: sum(idf[t] for t in set(d.path_terms) & wanted) for p, d in docs.items()}))
    put("defines", scaled(_defines(docs, intent)))
    put("symbols", scaled(bm25({p: d.symbols for p, d in docs.items()}, query)))
    put("prose", scaled(bm25({p: d.prose for p, d in docs.items()}, query)))
    put("size", {p: math.log1p(d.tokens) / 10 for p, d in docs.items()})
    put("init", {p: 1.0 for p in docs if p.rsplit("/", 1)[-1] == "__init__.py"})
    if dense:
        put("dense", {p: max(0.0, v) for p, v in dense.items() if p in docs})
        put("dense_rr", reciprocal_rank({p: v for p, v in dense.items() if p in docs}))
    signals = Signals(out, {p: m for p, m in matched.items() if m})
    if history is not None:
        _history_signals(signals, docs, query, history, intent if dense else None)
    strength = {p: v.get("lexical", 0.0) + v.get("described", 0.0) + v.get("similar", 0.0) + v.get("path", 0.0)
                for p, v in out.items()}
    seeds = [p for p in sorted(strength, key=lambda p: -strength[p])[:SEEDS] if strength[p] > 0]
    if history is not None:
        together: dict[str, float] = defaultdict(float)
        for seed in seeds:
            total_changes = history.changes.get(seed) or 1
            for other, times in history.pairs.get(seed, {}).items():
                if other in docs and other != seed:
                    together[other] += strength[seed] * times / total_changes
                    signals.partners.setdefault(other, seed)
        put("cochange", scaled(together))
        first = seeds[0] if seeds else None
        if first is not None:
            total_changes = history.changes.get(first) or 1
            put("cochange1", scaled({o: t / total_changes for o, t in history.pairs.get(first, {}).items()
                                     if o in docs and o != first}))
            folder = first.rsplit("/", 1)[0] if "/" in first else ""
            put("samedir", {p: 1.0 for p in docs if p != first and (p.rsplit("/", 1)[0] if "/" in p else "") == folder})
    links = import_graph(docs) if links is None else links
    imported: dict[str, float] = defaultdict(float)
    for seed in seeds:
        for other in links.get(seed, ()):
            imported[other] += strength[seed]
            signals.neighbours.setdefault(other, seed)
    put("imports", scaled(imported))
    return signals


def _defines(docs: dict[str, Doc], intent: str) -> dict[str, float]:
    """Files defining a name the intent writes out (`get_pager_file`, `BytesIO`, `echo`), or a module
    it names (`testing`), weighed by how few files share it."""
    import re

    written = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", intent))
    stems = {t.lower() for t in written}
    owners: dict[str, list[str]] = defaultdict(list)
    for path, doc in docs.items():
        for name in set(doc.names) & written:
            owners[name].append(path)
        module = path.rsplit("/", 1)[-1][:-3] if path.endswith(".py") else ""
        if module and module.lower() in stems and module != "__init__":
            owners["module:" + module.lower()].append(path)
    found: dict[str, float] = defaultdict(float)
    for paths in owners.values():
        for path in paths:
            found[path] += 1 / len(paths)
    return found


def _history_signals(signals: Signals, docs: dict[str, Doc], query: list[str], history: History,
                     intent: str | None = None) -> None:
    """The past as evidence: files described by the messages of the commits that changed them, files
    changed by commits like this one, recency and churn."""
    out = signals.values
    described = bm25({p: history.described[p] for p in docs if p in history.described}, query)
    for path, value in scaled(described).items():
        out[path]["described"] = value
    for path, value in reciprocal_rank(described).items():
        out[path]["described_rr"] = value
    voted: dict[str, float] = defaultdict(float)
    similar = history.similar(query, SIMILAR)
    best = similar[0][1] if similar else 1.0
    for index, similarity in similar:
        subject, files = history.messages[index]
        present = sorted({history.current(f) for f in files} & docs.keys())
        for path in present:  # a commit's vote is shared among the files it changed
            voted[path] += similarity / best / len(present)
            signals.voters.setdefault(path, subject)
    for path, value in voted.items():
        out[path]["similar"] = min(1.0, value)
    latest = len(history.messages) - 1
    recent_votes: dict[str, float] = defaultdict(float)
    for index, similarity in similar:
        subject, files = history.messages[index]
        present = sorted({history.current(f) for f in files} & docs.keys())
        for path in present:
            recent_votes[path] += similarity / best / len(present) * math.exp(-(latest - index) / 200)
    for path, value in scaled(recent_votes).items():
        out[path]["similar_recent"] = value
    if intent is not None and history.messages:
        _similar_dense(signals, docs, intent, history)
    ordered = sorted((p for p in docs if p in history.last_change), key=lambda p: -history.last_change[p])
    for rank, path in enumerate(ordered):
        out[path]["recent_rr"] = 1 / (1 + rank)
        out[path]["recent"] = math.exp(-(latest - history.last_change[path]) / 5)
    churn = scaled({p: math.log1p(history.changes[p]) for p in docs if history.changes.get(p)})
    for path in docs:
        if path in history.last_change:
            out[path]["recency"] = math.exp(-(latest - history.last_change[path]) / 50)
        if path in churn:
            out[path]["churn"] = churn[path]


def _similar_dense(signals: Signals, docs: dict[str, Doc], intent: str, history: History) -> None:
    """The past commits whose subjects are closest in meaning to the intent (embeddings) vote for the
    files they modified, as `similar` does with words."""
    import numpy as np

    from agentfiles.route import dense

    vectors = history.message_vectors()
    similarity = vectors @ dense.embed([intent])[0]
    top = np.argsort(-similarity, kind="stable")[:SIMILAR]
    best = float(similarity[top[0]]) or 1.0
    voted: dict[str, float] = defaultdict(float)
    for index in top:
        present = sorted({history.current(f) for f in history.messages[index][1]} & docs.keys())
        for path in present:
            voted[path] += max(0.0, float(similarity[index])) / best / len(present)
    for path, value in scaled(voted).items():
        signals.values[path]["similar_dense"] = value


def score(signals: Signals, path: str, weights: Mapping[str, float]) -> float:
    mine = signals.values.get(path, {})
    return sum(weights.get(name, 0.0) * value for name, value in mine.items())
