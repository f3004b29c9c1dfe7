"""The compiled YAML fast path never answers differently from PyYAML: it answers the same data, in the
same key order, or leaves the document to PyYAML."""

from __future__ import annotations

import itertools
from importlib import resources

import pytest
import yaml
from agentfiles.storage.documents import DocumentError, load_yaml_text, parse_document
from agentfiles.storage.fastyaml import fast_load

# Plain scalars YAML 1.1 (PyYAML) and YAML 1.2 (yaml-rs) read differently, and other traps.
DIFFERENT = [
    "a: yes\n", "a: No\n", "a: ON\n", "on: 1\n", "a: [1, no]\n", "x: {a: off}\n",
    "a: 017\n", "a: 09\n", "a: 0o17\n", "a: 1e5\n", "a: 1.0e5\n", "a: -.5\n", "a: +.5\n",
    "a: 1:30\n", "a: 1:30:00.5\n", "a: 2026-01-05\n", "a: 2026-01-05 10:00:00\n", "a: 2026-1-5T10:00:00Z\n",
    "a: !foo x\n", "a: [!!str 1]\n", "a: !!int '3'\n", "<<: {a: 1}\n", "a: =\n",
    "a: 017\nb: 17\n", "a: x\n---\nb: 1\n", "%YAML 1.1\n---\na: 1\n", "a: 1\na: 2\n", "x:\n  a: 1\n  a: 2\n",
    "a: '\x07'\n", "a: b: c\n", "a:\n\t- b\n", "a: [1, 2\n",
    "description: Reviews data. Triggers on: 'GDPR', 'privacy'\n",
    # a word after a longer string: the scan for short strings must not start inside or between strings
    "a: [abcdefg, yes]\n", "title: Implement stuff\nnetwork: yes\n", "k: [long-string, 0x1_0, On]\n",
    "a: 'x,'\nb: [no]\n", "a: {'k:': off}\n", "a: ['x,', yes]\n", "a: ['[', abcdefgh, Off]\n",
    "a: &x [1]\nb: *x\n",  # an alias: yaml-rs would copy what it names (PyYAML shares it, and it is measured)
    # a date or number that is plain somewhere, or not in the text as it is (folded, escaped), though quoted too
    "a: '2026-01-05'\nb: 2026-01-05\n", "a: '017'\nb: [017]\n",
    "a: 2001-12-14\n  21:59:43.10\nb: '2001-12-14 21:59:43.10'\n", 'a: "\\x32026-01-05"\n',
    # tabs PyYAML refuses and yaml-rs takes: the file would be valid only where yaml-rs is installed
    "a: 1\n\t\nb: 2\n", "a: 1\n \t\nb: 2\n", "a: x\t\nb: 2\n", "a: [1,\t2]\n", "a: 1 \t# c\n", "\t\na: 1\n",
    "a:\n  - 1\n\t\n  - 2\n", "a: b\n  \tc\n",
    "a: ._5\n", "a: 1e+5\n", "a: [2, 1E-5]\n", "a: \u2028\n", "a: x\u2029y\n", "a: \x85\n",
    "k: {x: 0 ? x}\n", "k: [on ? x, 1]\n", "? a\n: 1\n",
    # every ASCII control character PyYAML refuses, in a plain scalar and in a quoted one
    *(f"a: x{chr(c)}y\n" for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]),
    *(f"a: 'x{chr(c)}y'\n" for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F]),
]
SAME = [
    "title: Turn on the light\nrun: 'true'\n", "a: 0b11\n", "a: 1_000\n", "a: 1.5\nb: 12\nc: -3\nd: 0x1F\ne: 1.0e+5\n",
    "t: 'Task 5: step 5'\nd: sha256:0123abc\n", "run: 20261124T120000Z-bench0\n",
    "inputs:\n- data/in.txt\n- {handoff: t}\n- {path: src/x.py, view: outline}\n",
    "a: null\nb: ~\nc:\nd: true\ne: False\n", "a: |\n  t\n  u\nb: >\n  f\n  g\n",
    "z: 1\ny: 2\nx: {c: 1, b: 2, a: 3}\n",
    # a handoff's times, quoted as the runner writes them (they once sent every handoff to PyYAML)
    "started: '2026-12-03T01:17:47Z'\nfinished: \"2026-12-03T01:17:48Z\"\nusage: {duration_s: 1.012}\n",
    "a: '017'\nb: ['1:30', \"0o17\"]\n", "a: \"x\\ny\"\nb: 'it''s'\n", "a: ünïcode ✓\n",
]


@pytest.mark.parametrize("text", DIFFERENT + SAME)
def test_the_fast_path_agrees_with_pyyaml_or_stands_aside(text: str) -> None:
    fast = fast_load(text)
    if fast is None:
        return
    expected = yaml.load(text, Loader=yaml.SafeLoader)
    assert fast == expected
    assert repr(fast) == repr(expected)  # same types and key order


