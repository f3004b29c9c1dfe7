from __future__ import annotations

from agentfiles.core.claude_md import BEGIN, END, merge_block, render_block

BLOCK = render_block("Managed text.", import_agents_md=False)


def test_new_file_gets_the_starter_text_and_the_block() -> None:
    text = merge_block(None, BLOCK, "# Project\n")
    assert text == "# Project\n\n" + BLOCK


def test_existing_text_is_kept_byte_for_byte_when_the_block_is_appended() -> None:
    for existing in ("no newline", "one newline\n", "two\n\n", "crlf\r\nline\r\n", ""):
        merged = merge_block(existing, BLOCK, "unused")
        assert merged.startswith(existing)
        assert merged.endswith(BLOCK)


def test_block_is_replaced_in_place_and_the_rest_kept() -> None:
    before = "intro\n\n"
    after = "\nouttro with trailing spaces   \n"
    existing = before + render_block("Old text.", import_agents_md=False) + after
    merged = merge_block(existing, BLOCK, "unused")
    assert merged == before + BLOCK + after
    assert merge_block(merged, BLOCK, "unused") == merged


def test_agents_md_is_imported_not_copied() -> None:
    block = render_block("Managed text.", import_agents_md=True)
    assert "\n@AGENTS.md\n" in block and block.startswith(BEGIN) and block.rstrip().endswith(END)
