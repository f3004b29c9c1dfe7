"""Malformed repositories and files, one case per line of malformed_cases.py, through every verb a user would
run on them: each ends with the documented exit code, an `error:` line naming the file (and line) with a
`hint:` line, no traceback or internal error, and nothing changed in the repository (HEAD, `git status`
and every file's bytes as they were)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from conftest import git, isolate, make_repo, task_text, write_files
from consistency import RepoState, assert_clean_failure
from malformed_cases import CASES, DEFAULT_CODES, DIR, Case, Edit, Link

VERBS = {"validate": ["validate"], "status": ["status"], "run": ["run"], "show": ["show", "ok"], "log": ["log"],
         "usage": ["log", "--usage"], "review": ["review"], "replay": ["replay", "ok"]}


def _cli(*args: str) -> None:
    from agentfiles.commands.app import run

    assert run(list(args)) == 0, args


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A project whose task `ok` has run once (so it has a handoff and a run record), and files outside it
    for symlinks to lead to; built once, copied for each case."""
    with pytest.MonkeyPatch.context() as monkeypatch:
        isolate(monkeypatch, tmp_path_factory)
        base = tmp_path_factory.mktemp("malformed")
        root = make_repo(base / "repo")
        _cli("-C", str(root), "init")
        (root / ".agents" / "tasks" / "describe-project.md").unlink()
        write_files(root, {".agents/tasks/ok.md": task_text("OK", run="echo ok > out/ok.txt", outputs=["out/ok.txt"])})
        git(root, "add", "-A")
        git(root, "commit", "-qm", "a project")
        _cli("-C", str(root), "run")
        run_id = next((root / ".agents" / "runs").glob("2*")).name
        outside = base / "outside"
        write_files(outside, {
            "file.txt": "outside the repository\n",
            "role.md": "---\nname: broken\ndescription: a role from outside the repository\n---\nPrompt.\n",
            "handoff.md": (root / ".agents" / "handoffs" / "ok.md").read_text(),
        })
        return {"root": str(root), "run": run_id, "outside": str(outside / "file.txt"), "outside_dir": str(outside),
                "outside_role": str(outside / "role.md"), "outside_handoff": str(outside / "handoff.md")}


def _apply(root: Path, case: Case, names: dict[str, str]) -> None:
    for rel, change in case.files.items():
        path = root / rel.format(**names)
        if isinstance(change, Edit):
            path.write_bytes(change.change(path.read_text()).encode("latin-1" if "Résumé" in change.change("## Summary")
                                                                      else "utf-8"))
            continue
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)
        if change is None:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        if change is DIR:
            path.mkdir()
        elif isinstance(change, Link):
            os.symlink(change.target.format(**names), path)
        elif isinstance(change, bytes):
            path.write_bytes(change)
        else:
            path.write_text(str(change))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_malformed(case: Case, template: dict[str, str], tmp_path: Path, agents) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "repo"
    shutil.copytree(template["root"], root, symlinks=True)
    _apply(root, case, template)
    where = case.where.format(**template) if case.where else None
    before = RepoState.of(root)
    for verb, expected in {**DEFAULT_CODES, **case.codes}.items():
        result = agents("-C", str(root), *VERBS[verb])
        said = f"{verb}: exit {result.code}\n{result.out}\n{result.err}"
        assert "Traceback" not in said and "this is a bug" not in said and "error: unexpected " not in result.err, said
        if expected:
            assert_clean_failure(result.code, result.err, expected, f"`agents {verb}`")
        else:
            assert result.code == 0, said
        if where and verb in case.mentioned_by:
            named = re.compile(re.escape(where) + r"(:| |$)")
            lines = result.err.splitlines() if expected else (result.out + result.err).splitlines()
            assert any(named.search(line) and (line.startswith("error: ") or not expected) for line in lines), said
        if case.says and expected and verb in ("validate", "run"):
            assert case.says in result.err, said
        changed = before.differences(RepoState.of(root))
        assert changed == [], f"`agents {verb}` changed the repository: {changed}"
