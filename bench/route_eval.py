"""How well does `agents route` propose a step's context? Measured on a git repository's own history.

    .venv/bin/python bench/route_eval.py PATH [--tune] [--test-share 0.3] [--json]

Each qualifying commit is a task whose answer is known: not a merge, changes 1-5 existing `.py` files,
a message of at least 20 characters. Intent = the message; ground truth = the changed existing files
that are not tests; corpus = the parent commit's `.py` files; history = the commits before it. Every
method ranks the corpus and the same packer fills a token budget in rank order (the runner's token
estimate, full files only, a file that does not fit is skipped). Reported per budget (4k, 8k, 16k,
32k): recall of the changed files, the share of commits with all of them found, and the oracle
ceiling (their sizes fit the budget at all); and Acc@1/3/5 (a changed file in the top k). Methods:
`agents route` (this project's router), BM25 over path + content (rank_bm25, the standard baseline),
the same BM25 with the router's test-file prior (`bm25+tests`, so the lead is not that prior alone)
and random order, in one run, on the newest `--test-share` of the commits; with `--tune`, the
router's weights are first chosen on the older commits by grid search, so that the figure is not
tuned to itself. The subset whose message names none of the changed files is reported too.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import subprocess
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))

from agentfiles.route.rank import Doc, History, Weights, analyze, is_test, pack, rank  # noqa: E402

BUDGETS = (4000, 8000, 16000, 32000)
MAX_PY_FILES = 5
MIN_MESSAGE = 20


@dataclass
class Case:
    sha: str
    index: int  # position among all non-merge commits, oldest first
    message: str
    truth: list[str]
    corpus: dict[str, str]  # path -> blob of the parent's .py files
    names_none: bool  # the message names none of the changed files


def git(repo: Path, *args: str, input: bytes | None = None) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True, check=True).stdout


def commits(repo: Path) -> list[tuple[str, str, str, list[tuple[str, str]]]]:
    """(sha, parent, message, [(status, path)]) of every non-merge commit, oldest first."""
    raw = git(repo, "log", "--reverse", "--no-merges", "--find-renames", "--format=%x01%H %P%x00%B%x00",
              "--name-status", "HEAD").decode("utf-8", "replace")
    out = []
    for chunk in raw.split("\x01")[1:]:
        head, message, files = chunk.split("\x00", 2)
        shas = head.split()
        changed = []
        for line in files.strip().splitlines():
            status, *paths = line.split("\t")
            if status.startswith("R") and len(paths) == 2:
                changed.append(("R", f"{paths[0]}\t{paths[1]}"))
            elif paths:
                changed.append((status[:1], paths[0]))
        out.append((shas[0], shas[1] if len(shas) > 1 else "", message.strip(), changed))
    return out


def tree(repo: Path, sha: str) -> dict[str, str]:
    raw = git(repo, "ls-tree", "-r", "-z", sha).decode("utf-8", "replace")
    found = {}
    for entry in raw.split("\0"):
        if not entry:
            continue
        meta, _, path = entry.partition("\t")
        mode, kind, blob = meta.split()
        if kind == "blob" and path.endswith(".py"):
            found[path] = blob
    return found


def read_blobs(repo: Path, blobs: list[str]) -> dict[str, str]:
    out = git(repo, "cat-file", "--batch", input="".join(b + "\n" for b in blobs).encode())
    texts, at = {}, 0
    for blob in blobs:
        end = out.index(b"\n", at)
        header = out[at:end].split()
        at = end + 1
        size = int(header[2])
        texts[blob] = out[at : at + size].decode("utf-8", "replace")
        at += size + 1
    return texts


def load(repo: Path, limit: int | None) -> tuple[list, list[Case], dict[str, str]]:
    history = commits(repo)
    cases: list[Case] = []
    for index, (sha, parent, message, changed) in enumerate(history):
        if not parent or len(message) < MIN_MESSAGE:
            continue
        py = [(s, p) for s, p in changed if p.endswith(".py")]
        existing = [p for s, p in py if s == "M"]
        if not 1 <= len(existing) <= MAX_PY_FILES or len(py) > MAX_PY_FILES:
            continue
        truth = [p for p in existing if not is_test(p)]
        if not truth:
            continue
        corpus = tree(repo, parent)
        truth = [p for p in truth if p in corpus]
        if not truth:
            continue
        lowered = message.lower()
        names_none = not any(Path(p).stem.lower() in lowered for p in truth)
        cases.append(Case(sha, index, message, truth, corpus, names_none))
    if limit:
        cases = cases[-limit:]
    blobs = sorted({b for c in cases for b in c.corpus.values()})
    texts: dict[str, str] = {}
    for start in range(0, len(blobs), 2000):
        texts.update(read_blobs(repo, blobs[start : start + 2000]))
    return history, cases, texts


# ------------------------------------------------------------------------------------------ methods


class Methods:
    def __init__(self, texts: dict[str, str]) -> None:
        self.texts = texts
        self.docs: dict[tuple[str, str], Doc] = {}
        self.bm25_tokens: dict[tuple[str, str], list[str]] = {}

    def corpus_docs(self, case: Case) -> dict[str, Doc]:
        docs = {}
        for path, blob in case.corpus.items():
            key = (path, blob)
            if key not in self.docs:
                self.docs[key] = analyze(path, self.texts[blob])
            docs[path] = self.docs[key]
        return docs

    def bm25(self, case: Case, test_penalty: float = 0.0) -> list[str]:
        from rank_bm25 import BM25Okapi

        paths = sorted(case.corpus)
        corpus = []
        for path in paths:
            key = (path, case.corpus[path])
            if key not in self.bm25_tokens:
                self.bm25_tokens[key] = re.findall(r"\w+", (path + " " + self.texts[case.corpus[path]]).lower())
            corpus.append(self.bm25_tokens[key])
        scores = list(BM25Okapi(corpus).get_scores(re.findall(r"\w+", case.message.lower())))
        if test_penalty and not re.search(r"\btests?\b|\btesting\b", case.message.lower()):
            scores = [s * (1 - test_penalty) if is_test(p) else s for s, p in zip(scores, paths)]
        return [p for _, p in sorted(zip(scores, paths), key=lambda sp: (-sp[0], sp[1]))]


def evaluate(history, cases: list[Case], methods: Methods, weights: Weights, which: set[str]) -> dict[str, list[dict]]:
    """Per method, per case: the ranked paths and the sizes, in one pass over the history."""
    results: dict[str, list[dict]] = {name: [] for name in ("route", "bm25", "bm25+tests", "random") if name in which}
    past = History()
    by_index = {c.index: c for c in cases}
    rng = random.Random(7)
    for index, (sha, parent, message, changed) in enumerate(history):
        case = by_index.get(index)
        if case is not None:
            docs = methods.corpus_docs(case)
            sizes = {p: d.tokens for p, d in docs.items()}
            if "route" in results:
                ranked = rank(docs, case.message, past, weights)
                order = [r.path for r in ranked]
                order += sorted(p for p in docs if p not in set(order))  # unmatched files last, as BM25's zeros
                results["route"].append({"case": case, "order": order, "sizes": sizes})
            if "bm25" in results:
                order = methods.bm25(case)
                results["bm25"].append({"case": case, "order": order, "sizes": sizes})
                if "bm25+tests" in results:  # the same ranking with the router's test-file prior
                    results["bm25+tests"].append({"case": case, "order": methods.bm25(case, weights.tests), "sizes": sizes})
            if "random" in results:
                order = sorted(docs)
                rng.shuffle(order)
                results["random"].append({"case": case, "order": order, "sizes": sizes})
        renames = [tuple(p.split("\t")) for status, p in changed if status == "R"]
        past.add(message, [p for status, p in changed if status == "M"], renames)  # as the router's own index does
    return results


def packed(order: list[str], sizes: dict[str, int], budget: int) -> set[str]:
    from agentfiles.route.rank import Ranked

    items = [Ranked(p, 1.0, sizes[p], sizes[p], []) for p in order]
    return {pick.ranked.path for pick in pack(items, budget)}


def metrics(rows: list[dict]) -> dict[str, float]:
    n = len(rows) or 1
    out: dict[str, float] = {"commits": len(rows)}
    for budget in BUDGETS:
        recall = found_all = oracle = 0.0
        for row in rows:
            truth = set(row["case"].truth)
            got = packed(row["order"], row["sizes"], budget) & truth
            recall += len(got) / len(truth)
            found_all += got == truth
            oracle += sum(row["sizes"][p] for p in truth) <= budget
        k = f"{budget // 1000}k"
        out[f"recall@{k}"] = recall / n
        out[f"all@{k}"] = found_all / n
        out[f"oracle@{k}"] = oracle / n
    for k in (1, 3, 5):
        out[f"acc@{k}"] = sum(bool(set(r["order"][:k]) & set(r["case"].truth)) for r in rows) / n
    return out


def tune(history, cases: list[Case], methods: Methods) -> tuple[Weights, float]:
    """Grid search on the older commits: the weights with the best all-found share at 16k (recall breaks ties)."""
    grid = {
        "path": (0.1, 0.3, 0.5),
        "history": (0.2, 0.35, 0.5, 0.8),
        "cochange": (0.1, 0.2, 0.3, 0.5),
        "imports": (0.0, 0.2),
        "churn": (0.0, 0.3),
        "tests": (0.5, 0.9),
    }
    best, best_key = Weights(), (-1.0, -1.0)
    for values in itertools.product(*grid.values()):
        weights = replace(Weights(), **dict(zip(grid, values)))
        rows = evaluate(history, cases, methods, weights, {"route"})["route"]
        m = metrics(rows)
        key = (m["all@16k"], m["recall@16k"])
        if key > best_key:
            best, best_key = weights, key
    return best, best_key[0]


def table(title: str, results: dict[str, dict[str, float]]) -> str:
    columns = [f"{m}@{b // 1000}k" for b in BUDGETS for m in ("recall", "all")] + ["acc@1", "acc@3", "acc@5"]
    lines = [title, "", "| method | commits | " + " | ".join(columns) + " |", "|---|---:|" + "---:|" * len(columns)]
    for name, m in results.items():
        cells = [f"{m[c] * 100:.1f}" for c in columns]
        lines.append(f"| {name} | {int(m['commits'])} | " + " | ".join(cells) + " |")
    first = next(iter(results.values()), None)
    if first:
        lines.append("| oracle | | " + " | ".join(
            f"{first[f'oracle@{b // 1000}k'] * 100:.1f}" if c.startswith("all") else "" for b in BUDGETS
            for c in ("recall", "all")) + " | | | |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repo", type=Path, help="a local git repository (a work tree or a bare one)")
    parser.add_argument("--test-share", type=float, default=0.3, help="the newest share of commits reported on")
    parser.add_argument("--tune", action="store_true", help="choose the router's weights on the older commits first")
    parser.add_argument("--limit", type=int, default=None, help="only the newest N qualifying commits (quick runs)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()
    started = time.monotonic()
    history, cases, texts = load(args.repo, args.limit)
    if len(cases) < 4:
        print(f"route_eval: only {len(cases)} qualifying commits in {args.repo}; need at least 4", file=sys.stderr)
        return 2
    split = int(len(cases) * (1 - args.test_share))
    older, newer = cases[:split], cases[split:]
    methods = Methods(texts)
    weights, tuned_score = Weights(), None
    if args.tune:
        weights, tuned_score = tune(history, older, methods)
    results = evaluate(history, newer, methods, weights, {"route", "bm25", "bm25+tests", "random"})
    overall = {name: metrics(rows) for name, rows in results.items()}
    subset = {name: metrics([r for r in rows if r["case"].names_none]) for name, rows in results.items()}
    report = {
        "repo": str(args.repo),
        "head": git(args.repo, "rev-parse", "HEAD").decode().strip(),
        "qualifying": len(cases),
        "tuned_on": len(older) if args.tune else 0,
        "reported_on": len(newer),
        "weights": weights.to_json(),
        "tuned_all@16k": tuned_score,
        "overall": overall,
        "names_none": subset,
        "seconds": round(time.monotonic() - started, 1),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    print(f"{args.repo}: {len(cases)} qualifying commits; reported on the newest {len(newer)}"
          + (f", weights tuned on the older {len(older)}" if args.tune else " (default weights)"))
    print(f"weights: {json.dumps(weights.to_json())}\n")
    print(table("All held-out commits (percent)", overall))
    print()
    print(table("Held-out commits whose message names none of the changed files (percent)", subset))
    lead = (overall["route"]["all@16k"] - overall["bm25"]["all@16k"]) * 100
    fair = (overall["route"]["all@16k"] - overall["bm25+tests"]["all@16k"]) * 100
    print(f"\nall changed files found at 16k: route {overall['route']['all@16k'] * 100:.1f}%, "
          f"BM25 {overall['bm25']['all@16k'] * 100:.1f}% ({lead:+.1f} points), "
          f"BM25 with the same test-file prior {overall['bm25+tests']['all@16k'] * 100:.1f}% ({fair:+.1f}); "
          f"{report['seconds']} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
