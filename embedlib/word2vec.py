"""Skip-gram with negative sampling (SGNS), the word2vec model, small enough to read.

Mikolov et al., "Distributed Representations of Words and Phrases and their Compositionality"
(NeurIPS 2013, arXiv:1310.4546). Each word w has an input vector v_w and an output vector u_w.
For a centre word c with a context word o inside the window and k noise words n_1..n_k drawn
from the unigram distribution raised to 3/4, the loss is

.. math:: \\ell = -\\log \\sigma(u_o \\cdot v_c) - \\sum_{i=1}^{k} \\log \\sigma(-u_{n_i} \\cdot v_c)

and plain SGD moves only the rows involved (word2vec.c and gensim do the same):
with :math:`g_j = \\eta\\,(y_j - \\sigma(u_j \\cdot v_c))`, :math:`y_o = 1`, :math:`y_{n_i} = 0`,

.. math:: v_c \\mathrel{+}= \\sum_j g_j u_j, \\qquad u_j \\mathrel{+}= g_j v_c .

Nothing here says which words are alike: words end up close only because they are trained
against the same contexts. Three details from the paper and word2vec.c:

- subsampling: a word of count f keeps each occurrence with probability
  :math:`(\\sqrt{f/(s N)} + 1)\\, s N / f` (capped at 1; s = ``sample``, N = corpus words);
- the window is shrunk at random per centre word (uniform 1..``window``), so near words weigh more;
- noise words are drawn with probability proportional to :math:`f^{3/4}`.

This version updates a minibatch of (centre, context) pairs at once, summing the updates of
rows that occur several times in a batch, with the learning rate decaying linearly as in word2vec.
With ``shared_negatives=G`` (default 1, word2vec's rule) consecutive groups of G pairs share
their k noise words, as in Ji et al. (arXiv:1604.04661): one batched matrix product replaces
many small ones and training runs about three times faster on a CPU at equal quality
(``benchmarks/bench_word2vec.py``).
"""

from __future__ import annotations

import random as _random
import zlib
from collections import Counter
from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .geometry import WordVectors


@dataclass(frozen=True)
class Word2VecConfig:
    """Hyper-parameters; the defaults are word2vec's and gensim's for skip-gram."""

    dim: int = 100
    window: int = 5
    negative: int = 5
    min_count: int = 5
    sample: float = 1e-3
    epochs: int = 5
    lr: float = 0.025
    min_lr: float = 1e-4
    batch_size: int = 1024
    shared_negatives: int = 1
    seed: int = 0

    def check(self) -> None:
        for name in ("dim", "window", "negative", "min_count", "batch_size", "shared_negatives"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}; it must be an integer >= 1")
        # epochs=0 is allowed: it returns the initial vectors, the untrained control.
        if not isinstance(self.epochs, int) or self.epochs < 0:
            raise ValueError(f"epochs={self.epochs!r}; it must be an integer >= 0 (0: no training)")
        if not 0 < self.min_lr <= self.lr:
            raise ValueError(f"learning rates lr={self.lr}, min_lr={self.min_lr}; need 0 < min_lr <= lr")
        if self.batch_size % self.shared_negatives:
            raise ValueError(
                f"batch_size={self.batch_size} is not a multiple of shared_negatives={self.shared_negatives}"
            )
        if self.sample < 0:
            raise ValueError(f"sample={self.sample}; use 0 to switch subsampling off, or a small positive number like 1e-3")


@dataclass(frozen=True)
class Vocabulary:
    """Words kept for training, most frequent first, with their corpus counts."""

    words: list[str]
    counts: np.ndarray  # [V] int64

    @property
    def index(self) -> dict[str, int]:
        return {w: i for i, w in enumerate(self.words)}


def build_vocabulary(sentences: Sequence[Sequence[str]], min_count: int = 5) -> Vocabulary:
    """Count words and keep those seen at least ``min_count`` times (ties broken alphabetically)."""
    counts = Counter(w for sentence in sentences for w in sentence)
    if not counts:
        raise ValueError("the corpus is empty: pass a list of sentences, each a list of words")
    kept = sorted(((w, c) for w, c in counts.items() if c >= min_count), key=lambda wc: (-wc[1], wc[0]))
    if not kept:
        raise ValueError(
            f"no word occurs {min_count} times (the most frequent, {counts.most_common(1)[0][0]!r}, "
            f"occurs {counts.most_common(1)[0][1]}); lower min_count or give a bigger corpus"
        )
    return Vocabulary([w for w, _ in kept], np.array([c for _, c in kept], dtype=np.int64))


