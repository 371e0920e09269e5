"""Checkers for chapter 1, the embedding table is a lookup.

Each checker runs the learner's function on cases chosen so that the common wrong
answers differ from the right one, and names the slip when it recognises it.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
from torch import nn
from torch.overrides import TorchFunctionMode

from ..lookup import lookup, table_bytes
from .core import (
    LearnerError,
    as_array,
    as_count,
    checker,
    compare_or_diagnose,
    compare_values,
    run_learner,
)

_GENERATOR_SEED = 1234


def _table(vocab_size: int, dim: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(_GENERATOR_SEED + vocab_size)
    return torch.randn(vocab_size, dim, generator=generator)  # (V, d)


# No case contains id V - 1, so F.one_hot(ids) without num_classes builds fewer than V
# columns and cannot be mistaken for the right answer.
_ONE_HOT_CASES = (
    (_table(5, 3), torch.tensor([3, 0, 2])),
    (_table(7, 4), torch.tensor([3, 3, 5, 1])),  # a repeated id
    (_table(11, 2), torch.tensor([[0, 9], [5, 5]])),  # a batch: [B, T]
    (_table(13, 3).double(), torch.tensor([4, 0, 11])),  # float64: "the table's dtype"
)

# Functions that read rows of a tensor by position: the method the exercise rules out.
_ROW_READS = {
    "__getitem__": "indexing (table[ids])",
    "index_select": "index_select",
    "embedding": "F.embedding / nn.Embedding",
    "gather": "gather",
    "take": "take",
    "take_along_dim": "take_along_dim",
    "select": "select",
    "unbind": "unbind",
    "split": "split",
    "chunk": "chunk",
}


def _storage(value: Any) -> int | None:
    if isinstance(value, torch.Tensor) and value.layout == torch.strided:
        return value.untyped_storage().data_ptr()
    return None


def _indexes_rows(index: Any) -> bool:
    """Whether ``tensor[index]`` picks rows (dimension 0) by number."""
    first = index[0] if isinstance(index, tuple) and index else index
    if isinstance(first, (slice, type(Ellipsis), type(None))):
        return False
    return True  # an int, a list, an array or a tensor of row numbers


class _MethodRecorder(TorchFunctionMode):
    """Records row reads of the table and ``F.one_hot`` widths during the learner's call."""

    def __init__(self, table: torch.Tensor) -> None:
        super().__init__()
        self.table_storage = _storage(table)
        self.row_reads: list[str] = []
        self.one_hot_widths: list[int] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        name = getattr(func, "__name__", "")
        if name == "one_hot":
            width = args[1] if len(args) > 1 else kwargs.get("num_classes", -1)
            self.one_hot_widths.append(int(width))
        elif name in _ROW_READS:
            if name == "embedding" and len(args) > 1:
                operands = [args[1]]  # F.embedding(input, weight)
            else:
                operands = list(args[:1])
            operands += [kwargs.get("weight"), kwargs.get("input")]
            reads_table = any(
                _storage(a) == self.table_storage for a in operands if a is not None
            )
            if reads_table and (name != "__getitem__" or _indexes_rows(args[1])):
                self.row_reads.append(_ROW_READS[name])
        return func(*args, **kwargs)


def _run_recorded(
    function: Callable, table: torch.Tensor, ids: torch.Tensor, name: str
) -> Any:
    """Run the learner's function, recording how it computed its answer."""
    recorder = _MethodRecorder(table)
    try:
        with recorder:
            result = run_learner(function, table, ids)
    except LearnerError as error:
        _check_one_hot_width(recorder, table, name)  # the likely cause of a shape error
        cause = str(error.__cause__ or "")
        if isinstance(error.__cause__, RuntimeError) and (
            "dtype" in cause or "scalar type" in cause
        ):
            raise LearnerError(
                f"In {name}, {error}. The one-hot matrix and this "
                f"{str(table.dtype).removeprefix('torch.')} table must share a dtype "
                "(F.one_hot returns int64): convert with one_hot.to(table.dtype)."
            ) from error.__cause__
        raise
    _check_one_hot_width(recorder, table, name)
    if recorder.row_reads:
        raise LearnerError(
            f"{name} reads rows of the table with {recorder.row_reads[0]}: that is "
            "the lookup itself. Build the one-hot matrix and multiply it by the table."
        )
    return result


