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
from typing import Callable, Sequence

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
    """One frequency band: rows seen ``low`` to ``high - 1`` times, and a statistic over them."""

    low: int  # inclusive
    high: int | None  # exclusive; None = no upper limit
    n: int  # rows in the band
    mean: float  # the statistic (a mean of values, or a mean cosine of rows)

    @property
    def label(self) -> str:
        return f"{self.low}+" if self.high is None else f"{self.low}-{self.high - 1}"


def _mean(values: torch.Tensor) -> float:
    return float(values.double().mean())


def by_count(
    values: torch.Tensor,
    counts: torch.Tensor,
    edges: Sequence[int],
    statistic: Callable[[torch.Tensor], float] = _mean,
    min_rows: int = 1,
) -> list[CountBin]:
    """``statistic`` of the rows of ``values`` in each count band [edges[i], edges[i+1]).

    The last band is open-ended. ``values`` is [n] (a number per token: the default
    statistic is their mean) or [n, d] (a vector per token: pass e.g.
    ``diagnostics.mean_cosine`` with ``min_rows=2``); bands with fewer than ``min_rows``
    rows are skipped. Read the result by label with :func:`by_label`, not by position:
    skipped bands shift the positions.
    """
    if values.ndim not in (1, 2) or values.shape[0] != counts.shape[0] or counts.ndim != 1:
        raise ValueError(f"values {tuple(values.shape)} must have one row per entry of counts "
                         f"{tuple(counts.shape)}")
    edges = list(edges)
    if len(edges) < 1 or edges != sorted(set(edges)):
        raise ValueError(f"edges must be strictly increasing, got {edges}")
    if min_rows < 1:
        raise ValueError(f"min_rows={min_rows} must be >= 1")
    bins = []
    for low, high in zip(edges, [*edges[1:], None]):
        inside = counts >= low
        if high is not None:
            inside &= counts < high
        if int(inside.sum()) >= min_rows:
            bins.append(CountBin(low, high, int(inside.sum()), statistic(values[inside])))
    return bins


def by_label(bins: Sequence[CountBin]) -> dict[str, CountBin]:
    """The bins keyed by their label ("1-2", "100+"): look bands up by name, not position."""
    return {b.label: b for b in bins}


def wordpiece_pieces(words: Sequence[str], tokenizer=None) -> dict[str, list[str]]:
    """How MiniLM's WordPiece tokenizer cuts each word (no special tokens)."""
    if tokenizer is None:
        from .models import load_tokenizer

        tokenizer = load_tokenizer()
    return {word: tokenizer.tokenize(word) for word in words}