def keep_probabilities(counts: np.ndarray, sample: float) -> np.ndarray:
    """Probability of keeping each occurrence of each word (word2vec.c's subsampling rule): [V]."""
    if sample == 0:
        return np.ones(len(counts))
    threshold = sample * counts.sum()
    return np.minimum(1.0, (np.sqrt(counts / threshold) + 1) * threshold / counts)


def noise_distribution(counts: np.ndarray, power: float = 0.75) -> torch.Tensor:
    """Probability of drawing each word as a negative: count^power, normalised: [V]."""
    weights = torch.from_numpy(counts.astype(np.float64)) ** power
    return weights / weights.sum()


def noise_table(probabilities: torch.Tensor, size: int = 1_000_000) -> torch.Tensor:
    """A table in which word w fills a share ``probabilities[w]`` of the slots: [size] ids.

    Slot t holds the word whose cumulative-probability interval contains (t + 1/2) / size,
    so a uniform random slot is a draw from ``probabilities`` (to within 1/size), the
    word2vec.c trick that makes drawing negatives a single ``randint``.
    """
    quantiles = (torch.arange(size, dtype=torch.float64) + 0.5) / size  # [size]
    table = torch.searchsorted(probabilities.cumsum(0), quantiles)
    return table.clamp_max(len(probabilities) - 1)  # guards against round-off in the last bin


def skipgram_pairs(
    ids: np.ndarray, sentence_ids: np.ndarray, spans: np.ndarray, window: int
) -> tuple[np.ndarray, np.ndarray]:
    """All (centre, context) pairs of one pass: positions j with 0 < |i - j| <= spans[i], same sentence.

    ``ids``, ``sentence_ids`` and ``spans`` are per token, [n]; ``spans`` holds each centre's
    shrunk window (1..window). Returns two arrays of word ids, [pairs] each.
    """
    centres, contexts = [], []
    for offset in range(1, window + 1):
        left, right = slice(0, len(ids) - offset), slice(offset, len(ids))
        same = sentence_ids[left] == sentence_ids[right]  # [n - offset]
        forward = same & (spans[left] >= offset)  # centre i, context i + offset
        backward = same & (spans[right] >= offset)  # centre i + offset, context i
        centres += [ids[left][forward], ids[right][backward]]
        contexts += [ids[right][forward], ids[left][backward]]
    return np.concatenate(centres), np.concatenate(contexts)


def sgns_step(
    input_vectors: torch.Tensor,
    output_vectors: torch.Tensor,
    centres: torch.Tensor,
    contexts: torch.Tensor,
    negatives: torch.Tensor,
    lr: float,
) -> float:
    """One SGD step of the SGNS loss on a batch of pairs, in place; returns the summed loss.

    ``centres``, ``contexts``: [B] word ids. ``negatives``: [B / G, k]; consecutive groups of
    G pairs share their k noise words (G = 1: every pair has its own, as in word2vec.c).
    The update is ``-lr`` times the loss's gradient, summed over repeated rows (``index_add_``).
    """
    B, (groups, k), d = len(centres), negatives.shape, input_vectors.shape[1]
    if B % groups:
        raise ValueError(f"{B} pairs cannot share {groups} rows of negatives; B must be a multiple of it")
    G = B // groups
    v = input_vectors.index_select(0, centres)  # [B, d]
    u_pos = output_vectors.index_select(0, contexts)  # [B, d]
    u_neg = output_vectors.index_select(0, negatives.reshape(-1)).view(groups, k, d)
    v_grouped = v.view(groups, G, d)
    pos_scores = (v * u_pos).sum(dim=1)  # [B]
    neg_scores = torch.bmm(v_grouped, u_neg.transpose(1, 2))  # [groups, G, k]
    loss = -F.logsigmoid(pos_scores).sum() - F.logsigmoid(-neg_scores).sum()
    g_pos = lr * (1 - torch.sigmoid(pos_scores))  # [B]; label 1
    g_neg = -lr * torch.sigmoid(neg_scores)  # [groups, G, k]; label 0
    grad_v = g_pos[:, None] * u_pos + torch.bmm(g_neg, u_neg).view(B, d)  # [B, d]
    grad_u_neg = torch.bmm(g_neg.transpose(1, 2), v_grouped).view(groups * k, d)  # summed over each group
    input_vectors.index_add_(0, centres, grad_v)
    output_vectors.index_add_(0, contexts, g_pos[:, None] * v)
    output_vectors.index_add_(0, negatives.reshape(-1), grad_u_neg)
    return float(loss)


