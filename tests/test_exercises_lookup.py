"""The lookup chapter's checkers: a catalogue per checker of right answers in several forms
and of realistic wrong answers, each with the hint it should get."""

from __future__ import annotations

import decimal
import fractions
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.lookup import (
    _BYTES_CASES,
    _ONE_HOT_CASES,
    check_one_hot_lookup,
    check_table_bytes,
    check_touched_rows,
)
from embedlib.shapes import dtype_bytes


def stub(*args):
    raise NotImplementedError


def one_hot_reference(table, ids):
    return F.one_hot(ids, table.shape[0]).to(table.dtype) @ table


def one_hot_by_comparison(table, ids):
    one_hot = (ids[..., None] == torch.arange(table.shape[0])).to(table.dtype)  # (*ids, V)
    return one_hot @ table


def one_hot_by_scatter(table, ids):
    flat = ids.flatten()
    one_hot = torch.zeros(flat.numel(), table.shape[0], dtype=table.dtype)
    one_hot[torch.arange(flat.numel()), flat] = 1.0  # indexes the one-hot, not the table
    return (one_hot @ table).reshape(*ids.shape, table.shape[1])


def one_hot_einsum(table, ids):
    one_hot = F.one_hot(ids, num_classes=len(table)).to(table.dtype)
    return torch.einsum("...v,vd->...d", one_hot, table)


def test_cases_leave_out_the_last_id():
    """Without id V - 1, F.one_hot(ids) without num_classes has fewer than V columns."""
    for table, ids in _ONE_HOT_CASES:
        assert int(ids.max()) < table.shape[0] - 1


def test_cases_include_a_float64_table():
    """The task asks for the table's dtype; a float64 case catches a hard-coded .float()."""
    assert any(table.dtype == torch.float64 for table, _ in _ONE_HOT_CASES)


def assert_verdict(verdict, status, hint):
    assert verdict.status == status, str(verdict)
    assert hint in str(verdict), str(verdict)


@pytest.mark.parametrize("answer", [
    one_hot_reference,
    one_hot_by_comparison,
    one_hot_by_scatter,
    one_hot_einsum,
    lambda table, ids: (F.one_hot(ids, len(table)).double() @ table.double()).numpy(),
])
def test_one_hot_correct_forms(answer):
    assert_verdict(check_one_hot_lookup(answer), CORRECT, "exactly the rows")


@pytest.mark.parametrize("answer, hint", [
    (lambda table, ids: table[ids], "indexing (table[ids])"),
    (lambda table, ids: table.detach()[ids], "indexing (table[ids])"),
    (lambda table, ids: F.embedding(ids, table), "F.embedding"),
    (lambda table, ids: nn.Embedding.from_pretrained(table)(ids), "nn.Embedding"),
    (lambda table, ids: table.index_select(0, ids.flatten()).reshape(*ids.shape, -1),
     "index_select"),
    (lambda table, ids: torch.stack([table[i] for i in ids.flatten().tolist()])
     .reshape(*ids.shape, -1), "indexing"),
    (lambda table, ids: F.one_hot(ids).float() @ table, "without num_classes"),
    (lambda table, ids: F.one_hot(ids, int(ids.max()) + 1).float() @ table, "not V ="),
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float(), "one-hot matrix itself"),
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float() @ table.sum(1),
     "one number per id"),
    (lambda table, ids: table.T @ F.one_hot(ids, table.shape[0]).float(), "raised RuntimeError"),
    (lambda table, ids: F.one_hot((ids + 1) % table.shape[0], table.shape[0]).float() @ table,
     "one below"),
    (lambda table, ids: F.one_hot(ids.flatten(), table.shape[0]).float() @ table, "shape"),
    (lambda table, ids: 2 * one_hot_reference(table, ids), "wrong at index"),
    (lambda table, ids: None, "forget `return`"),
    # no conversion: int64 one-hot times a float table
    (lambda table, ids: F.one_hot(ids, table.shape[0]) @ table, "one_hot.to(table.dtype)"),
    (lambda table, ids: F.one_hot(ids, table.shape[0]) @ table, "raised RuntimeError"),
    # .float() everywhere: fails on the float64 table
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float() @ table, "to(table.dtype)"),
    (lambda table, ids: torch.einsum("...v,vd->...d", F.one_hot(ids, len(table)).float(),
                                     table), "to(table.dtype)"),
    # .float() on both: runs, but returns float32 for the float64 table
    (lambda table, ids: F.one_hot(ids, table.shape[0]).float() @ table.float(),
     "not .float()"),
])
def test_one_hot_wrong_answers(answer, hint):
    assert_verdict(check_one_hot_lookup(answer), INCORRECT, hint)


