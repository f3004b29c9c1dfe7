"""Usage (tokens, cost, time) of steps added up: over all of them, and by task, role and model, each
conversation of a step (the doer's, its verifier's, a discussion turn's) for the role that had it, as the
step's run record tells them apart; a verifier's time (recorded since its runs are timed) for its role,
the rest of a step's time for its doer's."""

from __future__ import annotations

from typing import Any

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
              "cost_usd", "duration_s")


def add_usage(total: dict[str, Any], usage: dict[str, Any]) -> dict[str, Any]:
    """`total` plus `usage`, key by key (tokens, turns and cost)."""
    out = dict(total)
    for key, value in usage.items():
        if isinstance(value, (int, float)) and key != "duration_s":
            out[key] = round(out.get(key, 0) + value, 6) if key == "cost_usd" else out.get(key, 0) + value
    return out


def _amounts(usage: dict[str, Any] | None) -> dict[str, float]:
    return {key: float((usage or {}).get(key) or 0) for key in USAGE_KEYS}


def parties(step: dict[str, Any], record: dict[str, Any] | None) -> list[tuple[str, str, dict[str, float]]]:
    """(role, model, usage) of each party to a step: the doer first, with what no other party had (its own
    turns, a router's), then its verifier on every attempt the record names and each participant of a
    discussion. The parts add up to the step's usage as its handoff recorded it."""
    rest = _amounts(step.get("usage"))
    found: list[tuple[str, str, dict[str, float]]] = []

    def take(party: Any, timed: bool = True) -> float:
        """Count `party` apart from the doer; its time too unless it ran beside others (`timed` False)."""
        if not isinstance(party, dict) or not party.get("role"):
            return 0.0
        amounts = _amounts(party.get("usage"))
        if any(amounts.values()):
            for key in USAGE_KEYS:
                if timed or key != "duration_s":
                    rest[key] -= amounts[key]
            found.append((str(party["role"]), str(party.get("model") or "none"), amounts))
        return amounts["duration_s"]

    def take_panel(judges: Any) -> None:
        """Each judge of a verifier panel for its own role, model and time; the step waited as long as the
        slowest of them, who judged at once."""
        slowest = max([take(judge, timed=False) for judge in judges or []], default=0.0)
        rest["duration_s"] -= slowest

    record = record or {}
    take(record.get("verifier"))
    take(record.get("equivalence"))  # the verifier that judged which samples mean the same
    panel = record.get("panel")
    take_panel(panel.get("judges") if isinstance(panel, dict) else None)
    for earlier in record.get("earlier_attempts") or []:
        take(earlier.get("verifier") if isinstance(earlier, dict) else None)
        take_panel(earlier.get("panel") if isinstance(earlier, dict) else None)
    for position in record.get("discussion") or []:
        take(position)
    doer = {key: round(max(value, 0.0), 6) for key, value in rest.items()}
    return [(str(step.get("role") or "none"), str(step.get("model") or "none"), doer), *found]


def usage_totals(steps: list[dict[str, Any]], records: list[dict[str, Any] | None] | None = None) -> dict[str, Any]:
    """Usage summed over `steps` (each with `task`, `role`, `model` and `usage`, as `agents log --json`
    lists them): `all`, and `by_task`, `by_role`, `by_model`. With each step's run record, every
    conversation counts for the role and model that had it; a step counts once for each of them, its
    verifier's recorded time for the verifier's, the rest of its time for its doer's."""

    def add(into: dict[str, Any], used: dict[str, Any]) -> None:
        into["steps"] = into.get("steps", 0) + 1
        for key in USAGE_KEYS:
            total = into.get(key, 0) + float(used.get(key) or 0)
            into[key] = round(total, 6) if key in ("cost_usd", "duration_s") else int(round(total))

    totals: dict[str, Any] = {"all": {"steps": 0, **{k: 0 for k in USAGE_KEYS}}, "by_task": {}, "by_role": {},
                              "by_model": {}}
    for step, record in zip(steps, records or [None] * len(steps)):
        used = step.get("usage") or {}
        add(totals["all"], used)
        add(totals["by_task"].setdefault(str(step.get("task") or "none"), {}), used)
        shares: dict[tuple[str, str], dict[str, float]] = {}  # (by, name) -> what it had of this step
        for role, model, amounts in parties(step, record):
            for key in (("role", role), ("model", model)):
                share = shares.setdefault(key, {})
                for name, value in amounts.items():
                    share[name] = share.get(name, 0.0) + value
        for (by, name), share in shares.items():
            add(totals[f"by_{by}"].setdefault(name, {}), share)
    return totals
