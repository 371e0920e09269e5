"""Geometry of word vectors: neighbours, analogies, directions, and the standard evaluations.

Every function takes a :class:`WordVectors` (a word list plus a ``[V, d]`` matrix), so the same
code measures MiniLM's input table (:func:`minilm_word_vectors`), the skip-gram vectors of
:mod:`embedlib.word2vec`, and gensim ``KeyedVectors`` (:meth:`WordVectors.from_keyedvectors`).

All comparisons are cosines of unit-length rows (:mod:`embedlib.similarity`).

- Analogy by 3CosAdd (Mikolov, Yih and Zweig, 2013; name from Levy and Goldberg, 2014):
  for ``a : b :: c : ?`` answer :math:`\\arg\\max_{x \\notin \\{a,b,c\\}} \\cos(x,\\,\\hat b - \\hat a + \\hat c)`,
  where :math:`\\hat v = v / \\lVert v \\rVert`. This is what gensim's
  ``most_similar(positive=[b, c], negative=[a])`` and ``evaluate_word_analogies`` compute.
- Word similarity: Spearman's rank correlation between human scores and cosines.
- A direction (gender, royalty) is the normalised mean of the differences
  :math:`\\hat v_{b_i} - \\hat v_{a_i}` over word pairs; projecting a word on it is the cosine.
"""

from __future__ import annotations

import difflib
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Iterable, Sequence

import torch

from .data import AnalogyQuestion, analogy_questions
from .similarity import normalize_rows

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase


@dataclass
class WordVectors:
    """A vocabulary and its vectors: ``matrix[i]`` is the vector of ``words[i]``."""

    words: list[str]
    matrix: torch.Tensor  # [V, d]
    index: dict[str, int] = field(init=False, repr=False)
    _unit: torch.Tensor | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        if self.matrix.ndim != 2 or self.matrix.shape[0] != len(self.words):
            raise ValueError(
                f"matrix of shape {tuple(self.matrix.shape)} does not fit {len(self.words)} words; "
                "pass one row per word, [V, d]"
            )
        self.matrix = self.matrix.detach().float()
        self.index = {}
        for i, word in enumerate(self.words):
            self.index.setdefault(word, i)  # on duplicates the first (most frequent) row wins

    def __len__(self) -> int:
        return len(self.words)

    def __contains__(self, word: str) -> bool:
        return word in self.index

    def id(self, word: str) -> int:
        """Row of ``word``; ``KeyError`` naming the word and close matches if it is unknown."""
        try:
            return self.index[word]
        except KeyError:
            close = difflib.get_close_matches(word, self.words[:50_000], n=3)
            hint = f"; close matches: {', '.join(close)}" if close else ""
            raise KeyError(f"{word!r} is not in the vocabulary of {len(self)} words{hint}") from None

    def ids(self, words: Iterable[str]) -> torch.Tensor:
        return torch.tensor([self.id(w) for w in words], dtype=torch.long)

    def vector(self, word: str) -> torch.Tensor:
        return self.matrix[self.id(word)]

    @property
    def unit(self) -> torch.Tensor:
        """Rows scaled to length 1, [V, d] (computed once)."""
        if self._unit is None:
            self._unit = normalize_rows(self.matrix)
        return self._unit

    @classmethod
    def from_keyedvectors(cls, keyed_vectors) -> "WordVectors":
        """From gensim's ``KeyedVectors`` (or ``Word2Vec(...).wv``)."""
        return cls(list(keyed_vectors.index_to_key), torch.from_numpy(keyed_vectors.vectors.copy()))

    def to_keyedvectors(self):
        """As gensim ``KeyedVectors`` (for cross-checks against gensim's evaluations)."""
        from gensim.models import KeyedVectors

        keyed_vectors = KeyedVectors(self.matrix.shape[1])
        keyed_vectors.add_vectors(self.words, self.matrix.numpy())
        return keyed_vectors


