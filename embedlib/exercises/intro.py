"""Checker for the getting-started chapter: cosine similarity of two vectors."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from ..similarity import cosine_similarity
from .core import LearnerError, as_array, as_number, checker, format_number, run_learner

# Chosen so that each wrong answer below differs from the cosine in at least one case:
# orthogonal, parallel with different lengths, a general pair, opposite directions.
_CASES = (
    (torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])),
    (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])),
    (torch.tensor([3.0, -1.0, 0.5, 2.0]), torch.tensor([-1.0, 0.5, 4.0, 1.0])),
    (torch.tensor([1.0, 1.0]), torch.tensor([-2.0, -2.0])),
)

_MISTAKES = (
    (lambda a, b: -(a @ b) / (a.norm() * b.norm()),
     "It has the wrong sign: check the dot product."),
    (lambda a, b: a @ b, "That is the plain dot product: divide by both lengths."),
    (lambda a, b: (a @ b) / a.norm(), "You divided by one length only: divide by both."),
    (lambda a, b: (a @ b) / b.norm(), "You divided by one length only: divide by both."),
    (lambda a, b: (a @ b) / a.norm() * b.norm(),
     "You divided by one length and then multiplied by the other: divide by their product, "
     "in parentheses: (a @ b) / (a.norm() * b.norm())."),
    (lambda a, b: (a @ b) / ((a @ a) * (b @ b)),
     "You divided by the squared lengths: take square roots (a.norm() is one)."),
    (lambda a, b: 1 - (a @ b) / (a.norm() * b.norm()),
     "That is the cosine distance, 1 - cos: return the cosine itself."),
    (lambda a, b: torch.arccos(((a @ b) / (a.norm() * b.norm())).clamp(-1, 1)),
     "That is the angle in radians: return its cosine."),
    (lambda a, b: (a @ b) / (a.abs().sum() * b.abs().sum()),
     "You divided by the sums of absolute values (L1): use the Euclidean lengths."),
)


def _as_cosine(value: Any, name: str) -> float:
    """The learner's cosine as a float, in any form :func:`~.core.as_number` accepts.

    Besides the shared hints, one for this exercise: several numbers where one is asked
    for are most likely the element-wise products, not yet summed.
    """
    array = as_array(value, name)
    if array.size != 1:
        raise LearnerError(
            f"{name} has shape {array.shape}: return one number, "
            "the sum of the products divided by both lengths."
        )
    return as_number(value, name)


@checker("cosine similarity")
def check_cosine(cosine: Callable[[torch.Tensor, torch.Tensor], Any]) -> str:
    for a, b in _CASES:
        name = f"cosine({a.tolist()}, {b.tolist()})"
        try:
            result = run_learner(cosine, a.clone(), b.clone())
        except LearnerError as error:
            cause = error.__cause__
            if isinstance(cause, IndexError) and "out of range" in str(cause):
                raise LearnerError(
                    f"{error}. On 1-D vectors pass dim=0: F.cosine_similarity works along "
                    "dim=1 by default, which a 1-D tensor does not have."
                ) from cause
            raise
        got = _as_cosine(result, name)
        expected = cosine_similarity(a, b).item()
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            continue
        message = (
            f"{name} should be {format_number(expected)}, got {format_number(got)}."
        )
        for wrong, advice in _MISTAKES:
            if math.isclose(got, float(wrong(a, b)), rel_tol=1e-4, abs_tol=1e-6):
                raise LearnerError(f"{message} {advice}")
        if not math.isfinite(got):
            raise LearnerError(f"{message} Check for a division by zero.")
        raise LearnerError(message)
    return (
        "Your function agrees with embedlib.similarity.cosine_similarity "
        "on all four cases."
    )
