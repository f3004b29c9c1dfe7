from __future__ import annotations

import pytest

from agentfiles.storage.documents import DocumentError, dump_document, parse_document


def test_lines_of_keys_and_items_are_file_lines() -> None:
    doc = parse_document("---\ntitle: x\ninputs:\n  - a.md\n  - path: b.md\n    view: outline\n---\nbody\n")
    assert doc.meta["title"] == "x"
    assert doc.body == "body\n"
    assert doc.source.line(("title",)) == 2
    assert doc.source.line(("inputs",)) == 3
    assert doc.source.line(("inputs", 1)) == 5
    assert doc.source.line(("inputs", 1, "view")) == 6
    assert doc.source.line(("missing",)) == 2  # falls back to the mapping's start


def test_yaml_syntax_error_gives_the_file_line() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("---\ntitle: x\nneeds: [a, b\nrole: y\n---\n")
    assert info.value.line == 4
    assert "YAML syntax error" in info.value.message and "started at line 3" in info.value.message


def test_tab_indentation_error_line() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("---\ntitle: x\nrole:\n\t- y\n---\n")
    assert info.value.line == 4


def test_duplicate_top_level_keys_are_an_error() -> None:
    with pytest.raises(DocumentError) as info:
        parse_document("---\ntitle: x\ninputs: [a]\ninputs: [b]\n---\n")
    assert info.value.line == 4 and "duplicate key 'inputs' (first at line 3)" in info.value.message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no frontmatter\n", "does not start with a '---'"),
        ("---\ntitle: x\n", "not closed"),
        ("---\n- a\n- b\n---\n", "must be a mapping"),
    ],
)
def test_malformed_documents(text: str, message: str) -> None:
    with pytest.raises(DocumentError) as info:
        parse_document(text)
    assert message in info.value.message


def test_dump_keeps_key_order_and_round_trips() -> None:
    meta = {
        "title": "T",
        "role": "dev",
        "inputs": ["a.md", {"path": "b.py", "view": "outline"}],
        "outputs": ["c.md"],
        "acceptance": ["Line one", {"run": "pytest -q"}],
        "note": "multi\nline",
    }
    text = dump_document(meta, "## Intent\n\nWhy.\n")
    assert text.startswith("---\ntitle: T\nrole: dev\n")
    assert "note: |-\n  multi\n  line\n" in text
    doc = parse_document(text)
    assert doc.meta == meta and doc.body == "## Intent\n\nWhy.\n"


def test_the_frontmatter_is_cut_where_python_frontmatter_cuts_it() -> None:
    """parse_document finds the closing line itself (not trying the pattern at every character): the same
    frontmatter and body as python-frontmatter's split, or the same refusal, for lines of dashes, blanks and
    text in every order."""
    import itertools

    import frontmatter

    handler = frontmatter.YAMLHandler()
    pieces = ["---", "----  ", "--- x", " ---", "", "  ", "a: 1", "-- -", "---\t"]
    for count in (2, 3, 4):
        for lines in itertools.product(pieces, repeat=count):
            for end in ("", "\n"):
                text = "\n".join(lines) + end
                try:
                    expected: tuple[str, str] | None = handler.split(text) if handler.detect(text) else None
                except ValueError:
                    expected = None
                try:
                    doc = parse_document(text)
                except DocumentError as exc:
                    if expected is None:
                        assert "frontmatter" in exc.message, text
                    else:
                        assert "YAML" in exc.message or "mapping" in exc.message, text
                    continue
                assert expected is not None, text
                assert (doc.source.yaml_text, doc.body) == (expected[0], expected[1].lstrip("\n")), text
