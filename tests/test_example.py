"""The worked example of a step that changes code (`python3 dev.py example`, README "Steps that change
code"): this repository's own plan -> implement -> review pipeline on examples/textstats, run in a scratch
repository against the local Messages API with scripted answers."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import ROOT, git
from test_demo import record_of


def test_the_example_plans_edits_under_its_glob_runs_the_tests_and_is_judged(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "demo"))
    from coding import PACKAGE, PLAN, TESTS, run_example

    target = tmp_path / "example"
    assert run_example(target, Path(sys.executable).parent / "agents") == 0
    printed = capsys.readouterr().out
    assert "SCRIPTED" in printed
    assert git(target, "log", "--format=%s", "-2").splitlines() == [
        "agents(example-implement): Implement top_words in the textstats example",
        "agents(example-plan): Plan top_words for the textstats example"]
    assert (target / PACKAGE / "PLAN.md").read_text() == PLAN
    # The implement step's commit holds its code changes, its handoff and its record, nothing else.
    changed = git(target, "show", "--name-only", "--format=", "HEAD").split()
    assert sorted(p for p in changed if not p.startswith(".agents/runs/")) == [
        ".agents/handoffs/example-implement.md",
        f"{PACKAGE}/src/textstats/__init__.py", f"{PACKAGE}/src/textstats/core.py"]
    assert git(target, "status", "--porcelain") == ""
    record = json.loads(record_of(target, "example-implement"))
    runs = [call for call in record["tools"] if call["tool"] == "run"]
    assert [(r["command"], r["exit_code"] != 0) for r in runs] == [(TESTS, True), (TESTS, False)]
    assert "No module named" in runs[0]["output"] or "cannot import name" in runs[0]["output"]
    assert "6 passed" in runs[1]["output"]
    edits = [call for call in record["tools"] if call["tool"] == "edit_file"]
    assert [(e["path"], e["replaced"]) for e in edits] == [
        (f"{PACKAGE}/src/textstats/core.py", 1), (f"{PACKAGE}/src/textstats/__init__.py", 1)]
    assert record["checks"][0]["ok"] and record["checks"][0]["run"] == TESTS
    from agentfiles.storage.documents import parse_document

    meta = parse_document((target / ".agents/handoffs/example-implement.md").read_text()).meta
    assert meta["status"] == "done" and meta["verification"]["verdict"] == "pass"
    assert meta["verification"]["verifier"] == "reviewer" and meta["role"] == "coder"
    # What the pipeline produced passes the package's tests outside agents too.
    import subprocess

    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=target / PACKAGE,
                          capture_output=True, text=True)
    assert done.returncode == 0 and "6 passed" in done.stdout, done.stdout + done.stderr
    # The tasks are this repository's own, unchanged.
    for name in ("example-plan", "example-implement"):
        rel = f".agents/tasks/{name}.md"
        assert (target / rel).read_bytes() == (ROOT / rel).read_bytes()

