"""Your corpus against the model's vocabulary: token counts and word fragmentation.

``--counts FILE`` holds one word (or token) per line, optionally followed by its count
(whitespace- or tab-separated; a bare word counts once). With a tokenizer each word is
cut into the model's tokens: the number of pieces per word (fragmentation) needs no
counts at all, and every piece inherits its word's count, which gives each table row a
count *in your data*. Without a tokenizer (word2vec, plain arrays with labels) words are
matched to row labels exactly.

What these counts can and cannot say: they are not the model's training counts (unknown
for a pretrained model), so a row rare in your data may be common in pretraining and well
trained. They say which rows your data exercises, and which rows a fine-tune on your data
would barely update.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import torch

from .loaders import AuditInputError


def read_counts(path: str | Path) -> dict[str, int]:
    """Parse a counts file into {word: count}; repeated words add up."""
    file = Path(path)
    if not file.is_file():
        raise AuditInputError(
            f"no such counts file: {path}; pass a text file with one "
            "'word count' per line"
        )
    counts: dict[str, int] = {}
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise AuditInputError(
            f"cannot read the counts file {path} as UTF-8 text "
            f"({type(error).__name__}); save it as UTF-8, one 'word count' per line"
        ) from error
    for number, line in enumerate(lines, 1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) == 1:
            word, count = fields[0], 1
        else:
            word = " ".join(fields[:-1])
            try:
                count = int(fields[-1])
            except ValueError:
                raise AuditInputError(
                    f"line {number} of {path} ends in {fields[-1]!r}, not a "
                    "count; write one 'word count' per line (count a whole number)"
                ) from None
            if count < 0:
                raise AuditInputError(
                    f"line {number} of {path} has a negative count ({count}); "
                    "counts are occurrences, 0 or more"
                )
        counts[word] = counts.get(word, 0) + count
    if not counts:
        raise AuditInputError(
            f"the counts file {path} holds no words; write one 'word count' per line"
        )
    return counts


def _space_prefix(tokenizer: Any) -> str:
    """Byte-level BPE marks a word inside text by a leading space: tokenise " word" there."""
    try:
        plain = tokenizer("the", add_special_tokens=False)["input_ids"]
        spaced = tokenizer(" the", add_special_tokens=False)["input_ids"]
    except Exception:
        return ""
    return " " if len(spaced) == 1 and spaced != plain else ""


def row_counts(
    word_counts: dict[str, int],
    n_rows: int,
    labels: Sequence[str] | None = None,
    tokenizer: Any = None,
    examples: int = 8,
) -> tuple[torch.Tensor, dict]:
    """Counts per table row from {word: count}, and the fragmentation (or label-match) summary."""
    counts = torch.zeros(n_rows, dtype=torch.int64)
    words = list(word_counts)
    freq = torch.tensor([word_counts[w] for w in words], dtype=torch.float64)
    if tokenizer is not None:
        prefix = _space_prefix(tokenizer)
        ids = tokenizer([prefix + w for w in words], add_special_tokens=False)[
            "input_ids"
        ]
        pieces = torch.tensor([len(i) for i in ids], dtype=torch.float64)
        for word_ids, count in zip(ids, freq.tolist()):
            for i in word_ids:
                if i < n_rows:
                    counts[i] += int(count)
        weight = freq / freq.sum().clamp_min(1)
        order = sorted(
            range(len(words)),
            key=lambda i: (-pieces[i].item(), -freq[i].item(), words[i]),
        )
        split = [i for i in order if pieces[i] >= 3]
        split.sort(key=lambda i: (-freq[i].item(), words[i]))
        summary = {
            "mode": "tokenizer",
            "words": len(words),
            "occurrences": int(freq.sum()),
            "pieces_per_word": float(pieces.mean()),
            "pieces_per_occurrence": float((pieces * weight).sum()),
            "share_split": float((pieces >= 2).double().mean()),
            "share_split_3": float((pieces >= 3).double().mean()),
            "examples": [
                {
                    "word": words[i],
                    "count": int(freq[i]),
                    "pieces": tokenizer.convert_ids_to_tokens(ids[i]),
                }
                for i in split[:examples]
            ],
        }
        return counts, summary
    if labels is None:
        raise AuditInputError(
            "--counts needs row names to match words against, and this table "
            "has none; pass a model folder or word2vec file, or an .npz with 'tokens'"
        )
    index = {label: i for i, label in reversed(list(enumerate(labels)))}
    matched = [index.get(w) for w in words]
    for row, count in zip(matched, freq.tolist()):
        if row is not None:
            counts[row] += int(count)
    found = torch.tensor([m is not None for m in matched])
    summary = {
        "mode": "labels",
        "words": len(words),
        "occurrences": int(freq.sum()),
        "share_words_found": float(found.double().mean()),
        "share_occurrences_found": float(freq[found].sum() / freq.sum().clamp_min(1)),
        "examples_missing": [w for w, m in zip(words, matched) if m is None][:examples],
    }
    return counts, summary


def summarise_row_counts(
    counts: torch.Tensor, keep: torch.Tensor, rare_below: int
) -> dict:
    """How much of the (kept) vocabulary the counts touch, and how much of it rarely."""
    kept = counts[keep]
    used = kept > 0
    n_used = int(used.sum())
    return {
        "rows": int(kept.numel()),
        "rows_used": n_used,
        "share_unused": float(1 - used.double().mean()),
        "rare_below": rare_below,
        "share_rare_of_used": float((kept[used] < rare_below).double().mean())
        if n_used
        else 0.0,
    }


CONCLUSIONS = (
    "These counts come from your corpus, not from the model's training data (unknown for a "
    "pretrained model): a row rare here may be common in pretraining and well trained, so "
    "they cannot show which vectors are unreliable. They do show which rows your data "
    "exercises and which a fine-tune on it would barely update. If these ARE the counts the "
    "vectors were trained on (your own word2vec), the rarest rows have the least stable "
    "neighbourhoods, but how rare is too rare depends on epochs and learning rate (chapter 6 "
    "measures it): the line at {rare} is a convention, not a threshold. For rows the model "
    "never trained, see the row checks (near-zero, duplicate, unused names)."
)
