"""The demo pipeline of `python3 dev.py demo`: a scratch repository where `agents` scaffolds the
convention, declares a small pipeline of deterministic steps, runs it (one commit per step), shows what
changed when an input is edited, and re-runs only what is stale."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

NOTES = {
    "notes/importer.md": (
        "# Importer\n\nThe importer now reads CSV files with a header row.\n"
        "Errors name the line that failed.\n"
    ),
    "notes/exporter.md": "# Exporter\n\nExports are twice as fast on large projects.\n",
}
EDIT = ("notes/exporter.md", "# Exporter\n\nExports are twice as fast on large projects.\nThe XML exporter is deprecated.\n")


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

    def sh(*args: str, expect: int = 0) -> None:
        shown = " ".join(shlex.quote(a) for a in args)
        print(f"\n$ {shown}", flush=True)
        program = str(agents) if args[0] == "agents" else args[0]
        code = subprocess.run([program, *args[1:]], cwd=target, env=env).returncode
        if code != expect:
            raise SystemExit(f"demo: `{shown}` exited with {code}, expected {expect}")

    print(f"demo: scratch repository {target}")
    sh("agents", "init", "--git")
    (target / ".agents" / "tasks" / "describe-project.md").unlink()  # the example is a model step
    for rel, text in NOTES.items():
        (target / rel).parent.mkdir(parents=True, exist_ok=True)
        (target / rel).write_text(text)
    sh(
        "agents", "new", "task", "extract-changes",
        "--title", "List the changes in {name}",
        "--command", "grep -v '^#' {item} | grep . | sed 's/^/- /' > build/changes/{stem}.txt",
        "--foreach", "notes/*.md", "-i", "{item}", "-o", "build/changes/{stem}.txt",
    )
    sh(
        "agents", "new", "task", "count-words",
        "--title", "Count the words of the release notes",
        "--command", "cat notes/*.md | wc -w | tr -d ' ' > build/word-count.txt",
        "-i", "notes/*.md", "-o", "build/word-count.txt",
        "--check", "test -s build/word-count.txt",
    )
    sh(
        "agents", "new", "task", "changelog",
        "--title", "Assemble the changelog",
        "--command", "{ echo '# Changelog'; echo; cat build/changes/*.txt; echo; "
        "echo \"($(cat build/word-count.txt) words of notes)\"; } > CHANGELOG.md",
        "--need", "extract-changes", "--need", "count-words",
        "-i", "build/changes/*.txt", "-i", "build/word-count.txt", "-o", "CHANGELOG.md",
        "--check", "grep -q '^- ' CHANGELOG.md",
    )
    sh("git", "add", "-A")
    sh("git", "commit", "-qm", "Declare the release pipeline")
    sh("agents", "validate")
    sh("agents", "graph")
    sh("agents", "run", "--dry-run")
    sh("agents", "run")
    sh("cat", "CHANGELOG.md")
    sh("agents", "log")
    print(f"\ndemo: now a note changes; only the steps that read it are stale.")
    (target / EDIT[0]).write_text(EDIT[1])
    sh("git", "commit", "-qam", "Deprecate the XML exporter")
    sh("agents", "status")
    sh("agents", "run")
    sh("agents", "show", "changelog")
    sh("agents", "run")
    print(f"\ndemo: done. Explore it: cd {target} && agents status")
    return 0
