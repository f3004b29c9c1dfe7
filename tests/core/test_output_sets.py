"""Output globs: which paths a declared output names, and whether two declared outputs can name one file."""

from __future__ import annotations

import itertools
import random

import pytest

from agentfiles.core.globs import OutputSet, folder_output, inside, matches, overlap


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("src/pkg/**/*.py", "src/pkg/a.py", True),
    ("src/pkg/**/*.py", "src/pkg/sub/deep/a.py", True),
    ("src/pkg/**/*.py", "src/pkg/a.txt", False),
    ("src/pkg/**/*.py", "src/other/a.py", False),
    ("src/pkg/**/*.py", "src/pkg/.hidden/a.py", False),  # ** never enters a hidden folder
    ("src/pkg/**/*.py", "src/pkg/.a.py", False),  # nor does * match a leading dot
    ("docs/**", "docs/a/b.md", True),
    ("docs/*.md", "docs/a/b.md", False),
    ("out/report.md", "out/report.md", True),
    ("out/report.md", "out/report.mdx", False),
    ("src/[ab].py", "src/b.py", True),
    ("src/[!ab].py", "src/c.py", True),
    ("src/[!ab].py", "src/a.py", False),
])
def test_a_declared_output_names_the_paths_its_glob_matches(pattern: str, path: str, expected: bool) -> None:
    assert matches(pattern, path) is expected
    assert (path in OutputSet([pattern])) is expected


def test_a_folder_output_is_every_file_under_it() -> None:
    assert folder_output("docs/") == "docs/**"
    assert folder_output("docs") == "docs"
    assert folder_output("src/*/") == "src/*/**"  # a glob of folders: every file under them
    assert folder_output("src/**/") == "src/**" and folder_output("**/") == "**"
    assert OutputSet(["out/a.md", "src/pkg/**/*.py"]).folders() == ["out", "src/pkg"]


@pytest.mark.parametrize(("a", "b", "expected"), [
    ("src/**/*.py", "src/pkg/*.py", True),
    ("src/a/*.py", "src/b/*.py", False),
    ("docs/**", "docs/api.md", True),
    ("docs/*.md", "docs/*.txt", False),
    ("docs/*.md", "docs/a*", True),
    ("src/**", "src", True),  # the folder itself: a file `src` and files under `src/` cannot coexist
    ("**/*.py", ".agents/tasks/x.py", False),  # ** never enters a hidden folder
    (".a*/**", ".agents/tasks/x.md", True),
    ("*", ".env", False),
    ("[.]env", ".env", False),  # a class never matches a leading dot either
    ("*[.]", "[.]*", False),  # nor after a star that matched nothing
    ("*[.a]", "[.b]*", True),  # "ba"
    ("src/[a-c]*.py", "src/d*.py", False),
    ("src/[a-c]*.py", "src/[!a]x.py", True),
    ("a/**/b/*.py", "a/x/y/b/c.py", True),
    ("a/**/b/*.py", "a/b/c.txt", False),
])
def test_two_declared_outputs_overlap_when_one_path_can_match_both(a: str, b: str, expected: bool) -> None:
    assert overlap(a, b) is expected
    assert overlap(b, a) is expected


def test_a_file_and_a_folder_holding_another_file_are_inside_each_other() -> None:
    assert inside("out", "out/x.md") and inside("out/x.md", "out")
    assert inside("out/*.md", "out/a.md/b")
    assert not inside("out/a.md", "other/b.md")


NAMES = ["a", "b", "ab", "ba", ".a", "a.py", "b.py", ".py"]
PARTS = ["a", "b", "*", "?", "a*", "*a", "*.py", "[ab]", "[!a]*", ".*", ".a", "**"]


def _universe() -> list[str]:
    return ["/".join(p) for depth in (1, 2, 3) for p in itertools.product(NAMES, repeat=depth)]


def test_overlap_agrees_with_the_paths_both_globs_match() -> None:
    """Against brute force over every path of up to three parts: overlap is never wrong either way
    (the universe holds a witness for every pair these parts can form)."""
    universe = _universe()
    rng = random.Random(15)
    patterns = {"/".join(rng.choice(PARTS) for _ in range(rng.randint(1, 3))) for _ in range(140)}
    patterns = sorted(p for p in patterns if "**/**" not in p)
    matched = {p: {u for u in universe if matches(p, u)} for p in patterns}
    for a, b in itertools.combinations(patterns, 2):
        common = matched[a] & matched[b]
        # a trailing ** also names the folder itself, which the file universe does not list
        folder = any(overlap(x.removesuffix("/**"), y) for x, y in ((a, b), (b, a)) if x.endswith("/**"))
        assert overlap(a, b) == (bool(common) or folder), (a, b, sorted(common)[:3])


@pytest.mark.parametrize("path", ["CLAUDE.md", "docs/CLAUDE.md", "AGENTS.md", "a/b/CLAUDE.local.md",
                                  ".claude/settings.json", ".claude/agents/coder.md", ".agents/tasks/t.md"])
def test_no_output_glob_names_a_file_read_as_instructions_but_a_path_listed_does(path: str) -> None:
    globs = OutputSet(["**/*.md", "**", ".claude/**", ".agents/**"])
    assert globs.in_globs(path) and path not in globs and globs.excluded(path)
    assert path in OutputSet([path, "**"]) and OutputSet([path, "**"]).excluded(path) is None
    assert "docs/CLAUDE.md.bak" in globs and "NOTCLAUDE.md" in globs
