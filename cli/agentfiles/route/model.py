"""The router's learned weights: one linear model over route/signals.py's signals, fitted across the
design repositories of bench/route_eval.py by bench/route_train.py (listwise softmax: the files a
commit changed should come first), never per repository. WEIGHTS apply when the optional dense
embeddings are installed, LEXICAL_WEIGHTS (fitted without the dense signals) when they are not.
Second round: `.venv/bin/python bench/route_train.py --alpha 0.2` (and `--without
dense,dense_rr,similar_dense`), fitted on the design repositories' commits older than their newest
100, replayed as `agents route` reads the history (the newest 3,000 commits)."""

from __future__ import annotations

WEIGHTS = {
    "lexical": 0.3871, "lexical_rr": 0.1011, "coverage": -0.071, "path": 1.0315, "defines": 1.1701,
    "symbols": 0.3598, "prose": -0.4528, "described": 0.7737, "described_rr": 0.2903, "similar": 0.8146,
    "cochange": -0.3194, "imports": 0.5025, "recency": 0.8469, "churn": -0.7616, "size": -0.6225,
    "init": 0.3633, "dense": 1.6359, "dense_rr": 0.5594, "subject": 2.0468, "rarest": 0.3431,
    "recent": 0.3271, "recent_rr": 0.3478, "similar_recent": 0.6366, "similar_dense": 0.856,
    "cochange1": 0.0418, "samedir": 0.2843,
}
LEXICAL_WEIGHTS = {
    "lexical": 0.4974, "lexical_rr": 0.1694, "coverage": -0.0355, "path": 1.227, "defines": 1.2057,
    "symbols": 0.4746, "prose": -0.3398, "described": 0.5664, "described_rr": 0.5427, "similar": 1.045,
    "cochange": -0.0818, "imports": 0.5491, "recency": 0.7932, "churn": -0.4202, "size": -0.3868,
    "init": 0.447, "subject": 2.1673, "rarest": 0.2875, "recent": 0.3421, "recent_rr": 0.3599,
    "similar_recent": 0.8796, "cochange1": 0.0568, "samedir": 0.2591,
}
ALPHA = 0.2  # the order charges each file alpha * log(tokens); chosen by leaving one design repository out (route_train.py --loro)
TEST_PENALTY = 0.69  # a test file's score is halved (exp(-0.69)) unless the intent speaks of tests
EVIDENCE = ("lexical", "subject", "path", "defines", "symbols", "prose", "described", "similar", "cochange", "imports")
