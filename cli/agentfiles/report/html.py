"""The report's HTML pieces: the page shell (one stylesheet and one script, both shipped in the package,
under a policy that lets a page fetch nothing else), escaping, and the small parts pages are made of:
state chips, tables, figures, diffs, collapsed sections and a safe subset of markdown."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html import escape
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agentfiles.report.collect import Report

# Pages may load their own stylesheet and script and nothing else: no network, no inline code. `file:` is
# named too because browsers differ on whether 'self' covers a page opened from disk.
POLICY = ("default-src 'none'; style-src 'self' file:; script-src 'self' file:; img-src 'self' data:; "
          "base-uri 'none'; form-action 'none'")
TEXT_CAP = 400_000  # characters of one block of text (a turn, an output) shown before it is cut
DIFF_CAP = 4_000  # lines of one diff shown before it is cut


def e(text: object) -> str:
    return escape(str(text), quote=True)


def page(title: str, body: str, *, depth: int, here: str, report: Report) -> str:
    """A whole page; `depth` is how many folders below the report's root it lives, `here` its nav key."""
    up = "../" * depth
    where = f"{e(report.branch) + ' at ' if report.branch else ''}{e(report.head[:10]) if report.head else 'no commit yet'}"
    pending = len(report.pending)
    nav = [("index", "index.html", "Overview"), ("history", "history.html", "History"),
           ("review", "review.html", f"Review ({pending})" if pending else "Review")]
    current = ' aria-current="page"'
    links = "".join(f'<a href="{up}{href}"{current if key == here else ""}>{label}</a>' for key, href, label in nav)
    name = e(report.root.name or "project")
    return (
        "<!doctype html>\n"
        f'<html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{POLICY}">'
        f'<title>{e(title)} · {name}</title>'
        f'<link rel="stylesheet" href="{up}assets/report.css">'
        f'<script src="{up}assets/report.js" defer></script></head>\n'
        f'<body><header class="top"><a class="brand" href="{up}index.html">{name}</a>'
        f'<nav aria-label="report">{links}</nav><span class="where">{where}</span></header>\n'
        f'<main>{body}</main>\n'
        f'<footer>Written by <code>agents report</code> (agentfiles {e(report.version)}) '
        f'on {e(report.built)}. Static files: no server, nothing fetched.</footer>'
        "</body></html>\n"
    )


def chip(state: str, text: str | None = None) -> str:
    return f'<span class="chip state-{e(state)}">{e(text if text is not None else state)}</span>'


def section(anchor: str, title: str, body: str, extra: str = "") -> str:
    return f'<section id="{e(anchor)}"><h2>{e(title)}{extra}</h2>{body}</section>'


def table(headers: Iterable[str], rows: Iterable[Iterable[str]], *, cls: str = "", numeric: Iterable[int] = ()) -> str:
    """A table of cells that are already HTML; `numeric` columns are right-aligned."""
    right = set(numeric)
    num = ' class="num"'
    head = "".join(f'<th{num if i in right else ""} scope="col">{h}</th>' for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td{num if i in right else ""}>{c}</td>' for i, c in enumerate(row)) + "</tr>" for row in rows
    )
    return f'<div class="scroll"><table class="{e(cls)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def facts(pairs: Iterable[tuple[str, str]]) -> str:
    """A definition list of (label, HTML value), leaving out empty values."""
    items = "".join(f"<div><dt>{e(k)}</dt><dd>{v}</dd></div>" for k, v in pairs if v)
    return f'<dl class="facts">{items}</dl>'


def details(summary: str, body: str, *, open_: bool = False, cls: str = "") -> str:
    return (f'<details class="{e(cls)}"{" open" if open_ else ""}><summary>{summary}</summary>'
            f'<div class="details-body">{body}</div></details>')


def pre(text: str, cls: str = "", hint: str = "") -> str:
    shown = text if len(text) <= TEXT_CAP else text[:TEXT_CAP]
    cut = (f'<p class="note">{len(text) - TEXT_CAP:,} more characters are not shown here{"; " + hint if hint else ""}.</p>'
           if len(text) > TEXT_CAP else "")
    return f'<pre class="{e(cls)}">{e(shown)}</pre>{cut}'


def diff_html(text: str, hint: str = "") -> str:
    """A unified diff with added, removed and hunk lines marked."""
    lines = text.splitlines()
    out = []
    for line in lines[:DIFF_CAP]:
        kind = ("meta" if line.startswith(("+++", "---", "diff ", "Binary files")) else "add" if line.startswith("+")
                else "del" if line.startswith("-") else "hunk" if line.startswith("@@") else "ctx")
        out.append(f'<span class="d-{kind}">{e(line)}\n</span>')  # the newline is kept for copying
    cut = (f'<p class="note">{len(lines) - DIFF_CAP:,} more lines are not shown here{"; " + hint if hint else ""}.</p>'
           if len(lines) > DIFF_CAP else "")
    return f'<pre class="diff">{"".join(out)}</pre>{cut}'


def money(value: Any) -> str:
    return f"${float(value or 0):.4f}"


def number(value: Any) -> str:
    return f"{int(value or 0):,}"


def seconds(value: Any) -> str:
    return f"{float(value or 0):.2f} s"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def tokens(usage: dict) -> str:  # type: ignore[type-arg]
    return f"{number(usage.get('input_tokens'))} in / {number(usage.get('output_tokens'))} out"


# ------------------------------------------------------------------------------------------ markdown

_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*")


def _inline(text: str) -> str:
    out, at = [], 0
    for match in _INLINE.finditer(text):
        out.append(e(text[at:match.start()]))
        out.append(f"<code>{e(match.group(1))}</code>" if match.group(1) is not None else f"<strong>{e(match.group(2))}</strong>")
        at = match.end()
    out.append(e(text[at:]))
    return "".join(out)


def markdown(text: str, top: int = 3) -> str:
    """The markdown of handoffs and intents, as HTML: headings (from level `top`), paragraphs, lists,
    fenced code and inline code or bold. Everything else stays text: no raw HTML, links or images."""
    out: list[str] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if stripped.startswith("```"):
            body = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith("```"):
                body.append(lines[i])
                i += 1
            out.append(f"<pre>{e(chr(10).join(body))}</pre>")
            i += 1
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        if heading:
            level = min(6, max(top, top + len(heading.group(1)) - 2))  # `## Summary` at `top`
            out.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
            i += 1
            continue
        bullet = re.match(r"([-*+]|\d+[.)])\s+(.*)", stripped)
        if bullet:
            ordered = bullet.group(1)[0].isdigit()
            items = []
            while i < len(lines):
                match = re.match(r"\s*([-*+]|\d+[.)])\s+(.*)", lines[i])
                if match:
                    items.append(match.group(2))
                elif lines[i].startswith((" ", "\t")) and lines[i].strip() and items:
                    items[-1] += " " + lines[i].strip()  # a continued item
                else:
                    break
                i += 1
            tag = "ol" if ordered else "ul"
            out.append(f"<{tag}>" + "".join(f"<li>{_inline(t)}</li>" for t in items) + f"</{tag}>")
            continue
        if not stripped:
            i += 1
            continue
        paragraph = []
        while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,6}\s|```|[-*+]\s|\d+[.)]\s)", lines[i].strip()):
            paragraph.append(lines[i].strip())
            i += 1
        out.append(f"<p>{_inline(' '.join(paragraph))}</p>")
    return "".join(out)
