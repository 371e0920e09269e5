"""Checkers for the Matryoshka chapter: the nested loss, truncation, recall@k of a funnel."""

from __future__ import annotations

import torch
from torch import nn

from ..matryoshka import matryoshka_classification_loss, truncate
from ..retrieval import recall_at_k
from ..similarity import normalize_rows
from .core import LearnerError, checker, compare_values, matches, run_learner




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
        try:
            compare_values(got, expected, name=name)
        except LearnerError as error:
            with torch.no_grad():
                per_width = [matryoshka_classification_loss(z, labels, [h], [m]) for m, h in zip(dims, heads)]
            if matches(got, expected / len(dims)):
                hint = "You averaged over the widths: the Matryoshka loss is their sum (every weight is 1 here)."
            elif matches(got, per_width[-1]):
                hint = "That is only the loss of the full width: add the loss of every prefix z[:, :m]."
            elif matches(got, per_width[0]):
                hint = "That is only the loss of the first width: loop over every (m, head) pair and add them up."
            else:
                hint = "Slice the first m coordinates, z[:, :m], give them to the head of that width, and sum the cross-entropies."
            raise LearnerError(f"{error} {hint}") from error
    return "Your loss matches embedlib.matryoshka.matryoshka_classification_loss for three sets of widths."


@checker("truncate and renormalise")
def check_truncate(truncate_fn) -> str:
    """``truncate_fn(x, dim)``: the first ``dim`` coordinates of each row, back to unit length."""
    generator = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(6, 16, generator=generator)  # [6, 16], rows of length ~12
    for dim in (3, 8, 16):
        got = run_learner(truncate_fn, x.clone(), dim)
        expected = truncate(x, dim)
        try:
            compare_values(got, expected, name=f"truncate(x, {dim})")
        except LearnerError as error:
            if matches(got, x[:, :dim]):
                hint = "A prefix is not of unit length: divide each row by its new length."
            elif matches(got, normalize_rows(x[:, -dim:])):
                hint = "Those are the last coordinates: a Matryoshka model puts its information first, keep x[:, :dim]."
            elif matches(got, normalize_rows(x)[:, :dim]) and dim < x.shape[1]:
                hint = "You normalised before cutting: cut first, then normalise."
            else:
                hint = "Keep x[:, :dim] and divide each row by its length (norm over dim=1, keepdim=True)."
            raise LearnerError(f"{error} {hint}") from error
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
        try:
            compare_values(got, expected, name=name)
        except LearnerError as error:
            if matches(got, (found == truth).float().mean()):
                hint = "You compared position by position: a neighbour counts wherever it appears in the top k."
            elif matches(got, recall_at_k(found, truth) * found.numel()):
                hint = "That is a count of hits: divide by the number of queries times k."
            else:
                hint = "For each query count how many of its found ids are among its true ids, divide by k, average."
            raise LearnerError(f"{error} {hint}") from error
    return "Your recall@k matches embedlib.retrieval.recall_at_k, order-insensitive."
