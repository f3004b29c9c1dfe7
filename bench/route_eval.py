"""How well does `agents route` propose a step's context, on repositories it was never tuned on?

    .venv/bin/python bench/route_eval.py --set final             # the final report repositories
    .venv/bin/python bench/route_eval.py --set unseen            # the earlier report sets (now validation)
    .venv/bin/python bench/route_eval.py --set design            # the design and tuning ones
    .venv/bin/python bench/route_eval.py PATH [PATH ...]         # any local git repositories

Protocol (bench/route_cases.py): per repository, the newest `--limit` (100) qualifying commits (not a
merge, 1-5 changed `.py` files, a message of at least 20 characters); intent = the whole message;
truth = the modified or renamed non-test `.py` files that exist at the parent; corpus = the parent's
non-test `.py` files; the router sees the history its parent can reach (as in a checkout of the parent,
the newest 3,000 non-merge commits). Every ranking is packed by
one packer: greedily in rank order with `len(path + "\\n" + text) // 4` tokens per file, a file that
does not fit skipped. Reported per repository and pooled over the commits of all of them: all-found
(every changed file in the packed context) and recall at 4k/8k/16k/32k, Acc@1/3/5 (a changed file
among the first k), the oracle ceiling (the changed files fit the budget at all), and the same on
the commits whose message names none of the changed files. Baselines in the same run: random,
BM25 as this project had it, the strong BM25 (identifier splitting), a dense retriever
(bench/route_baselines.py). Rankings are cached per commit under `--cache`, keyed by the router's
source, so a rerun only ranks what changed.

The repositories are read from `--mirror` (`OWNER+NAME/repo`, as the search tool's fetch leaves
them), at the commits in PINNED. DESIGN were used to design the signals and learn the weights;
REPORT and REPORT2 were not, until the second round of design had seen their figures (they are a
validation set since); FINAL were chosen before that round and never looked at during it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "cli"))
sys.path.insert(0, str(ROOT / "bench"))

from route_baselines import Baselines  # noqa: E402
from route_cases import Case, Commit, commits, git, qualifying, read_blobs  # noqa: E402

from agentfiles.route.index import HISTORY_COMMITS  # noqa: E402
from agentfiles.route.corpus import Doc, History, analyze  # noqa: E402
from agentfiles.route.rank import pack, rank  # noqa: E402

DESIGN = ("pallets/click", "psf/requests", "pallets/flask", "encode/httpx", "python-attrs/attrs",
          "marshmallow-code/marshmallow", "pytest-dev/pluggy")
REPORT = ("pallets/werkzeug", "pallets/jinja", "encode/starlette", "benoitc/gunicorn", "Textualize/rich")
# Chosen after REPORT's figures were seen, and before any figure of these: a fresh check of changes
# made once REPORT had been looked at.
REPORT2 = ("encode/uvicorn", "sqlalchemy/alembic", "pypa/packaging", "tiangolo/typer")
# The final report set: chosen after REPORT and REPORT2 had been seen (and the router changed with
# knowledge of them), before any change of that second round was designed and before any figure of
# these. Rule, fixed before counting: from the candidates itsdangerous, markupsafe, tomlkit, mako, yarl,
# pytest-xdist, structlog, waitress, black, aiohttp, pyramid, every one with 100 qualifying commits
# whose cases' median corpus has at least 15 non-test .py files (itsdangerous 9, markupsafe 10 and
# tomlkit 14 did not). Read at the pinned commits, whatever the mirror's HEAD is.
FINAL = ("sqlalchemy/mako", "aio-libs/yarl", "pytest-dev/pytest-xdist", "hynek/structlog", "Pylons/waitress",
         "psf/black", "aio-libs/aiohttp", "Pylons/pyramid")
PINNED = {
    "sqlalchemy/mako": "222b76b6b92b4b35571635804c1a1bb225ffe350",
    "aio-libs/yarl": "7009e844cec7959e73741102ceadff49ed914291",
    "pytest-dev/pytest-xdist": "f63b6a25b4eb932385c6ee4651eac5c08fbd3a20",
    "hynek/structlog": "025edaf799c6d6d511ab672d14c2ba8e885c4c36",
    "Pylons/waitress": "4a378915f6fef264c6aaf03f059bd992287ba8ba",
    "psf/black": "8947c48ef2077c3a301b03c1e814dc2e3f78436e",
    "aio-libs/aiohttp": "495e778360d1924da63e16dba0f0d76baf56a56a",
    "Pylons/pyramid": "5b13e4a61b479be17c1d97ab504154595813a8f8",
    # the earlier sets, at the commits they were first read at
    "pallets/click": "2c8cd3ac958a7eb316d67f2d316c27086c4c0369",
    "psf/requests": "1f6589ec3a1ee910f9a65cc3ceac60b26677bc0e",
    "pallets/flask": "2ac89889f4cc330eabd50f295dcef02828522c69",
    "encode/httpx": "ae1b9f66238f75ced3ced5e4485408435de10768",
    "python-attrs/attrs": "c1dc5dcba16ed827aa6dcad896b41a3afedb4e32",
    "marshmallow-code/marshmallow": "341b927f219205704728c05cd61f04d7e9727523",
    "pytest-dev/pluggy": "e382e72789f8d791991c489d4322aa04e660b952",
    "pallets/werkzeug": "1b00618e787f40dfb21eba29caf8f8be7c8e1d93",
    "pallets/jinja": "5ef70112a1ff19c05324ff889dd30405b1002044",
    "encode/starlette": "cb8f84f5284dc301ca7a31eb732b9e140769dd48",
    "benoitc/gunicorn": "65ac1a3a4c0aa00960968c720d6e6bd2ac32f1b9",
    "Textualize/rich": "42899d8a0a96b121a514516f4be9db44ff7aeaf3",
    "encode/uvicorn": "e6c7ce791fc634b6eedee40e0d0207faa8a9aefd",
    "sqlalchemy/alembic": "20e58db01cad3432c24734e11b893303cdb687a4",
    "pypa/packaging": "053c884615f2e83d80705251b447769ec2599653",
    "tiangolo/typer": "233009a37d35249c1e430ee1db11ed9c06a9dcc3",
}
BUDGETS = (4000, 8000, 16000, 32000)
LEAD_OVER = "bm25-strong"


# In the keys of cached rankings and signals: changed whenever the replayed history changes. replay-3: the
# commits reachable from the parent, not every commit dated before the case (replay-2 leaked merged branches').
REPLAY = b"replay-3"


def router_key() -> str:
    """Changes whenever the router's code or the replay does: cached router rankings are then recomputed."""
    digest = hashlib.sha256(REPLAY)
    for path in sorted((ROOT / "cli/agentfiles/route").glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _add(past: History, commit: Commit) -> None:
    """A commit into the history as index.py reads it: modified files and renames, message cut at 500."""
    renames = [tuple(p.split("\t")) for s, p in commit.changed if s == "R"]
    past.add(commit.message[:500], [p for s, p in commit.changed if s == "M"], renames)  # type: ignore[arg-type]


class Repository:
    """One repository's cases, texts and cached rankings."""

    def __init__(self, name: str, path: Path, limit: int, cache: Path, rev: str | None = None) -> None:
        self.name, self.path = name, path
        self.head = git(path, "rev-parse", rev or PINNED.get(name, "HEAD")).decode().strip()
        self.history: list[Commit] = commits(path, self.head)
        self.cases: list[Case] = qualifying(name, path, self.history, limit)
        blobs = sorted({b for c in self.cases for b in c.corpus.values()})
        self.texts = read_blobs(path, blobs)
        self.cache = cache / name.replace("/", "+")
        self.cache.mkdir(parents=True, exist_ok=True)
        self.docs: dict[tuple[str, str], Doc] = {}
        self.vectors: dict[tuple[str, str], Any] = {}  # window vectors of (path, blob), for the dense signals

    def dense_scores(self, case: Case) -> dict[str, float] | None:
        """Each corpus file's best-window similarity to the message, as `agents route` computes it."""
        from agentfiles.route import dense

        if not dense.available():
            return None
        query = dense.embed([case.message])[0]
        out = {}
        for path, blob in case.corpus.items():
            if (path, blob) not in self.vectors:
                self.vectors[(path, blob)] = dense.file_vectors(path, self.texts[blob])
            out[path] = dense.similarity(query, self.vectors[(path, blob)])
        return out

    def corpus_docs(self, case: Case) -> dict[str, Doc]:
        docs = {}
        for path, blob in case.corpus.items():
            if (path, blob) not in self.docs:
                self.docs[(path, blob)] = analyze(path, self.texts[blob])
            docs[path] = self.docs[(path, blob)]
        return docs

    def cached(self, method: str, key: str, compute: Callable[[], dict[str, list[str]]]) -> dict[str, list[str]]:
        file = self.cache / f"{method}-{key}.json"
        try:
            found = json.loads(file.read_text())
            if set(found) >= {c.sha for c in self.cases}:
                return found  # type: ignore[no-any-return]
        except (OSError, ValueError):
            pass
        orders = compute()
        file.write_text(json.dumps(orders))
        return orders

    def replay(self) -> Iterator[tuple[Case, History]]:
        """Each case with the history `agents route` reads in a checkout of its parent (index.py's _log):
        the newest HISTORY_COMMITS non-merge commits reachable from the parent, in git log's order,
        messages cut at 500 characters. Not every commit dated before the case: in a repository that
        merges branches, those include commits its parent cannot reach (a backport's original on the
        other branch, with the same message and files: the answer). The history is extended from the
        previous case's when that is a prefix of this one's, rebuilt otherwise."""
        by_sha = {c.sha: c for c in self.history}
        past, shown = History(), []
        for case in self.cases:
            parent = self.history[case.index].parent
            reach = git(self.path, "rev-list", "--no-merges", f"--max-count={HISTORY_COMMITS}", parent).decode().split()
            reach.reverse()  # oldest first, as index.py adds them
            if reach[: len(shown)] != shown:
                past, shown = History(), []
            for sha in reach[len(shown) :]:
                _add(past, by_sha[sha])
            shown = reach
            yield case, past

    def route(self) -> dict[str, list[str]]:
        """The router's ranking of every case."""
        out: dict[str, list[str]] = {}
        for case, past in self.replay():
            docs = self.corpus_docs(case)
            order = [r.path for r in rank(docs, case.message, past, dense=self.dense_scores(case))]
            seen = set(order)
            out[case.sha] = order + sorted(p for p in docs if p not in seen)  # unmatched last
        return out

    def rankings(self, methods: list[str]) -> dict[str, dict[str, list[str]]]:
        baselines = Baselines(self.texts, self.vectors)
        available = baselines.methods()
        out = {}
        for method in methods:
            if method == "route":
                out[method] = self.cached("route", router_key(), self.route)
            elif method in available:
                rank_one = available[method]
                out[method] = self.cached(method, "v1", lambda: {c.sha: rank_one(c) for c in self.cases})
        return out


# ------------------------------------------------------------------------------------------ metrics


def packed(order: list[str], sizes: dict[str, int], budget: int) -> set[str]:
    from agentfiles.route.rank import Ranked

    return {pick.ranked.path for pick in pack([Ranked(p, 1.0, sizes[p], sizes[p], []) for p in order], budget)}


def rows_of(repo: Repository, orders: dict[str, list[str]]) -> list[dict[str, Any]]:
    rows = []
    for case in repo.cases:
        sizes = case.sizes(repo.texts)
        rows.append({"case": case, "order": orders[case.sha], "sizes": sizes})
    return rows


def metrics(rows: list[dict[str, Any]]) -> dict[str, float]:
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
        out[f"all@{k}"], out[f"recall@{k}"], out[f"oracle@{k}"] = found_all / n, recall / n, oracle / n
    for k in (1, 3, 5):
        out[f"acc@{k}"] = sum(bool(set(r["order"][:k]) & set(r["case"].truth)) for r in rows) / n
    return out


COLUMNS = [f"all@{b // 1000}k" for b in BUDGETS] + [f"recall@{b // 1000}k" for b in BUDGETS] + ["acc@1", "acc@3", "acc@5"]


def table(results: dict[str, dict[str, float]]) -> str:
    lines = ["| method | commits | " + " | ".join(COLUMNS) + " |", "|---|---:|" + "---:|" * len(COLUMNS)]
    for name, m in results.items():
        lines.append(f"| {name} | {int(m['commits'])} | " + " | ".join(f"{m[c] * 100:.1f}" for c in COLUMNS) + " |")
    first = next(iter(results.values()), None)
    if first:
        cells = [f"{first[c.replace('all', 'oracle')] * 100:.1f}" if c.startswith("all") else "" for c in COLUMNS]
        lines.append("| oracle | | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def report(label: str, rows: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    overall = {m: metrics(r) for m, r in rows.items()}
    subset = {m: metrics([x for x in r if x["case"].names_none]) for m, r in rows.items()}
    return {"label": label, "overall": overall, "names_none": subset}


def lead_line(figures: dict[str, Any]) -> str:
    overall = figures["overall"]
    route, base = overall["route"]["all@16k"] * 100, overall[LEAD_OVER]["all@16k"] * 100
    return f"all@16k route {route:.1f}, {LEAD_OVER} {base:.1f}: {route - base:+.1f} points"


def resolve(spec: str, mirror: Path) -> tuple[str, Path]:
    if Path(spec).is_dir():
        return Path(spec).resolve().name if Path(spec).name != "repo" else Path(spec).resolve().parent.name, Path(spec)
    return spec, mirror / spec.replace("/", "+") / "repo"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("repos", nargs="*", help="local git repositories, or OWNER/NAME found under --mirror")
    parser.add_argument("--set", choices=("design", "report", "report2", "unseen", "final", "all"), help="the design or report repositories")
    parser.add_argument("--mirror", type=Path, default=Path("/work/.mirror"))
    parser.add_argument("--limit", type=int, default=100, help="the newest N qualifying commits per repository")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/agentfiles-route-eval"))
    parser.add_argument("--methods", default="route,random,bm25,bm25-strong,dense")
    parser.add_argument("--json", type=Path, help="also write every figure to this JSON file")
    args = parser.parse_args()
    specs = list(args.repos) + list({"design": DESIGN, "report": REPORT, "report2": REPORT2,
                                  "unseen": REPORT + REPORT2, "final": FINAL,
                                  "all": DESIGN + REPORT + REPORT2 + FINAL}.get(args.set or "", ()))
    if not specs:
        parser.error("give repositories or --set")
    methods = args.methods.split(",")
    started = time.monotonic()
    pooled: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    per_repo = []
    for spec in specs:
        name, path = resolve(spec, args.mirror)
        repo = Repository(name, path, args.limit, args.cache)
        if len(repo.cases) < 4:
            print(f"route_eval: only {len(repo.cases)} qualifying commits in {path}; skipped", file=sys.stderr)
            continue
        rankings = repo.rankings(methods)
        rows = {m: rows_of(repo, o) for m, o in rankings.items()}
        for m, r in rows.items():
            pooled[m].extend(r)
        figures = report(name, rows)
        figures.update(head=repo.head, qualifying=len(repo.cases), commits=len(repo.history))
        per_repo.append(figures)
        print(f"## {name} at {repo.head[:12]} ({len(repo.history)} non-merge commits; newest {len(repo.cases)} qualifying)\n")
        print(table(figures["overall"]) + "\n")
        print(f"Whose message names none of the changed files ({int(figures['names_none']['route']['commits'])}):\n")
        print(table(figures["names_none"]) + "\n")
        if "route" in rows and LEAD_OVER in rows:
            print(lead_line(figures) + "\n", flush=True)
    pooled = {m: r for m, r in pooled.items() if r}
    summary = report("pooled", pooled)
    print(f"## Pooled over {len(per_repo)} repositories\n\n" + table(summary["overall"]) + "\n")
    print("Whose message names none of the changed files:\n\n" + table(summary["names_none"]) + "\n")
    if "route" in pooled and LEAD_OVER in pooled:
        print("| repository | commits | route all@16k | " + LEAD_OVER + " all@16k | lead | route acc@5 | oracle@16k |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for f in per_repo + [summary]:
            o = f["overall"]
            print(f"| {f['label']} | {int(o['route']['commits'])} | {o['route']['all@16k'] * 100:.1f} | "
                  f"{o[LEAD_OVER]['all@16k'] * 100:.1f} | {(o['route']['all@16k'] - o[LEAD_OVER]['all@16k']) * 100:+.1f} | "
                  f"{o['route']['acc@5'] * 100:.1f} | {o['route']['oracle@16k'] * 100:.1f} |")
        print("\n" + lead_line(summary))
    print(f"\n{time.monotonic() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"repositories": per_repo, "pooled": summary}, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
