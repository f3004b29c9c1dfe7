"""`agents report` as a command: what it writes, when it does not write again, which folders it refuses,
and the parts it is made of (the graph's layout, the markdown it renders, nothing a file can inject)."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import Result, git, run_program, task_text, write_files


@pytest.fixture
def ran(project: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    """Two command steps, run: `upper` reads `data/in.txt`, `lines` needs it."""
    write_files(project, {
        "data/in.txt": "hello\n",
        ".agents/tasks/upper.md": task_text("Upper-case it", run="tr a-z A-Z < data/in.txt > out/upper.txt",
                                            inputs=["data/in.txt"], outputs=["out/upper.txt"]),
        ".agents/tasks/lines.md": task_text("Count its lines", run="wc -l < out/upper.txt > out/lines.txt", needs=["upper"],
                                            inputs=["out/upper.txt"], outputs=["out/lines.txt"],
                                            body="## Intent\n\nCount. <script>alert('x')</script> <img src=\"http://example.invalid/a.png\">\n"),
    })
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "run").code == 0
    return project


def test_report_writes_a_site_of_the_steps_and_their_runs(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(ran), "report", "--out", "site")
    assert result.code == 0, result.err
    site = ran / "site"
    assert result.out.startswith("wrote ") and str(site / "index.html") in result.out
    for rel in ("index.html", "history.html", "review.html", "tasks/upper.html", "tasks/lines.html",
                "assets/report.css", "assets/report.js", ".agents-report.json"):
        assert (site / rel).is_file(), rel
    (upper_run,) = (site / "runs" / "upper").glob("*.html")
    page = upper_run.read_text()
    assert "+HELLO" in page and "tr a-z A-Z" in page  # its diff and its command
    assert re.search(r"<dt>isolation</dt><dd>(os|folder)</dd>", page)  # as its handoff records it
    index = (site / "index.html").read_text()
    assert index.count('class="node ') == 2 and 'href="tasks/upper.html"' in index


def test_an_unchanged_history_is_not_written_again(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(ran), "report", "--out", "site").code == 0
    index = ran / "site" / "index.html"
    first = index.stat().st_mtime_ns
    again = agents("-C", str(ran), "report", "--out", "site")
    assert again.code == 0 and again.out.startswith("up to date")  # its own folder, untracked, does not count
    assert index.stat().st_mtime_ns == first
    (ran / "data/in.txt").write_text("bye\n")  # an input changes: `upper` is stale
    assert agents("-C", str(ran), "report", "--out", "site").out.startswith("wrote ")
    assert "input changed: data/in.txt" in (ran / "site/tasks/upper.html").read_text()
    assert agents("-C", str(ran), "report", "--out", "site").out.startswith("up to date")
    git(ran, "commit", "-qam", "new input")  # a new commit
    assert agents("-C", str(ran), "report", "--out", "site").out.startswith("wrote ")
    assert agents("-C", str(ran), "report", "--out", "site", "--force").out.startswith("wrote ")


def test_a_page_deleted_by_hand_is_written_again_and_json_counts_an_unchanged_report(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-18 verification: a deleted step page left the report "up to date"; --json of an unchanged
    report said 0 pages, 0 tasks, 0 runs."""
    first = agents("-C", str(ran), "--json", "report", "--out", "site").json
    again = agents("-C", str(ran), "--json", "report", "--out", "site").json
    assert again["rebuilt"] is False
    assert (again["pages"], again["tasks"], again["runs"]) == (first["pages"], first["tasks"], first["runs"]) != (0, 0, 0)
    (ran / "site/tasks/upper.html").unlink()
    assert agents("-C", str(ran), "report", "--out", "site").out.startswith("wrote ")
    assert (ran / "site/tasks/upper.html").is_file()


def test_pages_of_steps_that_are_gone_do_not_linger(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(ran), "report", "--out", "site").code == 0
    (ran / ".agents/tasks/lines.md").unlink()
    git(ran, "commit", "-qam", "drop lines")
    assert agents("-C", str(ran), "report", "--out", "site").code == 0
    assert not (ran / "site/tasks/lines.html").exists() and (ran / "site/tasks/upper.html").exists()
    history = (ran / "site/history.html").read_text()
    assert 'title="no longer a task">lines<' in history  # its run stays in the history, without a dead link


