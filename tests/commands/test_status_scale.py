"""`agents status` grows linearly with the tasks of a project: each task is weighed against an index of
the others (their outputs, their role's inputs), never against each of them. Measured as the Python calls a
status makes beyond its start, which no load on the machine changes: four times the tasks, about four
times the calls."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import make_repo, write_files

COUNT = textwrap.dedent(
    """
    import sys
    from agentfiles.commands.app import run
    calls = 0
    def count(frame, event, arg):
        global calls
        if event == "call":
            calls += 1
    sys.setprofile(count)
    code = run(sys.argv[1:])
    sys.setprofile(None)
    print("CALLS", calls, "CODE", code)
    """
)


def _project(root: Path, tasks: int, *, model: bool) -> Path:
    """`tasks` independent tasks, each reading its own file (every tenth also a glob and a folder), writing
    its own output; model steps of one role, or command steps."""
    make_repo(root, {"README.md": "x\n"})
    subprocess.run([sys.executable, "-m", "agentfiles", "-C", str(root), "init"], check=True, capture_output=True)
    (root / ".agents/tasks/describe-project.md").unlink()
    files = {"notes/a.md": "a\n", "docs/guide/b.md": "b\n"}
    for n in range(tasks):
        inputs = [f"data/in-{n}.txt"] + (["notes/*.md", "docs/guide"] if n % 10 == 0 else [])
        kind = "role: developer" if model else f"run: cp data/in-{n}.txt out/t-{n}.md"
        files[f"data/in-{n}.txt"] = f"input {n}\n"
        files[f".agents/tasks/t-{n}.md"] = (f"---\ntitle: T {n}\n{kind}\ninputs: [{', '.join(inputs)}]\n"
                                            f"outputs: [out/t-{n}.md]\n---\n\n## Intent\n\nUse data/in-{n}.txt.\n")
    write_files(root, files)
    return root


def _calls(root: Path, *args: str) -> int:
    done = subprocess.run([sys.executable, "-c", COUNT, *args], cwd=root, capture_output=True, text=True, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("CALLS"))
    assert line.endswith(("CODE 0", "CODE 1")), done.stdout + done.stderr
    return int(line.split()[1])


@pytest.mark.parametrize("args", [["status"], ["run", "--dry-run"]], ids=["status", "run --dry-run"])
@pytest.mark.parametrize("model", [True, False], ids=["model steps", "command steps"])
def test_a_first_status_and_a_dry_run_grow_linearly_with_the_tasks(tmp_path: Path, model: bool, args: list[str]) -> None:
    """Every task ready to run: a model step's context is sized (its inputs, the role's shared ones, what
    other tasks produce into them), a never-run step's inputs are looked for among the outputs declared."""
    base = _calls(_project(tmp_path / "none", 0, model=model), *args)  # start-up, imports: any size has them
    small = _calls(_project(tmp_path / "small", 100, model=model), *args) - base
    large = _calls(_project(tmp_path / "large", 400, model=model), *args) - base
    assert large / small < 5, (base, small, large)  # 4x the tasks; quadratic work makes it 8x and more
