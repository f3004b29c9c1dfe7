"""`agents replay --live --samples K`: the drift of a recorded step. Its recorded first request goes to the
model K times at once (each a live replay of its own, runner/replay.py); the fresh outputs are grouped by
their bytes and compared with the recorded ones. Nothing is committed."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import field
from pathlib import Path
from typing import Any

from agentfiles.core.records import record
from agentfiles.runner.replay import ReplayReport, replay


@record
class Drift:
    task: str
    run: str
    samples: int
    matching: int  # fresh answers whose outputs are the recorded ones, byte for byte
    groups: list[dict[str, Any]] = field(default_factory=list)  # {samples, matches, outputs, failure, diffs}, by first sample
    input_differences: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "run": self.run, "samples": self.samples, "matching": self.matching,
                "share": round(self.matching / self.samples, 4), "groups": self.groups,
                "input_differences": self.input_differences}


def drift(directory: Path, task: str, run: str | None, samples: int, *, force: bool = False) -> Drift:
    """Ask the model `samples` times with the recorded context and count the answers that reproduce the run."""
    first = replay(directory, task, run, force=force, live=True)  # also checks the record and the inputs once
    reports = [first]
    if samples > 1:
        with ThreadPoolExecutor(max_workers=min(samples - 1, 8), thread_name_prefix="agents-drift") as pool:
            reports += list(pool.map(lambda _: replay(directory, task, first.run, force=force, live=True),
                                     range(samples - 1)))
    found = Drift(task, first.run, samples, sum(1 for r in reports if _matches(r)),
                  input_differences=first.input_differences)
    keyed: dict[tuple[Any, ...], dict[str, Any]] = {}
    for number, report in enumerate(reports, 1):
        key = (tuple(sorted((p, v["replayed"]) for p, v in report.outputs.items())), _kind(report.failure))
        group = keyed.setdefault(key, {"samples": [], "matches": _matches(report), "failure": report.failure,
                                       "outputs": {p: v["replayed"] for p, v in report.outputs.items()},
                                       "diffs": report.diffs})
        group["samples"].append(number)
    found.groups = list(keyed.values())  # in sample order: by the first sample of each
    return found


def _matches(report: ReplayReport) -> bool:
    return (not report.failure and bool(report.outputs)
            and all(v["recorded"] == v["replayed"] for v in report.outputs.values()))


def _kind(failure: str | None) -> str | None:
    return failure.split(":", 1)[0] if failure else None
