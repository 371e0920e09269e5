"""Checkers for chapter 1, the embedding table is a lookup."""

from __future__ import annotations

import torch
from torch import nn

from ..lookup import lookup, table_bytes
from .core import LearnerError, checker, compare_or_diagnose, compare_values, run_learner

_GENERATOR_SEED = 1234


def _table(vocab_size: int, dim: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(_GENERATOR_SEED + vocab_size)
    return torch.randn(vocab_size, dim, generator=generator)  # (V, d)


_ONE_HOT_CASES = (
    (_table(5, 3), torch.tensor([4, 0, 2])),
    (_table(7, 4), torch.tensor([3, 3, 6, 1])),  # a repeated id
    (_table(11, 2), torch.tensor([[0, 10], [5, 5]])),  # a batch: [B, T]
)


@checker("lookup as one-hot times the table")
def check_one_hot_lookup(one_hot_lookup) -> str:
    for table, ids in _ONE_HOT_CASES:
        got = run_learner(one_hot_lookup, table.clone(), ids.clone())
        expected = lookup(table, ids)  # (*ids.shape, d)
        name = f"one_hot_lookup(table {tuple(table.shape)}, ids {ids.tolist()})"
        shape = tuple(getattr(got, "shape", ()))
        if shape == tuple(ids.shape) + (table.shape[0],):
            raise LearnerError(f"{name} has shape {shape}: that is the one-hot matrix itself; multiply it by the table.")
        if shape == tuple(ids.shape) and ids.ndim == 1:
            raise LearnerError(f"{name} has shape {shape}, one number per id: each id should give a whole row of width {table.shape[1]}.")
        compare_or_diagnose(got, expected, name=name, mistakes=[
            (lambda: lookup(table, (ids + 1) % table.shape[0]),
             "Those are the rows one below: the one-hot entry for id i goes in column i (ids start at 0)."),
        ])
    return "One-hot times the table gives exactly the rows that indexing reads, for a batch too."


_BYTES_CASES = (
    (30_522, 384, "float32"),  # all-MiniLM-L6-v2
    (50_257, 768, "float32"),  # GPT-2 small
    (128_256, 4_096, "bfloat16"),  # LLaMA 3 8B
    (1_000, 64, "float16"),
)


@checker("bytes of an embedding table")
def check_table_bytes(bytes_of_table) -> str:
    for vocab_size, dim, dtype in _BYTES_CASES:
        got = run_learner(bytes_of_table, vocab_size, dim, dtype)
        expected = table_bytes(vocab_size, dim, dtype)
        name = f"bytes_of_table({vocab_size:_}, {dim:_}, {dtype!r})"
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            raise LearnerError(f"{name} returned {type(got).__name__}; return a number of bytes.")
        per_value = expected // (vocab_size * dim)
        if got == vocab_size * dim and per_value != 1:
            raise LearnerError(f"{name} = {got:,} is the number of values; multiply by the bytes per value ({per_value} for {dtype}).")
        if got == expected * 8:
            raise LearnerError(f"{name} = {got:,} counts bits; a byte is 8 bits.")
        if got in (expected / 1e9, expected / 2**30, expected / 1e6, expected / 2**20):
            raise LearnerError(f"{name} = {got} is in GB/GiB/MB; return plain bytes.")
        if got != expected:
            raise LearnerError(f"{name} should be {expected:,} bytes, got {got:,}.")
    return "Right for float32, bfloat16 and float16 tables, from MiniLM's to LLaMA 3's."


_ROW_CASES = (
    (10, torch.tensor([3, 1, 3, 7])),
    (10, torch.tensor([[0, 9, 9], [4, 4, 4]])),  # a batch, with repeats
    (50, torch.tensor([49, 2, 17, 2, 0, 33])),
)


def _rows_with_gradient(vocab_size: int, ids: torch.Tensor) -> torch.Tensor:
    """The ground truth, from an actual backward pass: rows whose gradient is not zero."""
    embedding = nn.Embedding(vocab_size, 3)
    out = embedding(ids)  # (*ids.shape, 3)
    out.pow(2).sum().backward()  # any loss whose upstream gradient has no exact zeros
    return (embedding.weight.grad != 0).any(dim=1).nonzero().flatten()  # sorted row ids


@checker("rows that get gradient")
def check_touched_rows(touched_rows) -> str:
    for vocab_size, ids in _ROW_CASES:
        got = run_learner(touched_rows, ids.clone(), vocab_size)
        expected = _rows_with_gradient(vocab_size, ids)
        name = f"touched_rows({ids.tolist()}, {vocab_size})"
        got_tensor = torch.as_tensor(got)
        if got_tensor.dtype == torch.bool:
            raise LearnerError(f"{name} returned a boolean mask; return the row numbers, e.g. mask.nonzero().flatten().")
        if got_tensor.numel() == ids.numel() and ids.unique().numel() < ids.numel():
            raise LearnerError(f"{name} has {ids.numel()} entries, one per position: a row used twice is still one row (its gradients add up).")
        if got_tensor.ndim != 1:
            raise LearnerError(f"{name} has shape {tuple(got_tensor.shape)}; return a flat 1-D tensor of row numbers.")
        if got_tensor.numel() == vocab_size:
            raise LearnerError(f"{name} lists all {vocab_size} rows, but only rows of ids in the batch get gradient.")
        if got_tensor.numel() == expected.numel() and not torch.equal(got_tensor.sort().values, got_tensor):
            raise LearnerError(f"{name} = {got_tensor.tolist()} is not sorted; sort the row numbers.")
        compare_values(got_tensor, expected, name=name)
    return "Only the rows of ids present in the batch get gradient, each once, however often it occurs."
