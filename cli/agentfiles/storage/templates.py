"""Scaffolding text shipped inside the package, read through importlib.resources (editable or installed)."""

from __future__ import annotations

from importlib import resources


def template_text(name: str) -> str:
    """The text of `templates/<name>` (a forward-slash path)."""
    node = resources.files("agentfiles.templates")
    for part in name.split("/"):
        node = node / part
    return node.read_text(encoding="utf-8")


def template_names(folder: str) -> list[str]:
    """The file names in a template folder, sorted."""
    node = resources.files("agentfiles.templates") / folder
    return sorted(p.name for p in node.iterdir() if p.is_file() and not p.name.startswith(("_", ".")))
