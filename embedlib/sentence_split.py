"""A small rule-based sentence splitter for the course's bundled news text."""

from __future__ import annotations

import re

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def split_sentences(text: str, min_words: int = 5, max_words: int = 40) -> list[str]:
    """Split at '.', '!' or '?' followed by space and a capital or quote; keep 5-40 words."""
    return [s for s in _SENTENCE_END.split(text.strip()) if min_words <= len(s.split()) <= max_words]