def test_the_default_folder_and_json(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    data = agents("-C", str(ran), "report", "--json").json
    assert data["kind"] == "report" and data["rebuilt"] is True and data["tasks"] == 2 and data["runs"] == 2
    assert Path(data["index"]) == ran / ".agents/report/index.html" and Path(data["index"]).is_file()
    assert agents("-C", str(ran), "report", "--json").json["rebuilt"] is False


@pytest.mark.parametrize("where", ["foreign", "repo", "file", "git"])
def test_a_folder_it_did_not_write_is_refused(ran: Path, agents, where: str) -> None:  # type: ignore[no-untyped-def]
    target = {"foreign": ran / "docs", "repo": ran, "file": ran / "data/in.txt", "git": ran / ".git/report"}[where]
    if where == "foreign":
        write_files(ran, {"docs/keep.md": "mine\n"})
    result = agents("-C", str(ran), "report", "--out", str(target))
    assert result.code == 2 and result.out == ""
    assert result.err.startswith("error: ") and "hint: pass --out with a new or empty folder" in result.err
    assert "Traceback" not in result.err
    if where == "foreign":
        assert sorted(p.name for p in target.iterdir()) == ["keep.md"]


SITE = [".agents-report.json", "assets", "history.html", "index.html", "review.html", "runs", "tasks"]


def in_bwrap(mounts: list[str], *args: str) -> Result:
    """`agents ARGS` as a program in a mount namespace of bubblewrap's with `mounts` (a read-only folder, a
    mount point), the rest of the file system as it is."""
    tool = shutil.which("bwrap")
    if tool is None or subprocess.run([tool, "--dev-bind", "/", "/", "true"], capture_output=True).returncode != 0:
        pytest.skip("bubblewrap cannot make a mount namespace here")
    done = subprocess.run([tool, "--dev-bind", "/", "/", *mounts, sys.executable, "-m", "agentfiles", *args],
                          capture_output=True, text=True)
    return Result(done.returncode, done.stdout, done.stderr)


@contextmanager
def locked(folder: Path) -> Iterator[None]:
    """`folder` closed to new entries for this user: mode 555, or, for root (whom modes do not stop), immutable."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not supported on this file system (root is stopped by nothing else)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def assert_unwritable(result: Result, out: Path, why: str) -> None:
    assert result.code == 2 and result.out == "", result.err
    assert result.err.startswith(f"error: cannot write the report into {out}: {why}"), result.err
    assert "hint: pass --out with a folder you can write to" in result.err
    assert "Traceback" not in result.err and "bug" not in result.err


@pytest.mark.parametrize("where", ["/proc", "/sys"])
def test_a_system_folder_is_an_error_not_a_bug(ran: Path, agents, where: str) -> None:  # type: ignore[no-untyped-def]
    out = Path(where) / "agents-report-test"
    result = agents("-C", str(ran), "report", "--out", str(out))
    assert_unwritable(result, out, "")
    assert not out.exists()


def test_a_read_only_file_system_is_an_error_not_a_bug(ran: Path, tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    result = in_bwrap(["--ro-bind", str(shelf), str(shelf)], "-C", str(ran), "report", "--out", str(shelf / "site"))
    assert_unwritable(result, shelf / "site", "Read-only file system")
    assert list(shelf.iterdir()) == []


def test_a_folder_this_user_cannot_write_in_is_an_error_not_a_bug(ran: Path, tmp_path: Path) -> None:
    shelf = tmp_path / "shelf"
    shelf.mkdir()
    with locked(shelf):
        result = run_program("-C", str(ran), "report", "--out", str(shelf / "site"))
    assert_unwritable(result, shelf / "site", "")
    assert list(shelf.iterdir()) == []


def replaced_in_place(ran: Path, site: Path, report) -> None:  # type: ignore[no-untyped-def]
    """`report(args)` writes the report into `site`, whose parent it cannot write: in place, whole, and again
    in place when a step is gone, leaving no page of it and nothing of its own work behind."""
    result = report("-C", str(ran), "report", "--out", str(site))
    assert result.code == 0 and result.out.startswith("wrote "), result.err
    assert sorted(p.name for p in site.iterdir()) == SITE
    assert (site / "tasks/lines.html").is_file() and (site / "assets/report.css").is_file()
    (ran / ".agents/tasks/lines.md").unlink()
    git(ran, "commit", "-qam", "drop lines")
    result = report("-C", str(ran), "report", "--out", str(site))
    assert result.code == 0 and result.out.startswith("wrote "), result.err
    assert sorted(p.name for p in site.iterdir()) == SITE
    assert not (site / "tasks/lines.html").exists() and (site / "tasks/upper.html").is_file()
    assert report("-C", str(ran), "report", "--out", str(site)).out.startswith("up to date")
    assert sorted(p.name for p in site.parent.iterdir()) == [site.name]


def test_an_empty_folder_in_a_read_only_parent_is_written_in_place(ran: Path, tmp_path: Path) -> None:
    site = tmp_path / "shelf/site"
    site.mkdir(parents=True)
    mounts = ["--ro-bind", str(site.parent), str(site.parent), "--bind", str(site), str(site)]
    replaced_in_place(ran, site, lambda *args: in_bwrap(mounts, *args))


def test_an_empty_folder_in_a_parent_this_user_cannot_write_is_written_in_place(ran: Path, tmp_path: Path) -> None:
    site = tmp_path / "shelf/site"
    site.mkdir(parents=True)
    with locked(site.parent):
        replaced_in_place(ran, site, run_program)


def test_a_mount_point_is_written_in_place(ran: Path, tmp_path: Path) -> None:
    disk, site = tmp_path / "disk/site", tmp_path / "mnt/site"
    disk.mkdir(parents=True)
    site.mkdir(parents=True)
    # Each run sees `site` as a mount point of `disk`, which cannot be renamed (EBUSY); what it writes is in `disk`.
    replaced_in_place(ran, disk, lambda *args: in_bwrap(["--bind", str(disk), str(site)],
                                                         *[str(site) if a == str(disk) else a for a in args]))
    assert sorted(p.name for p in site.parent.iterdir()) == ["site"]  # its attempt at a sibling folder is gone


def test_a_folder_in_the_working_tree_that_git_would_commit_is_warned_about(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(ran), "report", "--out", "report")
    assert result.code == 0 and (ran / "report/index.html").is_file()
    assert ("warning: report/ is inside the repository and not ignored by git: `git add -A` would commit the whole "
            "report") in result.err
    assert "hint: add `report/` to .gitignore, or leave out --out to write .agents/report/, which git ignores" in result.err
    again = agents("-C", str(ran), "report", "--out", "report")
    assert again.out.startswith("up to date") and "warning: report/" in again.err  # said each time
    write_files(ran, {".gitignore": "/report/\n"})
    for args in (["--out", "report"], [], ["--out", str(ran.parent / "elsewhere")]):
        result = agents("-C", str(ran), "report", *args)
        assert result.code == 0 and result.err == "", (args, result.err)
    # A project initialised before the report existed: its .agents/.gitignore does not name the default folder.
    ignore = ran / ".agents/.gitignore"
    ignore.write_text(ignore.read_text().replace("report/\n", ""))
    result = agents("-C", str(ran), "report")
    assert "warning: .agents/report/ is inside the repository and not ignored by git" in result.err
    assert "hint: add `report/` to .agents/.gitignore" in result.err


def test_outside_a_project_it_says_so(tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    result = agents("-C", str(tmp_path), "report")
    assert result.code == 2 and result.err.startswith("error: ") and "hint: " in result.err


def test_a_project_that_never_ran_has_a_report_too(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {".agents/tasks/t.md": task_text("T", run="true", outputs=["o.txt"])})
    result = agents("-C", str(project), "report", "--out", str(project.parent / "site"))
    assert result.code == 0, result.err
    page = (project.parent / "site/tasks/t.html").read_text()
    assert "Not run yet" in page and "agents run t" in page
    assert "No step has run yet" in (project.parent / "site/history.html").read_text()


def test_nothing_in_a_task_or_handoff_becomes_markup(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    assert agents("-C", str(ran), "report", "--out", "site").code == 0
    for path in (ran / "site").rglob("*.html"):
        text = path.read_text()
        assert "<script>alert" not in text and "<img" not in text, path
        assert "http://example.invalid" not in text.replace("&quot;http://example.invalid", ""), path
    assert "&lt;script&gt;alert" in (ran / "site/tasks/lines.html").read_text()


def test_open_hands_the_index_to_the_browser(ran: Path, tmp_path: Path) -> None:
    opened = tmp_path / "opened.txt"
    script = tmp_path / "fake-browser"
    script.write_text(f"#!/bin/sh\necho \"$1\" > {opened}\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    result = run_program("-C", str(ran), "report", "--out", "site", "--open", env={"BROWSER": str(script)})
    assert result.code == 0, result.err
    assert opened.read_text().strip() == (ran / "site/index.html").as_uri()


# ------------------------------------------------------------------------------------------- parts


def test_layers_follow_the_longest_path_and_survive_a_cycle() -> None:
    from agentfiles.report.picture import arrange, layers

    assert layers(["a", "b", "c", "d"], [("a", "b"), ("b", "c"), ("a", "c"), ("a", "d")]) == {"a": 0, "b": 1, "c": 2, "d": 1}
    cyclic = layers(["x", "y", "z"], [("x", "y"), ("y", "x"), ("y", "z")])
    assert set(cyclic) == {"x", "y", "z"} and cyclic["z"] > cyclic["y"]
    rows = arrange(["s", "p", "q", "t1", "t2"], [("s", "q"), ("p", "t1"), ("q", "t2")])
    assert [set(r) for r in rows] == [{"s", "p"}, {"q", "t1"}, {"t2"}]


def test_the_graph_picture_has_a_linked_node_per_task() -> None:
    from agentfiles.report.picture import Node, graph_svg

    nodes = [Node(n, "done", "done · command", f"tasks/{n}.html", "#d3f9d8") for n in ("a", "b<c")]
    svg = graph_svg(nodes, {("a", "b<c"): ["needs"]})
    assert svg.count('<a href="tasks/') == 2 and "b&lt;c" in svg and "<path class=\"edge needs\"" in svg
    assert graph_svg([], {}) == ""


def test_markdown_keeps_to_a_safe_subset() -> None:
    from agentfiles.report.html import markdown

    html = markdown("## Summary\n\nDid `x` **well** <b>.\n\n- one\n- two\n\n```\n<raw>\n```\n")
    assert html == ("<h3>Summary</h3><p>Did <code>x</code> <strong>well</strong> &lt;b&gt;.</p>"
                    "<ul><li>one</li><li>two</li></ul><pre>&lt;raw&gt;</pre>")


def test_the_report_module_is_not_on_the_path_of_fast_commands() -> None:
    code = ("import sys; from agentfiles.commands.app import run; run(['--help'])\n"
            "print(sorted(m for m in sys.modules if m.startswith('agentfiles.report')))")
    done = __import__("subprocess").run([sys.executable, "-c", code], capture_output=True, text=True,
                                        env={**os.environ, "NO_COLOR": "1"})
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_a_run_shows_its_isolation_when_its_handoff_records_one() -> None:
    from agentfiles.report.collect import Run
    from agentfiles.report.steps import _run_facts
    from agentfiles.storage.inspect import StepView

    meta = {"run": "r1", "status": "done", "executor": "command", "isolation": "bubblewrap"}
    facts = dict(_run_facts(Run(StepView("t", meta, "", None), "")))
    assert facts["isolation"] == "bubblewrap"
    assert dict(_run_facts(Run(StepView("t", {**meta, "isolation": None}, "", None), "")))["isolation"] == ""


def test_a_task_file_that_cannot_be_loaded_is_shown_as_invalid_and_the_rest_reported(ran: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(ran, {".agents/tasks/bad.md": "---\ntitle: Bad\nrun: \"true\"\nneeds: [upper]\noutputz: [x]\n---\n"})
    result = agents("-C", str(ran), "report", "--out", "site")
    assert result.code == 0, result.err
    index = (ran / "site/index.html").read_text()
    assert 'class="node state-invalid" data-task="bad"' in index and 'data-task="upper"' in index
    assert 'data-from="upper" data-to="bad"' in index  # the needs its file still names
    page = (ran / "site/tasks/bad.html").read_text()
    assert "cannot be loaded" in page and "outputz" in page


def test_a_new_output_with_a_space_in_its_path_is_shown_not_a_crash(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    """The issue-18 verification: git answers `<spec> missing` for a file new in a step, and a space in the
    path made that line look like `<sha> <type> <size>` (report, review and show --diff crashed)."""
    write_files(project, {"in.txt": "hi\n", ".agents/tasks/copy.md": task_text(
        "Copy it", run='mkdir -p out && cp in.txt "out/a b.txt"', inputs=["in.txt"], outputs=["out/a b.txt"])})
    git(project, "add", "-A")
    git(project, "commit", "-qm", "copy")
    assert agents("-C", str(project), "run").code == 0
    shown = agents("-C", str(project), "show", "copy", "--diff")
    assert shown.code == 0 and "out/a b.txt" in shown.out and "+hi" in shown.out, shown.err
    report = agents("-C", str(project), "report", "--out", "site")
    assert report.code == 0, report.err
    page = next((project / "site" / "runs" / "copy").glob("*.html")).read_text()
    assert "out/a b.txt" in page
