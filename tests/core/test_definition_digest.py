"""The definition digest is recorded in every handoff: the bytes it hashes never change, whichever
serialiser writes them."""

from __future__ import annotations

import json
import math

import pytest
from agentfiles.core.fingerprint import _canonical, definition_digest
from agentfiles.core.models import Role, Task
from agentfiles.core.schema import parse

VALUES = [
    {"b": [1, 2, -3, 2**63 - 1], "a": {"z": True, "y": None, "x": False}},
    {"a": "\x00\x01\x1f\x7f\"\\\b\f\n\r\t\u2028 é ✓ 😀", "é": 1, "e": 2, "😀": 3, "\uffff": 4, "Z": 5},
    {"f": [0.5, 1.0, 1e16, 1e-7, 2.5e-05, 1e22, 0.1 + 0.2, -0.0]},
    {"usd": 0.5}, {"big": 2**70}, {"n": [math.inf, -math.inf]}, {"s": "a,1.5e3", "t": ":-2.0"},
    {1: "a non-string key"}, {"tuple": (1, "x")}, {},
    {"tuple": (1, 2.5e-05)}, [[{"deep": [1e-7]}]], 2.5e-05, "1e-7", [],
]


@pytest.mark.parametrize("value", VALUES)
def test_the_canonical_bytes_are_jsons(value: object) -> None:
    expected = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert _canonical(value) == expected


def test_a_definition_digest_is_as_recorded() -> None:
    task = parse(Task, {"title": "Copy", "run": "cat a > b", "inputs": ["a", {"handoff": "up"}], "outputs": ["b"],
                        "needs": ["up"], "budget": {"usd": 0.5}, "acceptance": ["run: test -s b", "It is é"]})
    assert definition_digest(task, "## Intent\n\nCopy it.\n", None, "", None) == PINNED_COMMAND
    task = parse(Task, {"title": "Write", "role": "dev", "outputs": ["x.md"]})
    role = parse(Role, {"name": "dev", "description": "Writes.", "model": "sonnet"})
    assert definition_digest(task, "Write x.\n", role, "You write.", "claude-sonnet-4-6") == PINNED_MODEL


# As main computed them before orjson wrote the bytes (json.dumps): the first has a float, the second none.
PINNED_COMMAND = "sha256:c6af247c636ba17d757b3004d7a9f54efc3b59a3767599bcdf9e58a7ea5fe566"
PINNED_MODEL = "sha256:584523f0f54cbc9f5f7cdf67bbe19e77bf8db071b2def049d713777829be9770"
