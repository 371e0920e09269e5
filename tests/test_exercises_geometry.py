"""The chapter 2 checkers accept right answers and explain realistic wrong ones."""

from __future__ import annotations

import pytest
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.geometry import check_projection, check_spearman, check_three_cos_add


def unit(x):
    return x / x.norm(dim=-1, keepdim=True)


def three_cos_add(matrix, a, b, c, normalise=True, exclude=True, sign=1):
    rows = unit(matrix) if normalise else matrix
    target = sign * (rows[b] - rows[a]) + rows[c]
    scores = unit(matrix) @ unit(target)
    if exclude:
        scores[[a, b, c]] = -float("inf")
    return int(scores.argmax())


def projections(matrix, pairs, queries, unit_rows=True, unit_axis=True, unit_query=True, sign=1):
    rows = unit(matrix) if unit_rows else matrix
    axis = sign * torch.stack([rows[j] - rows[i] for i, j in pairs]).mean(dim=0)
    if unit_axis:
        axis = unit(axis)
    q = unit(matrix[queries]) if unit_query else matrix[queries]
    return q @ axis


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


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check", [check_three_cos_add, check_projection, check_spearman])
def test_stub_is_not_attempted(check):
    assert check(stub).status == NOT_ATTEMPTED


@pytest.mark.parametrize(
    ("check", "answer"),
    [
        (check_three_cos_add, three_cos_add),
        (check_three_cos_add, lambda m, a, b, c: torch.tensor(three_cos_add(m, a, b, c))),  # a 0-d tensor is fine
        (check_projection, projections),
        (check_spearman, spearman_rho),
        (check_spearman, lambda x, y: torch.tensor(spearman_rho(x, y))),
    ],
)
def test_reference_answers_are_correct(check, answer):
    verdict = check(answer)
    assert verdict.status == CORRECT, verdict.message


@pytest.mark.parametrize(
    ("check", "answer", "hint"),
    [
        (check_three_cos_add, lambda m, a, b, c: three_cos_add(m, a, b, c, exclude=False), "leave a, b and c out"),
        (check_three_cos_add, lambda m, a, b, c: three_cos_add(m, a, b, c, sign=-1), "a - b + c"),
        (check_three_cos_add, lambda m, a, b, c: three_cos_add(m, a, b, c, normalise=False), "unit length before adding"),
        (check_three_cos_add, lambda m, a, b, c: 20, "expected"),
        (check_three_cos_add, lambda m, a, b, c: "queen", "an int"),
        (check_three_cos_add, lambda m, a, b, c: torch.zeros(3), "shape (3,)"),
        (check_projection, lambda m, p, q: projections(m, p, q, unit_axis=False), "divide the direction by its length"),
        (check_projection, lambda m, p, q: projections(m, p, q, unit_query=False), "cosine"),
        (check_projection, lambda m, p, q: projections(m, p, q, unit_rows=False), "before subtracting"),
        (check_projection, lambda m, p, q: projections(m, p, q, sign=-1), "wrong sign"),
        (check_projection, lambda m, p, q: projections(m, p, q)[:-1], "has shape"),
        (check_spearman, pearson, "Pearson"),
        (check_spearman, lambda x, y: pearson(x.argsort().argsort(), y.argsort().argsort()), "average of their ranks"),
        (check_spearman, lambda x, y: 1 - spearman_rho(x, y), "is wrong"),
        (check_spearman, lambda x, y: None, "forget `return`"),
    ],
)
def test_wrong_answers_get_the_specific_hint(check, answer, hint):
    verdict = check(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message, verdict.message