def minilm_word_vectors(pattern: str = r"[a-z]+") -> WordVectors:
    """The rows of all-MiniLM-L6-v2's input table whose WordPiece token is a whole word.

    Keeps tokens that fully match ``pattern`` (default: lower-case letters only), which drops
    ``##`` continuation pieces, ``[unused]`` slots, digits and punctuation. Rows keep the
    tokenizer's id order. A word absent here is split into several pieces by the tokenizer and
    has no single row.
    """
    from .models import load_model, load_tokenizer

    table = load_model().get_input_embeddings().weight.detach()  # [30522, 384]
    kept = sorted((i, t) for t, i in load_tokenizer().get_vocab().items() if re.fullmatch(pattern, t))
    if not kept:
        raise ValueError(f"no token of the vocabulary matches {pattern!r}")
    return WordVectors([t for _, t in kept], table[[i for i, _ in kept]].clone())


BYTE_BPE_SPACE = "\u0120"  # "Ġ": how byte-level BPE (GPT-2, LLaMA 3, SmolLM2) spells a leading space


def decoder_word_vectors(
    model: torch.nn.Module, tokenizer: PreTrainedTokenizerBase, pattern: str = r"[a-z]+"
) -> WordVectors:
    """The rows of a byte-level BPE model's input table whose token begins a word.

    Keeps tokens spelled ``"Ġ" + letters`` (``"Ġ"`` is the byte-level BPE symbol of a leading
    space: GPT-2's byte-to-unicode map, Radford et al., 2019, section 2.2) with the letters fully matching ``pattern``: a whole word as it appears inside
    running text (``"Ġwater"``) or the first piece of a longer one (``"Ġcon"``).
    Rows keep the tokenizer's id order, which for BPE follows merge order (frequent words
    first). Words are returned without the ``"Ġ"``. SmolLM2: ``decoder_word_vectors(model,
    tokenizer)`` with :func:`embedlib.load_model("smollm2") <embedlib.models.load_model>`.
    """
    table = model.get_input_embeddings().weight.detach()  # [V, d]
    kept = sorted(
        (i, t[1:])
        for t, i in tokenizer.get_vocab().items()
        if t.startswith(BYTE_BPE_SPACE) and re.fullmatch(pattern, t[1:])
    )
    if not kept:
        raise ValueError(
            f"no token of the vocabulary is {BYTE_BPE_SPACE!r} + a match of {pattern!r}; "
            "is this a byte-level BPE tokenizer (GPT-2, LLaMA 3, SmolLM2)?"
        )
    return WordVectors([t for _, t in kept], table[[i for i, _ in kept]].clone())


def nearest_neighbours(
    vectors: WordVectors, query: str | torch.Tensor, topn: int = 10, exclude: Iterable[str] = ()
) -> list[tuple[str, float]]:
    """The ``topn`` words of highest cosine with ``query`` (a word, itself excluded, or a vector)."""
    if topn < 1:
        raise ValueError(f"topn={topn}; ask for at least 1 neighbour")
    excluded = set(exclude)
    if isinstance(query, str):
        excluded.add(query)
        query = vectors.vector(query)
    scores = vectors.unit @ normalize_rows(query.float())  # [V]
    banned = [vectors.id(w) for w in excluded if w in vectors]
    scores[banned] = -torch.inf
    top = scores.topk(min(topn, len(vectors) - len(banned)))
    return [(vectors.words[i], float(s)) for s, i in zip(top.values, top.indices)]


def analogy(vectors: WordVectors, a: str, b: str, c: str, topn: int = 5) -> list[tuple[str, float]]:
    """``a : b :: c : ?`` by 3CosAdd: the words closest to ``b̂ - â + ĉ``, query words excluded.

    ``analogy(v, "man", "king", "woman")`` is "king - man + woman". Scores are cosines with
    the (normalised) target vector, as in gensim's ``most_similar``.
    """
    unit = vectors.unit
    target = unit[vectors.id(b)] - unit[vectors.id(a)] + unit[vectors.id(c)]  # [d]
    return nearest_neighbours(vectors, target, topn, exclude=(a, b, c))


