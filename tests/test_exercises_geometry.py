"""The chapter 2 checkers: a catalogue of right answers in many forms, and of realistic
wrong ones, each with the hint it must get."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.geometry import (
    _ANALOGY_CASES,
    _SPEARMAN_CASES,
    check_projection,
    check_spearman,
    check_three_cos_add,
)


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def cos_scores(matrix, a, b, c, normalise=True, sign=1):
    rows = unit(matrix) if normalise else matrix
    target = sign * (rows[b] - rows[a]) + rows[c]
    return unit(matrix) @ unit(target)  # [V]


def three_cos_add(matrix, a, b, c, normalise=True, exclude=True, sign=1):
    scores = cos_scores(matrix, a, b, c, normalise, sign)
    if exclude:
        scores[[a, b, c]] = -float("inf")
    return int(scores.argmax())


def three_cos_add_numpy(matrix, a, b, c):
    m = matrix.numpy()
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    scores = m @ (m[b] - m[a] + m[c])
    scores[[a, b, c]] = -np.inf
    return np.argmax(scores)  # a NumPy int64


def three_cos_add_loop(matrix, a, b, c):
    rows = [row / row.norm() for row in matrix]
    target = rows[b] - rows[a] + rows[c]
    best, best_score = None, -float("inf")
    for i, row in enumerate(rows):
        score = float(row @ target)
        if i not in (a, b, c) and score > best_score:
            best, best_score = i, score
    return best


def three_cos_add_euclidean_on_unit_rows(matrix, a, b, c):
    """Nearest unit row by distance: the same ranking as by cosine."""
    rows = unit(matrix)
    distances = (rows - (rows[b] - rows[a] + rows[c])).norm(dim=1)
    distances[[a, b, c]] = float("inf")
    return distances.argmin()  # a 0-d tensor


def three_cos_add_topk(matrix, a, b, c):
    scores = cos_scores(matrix, a, b, c)
    scores[[a, b, c]] = -float("inf")
    return scores.topk(1).indices  # a one-element tensor


def projections(
    matrix,
    pairs,
    queries,
    unit_rows=True,
    unit_axis=True,
    unit_query=True,
    sign=1,
    unit_differences=False,
):
    rows = unit(matrix) if unit_rows else matrix
    differences = torch.stack([rows[j] - rows[i] for i, j in pairs])
    if unit_differences:
        differences = unit(differences)
    axis = sign * differences.mean(dim=0)
    if unit_axis:
        axis = unit(axis)
    q = unit(matrix[queries]) if unit_query else matrix[queries]
    return q @ axis


def projections_numpy(matrix, pairs, queries):
    m = matrix.double().numpy()
    m = m / np.linalg.norm(m, axis=1, keepdims=True)
    axis = np.sum(
        [m[j] - m[i] for i, j in pairs], axis=0
    )  # the sum: same direction as the mean
    return m[queries] @ (axis / np.linalg.norm(axis))


def projections_list(matrix, pairs, queries):
    return [float(v) for v in projections(matrix, pairs, queries)]


def ranks(x):
    order = x.argsort()
    r = torch.empty(len(x), dtype=torch.float64)
    r[order] = torch.arange(1, len(x) + 1, dtype=torch.float64)
    for value in x.unique():
        tied = x == value
        r[tied] = r[tied].mean()
    return r


def pearson(x, y):
    x, y = x.double() - x.double().mean(), y.double() - y.double().mean()
    return float(x @ y / (x.norm() * y.norm()))


def spearman_rho(x, y):
    return pearson(ranks(x), ranks(y))


def textbook(x, y, rank=ranks):
    n = len(x)
    return 1 - 6 * float(((rank(x) - rank(y)) ** 2).sum()) / (n * (n**2 - 1))


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "check", [check_three_cos_add, check_projection, check_spearman]
)
def test_stub_is_not_attempted(check):
    assert check(stub).status == NOT_ATTEMPTED


CORRECT_ANSWERS = {
    "3CosAdd, a Python int": (check_three_cos_add, three_cos_add),
    "3CosAdd, a NumPy int64 from np.argmax": (check_three_cos_add, three_cos_add_numpy),
    "3CosAdd, np.int64(...)": (
        check_three_cos_add,
        lambda *q: np.int64(three_cos_add(*q)),
    ),
    "3CosAdd, a loop": (check_three_cos_add, three_cos_add_loop),
    "3CosAdd, a 0-d tensor, Euclidean on unit rows": (
        check_three_cos_add,
        three_cos_add_euclidean_on_unit_rows,
    ),
    "3CosAdd, a one-element tensor from topk": (
        check_three_cos_add,
        three_cos_add_topk,
    ),
    "projection, a float32 tensor": (check_projection, projections),
    "projection, a NumPy float64 array, summed differences": (
        check_projection,
        projections_numpy,
    ),
    "projection, a list of floats": (check_projection, projections_list),
    "Spearman, a float": (check_spearman, spearman_rho),
    "Spearman, a 0-d tensor": (
        check_spearman,
        lambda x, y: torch.tensor(spearman_rho(x, y)),
    ),
    "Spearman, scipy's np.float64": (
        check_spearman,
        lambda x, y: scipy.stats.spearmanr(x, y).statistic,
    ),
    "Spearman, np.corrcoef of scipy ranks": (
        check_spearman,
        lambda x, y: np.corrcoef(scipy.stats.rankdata(x), scipy.stats.rankdata(y))[
            0, 1
        ],
    ),
}


@pytest.mark.parametrize(
    ("check", "answer"), list(CORRECT_ANSWERS.values()), ids=list(CORRECT_ANSWERS)
)
def test_correct_answers_in_every_form_are_accepted(check, answer):
    verdict = check(answer)
    assert verdict.status == CORRECT, verdict.message


WRONG_ANSWERS = {
    "3CosAdd, query words not excluded": (
        check_three_cos_add,
        lambda m, a, b, c: three_cos_add(m, a, b, c, exclude=False),
        "leave a, b and c out",
    ),
    "3CosAdd, a - b + c": (
        check_three_cos_add,
        lambda m, a, b, c: three_cos_add(m, a, b, c, sign=-1),
        "a - b + c",
    ),
    "3CosAdd, raw rows added": (
        check_three_cos_add,
        lambda m, a, b, c: three_cos_add(m, a, b, c, normalise=False),
        "unit length before adding",
    ),
    "3CosAdd, argmin": (
        check_three_cos_add,
        lambda m, a, b, c: int(
            torch.where(
                torch.isin(torch.arange(len(m)), torch.tensor([a, b, c])),
                float("inf"),
                cos_scores(m, a, b, c),
            ).argmin()
        ),
        "take the argmax",
    ),
    "3CosAdd, Euclidean on raw rows": (
        check_three_cos_add,
        lambda m, a, b, c: int(
            torch.where(
                torch.isin(torch.arange(len(m)), torch.tensor([a, b, c])),
                float("inf"),
                (m - (m[b] - m[a] + m[c])).norm(dim=1),
            ).argmin()
        ),
        "rank by cosine",
    ),
    "3CosAdd, the score instead of the index": (
        check_three_cos_add,
        lambda m, a, b, c: float(cos_scores(m, a, b, c)[three_cos_add(m, a, b, c)]),
        "not its cosine",
    ),
    "3CosAdd, the top 3 indices": (
        check_three_cos_add,
        lambda m, a, b, c: torch.zeros(3),
        "shape (3,)",
    ),
    "3CosAdd, a word": (check_three_cos_add, lambda m, a, b, c: "queen", "an int"),
    "3CosAdd, a boolean": (check_three_cos_add, lambda m, a, b, c: True, "boolean"),
    "projection, direction not normalised": (
        check_projection,
        lambda m, p, q: projections(m, p, q, unit_axis=False),
        "divide the direction by its length",
    ),
    "projection, dot product with raw query rows": (
        check_projection,
        lambda m, p, q: projections(m, p, q, unit_query=False),
        "cosine",
    ),
    "projection, raw rows subtracted": (
        check_projection,
        lambda m, p, q: projections(m, p, q, unit_rows=False),
        "before subtracting",
    ),
    "projection, each difference normalised": (
        check_projection,
        lambda m, p, q: projections(m, p, q, unit_differences=True),
        "average the differences",
    ),
    "projection, v_i - v_j": (
        check_projection,
        lambda m, p, q: projections(m, p, q, sign=-1),
        "v_j - v_i",
    ),
    "projection, one query missing": (
        check_projection,
        lambda m, p, q: projections(m, p, q)[:-1],
        "has shape",
    ),
    "Spearman, textbook formula with average ranks": (
        check_spearman,
        textbook,
        "with ties 1 - 6",
    ),
    "Spearman, textbook formula with ordinal ranks": (
        check_spearman,
        lambda x, y: textbook(x, y, rank=lambda v: v.argsort().argsort().double()),
        "average of their ranks",
    ),  # on distinct (ordinal) ranks the shortcut is exact
    "Spearman, Pearson of the values": (check_spearman, pearson, "Pearson"),
    "Spearman, argsort taken as ranks": (
        check_spearman,
        lambda x, y: pearson(x.argsort(), y.argsort()),
        "not their ranks",
    ),
    "Spearman, ties broken by position": (
        check_spearman,
        lambda x, y: pearson(x.argsort().argsort(), y.argsort().argsort()),
        "average of their ranks",
    ),
    "Spearman, 1 - rho": (
        check_spearman,
        lambda x, y: 1 - spearman_rho(x, y),
        "is wrong",
    ),
    "Spearman, no return": (check_spearman, lambda x, y: None, "forget `return`"),
}


@pytest.mark.parametrize(
    ("check", "answer", "hint"), list(WRONG_ANSWERS.values()), ids=list(WRONG_ANSWERS)
)
def test_wrong_answers_get_the_specific_hint(check, answer, hint):
    verdict = check(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message, verdict.message


def test_the_catalogue_is_large_enough():
    for check in (check_three_cos_add, check_projection, check_spearman):
        assert sum(c is check for c, _ in CORRECT_ANSWERS.values()) >= 3
        assert sum(c is check for c, _, _ in WRONG_ANSWERS.values()) >= 4


def test_analogy_cases_have_no_near_tie_for_first_place():
    """The task promises no ties: every case's winner leads by a clear margin."""
    for matrix, a, b, c in _ANALOGY_CASES:
        scores = cos_scores(matrix, a, b, c)
        scores[[a, b, c]] = -float("inf")
        top = scores.topk(2).values
        assert top[0] - top[1] > 1e-3


def test_textbook_formula_is_exact_on_the_cases_without_ties():
    distinct = [
        len(x.unique()) == len(x) and len(y.unique()) == len(y)
        for x, y in _SPEARMAN_CASES
    ]
    without_ties = [case for case, d in zip(_SPEARMAN_CASES, distinct) if d]
    with_ties = [case for case, d in zip(_SPEARMAN_CASES, distinct) if not d]
    assert len(without_ties) >= 2 and len(with_ties) >= 2
    for x, y in without_ties:
        assert textbook(x, y) == pytest.approx(spearman_rho(x, y), abs=1e-12)
    for x, y in with_ties:
        assert abs(textbook(x, y) - spearman_rho(x, y)) > 1e-3


def test_messages_show_the_cases_without_float32_noise():
    message = check_spearman(
        lambda x, y: pearson(x.argsort().argsort(), y.argsort().argsort())
    ).message
    assert "0.3," in message and "0.30000001" not in message
