"""The worked example of `python3 dev.py example`: a step that changes code. This repository's own
plan -> implement -> review pipeline (`.agents/tasks/example-*.md`, on the package in
`examples/textstats/`) is copied into a scratch repository and run there: the planner writes PLAN.md; the
coder runs the declared tests with `run`, sees them fail, edits the code under its output glob with
`edit_file`, sees them pass; a `run:` check runs the tests again and the reviewer judges the criteria;
then a person reviews. The model's answers come from the project's local Messages API with a script
(no key, no network)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from pipeline import _env, commands

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "examples/textstats"
FILES = [".agents/config.yaml", ".agents/roles/planner.md", ".agents/roles/coder.md", ".agents/roles/reviewer.md",
         ".agents/tasks/example-plan.md", ".agents/tasks/example-implement.md"]
TESTS = f'cd {PACKAGE} && "$AGENTS_PYTHON" -m pytest -q -p no:cacheprovider'

PLAN = """# Plan: top_words

- Add `top_words(text: str, n: int) -> list[tuple[str, int]]` to `src/textstats/core.py`, next to
  `word_count`, and export it from `src/textstats/__init__.py`.
- Count with `word_count`, so that words are what the package already calls words (lower case, no
  punctuation); sort by count, highest first, then alphabetically, so that words used equally often come
  in alphabetical order; keep the first `n`. An `n` of zero or less gives `[]`.
- Done when `tests/test_top_words.py` passes, and `tests/test_core.py` still does.
"""
ANCHOR = '    return Counter(words(text))\n'
TOP_WORDS = '''

def top_words(text: str, n: int) -> list[tuple[str, int]]:
    """The `n` most frequent words of `text` with their counts, most frequent first; words used equally
    often in alphabetical order."""
    if n <= 0:
        return []
    return sorted(word_count(text).items(), key=lambda item: (-item[1], item[0]))[:n]
'''
EXPORTS = ('from textstats.core import word_count, words\n\n__all__ = ["word_count", "words"]',
           'from textstats.core import top_words, word_count, words\n\n__all__ = ["top_words", "word_count", "words"]')


def script() -> list:  # type: ignore[type-arg]
    """The model's answers, in the order the steps ask: the planner, its verifier, the coder, its verifier."""
    from fake_anthropic import Reply

    def use(name: str, **args: object) -> Reply:
        return Reply.tool_use(name, args)

    def passed(*evidence: str) -> Reply:
        return use("verdict", checks=[{"criterion": str(n), "verdict": "pass", "evidence": e}
                                      for n, e in enumerate(evidence, 1)])

    core, init = f"{PACKAGE}/src/textstats/core.py", f"{PACKAGE}/src/textstats/__init__.py"
    return [
        use("write_file", path=f"{PACKAGE}/PLAN.md", content=PLAN),
        use("finish", summary="Planned top_words: in core.py beside word_count, exported, sorted by count then "
            "alphabetically.", decisions="Reuse word_count so that a word means what it means elsewhere."),
        passed("PLAN.md: core.py, exported from __init__.py, tests/test_top_words.py and test_core.py",
               "PLAN.md: 'then alphabetically'; 'An n of zero or less gives []'"),
        use("run", command=TESTS),
        use("search", pattern=r"def |^from ", glob=f"{PACKAGE}/src/**/*.py"),
        use("edit_file", path=core, old_string=ANCHOR, new_string=ANCHOR + TOP_WORDS),
        use("edit_file", path=init, old_string=EXPORTS[0], new_string=EXPORTS[1]),
        use("run", command=TESTS),
        use("finish", summary="Added top_words to textstats.core and exported it; the tests pass.",
            decisions="Sorted on (-count, word): one sort gives both orders the issue asks for.",
            next_steps="None: the plan is carried out."),
        passed("core.py defines top_words as PLAN.md says; __init__.py exports it",
               "the diff adds lines only; no import beyond the standard library"),
    ]


def run_example(target: Path, agents: Path) -> int:
    """Copy the pipeline into a scratch repository at `target` and run it against the scripted API."""
    sys.path.insert(0, str(ROOT / "tests"))
    from fake_anthropic import FakeAnthropic

    target.mkdir(parents=True, exist_ok=True)
    env = _env()
    sh = commands(target, agents, env)
    print(f"example: scratch repository {target}")
    sh("agents", "init", "--git", quiet=True)
    (target / ".agents/tasks/describe-project.md").unlink()
    shutil.copytree(ROOT / PACKAGE, target / PACKAGE, ignore=shutil.ignore_patterns("__pycache__", "PLAN.md"))
    for rel in FILES:
        (target / rel).write_bytes((ROOT / rel).read_bytes())
    sh("git", "add", "-A", quiet=True)
    sh("git", "commit", "-qm", "textstats and its pipeline", quiet=True)
    sh("agents", "status")
    print("\nexample: the model's answers below are SCRIPTED: a local Messages API (tests/fake_anthropic.py)"
          "\n         plays the planner, the coder and the reviewer, so no key and no network are needed.")
    with FakeAnthropic(*script()) as api:
        env["ANTHROPIC_BASE_URL"] = api.base_url
        try:
            sh("agents", "run")
        finally:
            env.pop("ANTHROPIC_BASE_URL", None)
    sh("git", "show", "--stat", "--format=%s", "HEAD", "--", PACKAGE)
    sh("agents", "show", "example-implement")
    sh("agents", "review")
    print(f"\nexample: `agents show example-implement --context` prints every tool call and its result; "
          f"to run the pipeline with a real model: cd {target} && ANTHROPIC_API_KEY=sk-ant-... agents run --force")
    return 0
