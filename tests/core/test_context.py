"""Context assembly: what a model step is sent, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest
from agentfiles.core.claude_imports import context_files
from agentfiles.core.context import Brief, assemble
from agentfiles.core.outline import outline
from agentfiles.core.tokens import estimate_tokens
from agentfiles.errors import ConventionError
from conftest import write_files


def brief(**changes: object) -> Brief:
    values: dict[str, object] = dict(
        step_id="t", title="T", intent="## Intent\n\nDo it.", criteria=["It is good"], checks=["pytest -q"],
        outputs=["src/hello.py"], inputs=[("data/spec.md", "full")], handoffs=[("design", "## Summary\n\nDesigned.")],
    )
    values.update(changes)
    return Brief(**values)  # type: ignore[arg-type]


def test_claude_md_imports_are_followed_relative_to_the_importing_file(tmp_path: Path) -> None:
    write_files(tmp_path, {
        "CLAUDE.md": "Root. See @docs/rules.md and @AGENTS.md.\n```\n@not/this.md\n```\nAnd `@nor/this.md`.\n",
        "docs/rules.md": "Rules. @style.md\n",
        "docs/style.md": "Style.\n",
        "AGENTS.md": "Agents.\n",
        "not/this.md": "NO\n",
        "nor/this.md": "NO\n",
        "src/CLAUDE.md": "Src context.\n",
        "src/api/CLAUDE.md": "Api context.\n",
        "other/CLAUDE.md": "Not on the way.\n",
    })
    files = context_files(tmp_path, ["src/api/x.py", "README.md"])
    assert [p for p, _ in files] == [
        "CLAUDE.md", "docs/rules.md", "docs/style.md", "AGENTS.md", "src/CLAUDE.md", "src/api/CLAUDE.md",
    ]


def test_import_cycles_and_depth_are_refused(tmp_path: Path) -> None:
    write_files(tmp_path, {"CLAUDE.md": "@a.md\n", "a.md": "@b.md\n", "b.md": "@a.md\n"})
    with pytest.raises(ConventionError) as info:
        context_files(tmp_path, [])
    assert "CLAUDE.md import cycle: CLAUDE.md -> a.md -> b.md -> a.md" in str(info.value)
    chain = {"CLAUDE.md": "@l1.md\n"} | {f"l{i}.md": f"@l{i + 1}.md\n" for i in range(1, 8)} | {"l8.md": "end\n"}
    write_files(tmp_path, chain)
    with pytest.raises(ConventionError) as info:
        context_files(tmp_path, [])
    assert "deeper than 5 levels" in str(info.value)


def test_imports_never_leave_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write_files(tmp_path, {"secret.md": "SECRET\n"})
    write_files(repo, {"CLAUDE.md": "@../secret.md @/etc/passwd @~/.bashrc\n"})
    assert [p for p, _ in context_files(repo, [])] == ["CLAUDE.md"]


def test_assembly_is_deterministic_and_complete(tmp_path: Path) -> None:
    write_files(tmp_path, {"CLAUDE.md": "Project.\n", "data/spec.md": "Spec text.\n", "secret.txt": "SECRET\n"})
    read = lambda rel: (tmp_path / rel).read_text()  # noqa: E731
    one = assemble(tmp_path, "You are a dev.", brief(), read)
    two = assemble(tmp_path, "You are a dev.", brief(), read)
    body = one.request("claude-x", 1000)
    assert body == two.request("claude-x", 1000)
    assert body["system"][0]["text"] == "You are a dev."
    assert body["system"][-1]["cache_control"] == {"type": "ephemeral"}
    assert "# Context file: CLAUDE.md" in body["system"][-1]["text"]
    text = "\n\n".join(block["text"] for block in body["messages"][0]["content"])
    for expected in ("## Intent\n\nDo it.", "- It is good", "`pytest -q` must exit 0", "- `src/hello.py`",
                     "### `data/spec.md`", "Spec text.", "### design", "Designed."):
        assert expected in text
    assert text.count("## Intent") == 1
    assert "SECRET" not in str(body)
    assert [t["name"] for t in body["tools"]] == ["read_file", "write_file", "finish"]


def test_outline_inputs_and_budget_parts(tmp_path: Path) -> None:
    source = "\n".join(["'''Module doc.'''", "import os", "", "class Store:", "    '''Keeps items.'''",
                        "    def get(self, key: str) -> int:", "        '''Get one.'''", "        return 1" * 1]
                       + ["x = 1"] * 200)
    write_files(tmp_path, {"src/store.py": source})
    context = assemble(tmp_path, "Role.", brief(inputs=[("src/store.py", "outline")], handoffs=[]),
                       lambda rel: (tmp_path / rel).read_text())
    text = context.brief
    assert "(outline; `read_file` gives the full text)" in text
    assert "class Store:" in text and "def get(self, key: str) -> int: ..." in text and "Get one." in text
    assert "return 1" not in text
    assert context.full_inputs["src/store.py"] == source and context.outlined == ["src/store.py"]
    parts = {p.label: p for p in context.parts}
    assert parts["src/store.py"].kind == "outline" and parts["src/store.py"].tokens < estimate_tokens(source)


def test_outlines_of_markdown_and_other_text() -> None:
    md = "# Title\n\ntext\n\n## Part\n\n```\n# not a heading\n```\n"
    assert outline("a.md", md).splitlines()[:2] == ["# Title", "## Part"]
    long = "\n".join(f"line {i}" for i in range(100))
    shown = outline("a.txt", long)
    assert shown.startswith("line 0\n") and "line 40" not in shown and "(60 more lines)" in shown
    assert outline("bad.py", "def (:\n" * 3).startswith("def (:")  # not Python after all: head of lines


def test_token_estimate_is_conservative() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("abcd" * 100) == 134  # 400 bytes / 3, rounded up
    assert estimate_tokens("日本語") == 3
