"""Checkers for the Matryoshka chapter: the nested loss, truncation, recall@k of a funnel.

Each accepts every correct form (tensors of either float type, numpy arrays and scalars,
Python numbers, a loss of shape [1]) and names the classic slips; the cases are chosen so
the slips give different numbers from the right answer (for recall: ids that one query
found and that belong to another query's truth).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..matryoshka import matryoshka_classification_loss, truncate
from ..retrieval import recall_at_k
from ..similarity import normalize_rows
from .core import LearnerError, checker, compare_or_diagnose, run_learner


def _one_number(value, what: str):
    """A single-number answer as given, or a hint if it is a list or a vector of numbers."""
    if isinstance(value, (list, tuple)):
        raise LearnerError(
            f"your function returned a {type(value).__name__} of {len(value)} values: "
            f"return one number, {what}."
        )
    size = value.numel() if isinstance(value, torch.Tensor) else getattr(value, "size", None)
    if size == 1 and getattr(value, "ndim", 0) > 0:  # e.g. a loss of shape [1]
        return value.reshape(())
    return value


def _loss_case(seed: int, dims: tuple[int, ...], classes: int = 5):
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(12, dims[-1], generator=generator)  # [B, d]
    labels = torch.randint(0, classes, (12,), generator=generator)
    heads = [nn.Linear(m, classes) for m in dims]
    for head in heads:
        nn.init.normal_(head.weight, generator=generator)
        nn.init.normal_(head.bias, generator=generator)
    return z, labels, heads


@checker("nested (Matryoshka) loss")
def check_nested_loss(nested_loss) -> str:
    """``nested_loss(z, labels, heads, dims)``: sum over widths of cross-entropy of each head
    on its prefix, as a tensor that can be backpropagated."""
    for seed, dims in ((0, (2, 4, 8)), (1, (1, 3, 6, 12)), (2, (5,))):
        z, labels, heads = _loss_case(seed, dims)
        try:
            got = run_learner(nested_loss, z.clone(), labels.clone(), heads, dims)
        except LearnerError as error:
            if "shapes cannot be multiplied" in str(error):
                raise LearnerError(
                    f"{error}. Each head takes only its prefix: give head m the slice z[:, :m]."
                ) from error
            raise
        got = _one_number(got, "the sum of the per-width losses (sum(...) or torch.stack(...).sum())")
        expected = matryoshka_classification_loss(z, labels, heads, dims)
        with torch.no_grad():
            def per_width(prefix, reduction="mean"):
                return [F.cross_entropy(h(prefix(m)), labels, reduction=reduction) for m, h in zip(dims, heads)]

            first = per_width(lambda m: z[:, :m])
        name = f"nested_loss with dims={dims}"
        compare_or_diagnose(_detached(got), expected, name=name, mistakes=[
            (lambda: expected / len(dims),
             "You averaged over the widths: the Matryoshka loss is their sum (every weight is 1)."),
            (lambda: first[-1], "That is only the loss of the full width: add the loss of every prefix."),
            (lambda: first[0],
             "That is only the loss of the first width: loop over every (m, head) pair and add them up."),
            (lambda: sum(per_width(lambda m: z[:, :m], "sum")),
             "You summed the cross-entropy over the batch: keep cross_entropy's default mean over "
             "examples, and sum over the widths only."),
            (lambda: sum(per_width(lambda m: z[:, z.shape[1] - m:])),
             "Those are the last m coordinates: a prefix is the first m, z[:, :m]."),
        ], otherwise="Give z[:, :m] to the head of width m and add up the cross-entropies.")
        if not (isinstance(got, torch.Tensor) and got.requires_grad):
            raise LearnerError(
                "The value is right, but it is a plain number that cannot be backpropagated: "
                "return the tensor itself (no .item(), float() or .detach())."
            )
    return "Your loss matches embedlib.matryoshka.matryoshka_classification_loss for three sets of widths."


def _detached(value):
    return value.detach() if isinstance(value, torch.Tensor) else value


@checker("truncate and renormalise")
def check_truncate(truncate_fn) -> str:
    """``truncate_fn(x, dim)``: the first ``dim`` coordinates of each row, back to unit length."""
    generator = torch.Generator().manual_seed(0)
    x = 3 * torch.randn(6, 16, generator=generator)  # [6, 16], rows of length ~12
    for dim in (3, 8, 16):
        got = _detached(run_learner(truncate_fn, x.clone(), dim))
        expected = truncate(x, dim)
        if hasattr(got, "shape") and len(got.shape) == 2 and got.shape[0] == 6 and got.shape[1] != dim:
            raise LearnerError(
                f"truncate(x, {dim}) has {got.shape[1]} coordinates per row, expected {dim}: "
                "keep exactly the first dim, x[:, :dim]."
            )
        prefix = x[:, :dim]
        mistakes = [
            (lambda: prefix, "A prefix is not of unit length: divide each row by its new length."),
            (lambda: normalize_rows(x[:, -dim:]),
             "Those are the last coordinates: a Matryoshka model puts its information first, keep x[:, :dim]."),
            (lambda: prefix / prefix.norm(dim=0, keepdim=True),
             "You divided each column by its length: take the norm of each row, .norm(dim=1, keepdim=True)."),
            (lambda: prefix / prefix.pow(2).sum(dim=1, keepdim=True),
             "You divided by the squared length: the length is the square root of the sum of squares."),
        ]
        if dim < x.shape[1]:
            mistakes.append((lambda: normalize_rows(x)[:, :dim],
                             "You divided by the whole vector's length: cut first, then normalise the prefix."))
        compare_or_diagnose(got, expected, name=f"truncate(x, {dim})", mistakes=mistakes,
                            otherwise="Keep x[:, :dim] and divide each row by its length (norm over dim=1).")
    return "Your truncation matches embedlib.truncate: prefixes of unit length."


# Cases for recall: same sets in another order; a partial hit; ids that one query found and
# that belong to another query's truth (a global isin or one global set counts them); two
# queries finding the same id; k != number of queries (dividing by the wrong one shows).
RECALL_CASES = (
    (torch.tensor([[1, 2, 3], [4, 5, 6]]), torch.tensor([[3, 2, 1], [4, 5, 6]])),
    (torch.tensor([[1, 2, 3, 4]]), torch.tensor([[1, 9, 8, 7]])),
    (torch.tensor([[0, 1], [2, 3], [5, 4]]), torch.tensor([[2, 7], [0, 9], [4, 5]])),
    (torch.tensor([[7, 1, 8], [7, 2, 6]]), torch.tensor([[7, 3, 6], [7, 2, 1]])),
)


@checker("recall@k of a funnel")
def check_recall(recall_fn) -> str:
    """``recall_fn(found, truth)``: mean over queries of the share of true neighbours found."""
    for found, truth in RECALL_CASES:
        got = _detached(run_learner(recall_fn, found.clone(), truth.clone()))
        if isinstance(got, (torch.Tensor, np.ndarray)) and got.ndim == 1 and got.shape[0] == found.shape[0] > 1:
            raise LearnerError(
                f"your function returned one value per query ({got.shape[0]} values): "
                "return their mean, one number."
            )
        got = _one_number(got, "the mean over queries")
        expected = recall_at_k(found, truth)
        per_query = [len(set(f.tolist()) & set(t.tolist())) / truth.shape[1] for f, t in zip(found, truth)]
        name = f"recall for found={found.tolist()}, truth={truth.tolist()}"
        global_hint = ("You compared with the true ids of all queries at once (a global isin or "
                       "one set): compare each query's found ids with its own truth only.")
        compare_or_diagnose(got, expected, name=name, mistakes=[
            (lambda: (found == truth).float().mean(),
             "You compared position by position: a neighbour counts wherever it appears in the top k."),
            (lambda: torch.isin(found, truth).float().mean(), global_hint),
            (lambda: len(set(found.flatten().tolist()) & set(truth.flatten().tolist())) / found.numel(),
             global_hint),
            (lambda: expected * found.numel(),
             "That is a count of hits: divide by k for each query, then average over queries."),
            (lambda: sum(per_query),
             "You added up the per-query recalls: average them (divide by the number of queries)."),
        ], otherwise="For each query count its found ids that are among its own true ids, divide by k, "
                     "then average over queries.")
    return "Your recall@k matches embedlib.retrieval.recall_at_k, order-insensitive."
