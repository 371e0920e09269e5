"""The chapter 3 checkers accept the reference answers and reject realistic mistakes with the right hint."""

from __future__ import annotations

import pytest
import torch

from embedlib import cosine_matrix, load_model, load_tokenizer
from embedlib.contextual import best_layer, pair_similarities, separation_by_layer
from embedlib.exercises.contextual import (
    LAYERED_CASES,
    _layered_case,
    check_best_layer,
    check_sense_gap,
    check_word_vector,
)
from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED


def hidden_states(sentence):
    encoding = load_tokenizer()(sentence, return_tensors="pt")
    with torch.no_grad():
        return load_model()(**encoding, output_hidden_states=True).hidden_states, encoding


def reference_word_vector(sentence, word, layer):
    states, encoding = hidden_states(sentence)
    position = encoding.input_ids[0].tolist().index(load_tokenizer().convert_tokens_to_ids(word))
    return states[layer][0, position]


def table_row(sentence, word, layer):
    return load_model().get_input_embeddings().weight[load_tokenizer().convert_tokens_to_ids(word)]


def one_layer_too_far(sentence, word, layer):
    states, encoding = hidden_states(sentence)
    position = encoding.input_ids[0].tolist().index(load_tokenizer().convert_tokens_to_ids(word))
    return states[min(layer + 1, 6) if layer < 6 else 5][0, position]


def position_from_split(sentence, word, layer):
    states, _ = hidden_states(sentence)
    position = [w.strip(".,").lower() for w in sentence.split()].index(word)  # forgets [CLS]
    return states[layer][0, position]


def whole_sentence(sentence, word, layer):
    return hidden_states(sentence)[0][layer][0]


def with_batch_axis(sentence, word, layer):
    return reference_word_vector(sentence, word, layer)[None]


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (reference_word_vector, CORRECT, "match"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (table_row, INCORRECT, "row of the input table"),
        (one_layer_too_far, INCORRECT, "one off"),
        (position_from_split, INCORRECT, "[CLS] at position 0"),
        (whole_sentence, INCORRECT, "whole sentence"),
        (with_batch_axis, INCORRECT, "batch axis"),
        (lambda s, w, layer: -reference_word_vector(s, w, layer), INCORRECT, "wrong sign"),
        (lambda s, w, layer: None, INCORRECT, "forget `return`"),
    ],
)
def test_word_vector_checker(answer, status, hint):
    verdict = check_word_vector(answer)
    assert verdict.status == status, verdict
    assert hint in verdict.message, verdict


def gap(vectors, labels):
    cosines = cosine_matrix(vectors)
    same = torch.tensor([[a == b for b in labels] for a in labels])
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return (cosines[same & off_diagonal].mean() - cosines[~same].mean()).item()


def gap_with_self_pairs(vectors, labels):
    cosines = cosine_matrix(vectors)
    same = torch.tensor([[a == b for b in labels] for a in labels])
    return cosines[same].mean() - cosines[~same].mean()


def gap_with_dots(vectors, labels):
    dots = vectors @ vectors.T
    same = torch.tensor([[a == b for b in labels] for a in labels])
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return dots[same & off_diagonal].mean() - dots[~same].mean()


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (gap, CORRECT, "matches"),
        (lambda v, l: torch.tensor(gap(v, l)), CORRECT, "matches"),  # a 0-d tensor is fine
        (lambda v, l: (lambda s, c: s.mean() - c.mean())(*pair_similarities(v, l)), CORRECT, "matches"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (gap_with_self_pairs, INCORRECT, "paired with itself"),
        (gap_with_dots, INCORRECT, "dot products"),
        (lambda v, l: -gap(v, l), INCORRECT, "wrong sign"),
        (lambda v, l: pair_similarities(v, l), INCORRECT, "numbers"),
    ],
)
def test_sense_gap_checker(answer, status, hint):
    verdict = check_sense_gap(answer)
    assert verdict.status == status, verdict
    assert hint in verdict.message, verdict


def best_by_gap(vectors, labels):
    gaps = [gap(vectors[:, k], labels) for k in range(vectors.shape[1])]
    return max(range(len(gaps)), key=gaps.__getitem__)


def best_by_same(vectors, labels):
    return max(range(vectors.shape[1]), key=lambda k: pair_similarities(vectors[:, k], labels)[0].mean().item())


def best_by_cross(vectors, labels):
    return min(range(vectors.shape[1]), key=lambda k: pair_similarities(vectors[:, k], labels)[1].mean().item())


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (best_by_gap, CORRECT, "found the best layer"),
        (lambda v, l: torch.tensor(best_by_gap(v, l)), CORRECT, "found the best layer"),
        (lambda v, l: best_layer(separation_by_layer(v, l)), CORRECT, "found the best layer"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (best_by_same, INCORRECT, "most alike"),
        (best_by_cross, INCORRECT, "least alike"),
        (lambda v, l: best_by_gap(v, l) + 1, INCORRECT, "count from 0"),
        (lambda v, l: max(gap(v[:, k], l) for k in range(v.shape[1])), INCORRECT, "not its gap"),
        (lambda v, l: 4, INCORRECT, "in 3 of 3 stacks"),
        (lambda v, l: [1, 2], INCORRECT, "expected a layer number"),
    ],
)
def test_best_layer_checker(answer, status, hint):
    verdict = check_best_layer(answer)
    assert verdict.status == status, verdict
    assert hint in verdict.message, verdict


@pytest.mark.parametrize("seed, order", list(enumerate(LAYERED_CASES)))
def test_layered_cases_tell_the_three_rules_apart(seed, order):
    """Each synthetic stack must have the gap, same-sense and cross-sense rules pick different layers."""
    vectors, labels, rules = _layered_case(order, seed)
    assert len({rules["gap"], rules["same"], rules["cross"]}) == 3
    rows = separation_by_layer(vectors, labels)
    gaps = sorted((r.gap for r in rows), reverse=True)
    assert gaps[0] - gaps[1] > 0.005  # a clear winner, not a rounding accident
