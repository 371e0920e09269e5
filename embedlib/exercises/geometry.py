"""Checkers for chapter 2, the geometry of word vectors: 3CosAdd, directions, Spearman."""

from __future__ import annotations

import numbers

import numpy as np
import torch

from ..geometry import WordVectors, analogy_predictions, rankdata, spearman
from ..similarity import normalize_rows
from .core import LearnerError, checker, compare_or_diagnose, run_learner


def _matrix(seed: int, vocab_size: int, dim: int) -> torch.Tensor:
    """Random rows of very different lengths, so forgetting to normalise changes answers."""
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.rand(vocab_size, 1, generator=generator) * 5 + 0.1
    return torch.randn(vocab_size, dim, generator=generator) * lengths  # [V, d]


def _vectors(matrix: torch.Tensor) -> WordVectors:
    return WordVectors([str(i) for i in range(len(matrix))], matrix)


# (matrix, a, b, c): "a is to b as c is to ?". Between them the five cases expose each mistake
# that check_three_cos_add names (tests/test_exercises_geometry.py proves it).
_QUERIES = [(0, 1, 2), (5, 17, 30), (39, 3, 8), (11, 12, 13), (7, 2, 21)]
_ANALOGY_CASES = [
    (_matrix(seed, 40, 6), a, b, c) for seed, (a, b, c) in enumerate(_QUERIES)
]


