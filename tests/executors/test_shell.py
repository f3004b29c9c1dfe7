"""The doer's shell (`run`) keeps what a step may not change read-only with as few mounts as say it: a
folder no output can name anything in is one mount, whatever it holds (a thousand protected files were a
thousand mounts, four seconds a call)."""

from __future__ import annotations

from pathlib import Path

from agentfiles.core.globs import OutputSet
from agentfiles.executors.shell import read_only_parts


def test_a_folder_no_output_can_reach_is_one_read_only_part(tmp_path: Path) -> None:
    files = [f"tests/unit/t{n}.py" for n in range(300)] + ["tests/conftest.py", "src/pkg/core.py", "src/pkg/data.txt",
                                                              "src/pkg/sub/x.py", "docs/in.md", "README.md", "pyproject.toml"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x\n")
    (tmp_path / "empty").mkdir()
    owned = OutputSet(["src/pkg/**/*.py", "docs/out.md"])
    assert read_only_parts(tmp_path, owned) == [
        "README.md", "docs/in.md", "empty", "pyproject.toml", "src/pkg/data.txt", "tests"]
    # A glob that can reach everywhere leaves every file it does not name protected one by one.
    assert read_only_parts(tmp_path, OutputSet(["**/*.md"])) == sorted(
        rel for rel in files if not rel.endswith(".md"))
