"""The router's learned weights: one linear model over route/signals.py's signals, fitted across the
design repositories of bench/route_eval.py by bench/route_train.py (listwise softmax: the files a
commit changed should come first), never per repository. WEIGHTS apply when the optional dense
embeddings are installed, LEXICAL_WEIGHTS (fitted without the dense signals) when they are not.
They were fitted while the harness replayed every past commit for each one; it now replays the
newest 3,000, as `agents route` reads, so a refit today gives slightly different numbers. They were
kept as they were, unchanged since the report repositories were first measured."""

from __future__ import annotations

WEIGHTS = {
    "lexical": 2.0296, "lexical_rr": 0.0122, "coverage": 0.3023, "path": 1.0676, "defines": 1.1944,
    "symbols": 0.4507, "prose": -0.3881, "described": 0.7585, "described_rr": 0.6277, "similar": 1.465,
    "cochange": 0.0092, "imports": 0.502, "recency": 1.4795, "churn": -0.5719, "size": -0.5255,
    "init": 0.3883, "dense": 1.8707, "dense_rr": 0.6978,
}
LEXICAL_WEIGHTS = {
    "lexical": 2.2247, "lexical_rr": 0.0995, "coverage": 0.2944, "path": 1.2299, "defines": 1.1837,
    "symbols": 0.5564, "prose": -0.2183, "described": 0.702, "described_rr": 0.6823, "similar": 1.5504,
    "cochange": 0.0457, "imports": 0.6159, "recency": 1.4835, "churn": -0.6132, "size": -0.2674, "init": 0.43,
}
ALPHA = 0.0  # the order may charge each file alpha * log(tokens); on the design commits held out, 0 did best
TEST_PENALTY = 0.69  # a test file's score is halved (exp(-0.69)) unless the intent speaks of tests
EVIDENCE = ("lexical", "path", "defines", "symbols", "prose", "described", "similar", "cochange", "imports")
