"""A local, conservative estimate of how many tokens a text costs, used for budgets before any call.

Claude's tokenizer averages about 3.5-4 characters of English and about 3 of code per token; counting
one token per three UTF-8 bytes (so one per character of CJK text) overestimates slightly, which is
the safe side for a budget that refuses oversized requests. `budget.precise: true` asks the API instead.
"""

from __future__ import annotations

import json
from typing import Any

BYTES_PER_TOKEN = 3
BLOCK_OVERHEAD = 4  # role markers and separators per message or content block


def estimate_tokens(text: str) -> int:
    return -(-len(text.encode("utf-8")) // BYTES_PER_TOKEN)


def estimate_request(body: dict[str, Any]) -> int:
    """Estimated input tokens of a Messages API request body (system, messages, tools)."""
    total = 0
    system = body.get("system") or []
    if isinstance(system, str):
        system = [{"text": system}]
    for block in system:
        total += estimate_tokens(block.get("text", "")) + BLOCK_OVERHEAD
    for message in body.get("messages", []):
        content = message.get("content")
        blocks = [{"type": "text", "text": content}] if isinstance(content, str) else content
        for block in blocks:
            if block.get("type") == "text":
                total += estimate_tokens(block["text"])
            else:
                total += estimate_tokens(json.dumps(block, sort_keys=True))
            total += BLOCK_OVERHEAD
    for tool in body.get("tools", []):
        total += estimate_tokens(json.dumps(tool, sort_keys=True)) + BLOCK_OVERHEAD
    return total
