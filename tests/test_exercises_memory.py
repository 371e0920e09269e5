"""The chapter's checkers: every correct form accepted, every usual slip named (a catalogue)."""

from __future__ import annotations

import fractions
import math

import numpy as np
import pytest
import torch

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.memory import (
    check_kv_cache_bytes,
    check_max_tokens,
    check_vocab_bytes,
)


def stub(*args):
    raise NotImplementedError


# ----------------------------------------------------------------------------- KV cache

KV_CORRECT = {
    "plain ints": lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B,
    "np.prod": lambda *args: np.prod([2, *args]),
    "math.prod": lambda *args: math.prod((2, *args)),
    "numpy int64": lambda L, h, hs, T, b, B: np.int64(2) * L * h * hs * T * b * B,
    "0-d int tensor": lambda *args: torch.tensor(args).prod() * 2,
    "float with no fraction": lambda L, h, hs, T, b, B: 2.0 * L * h * hs * T * b * B,
    "per token times tokens": lambda L, h, hs, T, b, B: (2 * L * h * hs * b) * (T * B),
    "one-element array": lambda *args: np.array([np.prod([2, *args])]),
    "a list of one": lambda *args: [math.prod((2, *args))],
    "Fraction": lambda *args: fractions.Fraction(math.prod((2, *args))),
}

KV_WRONG = {
    "K only": (lambda L, h, hs, T, b, B: L * h * hs * T * b * B, "a factor 2"),
    "no layers": (
        lambda L, h, hs, T, b, B: 2 * h * hs * T * b * B,
        "Count every layer",
    ),
    "no batch": (
        lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b,
        "Multiply by the batch",
    ),
    "values, not bytes": (
        lambda L, h, hs, T, b, B: 2 * L * h * hs * T * B,
        "bytes per value",
    ),
    "GiB as a float": (
        lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B / 2**30,
        "not GiB",
    ),
    "GiB rounded": (
        lambda L, h, hs, T, b, B: round(2 * L * h * hs * T * b * B / 2**30),
        "not GiB",
    ),
    "GiB with //": (
        lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B // 2**30,
        "not GiB",
    ),
    "GB": (lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B / 1e9, "not GB"),
    "MiB": (lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B / 2**20, "not MiB"),
    "a fraction": (
        lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B / 3,
        "A fraction",
    ),
    "query heads (32)": (
        lambda L, h, hs, T, b, B: 2 * L * 32 * hs * T * b * B,
        "expected 17,179,869,184.",
    ),
    "no return": (lambda L, h, hs, T, b, B: None, "forget `return`"),
    "text": (lambda L, h, hs, T, b, B: "16 GiB", "the text '16 GiB'"),
    "a list": (lambda L, h, hs, T, b, B: [2, L, h, hs, T, b, B], "one number"),
    "a boolean": (lambda *args: True, "boolean"),
    "NaN": (lambda *args: math.nan, "is nan: check for a division by zero"),
    "infinity": (lambda *args: np.float64(math.inf), "is inf: check for a division by zero"),
    "complex": (lambda *args: complex(math.prod((2, *args)), 0), "complex"),
    "too large for a float": (lambda *args: 10**400, "too large"),
}


@pytest.mark.parametrize("form", sorted(KV_CORRECT))
def test_kv_checker_accepts_every_correct_form(form):
    assert check_kv_cache_bytes(KV_CORRECT[form]).status == CORRECT


