"""Checkers for chapter 2, the geometry of word vectors: 3CosAdd, directions, Spearman."""

from __future__ import annotations

import torch

from ..geometry import WordVectors, analogy_predictions, spearman
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
_ANALOGY_CASES = [(_matrix(seed, 40, 6), a, b, c) for seed, (a, b, c) in enumerate(_QUERIES)]


def _three_cos_add(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    return int(analogy_predictions(_vectors(matrix), torch.tensor([[a, b, c]]))[0])


def _best_unnormalised(matrix: torch.Tensor, a: int, b: int, c: int) -> int:
    scores = normalize_rows(matrix[b] - matrix[a] + matrix[c]) @ normalize_rows(matrix).T  # [V]
    scores[[a, b, c]] = -torch.inf
    return int(scores.argmax())


def _as_index(value) -> int:
    if hasattr(value, "numel"):
        if value.numel() != 1:
            raise LearnerError(f"return one row index, got a tensor of shape {tuple(value.shape)}")
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise LearnerError(f"return the row index of the answer (an int), got {type(value).__name__} {value!r}")
    return value


@checker("3CosAdd analogy")
def check_three_cos_add(three_cos_add) -> str:
    for matrix, a, b, c in _ANALOGY_CASES:
        got = _as_index(run_learner(three_cos_add, matrix.clone(), a, b, c))
        expected = _three_cos_add(matrix, a, b, c)
        if got == expected:
            continue
        name = f"three_cos_add(matrix, a={a}, b={b}, c={c})"
        if got in (a, b, c):
            raise LearnerError(f"{name} returned {got}, one of the query words: leave a, b and c out of the candidates.")
        if got == _three_cos_add(matrix, b, a, c):
            raise LearnerError(f"{name} returned {got}: that is a - b + c; the target is b - a + c.")
        if got == _best_unnormalised(matrix, a, b, c):
            raise LearnerError(f"{name} returned {got}: scale a, b and c to unit length before adding them.")
        raise LearnerError(f"{name} returned {got}, expected {expected}: rank every row by its cosine with b̂ - â + ĉ.")
    return "Your 3CosAdd picks the same answer as embedlib.geometry.analogy on all five cases."


_DIRECTION_CASES = [
    (_matrix(100, 12, 5), [(0, 1)], [2, 3, 4]),
    (_matrix(101, 20, 8), [(0, 1), (2, 3), (4, 5)], [6, 7, 8, 9, 1]),
    (_matrix(102, 15, 4), [(14, 3), (9, 10)], [0, 14, 3]),
]


def _projection(
    matrix: torch.Tensor, pairs, queries, unit_rows: bool = True, unit_axis: bool = True, unit_query: bool = True
) -> torch.Tensor:
    rows = normalize_rows(matrix) if unit_rows else matrix
    axis = torch.stack([rows[j] - rows[i] for i, j in pairs]).mean(dim=0)  # [d]
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
        ])
    return "Your projections agree with embedlib.geometry.direction and project."


_SPEARMAN_CASES = [
    (torch.tensor([1.0, 2.0, 3.0, 4.0, 5.0]), torch.tensor([1.0, 4.0, 9.0, 16.0, 100.0])),  # monotone: rho = 1
    (torch.tensor([3.0, 1.0, 2.0, 2.0, 5.0, 5.0, 0.5]), torch.tensor([0.3, 0.1, 0.5, 0.2, 0.9, 0.7, 0.0])),  # ties
    (torch.tensor([7.0, 5.5, 8.0, 1.0, 2.0, 2.0]), torch.tensor([0.9, 0.95, 0.1, -0.3, 0.4, 0.0])),
]


def _pearson(x: torch.Tensor, y: torch.Tensor) -> float:
    x, y = x.double() - x.double().mean(), y.double() - y.double().mean()
    return float(x @ y / (x.norm() * y.norm()))


def _ordinal_spearman(x: torch.Tensor, y: torch.Tensor) -> float:
    return _pearson(x.argsort().argsort().double(), y.argsort().argsort().double())


@checker("Spearman rank correlation")
def check_spearman(spearman_rho) -> str:
    for x, y in _SPEARMAN_CASES:
        got = run_learner(spearman_rho, x.clone(), y.clone())
        name = f"spearman_rho({x.tolist()}, {y.tolist()})"
        compare_or_diagnose(got, spearman(x, y), name=name, mistakes=[
            (lambda: _pearson(x, y), "That is Pearson's r of the values: correlate their ranks instead."),
            (lambda: _ordinal_spearman(x, y), "Tied values must share the average of their ranks."),
        ])
    return "Your Spearman's rho agrees with embedlib.geometry.spearman (and scipy), ties included."
