"""Rows that were probably never trained: special and unused tokens, near-zero and duplicate rows.

Three signs, each cheap:

- the name: the tokenizer's special tokens, and the placeholders vocabularies reserve
  (BERT's ``[unused12]``, LLaMA-3's ``<|reserved_special_token_7|>``, T5's ``<extra_id_3>``,
  fairseq's ``madeupword0``), and table rows past the tokenizer's vocabulary (padding);
- a near-zero row: norm below ``NEAR_ZERO`` times the median norm (its cosine is undefined
  or dominated by rounding);
- exact duplicates: groups of identical rows (rows left at one shared initial value;
  in a quantised copy, also rows that rounding made equal).

Special tokens are trained in most models ([CLS] certainly is); they are flagged because
they are not words and often sit apart, not because they are broken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import torch

NEAR_ZERO = 1e-3  # relative to the median row norm
UNUSED = re.compile(
    r"^(\[unused\d+\]|<unused\d+>|<\|reserved_special_token_\d+\|>|<extra_id_\d+>|madeupword\d+"
    r"|<no token \d+>|<id \d+>)$"
)
SPECIAL = re.compile(
    r"^(\[[A-Z]+\]|<\|[^|\s]+\|>|<(s|/s|pad|unk|mask|cls|sep|bos|eos)>)$"
)
BLOCK_ROWS = 4096


@dataclass
class RowFlags:
    """Why rows look untrained, row index -> reasons; plus the groups of duplicates."""

    near_zero: list[int] = field(default_factory=list)
    duplicates: list[int] = field(
        default_factory=list
    )  # rows in groups of identical rows
    duplicate_of: dict[int, int] = field(default_factory=dict)
    unused: list[int] = field(default_factory=list)
    special: list[int] = field(default_factory=list)

    def reasons(self) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {}
        for name in ("near_zero", "duplicates", "unused", "special"):
            label = {"duplicates": "duplicate", "near_zero": "near-zero"}.get(
                name, name
            )
            for row in getattr(self, name):
                out.setdefault(row, []).append(label)
        return out


def flag_names(
    labels: Sequence[str] | None, special: Iterable[str] = ()
) -> tuple[list[int], list[int]]:
    """Rows whose label is an unused placeholder, and rows that are special tokens."""
    if labels is None:
        return [], []
    special = set(special)
    unused, specials = [], []
    for i, label in enumerate(labels):
        if UNUSED.match(label):
            unused.append(i)
        elif label in special or SPECIAL.match(label):
            specials.append(i)
    return unused, specials


def near_zero_rows(norms: torch.Tensor) -> list[int]:
    """Rows whose norm is below NEAR_ZERO x the median norm (or exactly zero)."""
    limit = NEAR_ZERO * float(norms.median())
    return torch.nonzero((norms <= limit) | (norms == 0)).flatten().tolist()


def duplicate_rows(x: torch.Tensor, seed: int = 0) -> dict[int, int]:
    """Exact duplicates: {row: first earlier row with the same values}.

    Rows are hashed by one random projection in float64 (computed in blocks), rows with equal
    keys are then compared exactly, so the cost is O(nd) and the memory O(n).
    """
    n, d = x.shape
    direction = torch.randn(
        d, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    keys = torch.empty(n, dtype=torch.float64)
    for start in range(0, n, BLOCK_ROWS):
        keys[start : start + BLOCK_ROWS] = (
            x[start : start + BLOCK_ROWS].double() @ direction
        )
    order = torch.argsort(keys, stable=True)
    sorted_keys = keys[order]
    same = torch.nonzero(sorted_keys[1:] == sorted_keys[:-1]).flatten()
    found: dict[int, int] = {}
    for position in same.tolist():
        # walk back over the run of equal keys to find an identical earlier row
        a = int(order[position + 1])
        j = position
        while j >= 0 and sorted_keys[j] == sorted_keys[position + 1]:
            b = int(order[j])
            if torch.equal(x[a], x[b]):
                first, later = min(a, b), max(a, b)
                root = found.get(first, first)
                if later not in found:
                    found[later] = root
                break
            j -= 1
    return dict(sorted(found.items()))


def flag_rows(
    x: torch.Tensor,
    norms: torch.Tensor,
    labels: Sequence[str] | None = None,
    special: Iterable[str] = (),
) -> RowFlags:
    unused, specials = flag_names(labels, special)
    duplicates = duplicate_rows(x)
    zero = set(near_zero_rows(norms))
    # zero rows that equal each other are reported as near-zero, not again as duplicates
    duplicates = {row: first for row, first in duplicates.items() if row not in zero}
    # every member of a group of identical rows is flagged: none of them is "the real one"
    members = sorted(set(duplicates) | set(duplicates.values()))
    return RowFlags(
        near_zero=sorted(zero),
        duplicates=members,
        duplicate_of=duplicates,
        unused=unused,
        special=specials,
    )
