"""Checkers for the chapter "static vs. contextual": a word's vector at a layer, the sense gap,
and the layer that separates senses best."""

from __future__ import annotations

from typing import Callable

import torch

from ..contextual import (
    LayerSeparation,
    best_layer,
    find_word,
    layer_states,
    num_layers,
    pair_auc,
    pair_similarities,
    static_vector,
    token_vectors,
)
from .core import (
    LearnerError,
    as_number,
    checker,
    compare_or_diagnose,
    compare_values,
    matches,
    run_learner,
)

_TOLERANCE = {"atol": 1e-4, "rtol": 1e-3}  # hidden states go through six layers of float32 arithmetic

# (sentence, word, layer): single-piece words, layers at both ends and in between
WORD_CASES = (
    ("The bank raised its interest rates.", "bank", 6),
    ("We walked along the bank of the river.", "bank", 0),
    ("She rowed the boat across the river.", "river", 3),
    ("Money in the account earns little.", "money", 1),
)


def _diagnose_word_vector(got, sentence: str, word: str, layer: int) -> str | None:
    """Name the realistic mistake that ``got`` matches, if any."""
    states = layer_states(sentence)  # [L + 1, T, d]
    (position,) = find_word(sentence, word)
    if matches(got, static_vector(word).vector, **_TOLERANCE):
        return ("That is the word's row of the input table (no position, no context). Run the whole "
                "model with output_hidden_states=True and take hidden_states[layer].")
    for other in (layer - 1, layer + 1):
        if 0 <= other < states.shape[0] and matches(got, states[other, position], **_TOLERANCE):
            return (f"That is layer {other}, one off: hidden_states[0] is the output of model.embeddings, "
                    "so hidden_states[layer] is layer `layer`.")
    for other in (position - 1, position + 1):
        if 0 <= other < states.shape[1] and matches(got, states[layer, other], **_TOLERANCE):
            return ("That is the vector of the token next to the word: the tokenizer puts [CLS] at "
                    "position 0, so look the word's position up in the tokens, not in text.split().")
    if getattr(got, "shape", None) is not None and tuple(got.shape)[-2:] == tuple(states.shape[1:]):
        return "You returned the whole sentence ([tokens, d]): pick the row of the word's token."
    return None


@checker("a word's vector at a layer")
def check_word_vector(word_vector: Callable[[str, str, int], torch.Tensor]) -> str:
    for sentence, word, layer in WORD_CASES:
        got = run_learner(word_vector, sentence, word, layer)
        shape = tuple(getattr(got, "shape", ()))
        if len(shape) > 1 and set(shape[:-1]) == {1}:
            raise LearnerError(f"word_vector({sentence!r}, {word!r}, {layer}) has shape {shape}: "
                               "drop the batch axis (for example with [0]) to return one vector of shape [384].")
        try:
            compare_values(got, token_vectors(sentence, word, layer).vector, name=f"word_vector({sentence!r}, {word!r}, {layer})",
                           atol=1e-4, rtol=1e-3)
        except LearnerError as error:
            hint = _diagnose_word_vector(got, sentence, word, layer)
            raise LearnerError(f"{error} {hint}" if hint else str(error)) from error
    return f"Your vectors match embedlib.contextual.token_vectors on {len(WORD_CASES)} sentences, layers 0 to {num_layers()}."


def _gap_cases() -> list[tuple[torch.Tensor, list[str]]]:
    generator = torch.Generator().manual_seed(27)  # chosen so the mistakes differ (tested)
    cases = []
    for sizes, width in (((3, 5), 8), ((4, 4), 16), ((2, 3, 4), 6)):
        labels = [name for name, size in zip("abc", sizes) for _ in range(size)]
        centres = torch.randn(len(sizes), width, generator=generator)  # [senses, d]
        codes = torch.tensor(["abc".index(label) for label in labels])
        vectors = 2.0 * centres[codes] + torch.randn(len(labels), width, generator=generator)  # [n, d]
        vectors = vectors * torch.rand(len(labels), 1, generator=generator).add(0.5)  # unequal lengths
        cases.append((vectors, labels))
    return cases


