"""Similarity thresholds: scores of two spaces, and calibrating a cut-off on held-out pairs.

A threshold t turns scores into decisions (similar if score >= t). Its precision and recall
depend on the score distribution of the space it is applied to, which differs from model to
model: a cut-off tuned on one space means nothing in another. Tune it on labelled pairs from
the target space and check it on pairs held out from the tuning.

The sentence embedding of all-MiniLM-L6-v2 is the attention-masked mean of the last hidden
states, L2-normalised (the model card's recipe, and what sentence-transformers does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .models import load_model, load_tokenizer


def _check_texts(texts: Sequence[str]) -> None:
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings (wrap a single text in a list)")


def layer_token_states(texts: Sequence[str], max_length: int = 128) -> list[torch.Tensor]:
    """Hidden states of every real token (no padding), one [tokens, d] tensor per layer.

    Entry 0 is the embedding block's output, entry L the output of layer L; texts are cut
    at ``max_length`` tokens.
    """
    _check_texts(texts)
    model, tokenizer = load_model(), load_tokenizer()
    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        output = model(**batch, output_hidden_states=True)
    real = batch["attention_mask"].bool()  # (n, T)
    return [states[real] for states in output.hidden_states]  # each (tokens, d)


def static_embeddings(texts: Sequence[str]) -> torch.Tensor:
    """Context-free vectors [n, d]: the mean of the input-table rows of each text's WordPiece tokens."""
    from .contextual import static_vector

    _check_texts(texts)
    for text in texts:
        if not text.strip():
            raise ValueError(f"{text!r} has no tokens")
    return torch.stack([static_vector(text).vector for text in texts])


@dataclass(frozen=True)
class Decisions:
    """Precision, recall and F1 of the rule 'similar if score >= threshold'."""

    threshold: float
    precision: float
    recall: float
    f1: float
    accepted: float  # share of all pairs that pass


def decisions(scores: torch.Tensor, labels: torch.Tensor, threshold: float) -> Decisions:
    """Score the rule on labelled pairs (labels: True = similar). Precision is 1 when nothing passes."""
    scores, labels = torch.as_tensor(scores).double(), torch.as_tensor(labels).bool()
    if scores.shape != labels.shape or scores.ndim != 1 or scores.numel() == 0:
        raise ValueError(f"scores {tuple(scores.shape)} and labels {tuple(labels.shape)} must be equal-length 1-D")
    passed = scores >= threshold
    true_positive = float((passed & labels).sum())
    precision = true_positive / float(passed.sum()) if passed.any() else 1.0
    recall = true_positive / float(labels.sum()) if labels.any() else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Decisions(float(threshold), precision, recall, f1, float(passed.double().mean()))


def calibrate(scores: torch.Tensor, labels: torch.Tensor) -> Decisions:
    """The threshold with the best F1 on these pairs (candidates: every observed score)."""
    scores = torch.as_tensor(scores).double()
    candidates = torch.unique(scores)
    return max((decisions(scores, labels, float(t)) for t in candidates), key=lambda d: (d.f1, -d.threshold))