@dataclass(frozen=True)
class AnalogyReport:
    """Accuracy per section of an analogy test set (questions with an unknown word are skipped)."""

    correct: dict[str, int]
    total: dict[str, int]
    skipped: int

    @property
    def accuracy(self) -> float:
        answered = sum(self.total.values())
        return sum(self.correct.values()) / answered if answered else float("nan")

    @property
    def answered(self) -> int:
        return sum(self.total.values())

    def section_accuracy(self) -> dict[str, float]:
        return {s: self.correct[s] / self.total[s] for s in self.total}


ANALOGY_METHODS = ("3cosadd", "only-c", "ignore-a")


def analogy_predictions(
    vectors: WordVectors, queries: torch.Tensor, batch_size: int = 256, method: str = "3cosadd"
) -> torch.Tensor:
    """Answers for a batch of questions, ``queries`` = [n, 3] ids of (a, b, c): [n] ids.

    ``method`` picks the target vector, and every method leaves out the three query words:

    - ``"3cosadd"``: :math:`\\hat b - \\hat a + \\hat c`, the analogy itself;
    - ``"only-c"``: :math:`\\hat c` alone, i.e. the nearest neighbour of c;
    - ``"ignore-a"``: :math:`\\hat b + \\hat c`, the offset without subtracting a.

    The last two are the baselines of Linzen (2016, "Issues in evaluating semantic spaces
    using word analogies", arXiv:1606.07736; his "only-b" and "ignore-a" in the a : a* :: b : b*
    notation): whatever share of questions they solve needs no vector arithmetic.
    """
    if method not in ANALOGY_METHODS:
        raise ValueError(f"method={method!r}; choose one of {', '.join(ANALOGY_METHODS)}")
    if queries.ndim != 2 or queries.shape[1] != 3:
        raise ValueError(f"queries of shape {tuple(queries.shape)}; pass [n, 3] ids of (a, b, c)")
    unit = vectors.unit
    answers = []
    for batch in queries.split(batch_size):
        a, b, c = batch.T  # each [n]
        if method == "3cosadd":
            target = unit[b] - unit[a] + unit[c]  # [n, d]
        elif method == "only-c":
            target = unit[c]
        else:
            target = unit[b] + unit[c]
        scores = target @ unit.T  # [n, V]; the target's length changes no ranking
        scores.scatter_(1, batch, -torch.inf)  # exclude the three query words
        answers.append(scores.argmax(dim=1))
    return torch.cat(answers)


def degenerate_questions(questions: Sequence[AnalogyQuestion]) -> dict[str, list[AnalogyQuestion]]:
    """Split analogy questions by whether 3CosAdd can answer them at all.

    Returns three disjoint lists that together hold every question, in their order:

    - ``"answer_in_query"``: ``d`` equals ``a``, ``b`` or ``c``. 3CosAdd leaves the query
      words out of the candidates, so these are wrong by construction. They arise when
      preprocessing merges words (Porter stemming maps "walk" and "walking" to ``walk``).
    - ``"repeated_query"``: ``d`` is new but two query words are equal. With ``a == b`` the
      offset :math:`\\hat b - \\hat a` is zero and the question asks only for a neighbour
      of ``c``; the offset is not tested.
    - ``"distinct"``: the four words are different; only these test the offset.
    """
    split: dict[str, list[AnalogyQuestion]] = {"answer_in_query": [], "repeated_query": [], "distinct": []}
    for q in questions:
        if q.d in (q.a, q.b, q.c):
            split["answer_in_query"].append(q)
        elif len({q.a, q.b, q.c}) < 3:
            split["repeated_query"].append(q)
        else:
            split["distinct"].append(q)
    return split


