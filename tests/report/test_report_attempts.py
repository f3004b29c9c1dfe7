"""A model step that passed its verifier on a retry, as the report shows it: the earlier attempt's
proposal diffed against the state it was proposed against, and the time of the doer, of the verifier
and of each attempt (recorded by the run, added up by role as `agents log --usage` does)."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest

from conftest import configure, git, task_text, write_files
from fake_anthropic import FakeAnthropic, Reply

PAUSE = 0.3  # the verifier's answer is held this long, so that its time is seen to be recorded
FIRST = "# Summary\n\nOne change.\n"
SECOND = "# Summary\n\n- one change\n- another change\n"


def verdict(*verdicts: tuple[str, str]) -> Reply:
    checks = [{"criterion": str(n), "verdict": v, "evidence": e} for n, (v, e) in enumerate(verdicts, 1)]
    return Reply.stall(PAUSE, reply=Reply.tool_use("verdict", {"checks": checks}))


@pytest.fixture
def retried(project: Path, api: FakeAnthropic, agents) -> Path:  # type: ignore[no-untyped-def]
    """`summary` writes SUMMARY.md (new), is rejected once, then passes."""
    configure(project, api)
    write_files(project, {
        "notes.md": "one change, another change\n",
        ".agents/tasks/summary.md": task_text("Summarise", role="developer", inputs=["notes.md"], outputs=["SUMMARY.md"],
                                              acceptance=["Lists every change", "Has a heading"], verifier="reviewer",
                                              retries=1),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    api.queue(Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": FIRST}), Reply.tool_use("finish", {"summary": "One."}),
              verdict(("fail", "only one change"), ("pass", "a heading")),
              Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": SECOND}), Reply.tool_use("finish", {"summary": "Two."}),
              verdict(("pass", "both changes"), ("pass", "a heading")))
    assert agents("-C", str(project), "run").code == 0
    assert agents("-C", str(project), "report", "--out", str(project.parent / "site")).code == 0
    return project


def run_page(root: Path) -> str:
    (page,) = (root.parent / "site/runs/summary").glob("*.html")
    return page.read_text()


def plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment))


def test_an_earlier_attempt_is_diffed_against_the_state_it_was_proposed_against(retried: Path) -> None:
    page = run_page(retried)
    attempt = plain(page[page.index('class="attempt"'):])
    heading = "Proposed outputs (not applied)"
    proposal = attempt[attempt.index(heading) + len(heading):].split("The doer's context")[0]
    # SUMMARY.md did not exist before the run: the first attempt's proposal adds it, line by line.
    assert proposal.splitlines()[:3] == ["--- /dev/null", "+++ b/SUMMARY.md (proposed, not applied)", "@@ -0,0 +1,3 @@"]
    assert "+One change." in proposal and "-- one change" not in proposal
    outputs = plain(page[page.index("id='outputs'"):page.index("id='context'")])
    assert "--- /dev/null" in outputs and "+- another change" in outputs  # the outputs that landed


def test_the_verifier_time_is_recorded_shown_and_counted_for_its_role(retried: Path, agents) -> None:  # type: ignore[no-untyped-def]
    (path,) = (retried / ".agents/runs").glob("*/record.json")
    record = json.loads(path.read_text())
    assert record["verifier"]["usage"]["duration_s"] >= PAUSE
    (earlier,) = record["earlier_attempts"]
    assert earlier["verifier"]["usage"]["duration_s"] >= PAUSE and earlier["usage"]["duration_s"] >= PAUSE
    page = run_page(retried)
    usage = page[page.index('class="usage"'):]
    rows = {plain(cells[0]): plain(cells[-1]) for cells in
            (re.findall(r"<td[^>]*>(.*?)</td>", row) for row in re.findall(r"<tr>(.*?)</tr>", usage.split("</table>")[0]))
            if cells}
    assert set(rows) == {"attempt 1 (doer and verifier)", "doer (attempt 2)", "verifier (attempt 2)", "total"}
    assert all(value.endswith(" s") for value in rows.values())
    assert float(rows["verifier (attempt 2)"][:-2]) >= PAUSE and float(rows["attempt 1 (doer and verifier)"][:-2]) >= PAUSE
    totals = agents("-C", str(retried), "log", "--usage", "--json").json["totals"]
    by_role = totals["by_role"]
    assert by_role["reviewer"]["duration_s"] >= 2 * PAUSE  # both verdicts
    assert by_role["reviewer"]["duration_s"] + by_role["developer"]["duration_s"] == pytest.approx(totals["all"]["duration_s"])
    index = (retried.parent / "site/index.html").read_text()
    reviewer = next(row for row in re.findall(r"<tr>(.*?)</tr>", index) if re.match(r"<td[^>]*>reviewer</td>", row))
    assert plain(re.findall(r"<td[^>]*>(.*?)</td>", reviewer)[-1]) != "0.00 s"


QA_ROLE = ("---\nname: qa\ndescription: A second judge.\nmodel: haiku\n---\n"
           "You are QA. You judge other people's work against its criteria.\n")


def test_a_panel_judges_at_once_each_judge_timed_for_its_role(project: Path, api: FakeAnthropic, agents) -> None:  # type: ignore[no-untyped-def]
    configure(project, api)
    write_files(project, {
        ".agents/roles/qa.md": QA_ROLE,
        "notes.md": "one change\n",
        ".agents/tasks/summary.md": task_text("Summarise", role="developer", inputs=["notes.md"], outputs=["SUMMARY.md"],
                                              acceptance=["Lists every change"], verifier=["reviewer", "qa"]),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    api.queue(Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": FIRST}), Reply.tool_use("finish", {"summary": "One."}),
              verdict(("pass", "it does")), verdict(("pass", "it does")))
    assert agents("-C", str(project), "run").code == 0
    (path,) = (project / ".agents/runs").glob("*/record.json")
    judges = json.loads(path.read_text())["panel"]["judges"]
    assert [j["usage"]["duration_s"] >= PAUSE for j in judges] == [True, True]
    totals = agents("-C", str(project), "log", "--usage", "--json").json["totals"]
    by_role = totals["by_role"]
    assert by_role["reviewer"]["duration_s"] >= PAUSE and by_role["qa"]["duration_s"] >= PAUSE
    # The step waited for the slower judge only: the doer's time is the rest of the run's.
    slower = max(by_role["reviewer"]["duration_s"], by_role["qa"]["duration_s"])
    assert by_role["developer"]["duration_s"] + slower == pytest.approx(totals["all"]["duration_s"], abs=0.002)
    assert agents("-C", str(project), "report", "--out", str(project.parent / "site")).code == 0
    page = run_page(project)
    usage = page[page.index('class="usage"'):].split("</table>")[0]
    times = {plain(cells[0]): plain(cells[-1]) for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row)
                                                             for row in re.findall(r"<tr>(.*?)</tr>", usage)) if cells}
    assert float(times["verifier reviewer (claude-sonnet-4-6)"][:-2]) >= PAUSE and "—" not in times.values()
