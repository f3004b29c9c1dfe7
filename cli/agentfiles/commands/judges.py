"""How `agents review` shows what disagreed on an uncertain step: a verifier panel's judges side by side,
one column each, per criterion; or a sampled step's candidates, grouped, each with its diff."""

from __future__ import annotations

import shutil
import textwrap
from typing import Any

from agentfiles.commands.output import Output

INDENT = "    "
GAP = "  "


def render_panel(out: Output, verification: dict[str, Any]) -> None:
    """Every criterion with the panel's decision, then each judge's verdict and evidence in a column of its own."""
    judges = verification.get("panel") or []
    out.line(f"  verification: {verification.get('verdict')} by a panel of {len(judges)} "
             f"(agree: {verification.get('agree')})")
    width = max(20, (min(shutil.get_terminal_size((120, 24)).columns, 160) - len(INDENT)) // max(1, len(judges))
                - len(GAP))
    heads = [f"{j.get('verifier')} ({j.get('model') or '?'})" for j in judges]
    out.line(INDENT + GAP.join(h[:width].ljust(width) for h in heads).rstrip())
    for number, check in enumerate(verification.get("checks") or [], 1):
        decided = check.get("verdict")
        mark = out.paint(str(decided).upper(), "uncertain" if decided == "uncertain" else
                         "done" if decided == "pass" else "failed")
        out.line(f"  {number}. {check.get('criterion')}: {mark}")
        columns = []
        for judge in judges:
            checks = judge.get("checks") or []
            mine: dict[str, Any] = next((c for c in checks if c.get("criterion") == check.get("criterion")), {})
            text = f"{str(mine.get('verdict', '-')).upper()}: {mine.get('evidence') or '(no evidence)'}"
            columns.append(textwrap.wrap(text, width) or [""])
        for row in range(max((len(c) for c in columns), default=0)):
            cells = [(c[row] if row < len(c) else "").ljust(width) for c in columns]
            out.line(INDENT + GAP.join(cells).rstrip())


def render_samples(out: Output, samples: list[dict[str, Any]]) -> None:
    """Each sample with its group; the diff of the first sample of each group against the files as they are."""
    groups: dict[int, list[int]] = {}
    for sample in samples:
        if sample.get("group") is not None:
            groups.setdefault(int(sample["group"]), []).append(int(sample["sample"]))
    out.line(f"  samples: {len(samples)}, in {len(groups)} group(s) of equal outputs")
    for sample in samples:
        if not sample.get("ok"):
            failure = sample.get("failure") or {}
            out.line(f"    sample {sample.get('sample')}: failed ({failure.get('kind')}: {failure.get('detail')})")
    for group, members in sorted(groups.items()):
        named = ", ".join(str(m) for m in members)
        out.line(f"    group {group}: sample{'s' if len(members) > 1 else ''} {named}")
        first = next(s for s in samples if s.get("sample") == members[0])
        for line in (first.get("diff") or "").rstrip().splitlines():
            out.line(f"      {line}")
