"""Checker for the getting-started chapter: cosine similarity of two vectors."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ..similarity import cosine_similarity
from .core import LearnerError, checker, run_learner

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


def _as_scalar(value: Any, name: str) -> float:
    """One number from a float, a numpy scalar or a one-element tensor or array."""
    if isinstance(value, (str, bytes)):
        raise LearnerError(
            f"{name} returned the text {value!r}; cosines are numbers: return a float "
            "or a tensor."
        )
    if isinstance(value, (bool, np.bool_)):
        raise LearnerError(f"{name} returned {value!r}; return one number.")
    if isinstance(value, (torch.Tensor, np.ndarray)):
        size = value.numel() if isinstance(value, torch.Tensor) else value.size
        if size != 1:
            raise LearnerError(
                f"{name} has shape {tuple(value.shape)}: return one number, "
                "the sum of the products divided by both lengths."
            )
        value = value.item()
    if isinstance(value, complex):
        raise LearnerError(
            f"{name} returned the complex number {value}; return a real one."
        )
    try:
        return float(value)
    except (TypeError, ValueError) as error:
        kind = type(value).__name__
        raise LearnerError(f"{name} returned {kind}; return one number.") from error


@checker("cosine similarity")
def check_cosine(cosine) -> str:
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
        got = _as_scalar(result, name)
        expected = cosine_similarity(a, b).item()
        if math.isclose(got, expected, rel_tol=1e-4, abs_tol=1e-6):
            continue
        message = f"{name} should be {expected:.4g}, got {got:.4g}."
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
