"""The getting-started checker: a catalogue of right answers in several forms and of
realistic wrong ones, each with the hint it should get."""

from __future__ import annotations

import decimal
import fractions
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.intro import check_cosine


def reference(a, b):
    return (a @ b) / (a.norm() * b.norm())


def stub(a, b):
    raise NotImplementedError


CORRECT_FORMS = [
    reference,
    lambda a, b: F.cosine_similarity(a, b, dim=0),  # torch's own
    lambda a, b: float(reference(a, b)),  # a Python float
    lambda a, b: np.dot(a.numpy(), b.numpy())  # numpy: returns np.float32
    / (np.linalg.norm(a.numpy()) * np.linalg.norm(b.numpy())),
    lambda a, b: (a * b).sum() / torch.sqrt((a * a).sum() * (b * b).sum()),
    lambda a, b: reference(a, b).reshape(1),  # a one-element tensor
    lambda a, b: reference(a.double(), b.double()),  # float64
    lambda a, b: reference(a.requires_grad_(), b),  # a tensor with a gradient
    lambda a, b: np.float64(reference(a, b)),
    lambda a, b: np.array(float(reference(a, b))),  # a 0-d array
    lambda a, b: [float(reference(a, b))],  # a list of one, like the one-element tensor
    lambda a, b: fractions.Fraction(float(reference(a, b))),
    lambda a, b: decimal.Decimal(float(reference(a, b))),
]


@pytest.mark.parametrize("answer", CORRECT_FORMS)
def test_correct_forms_are_accepted(answer):
    verdict = check_cosine(answer)
    assert verdict.status == CORRECT, str(verdict)


WRONG_ANSWERS = [
    (lambda a, b: a @ b, "plain dot product"),
    (lambda a, b: (a @ b) / a.norm(), "one length only"),
    (lambda a, b: (a @ b) / b.norm(), "one length only"),
    (lambda a, b: (a @ b) / ((a @ a) * (b @ b)), "squared lengths"),
    (lambda a, b: 1 - reference(a, b), "cosine distance"),
    (lambda a, b: torch.arccos(reference(a, b).clamp(-1, 1)), "angle in radians"),
    (lambda a, b: (a @ b) / (a.abs().sum() * b.abs().sum()), "L1"),
    (lambda a, b: -reference(a, b), "wrong sign"),
    (lambda a, b: a * b / (a.norm() * b.norm()), "has shape (2,)"),
    (lambda a, b: (a @ b) / 0.0, "division by zero"),
    (lambda a, b: F.cosine_similarity(a, b), "raised IndexError"),  # dim=1 on 1-D input
    (lambda a, b: F.cosine_similarity(a, b), "pass dim=0"),
    (lambda a, b: a @ b / a.norm() * b.norm(), "in parentheses"),  # precedence slip
    (lambda a, b: a.dot(b) / a.norm() * b.norm(), "divide by their product"),
    (lambda a, b: "0.5", "numbers"),
    (lambda a, b: None, "forget `return`"),
    (lambda a, b: [0.5, 0.5], "has shape (2,): return one number, the sum of the products"),
    (lambda a, b: True, "is the boolean True"),
    (lambda a, b: np.True_, "is the boolean True"),
    (lambda a, b: reference(a, b) > 0.5, "is the boolean"),  # read as 1, "cosine distance"
    (lambda a, b: complex(float(reference(a, b)), 1.0), "complex: return real numbers"),
    (lambda a, b: math.nan, "got nan. Check for a division by zero."),
    (lambda a, b: object(), "should be numbers"),
]


@pytest.mark.parametrize("answer, hint", WRONG_ANSWERS)
def test_wrong_answers_get_their_hint(answer, hint):
    verdict = check_cosine(answer)
    assert verdict.status == INCORRECT, str(verdict)
    assert hint in str(verdict), str(verdict)


@pytest.mark.parametrize("answer", [stub, None])
def test_stub_is_not_attempted(answer):
    assert check_cosine(answer).status == NOT_ATTEMPTED


def test_numbers_in_the_message_are_at_sensible_precision():
    """The stored output of chapter 0 shows this message: "should be 1, got 28"."""
    message = str(check_cosine(lambda a, b: a @ b))
    assert "should be 1, got 28. That is the plain dot product" in message, message