@pytest.mark.parametrize("slip", sorted(KV_WRONG))
def test_kv_checker_names_each_slip(slip):
    answer, hint = KV_WRONG[slip]
    verdict = check_kv_cache_bytes(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message.replace("\n", " "), verdict.message


def test_units_are_named_before_rounding():
    """A GiB figure is a fraction too, but "not GiB" is what the learner needs to hear."""
    message = check_kv_cache_bytes(KV_WRONG["GiB as a float"][0]).message
    assert "not GiB" in message and "fraction" not in message


# ----------------------------------------------------------------------------- budget

BUDGET_CORRECT = {
    "floor division": lambda M, L, h, hs, b: M // (2 * L * h * hs * b),
    "numpy": lambda M, L, h, hs, b: np.int64(M) // np.prod([2, L, h, hs, b]),
    "math.floor": lambda M, L, h, hs, b: math.floor(M / (2 * L * h * hs * b)),
    "int() of a quotient": lambda M, L, h, hs, b: int(M / (2 * L * h * hs * b)),
    "torch floor_divide": lambda M, L, h, hs, b: torch.div(
        torch.tensor(M), 2 * L * h * hs * b, rounding_mode="floor"
    ),
}

BUDGET_WRONG = {
    "rounded up": (lambda M, L, h, hs, b: -(-M // (2 * L * h * hs * b)), "Round down"),
    "K only": (lambda M, L, h, hs, b: M // (L * h * hs * b), "key AND a value"),
    "no layers": (lambda M, L, h, hs, b: M // (2 * h * hs * b), "Each layer"),
    "no bytes": (lambda M, L, h, hs, b: M // (2 * L * h * hs), "bytes per value"),
    "true division": (
        lambda M, L, h, hs, b: M / (2 * L * h * hs * b),
        "round down with //",
    ),
    "too many": (
        lambda M, L, h, hs, b: M // (2 * L * h * hs * b) + 5,
        "more bytes than the budget",
    ),
    "crashes": (lambda M, L, h, hs, b: 1 / 0, "ZeroDivisionError"),
    "a comparison": (lambda M, L, h, hs, b: M > 2 * L * h * hs * b, "is the boolean True"),
}


@pytest.mark.parametrize("form", sorted(BUDGET_CORRECT))
def test_budget_checker_accepts_every_correct_form(form):
    assert check_max_tokens(BUDGET_CORRECT[form]).status == CORRECT


@pytest.mark.parametrize("slip", sorted(BUDGET_WRONG))
def test_budget_checker_names_each_slip(slip):
    answer, hint = BUDGET_WRONG[slip]
    verdict = check_max_tokens(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message.replace("\n", " "), verdict.message


# ----------------------------------------------------------------------------- vocabulary

VOCAB_CORRECT = {
    "if/else": lambda V, d, b, tied: (1 if tied else 2) * V * d * b,
    "bool arithmetic": lambda V, d, b, tied: (2 - tied) * V * d * b,
    "np.prod": lambda V, d, b, tied: np.prod([V, d, b]) * (1 if tied else 2),
    "tensor numel": lambda V, d, b, tied: (
        torch.empty(V, d).numel() * b * (1 if tied else 2)
    ),
}

VOCAB_WRONG = {
    "always one matrix": (lambda V, d, b, tied: V * d * b, "second V x d matrix"),
    "always two": (lambda V, d, b, tied: 2 * V * d * b, "count it once"),
    "swapped": (lambda V, d, b, tied: (2 if tied else 1) * V * d * b, "swapped"),
    "no bytes": (lambda V, d, b, tied: (1 if tied else 2) * V * d, "bytes per value"),
    "MiB": (lambda V, d, b, tied: (1 if tied else 2) * V * d * b / 2**20, "not MiB"),
    "GiB": (lambda V, d, b, tied: (1 if tied else 2) * V * d * b / 2**30, "not GiB"),
    "a fraction": (
        lambda V, d, b, tied: (1 if tied else 2) * V * d * b / 7,
        "A fraction: bytes are whole numbers",
    ),
    "a tensor of two numbers": (
        lambda V, d, b, tied: torch.tensor([V * d * b, V * d * b]),
        "one number",
    ),
}


@pytest.mark.parametrize("form", sorted(VOCAB_CORRECT))
def test_vocab_checker_accepts_every_correct_form(form):
    assert check_vocab_bytes(VOCAB_CORRECT[form]).status == CORRECT


@pytest.mark.parametrize("slip", sorted(VOCAB_WRONG))
def test_vocab_checker_names_each_slip(slip):
    answer, hint = VOCAB_WRONG[slip]
    verdict = check_vocab_bytes(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message.replace("\n", " "), verdict.message


# ----------------------------------------------------------------------------- all checkers


@pytest.mark.parametrize(
    "check", [check_kv_cache_bytes, check_max_tokens, check_vocab_bytes]
)
def test_stub_and_missing_answer_are_not_attempted(check):
    assert check(stub).status == NOT_ATTEMPTED
    assert check(None).status == NOT_ATTEMPTED


@pytest.mark.parametrize(
    "answers, check",
    [
        (KV_CORRECT, check_kv_cache_bytes),
        (BUDGET_CORRECT, check_max_tokens),
        (VOCAB_CORRECT, check_vocab_bytes),
    ],
)
def test_every_message_fits_88_columns(answers, check):
    wrong = {**KV_WRONG, **BUDGET_WRONG, **VOCAB_WRONG}
    for answer in [*answers.values(), *(a for a, _ in wrong.values())]:
        for line in repr(check(answer)).splitlines():  # what a notebook shows
            assert len(line) <= 88, line


@pytest.mark.parametrize("answer", [np.True_, torch.tensor(True), np.array([True])])
def test_a_boolean_in_any_form_is_named(answer):
    assert "boolean" in check_kv_cache_bytes(lambda *args: answer).message


def test_a_boolean_count_of_tokens_is_not_called_bytes():
    message = check_max_tokens(BUDGET_WRONG["a comparison"][0]).message
    assert "bytes" not in message, message
