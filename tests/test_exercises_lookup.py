"""The lookup chapter's checkers accept the reference answers and explain realistic mistakes."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.lookup import check_one_hot_lookup, check_table_bytes, check_touched_rows
from embedlib.shapes import dtype_bytes


def stub(*args):
    raise NotImplementedError


def one_hot_reference(table, ids):
    return F.one_hot(ids, table.shape[0]).to(table.dtype) @ table


@pytest.mark.parametrize("answer, status, hint", [
    (one_hot_reference, CORRECT, "exactly the rows"),
    (lambda table, ids: table[ids], CORRECT, "exactly the rows"),  # indexing is the same thing
    (stub, NOT_ATTEMPTED, "NotImplementedError"),
    (None, NOT_ATTEMPTED, "Fill in"),
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float(), INCORRECT, "one-hot matrix itself"),
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float() @ table.sum(1), INCORRECT, "one number per id"),
    (lambda table, ids: table.T @ F.one_hot(ids, table.shape[0]).float(), INCORRECT, "raised RuntimeError"),
    (lambda table, ids: F.one_hot((ids + 1) % table.shape[0], table.shape[0]).float() @ table, INCORRECT, "one below"),
    (lambda table, ids: F.one_hot(ids.flatten(), table.shape[0]).float() @ table, INCORRECT, "shape"),
    (lambda table, ids: 2 * one_hot_reference(table, ids), INCORRECT, "wrong at index"),
    (lambda table, ids: None, INCORRECT, "forget `return`"),
])
def test_one_hot_checker(answer, status, hint):
    verdict = check_one_hot_lookup(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict), str(verdict)


@pytest.mark.parametrize("answer, status, hint", [
    (lambda v, d, dtype: v * d * dtype_bytes(dtype), CORRECT, "LLaMA 3"),
    (lambda v, d, dtype: v * d * torch.empty(0, dtype=getattr(torch, dtype)).element_size(), CORRECT, "LLaMA 3"),
    (stub, NOT_ATTEMPTED, "NotImplementedError"),
    (lambda v, d, dtype: v * d, INCORRECT, "number of values"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) * 8, INCORRECT, "bits"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 1e9, INCORRECT, "GB"),
    (lambda v, d, dtype: v * d * 4, INCORRECT, "should be 1,050,673,152 bytes"),  # float32 for everything
    (lambda v, d, dtype: str(v * d * 4), INCORRECT, "return a number"),
])
def test_table_bytes_checker(answer, status, hint):
    verdict = check_table_bytes(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict), str(verdict)


@pytest.mark.parametrize("answer, status, hint", [
    (lambda ids, v: torch.unique(ids), CORRECT, "each once"),
    (lambda ids, v: sorted(set(ids.flatten().tolist())), CORRECT, "each once"),
    (stub, NOT_ATTEMPTED, "NotImplementedError"),
    (lambda ids, v: ids.flatten(), INCORRECT, "still one row"),
    (lambda ids, v: torch.arange(v), INCORRECT, "only rows of ids"),
    (lambda ids, v: torch.bincount(ids.flatten(), minlength=v) > 0, INCORRECT, "boolean mask"),
    (lambda ids, v: torch.unique(ids).flip(0), INCORRECT, "not sorted"),
    (lambda ids, v: torch.unique(ids)[1:], INCORRECT, "shape"),
])
def test_touched_rows_checker(answer, status, hint):
    verdict = check_touched_rows(answer)
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict), str(verdict)
