"""The demo pipeline of `python3 dev.py demo`: a scratch repository where `agents` scaffolds the
convention, declares a small pipeline of steps, checks it and shows its state and graph."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

ARTICLE = """\
# Release notes 1.4

The importer now reads CSV files with a header row. Errors name the line that failed.
Exports are twice as fast on large projects. The old XML exporter is deprecated.
"""


def _env() -> dict[str, str]:
    env = dict(os.environ)
    # The scratch repository commits with a demo identity when git has none configured.
    for key, value in (
        ("GIT_AUTHOR_NAME", "agents demo"),
        ("GIT_AUTHOR_EMAIL", "demo@example.invalid"),
        ("GIT_COMMITTER_NAME", "agents demo"),
        ("GIT_COMMITTER_EMAIL", "demo@example.invalid"),
    ):
        env.setdefault(key, value)
    return env


def run_demo(target: Path, agents: Path) -> int:
    target.mkdir(parents=True, exist_ok=True)
    env = _env()

    def sh(*args: str, check: bool = True) -> int:
        shown = " ".join(shlex.quote(a) for a in args)
        print(f"\n$ {shown}", flush=True)
        program = str(agents) if args[0] == "agents" else args[0]
        code = subprocess.run([program, *args[1:]], cwd=target, env=env).returncode
        if check and code != 0:
            raise SystemExit(f"demo: `{shown}` exited with {code}")
        return code

    print(f"demo: scratch repository {target}")
    sh("agents", "init", "--git")
    (target / "notes").mkdir(exist_ok=True)
    (target / "notes" / "release-1.4.md").write_text(ARTICLE)
    sh(
        "agents", "new", "task", "count-words",
        "--title", "Count the words of the release notes",
        "--command", "wc -w < notes/release-1.4.md > build/word-count.txt",
        "-i", "notes/release-1.4.md", "-o", "build/word-count.txt",
        "--check", "test -s build/word-count.txt",
    )
    sh(
        "agents", "new", "task", "summarise",
        "--title", "Summarise the release for the changelog",
        "--role", "developer", "--need", "count-words",
        "-i", "notes/release-1.4.md", "-i", "build/word-count.txt",
        "-o", "CHANGELOG.md",
        "-a", "CHANGELOG.md has one bullet per user-visible change in the notes",
        "--verifier", "reviewer",
        "--intent", "Users scan the changelog before upgrading; give them the changes in one screen.",
    )
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "Declare the release pipeline")
    sh("agents", "validate")
    sh("agents", "status")
    sh("agents", "graph")
    sh("agents", "roles")
    print(f"\ndemo: done. Explore it: cd {target} && agents status")
    return 0
