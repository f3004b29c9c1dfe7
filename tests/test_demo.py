"""The README's main job: `python3 dev.py demo` runs the demo pipeline, command steps and a model step
with its verifier and a review, in a scratch repository, with no key and no network."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from conftest import ROOT, git


def test_the_demo_runs_command_steps_then_a_verified_and_reviewed_model_step(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    sys.path.insert(0, str(ROOT / "demo"))
    from pipeline import SUMMARY_V2, run_demo

    target = tmp_path / "demo"
    assert run_demo(target, Path(sys.executable).parent / "agents") == 0
    printed = capsys.readouterr().out
    assert "SCRIPTED" in printed and "ANTHROPIC_API_KEY=sk-ant-... agents run summarise --force" in printed
    assert (target / "SUMMARY.md").read_text() == SUMMARY_V2
    handoff = (target / ".agents/handoffs/summarise.md").read_text()
    assert "status: done" in handoff and "state: approved" in handoff and "verdict: pass" in handoff
    record = json.loads(record_of(target, "summarise"))
    assert record["attempt"] == 2 and record["earlier_attempts"][0]["verification"]["verdict"] == "fail"
    assert git(target, "status", "--porcelain") == ""


def record_of(root: Path, task: str) -> str:
    for path in sorted((root / ".agents/runs").glob("*/record.json")):
        text = path.read_text()
        if json.loads(text)["task"] == task:
            return text
    raise AssertionError(f"no record of {task}")
