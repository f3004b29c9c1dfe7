"""A bare `agents status` from the console script skips building the CLI (typer): it prints what the CLI
prints, ends with the same errors and exit codes, and imports no typer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import age, git, run_program, task_text, write_files


def both(root: Path) -> tuple[tuple[int, str, str], tuple[int, str, str]]:
    """`agents status` (the console script's own path) and `agents -C ROOT status` (the CLI's), run in ROOT."""
    plain = run_program("status", cwd=root)
    parsed = run_program("-C", str(root), "status", cwd=root)
    return (plain.code, plain.out, plain.err), (parsed.code, parsed.out, parsed.err)


def shown(out: str) -> dict[str, str]:
    return {line.split()[1]: line.split()[0] for line in out.splitlines()[:-2]}


def test_the_same_states_and_lines(project: Path, agents) -> None:  # type: ignore[no-untyped-def]
    write_files(project, {
        "data/a.txt": "aaa\n",
        ".agents/tasks/copy.md": task_text("Copy", run="cat data/a.txt > out/copy.txt", inputs=["data/a.txt"],
                                           outputs=["out/copy.txt"]),
        ".agents/tasks/next.md": task_text("Next", run="cat out/copy.txt > out/next.txt", inputs=["out/copy.txt"],
                                           outputs=["out/next.txt"], needs=["copy"]),
        ".agents/tasks/later.md": task_text("Later", run="true", needs=["next"]),
    })
    (project / "out").mkdir()
    git(project, "add", "-A")
    git(project, "commit", "-qm", "tasks")
    assert agents("-C", str(project), "run", "copy").code == 0
    write_files(project, {".agents/tasks/broken.md": "---\ntitle: [unclosed\nrun: x\n---\n"})
    age(project)
    plain, parsed = both(project)
    assert plain == parsed
    assert plain[0] == 0
    assert shown(plain[1]) == {"copy": "done", "next": "ready", "later": "pending", "broken": "invalid"}
    assert ".agents/tasks/broken.md:3: YAML syntax error" in plain[1]
    write_files(project, {"data/a.txt": "bbb\n"})  # and warm, after an edit
    plain, parsed = both(project)
    assert plain == parsed and shown(plain[1])["copy"] == "stale" and "input changed: data/a.txt" in plain[1]


def test_the_same_errors(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "not-a-repo"
    outside.mkdir()
    plain, parsed = both(outside)
    assert plain == parsed and plain[0] != 0 and plain[2].startswith("error: not inside a git repository")
    (project / ".agents" / "config.yaml").write_text("model: [sonnet\n")
    plain, parsed = both(project)
    assert plain == parsed and plain[0] != 0 and ".agents/config.yaml:2: YAML syntax error" in plain[2] and "hint:" in plain[2]


def test_no_typer(project: Path) -> None:
    program = ("import sys\nfrom agentfiles.entry import main\ntry:\n    main(['status'])\nexcept SystemExit:\n"
               "    pass\nprint(sorted(m for m in ('typer', 'click', 'rich') if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", program], cwd=project, capture_output=True, text=True, check=True)
    assert done.stdout.splitlines()[-1] == "[]"
