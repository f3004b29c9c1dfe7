"""The HTML report seen in a real browser: headless Chromium (Debian's `chromium`) opens the pages of a
report of real runs (command steps, and model steps against the local Messages API: one passed, one
rejected by its verifier after a retry, one failed) with the network cut off, and the tests check what a
person would see, which requests the pages made and what they logged. A screenshot of the overview is
kept (its path is printed at the end of the test run)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest

from browser import ARTIFACTS, Browser, Page, chromium
from conftest import configure, git, isolate, make_repo, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply

if chromium() is None:
    reason = "no chromium on this machine (.ci/run installs Debian's `chromium`)"
    if os.environ.get("AGENTS_REQUIRE_BROWSER") == "1":
        raise RuntimeError(reason + ", and AGENTS_REQUIRE_BROWSER=1 asks for the browser tests")
    pytest.skip(reason, allow_module_level=True)

CRITERIA = ["Greets the user by name", "Prints exactly one line"]
TASKS = ["count", "pages", "broken", "draft", "hello", "summary"]


def run(*args: str) -> int:
    from agentfiles.commands.app import run as cli

    return cli(list(args))


def verdict(*verdicts: tuple[str, str]) -> Reply:
    checks = [{"criterion": str(n), "verdict": v, "evidence": e} for n, (v, e) in enumerate(verdicts, 1)]
    return Reply.tool_use("verdict", {"checks": checks}, usage={"input_tokens": 40, "output_tokens": 8})


def write(path: str, content: str) -> Reply:
    return Reply.tool_use("write_file", {"path": path, "content": content}, usage={"input_tokens": 120, "output_tokens": 30})


def finish(summary: str) -> Reply:
    return Reply.tool_use("finish", {"summary": summary}, usage={"input_tokens": 150, "output_tokens": 12})


def build_project(root: Path, api: FakeAnthropic) -> Path:
    """Six tasks run for real: two command steps (one run twice), a foreach task, a failing command
    step, a model step the API refused halfway, a model step rejected by its verifier after a retry,
    and a model step that passed."""
    make_repo(root)
    assert run("-C", str(root), "init") == 0
    (root / ".agents/tasks/describe-project.md").unlink()
    configure(root, api)
    write_files(root, {
        "data/notes.txt": "one two three\n",
        "data/spec.md": "Write a program that greets the user by name.\n",
        "docs/a.md": "# A\n", "docs/b.md": "# B\n",
        ".agents/tasks/count.md": task_text("Count the words", run="wc -w < data/notes.txt > build/count.txt",
                                            inputs=["data/notes.txt"], outputs=["build/count.txt"],
                                            acceptance=[{"run": "test -s build/count.txt"}]),
        ".agents/tasks/pages.md": task_text("Copy {name}", run="cp {item} out/{stem}.txt", foreach="docs/*.md",
                                            inputs=["{item}"], outputs=["out/{stem}.txt"]),
        ".agents/tasks/broken.md": task_text("Parse the notes", run="echo 'BROKEN-STDERR: cannot parse the notes' >&2; exit 3",
                                             inputs=["data/notes.txt"], outputs=["build/parsed.txt"]),
        ".agents/tasks/hello.md": task_text("Write hello", role="developer", inputs=["data/spec.md"], outputs=["src/hello.py"],
                                            acceptance=CRITERIA, verifier="reviewer", retries=1,
                                            body="## Intent\n\nA greeting program.\n"),
        ".agents/tasks/draft.md": task_text("Draft the notes", role="developer", inputs=["data/notes.txt"],
                                            outputs=["draft.md"], acceptance=["Lists every note"]),
        ".agents/tasks/summary.md": task_text("Summarise the count", role="developer", needs=["count"],
                                              inputs=["build/count.txt", {"handoff": "count"}], outputs=["summary.md"],
                                              acceptance=["States the number of words"], verifier="reviewer"),
    })
    git(root, "add", "-A")
    git(root, "commit", "-qm", "tasks")
    assert run("-C", str(root), "run", "count", "pages") == 0
    assert run("-C", str(root), "run", "broken") == 1
    api.queue(write("src/hello.py", "print('hello')\n"), finish("First try."),
              verdict(("fail", "EVIDENCE-ONE: it never asks for a name"), ("pass", "one print call")),
              write("src/hello.py", "print('hello, world')\n"), finish("Second try."),
              verdict(("fail", "EVIDENCE-TWO: still no name"), ("pass", "one line")))
    assert run("-C", str(root), "run", "hello") == 1
    api.queue(write("draft.md", "- one\n"), Reply.error(400, "API-REFUSAL: the request is malformed"))
    assert run("-C", str(root), "run", "draft") == 1
    api.queue(write("summary.md", "The notes have 3 words.\n"), finish("SUMMARY-HANDOFF: wrote the summary."),
              verdict(("pass", "says 3 words")))
    assert run("-C", str(root), "run", "summary") == 0
    assert run("-C", str(root), "approve", "count") == 0
    (root / "data/notes.txt").write_text("one two three four\n")
    git(root, "commit", "-qam", "more notes")
    assert run("-C", str(root), "run", "count") == 0  # a second run: summary is stale now
    assert run("-C", str(root), "approve", "summary") == 0
    assert run("-C", str(root), "reject", "pages@docs--b.md", "--reason", "REVIEW-REASON: copy the title too") == 0
    return root


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The report of build_project's repository."""
    with pytest.MonkeyPatch.context() as monkeypatch, FakeAnthropic() as api:
        isolate(monkeypatch, tmp_path_factory)
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-report")
        root = build_project(tmp_path_factory.mktemp("report") / "repo", api)
        out = root.parent / "site"
        assert run("-C", str(root), "report", "--out", str(out)) == 0
        yield out


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser.start(tmp_path_factory.mktemp("chromium")) as started:
        yield started


