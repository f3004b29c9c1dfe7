"""`agents route` and bench/route_eval.py on real git repositories built in temporary folders."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT, git, make_repo, task_text, write_files

from agentfiles.route.propose import inputs_block, rewrite_inputs
from agentfiles.route.corpus import History, analyze
from agentfiles.route.rank import Pick, Ranked, pack, rank
from agentfiles.route.text import python_imports, words

FILES = {
    "shop/cart.py": "from shop.prices import total_price\n\nclass Cart:\n    def add_item(self, item):\n        self.items.append(item)\n",
    "shop/prices.py": "def total_price(items):\n    return sum(i.price for i in items)\n\ndef apply_discount(price, rate):\n    return price * (1 - rate)\n",
    "shop/shipping.py": "def shipping_cost(weight):\n    return 5 + weight * 0.5\n",
    "docs/guide.md": "# Guide\n\nHow to use the shop.\n",
    "tests/test_prices.py": "from shop.prices import apply_discount\n\ndef test_discount():\n    assert apply_discount(10, 0.5) == 5\n",
}


def commit(root: Path, files: dict[str, str], message: str) -> None:
    write_files(root, files)
    git(root, "add", "-A")
    git(root, "commit", "-qm", message)


@pytest.fixture
def shop(project: Path) -> Path:
    commit(project, FILES, "Start the shop with a cart, prices and shipping")
    commit(project, {"shop/prices.py": FILES["shop/prices.py"] + "\n# rounding\n",
                     "shop/cart.py": FILES["shop/cart.py"] + "\n# totals\n"}, "Round discounted prices in the cart total")
    return project


def test_words_split_identifiers_and_drop_stop_words() -> None:
    assert words("applyDiscount to the total_price") == ["applydiscount", "apply", "discount", "total", "pric"]
    assert {words(w)[0] for w in ("prices", "price", "pricing")} == {"pric"}
    assert {words(w)[0] for w in ("parse", "parsing", "parser", "parsed")} == {"pars"}
    assert python_imports("from .prices import total_price\nimport os, sys\n") == [".prices", ".prices.total_price", "os", "sys"]


def test_rank_explains_and_pack_respects_the_budget() -> None:
    docs = {p: analyze(p, t) for p, t in FILES.items()}
    history = History()
    history.add("Discount rates for prices", ["shop/prices.py", "shop/cart.py"])
    ranked = rank(docs, "apply a discount rate to prices", history)
    assert ranked[0].path == "shop/prices.py"
    assert any("mentions" in w for w in ranked[0].why) and any("path names prices" in w for w in ranked[0].why)
    assert not any("pric," in w or w.endswith("pric") for w in ranked[0].why)  # the intent's words, not their stems
    cart = next(r for r in ranked if r.path == "shop/cart.py")
    assert any("changed together with shop/prices.py" in w or "import neighbour" in w for w in cart.why)
    assert all(r.path != "shop/shipping.py" for r in ranked)  # nothing in common with the intent
    picks = pack(ranked, ranked[0].tokens + 1)
    assert [p.ranked.path for p in picks][0] == "shop/prices.py" and sum(p.tokens for p in picks) <= ranked[0].tokens + 1


def test_pack_takes_an_outline_when_the_full_file_does_not_fit() -> None:
    items = [Ranked("big.py", 1.0, 1000, 100, ["x"]), Ranked("small.py", 0.5, 50, 50, ["y"])]
    assert [(p.ranked.path, p.view) for p in pack(items, 200, outlines=True)] == [("big.py", "outline"), ("small.py", "full")]
    assert [(p.ranked.path, p.view) for p in pack(items, 200)] == [("small.py", "full")]


def test_route_intent_json_in_a_repository(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(shop), "route", "--intent", "apply a discount to prices", "--budget", "8000", "--json")
    assert result.code == 0, result.err
    data = result.json
    assert data["kind"] == "route" and data["budget"] == 8000
    paths = [f["path"] for f in data["files"]]
    assert paths[0] == "shop/prices.py" and "shop/shipping.py" not in paths
    assert sum(f["tokens"] for f in data["files"]) <= 8000 == data["budget"]
    assert all(f["why"] and f["score"] > 0 for f in data["files"])
    assert not any(p.startswith(".agents/") or p.endswith("CLAUDE.md") for p in paths)


def test_the_index_follows_edits_without_a_commit(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    first = agents("-C", str(shop), "route", "--intent", "parcel weight tariff", "--json").json
    assert [f["path"] for f in first["files"]][:1] == ["shop/shipping.py"]
    (shop / "docs/guide.md").write_text("# Guide\n\nThe parcel tariff by weight, explained.\n" * 3)
    second = agents("-C", str(shop), "route", "--intent", "parcel weight tariff", "--json").json
    assert "docs/guide.md" in [f["path"] for f in second["files"]]
    assert (shop / ".agents/cache/route/docs.json").is_file()


def test_route_write_puts_the_proposal_into_a_task(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    text = task_text("Apply discounts", role="developer", outputs=["shop/prices.py"],
                     inputs=[{"handoff": "design"}, "docs/guide.md"], needs=["design"],
                     body="## Intent\n\nLet the cart apply a discount rate to prices.\n")
    text = text.replace("title:", "# chosen by a person\ntitle:", 1)
    write_files(shop, {".agents/tasks/discount.md": text,
                       ".agents/tasks/design.md": task_text("Design", role="planner", outputs=["docs/design.md"])})
    result = agents("-C", str(shop), "route", "discount", "--write")
    assert result.code == 0, result.err
    written = (shop / ".agents/tasks/discount.md").read_text()
    assert "# chosen by a person" in written and "- shop/prices.py  # routed" in written and "handoff: design" in written
    assert "docs/guide.md" not in written.split("---")[1] or "guide" in written
    assert agents("-C", str(shop), "validate").code == 0
    json_out = agents("-C", str(shop), "route", "discount", "--json").json
    assert 30000 < json_out["budget"] < 40000  # what the role's 40000 leaves once prompt and brief are counted


def test_rewrite_inputs_keeps_the_key_comment_and_the_other_lines() -> None:
    text = "---\ntitle: T\ninputs:   # read these\n  - a.py\n  - {handoff: x}\n# next\noutputs: [a.md]\n---\nbody\n"
    picks = [Pick(Ranked("b.py", 1.0, 10, 5, []), "full")]
    assert rewrite_inputs(text, inputs_block(picks, ["  - handoff: x"])) == (
        "---\ntitle: T\ninputs:   # read these\n  - handoff: x\n  - b.py  # routed\n# next\noutputs: [a.md]\n---\nbody\n")


def test_an_empty_proposal_writes_an_empty_list(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/d.md": task_text("Describe", role="developer", inputs=["CLAUDE.md"],
                                                          outputs=["docs/d.md"])})
    result = agents("-C", str(project), "route", "d", "--write", "--replace", "--budget", "1")
    assert result.code == 0, result.err
    assert "inputs: []" in (project / ".agents/tasks/d.md").read_text()
    assert agents("-C", str(project), "validate").code == 0


def test_rewrite_inputs_without_an_inputs_key() -> None:
    text = "---\ntitle: T\nrole: developer\noutputs: [a.md]\n---\nbody\n"
    picks = [Pick(Ranked("b c.py", 1.0, 10, 5, []), "outline")]
    assert rewrite_inputs(text, inputs_block(picks, [])) == (
        "---\ntitle: T\nrole: developer\ninputs:\n  - {path: \"b c.py\", view: outline}  # routed\noutputs: [a.md]\n---\nbody\n")


def test_route_usage_errors(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    both = agents("-C", str(shop), "route")
    assert both.code == 2 and "give a TASK or --intent TEXT" in both.err
    write = agents("-C", str(shop), "route", "--intent", "x", "--write")
    assert write.code == 2 and "--write needs a TASK" in write.err
    unknown = agents("-C", str(shop), "route", "nosuch")
    assert unknown.code == 2 and "unknown task: nosuch" in unknown.err


def test_a_blank_intent_is_a_usage_error(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    # '' said 'No file matches' and exited 0; '   ' proposed files by the embeddings alone ('weak match')
    for blank in ("", "   ", "\n\t"):
        done = agents("-C", str(shop), "route", "--intent", blank)
        assert done.code == 2, (blank, done.out)
        assert "error: the intent is empty" in done.err and "hint:" in done.err
        assert "Traceback" not in done.err
        assert "file(s)" not in done.out
        as_json = agents("-C", str(shop), "route", "--intent", blank, "--json")
        assert as_json.code == 2 and json.loads(as_json.out)["error"]["message"] == "the intent is empty"


def test_route_eval_prints_the_table_for_a_repository(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "hist", FILES)
    changes = [
        ("shop/prices.py", "Make the discount rate a keyword argument"),
        ("shop/shipping.py", "Charge parcel shipping by weight bands"),
        ("shop/cart.py", "Let the cart remove an item it holds"),
        ("shop/prices.py", "Round total prices to whole cents"),
        ("tests/test_prices.py", "Test the rounding of total prices"),  # only a test: not a task
        ("shop/shipping.py", "Free shipping for light parcels"),
        ("shop/cart.py", "Count the items in the cart"),
    ]
    for number, (path, message) in enumerate(changes):
        (repo / path).write_text((repo / path).read_text() + f"\n# change {number}\n")
        git(repo, "commit", "-qam", message)
    done = subprocess.run([sys.executable, str(ROOT / "bench/route_eval.py"), str(repo), "--limit", "4",
                           "--methods", "route,random,bm25,bm25-strong", "--cache", str(tmp_path / "cache")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    for method in ("route", "random", "bm25", "bm25-strong"):
        assert f"| {method} | 4 |" in done.stdout
    assert "| pooled | 4 |" in done.stdout and "all@16k route" in done.stdout
    assert list((tmp_path / "cache").glob("*/route-*.json"))  # rankings cached per commit


def test_route_write_fits_the_task_budget_as_the_runner_counts_it(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    big = "\n".join(f"def price_rule_{n}(price):\n    return price * {n}  # discount price rule\n" for n in range(400))
    write_files(shop, {"shop/rules.py": big, "shop/more.py": big.replace("rule", "tier"),
                       ".agents/tasks/t.md": task_text("Discount prices", role="developer", outputs=["shop/prices.py"],
                                                       budget={"context_tokens": 9000})})
    commit(shop, {}, "Pricing rules") if git(shop, "status", "--porcelain") else None
    assert agents("-C", str(shop), "route", "t", "--write").code == 0
    preview = agents("-C", str(shop), "run", "t", "--dry-run", "--json").json["previews"][0]
    assert preview["tokens"] <= 9000, preview["tokens"]
    tiny = task_text("Tiny", role="developer", outputs=["x.md"], budget={"context_tokens": 50})
    write_files(shop, {".agents/tasks/tiny.md": tiny})
    refused = agents("-C", str(shop), "route", "tiny")
    assert refused.code == 2 and "budget is used up before any input" in refused.err


def test_route_refuses_to_write_a_command_steps_inputs(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(shop, {".agents/tasks/cmd.md": task_text("Count", run="wc -l shop/*.py > n.txt", inputs=["shop/*.py"],
                                                         outputs=["n.txt"])})
    result = agents("-C", str(shop), "route", "cmd", "--write")
    assert result.code == 2 and "is a command step" in result.err
    assert "shop/*.py" in (shop / ".agents/tasks/cmd.md").read_text()


def test_route_intent_works_in_any_git_repository(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    repo = make_repo(tmp_path / "plain", FILES)
    result = agents("-C", str(repo), "route", "--intent", "parcel shipping weight", "--json")
    assert result.code == 0, result.err
    assert result.json["files"][0]["path"] == "shop/shipping.py"
    assert not (repo / ".agents").exists() and (repo / ".git/agents-route-cache/docs.json").is_file()


def test_route_works_without_the_optional_embeddings(shop: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentfiles.route import dense
    from agentfiles.route.propose import propose

    with_dense = propose(shop, "apply a discount to prices", 8000)
    assert dense.available() and "dense" in with_dense.picks[0].ranked.signals
    monkeypatch.setattr(dense, "available", lambda: False)  # as without `pip install agentfiles[embed]`
    without = propose(shop, "apply a discount to prices", 8000)
    assert without.picks[0].ranked.path == "shop/prices.py"
    assert all("dense" not in p.ranked.signals for p in without.picks) and without.picks[0].ranked.why


def test_past_commit_messages_describe_the_files_they_changed() -> None:
    docs = {"net/client.py": analyze("net/client.py", "def send(request):\n    return request\n"),
            "net/codec.py": analyze("net/codec.py", "def encode(value):\n    return value\n")}
    history = History()
    history.add("Retry the request when the connection times out", ["net/client.py"])
    history.add("Encode header values as latin-1", ["net/codec.py"])
    ranked = rank(docs, "connection timeout: retry again", history)  # no word of it in either file
    assert [r.path for r in ranked] == ["net/client.py"]
    assert "past commits that changed it speak of the same things" in ranked[0].why


def test_a_name_the_intent_writes_out_points_to_the_file_defining_it() -> None:
    docs = {"term/pager.py": analyze("term/pager.py", "# the pager shows output in a pager\ndef show(text):\n    pass\n"),
            "term/util.py": analyze("term/util.py", "def get_pager_file(color):\n    return None\n")}
    ranked = rank(docs, "Fix get_pager_file when colour is off")
    assert ranked[0].path == "term/util.py" and "defines a name the intent writes out" in ranked[0].why
    assert ranked[0].signals["defines"] == 1.0 and "defines" not in ranked[1].signals


def test_the_intents_first_line_is_matched_on_its_own() -> None:
    docs = {"mail/smtp.py": analyze("mail/smtp.py", "def send_mail(host):\n    return host\n"),
            "views/render.py": analyze("views/render.py", "def render(template):\n    return template  # html body\n")}
    intent = "Send mail through the smtp host\n\nThe html template body was rendered twice; render it once."
    ranked = rank(docs, intent)
    assert ranked[0].path == "mail/smtp.py"
    assert ranked[0].signals["subject"] == 1.0 and "subject" not in ranked[1].signals  # the body names render


def test_past_commits_close_in_meaning_vote_for_the_files_they_changed() -> None:
    from agentfiles.route import dense

    docs = {"net/client.py": analyze("net/client.py", "def send(request):\n    return request\n"),
            "net/codec.py": analyze("net/codec.py", "def encode(value):\n    return value\n")}
    history = History()
    history.add("Retry the request when the connection times out", ["net/client.py"])
    history.add("Encode header values as latin-1", ["net/codec.py"])
    assert dense.available() and len(history.message_vectors()) == 2
    history.add("Document the codec", ["net/codec.py"])
    assert len(history.message_vectors()) == 3  # grown by the new message only
    similarity = {path: 0.1 for path in docs}
    ranked = {r.path: r for r in rank(docs, "reconnect after network failures", history, dense=similarity)}
    assert ranked["net/client.py"].signals["similar_dense"] == 1.0
    assert ranked["net/codec.py"].signals.get("similar_dense", 0.0) < 1.0
    without = {r.path: r for r in rank(docs, "reconnect after network failures", history)}
    assert all("similar_dense" not in r.signals for r in without.values())  # only with the embeddings


def test_an_intent_without_a_word_to_match_is_a_usage_error(shop: Path, agents) -> None:  # type: ignore[no-untyped-def]
    # stop words and punctuation only: the files were proposed by the embeddings alone ('weak match'),
    # which docs/routing.md says is never a reason to propose a file
    for wordless in ("the a of to", "!!!???", "to be or not"):
        done = agents("-C", str(shop), "route", "--intent", wordless)
        assert done.code == 2, (wordless, done.out)
        assert "error: the intent has no word to match" in done.err and "hint:" in done.err
        assert "Traceback" not in done.err and "file(s)" not in done.out
    assert agents("-C", str(shop), "route", "--intent", "the prices of the cart").code == 0
    write_files(shop, {".agents/tasks/t.md": task_text("To do", role="developer", outputs=["x.md"], body="- the\n- a\n")})
    task = agents("-C", str(shop), "route", "t")
    assert task.code == 2 and "error: the task's title and body have no word to match" in task.err
