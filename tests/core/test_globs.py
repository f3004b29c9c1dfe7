"""Glob classes in declared paths match what fnmatch matches, and compile without warnings."""

from __future__ import annotations

import fnmatch
import re
import warnings

import pytest

from agentfiles.core.globs import glob_parts_regex as _translate

CASES = {
    "a[[]b": ["a[b", "ab"], "[[]": ["["], "x[!]]y": ["xay", "x]y"], "[^a]": ["^", "a", "b"],
    "a[\\]b": ["a\\b", "ab"], "[!a]": ["b", "a"], "[]a]": ["]", "a", "b"], "*[0-9].py": ["x1.py", "x.py"],
}


@pytest.mark.parametrize(("pattern", "name"), [(p, n) for p, names in CASES.items() for n in names])
def test_a_class_matches_as_fnmatch_does(pattern: str, name: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        regex = re.compile(_translate([pattern]))
    assert bool(regex.fullmatch(name)) == fnmatch.fnmatchcase(name, pattern)


def test_colliding_finds_every_pair_that_overlap_finds() -> None:
    """The literal start and end only rule pairs out: what is left is what comparing every pair finds."""
    from agentfiles.core.globs import colliding, overlap

    paths = ["out/a*.txt", "out/ab*.txt", "out/b.txt", "out/**/a.md", "out/x/a.md", "out/[ab].txt", "out/a",
             "out/a/**", "out/?b*.txt", "src/**", "src/pkg/*.py", "src/pkg/x.py", "docs/*.md", "*.md", "x.md",
             "out/ab.txt.bak", "out/*.bak"]
    named = [(f"owner{i}", p) for i, p in enumerate(paths)]
    found = {frozenset([a, b]) for a, b in colliding(named)}
    expected = {frozenset([a, b]) for i, a in enumerate(named) for b in named[i + 1:]
                if any(c in a[1] + b[1] for c in "*?[") and overlap(a[1], b[1])}
    assert found == expected and len(expected) > 10, (found ^ expected)