def _three_cos_add(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    return int(analogy_predictions(_vectors(matrix), torch.tensor([[a, b, c]]))[0])


def _best_unnormalised(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    scores = (
        normalize_rows(matrix[b] - matrix[a] + matrix[c]) @ normalize_rows(matrix).T
    )  # [V]
    scores[[a, b, c]] = -torch.inf
    return int(scores.argmax())


def _argmin_cosine(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    unit = normalize_rows(matrix)
    scores = unit @ (unit[b] - unit[a] + unit[c])  # [V]
    scores[[a, b, c]] = torch.inf
    return int(scores.argmin())


def _nearest_raw_euclidean(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    distances = (matrix - (matrix[b] - matrix[a] + matrix[c])).norm(dim=1)  # [V]
    distances[[a, b, c]] = torch.inf
    return int(distances.argmin())


def _as_index(value) -> int:
    """One row index from an int, a NumPy integer, or a one-element tensor or array."""
    if isinstance(value, bool) or isinstance(value, np.bool_):
        raise LearnerError(
            f"return the row index of the answer (an int), got the boolean {value!r}."
        )
    if isinstance(value, (torch.Tensor, np.ndarray)):
        if value.size if isinstance(value, np.ndarray) else value.numel() != 1:
            shape = tuple(value.shape)
            raise LearnerError(f"return one row index, got an array of shape {shape}.")
        if (
            value.dtype.is_floating_point
            if isinstance(value, torch.Tensor)
            else value.dtype.kind == "f"
        ):
            value = float(value.item())
        else:
            value = value.item()
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, float):
        if value.is_integer():
            return int(value)
        raise LearnerError(
            f"returned {value:.4g}, a score, not a row: return the index of the best row "
            "(argmax), not its cosine."
        )
    raise LearnerError(
        f"return the row index of the answer (an int), got {type(value).__name__} {value!r}."
    )


@checker("3CosAdd analogy")
def check_three_cos_add(three_cos_add) -> str:
    for matrix, a, b, c in _ANALOGY_CASES:
        got = _as_index(run_learner(three_cos_add, matrix.clone(), a, b, c))
        expected = _three_cos_add(matrix, a, b, c)
        if got == expected:
            continue
        name = f"three_cos_add(matrix, a={a}, b={b}, c={c})"
        if got in (a, b, c):
            raise LearnerError(
                f"{name} returned {got}, one of the query words: leave a, b and c out of the candidates."
            )
        if got == _three_cos_add(matrix, b, a, c):
            raise LearnerError(
                f"{name} returned {got}: that is a - b + c; the target is b - a + c."
            )
        if got == _best_unnormalised(matrix, a, b, c):
            raise LearnerError(
                f"{name} returned {got}: scale a, b and c to unit length before adding them."
            )
        if got == _argmin_cosine(matrix, a, b, c):
            raise LearnerError(
                f"{name} returned {got}, the row of lowest cosine: take the argmax."
            )
        if got == _nearest_raw_euclidean(matrix, a, b, c):
            raise LearnerError(
                f"{name} returned {got}, the row nearest to b - a + c by distance between raw rows: "
                "rank by cosine (rows of unit length), or long rows lose."
            )
        raise LearnerError(
            f"{name} returned {got}, expected {expected}: rank every row by its cosine with b̂ - â + ĉ."
        )
    return "Same answers as embedlib.geometry.analogy on all 5 cases."


_DIRECTION_CASES = [
    (_matrix(100, 12, 5), [(0, 1)], [2, 3, 4]),
    (_matrix(101, 20, 8), [(0, 1), (2, 3), (4, 5)], [6, 7, 8, 9, 1]),
    (_matrix(102, 15, 4), [(14, 3), (9, 10)], [0, 14, 3]),
]


def _projection(
    matrix: torch.Tensor,
    pairs,
    queries,
    unit_rows: bool = True,
    unit_axis: bool = True,
    unit_query: bool = True,
    unit_differences: bool = False,
) -> torch.Tensor:
    rows = normalize_rows(matrix) if unit_rows else matrix
    differences = torch.stack([rows[j] - rows[i] for i, j in pairs])  # [pairs, d]
    if unit_differences:
        differences = normalize_rows(differences)
    axis = differences.mean(dim=0)  # [d]
    axis = normalize_rows(axis) if unit_axis else axis
    queries_rows = normalize_rows(matrix[queries]) if unit_query else matrix[queries]
    return queries_rows @ axis  # [len(queries)]


@checker("a direction and projections on it")
def check_projection(projections) -> str:
    for matrix, pairs, queries in _DIRECTION_CASES:
        got = run_learner(projections, matrix.clone(), list(pairs), list(queries))
        name = f"projections(matrix, pairs={pairs}, queries={queries})"
        compare_or_diagnose(got, _projection(matrix, pairs, queries), name=name, mistakes=[
            (lambda: _projection(matrix, pairs, queries, unit_axis=False), "Close: divide the direction by its length."),
            (lambda: _projection(matrix, pairs, queries, unit_query=False),
             "Close: use the cosine: scale each query row to unit length."),
            (lambda: _projection(matrix, pairs, queries, unit_rows=False),
             "Close: scale the words of each pair to unit length before subtracting."),
            (lambda: _projection(matrix, pairs, queries, unit_differences=True),
             "Close: average the differences as they are, then scale the mean to length 1."),
            (lambda: _projection(matrix, [(j, i) for i, j in pairs], queries),
             "The direction points from i to j: use v_j - v_i."),
        ])  # fmt: skip
    return "Agrees with embedlib.geometry.project."


# Two cases without ties first (the textbook shortcut formula is right there), then two with
# ties, as human similarity scores have. Unsorted, so that argsort (an order) != ranks.
_SPEARMAN_CASES = [
    (
        torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]),
        torch.tensor([1.0, 4.0, 9.0, 16.0, 100.0]),
    ),  # monotone: rho = 1
    (
        torch.tensor([0.2, 3.1, 1.7, 4.4, 0.9, 2.5]),
        torch.tensor([1.0, 5.0, 6.0, 2.0, 3.0, 4.0]),
    ),
    (
        torch.tensor([3.0, 1.0, 2.0, 2.0, 5.0, 5.0, 0.5]),
        torch.tensor([0.3, 0.1, 0.5, 0.2, 0.9, 0.7, 0.0]),
    ),  # ties
    (
        torch.tensor([7.0, 5.5, 8.0, 1.0, 2.0, 2.0]),
        torch.tensor([0.9, 0.95, 0.1, -0.3, 0.4, 0.0]),
    ),
]


def _short(values: torch.Tensor) -> str:
    """A case's values as the learner would type them (no float32 noise such as 0.30000001)."""
    return "[" + ", ".join(f"{v:.4g}" for v in values.tolist()) + "]"


def _pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double() - x.double().mean(), y.double() - y.double().mean()
    return float(x @ y / (x.norm() * y.norm()))


def _ordinal_spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    return _pearson(x.argsort().argsort().double(), y.argsort().argsort().double())


def _textbook_spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    """1 - 6 sum(d^2) / (n (n^2 - 1)) on average ranks, exact only when no value repeats.

    (On ordinal ranks, ties broken by position, it equals :func:`_ordinal_spearman`.)
    """
    rx, ry = rankdata(x), rankdata(y)
    n = len(x)
    return float(1 - 6 * ((rx - ry) ** 2).sum() / (n * (n**2 - 1)))


_TEXTBOOK_HINT = (
    "Right where no value repeats, but with ties 1 - 6 sum(d^2) / (n(n^2 - 1)) is not "
    "Spearman's rho: take the Pearson correlation of the average ranks."
)


@checker("Spearman rank correlation")
def check_spearman(spearman_rho) -> str:
    for x, y in _SPEARMAN_CASES:
        got = run_learner(spearman_rho, x.clone(), y.clone())
        name = f"spearman_rho({_short(x)}, {_short(y)})"
        compare_or_diagnose(got, spearman(x, y), name=name, mistakes=[
            (lambda: _textbook_spearman(x, y), _TEXTBOOK_HINT),
            (lambda: _pearson(x, y), "That is Pearson's r of the values: correlate their ranks instead."),
            (lambda: _pearson(x.argsort(), y.argsort()),
             "argsort gives the order of the items, not their ranks: a rank is where an item lands."),
            (lambda: _ordinal_spearman(x, y), "Tied values must share the average of their ranks."),
        ])  # fmt: skip
    return "Agrees with scipy's spearmanr, ties included."