@pytest.mark.parametrize("text", DIFFERENT)
def test_what_the_versions_read_differently_goes_to_pyyaml(text: str) -> None:
    assert fast_load(text) is None


@pytest.mark.parametrize("text", SAME)
def test_plain_documents_take_the_fast_path(text: str) -> None:
    assert fast_load(text) is not None


def test_the_templates_take_the_fast_path() -> None:
    templates = resources.files("agentfiles.templates")
    texts = [f.read_text() for folder in ("roles", "tasks") for f in templates.joinpath(folder).iterdir()
             if f.name.endswith(".md")]
    assert texts
    for text in texts:
        fm = text.split("---\n")[1]
        assert fast_load(fm) == yaml.load(fm, Loader=yaml.SafeLoader)


def test_errors_keep_pyyamls_message_and_line() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("---\ntitle: x\ndescription: Triggers on: 'GDPR'\n---\nbody\n")
    assert info.value.line == 3 and "mapping values are not allowed" in info.value.message
    with pytest.raises(DocumentError) as dup:
        load_yaml_text("a: 1\nb: 2\na: 3\n", 5)
    assert dup.value.line == 7 and "duplicate key 'a'" in dup.value.message


def test_words_are_seen_wherever_they_stand() -> None:
    """Every short scalar among longer ones and strings ending in JSON's punctuation, in flow lists and in
    block mappings: the fast path answers as PyYAML does, or stands aside (a scan of the serialised data
    once lost a word that followed a string of six or more characters)."""
    pool = ["yes", "Off", "x", "abcdefgh", "'a,'", "'k:'", "'['", "'{'", "'yes'", '"on"', "017"]
    for a, b, c in itertools.product(pool, repeat=3):
        for text in (f"k: [{a}, {b}, {c}]\n", f"a: {a}\nb: {b}\nc: {c}\n", f"{{p: {a}, q: [{b}], r: {c}}}\n"):
            fast = fast_load(text)
            if fast is not None:
                assert repr(fast) == repr(yaml.load(text, Loader=yaml.SafeLoader)), text


def test_a_handoff_the_runner_writes_takes_the_fast_path(project) -> None:  # type: ignore[no-untyped-def]
    """Every handoff records when its step started and finished, quoted; the fast path reads it."""
    from conftest import run_program, task_text, write_files

    write_files(project, {".agents/tasks/t.md": task_text("T", run="echo hi > o.txt", outputs=["o.txt"])})
    assert run_program("run", "t", cwd=project).code == 0
    text = (project / ".agents/handoffs/t.md").read_text()
    fm = text.split("---\n")[1]
    assert "started: '" in fm and "finished: '" in fm
    assert fast_load(fm) == yaml.load(fm, Loader=yaml.SafeLoader)


def test_generated_documents_agree_with_pyyaml_or_go_to_it() -> None:
    """Thousands of small documents mixing the forms the two versions read differently (words, octals,
    exponents, dates, times, tags of nothing but quotes) with plain ones, as keys and values, in block and
    flow style: whatever the fast path answers is what PyYAML builds, and it still answers for many."""
    import random

    values = ["yes", "Off", "x", "abcdefgh", "'a,'", "'k:'", "'['", "'yes'", '"on"', "017", "1", "1.5", "-3", "0x1F",
              "1e5", "1.0e+5", "'2026-01-05'", "2026-01-05", "20261124T120000Z-bench0", "'017'", "~", "null", "''",
              '""', "sha256:abc", "1:30", "'1:30'", "-.5", "+1", "0b11", "1_000", "'x y'", "true", "False", "=", "<<",
              ".inf", "'.5'", "abc def", "!!str 5", "'2026-12-03T01:17:47Z'", "|", ">", "._5", "1e+5", "1.0e5", "&a x",
              "x:y", "\u2028", "-0", "1."]
    keys = ["a", "yes", "1", "'1'", "on", "'on'", "~", "017", "k", "'2026-01-05'"]
    rng = random.Random(14)
    answered = 0
    for _ in range(4000):
        ks = rng.sample(keys, k=rng.randint(1, 4))
        vs = [rng.choice(values) for _ in ks]
        text = rng.choice([
            "".join(f"{k}: {v}\n" for k, v in zip(ks, vs)),
            f"{ks[0]}: [{', '.join(vs)}]\n",
            "{" + ", ".join(f"{k}: {v}" for k, v in zip(ks, vs)) + "}\n",
            f"{ks[0]}:\n" + "".join(f"- {v}\n" for v in vs) + f"z: {{q: [{vs[0]}]}}\n",
            "".join(f"{k}: {v}\n\t\n" for k, v in zip(ks, vs)),  # a line of a tab
            f"{ks[0]}: [" + ",\t".join(vs) + "]\n",
        ])
        fast = fast_load(text)
        if fast is not None:
            answered += 1
            assert repr(fast) == repr(yaml.load(text, Loader=yaml.SafeLoader)), text
    assert answered > 400
