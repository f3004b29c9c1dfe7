"""`agents route TASK --write` keeps what must stay (the outputs of the tasks it needs, its handoffs, what
was declared by hand unless --replace), and `agents validate` warns when a task reads nothing that a task
it needs produces. Real repositories in temporary folders, through the CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import git, task_text, write_files

from agentfiles.storage.documents import parse_document

SHOP = {
    "shop/cart.py": "from shop.prices import total_price\n\nclass Cart:\n    def add_item(self, item):\n        self.items.append(item)\n",
    "shop/prices.py": "def total_price(items):\n    return sum(i.price for i in items)\n\ndef apply_discount(price, rate):\n    return price * (1 - rate)\n",
    "shop/shipping.py": "def shipping_cost(weight):\n    return 5 + weight * 0.5\n",
    "docs/guide.md": "# Guide\n\nHow to use the shop.\n",
}


def inputs_of(root: Path, task: str) -> list[str]:
    data = parse_document((root / ".agents/tasks" / f"{task}.md").read_text()).meta
    return [i if isinstance(i, str) else i.get("path") or f"handoff:{i['handoff']}" for i in data.get("inputs") or []]


@pytest.fixture
def pipeline(project: Path) -> Path:
    """`count` counts the shop's lines into build/count.txt; `discount` needs it and reads that count."""
    write_files(project, {
        **SHOP,
        ".agents/tasks/count.md": task_text("Count the lines", run="wc -l shop/*.py > build/count.txt",
                                            inputs=["shop/*.py"], outputs=["build/count.txt"]),
        ".agents/tasks/discount.md": task_text(
            "Apply discounts", role="developer", needs=["count"], outputs=["docs/discounts.md"],
            inputs=["build/count.txt", {"handoff": "count"}, "docs/guide.md"],
            acceptance=["the line count in build/count.txt stays under 100"],
            body="## Intent\n\nLet the cart apply a discount rate to prices.\n"),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "A shop and two tasks")
    return project


def test_write_keeps_the_outputs_of_needed_tasks_and_handoffs(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(pipeline), "route", "discount", "--write", "--replace")
    assert result.code == 0, result.err
    inputs = inputs_of(pipeline, "discount")
    assert "build/count.txt" in inputs and "handoff:count" in inputs  # kept although build/count.txt does not exist yet
    assert "docs/guide.md" not in inputs  # --replace: what was declared by hand goes
    assert "shop/prices.py" in inputs
    assert agents("-C", str(pipeline), "validate").code == 0


def test_write_keeps_what_was_declared_by_hand_and_replaces_its_own(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(pipeline), "route", "discount", "--write").code == 0
    first = inputs_of(pipeline, "discount")
    assert {"build/count.txt", "handoff:count", "docs/guide.md", "shop/prices.py"} <= set(first)
    text = (pipeline / ".agents/tasks/discount.md").read_text()
    assert "- shop/prices.py  # routed" in text and "- docs/guide.md  # routed" not in text
    other = agents("-C", str(pipeline), "route", "discount", "--write", "--budget", "60")
    assert other.code == 0, other.err
    second = inputs_of(pipeline, "discount")
    assert {"build/count.txt", "handoff:count", "docs/guide.md"} <= set(second)  # by hand: stays
    assert len(second) == len(set(second))  # nothing listed twice
    assert len(second) < len(first)  # its own earlier proposal was replaced by the smaller one


def test_validate_warns_when_a_task_reads_nothing_a_needed_task_produces(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    clean = agents("-C", str(pipeline), "validate")
    assert clean.code == 0 and "reads none of its outputs" not in clean.out + clean.err
    path = pipeline / ".agents/tasks/discount.md"
    path.write_text(path.read_text().replace("- build/count.txt\n", ""))
    warned = agents("-C", str(pipeline), "validate")
    assert warned.code == 0, warned.err
    shown = warned.out + warned.err
    assert "needs 'count' but reads none of its outputs (build/count.txt)" in shown
    assert "discount.md" in shown


def test_write_does_not_propose_a_file_a_kept_input_already_covers(pipeline: Path, agents) -> None:  # type: ignore[no-untyped-def]
    # a kept glob gives the step every file it matches: proposing one of them again spent its tokens twice
    write_files(pipeline, {"tests/test_prices.py": "from shop.prices import apply_discount\n\n"
                                                   "def test_discount_rate():\n    assert apply_discount(10, 0.5) == 5\n"})
    text = (pipeline / ".agents/tasks/discount.md").read_text().replace("- docs/guide.md", "- docs/guide.md\n- tests/**")
    write_files(pipeline, {".agents/tasks/discount.md": text.replace("Let the cart", "Test that the cart can")})
    git(pipeline, "add", "-A")
    git(pipeline, "commit", "-qm", "tests of the prices")
    assert "tests/**" in inputs_of(pipeline, "discount")
    shown = agents("-C", str(pipeline), "route", "discount", "--json")
    assert shown.code == 0, shown.err
    assert "shop/prices.py" in [f["path"] for f in shown.json["files"]]
    assert "tests/test_prices.py" not in [f["path"] for f in shown.json["files"]]
    assert agents("-C", str(pipeline), "route", "discount", "--write").code == 0
    inputs = inputs_of(pipeline, "discount")
    assert "tests/**" in inputs and "tests/test_prices.py" not in inputs and "shop/prices.py" in inputs
    replaced = agents("-C", str(pipeline), "route", "discount", "--json", "--replace", "--write")
    assert "tests/test_prices.py" in [f["path"] for f in replaced.json["files"]]  # tests/** is no longer kept
