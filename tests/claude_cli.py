"""The REAL Claude Code CLI (npm `@anthropic-ai/claude-code`, pinned) for the tests of `executor:
claude-code`, pointed at the local Messages API of tests/fake_anthropic.py, which also stands as its only
proxy (any attempt to reach the internet is refused and seen). `.ci/run` installs the CLI into .ci/claude/;
elsewhere set AGENTS_TEST_CLAUDE to a `claude` of the pinned version, or these tests skip (with
AGENTS_REQUIRE_CLAUDE=1 they fail instead)."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import KEY, ROOT, git, task_text, write_files
from fake_anthropic import FakeAnthropic

PINNED = "2.1.332"


def _pinned_claude() -> tuple[str | None, str]:
    """The pinned CLI, or why there is none (read when the tests are collected: fixtures clear AGENTS_*)."""
    given = os.environ.get("AGENTS_TEST_CLAUDE")
    path = Path(given) if given else ROOT / ".ci" / "claude" / "node_modules" / ".bin" / "claude"
    if not path.exists():
        return None, f"no Claude Code CLI at {path} (`.ci/run` installs {PINNED} there; or set AGENTS_TEST_CLAUDE)"
    try:
        version = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=60, check=False,
                                 env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "DISABLE_AUTOUPDATER": "1"})
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"{path} does not run: {exc}"
    if not version.stdout.startswith(PINNED + " "):
        return None, f"{path} is Claude Code {version.stdout.strip() or '?'}, the tests pin {PINNED}"
    return os.path.realpath(path), ""


CLAUDE, WHY_NOT = _pinned_claude()
if CLAUDE is None and os.environ.get("AGENTS_REQUIRE_CLAUDE") == "1":  # CI installed it: skipping would hide a defect
    raise RuntimeError(WHY_NOT + ", and AGENTS_REQUIRE_CLAUDE=1 asks for the tests with the real Claude Code")
needs_claude = pytest.mark.skipif(CLAUDE is None, reason=WHY_NOT)


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture(name="api")
def claude_api(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    """`api` in a module that imports it: the fake endpoint as claude's API and as its only proxy; the
    pinned `claude` on PATH; a key."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if CLAUDE:
        (bin_dir / "claude").symlink_to(CLAUDE)
    with FakeAnthropic() as server:
        monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}/usr/bin:/bin")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
            monkeypatch.setenv(name, server.base_url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        yield server
        assert server.outside_requests == [], "claude tried to reach the internet"


def setup(root: Path, isolation: str = "auto", **task: Any) -> Path:
    """A `claude-code` project (one API retry) with a task `hello` writing src/hello.py, committed."""
    config = root / ".agents/config.yaml"
    text = config.read_text().replace("executor: auto", "executor: claude-code").replace("retries: 4", "retries: 1")
    text = re.sub(r"(?m)^isolation: .*\n", "", text)
    config.write_text(text + f"isolation: {isolation}\n")
    fields: dict[str, Any] = {"role": "developer", "inputs": ["data/spec.md"], "outputs": ["src/hello.py"], **task}
    write_files(root, {
        "data/spec.md": "Print hello.\n",
        "private.txt": "PRIVATE-CONTENT\n",
        "tracked.md": "tracked\n",
        ".agents/tasks/hello.md": task_text("Write hello", **fields),
    })
    git(root, "add", "-A")
    git(root, "commit", "-qm", "hello")
    return root
