"""Deciding by agreement: a verifier panel's verdict from its judges' (`agree: all | majority`), and the
majority of a step's samples, compared byte for byte or as a judge grouped them by meaning. What the
judges or samples do not agree on is `uncertain`: a person decides."""

from __future__ import annotations

from dataclasses import field
from typing import Any

from agentfiles.core.records import record

# ------------------------------------------------------------------------------------------ panels


def panel_verdict(judges: list[dict[str, Any]], criteria: list[str], agree: str) -> dict[str, Any]:
    """The handoff's `verification` of a panel, from each judge's `{verifier, model, checks}`: every
    criterion decided by `agree` (all: unanimous; majority: more than half), `uncertain` where the
    judges split; the step fails on a criterion decided `fail`, else is uncertain on one split, else passes."""
    merged = []
    for criterion in criteria:
        votes = [(j["verifier"], _verdict_on(j, criterion)) for j in judges]
        passed = sum(1 for _, (verdict, _) in votes if verdict == "pass")
        failed = len(votes) - passed
        if agree == "majority":
            decided = "pass" if passed * 2 > len(votes) else "fail" if failed * 2 > len(votes) else "uncertain"
        else:
            decided = "pass" if not failed else "fail" if not passed else "uncertain"
        evidence = "; ".join(f"{name}: {verdict} - {why}" for name, (verdict, why) in votes)
        merged.append({"criterion": criterion, "verdict": decided, "evidence": evidence})
    verdicts = {c["verdict"] for c in merged}
    overall = "fail" if "fail" in verdicts else "uncertain" if "uncertain" in verdicts else "pass"
    return {
        "verdict": overall,
        "verifier": ", ".join(j["verifier"] for j in judges),
        "agree": agree,
        "checks": merged,
        "panel": [
            {"verifier": j["verifier"], "model": j.get("model"),
             "verdict": "pass" if all(c["verdict"] == "pass" for c in j["checks"]) else "fail", "checks": j["checks"]}
            for j in judges
        ],
    }


def _verdict_on(judge: dict[str, Any], criterion: str) -> tuple[str, str]:
    for check in judge.get("checks") or []:
        if check.get("criterion") == criterion:
            return str(check.get("verdict")), str(check.get("evidence") or "")
    return "fail", "no verdict given"


def disagreement(verification: dict[str, Any]) -> str:
    """Why a panel is uncertain, in one line: the criteria its judges split on, with each judge's vote."""
    split = [c for c in verification.get("checks") or [] if c.get("verdict") == "uncertain"]
    shown = []
    for check in split[:3]:
        votes = ", ".join(f"{j['verifier']} {_verdict_on(j, check['criterion'])[0]}" for j in verification.get("panel") or [])
        shown.append(f"`{check['criterion']}` ({votes})")
    more = f" and {len(split) - 3} more" if len(split) > 3 else ""
    noun = "criterion" if len(split) == 1 else "criteria"
    return (f"the verifiers disagree (agree: {verification.get('agree')}) on {len(split)} {noun}: "
            + "; ".join(shown) + more)


# ----------------------------------------------------------------------------------------- samples


@record
class Sampled:
    """What the samples of one attempt came to: each sample's group (None for a failed one), the groups
    (sample numbers, from 1), and the group more than half of all samples are in, if any."""

    groups: list[list[int]]
    majority: list[int] | None
    failed: list[int] = field(default_factory=list)

    def group_of(self, sample: int) -> int | None:
        return next((n for n, members in enumerate(self.groups, 1) if sample in members), None)

    def describe(self, total: int) -> str:
        sizes = ", ".join(str(len(g)) for g in sorted(self.groups, key=len, reverse=True))
        failed = f", {len(self.failed)} failed" if self.failed else ""
        if not self.groups:
            return f"all {total} samples failed"
        if self.majority is not None:
            return f"{len(self.majority)} of {total} samples agree (groups of {sizes}{failed})"
        return (f"no majority among {total} samples: {len(self.groups)} different outputs (groups of {sizes}"
                f"{failed})")