def reference_gap(vectors: torch.Tensor, labels: list[str]) -> float:
    """Mean same-sense cosine minus mean cross-sense cosine, each pair once, no self-pairs."""
    same, cross = pair_similarities(vectors, labels)
    return (same.mean() - cross.mean()).item()


def _gap_with_self_pairs(vectors: torch.Tensor, labels: list[str]) -> float:
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    cosines = unit @ unit.T
    same = torch.tensor([[a == b for b in labels] for a in labels])
    return (cosines[same].mean() - cosines[~same].mean()).item()


def _gap_macro(vectors: torch.Tensor, labels: list[str]) -> float:
    """Mean over senses of each sense's mean same-sense cosine, minus the mean over sense pairs
    of each pair's mean cross-sense cosine: a mean of group means, not of pairs."""
    codes = torch.tensor([sorted(set(labels)).index(label) for label in labels])
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    cosines = unit @ unit.T
    groups = range(int(codes.max()) + 1)
    same = [cosines[codes == a][:, codes == a] for a in groups]
    same = [block[~torch.eye(len(block), dtype=torch.bool)].mean() for block in same]
    cross = [cosines[codes == a][:, codes == b].mean() for a in groups for b in groups if a < b]
    return (torch.stack(same).mean() - torch.stack(cross).mean()).item()


def _gap_macro_same_only(vectors: torch.Tensor, labels: list[str]) -> float:
    """Per-sense means averaged for the same-sense side; cross-sense pairs pooled."""
    same, cross = pair_similarities(vectors, labels)
    codes = torch.tensor([sorted(set(labels)).index(label) for label in labels])
    unit = vectors / vectors.norm(dim=1, keepdim=True)
    cosines = unit @ unit.T
    blocks = [cosines[codes == a][:, codes == a] for a in range(int(codes.max()) + 1)]
    per_sense = [b[~torch.eye(len(b), dtype=torch.bool)].mean() for b in blocks]
    return (torch.stack(per_sense).mean() - cross.mean()).item()


def _gap_with_dot_products(vectors: torch.Tensor, labels: list[str]) -> float:
    dots = vectors @ vectors.T
    same = torch.tensor([[a == b for b in labels] for a in labels])
    off_diagonal = ~torch.eye(len(labels), dtype=torch.bool)
    return (dots[same & off_diagonal].mean() - dots[~same].mean()).item()


GAP_MISTAKES = (
    (_gap_with_self_pairs,
     "You counted each vector paired with itself (cosine 1) as a same-sense pair: leave out i == j."),
    (_gap_with_dot_products, "Those are dot products: divide by both lengths to get cosines."),
    (_gap_macro,
     "You averaged per sense (or per pair of senses) first: pool the pairs instead, so that every "
     "pair counts once, whatever its sense. With groups of unequal size the two means differ."),
    (_gap_macro_same_only,
     "Your same-sense side is a mean of per-sense means: pool all same-sense pairs instead, so "
     "that every pair counts once. With groups of unequal size the two means differ."),
)


@checker("same-sense minus cross-sense similarity")
def check_sense_gap(sense_gap: Callable[[torch.Tensor, list[str]], float]) -> str:
    for vectors, labels in _gap_cases():
        got = run_learner(sense_gap, vectors.clone(), list(labels))
        counts = {s: labels.count(s) for s in sorted(set(labels))}
        name = f"sense_gap on {len(labels)} vectors with senses {counts}"
        if isinstance(got, (set, frozenset, dict, tuple, list)):
            raise LearnerError(f"{name} returned a {type(got).__name__}: return one number, the "
                               "same-sense mean minus the cross-sense mean.")
        got = as_number(got, name)  # Python, NumPy or 0-d torch scalars alike
        mistakes = [(lambda wrong=wrong: wrong(vectors, labels), advice) for wrong, advice in GAP_MISTAKES]
        compare_or_diagnose(got, reference_gap(vectors, labels), name=name, mistakes=mistakes, **_TOLERANCE)
    return "Your gap matches embedlib.contextual.pair_similarities on three sets, including three senses."


