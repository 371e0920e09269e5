"""Checker for the getting-started chapter: cosine similarity of two vectors."""

from __future__ import annotations

import torch

from ..similarity import cosine_similarity
from .core import checker, compare_or_diagnose, run_learner

_CASES = (
    (torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])),
    (torch.tensor([1.0, 2.0, 3.0]), torch.tensor([2.0, 4.0, 6.0])),
    (torch.tensor([3.0, -1.0, 0.5, 2.0]), torch.tensor([-1.0, 0.5, 4.0, 1.0])),
    (torch.tensor([1.0, 1.0]), torch.tensor([-2.0, -2.0])),
)




@checker("cosine similarity")
def check_cosine(cosine) -> str:
    for a, b in _CASES:
        got = run_learner(cosine, a.clone(), b.clone())
        name = f"cosine({a.tolist()}, {b.tolist()})"
        compare_or_diagnose(got, cosine_similarity(a, b), name=name, mistakes=[
            (lambda: a @ b, "That is the plain dot product: divide by both lengths."),
        ])
    return "Your function agrees with embedlib.similarity.cosine_similarity on all four cases."