@dataclass
class Word2VecModel:
    """A trained model: the vocabulary, both tables, and what training did."""

    vocabulary: Vocabulary
    input_vectors: torch.Tensor  # [V, d], the word vectors people use
    output_vectors: torch.Tensor  # [V, d], the context ("output") vectors
    config: Word2VecConfig
    pairs_trained: int
    words_trained: int  # corpus words (in the vocabulary) read, summed over epochs
    losses: list[float]  # mean loss of each epoch

    def word_vectors(self) -> WordVectors:
        return WordVectors(list(self.vocabulary.words), self.input_vectors.clone())


def train_word2vec(
    sentences: Sequence[Sequence[str]],
    config: Word2VecConfig | None = None,
    progress: bool = True,
    **overrides,
) -> Word2VecModel:
    """Train SGNS on ``sentences`` (lists of words); settings from ``config`` and keyword overrides.

    Deterministic for a given ``seed`` and one torch thread. ``progress=False`` hides the
    progress bar (notebooks do, since its rates change from run to run). ``epochs=0`` returns
    the vectors at word2vec's initialisation: the untrained control for any evaluation.

    Example::

        model = train_word2vec([["the", "king", "rules"], ...], dim=50, epochs=10, min_count=1)
        vectors = model.word_vectors()
    """
    config = replace(config or Word2VecConfig(), **overrides)
    config.check()
    if isinstance(sentences, str) or any(isinstance(s, str) for s in sentences[:1]):
        raise ValueError("sentences must be lists of words, e.g. [line.split() for line in lines], not strings")
    vocabulary = build_vocabulary(sentences, config.min_count)
    index = vocabulary.index
    encoded = [[index[w] for w in s if w in index] for s in sentences]
    ids = np.fromiter((i for s in encoded for i in s), dtype=np.int64)  # [n]
    sentence_ids = np.repeat(np.arange(len(encoded)), [len(s) for s in encoded])  # [n]

    numpy_rng = np.random.default_rng(config.seed)
    torch_rng = torch.Generator().manual_seed(config.seed)
    V, d = len(vocabulary.words), config.dim
    input_vectors = (torch.rand(V, d, generator=torch_rng) - 0.5) / d  # word2vec's initialisation
    output_vectors = torch.zeros(V, d)
    keep = keep_probabilities(vocabulary.counts, config.sample)[ids]  # [n]
    table = noise_table(noise_distribution(vocabulary.counts))

    # Pairs per epoch vary a little with subsampling; the schedule uses the expected total.
    expected_pairs = config.epochs * keep.sum() * (config.window + 1)
    done, losses = 0, []
    bar = tqdm(total=config.epochs, desc="word2vec epochs", unit="epoch", disable=not progress)
    for _ in range(config.epochs):
        kept = numpy_rng.random(len(ids)) < keep  # [n]
        spans = numpy_rng.integers(1, config.window + 1, size=int(kept.sum()))
        centres, contexts = skipgram_pairs(ids[kept], sentence_ids[kept], spans, config.window)
        usable = len(centres) - len(centres) % config.shared_negatives  # whole groups only
        order = torch.from_numpy(numpy_rng.permutation(len(centres))[:usable])
        centres, contexts = torch.from_numpy(centres)[order], torch.from_numpy(contexts)[order]
        groups = usable // config.shared_negatives
        slots = torch.randint(len(table), (groups, config.negative), generator=torch_rng)
        negatives = table[slots]  # [groups, k]
        epoch_loss = 0.0
        for start in range(0, usable, config.batch_size):
            batch = slice(start, start + config.batch_size)
            groups_of_batch = slice(batch.start // config.shared_negatives, batch.stop // config.shared_negatives)
            lr = max(config.min_lr, config.lr - (config.lr - config.min_lr) * done / expected_pairs)
            epoch_loss += sgns_step(
                input_vectors, output_vectors, centres[batch], contexts[batch], negatives[groups_of_batch], lr
            )
            done += len(centres[batch])
        losses.append(epoch_loss / max(1, usable))
        bar.update(1)
        bar.set_postfix(loss=f"{losses[-1]:.3f}")
    bar.close()
    return Word2VecModel(vocabulary, input_vectors, output_vectors, config, done, len(ids) * config.epochs, losses)


# The planted corpus: sentences generated from hidden factors, so the right geometry is known.
PLANTED_FACTORS = {  # word: (gender, rank, age)
    "king": ("male", "royal", "adult"), "queen": ("female", "royal", "adult"),
    "prince": ("male", "royal", "young"), "princess": ("female", "royal", "young"),
    "emperor": ("male", "royal", "adult"), "empress": ("female", "royal", "adult"),
    "man": ("male", "common", "adult"), "woman": ("female", "common", "adult"),
    "boy": ("male", "common", "young"), "girl": ("female", "common", "young"),
    "farmer": ("male", "common", "adult"), "farmwife": ("female", "common", "adult"),
    "lad": ("male", "common", "young"), "lass": ("female", "common", "young"),
    "duke": ("male", "royal", "adult"), "duchess": ("female", "royal", "adult"),
}  # fmt: skip
PLANTED_CONTEXTS = {
    "male": ["he", "him", "his", "beard", "brother", "father"],
    "female": ["she", "her", "hers", "gown", "sister", "mother"],
    "royal": ["crown", "throne", "palace", "reign", "court", "jewels"],
    "common": ["field", "market", "cottage", "wages", "village", "cart"],
    "adult": ["works", "taxes", "married", "wise", "old", "elder"],
    "young": ["plays", "school", "toys", "small", "games", "lessons"],
}
PLANTED_FILLER = ["the", "a", "of", "and", "in", "to", "was", "on", "with", "at", "by", "for"]


def planted_corpus(n_sentences: int = 4000, seed: int = 0) -> list[list[str]]:
    """Sentences whose words depend on hidden factors of one person word (gender, rank, age).

    Each sentence names a person word and, for each of its three factors, one context word
    typical of that factor, mixed with filler words in random order. A word's vectors can only
    learn its factors from these co-occurrences; nothing tells the model the factors exist.
    """
    if n_sentences < 1:
        raise ValueError(f"n_sentences={n_sentences}; ask for at least 1 sentence")
    rng = _random.Random(seed)
    people = list(PLANTED_FACTORS)
    sentences = []
    for _ in range(n_sentences):
        person = rng.choice(people)
        words = [person] + [rng.choice(PLANTED_CONTEXTS[f]) for f in PLANTED_FACTORS[person]]
        words += rng.choices(PLANTED_FILLER, k=4)
        rng.shuffle(words)
        sentences.append(words)
    return sentences


def _stable_hash(text: str) -> int:
    """A string hash that is the same in every Python process (``hash(str)`` is salted)."""
    return zlib.crc32(text.encode("utf-8"))


def gensim_word2vec(
    documents: Sequence[Sequence[str]],
    *,
    sg: bool = True,
    vector_size: int = 100,
    window: int = 5,
    min_count: int = 2,
    epochs: int = 5,
    seed: int = 0,
):
    """word2vec trained by gensim, the reference implementation, reproducibly; gensim ``KeyedVectors``.

    ``sg=True`` is skip-gram, ``sg=False`` CBOW (Mikolov et al. 2013, arXiv:1301.3781). One
    worker thread and a process-independent hash make two runs give identical vectors, on
    any machine and whatever ``PYTHONHASHSEED`` is.
    """
    from gensim.models import Word2Vec

    if not documents or not any(documents):
        raise ValueError("no documents: pass a list of token lists, e.g. from gensim.utils.simple_preprocess")
    model = Word2Vec(
        [list(d) for d in documents], sg=int(sg), vector_size=vector_size, window=window, min_count=min_count,
        epochs=epochs, seed=seed, workers=1, hashfxn=_stable_hash,
    )  # fmt: skip
    return model.wv
