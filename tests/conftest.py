"""Shared fixtures: an isolated environment (no home directory, git config or API key of the machine),
real temporary git repositories built from {path: text}, and the CLI run in-process or as a program."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Test Author",
    "GIT_AUTHOR_EMAIL": "author@example.invalid",
    "GIT_COMMITTER_NAME": "Test Author",
    "GIT_COMMITTER_EMAIL": "author@example.invalid",
}


@pytest.fixture(autouse=True)
def isolated_env(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    isolate(monkeypatch, tmp_path_factory)


def isolate(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """No home directory, git config, API key or colour setting of the machine; a temporary folder of its own."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", os.devnull)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for key, value in GIT_IDENTITY.items():
        monkeypatch.setenv(key, value)
    for key in list(os.environ):
        if key.startswith(("ANTHROPIC_", "AGENTS_", "CLAUDE_")) or key in ("NO_COLOR", "FORCE_COLOR"):
            monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TMPDIR", str(tmp_path_factory.mktemp("tmp")))


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, text=True)
    return done.stdout


def write_files(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def age(root: Path) -> None:
    """Make every file older than the caches' racy window, as files edited a while ago are."""
    import time

    old = time.time() - 60
    for folder, _, files in os.walk(root):
        if ".git" in folder.split(os.sep):
            continue
        for name in files:
            os.utime(os.path.join(folder, name), (old, old))


def make_repo(root: Path, files: dict[str, str] | None = None, *, commit: bool = True) -> Path:
    """A git repository at `root` holding `files`, committed when `commit`."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    write_files(root, files or {})
    if commit and files:
        git(root, "add", "-A")
        git(root, "commit", "-qm", "fixture")
    return root


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """An empty git repository."""
    return make_repo(tmp_path / "repo")


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self):  # type: ignore[no-untyped-def]
        import json

        return json.loads(self.out)


@pytest.fixture
def agents(capsys: pytest.CaptureFixture[str]):  # type: ignore[no-untyped-def]
    """Run the CLI in-process through its real entry handler: `agents(*args) -> Result`."""
    from agentfiles.commands.cli import run

    def call(*args: str) -> Result:
        capsys.readouterr()
        code = run(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return call


def run_program(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> Result:
    """Run `python -m agentfiles ARGS` as a separate program, as a user's shell would."""
    done = subprocess.run(
        [sys.executable, "-m", "agentfiles", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
    )
    return Result(done.returncode, done.stdout, done.stderr)


def task_text(title: str = "A task", body: str = "## Intent\n\nDo it.\n", **fields: object) -> str:
    """A task file from fields (YAML via the project's own writer)."""
    from agentfiles.storage.documents import dump_document

    return dump_document({"title": title, **fields}, body)


@pytest.fixture
def project(repo: Path, agents) -> Path:  # type: ignore[no-untyped-def]
    """A repository after `agents init`, with the example task removed, committed."""
    assert agents("-C", str(repo), "init").code == 0
    (repo / ".agents" / "tasks" / "describe-project.md").unlink()
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "init")
    return repo


KEY = "sk-ant-test-KEY-must-not-leak-0123456789"


@pytest.fixture
def api(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The local Messages API endpoint of tests/fake_anthropic.py, with a test key in the environment."""
    from fake_anthropic import FakeAnthropic

    with FakeAnthropic() as server:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        yield server


def configure(root: Path, api, **settings: object) -> None:  # type: ignore[no-untyped-def]
    """Point the project at the fake endpoint, with fast retries."""
    import json

    values = {"base_url": api.base_url, "retries": 2, "backoff_s": 0.01, "stall_s": 1.0, **settings}
    lines = "\n".join(f"  {k}: {json.dumps(v)}" for k, v in values.items())
    path = root / ".agents/config.yaml"
    text = path.read_text()
    start = text.index("api:\n")
    end = text.index("\n\n", start)
    path.write_text(text[:start] + "api:\n" + lines + text[end:])


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Files tests kept for people to look at (screenshots of the HTML report)."""
    from browser import ARTIFACTS

    for path in ARTIFACTS:
        terminalreporter.write_line(f"kept for review: {path}")