def _layered_case(order: tuple[int, ...], seed: int) -> tuple[torch.Tensor, list[str], dict[str, int]]:
    """Vectors ``[8, 5, 12]`` whose layers play set roles, so that different wrong rules pick different layers.

    ``order`` assigns to layers the roles: 'crowded' (everything alike: highest same-sense
    cosine, no gap), 'separated' (the largest gap), 'spread' (the lowest cross-sense cosine,
    small gap), and two 'noisy' layers.
    """
    generator = torch.Generator().manual_seed(seed)
    labels = ["river"] * 4 + ["money"] * 4
    codes = torch.tensor([0] * 4 + [1] * 4)
    width = 12
    common = torch.randn(width, generator=generator)
    layers = []
    roles = ("crowded", "separated", "spread", "noisy", "noisy")
    for layer in range(5):
        role = roles[order[layer]]
        centres = torch.randn(2, width, generator=generator)  # [senses, d]
        noise = torch.randn(8, width, generator=generator)  # [n, d]
        shared, sense, jitter = {"crowded": (6.0, 0.0, 0.3), "separated": (1.2, 1.5, 0.6),
                                 "spread": (0.0, 0.5, 1.0), "noisy": (1.0, 0.3, 1.0)}[role]
        layers.append(shared * common + sense * centres[codes] + jitter * noise)
    vectors = torch.stack(layers, dim=1)  # [n, 5, d]
    rows = [LayerSeparation(layer, *_stats(vectors[:, layer], labels)) for layer in range(5)]
    rules = {
        "gap": best_layer(rows),
        "same": max(rows, key=lambda r: r.same_mean).layer,
        "cross": min(rows, key=lambda r: r.cross_mean).layer,
    }
    return vectors, labels, rules


def _stats(vectors: torch.Tensor, labels: list[str]) -> tuple[float, ...]:
    same, cross = pair_similarities(vectors, labels)
    # nearest-neighbour accuracy is not needed by the rules compared here: 0.0
    return same.mean().item(), same.min().item(), cross.mean().item(), cross.max().item(), 0.0, pair_auc(same, cross)


LAYERED_CASES = ((0, 1, 2, 3, 4), (2, 4, 3, 1, 0), (1, 3, 0, 4, 2))


def _as_layer_number(got) -> int:
    if isinstance(got, bool) or isinstance(got, (set, frozenset, list, tuple, dict, str)):
        raise LearnerError(f"expected a layer number (an int), got {type(got).__name__}.")
    number = as_number(got, "your layer")  # int, np.int64, 0-d tensor, 3.0 alike
    if not number.is_integer():
        raise LearnerError(f"you returned {number:.4g}, a similarity: return the layer's number "
                           "(an int), not its gap.")
    return int(number)


@checker("the layer that separates senses best")
def check_best_layer(find_best_layer: Callable[[torch.Tensor, list[str]], int]) -> str:
    answers, rules = [], []
    for seed, order in enumerate(LAYERED_CASES):
        vectors, labels, case_rules = _layered_case(order, seed)
        answers.append(_as_layer_number(run_learner(find_best_layer, vectors.clone(), list(labels))))
        rules.append(case_rules)
    if answers == [r["gap"] for r in rules]:
        return f"You found the best layer in {len(LAYERED_CASES)} stacks where the most-alike and least-alike layers differ from it."
    if answers == [r["same"] for r in rules]:
        raise LearnerError(
            f"you picked layers {answers}, where same-sense vectors are most alike; but there every vector is alike, "
            "cross-sense pairs too. Rank layers by the gap: same-sense mean minus cross-sense mean.")
    if answers == [r["cross"] for r in rules]:
        raise LearnerError(
            f"you picked layers {answers}, where cross-sense vectors are least alike; but same-sense ones are not alike "
            "there either. Rank layers by the gap: same-sense mean minus cross-sense mean.")
    if answers == [r["gap"] + 1 for r in rules]:
        raise LearnerError(f"you returned {answers}, each one more than the best layer: layers count from 0 (the embeddings output).")
    wrong = sum(a != r["gap"] for a, r in zip(answers, rules))
    raise LearnerError(f"you returned layers {answers}; in {wrong} of {len(rules)} stacks that is not the layer "
                       "with the largest gap (same-sense mean minus cross-sense mean).")