def group_outputs(outputs: list[dict[str, bytes] | None]) -> list[list[int]]:
    """Samples (numbered from 1; None for a failed one) grouped by byte-equal outputs, in order of first
    appearance."""
    from agentfiles.core.fingerprint import digest_bytes

    keys: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for number, produced in enumerate(outputs, 1):
        if produced is None:
            continue
        key = tuple(sorted((rel, digest_bytes(data)) for rel, data in produced.items()))
        keys.setdefault(key, []).append(number)
    return list(keys.values())


def decide(groups: list[list[int]], total: int) -> Sampled:
    """The majority (more than half of `total`, failed samples counted) of `groups`, if any."""
    failed = sorted(set(range(1, total + 1)) - {n for g in groups for n in g})
    majority = next((g for g in groups if len(g) * 2 > total), None)
    return Sampled(groups, majority, failed)


def merge_groups(groups: list[list[int]], judged: list[list[int]]) -> list[list[int]]:
    """`groups` merged as a judge grouped their representatives (numbered from 1 in `groups`' order)."""
    merged = [sorted(n for index in together for n in groups[index - 1]) for together in judged]
    return sorted(merged, key=lambda g: g[0])


def equivalence_tool(count: int) -> dict[str, Any]:
    return {
        "name": "equivalence",
        "description": "Group the candidates that are equivalent (the same in substance, whatever their wording); "
                       "every candidate in exactly one group.",
        "input_schema": {
            "type": "object",
            "properties": {
                "groups": {"type": "array", "items": {"type": "array", "items": {"type": "integer", "minimum": 1,
                                                                                 "maximum": count}}},
                "reason": {"type": "string"},
            },
            "required": ["groups", "reason"],
        },
    }


@record
class EquivalenceTools:
    """`equivalence`: a judge's grouping of `count` candidates, each in exactly one group."""

    count: int
    final: str = "equivalence"
    groups: list[list[int]] = field(default_factory=list)
    reason: str = ""
    files: dict[str, str] = field(default_factory=dict)  # nothing to read: the candidates are in the brief

    def handle(self, use: dict[str, Any], outcome: Any) -> tuple[str, bool, bool]:
        args = use.get("input") or {}
        outcome.tool_log.append({"tool": use.get("name"), "groups": args.get("groups")})
        if use.get("name") != "equivalence":
            return f"refused: there is no tool `{use.get('name')}`; call equivalence", True, False
        groups = args.get("groups")
        if not isinstance(groups, list) or not all(isinstance(g, list) and g for g in groups):
            return "refused: `groups` must be a list of non-empty lists of candidate numbers", True, False
        numbers = [n for g in groups for n in g]
        if sorted(numbers) != list(range(1, self.count + 1)):
            return (f"refused: name each candidate from 1 to {self.count} exactly once (got {sorted(numbers)})", True,
                    False)
        self.groups = [sorted(int(n) for n in g) for g in groups]
        self.reason = str(args.get("reason") or "").strip()
        return "grouping recorded", False, True


def equivalence_brief(title: str, intent: str, candidates: list[dict[str, str]]) -> str:
    """The one message a judge of equivalence gets: the task, then each candidate's outputs in full."""
    lines = [f"# Are these answers equivalent? Task: {title}", "## Intent", intent.strip() or "(none given)",
             "## Candidates",
             (f"The same step was carried out {len(candidates)} times, independently. Decide which candidates say "
              "the same thing: equal in substance (facts, decisions, behaviour), whatever their wording or layout. "
              "Candidates that differ in substance go in different groups.")]
    for number, files in enumerate(candidates, 1):
        lines.append(f"### Candidate {number}")
        for rel, text in sorted(files.items()):
            lines.append(f"`{rel}`:\n\n~~~~\n{text}\n~~~~")
    lines.append("Call `equivalence` once, with every candidate number in exactly one group, and the reason.")
    return "\n\n".join(lines) + "\n"