@pytest.mark.parametrize("answer, status, hint", [
    (stub, NOT_ATTEMPTED, "NotImplementedError"),
    (None, NOT_ATTEMPTED, "Fill in"),
])
def test_one_hot_not_attempted(answer, status, hint):
    assert_verdict(check_one_hot_lookup(answer), status, hint)


def test_recording_does_not_leak_into_later_code():
    check_one_hot_lookup(lambda table, ids: table[ids])
    table = torch.arange(6.0).reshape(3, 2)
    assert torch.equal(table[torch.tensor([2])], torch.tensor([[4.0, 5.0]]))


@pytest.mark.parametrize("answer", [
    lambda v, d, dtype: v * d * dtype_bytes(dtype),
    lambda v, d, dtype: v * d * torch.empty(0, dtype=getattr(torch, dtype)).element_size(),
    lambda v, d, dtype: v * d * getattr(torch, dtype).itemsize,
    lambda v, d, dtype: np.int64(v) * d * getattr(torch, dtype).itemsize,  # numpy integer
    lambda v, d, dtype: np.prod([v, d, getattr(torch, dtype).itemsize]),  # np.prod
    lambda v, d, dtype: v * d * torch.finfo(getattr(torch, dtype)).bits / 8,  # float, whole
    lambda v, d, dtype: torch.tensor(v * d * getattr(torch, dtype).itemsize),  # 0-d tensor
    lambda v, d, dtype: torch.tensor([v * d * getattr(torch, dtype).itemsize]),  # one element
    lambda v, d, dtype: np.float32(v * d * dtype_bytes(dtype)),  # whole, in float32
    lambda v, d, dtype: [v * d * dtype_bytes(dtype)],  # a list of one
    lambda v, d, dtype: fractions.Fraction(v * d * dtype_bytes(dtype)),
    lambda v, d, dtype: decimal.Decimal(v * d * dtype_bytes(dtype)),
])
def test_table_bytes_correct_forms(answer):
    assert_verdict(check_table_bytes(answer), CORRECT, "LLaMA 3")


@pytest.mark.parametrize("answer, hint", [
    (lambda v, d, dtype: v * d, "number of values"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) * 8, "counts bits"),
    (lambda v, d, dtype: v * d * torch.finfo(getattr(torch, dtype)).bits, "counts bits"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 1e9, "in GB (1e9)"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 2**30, "in GiB (2**30)"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 1e6, "in MB (1e6)"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 2**20, "in MiB (2**20)"),
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) + 1,
     "should be 46,881,792 bytes, got 46,881,793."),
    (lambda v, d, dtype: v * d * 4, "assumes 4 bytes per value"),  # float32 for all
    (lambda v, d, dtype: v * d * dtype_bytes(dtype) / 1024 / 7, "a fraction"),
    (lambda v, d, dtype: str(v * d * 4), "got the text '"),
    (lambda v, d, dtype: np.array([v, d]), "shape (2,)"),
    (lambda v, d, dtype: [v, d], "shape (2,)"),
    (lambda v, d, dtype: True, "is the boolean True"),
    (lambda v, d, dtype: torch.tensor(v > 0), "is the boolean True"),  # was read as 1 byte
    (lambda v, d, dtype: math.inf, "is inf: check for a division by zero"),  # was "a fraction"
    (lambda v, d, dtype: math.nan, "is nan: check for a division by zero"),
    (lambda v, d, dtype: complex(v * d * dtype_bytes(dtype), 0), "complex"),
    (lambda v, d, dtype: object(), "should be numbers"),
])
def test_table_bytes_wrong_answers(answer, hint):
    assert_verdict(check_table_bytes(answer), INCORRECT, hint)