def evaluate_analogies(
    vectors: WordVectors,
    questions: Sequence[AnalogyQuestion] | None = None,
    batch_size: int = 256,
    method: str = "3cosadd",
) -> AnalogyReport:
    """Accuracy per section, by default on ``questions-words.txt`` (lower-cased).

    ``method`` is 3CosAdd or one of Linzen's baselines (:func:`analogy_predictions`).

    Like gensim's ``evaluate_word_analogies`` (with its default ``restrict_vocab`` when the
    vocabulary has under 300,000 words): a question counts only if all four words are in the
    vocabulary, and the answer is the best word other than the three query words.
    """
    questions = analogy_questions() if questions is None else questions
    usable = [q for q in questions if all(w in vectors for w in (q.a, q.b, q.c, q.d))]
    correct: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    if usable:
        queries = torch.tensor([[vectors.index[w] for w in (q.a, q.b, q.c)] for q in usable])  # [n, 3]
        answers = analogy_predictions(vectors, queries, batch_size, method)
        for q, answer in zip(usable, answers.tolist()):
            total[q.section] += 1
            correct[q.section] += answer == vectors.index[q.d]
    return AnalogyReport(dict(correct), dict(total), skipped=len(questions) - len(usable))


def rankdata(x: torch.Tensor) -> torch.Tensor:
    """Ranks 1..n of a 1-D tensor, ties sharing their average rank (as ``scipy.stats.rankdata``)."""
    x = x.double()
    order = x.argsort()
    sorted_x = x[order]
    ranks = torch.empty_like(x)
    start = 0
    n = len(x)
    while start < n:  # walk runs of equal values; each gets the mean of its positions
        end = start
        while end + 1 < n and sorted_x[end + 1] == sorted_x[start]:
            end += 1
        ranks[order[start : end + 1]] = (start + end) / 2 + 1
        start = end + 1
    return ranks


def spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """Spearman's rho: the Pearson correlation of the two rank vectors."""
    if x.shape != y.shape or x.ndim != 1 or len(x) < 2:
        raise ValueError(f"need two 1-D sequences of equal length >= 2, got shapes {tuple(x.shape)} and {tuple(y.shape)}")
    rx, ry = rankdata(x), rankdata(y)
    rx, ry = rx - rx.mean(), ry - ry.mean()
    return float((rx @ ry) / (rx.norm() * ry.norm()))


@dataclass(frozen=True)
class SimilarityReport:
    """Spearman correlation between human scores and cosines on the pairs found in the vocabulary."""

    spearman: float
    used: int
    skipped: int


def word_similarity_spearman(vectors: WordVectors, pairs: Sequence[tuple[str, str, float]]) -> SimilarityReport:
    """Spearman's rho between human scores and cosines (WordSim353, SimLex-999).

    Pairs with a word outside the vocabulary are skipped (gensim's ``evaluate_word_pairs``
    does the same and reports their share as ``oov_ratio``).
    """
    found = [(a, b, s) for a, b, s in pairs if a in vectors and b in vectors]
    if len(found) < 2:
        raise ValueError(f"only {len(found)} of {len(pairs)} pairs have both words in the vocabulary; need at least 2")
    unit = vectors.unit
    left = unit[[vectors.index[a] for a, _, _ in found]]  # [n, d]
    right = unit[[vectors.index[b] for _, b, _ in found]]  # [n, d]
    cosines = (left * right).sum(dim=1)  # [n]
    human = torch.tensor([s for _, _, s in found])
    return SimilarityReport(spearman(human, cosines), used=len(found), skipped=len(pairs) - len(found))


def direction(vectors: WordVectors, pairs: Sequence[tuple[str, str]]) -> torch.Tensor:
    """Unit vector along the mean of ``b̂ - â`` over ``pairs`` [(a, b), ...], e.g. (man, woman): [d]."""
    if not pairs:
        raise ValueError("direction needs at least one (a, b) word pair")
    unit = vectors.unit
    a = vectors.ids(p[0] for p in pairs)
    b = vectors.ids(p[1] for p in pairs)
    return normalize_rows((unit[b] - unit[a]).mean(dim=0))


def project(vectors: WordVectors, words: Sequence[str], axis: torch.Tensor) -> torch.Tensor:
    """Cosine of each word with ``axis`` (a direction): [len(words)]."""
    return vectors.unit[vectors.ids(words)] @ normalize_rows(axis.float())


