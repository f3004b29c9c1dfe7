"""Usage (tokens, cost, time) of steps added up: over all of them, and by task, role and model."""

from __future__ import annotations

from typing import Any

USAGE_KEYS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens",
              "cost_usd", "duration_s")


def usage_totals(steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Usage summed over `steps` (each with `task`, `role`, `model` and `usage`, as `agents log --json`
    lists them): `all`, and `by_task`, `by_role`, `by_model` (a step's verifier and retries count for
    its role and model)."""

    def add(into: dict[str, Any], used: dict[str, Any]) -> None:
        into["steps"] = into.get("steps", 0) + 1
        for key in USAGE_KEYS:
            into[key] = round(into.get(key, 0) + (used.get(key) or 0), 6)

    totals: dict[str, Any] = {"all": {}, "by_task": {}, "by_role": {}, "by_model": {}}
    for step in steps:
        used = step.get("usage") or {}
        add(totals["all"], used)
        for by in ("task", "role", "model"):
            add(totals[f"by_{by}"].setdefault(str(step.get(by) or "none"), {}), used)
    if not steps:
        totals["all"] = {"steps": 0, **{k: 0 for k in USAGE_KEYS}}
    return totals
