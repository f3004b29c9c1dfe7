"""The router's learned weights: one linear model over route/signals.py's signals, fitted across the
design repositories of bench/route_eval.py by bench/route_train.py (listwise softmax: the files a
commit changed should come first), never per repository. WEIGHTS apply when the optional dense
embeddings are installed, LEXICAL_WEIGHTS (fitted without the dense signals) when they are not.
Second round: `.venv/bin/python bench/route_train.py --alpha 0.2` (and `--without
dense,dense_rr,similar_dense`), fitted on the design repositories' commits older than their newest
100, replayed as `agents route` reads the history in a checkout of each commit's parent (the newest
3,000 non-merge commits the parent can reach; refitted after the replay stopped leaking commits of
merged branches that the parent cannot reach)."""

from __future__ import annotations

WEIGHTS = {
    "lexical": 0.3571, "lexical_rr": 0.1021, "coverage": -0.0967, "path": 1.0403, "defines": 1.1582,
    "symbols": 0.3528, "prose": -0.4316, "described": 0.7786, "described_rr": 0.2909, "similar": 0.8148,
    "cochange": -0.3072, "imports": 0.4915, "recency": 0.785, "churn": -0.6321, "size": -0.7215,
    "init": 0.3371, "dense": 1.5623, "dense_rr": 0.5529, "subject": 2.0726, "rarest": 0.3552,
    "recent": 0.4285, "recent_rr": 0.2582, "similar_recent": 0.6285, "similar_dense": 0.8479,
    "cochange1": 0.0369, "samedir": 0.2992,
}
LEXICAL_WEIGHTS = {
    "lexical": 0.4547, "lexical_rr": 0.169, "coverage": -0.0658, "path": 1.2374, "defines": 1.1909,
    "symbols": 0.4684, "prose": -0.3205, "described": 0.5854, "described_rr": 0.5362, "similar": 1.0366,
    "cochange": -0.0624, "imports": 0.5319, "recency": 0.7273, "churn": -0.2874, "size": -0.5185,
    "init": 0.4154, "subject": 2.1935, "rarest": 0.3081, "recent": 0.4473, "recent_rr": 0.2806,
    "similar_recent": 0.8703, "cochange1": 0.0481, "samedir": 0.2777,
}
ALPHA = 0.2  # the order charges each file alpha * log(tokens); chosen by leaving one design repository out (route_train.py --loro)
TEST_PENALTY = 0.69  # a test file's score is halved (exp(-0.69)) unless the intent speaks of tests
EVIDENCE = ("lexical", "subject", "path", "defines", "symbols", "prose", "described", "similar", "cochange", "imports")
