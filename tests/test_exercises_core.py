"""The exercise-checker machinery, and the getting-started checker: accept right, reject wrong."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from embedlib.exercises import LearnerError, checker, compare_values, run_learner
from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.intro import check_cosine


def reference_cosine(a, b):
    return (a @ b) / (a.norm() * b.norm())


def stub(a, b):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (reference_cosine, CORRECT, "agrees"),
        (lambda a, b: float(reference_cosine(a, b)), CORRECT, "agrees"),  # a float is fine too
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (None, NOT_ATTEMPTED, "Fill in"),
        (lambda a, b: a @ b, INCORRECT, "plain dot product"),
        (lambda a, b: -reference_cosine(a, b), INCORRECT, "wrong sign"),
        (lambda a, b: (a @ b) / a.norm(), INCORRECT, "one length only"),
        (lambda a, b: a * b / (a.norm() * b.norm()), INCORRECT, "shape"),
        (lambda a, b: (a @ b) / 0.0, INCORRECT, "division by zero"),
        (lambda a, b: None, INCORRECT, "forget `return`"),
        (lambda a, b: a.undefined_method(), INCORRECT, "AttributeError"),
        (lambda a, b: "0.5", INCORRECT, "numbers"),
        (reference_cosine(torch.ones(2), torch.ones(2)), INCORRECT, "expected a function"),
    ],
)
def test_cosine_checker(answer, status, hint):
    verdict = check_cosine(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict)
    assert bool(verdict) is (status == CORRECT)


def test_compare_values_hints():
    compare_values(np.array([1.0, 2.0]), torch.tensor([1.0, 2.0]))
    with pytest.raises(LearnerError, match=r"transposed"):
        compare_values(np.zeros((3, 2)), np.zeros((2, 3)))
    with pytest.raises(LearnerError, match=r"nan at index \(1,\)"):
        compare_values([0.0, math.nan], [0.0, 1.0])
    with pytest.raises(LearnerError, match=r"index \(1,\): expected 2, got 3"):
        compare_values([1.0, 3.0], [1.0, 2.0])


def test_run_learner_passes_results_through():
    assert run_learner(lambda x: x + 1, 1) == 2


def test_a_checker_that_breaks_still_returns_a_verdict():
    @checker("broken")
    def check_broken(answer):
        raise RuntimeError("bug in the checker")

    verdict = check_broken(1)
    assert verdict.status == INCORRECT and "RuntimeError" in verdict.message
