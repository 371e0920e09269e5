"""Sentence embeddings of all-MiniLM-L6-v2, computed the way sentence-transformers does.

.. math:: s = \\frac{m}{\\lVert m \\rVert}, \\qquad m = \\frac{\\sum_t a_t h_t}{\\sum_t a_t}

where :math:`h_t` are the last layer's token vectors and :math:`a_t` the attention mask
(1 for real tokens, 0 for padding): the model's ``1_Pooling`` (mean) and ``Normalize``
modules (Reimers & Gurevych 2019, arXiv:1908.10084). Texts longer than ``max_length`` tokens
are cut; sentence-transformers uses 256 for this model, the position table allows 512.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from .models import load_model, load_tokenizer
from .similarity import normalize_rows

SENTENCE_TRANSFORMERS_MAX_LENGTH = 256


def embed_sentences(
    texts: Sequence[str],
    max_length: int = SENTENCE_TRANSFORMERS_MAX_LENGTH,
    batch_size: int = 32,
    model=None,
    tokenizer=None,
) -> torch.Tensor:
    """Unit-length sentence embeddings, [len(texts), d], in the order of ``texts``.

    Texts are sorted by length and encoded ``batch_size`` at a time, so little padding is
    computed; ``model``/``tokenizer`` default to the course's MiniLM.
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings (wrap a single text in a list)")
    model = load_model() if model is None else model
    tokenizer = load_tokenizer() if tokenizer is None else tokenizer
    limit = int(model.config.max_position_embeddings)
    if isinstance(max_length, bool) or not isinstance(max_length, int) or not 3 <= max_length <= limit:
        raise ValueError(f"max_length must be an integer from 3 to {limit} (the position table's size), got {max_length!r}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    out = torch.empty(len(texts), model.config.hidden_size)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            rows = order[start : start + batch_size]
            batch = tokenizer([texts[i] for i in rows], padding=True, truncation=True, max_length=max_length, return_tensors="pt")
            states = model(**batch).last_hidden_state  # [b, T, d]
            mask = batch["attention_mask"].unsqueeze(-1).to(states.dtype)  # [b, T, 1]
            out[rows] = normalize_rows((states * mask).sum(dim=1) / mask.sum(dim=1))  # [b, d]
    return out
