"""Ranking a corpus of files for an intent, and packing the best into a token budget.

The evidence for each file is route/signals.py's (words by field, past commits, co-change, imports,
size, dense similarity); one model learned across repositories (route/model.py, fitted by
bench/route_train.py) weighs it. A test file is weighed down unless the intent speaks of tests.
"""

from __future__ import annotations

import math
from dataclasses import field
from typing import Any

from agentfiles.core.records import record
from agentfiles.route import model
from agentfiles.route.corpus import Doc, History, is_test
from agentfiles.route.signals import Signals, compute, score
from agentfiles.route.text import spoken, words


# ------------------------------------------------------------------------------------------ ranking


@record
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
    found = compute(docs, intent, history, links, dense)
    weights = model.WEIGHTS if dense else model.LEXICAL_WEIGHTS
    wanted = set(words(intent))
    said = spoken(intent)
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
                     _why(found, path, docs[path], wanted, said), found.values[path]) for path, value in raw.items()]
    ranked.sort(key=lambda r: (-(math.log(r.score) - model.ALPHA * math.log1p(r.tokens)), r.path))
    return ranked


def _why(found: Signals, path: str, doc: Doc, wanted: set[str], said: dict[str, str]) -> list[str]:
    values = found.values[path]
    why = []
    if found.matched.get(path):
        why.append("mentions " + ", ".join(said.get(t, t) for t in found.matched[path][:4]))
    if values.get("path"):
        why.append("its path names " + ", ".join(said.get(t, t) for t in doc.path_terms if t in wanted))
    if values.get("defines"):
        why.append("defines a name the intent writes out")
    if values.get("described", 0.0) >= 0.3:
        why.append("past commits that changed it speak of the same things")
    if values.get("subject", 0.0) >= 0.5 and not values.get("lexical", 0.0) >= 0.5:
        why.append("matches the intent's first line")
    if values.get("similar", 0.0) >= 0.2 and path in found.voters:
        why.append(f"changed by a similar past commit: \"{found.voters[path][:60]}\"")
    if values.get("cochange", 0.0) >= 0.2 and path in found.partners:
        why.append(f"changed together with {found.partners[path]}")
    if values.get("imports", 0.0) >= 0.2 and path in found.neighbours:
        why.append(f"import neighbour of {found.neighbours[path]}")
    if values.get("similar_dense", 0.0) >= 0.5:
        why.append("changed by past commits close in meaning (embeddings)")
    if values.get("dense_rr", 0.0) >= 0.2:
        why.append("close in meaning (embeddings)")
    return why or ["weak match"]


@record
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
