"""The Matryoshka chapter's checkers accept the reference answers and explain realistic mistakes."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.matryoshka import check_nested_loss, check_recall, check_truncate


def stub(*args):
    raise NotImplementedError


# --- the nested loss ----------------------------------------------------------------------------


def nested_loss(z, labels, heads, dims):
    return sum(F.cross_entropy(head(z[:, :m]), labels) for m, head in zip(dims, heads))


def test_nested_loss_reference_and_stub():
    assert check_nested_loss(nested_loss).status == CORRECT
    assert check_nested_loss(stub).status == NOT_ATTEMPTED
    assert check_nested_loss(None).status == NOT_ATTEMPTED


def test_nested_loss_averaged_instead_of_summed():
    verdict = check_nested_loss(lambda z, y, heads, dims: nested_loss(z, y, heads, dims) / len(dims))
    assert verdict.status == INCORRECT and "You averaged" in verdict.message


def test_nested_loss_full_width_only():
    verdict = check_nested_loss(lambda z, y, heads, dims: F.cross_entropy(heads[-1](z[:, : dims[-1]]), y))
    assert verdict.status == INCORRECT and "only the loss of the full width" in verdict.message


def test_nested_loss_first_width_only():
    verdict = check_nested_loss(lambda z, y, heads, dims: F.cross_entropy(heads[0](z[:, : dims[0]]), y))
    assert verdict.status == INCORRECT and "only the loss of the first width" in verdict.message


def test_nested_loss_feeding_the_whole_vector_raises_a_helpful_verdict():
    verdict = check_nested_loss(lambda z, y, heads, dims: sum(F.cross_entropy(h(z), y) for h in heads))
    assert verdict.status == INCORRECT and "your function raised RuntimeError" in verdict.message


def test_nested_loss_forgotten_return():
    def forgot(z, labels, heads, dims):
        nested_loss(z, labels, heads, dims)

    verdict = check_nested_loss(forgot)
    assert verdict.status == INCORRECT and "forget `return`" in verdict.message


# --- truncate and renormalise -------------------------------------------------------------------


def truncate_reference(x, dim):
    prefix = x[:, :dim]
    return prefix / prefix.norm(dim=1, keepdim=True)


def test_truncate_reference_and_stub():
    assert check_truncate(truncate_reference).status == CORRECT
    assert check_truncate(stub).status == NOT_ATTEMPTED


def test_truncate_without_renormalising():
    verdict = check_truncate(lambda x, dim: x[:, :dim])
    assert verdict.status == INCORRECT and "divide each row by its new length" in verdict.message


def test_truncate_keeping_the_last_coordinates():
    verdict = check_truncate(lambda x, dim: truncate_reference(x[:, -dim:], dim))
    assert verdict.status == INCORRECT and "last coordinates" in verdict.message


def test_truncate_normalising_before_cutting():
    verdict = check_truncate(lambda x, dim: (x / x.norm(dim=1, keepdim=True))[:, :dim])
    assert verdict.status == INCORRECT and "normalised before cutting" in verdict.message


def test_truncate_wrong_norm_axis_gets_the_generic_hint():
    verdict = check_truncate(lambda x, dim: x[:, :dim] / x[:, :dim].norm(dim=0, keepdim=True))
    assert verdict.status == INCORRECT and "norm over dim=1" in verdict.message


# --- recall@k -----------------------------------------------------------------------------------


def recall_reference(found, truth):
    hits = [len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]
    return sum(hits) / len(hits)


def test_recall_reference_and_stub():
    assert check_recall(recall_reference).status == CORRECT
    assert check_recall(stub).status == NOT_ATTEMPTED


def test_recall_position_by_position():
    verdict = check_recall(lambda found, truth: (found == truth).float().mean())
    assert verdict.status == INCORRECT and "position by position" in verdict.message


def test_recall_as_a_count():
    def count(found, truth):
        return float(sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth)))

    verdict = check_recall(count)
    assert verdict.status == INCORRECT and "count of hits" in verdict.message


def test_recall_divided_by_the_wrong_number_gets_the_generic_hint():
    def wrong(found, truth):
        return torch.tensor(recall_reference(found, truth) / 2)

    verdict = check_recall(wrong)
    assert verdict.status == INCORRECT and "divide by k, average" in verdict.message
