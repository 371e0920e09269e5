"""Checkers for the Matryoshka chapter: the nested loss, truncation, recall@k of a funnel."""

from __future__ import annotations

import torch
from torch import nn

from ..matryoshka import matryoshka_classification_loss, truncate
from ..retrieval import recall_at_k
from ..similarity import normalize_rows
from .core import checker, compare_or_diagnose, run_learner




def _loss_case(seed: int, dims: tuple[int, ...]):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(12, dims[-1], generator=generator)  # [B, d]
    labels = torch.randint(0, 5, (12,), generator=generator)
    heads = [nn.Linear(m, 5) for m in dims]
    for head in heads:
        nn.init.normal_(head.weight, generator=generator)
        nn.init.zeros_(head.bias)
    return z, labels, heads


@checker("nested (Matryoshka) loss")
def check_nested_loss(nested_loss) -> str:
    """``nested_loss(z, labels, heads, dims)``: sum over widths of cross-entropy of each head on its prefix."""
    for seed, dims in ((0, (2, 4, 8)), (1, (1, 3, 6, 12)), (2, (5,))):
        z, labels, heads = _loss_case(seed, dims)
        got = run_learner(nested_loss, z.clone(), labels.clone(), heads, dims)
        expected = matryoshka_classification_loss(z, labels, heads, dims)
        name = f"nested_loss with dims={dims}"
        with torch.no_grad():
            per_width = [matryoshka_classification_loss(z, labels, [h], [m]) for m, h in zip(dims, heads)]
        compare_or_diagnose(got, expected, name=name, mistakes=[
            (lambda: expected / len(dims),
             "You averaged over the widths: the Matryoshka loss is their sum (every weight is 1 here)."),
            (lambda: per_width[-1], "That is only the loss of the full width: add the loss of every prefix z[:, :m]."),
            (lambda: per_width[0],
             "That is only the loss of the first width: loop over every (m, head) pair and add them up."),
        ], otherwise="Slice the first m coordinates, z[:, :m], give them to the head of that width, and sum the cross-entropies.")
    return "Your loss matches embedlib.matryoshka.matryoshka_classification_loss for three sets of widths."


@checker("truncate and renormalise")
def check_truncate(truncate_fn) -> str:
    """``truncate_fn(x, dim)``: the first ``dim`` coordinates of each row, back to unit length."""
    generator = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(6, 16, generator=generator)  # [6, 16], rows of length ~12
    for dim in (3, 8, 16):
        got = run_learner(truncate_fn, x.clone(), dim)
        expected = truncate(x, dim)
        mistakes = [
            (lambda: x[:, :dim], "A prefix is not of unit length: divide each row by its new length."),
            (lambda: normalize_rows(x[:, -dim:]),
             "Those are the last coordinates: a Matryoshka model puts its information first, keep x[:, :dim]."),
        ]
        if dim < x.shape[1]:
            mistakes.append((lambda: normalize_rows(x)[:, :dim], "You normalised before cutting: cut first, then normalise."))
        compare_or_diagnose(got, expected, name=f"truncate(x, {dim})", mistakes=mistakes,
                            otherwise="Keep x[:, :dim] and divide each row by its length (norm over dim=1, keepdim=True).")
    return "Your truncation matches embedlib.truncate: prefixes of unit length."


@checker("recall@k of a funnel")
def check_recall(recall_fn) -> str:
    """``recall_fn(found, truth)``: mean over queries of the share of true neighbours found."""
    cases = (
        (torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[3, 2, 1], [4, 5, 6]])),  # same sets, other order
        (torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 9, 8, 7]])),
        (torch.tensor([[0, 1], [2, 3], [5, 4]]), torch.tensor([[1, 7], [8, 9], [4, 5]])),
    )
    for found, truth in cases:
        got = run_learner(recall_fn, found.clone(), truth.clone())
        expected = recall_at_k(found, truth)
        name = f"recall for found={found.tolist()}, truth={truth.tolist()}"
        compare_or_diagnose(got, expected, name=name, mistakes=[
            (lambda: (found == truth).float().mean(),
             "You compared position by position: a neighbour counts wherever it appears in the top k."),
            (lambda: recall_at_k(found, truth) * found.numel(), "That is a count of hits: divide by the number of queries times k."),
        ], otherwise="For each query count how many of its found ids are among its true ids, divide by k, average.")
    return "Your recall@k matches embedlib.retrieval.recall_at_k, order-insensitive."
