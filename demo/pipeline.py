"""The demo pipeline of `python3 dev.py demo`: a scratch repository where `agents` scaffolds the
convention, declares a small pipeline of deterministic steps, runs it (one commit per step), shows what
changed when an input is edited, and re-runs only what is stale. Then a model step: its context, a
verifier's verdict (a rejection, a retry with the evidence, a pass) and a person's review, against the
project's local Messages API with scripted answers (no key, no network)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
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


def commands(target: Path, agents: Path, env: dict[str, str], cluster: str | None = None):  # type: ignore[no-untyped-def]
    """`sh(*args)`: run a command in `target` as a person would type it (`agents` is the one at `agents`),
    shown with its output (`quiet`: neither), and stop the demo when it exits other than `expect`. With
    `cluster` (a Dask scheduler's address, or local:N), `agents run` carries its steps out there."""

    def sh(*args: str, expect: int = 0, quiet: bool = False) -> None:
        if cluster and args[:2] == ("agents", "run") and "--dry-run" not in args:
            args = (*args, "--cluster", cluster)
        shown = " ".join(shlex.quote(a) for a in args)
        if not quiet:
            print(f"\n$ {shown}", flush=True)
        program = str(agents) if args[0] == "agents" else args[0]
        code = subprocess.run([program, *args[1:]], cwd=target, env=env,
                              stdout=subprocess.DEVNULL if quiet else None).returncode
        if code != expect:
            raise SystemExit(f"demo: `{shown}` exited with {code}, expected {expect}")

    return sh


def run_demo(target: Path, agents: Path, cluster: str | None = None) -> int:
    target.mkdir(parents=True, exist_ok=True)
    env = _env()
    sh = commands(target, agents, env, cluster)
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
        "--intent", "Each release note's changes as changelog bullets, so the changelog is assembled, not retyped.",
    )
    sh(
        "agents", "new", "task", "count-words",
        "--title", "Count the words of the release notes",
        "--command", "cat notes/*.md | wc -w | tr -d ' ' > build/word-count.txt",
        "-i", "notes/*.md", "-o", "build/word-count.txt",
        "--check", "test -s build/word-count.txt",
        "--intent", "The size of the release notes, for the changelog's footer.",
    )
    sh(
        "agents", "new", "task", "changelog",
        "--title", "Assemble the changelog",
        "--command", "{ echo '# Changelog'; echo; cat build/changes/*.txt; echo; "
        "echo \"($(cat build/word-count.txt) words of notes)\"; } > CHANGELOG.md",
        "--need", "extract-changes", "--need", "count-words",
        "-i", "build/changes/*.txt", "-i", "build/word-count.txt", "-o", "CHANGELOG.md",
        "--check", "grep -q '^- ' CHANGELOG.md",
        "--intent", "Users scan the changelog before upgrading; give them every change in one screen.",
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
    model_steps(target, sh, env)
    print(f"\ndemo: done. Explore it: cd {target} && agents status")
    return 0


SUMMARY_V1 = "# Release 1.4\n\nThe importer reads CSV files.\n"
SUMMARY_V2 = (
    "# Release 1.4\n\n- The importer reads CSV files with a header row, and errors name the failing line.\n"
    "- Exports are twice as fast on large projects.\n- The XML exporter is deprecated.\n"
)


def model_steps(target: Path, sh, env: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """A model step with a verifier, against tests/fake_anthropic.py answering from a script."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from fake_anthropic import FakeAnthropic, Reply

    def verdict(first: tuple[str, str], second: tuple[str, str]) -> Reply:
        checks = [{"criterion": str(n), "verdict": v, "evidence": e} for n, (v, e) in enumerate((first, second), 1)]
        return Reply.tool_use("verdict", {"checks": checks})

    script = [
        # Attempt 1: the doer writes a summary that leaves changes out; the verifier rejects it.
        Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": SUMMARY_V1}),
        Reply.tool_use("finish", {"summary": "Summarised the release in one line.",
                                  "decisions": "Kept only the importer change."}),
        verdict(("fail", "SUMMARY.md names the importer only; the changelog also lists faster exports and the "
                         "XML deprecation"), ("pass", "it has a heading and fits on one screen")),
        # Attempt 2: the doer is given that evidence, writes every change; the verifier passes it.
        Reply.tool_use("write_file", {"path": "SUMMARY.md", "content": SUMMARY_V2}),
        Reply.tool_use("finish", {"summary": "One bullet per user-visible change of the changelog.",
                                  "decisions": "Followed the verifier: added the exporter changes."}),
        verdict(("pass", "three bullets, one per change in CHANGELOG.md"), ("pass", "a heading and three lines")),
    ]
    print("\ndemo: a model step, checked by a verifier. The model's answers below are SCRIPTED: a local "
          "Messages API\n      (tests/fake_anthropic.py) plays the model, so no key and no network are needed.")
    with FakeAnthropic(*script) as api:
        env["ANTHROPIC_BASE_URL"] = api.base_url
        try:
            sh("agents", "new", "task", "summarise", "--title", "Summarise the release for users",
               "--role", "developer", "--need", "changelog", "-i", "CHANGELOG.md", "-o", "SUMMARY.md",
               "--acceptance", "SUMMARY.md names every user-visible change of CHANGELOG.md",
               "--acceptance", "SUMMARY.md has a heading and fits on one screen",
               "--verifier", "reviewer", "--retries", "1",
               "--intent", "Users read the summary before upgrading; every change they will notice must be in it.")
            sh("agents", "run", "summarise", "--dry-run")
            sh("agents", "run")
            sh("agents", "show", "summarise")
            sh("agents", "review")
            sh("agents", "approve", "summarise")
            sh("agents", "log", "--usage")
        finally:
            env.pop("ANTHROPIC_BASE_URL", None)
    print(f"\ndemo: to run that step with a real model instead: cd {target} && "
          "ANTHROPIC_API_KEY=sk-ant-... agents run summarise --force")