def test_whole_float_answers_print_as_whole_numbers():
    """A whole float (``v * d * bits / 8``) prints like the int it is, not as "11,720,448.0"."""
    message = str(check_table_bytes(lambda v, d, dtype: v * d * 1.0))
    assert "= 11,720,448 is the number of values" in message, message


def test_units_hint_comes_before_the_fraction_hint():
    """A GiB figure is also a fraction; the learner should hear about the unit first."""
    verdict = check_table_bytes(lambda v, d, dtype: v * d * dtype_bytes(dtype) / 2**30)
    assert "GiB" in str(verdict) and "//" not in str(verdict), str(verdict)
    assert all(not math.isclose(v * d, 2**30) for v, d, _ in _BYTES_CASES)


@pytest.mark.parametrize("answer", [
    lambda ids, v: torch.unique(ids),
    lambda ids, v: sorted(set(ids.flatten().tolist())),
    lambda ids, v: set(ids.flatten().tolist()),  # a set: no order to get wrong
    lambda ids, v: np.unique(ids.numpy()),
    lambda ids, v: torch.bincount(ids.flatten(), minlength=v).nonzero().flatten(),
    lambda ids, v: torch.unique(ids).float(),
    lambda ids, v: torch.unique(ids).tolist(),
    lambda ids, v: tuple(np.unique(ids.numpy()).astype(np.int32)),
    lambda ids, v: frozenset(ids.flatten().tolist()),
])
def test_touched_rows_correct_forms(answer):
    assert_verdict(check_touched_rows(answer), CORRECT, "each once")


@pytest.mark.parametrize("answer, hint", [
    (lambda ids, v: ids.flatten(), "still one row"),
    (lambda ids, v: torch.arange(v), "only rows of ids"),
    (lambda ids, v: torch.bincount(ids.flatten(), minlength=v) > 0, "boolean mask"),
    # the mask in other dtypes, once told "lists all 10 rows"
    (lambda ids, v: (torch.bincount(ids.flatten(), minlength=v) > 0).long(), "boolean mask"),
    (lambda ids, v: (torch.bincount(ids.flatten(), minlength=v) > 0).float(), "boolean mask"),
    (lambda ids, v: (torch.bincount(ids.flatten(), minlength=v) > 0).tolist(), "boolean mask"),
    (lambda ids, v: np.isin(np.arange(v), ids.numpy()), "boolean mask"),
    (lambda ids, v: torch.unique(ids).to(torch.complex64), "is complex: return real"),  # was a crash
    (lambda ids, v: "1 3 7", "not a list of row numbers"),
    (lambda ids, v: torch.unique(ids).flip(0), "not sorted"),
    (lambda ids, v: torch.unique(ids)[1:], "shape"),
    (lambda ids, v: torch.unique(ids)[None, :], "flat 1-D"),
    (lambda ids, v: object(), "not a list of row numbers"),
    # counts instead of row numbers
    (lambda ids, v: torch.bincount(ids.flatten())[torch.bincount(ids.flatten()) > 0],
     "counts (how often"),
    (lambda ids, v: torch.bincount(ids.flatten(), minlength=v), "not row numbers"),
    (lambda ids, v: torch.bincount(ids.flatten()), "not row numbers"),
    (lambda ids, v: torch.unique(ids, return_counts=True)[1], "counts"),
])
def test_touched_rows_wrong_answers(answer, hint):
    assert_verdict(check_touched_rows(answer), INCORRECT, hint)


def test_touched_rows_stub():
    assert_verdict(check_touched_rows(stub), NOT_ATTEMPTED, "NotImplementedError")
