"""The getting-started checker: a catalogue of right answers in several forms and of
realistic wrong ones, each with the hint it should get."""

from __future__ import annotations

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
]


@pytest.mark.parametrize("answer", CORRECT_FORMS)
def test_correct_forms_are_accepted(answer):
    verdict = check_cosine(answer)
    assert verdict.status == CORRECT, str(verdict)


WRONG_ANSWERS = [
    (lambda a, b: a @ b, "plain dot product"),
    (lambda a, b: (a @ b) / a.norm(), "one length only"),
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
]


@pytest.mark.parametrize("answer, hint", WRONG_ANSWERS)
def test_wrong_answers_get_their_hint(answer, hint):
    verdict = check_cosine(answer)
    assert verdict.status == INCORRECT, str(verdict)
    assert hint in str(verdict), str(verdict)


@pytest.mark.parametrize("answer", [stub, None])
def test_stub_is_not_attempted(answer):
    assert check_cosine(answer).status == NOT_ATTEMPTED
