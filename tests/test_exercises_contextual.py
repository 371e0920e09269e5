"""The chapter 3 checkers accept the reference answers and reject realistic mistakes with the right hint."""

from __future__ import annotations

import pytest
import torch

from embedlib import cosine_matrix, load_model, load_tokenizer
from embedlib.contextual import best_layer, pair_similarities, separation_by_layer
import itertools

import numpy as np

from embedlib.exercises.contextual import (
    GAP_MISTAKES,
    LAYERED_CASES,
    _gap_cases,
    _layered_case,
    reference_gap,
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


def last_hidden_or_states(sentence, word, layer):
    """Another correct route: the top layer from last_hidden_state, the word found by offsets."""
    tokenizer, model = load_tokenizer(), load_model()
    encoding = tokenizer(sentence, return_tensors="pt", return_offsets_mapping=True)
    start = sentence.lower().index(word)
    offsets = encoding.pop("offset_mapping")[0].tolist()
    position = next(i for i, (a, b) in enumerate(offsets) if a == start and b > a)
    with torch.no_grad():
        output = model(**encoding, output_hidden_states=True)
    states = output.last_hidden_state if layer == 6 else output.hidden_states[layer]
    return states[0, position]


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (reference_word_vector, CORRECT, "match"),
        (lambda s, w, layer: reference_word_vector(s, w, layer).numpy(), CORRECT, "match"),
        (lambda s, w, layer: reference_word_vector(s, w, layer).tolist(), CORRECT, "match"),
        (lambda s, w, layer: reference_word_vector(s, w, layer).double(), CORRECT, "match"),
        (last_hidden_or_states, CORRECT, "match"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (lambda s, w, layer: {reference_word_vector(s, w, layer)}, INCORRECT, "has no order"),
        (lambda s, w, layer: set(reference_word_vector(s, w, layer).tolist()), INCORRECT, "has no order"),
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


def gap_by_loops_counting_twice(vectors, labels):
    """Every ordered pair i != j (each pair twice): the same means."""
    same, cross = [], []
    for i, j in itertools.permutations(range(len(labels)), 2):
        cos = float(vectors[i] @ vectors[j] / (vectors[i].norm() * vectors[j].norm()))
        (same if labels[i] == labels[j] else cross).append(cos)
    return np.mean(same) - np.mean(cross)


def gap_macro(vectors, labels):
    """A learner's mean of per-sense means (loops), minus a mean of per-sense-pair means."""
    cosines = cosine_matrix(vectors)
    senses = sorted(set(labels))
    members = {s: [i for i, label in enumerate(labels) if label == s] for s in senses}
    within = [np.mean([cosines[i, j].item() for i, j in itertools.combinations(members[s], 2)]) for s in senses]
    between = [np.mean([cosines[i, j].item() for i in members[a] for j in members[b]])
               for a, b in itertools.combinations(senses, 2)]
    return np.mean(within) - np.mean(between)


@pytest.mark.parametrize(
    "answer, status, hint",
    [
        (gap, CORRECT, "matches"),
        (lambda v, l: torch.tensor(gap(v, l)), CORRECT, "matches"),  # a 0-d tensor is fine
        (lambda v, l: np.float32(gap(v, l)), CORRECT, "matches"),  # a numpy scalar too
        (lambda v, l: (lambda s, c: s.mean() - c.mean())(*pair_similarities(v, l)), CORRECT, "matches"),
        (gap_by_loops_counting_twice, CORRECT, "matches"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (gap_with_self_pairs, INCORRECT, "paired with itself"),
        (gap_with_dots, INCORRECT, "dot products"),
        (gap_macro, INCORRECT, "averaged per sense"),
        (lambda v, l: -gap(v, l), INCORRECT, "wrong sign"),
        (lambda v, l: pair_similarities(v, l), INCORRECT, "return one number"),
        (lambda v, l: {gap(v, l)}, INCORRECT, "return one number"),
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
        (lambda v, l: np.int64(best_by_gap(v, l)), CORRECT, "found the best layer"),
        (lambda v, l: float(best_by_gap(v, l)), CORRECT, "found the best layer"),
        (lambda v, l: best_layer(separation_by_layer(v, l)), CORRECT, "found the best layer"),
        (stub, NOT_ATTEMPTED, "NotImplementedError"),
        (best_by_same, INCORRECT, "most alike"),
        (best_by_cross, INCORRECT, "least alike"),
        (lambda v, l: best_by_gap(v, l) + 1, INCORRECT, "count from 0"),
        (lambda v, l: max(gap(v[:, k], l) for k in range(v.shape[1])), INCORRECT, "not its gap"),
        (lambda v, l: 4, INCORRECT, "in 3 of 3 stacks"),
        (lambda v, l: [1, 2], INCORRECT, "expected a layer number"),
        (lambda v, l: {best_by_gap(v, l)}, INCORRECT, "expected a layer number"),
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


def test_gap_cases_tell_every_listed_mistake_apart():
    """On each case, the right answer and the listed wrong ones differ by more than the
    tolerance (or are equal by construction, as per-sense means are with equal groups), so a
    learner gets the hint of the mistake actually made."""
    for vectors, labels in _gap_cases():
        values = [reference_gap(vectors, labels)] + [wrong(vectors, labels) for wrong, _ in GAP_MISTAKES]
        for a, b in itertools.combinations(values, 2):
            assert abs(a - b) < 1e-6 or abs(a - b) > 0.02, (labels, values)
    unequal = [labels for _, labels in _gap_cases() if len({labels.count(s) for s in labels}) > 1]
    assert len(unequal) >= 2  # per-sense averaging is caught on two and three senses
