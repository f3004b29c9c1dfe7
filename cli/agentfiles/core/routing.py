"""Typed routing: which role takes a task that names the labels it needs (`select:`) instead of a role."""

from __future__ import annotations

from dataclasses import dataclass

from agentfiles.core.handoffs import Candidate, Routing
from agentfiles.core.models import Role


@dataclass(frozen=True)
class RouteProblem:
    message: str
    candidates: list[Candidate]


def score_roles(select: dict[str, str], roles: dict[str, Role]) -> list[Candidate]:
    """Every role with the share of selected labels it carries, best first (ties by name)."""
    candidates = []
    for name in sorted(roles):
        labels = roles[name].labels()
        matched = [f"{k}={v}" for k, v in select.items() if v in labels.get(k, [])]
        score = len(matched) / len(select) if select else 0.0
        candidates.append(Candidate(role=name, score=round(score, 3), matched=matched))
    candidates.sort(key=lambda c: (-c.score, c.role))
    return candidates


def route_by_labels(select: dict[str, str], roles: dict[str, Role]) -> Routing | RouteProblem:
    """The one role carrying every selected label; no match or several matches is a problem to report."""
    candidates = score_roles(select, roles)
    full = [c for c in candidates if c.score == 1.0]
    wanted = ", ".join(f"{k}={v}" for k, v in select.items())
    if len(full) == 1:
        return Routing(
            role=full[0].role,
            reason=f"the only role labelled {wanted}",
            method="labels",
            candidates=candidates,
        )
    if not full:
        return RouteProblem(f"no role carries all of the labels {wanted}", candidates)
    names = ", ".join(c.role for c in full)
    return RouteProblem(f"several roles carry the labels {wanted}: {names}", candidates)
