"""The Matryoshka chapter's checkers: a catalogue of correct answers in different forms (all
accepted) and of realistic wrong answers (each rejected with its own hint)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.matryoshka import check_nested_loss, check_recall, check_truncate


def stub(*args):
    raise NotImplementedError


def assert_rejected(verdict, hint):
    assert verdict.status == INCORRECT, verdict
    assert hint in verdict.message, verdict.message
    assert "could not check" not in verdict.message


# --- the nested loss ----------------------------------------------------------------------------


def nested_loss(z, labels, heads, dims):
    return sum(F.cross_entropy(head(z[:, :m]), labels) for m, head in zip(dims, heads))


def nested_loss_loop(z, labels, heads, dims):
    total = torch.zeros(())
    for m, head in zip(dims, heads):
        total = total + nn.CrossEntropyLoss()(head(z[:, :m]), labels)
    return total


def nested_loss_stacked(z, labels, heads, dims):
    return torch.stack([F.cross_entropy(h(z[:, :m]), labels) for m, h in zip(dims, heads)]).sum(0, keepdim=True)


def nested_loss_float64(z, labels, heads, dims):
    losses = [F.cross_entropy(h.double()(z[:, :m].double()), labels) for m, h in zip(dims, heads)]
    for h in heads:
        h.float()
    return sum(losses)


def nested_loss_log_softmax(z, labels, heads, dims):
    return sum(-F.log_softmax(h(z[:, :m]), 1).gather(1, labels[:, None]).mean() for m, h in zip(dims, heads))


@pytest.mark.parametrize("answer", [nested_loss, nested_loss_loop, nested_loss_stacked, nested_loss_float64,
                                    nested_loss_log_softmax])
def test_nested_loss_accepts_every_correct_form(answer):
    assert check_nested_loss(answer).status == CORRECT


def test_nested_loss_stub_and_none():
    assert check_nested_loss(stub).status == NOT_ATTEMPTED
    assert check_nested_loss(None).status == NOT_ATTEMPTED


NESTED_LOSS_MISTAKES = {
    "averaged": (lambda z, y, heads, dims: nested_loss(z, y, heads, dims) / len(dims), "You averaged"),
    "full width only": (lambda z, y, heads, dims: F.cross_entropy(heads[-1](z[:, : dims[-1]]), y),
                        "only the loss of the full width"),
    "first width only": (lambda z, y, heads, dims: F.cross_entropy(heads[0](z[:, : dims[0]]), y),
                         "only the loss of the first width"),
    "summed over the batch": (
        lambda z, y, heads, dims: sum(F.cross_entropy(h(z[:, :m]), y, reduction="sum") for m, h in zip(dims, heads)),
        "summed the cross-entropy over the batch"),
    "last coordinates": (
        lambda z, y, heads, dims: sum(F.cross_entropy(h(z[:, z.shape[1] - m:]), y) for m, h in zip(dims, heads)),
        "last m coordinates"),
    "a list, not summed": (
        lambda z, y, heads, dims: [F.cross_entropy(h(z[:, :m]), y) for m, h in zip(dims, heads)],
        "returned a list of 3 values: return one number"),
    ".item()": (lambda z, y, heads, dims: nested_loss(z, y, heads, dims).item(), "cannot be backpropagated"),
    "whole vector to every head": (lambda z, y, heads, dims: sum(F.cross_entropy(h(z), y) for h in heads),
                                   "give head m the slice z[:, :m]"),
}


@pytest.mark.parametrize("name", NESTED_LOSS_MISTAKES)
def test_nested_loss_names_each_mistake(name):
    answer, hint = NESTED_LOSS_MISTAKES[name]
    assert_rejected(check_nested_loss(answer), hint)


def test_nested_loss_forgotten_return():
    def forgot(z, labels, heads, dims):
        nested_loss(z, labels, heads, dims)

    assert_rejected(check_nested_loss(forgot), "forget `return`")


# --- truncate and renormalise -------------------------------------------------------------------


def truncate_reference(x, dim):
    prefix = x[:, :dim]
    return prefix / prefix.norm(dim=1, keepdim=True)


TRUNCATE_CORRECT = [
    truncate_reference,
    lambda x, dim: F.normalize(x[:, :dim], dim=1),
    lambda x, dim: x[:, :dim].numpy() / np.linalg.norm(x[:, :dim].numpy(), axis=1, keepdims=True),
    lambda x, dim: truncate_reference(x.double(), dim),
    lambda x, dim: x[:, :dim] * torch.rsqrt((x[:, :dim] ** 2).sum(-1, keepdim=True)),
]


@pytest.mark.parametrize("answer", TRUNCATE_CORRECT)
def test_truncate_accepts_every_correct_form(answer):
    assert check_truncate(answer).status == CORRECT


def test_truncate_stub():
    assert check_truncate(stub).status == NOT_ATTEMPTED


TRUNCATE_MISTAKES = {
    "no renormalising": (lambda x, dim: x[:, :dim], "divide each row by its new length"),
    "last coordinates": (lambda x, dim: truncate_reference(x[:, -dim:], dim), "last coordinates"),
    "normalised before cutting": (lambda x, dim: (x / x.norm(dim=1, keepdim=True))[:, :dim],
                                  "cut first, then normalise"),
    "column norms": (lambda x, dim: x[:, :dim] / x[:, :dim].norm(dim=0, keepdim=True), "each column"),
    "squared length": (lambda x, dim: x[:, :dim] / (x[:, :dim] ** 2).sum(1, keepdim=True), "squared length"),
    "off by one": (lambda x, dim: truncate_reference(x, dim + 1) if dim < 16 else truncate_reference(x, dim - 1),
                   "keep exactly the first dim"),
}


@pytest.mark.parametrize("name", TRUNCATE_MISTAKES)
def test_truncate_names_each_mistake(name):
    answer, hint = TRUNCATE_MISTAKES[name]
    assert_rejected(check_truncate(answer), hint)


# --- recall@k -----------------------------------------------------------------------------------


def recall_sets(found, truth):
    hits = [len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]
    return sum(hits) / len(hits)


RECALL_CORRECT = [
    recall_sets,
    lambda found, truth: (found[:, :, None] == truth[:, None, :]).any(dim=2).float().mean(),
    lambda found, truth: np.mean([np.isin(f, t).mean() for f, t in zip(found.numpy(), truth.numpy())]),
    lambda found, truth: torch.stack([torch.isin(f, t) for f, t in zip(found, truth)]).double().mean(),
    lambda found, truth: torch.tensor([recall_sets(found, truth)], dtype=torch.float32),
]


@pytest.mark.parametrize("answer", RECALL_CORRECT)
def test_recall_accepts_every_correct_form(answer):
    assert check_recall(answer).status == CORRECT


def test_recall_stub():
    assert check_recall(stub).status == NOT_ATTEMPTED


RECALL_MISTAKES = {
    "position by position": (lambda found, truth: (found == truth).float().mean(), "position by position"),
    "global isin": (lambda found, truth: torch.isin(found, truth).float().mean(), "all queries at once"),
    "one global set": (
        lambda found, truth: len(set(found.flatten().tolist()) & set(truth.flatten().tolist())) / found.numel(),
        "all queries at once"),
    "a count": (
        lambda found, truth: float(sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth))),
        "count of hits"),
    "summed over queries": (
        lambda found, truth: sum(len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)),
        "added up the per-query recalls"),
    "one value per query": (
        lambda found, truth: (found[:, :, None] == truth[:, None, :]).any(2).float().mean(1),
        "one value per query"),
}


@pytest.mark.parametrize("name", RECALL_MISTAKES)
def test_recall_names_each_mistake(name):
    answer, hint = RECALL_MISTAKES[name]
    assert_rejected(check_recall(answer), hint)
