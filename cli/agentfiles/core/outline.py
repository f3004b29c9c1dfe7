"""Outlines for `view: outline` inputs: the shape of a file at a fraction of its tokens. Python gives its
classes and functions with their signatures and first docstring lines, markdown its headings, anything
else its first lines."""

from __future__ import annotations

import ast

HEAD_LINES = 40


def outline(path: str, text: str) -> str:
    if path.endswith((".py", ".pyi")):
        try:
            return _python(text)
        except (SyntaxError, ValueError):
            pass
    if path.endswith((".md", ".markdown", ".rst")):
        headings = _markdown(text)
        if headings:
            return headings
    return _head(text)


def _first_doc_line(node: ast.AST) -> str | None:
    doc = ast.get_docstring(node, clean=True) if isinstance(
        node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)
    ) else None
    return doc.strip().splitlines()[0] if doc and doc.strip() else None


def _python(text: str) -> str:
    tree = ast.parse(text)
    lines: list[str] = []
    doc = _first_doc_line(tree)
    if doc:
        lines.append(f'"""{doc}"""')

    def visit(body: list[ast.stmt], indent: str) -> None:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                for decorator in node.decorator_list:
                    lines.append(f"{indent}@{ast.unparse(decorator)}")
                lines.append(f"{indent}{_signature(node)}")
                first = _first_doc_line(node)
                if first:
                    lines.append(f'{indent}    """{first}"""')
                if isinstance(node, ast.ClassDef):
                    visit(node.body, indent + "    ")
            elif isinstance(node, (ast.Assign, ast.AnnAssign)) and not indent and _is_constant(node):
                source = ast.unparse(node)
                lines.append(source if len(source) <= 100 else source[:97] + "...")

    visit(tree.body, "")
    total = text.count("\n") + 1
    lines.append(f"# outline of {total} lines: signatures and first docstring lines only")
    return "\n".join(lines) + "\n"


def _is_constant(node: ast.Assign | ast.AnnAssign) -> bool:
    """Module constants (UPPER_CASE names and __all__) are part of a module's shape; other assignments are not."""
    targets = node.targets if isinstance(node, ast.Assign) else [node.target]
    names = [t.id for t in targets if isinstance(t, ast.Name)]
    return bool(names) and all(n.isupper() or n == "__all__" for n in names)


def _signature(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> str:
    if isinstance(node, ast.ClassDef):
        bases = [ast.unparse(b) for b in node.bases] + [ast.unparse(k) for k in node.keywords]
        return f"class {node.name}({', '.join(bases)}):" if bases else f"class {node.name}:"
    prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
    returns = f" -> {ast.unparse(node.returns)}" if node.returns else ""
    return f"{prefix} {node.name}({ast.unparse(node.args)}){returns}: ..."


def _markdown(text: str) -> str:
    headings = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("#"):
            headings.append(line.rstrip())
    if not headings:
        return ""
    return "\n".join(headings) + f"\n<!-- outline: headings of {text.count(chr(10)) + 1} lines -->\n"


def _head(text: str) -> str:
    lines = text.splitlines()
    if len(lines) <= HEAD_LINES:
        return text
    return "\n".join(lines[:HEAD_LINES]) + f"\n... ({len(lines) - HEAD_LINES} more lines)\n"
