"""Rare tokens: how often a token was seen, and how reliably its vector's neighbourhood is placed.

A vector is only as good as the updates it received. One cheap, model-agnostic proxy is
*stability*: train the same model twice with different seeds and ask how many of a word's
k nearest neighbours agree (Antoniak & Mimno, 2018, TACL, "Evaluating the Stability of
Embedding-based Word Similarities"; Wendlandt et al., 2018, NAACL, arXiv:1804.09692).
Stability is not quality: a vector can be stably wrong (trained on the same few contexts
every time), so read it as a lower bar that rare words often fail to clear.

Word2vec here is gensim's reference implementation with ``workers=1`` and a fixed seed,
which makes training deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .data import read_lines
from .diagnostics import neighbour_ids




def corpus_documents(name: str = "lee_background.cor") -> list[list[str]]:
    """A bundled gensim corpus, one lower-cased word list per document (gensim's ``simple_preprocess``).

    ``head500.noblanks.cor`` is Porter-stemmed with stopwords removed: its "words" are stems.
    """
    from gensim.utils import simple_preprocess

    return [simple_preprocess(line) for line in read_lines(name)]


@dataclass(frozen=True)
class WordSpace:
    """Word vectors with their words and training-corpus counts, in the same row order."""

    words: list[str]
    vectors: torch.Tensor  # [n, d] float32
    counts: torch.Tensor  # [n] int64

    def index(self, word: str) -> int:
        try:
            return self.words.index(word)
        except ValueError:
            raise KeyError(f"{word!r} is not in the vocabulary ({len(self.words)} words)") from None

    @classmethod
    def from_keyedvectors(cls, keyed_vectors) -> "WordSpace":
        """Words, vectors and training counts of gensim ``KeyedVectors``, in gensim's (frequency) order."""
        words = list(keyed_vectors.index_to_key)
        counts = torch.tensor([keyed_vectors.get_vecattr(word, "count") for word in words], dtype=torch.int64)
        vectors = torch.tensor(np.asarray(keyed_vectors.vectors[: len(words)]), dtype=torch.float32)
        return cls(words=words, vectors=vectors, counts=counts)






def neighbour_overlap(a: torch.Tensor, b: torch.Tensor, k: int = 10) -> torch.Tensor:
    """Per row, the share of its k nearest neighbours that two spaces over the same rows agree on ([n])."""
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"the two spaces must hold the same rows in the same order, got {a.shape[0]} and {b.shape[0]}")
    na, nb = neighbour_ids(a, k), neighbour_ids(b, k)  # [n, k] each
    shared = (na[:, :, None] == nb[:, None, :]).any(dim=2).sum(dim=1)  # [n]
    return shared.double() / k


@dataclass(frozen=True)
class CountBin:
    low: int  # inclusive
    high: int | None  # exclusive; None = no upper limit
    n: int
    mean: float

    @property
    def label(self) -> str:
        return f"{self.low}+" if self.high is None else f"{self.low}-{self.high - 1}"


def by_count(values: torch.Tensor, counts: torch.Tensor, edges: Sequence[int]) -> list[CountBin]:
    """Mean of ``values`` per count bin [edges[i], edges[i+1]) (the last bin is open-ended); empty bins skipped."""
    if values.shape != counts.shape:
        raise ValueError(f"values {tuple(values.shape)} and counts {tuple(counts.shape)} must have the same shape")
    if list(edges) != sorted(set(edges)) or len(edges) < 1:
        raise ValueError(f"edges must be strictly increasing, got {list(edges)}")
    bins = []
    for i, low in enumerate(edges):
        high = edges[i + 1] if i + 1 < len(edges) else None
        inside = (counts >= low) & (counts < high if high is not None else True)
        if inside.any():
            bins.append(CountBin(low, high, int(inside.sum()), float(values[inside].double().mean())))
    return bins


def wordpiece_pieces(words: Sequence[str], tokenizer=None) -> dict[str, list[str]]:
    """How MiniLM's WordPiece tokenizer cuts each word (no special tokens)."""
    if tokenizer is None:
        from .models import load_tokenizer

        tokenizer = load_tokenizer()
    return {word: tokenizer.tokenize(word) for word in words}
