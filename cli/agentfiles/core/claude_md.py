"""The managed block of CLAUDE.md: `agents init` owns the text between its markers and nothing else."""

from __future__ import annotations

BEGIN = "<!-- agents:begin - managed by `agents init`; edit outside this block -->"
END = "<!-- agents:end -->"


def render_block(body: str, import_agents_md: bool) -> str:
    lines = [BEGIN, body.strip()]
    if import_agents_md:
        lines += ["", "Project instructions shared with other agent tools:", "", "@AGENTS.md"]
    lines.append(END)
    return "\n".join(lines) + "\n"


def merge_block(existing: str | None, block: str, new_file_text: str) -> str:
    """CLAUDE.md with `block` in place: replaced between the markers, or appended; other bytes kept as they are."""
    if existing is None:
        return new_file_text.rstrip("\n") + "\n\n" + block
    # The block is the last BEGIN before the last END: a stray marker of the user's is text, not a block.
    end = existing.rfind(END)
    start = existing.rfind(BEGIN, 0, end) if end != -1 else -1
    if start != -1:
        after = end + len(END)
        if existing.startswith("\n", after):
            after += 1
        return existing[:start] + block + existing[after:]
    if not existing or existing.endswith("\n\n"):
        separator = ""
    elif existing.endswith("\n"):
        separator = "\n"
    else:
        separator = "\n\n"
    return existing + separator + block