def open_page(browser: Browser, site: Path, rel: str, **options: object) -> Page:
    page = browser.open((site / rel).as_uri(), **options)
    assert page.errors == [], page.errors
    outside = [u for u in page.requests if not u.startswith("file://")]
    assert outside == [], f"requests that left the file system: {outside}"
    return page


def text(page: Page, selector: str = "body") -> str:
    return page.evaluate(f"Array.from(document.querySelectorAll({json.dumps(selector)})).map(e => e.innerText).join('\\n')")


def run_page(site: Path, task: str, index: int = 0) -> str:
    """The page of a task's run, `index` 0 for the newest."""
    pages = sorted((site / "runs" / task).glob("*.html"), reverse=True)
    return pages[index].relative_to(site).as_posix()


def test_the_overview_draws_one_node_per_task_and_lists_every_step(site: Path, browser: Browser, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    page = open_page(browser, site, "index.html")
    page.viewport(1280, 1000)
    nodes = page.evaluate("Array.from(document.querySelectorAll('svg.graph a.node')).map(n => n.getAttribute('data-task'))")
    assert sorted(nodes) == sorted(TASKS)
    sizes = page.evaluate("Array.from(document.querySelectorAll('svg.graph a.node rect')).map(r => r.getBoundingClientRect().width)")
    assert len(sizes) == len(TASKS) and min(sizes) > 50  # drawn, not just present
    assert page.evaluate("document.querySelectorAll('svg.graph path.edge').length") >= 1  # summary needs count
    states = page.evaluate("Object.fromEntries(Array.from(document.querySelectorAll('svg.graph a.node'))"
                           ".map(n => [n.getAttribute('data-task'), n.getAttribute('class')]))")
    assert "state-failed" in states["broken"] and "state-rejected" in states["hello"] and "state-stale" in states["summary"]
    # Counted as `agents status` counts them (each item of the foreach task `pages` a task), and said so.
    assert text(page, ".lede").startswith("8 tasks, 8 runs · ")
    assert ("6 task files (the graph's nodes) and the 2 items of the foreach task pages, each run as a task of its own"
            in text(page, "main > p.note"))
    assert text(page, "#steps h2") == "Tasks (8)"
    steps = text(page, "table.steps-table")
    for step in [*TASKS, "pages@docs--a.md", "pages@docs--b.md"]:
        assert step in steps
    assert "verifier pass: 1 of 1 criterion passed" in steps and "verifier fail: 1 of 2 criteria passed" in steps
    assert "1 of 1 check passed" in steps
    assert "$0.0" in steps  # a cost per step
    assert "+1 −0" in steps  # and the size of its diff (hello's proposal, which did not land)
    shot = page.screenshot(tmp_path_factory.getbasetemp() / "report-screens" / "overview.png")
    assert shot.stat().st_size > 10_000 and shot.read_bytes()[:4] == b"\x89PNG"
    ARTIFACTS.append(shot)


def test_a_failed_step_shows_its_failure_its_output_and_its_command(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, "tasks/broken.html")
    failure = text(page, ".failure")
    assert "crash" in failure and "exit" in failure.lower()
    body = text(page)
    assert "BROKEN-STDERR: cannot parse the notes" in body  # the captured stderr, open because the step failed
    assert page.evaluate("document.querySelector('details.stream').open") is True
    assert text(page, "details.stream > summary") == "stderr (1 line)"
    assert "echo 'BROKEN-STDERR" in body  # the command it ran


def test_a_failed_model_step_shows_its_failure_and_what_it_had_sent(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, "tasks/draft.html")
    failure = text(page, "#latest .failure")
    assert failure.startswith("api") and "API-REFUSAL: the request is malformed" in failure
    titles = page.evaluate("Array.from(document.querySelectorAll('#latest details.context > summary')).map(s => s.innerText)")
    assert titles == ["The doer's context: 2 requests"]  # the second request is the one refused
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    shown = text(page, "#latest details.context")
    assert "Lists every note" in shown and "one two three" in shown  # its brief and its input


def test_a_rejected_step_shows_each_verdict_with_evidence_and_the_proposal_that_did_not_land(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, run_page(site, "hello"))
    rows = page.evaluate("Array.from(document.querySelectorAll('main > table.verdicts tr, main .scroll > table.verdicts tbody tr'))"
                         ".map(r => Array.from(r.cells).map(c => c.innerText.trim()))")
    assert [CRITERIA[0], "fail", "EVIDENCE-TWO: still no name"] in rows
    assert [CRITERIA[1], "pass", "one line"] in rows
    body = text(page)
    assert "Proposed outputs (not applied)" in body
    diff = text(page, "pre.diff")
    assert "+print('hello, world')" in diff and "(proposed, not applied)" in diff
    # The first attempt, collapsed: its own verdict and proposal.
    attempt = page.evaluate("document.querySelector('details.attempt').textContent")
    assert "EVIDENCE-ONE: it never asks for a name" in attempt and "+print('hello')" in attempt
    assert "rejected" in text(page, "h1")


def test_what_a_model_step_saw_is_there_turn_by_turn_and_collapsed(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, run_page(site, "summary"))
    contexts = page.evaluate("Array.from(document.querySelectorAll('details.context')).map(d => [d.open, d.querySelector('summary').innerText])")
    assert contexts and all(open_ is False for open_, _ in contexts)
    titles = [title for _, title in contexts]
    assert any(t.startswith("The doer's context: 2 requests") for t in titles)
    assert any(t.startswith("The verifier's context (reviewer): 1 request") for t in titles)
    visible = text(page)
    assert "You are a reviewer" not in visible  # collapsed: not shown until opened
    page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
    shown = text(page)
    assert "You are a reviewer" in shown and "States the number of words" in shown
    assert "request 2: 2 message(s) added" in shown  # the second turn shows what was added
    assert "SUMMARY-HANDOFF: wrote the summary." in text(page, ".handoff")
    usage = text(page, "table.usage")
    assert "doer" in usage and "verifier" in usage and "total" in usage


def test_every_run_of_a_step_is_reachable_and_the_review_is_shown(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, "tasks/count.html")
    runs = page.evaluate("Array.from(document.querySelectorAll('#runs tbody a')).map(a => a.getAttribute('href'))")
    assert len(runs) == 2
    older = open_page(browser, site, "tasks/" + runs[1])
    assert "approved by Test Author" in text(older, "main")  # the review it got, from the review commit
    assert "A later run replaced this one." in text(older)
    assert "later run" in text(older, "nav.pager")
    approved = open_page(browser, site, "tasks/summary.html")
    assert "approved by Test Author" in text(approved, "#latest")
    review = open_page(browser, site, "review.html")
    queued = review.evaluate("Array.from(document.querySelectorAll('main section h2')).map(h => h.innerText)")
    assert queued == ["broken", "count", "draft", "hello", "pages@docs--a.md"]  # summary was approved, pages@docs--b.md rejected
    rejected = open_page(browser, site, "tasks/pages@docs--b.md.html")
    assert "rejected by Test Author" in text(rejected, "#latest")
    assert "REVIEW-REASON: copy the title too" in text(rejected, "#latest blockquote")
    assert "+4" in text(review, "#review-count pre.diff")  # the new run's diff
    history = open_page(browser, site, "history.html")
    assert history.evaluate("document.querySelectorAll('table.history-table tbody tr').length") == 8


def test_pages_read_without_javascript_and_fit_a_phone(site: Path, browser: Browser) -> None:
    plain = open_page(browser, site, "index.html", javascript=False)
    assert plain.evaluate("document.querySelectorAll('svg.graph a.node').length") == len(TASKS)
    assert plain.evaluate("document.querySelector('input.filter').hidden") is True  # the script's extra, left out
    assert "broken" in text(plain, "table.steps-table")
    for rel in ("index.html", "tasks/hello.html", run_page(site, "hello")):
        phone = open_page(browser, site, rel)
        phone.viewport(390, 844, mobile=True)
        phone.goto((site / rel).as_uri())
        overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{rel} is {overflow}px wider than a phone"


def test_the_filter_box_narrows_the_steps_table(site: Path, browser: Browser) -> None:
    page = open_page(browser, site, "index.html")
    page.evaluate("const f = document.querySelector('input.filter'); f.value = 'hello'; f.dispatchEvent(new Event('input'))")
    shown = page.evaluate("Array.from(document.querySelectorAll('table.steps-table tbody tr')).filter(r => !r.hidden).length")
    assert shown == 1


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in ("href", "src") and value:
                self.found.append(value)


def test_every_link_of_every_page_leads_to_a_file_of_the_report(site: Path) -> None:
    pages = sorted(site.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        parser = Links()
        parser.feed(path.read_text())
        for link in parser.found:
            assert not re.match(r"[a-z]+:", link), f"{path.name} links outside the report: {link}"
            target = (path.parent / link.split("#", 1)[0]).resolve()
            assert target.is_file(), f"{path.relative_to(site)} links to a missing {link}"


def test_the_harness_sees_a_request_leave_and_a_console_error(browser: Browser, tmp_path: Path) -> None:
    """The checks above can fail: a page that asks the network for an image and logs an error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text('<!doctype html><img src="http://example.invalid/x.png"><script>console.error("BOOM")</script>')
    page = browser.open(bad.as_uri())
    assert "http://example.invalid/x.png" in page.requests
    assert any("BOOM" in e for e in page.errors)
