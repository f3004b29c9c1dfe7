"""Glob classes in declared paths match what fnmatch matches, and compile without warnings."""

from __future__ import annotations

import fnmatch
import re
import warnings

import pytest

from agentfiles.core.fingerprint import _translate

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
