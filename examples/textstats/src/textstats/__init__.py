"""Counting the words of a text."""

from textstats.core import word_count, words

__all__ = ["word_count", "words"]
