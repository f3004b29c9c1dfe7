"""The rankers the router is compared with, each a function (case, texts) -> paths best first:
random order; BM25 as this project had it (rank_bm25's BM25Okapi over path + content, `\\w+` tokens);
the strong BM25 (the same with identifier splitting: snake_case and camelCase parts as extra terms);
a dense retriever (static word embeddings, the best 40-line window of each file)."""

from __future__ import annotations

import random
import re
from typing import Any, Callable

from route_cases import Case

_WORD = re.compile(r"\w+")
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")


def plain_tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def split_tokens(text: str) -> list[str]:
    """`\\w+` tokens lowercased, plus the parts of each snake_case or camelCase identifier."""
    out = []
    for token in _WORD.findall(text):
        out.append(token.lower())
        parts = [p.lower() for piece in token.split("_") for p in _PARTS.findall(piece)]
        if len(parts) > 1:
            out.extend(parts)
    return out


class Baselines:
    """Tokenised documents and file vectors cached per (path, blob) across a repository's cases."""

    def __init__(self, texts: dict[str, str], vectors: dict[tuple[str, str], Any] | None = None) -> None:
        self.texts = texts
        self.tokens: dict[tuple[str, str, str], list[str]] = {}
        self.vectors: dict[tuple[str, str], Any] = {} if vectors is None else vectors

    def methods(self) -> dict[str, Callable[[Case], list[str]]]:
        from agentfiles.route import dense

        found: dict[str, Callable[[Case], list[str]]] = {
            "random": self.random, "bm25": self.bm25, "bm25-strong": self.bm25_strong}
        if dense.available():
            found["dense"] = self.dense
        return found

    def random(self, case: Case) -> list[str]:
        order = sorted(case.corpus)
        random.Random(case.sha).shuffle(order)
        return order

    def _bm25(self, case: Case, kind: str, tokenize: Callable[[str], list[str]]) -> list[str]:
        from rank_bm25 import BM25Okapi

        paths = sorted(case.corpus)
        corpus = []
        for path in paths:
            key = (kind, path, case.corpus[path])
            if key not in self.tokens:
                self.tokens[key] = tokenize(path + " " + self.texts[case.corpus[path]])
            corpus.append(self.tokens[key])
        scores = BM25Okapi(corpus).get_scores(tokenize(case.message))
        return [p for _, p in sorted(zip(scores, paths), key=lambda sp: (-sp[0], sp[1]))]

    def bm25(self, case: Case) -> list[str]:
        return self._bm25(case, "plain", plain_tokens)

    def bm25_strong(self, case: Case) -> list[str]:
        return self._bm25(case, "split", split_tokens)

    def dense(self, case: Case) -> list[str]:
        from agentfiles.route import dense

        query = dense.embed([case.message])[0]
        scores = {}
        for path, blob in case.corpus.items():
            key = (path, blob)
            if key not in self.vectors:
                self.vectors[key] = dense.file_vectors(path, self.texts[blob])
            scores[path] = dense.similarity(query, self.vectors[key])
        return sorted(scores, key=lambda p: (-scores[p], p))
