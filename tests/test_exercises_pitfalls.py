"""The pitfalls checkers accept the reference answers and explain the usual mistakes."""

from __future__ import annotations

import pytest
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.pitfalls import check_csls, check_k_occurrence_skew, check_mean_cosine


def units(x):
    return x / x.norm(dim=1, keepdim=True)


def mean_cosine_reference(x):
    c = units(x) @ units(x).T
    n = x.shape[0]
    return (c.sum() - c.diagonal().sum()) / (n * (n - 1))


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (mean_cosine_reference, CORRECT, "centering"),
        (lambda x: float(mean_cosine_reference(x)), CORRECT, "centering"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (lambda x: (units(x) @ units(x).T).mean(), INCORRECT, "diagonal too"),
        (lambda x: ((x @ x.T).sum() - (x * x).sum()) / (x.shape[0] * (x.shape[0] - 1)), INCORRECT, "mean dot product"),
        (lambda x: units(x) @ units(x).T, INCORRECT, "shape"),
        (lambda x: None, INCORRECT, "return"),
    ],
)
def test_mean_cosine_checker(answer, status, hint):
    verdict = check_mean_cosine(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict)


def skew(counts):
    counts = counts.double()
    d = counts - counts.mean()
    return (d**3).mean() / (d**2).mean() ** 1.5


def neighbour_counts(x, k, include_self=False):
    c = units(x) @ units(x).T
    if not include_self:
        c.fill_diagonal_(-float("inf"))
    return torch.bincount(c.topk(k, dim=1).indices.flatten(), minlength=x.shape[0])


def unbiased(x, k):
    counts = neighbour_counts(x, k)
    n = counts.numel()
    return skew(counts) * (n * (n - 1)) ** 0.5 / (n - 2)


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (lambda x, k: skew(neighbour_counts(x, k)), CORRECT, "long right tail"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (lambda x, k: skew(neighbour_counts(x, k, include_self=True)), INCORRECT, "counted itself"),
        (unbiased, INCORRECT, "bias-corrected"),
        (lambda x, k: torch.tensor(0.0), INCORRECT, "how many neighbours each point has"),
        (lambda x, k: skew(neighbour_counts(x, k)) + 1, INCORRECT, "wrong at index"),
    ],
)
def test_k_occurrence_checker(answer, status, hint):
    verdict = check_k_occurrence_skew(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict)


def csls_reference(x, y, k):
    c = units(x) @ units(y).T
    return 2 * c - c.topk(k, dim=1).values.mean(dim=1)[:, None] - c.topk(k, dim=0).values.mean(dim=0)[None, :]


def cos(x, y):
    return units(x) @ units(y).T


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (csls_reference, CORRECT, "close to everything"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (lambda x, y, k: csls_reference(x, y, k) - cos(x, y), INCORRECT, "counted twice"),
        (lambda x, y, k: 2 * cos(x, y) - cos(x, y).topk(k, dim=1).values.mean(dim=1)[:, None], INCORRECT, "both"),
        (lambda x, y, k: 2 * cos(x, y) - cos(x, y).mean(dim=1)[:, None] - cos(x, y).mean(dim=0)[None, :],
         INCORRECT, "k nearest"),
        (lambda x, y, k: 2 * cos(x, y) - 2 * cos(x, y).topk(k, dim=1).values.mean(dim=1)[:, None], INCORRECT,
         "down each column"),
        (lambda x, y, k: csls_reference(x, y, k).T, INCORRECT, "transposed"),
    ],
)
def test_csls_checker(answer, status, hint):
    verdict = check_csls(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict)
