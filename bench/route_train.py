"""Learns the router's weights (route/model.py) across the design repositories, one model for all:
a linear score over route/signals.py's signals, fitted by a listwise softmax loss (the changed files
should come first), then a size penalty (score - alpha * log(tokens)) for the order.

    .venv/bin/python bench/route_train.py [--limit 400] [--holdout 100] [--alpha 0.2]
    .venv/bin/python bench/route_train.py --loro            # leave one design repository out, per alpha

Per design repository the newest `--limit` qualifying commits are read; the newest `--holdout` of each
are kept out of the fit and reported on (they are what bench/route_eval.py --set design shows), the
older ones are fitted on. Without `--alpha`, alpha is the one best for all-found at 16k on the fitted
commits. `--loro` instead fits on six design repositories (all `--limit` commits) and orders the
seventh, for each in turn: pooled, it estimates how a model does on a repository it never saw, per
alpha (the second round chose alpha 0.2 so). The report repositories are never read here. Signals
are cached per commit.
"""

from __future__ import annotations

import argparse
import json
import pickle
import sys
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT / "bench"))

from route_eval import DESIGN, REPLAY, Repository, metrics  # noqa: E402

from agentfiles.route.signals import NAMES, compute  # noqa: E402


def case_features(repo: Repository) -> list[dict[str, Any]]:
    """Per case: paths, the signal matrix, which paths are the truth, their sizes."""
    import hashlib

    key = hashlib.sha256(REPLAY + b"".join((ROOT / "cli/agentfiles/route" / f).read_bytes()
                                  for f in ("signals.py", "rank.py", "text.py", "dense.py", "corpus.py"))).hexdigest()[:12]
    file = repo.cache / f"signals-{key}-{len(repo.cases)}.pkl"
    if file.exists():
        return pickle.loads(file.read_bytes())  # type: ignore[no-any-return]
    out = []
    for case, past in repo.replay():
        docs = repo.corpus_docs(case)
        found = compute(docs, case.message, past, dense=repo.dense_scores(case))
        paths = sorted(docs)
        out.append({"case": case, "paths": paths, "x": np.array([found.vector(p) for p in paths], dtype=np.float64),
                    "y": np.array([p in case.truth for p in paths], dtype=np.float64),
                    "tokens": np.array([docs[p].tokens for p in paths], dtype=np.float64),
                    "sizes": case.sizes(repo.texts)})
    file.write_bytes(pickle.dumps(out))
    return out


def fit(cases: list[dict[str, Any]], columns: list[int], l2: float = 1e-3, steps: int = 600) -> np.ndarray:
    """Listwise softmax: maximise the log share of the softmax mass on the changed files, by gradient
    ascent (Adam) on one weight vector for every case of every repository."""
    w = np.zeros(len(columns))
    m, v = np.zeros_like(w), np.zeros_like(w)
    data = [(c["x"][:, columns], c["y"] / c["y"].sum()) for c in cases if c["y"].sum()]
    for step in range(1, steps + 1):
        grad = -l2 * w
        for x, y in data:
            s = x @ w
            p = np.exp(s - s.max())
            p /= p.sum()
            grad += x.T @ (y - p) / len(data)
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        w += 0.05 * (m / (1 - 0.9**step)) / (np.sqrt(v / (1 - 0.999**step)) + 1e-8)
    return w


def orders(cases: list[dict[str, Any]], columns: list[int], w: np.ndarray, alpha: float) -> list[dict[str, Any]]:
    rows = []
    for c in cases:
        s = c["x"][:, columns] @ w - alpha * np.log1p(c["tokens"])
        order = [c["paths"][i] for i in np.lexsort((np.array(c["paths"]), -s))]
        rows.append({"case": c["case"], "order": order, "sizes": c["sizes"]})
    return rows


def leave_one_out(every: dict[str, list[dict[str, Any]]], columns: list[int],
                  alphas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.5)) -> int:
    """Each design repository ordered by a model fitted on the other six; pooled figures per alpha."""
    rows: dict[float, list[dict[str, Any]]] = {a: [] for a in alphas}
    for name, cases in every.items():
        w = fit([c for other, cs in every.items() if other != name for c in cs], columns, steps=400)
        for a in alphas:
            rows[a] += orders(cases, columns, w, a)
    for a in alphas:
        m = metrics(rows[a])
        print(f"leave one repository out (alpha {a}): all@16k {m['all@16k'] * 100:.1f}, all@8k {m['all@8k'] * 100:.1f}, "
              f"all@32k {m['all@32k'] * 100:.1f}, acc@1 {m['acc@1'] * 100:.1f}, acc@5 {m['acc@5'] * 100:.1f} "
              f"on {len(rows[a])} commits")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, default=400)
    parser.add_argument("--holdout", type=int, default=100)
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--cache", type=Path, default=Path("/tmp/agentfiles-route-eval"))
    parser.add_argument("--without", default="", help="signals left out, comma-separated (e.g. dense,dense_rr)")
    parser.add_argument("--alpha", type=float, help="the size penalty of the order (default: best on the fitted commits)")
    parser.add_argument("--loro", action="store_true", help="leave one design repository out in turn, and report")
    args = parser.parse_args()
    train, held, every = [], {}, {}
    for name in DESIGN:
        repo = Repository(name, args.mirror / name.replace("/", "+") / "repo", args.limit, args.cache)
        cases = every[name] = case_features(repo)
        train += cases[: -args.holdout]
        held[name] = cases[-args.holdout :]
        print(f"{name}: {len(cases) - len(held[name])} fitted, {len(held[name])} held out", file=sys.stderr, flush=True)
    left_out = set(filter(None, args.without.split(",")))
    columns = [i for i, n in enumerate(NAMES) if n not in left_out]
    if args.loro:
        return leave_one_out(every, columns)
    w = fit(train, columns)
    pooled_held = [c for cs in held.values() for c in cs]
    best = max((metrics(orders(train, columns, w, a))["all@16k"], -a, a) for a in (0.0, 0.1, 0.2, 0.3, 0.5, 0.8, 1.2))
    alpha = best[2] if args.alpha is None else args.alpha
    print(json.dumps({"weights": {NAMES[i]: round(float(x), 4) for i, x in zip(columns, w)}, "alpha": alpha}, indent=1))
    print(f"fitted: all@16k {metrics(orders(train, columns, w, alpha))['all@16k'] * 100:.1f} on {len(train)} commits (alpha {alpha})")
    for a in sorted({0.0, alpha}):
        m = metrics(orders(pooled_held, columns, w, a))
        print(f"held out (alpha {a}): all@16k {m['all@16k'] * 100:.1f}, all@8k {m['all@8k'] * 100:.1f}, "
              f"acc@1 {m['acc@1'] * 100:.1f}, acc@5 {m['acc@5'] * 100:.1f} on {len(pooled_held)} commits")
    for name, cases in held.items():
        m = metrics(orders(cases, columns, w, alpha))
        print(f"  {name}: all@16k {m['all@16k'] * 100:.1f} acc@5 {m['acc@5'] * 100:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