def pca(matrix: torch.Tensor, k: int = 2) -> torch.Tensor:
    """Coordinates of the rows of ``matrix`` [n, d] on its first ``k`` principal axes: [n, k].

    Centre the rows, take the top right-singular vectors; each axis's sign is fixed so its
    largest-magnitude loading is positive (as scikit-learn does), making plots reproducible.
    """
    if not 1 <= k <= min(matrix.shape):
        raise ValueError(f"k={k} principal axes requested from a {tuple(matrix.shape)} matrix; use 1..{min(matrix.shape)}")
    centred = matrix.double() - matrix.double().mean(dim=0)  # [n, d]
    _, _, vh = torch.linalg.svd(centred, full_matrices=False)  # vh: [min(n, d), d]
    axes = vh[:k]  # [k, d]
    signs = torch.sign(axes.gather(1, axes.abs().argmax(dim=1, keepdim=True)))  # [k, 1]
    return (centred @ (axes * signs).T).float()  # [n, k]


def random_offset_cosines(
    vectors: WordVectors, axis: torch.Tensor, n_pairs: int = 20_000, seed: int = 0
) -> torch.Tensor:
    """Null distribution for an offset's alignment: cosines of random offsets with ``axis``.

    Draws ``n_pairs`` pairs of distinct words (x, y) uniformly from the vocabulary and returns
    :math:`\\cos(\\hat y - \\hat x,\\ axis)`: [n_pairs]. A relation's offset (queen - king)
    is aligned with a direction (woman - man) beyond chance only if its cosine is far in the
    tail of this distribution. Unlike the isotropic rule of thumb :math:`1/\\sqrt d`, it
    includes whatever structure the space has (a common direction, uneven variances).
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs={n_pairs}; draw at least one pair")
    if len(vectors) < 2:
        raise ValueError("need at least two words to draw pairs")
    generator = torch.Generator().manual_seed(seed)
    x = torch.randint(len(vectors), (n_pairs,), generator=generator)
    shift = torch.randint(1, len(vectors), (n_pairs,), generator=generator)
    y = (x + shift) % len(vectors)  # uniform over the words other than x
    offsets = normalize_rows(vectors.unit[y] - vectors.unit[x])  # [n_pairs, d]
    return offsets @ normalize_rows(axis.float())  # [n_pairs]


def nearest_group_share(matrix: torch.Tensor, labels: Sequence[str], metric: str = "cosine") -> float:
    """Share of rows whose nearest other row carries the same label.

    ``matrix`` is [n, d] (the full vectors, or 2-D coordinates of a picture); ``labels`` has
    one group name per row. ``metric`` is ``"cosine"`` (how the space is searched) or
    ``"euclidean"`` (what the eye sees in a scatter plot). Chance level is the share for
    shuffled labels.
    """
    if metric not in ("cosine", "euclidean"):
        raise ValueError(f"metric={metric!r}; use 'cosine' or 'euclidean'")
    if matrix.ndim != 2 or matrix.shape[0] != len(labels) or len(labels) < 2:
        raise ValueError(
            f"matrix of shape {tuple(matrix.shape)} and {len(labels)} labels; pass [n, d] and n >= 2 labels"
        )
    x = matrix.double()
    if metric == "cosine":
        closeness = normalize_rows(x) @ normalize_rows(x).T  # [n, n]
    else:
        closeness = -torch.cdist(x, x)  # [n, n]
    closeness.fill_diagonal_(-torch.inf)
    nearest = closeness.argmax(dim=1).tolist()
    return sum(labels[i] == labels[j] for i, j in enumerate(nearest)) / len(labels)


def ranking_gaps(scored: Sequence[tuple[str, float]]) -> list[float]:
    """Differences between consecutive scores of a ranking [(word, score), ...], best first.

    A printed order is only as stable as its smallest gap: notebooks assert it exceeds a
    margin (1e-3) before drawing conclusions from the order.
    """
    scores = [s for _, s in scored]
    if any(a < b for a, b in zip(scores, scores[1:])):
        raise ValueError("scores must be sorted from best to worst")
    return [a - b for a, b in zip(scores, scores[1:])]