def _check_one_hot_width(
    recorder: _MethodRecorder, table: torch.Tensor, name: str
) -> None:
    vocab_size = table.shape[0]
    for width in recorder.one_hot_widths:
        if width != vocab_size:
            made = "max(ids) + 1" if width == -1 else f"{width}"
            raise LearnerError(
                f"In {name}, F.one_hot made {made} columns, not V = {vocab_size}: "
                "without num_classes it stops at the largest id present. "
                "Pass num_classes=table.shape[0]."
            )


@checker("lookup as one-hot times the table")
def check_one_hot_lookup(one_hot_lookup) -> str:
    for table, ids in _ONE_HOT_CASES:
        name = f"one_hot_lookup(table {tuple(table.shape)}, ids {ids.tolist()})"
        got = _run_recorded(one_hot_lookup, table.clone(), ids.clone(), name)
        expected = lookup(table, ids)  # (*ids.shape, d)
        shape = tuple(getattr(got, "shape", ()))
        if shape == tuple(ids.shape) + (table.shape[0],):
            raise LearnerError(
                f"{name} has shape {shape}: that is the one-hot matrix itself; "
                "multiply it by the table."
            )
        if shape == tuple(ids.shape) and ids.ndim == 1:
            raise LearnerError(
                f"{name} has shape {shape}, one number per id: each id should give "
                f"a whole row of width {table.shape[1]}."
            )
        got_dtype = getattr(got, "dtype", None)
        if isinstance(got_dtype, torch.dtype) and got_dtype.is_floating_point and (
            torch.finfo(got_dtype).bits < torch.finfo(table.dtype).bits
        ):
            raise LearnerError(
                f"{name} has dtype {str(got_dtype).removeprefix('torch.')}, but the table "
                f"is {str(table.dtype).removeprefix('torch.')}: convert the one-hot "
                "matrix with .to(table.dtype), not .float(), so no precision is lost."
            )
        compare_or_diagnose(got, expected, name=name, mistakes=[
            (lambda: lookup(table, (ids + 1) % table.shape[0]),
             "Those are the rows one below: the one-hot entry for id i goes in "
             "column i (ids start at 0)."),
        ])
    return (
        "One-hot times the table gives exactly the rows that indexing reads, "
        "for a batch too."
    )


_BYTES_CASES = (
    (30_522, 384, "float32"),  # all-MiniLM-L6-v2
    (50_257, 768, "float32"),  # GPT-2 small
    (128_256, 4_096, "bfloat16"),  # LLaMA 3 8B
    (1_000, 64, "float16"),
)


@checker("bytes of an embedding table")
def check_table_bytes(bytes_of_table: Callable[..., Any]) -> str:
    for vocab_size, dim, dtype in _BYTES_CASES:
        name = f"bytes_of_table({vocab_size:_}, {dim:_}, {dtype!r})"
        got = as_count(run_learner(bytes_of_table, vocab_size, dim, dtype), name)
        expected = table_bytes(vocab_size, dim, dtype)
        if got == expected:
            continue
        per_value = expected // (vocab_size * dim)
        units = {
            "GB (1e9)": 1e9, "GiB (2**30)": 2**30, "MB (1e6)": 1e6, "MiB (2**20)": 2**20,
        }
        for unit, size in units.items():
            if math.isclose(got, expected / size, rel_tol=1e-3):
                raise LearnerError(
                    f"{name} = {got:.4g} is in {unit}; the task asks for plain bytes "
                    f"({expected:,})."
                )
        if got == vocab_size * dim and per_value != 1:
            raise LearnerError(
                f"{name} = {got:,} is the number of values; multiply by the bytes per "
                f"value ({per_value} for {dtype})."
            )
        if got == expected * 8:
            raise LearnerError(f"{name} = {got:,} counts bits; a byte is 8 bits.")
        if got == vocab_size * dim * 4 and per_value != 4:
            raise LearnerError(
                f"{name} = {got:,} assumes 4 bytes per value; "
                f"{dtype} takes {per_value}."
            )
        if isinstance(got, float):  # as_count keeps only a fraction as a float
            raise LearnerError(
                f"{name} = {got:.6g} is a fraction; a count of bytes is a whole number "
                "(use // or int())."
            )
        raise LearnerError(f"{name} should be {expected:,} bytes, got {got:,}.")
    return "Right for float32, bfloat16 and float16 tables, from MiniLM's to LLaMA 3's."


