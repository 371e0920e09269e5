"""Context limits of a model with learned absolute positions, and what truncation does.

A BERT-family encoder adds row ``p`` of a learned position table, shape
``(max_position_embeddings, d)``, to the token at position ``p`` (Devlin et al. 2019,
arXiv:1810.04805). Positions ``0 .. max_position_embeddings - 1`` exist; the next one does
not, so a sequence one token longer than the table cannot be embedded. The count includes
the special tokens: BERT adds ``[CLS]`` and ``[SEP]``, so 512 positions hold 510 word pieces.

The guard here raises a ``ValueError`` that says so before the model runs; the rest shows
the usual way round it, truncation, and what it silently loses.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from .models import load_model, load_tokenizer, model_source


def position_limit(model=None) -> int:
    """Rows of the learned position table (``config.max_position_embeddings``); MiniLM by default."""
    model = load_model() if model is None else model
    return int(model.config.max_position_embeddings)


def sentence_transformers_limit() -> int:
    """The ``max_seq_length`` sentence-transformers truncates this model at (its
    ``sentence_bert_config.json``; 256 for all-MiniLM-L6-v2), read without loading the library."""
    source = model_source()
    path = Path(source) / "sentence_bert_config.json"
    if (
        not path.is_file()
    ):  # the hub id: fetch the one small file (cached by huggingface_hub)
        from huggingface_hub import hf_hub_download

        path = Path(hf_hub_download(source, "sentence_bert_config.json"))
    return int(json.loads(path.read_text(encoding="utf-8"))["max_seq_length"])


def check_context(n_tokens: int, limit: int) -> None:
    """Raise ``ValueError`` unless ``n_tokens`` (special tokens included) fits ``limit`` positions."""
    if isinstance(n_tokens, bool) or not isinstance(n_tokens, int) or n_tokens <= 0:
        raise ValueError(f"n_tokens must be a positive integer, got {n_tokens!r}")
    if n_tokens > limit:
        raise ValueError(
            f"{n_tokens} tokens, but the model has learned positions only for 0 to {limit - 1} "
            f"({limit} tokens, [CLS] and [SEP] included); truncate with "
            f"tokenizer(..., truncation=True, max_length={limit}) or split the text into windows "
            f"of at most {limit} tokens"
        )


def count_tokens(text: str, tokenizer=None) -> int:
    """Tokens the model would see for ``text``, special tokens included, without truncating."""
    tokenizer = load_tokenizer() if tokenizer is None else tokenizer
    return len(tokenizer(text, verbose=False)["input_ids"])


@dataclass(frozen=True)
class Truncation:
    """What truncating one text to ``max_length`` tokens keeps and drops."""

    n_tokens: int
    kept: int
    dropped: int
    dropped_text: str


def truncation_report(text: str, max_length: int, tokenizer=None) -> Truncation:
    """Tokenise ``text`` with and without truncation at ``max_length``; report the difference.

    ``dropped_text`` is the tail the model never sees, decoded back from its word pieces.
    """
    tokenizer = load_tokenizer() if tokenizer is None else tokenizer
    if (
        isinstance(max_length, bool)
        or not isinstance(max_length, int)
        or max_length < 3
    ):
        raise ValueError(
            f"max_length must be an integer >= 3 ([CLS], one piece, [SEP]), got {max_length!r}"
        )
    full = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    kept = tokenizer(text, truncation=True, max_length=max_length)["input_ids"]
    n_special = len(tokenizer("")["input_ids"])  # [CLS] and [SEP] for BERT
    tail = full[len(kept) - n_special :]
    return Truncation(
        n_tokens=len(full) + n_special,
        kept=len(kept),
        dropped=len(tail),
        dropped_text=tokenizer.decode(tail),
    )


def window_spans(
    n_tokens: int, size: int, stride: int | None = None
) -> list[tuple[int, int]]:
    """Half-open ``(start, end)`` spans of at most ``size`` tokens that cover ``0 .. n_tokens``.

    Consecutive windows start ``stride`` tokens apart (``stride = size``: no overlap); the
    last window ends exactly at ``n_tokens``. The other way round a context limit: embed each
    window and combine, instead of dropping the tail.
    """
    stride = size if stride is None else stride
    for name, value in (("n_tokens", n_tokens), ("size", size), ("stride", stride)):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if stride > size:
        raise ValueError(
            f"stride {stride} > size {size} would skip tokens; use a stride from 1 to {size}"
        )
    spans = []
    start = 0
    while True:
        end = min(start + size, n_tokens)
        spans.append((start, end))
        if end == n_tokens:
            return spans
        start += stride


def embed_windows(
    text: str, size: int = 512, stride: int | None = None, model=None, tokenizer=None
) -> torch.Tensor:
    """Unit-length MiniLM embeddings of windows that together cover all of ``text``.

    The text's word pieces are cut by :func:`window_spans` into windows of at most
    ``size - 2`` pieces (``stride`` apart), each framed by ``[CLS]`` and ``[SEP]``, so
    every window fits ``size`` positions; each is embedded like a sentence (mean of the
    last layer's vectors, normalised, as :func:`embedlib.sentences.embed_sentences`).
    Returns ``[n_windows, d]`` in text order: search the windows one by one, or combine
    them, instead of reading only the first ``size`` tokens.
    """
    model = load_model() if model is None else model
    tokenizer = load_tokenizer() if tokenizer is None else tokenizer
    limit = int(model.config.max_position_embeddings)
    if isinstance(size, bool) or not isinstance(size, int) or not 3 <= size <= limit:
        raise ValueError(
            f"size must be an integer from 3 to {limit} positions, got {size!r}"
        )
    pieces = tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"]
    if not pieces:
        raise ValueError("text has no word pieces to embed")
    stride = size - 2 if stride is None else stride
    vectors = []
    with torch.inference_mode():
        for start, end in window_spans(len(pieces), size - 2, stride):
            ids = [tokenizer.cls_token_id, *pieces[start:end], tokenizer.sep_token_id]
            states = model(input_ids=torch.tensor([ids])).last_hidden_state[0]  # (n, d)
            vectors.append(torch.nn.functional.normalize(states.mean(dim=0), dim=0))
    return torch.stack(vectors)  # (n_windows, d)
