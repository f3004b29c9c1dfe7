"""Prompt caching as the Messages API documents it, for the local server of tests/fake_anthropic.py.

- The prompt is read in the order tools, system, messages; a block with ``cache_control`` (or the last
  block, when the request has a top-level ``cache_control``) is a breakpoint; at most 4 per request.
- A breakpoint's prefix is cached only when it is at least the model's minimum cacheable length
  (4,096 tokens for Opus 4.6 / 4.5 and Haiku 4.5, 2,048 for the Haiku 3 models, 1,024 for the other
  Sonnet and Opus models); below it the request succeeds and nothing is cached.
- A read needs an exact prefix match (same model, same blocks up to a block boundary, ``cache_control``
  itself aside). For each breakpoint the API also looks back up to 20 blocks for a prefix cached
  earlier; the longest hit is read.
- An entry lives 5 minutes (``"ttl": "1h"``: an hour) from its last use; a read refreshes it.
- ``cache_read_input_tokens`` counts the tokens read, ``cache_creation_input_tokens`` those written
  (from the end of the read prefix to the last breakpoint cached), ``input_tokens`` the rest.

Token counts use the server's estimate (compact JSON characters / 4), so a test can reason about them.
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from typing import Any

LOOKBACK_BLOCKS = 20
MAX_BREAKPOINTS = 4
TTL_SECONDS = {"5m": 300, "1h": 3600}
# (model id fragment, minimum cacheable prompt length in tokens), first match wins.
MINIMUM_TOKENS = (
    ("opus-4-6", 4096),
    ("opus-4-5", 4096),
    ("haiku-4-5", 4096),
    ("haiku", 2048),
)
DEFAULT_MINIMUM = 1024  # the Sonnet models and the other Opus models


def minimum_tokens(model: str) -> int:
    return next((n for fragment, n in MINIMUM_TOKENS if fragment in model), DEFAULT_MINIMUM)


class CacheError(Exception):
    """A request the API refuses (400 invalid_request_error)."""


def _blocks(body: dict[str, Any]) -> list[tuple[str, dict[str, Any] | None]]:
    """(canonical text, cache_control or None) of every prompt block, in prefix order."""
    out: list[tuple[str, dict[str, Any] | None]] = []

    def add(kind: str, block: Any) -> None:
        control = block.get("cache_control") if isinstance(block, dict) else None
        shown = {k: v for k, v in block.items() if k != "cache_control"} if isinstance(block, dict) else block
        out.append(
            (kind + json.dumps(shown, separators=(",", ":"), sort_keys=True, ensure_ascii=False), control)
        )

    for tool in body.get("tools") or []:
        add("tool:", tool)
    system = body.get("system")
    for block in [{"type": "text", "text": system}] if isinstance(system, str) else system or []:
        add("system:", block)
    for message in body.get("messages") or []:
        content = message.get("content")
        for block in [{"type": "text", "text": content}] if isinstance(content, str) else content or []:
            add(f"{message.get('role')}:", block)
    automatic = body.get("cache_control")
    if automatic and out and out[-1][1] is None:
        out[-1] = (out[-1][0], automatic)
    return out


class PromptCache:
    """The cache of one fake endpoint (shared by all its connections)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, float]] = {}  # prefix key -> (expires at, ttl)
        self.offset = 0.0  # seconds added to the clock: `advance` lets a test pass time

    def now(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def usage(self, body: Any, total: int) -> dict[str, int]:
        """The cache fields of the usage of a request whose input is `total` tokens; records its writes."""
        if not isinstance(body, dict):
            return {}
        blocks = _blocks(body)
        breakpoints = [i for i, (_, control) in enumerate(blocks) if control]
        if len(breakpoints) > MAX_BREAKPOINTS:
            raise CacheError(
                f"A maximum of {MAX_BREAKPOINTS} blocks with cache_control may be provided. Found {len(breakpoints)}."
            )
        model = str(body.get("model") or "")
        keys, tokens = [], []
        digest = hashlib.sha256(model.encode())
        chars = 0
        for text, _ in blocks:
            digest.update(b"\x00" + text.encode())
            keys.append(digest.hexdigest())
            chars += len(text) - text.index(":") - 1
            tokens.append(min(total, math.ceil(chars / 4)))
        now = self.now()
        with self._lock:
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            read = 0
            for point in breakpoints:
                for i in range(point, max(-1, point - LOOKBACK_BLOCKS - 1), -1):
                    hit = self._entries.get(keys[i])
                    if hit is not None:
                        self._entries[keys[i]] = (now + hit[1], hit[1])
                        read = max(read, tokens[i])
                        break
            written_to = read
            for point in breakpoints:
                ttl = TTL_SECONDS.get(str((blocks[point][1] or {}).get("ttl", "5m")), 300)
                if tokens[point] >= minimum_tokens(model) and tokens[point] > read:
                    self._entries[keys[point]] = (now + ttl, ttl)
                    written_to = max(written_to, tokens[point])
        return {"cache_read_input_tokens": read, "cache_creation_input_tokens": written_to - read}