_ROW_CASES = (
    (10, torch.tensor([3, 1, 3, 7])),
    (10, torch.tensor([[0, 8, 8], [4, 4, 4]])),  # a batch, with repeats
    (50, torch.tensor([41, 2, 17, 2, 0, 33])),
)


def _rows_with_gradient(vocab_size: int, ids: torch.Tensor) -> torch.Tensor:
    """The ground truth, from a real backward pass: rows whose gradient is not zero."""
    embedding = nn.Embedding(vocab_size, 3)
    out = embedding(ids)  # (*ids.shape, 3)
    out.pow(2).sum().backward()  # any loss whose upstream gradient has no exact zeros
    return (embedding.weight.grad != 0).any(dim=1).nonzero().flatten()  # sorted row ids


def _looks_like_counts(got: torch.Tensor, ids: torch.Tensor, vocab_size: int) -> bool:
    """Whether ``got`` is how often ids occur (a bincount) rather than which rows occur."""
    if not torch.equal(got, got.round()):
        return False
    flat = ids.flatten()
    counts = (
        torch.bincount(flat),  # one count per row up to the largest id
        torch.bincount(flat, minlength=vocab_size),  # one count per row of the table
        torch.unique(flat, return_counts=True)[1],  # the counts of the rows present
    )
    return any(
        got.shape == c.shape and torch.equal(got.long(), c) for c in counts
    ) and not torch.equal(got.long(), torch.unique(flat))


def _as_rows(got: Any, name: str) -> torch.Tensor:
    """The learner's rows as a float64 tensor, read by :func:`~.core.as_array` (a set
    has no order to get wrong: it is sorted); this exercise's advice follows its hints."""
    try:
        return torch.from_numpy(as_array(got, name, unordered=True))
    except LearnerError as error:
        raise LearnerError(
            f"{error} That is not a list of row numbers; return a 1-D tensor, a list "
            "or a set of ints."
        ) from error


def _is_mask(got: torch.Tensor, vocab_size: int) -> bool:
    """Whether ``got`` holds one 0/1 flag per row of the table: a mask, in any dtype."""
    return got.numel() == vocab_size and bool(((got == 0) | (got == 1)).all())


@checker("rows that get gradient")
def check_touched_rows(touched_rows: Callable[..., Any]) -> str:
    for vocab_size, ids in _ROW_CASES:
        name = f"touched_rows({ids.tolist()}, {vocab_size})"
        got = _as_rows(run_learner(touched_rows, ids.clone(), vocab_size), name)
        expected = _rows_with_gradient(vocab_size, ids)
        if _is_mask(got, vocab_size):
            raise LearnerError(
                f"{name} returned a boolean mask; return the row numbers, "
                "e.g. mask.nonzero().flatten()."
            )
        if got.numel() == ids.numel() and ids.unique().numel() < ids.numel():
            raise LearnerError(
                f"{name} has {ids.numel()} entries, one per position: a row used twice "
                "is still one row (its gradients add up)."
            )
        if got.ndim != 1:
            raise LearnerError(
                f"{name} has shape {tuple(got.shape)}; return a flat 1-D tensor of "
                "row numbers."
            )
        if _looks_like_counts(got, ids, vocab_size):
            raise LearnerError(
                f"{name} returned counts (how often each row occurs), not row numbers: "
                "return the rows whose count is above 0, e.g. "
                "torch.bincount(ids.flatten(), minlength=vocab_size).nonzero().flatten()."
            )
        if got.numel() == vocab_size:
            raise LearnerError(
                f"{name} lists all {vocab_size} rows, but only rows of ids in the "
                "batch get gradient."
            )
        if torch.equal(got, got.round()):
            got = got.long()  # 3.0 names row 3
        if got.numel() == expected.numel() and not torch.equal(got.sort().values, got):
            raise LearnerError(
                f"{name} = {got.tolist()} is not sorted; sort the row numbers."
            )
        compare_values(got, expected, name=name)
    return (
        "Only the rows of ids present in the batch get gradient, each once, "
        "however often it occurs."
    )
