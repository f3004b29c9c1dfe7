"""Words and their counts."""

from __future__ import annotations

import re
from collections import Counter

WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")


def words(text: str) -> list[str]:
    """The words of `text`, lower-cased, in order; punctuation is not part of a word."""
    return WORD.findall(text.lower())


def word_count(text: str) -> Counter[str]:
    """How often each word of `text` occurs."""
    return Counter(words(text))
