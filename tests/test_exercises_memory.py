"""The chapter's checkers accept the reference answers and explain the usual slips."""

from __future__ import annotations

import pytest

from embedlib.exercises.core import CORRECT, INCORRECT, NOT_ATTEMPTED
from embedlib.exercises.memory import check_kv_cache_bytes, check_max_tokens, check_vocab_bytes


def kv_reference(n_layers, n_kv_heads, head_dim, seq_len, b, batch):
    return 2 * n_layers * n_kv_heads * head_dim * seq_len * b * batch


def max_tokens_reference(budget, n_layers, n_kv_heads, head_dim, b):
    return budget // (2 * n_layers * n_kv_heads * head_dim * b)


def vocab_reference(vocab, d, b, tied):
    return (1 if tied else 2) * vocab * d * b


def stub(*args):
    raise NotImplementedError


@pytest.mark.parametrize("check, reference", [(check_kv_cache_bytes, kv_reference),
                                              (check_max_tokens, max_tokens_reference),
                                              (check_vocab_bytes, vocab_reference)])
def test_reference_is_correct_and_stub_not_attempted(check, reference):
    assert check(reference).status == CORRECT
    assert check(stub).status == NOT_ATTEMPTED
    assert check(None).status == NOT_ATTEMPTED


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda L, h, hs, T, b, B: L * h * hs * T * b * B, "a factor 2"),
        (lambda L, h, hs, T, b, B: 2 * h * hs * T * b * B, "Count every layer"),
        (lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b, "Multiply by the batch"),
        (lambda L, h, hs, T, b, B: 2 * L * h * hs * T * B, "bytes per value"),
        (lambda L, h, hs, T, b, B: 2 * L * h * hs * T * b * B / 2**30, "a fraction"),
        (lambda L, h, hs, T, b, B: round(2 * L * h * hs * T * b * B / 2**30), "Return bytes, not GiB."),
        (lambda L, h, hs, T, b, B: 2 * L * 32 * hs * T * b * B, "expected 17,179,869,184."),
        (lambda L, h, hs, T, b, B: None, "forget `return`"),
        (lambda L, h, hs, T, b, B: "16 GiB", "should be an int"),
    ],
)
def test_kv_checker_names_the_slip(answer, hint):
    verdict = check_kv_cache_bytes(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda M, L, h, hs, b: -(-M // (2 * L * h * hs * b)), "Round down"),
        (lambda M, L, h, hs, b: M // (L * h * hs * b), "key AND a value"),
        (lambda M, L, h, hs, b: M // (2 * h * hs * b), "Each layer"),
        (lambda M, L, h, hs, b: M / (2 * L * h * hs * b), "a fraction"),
        (lambda M, L, h, hs, b: M // (2 * L * h * hs * b) + 5, "more bytes than the budget"),
        (lambda M, L, h, hs, b: 1 / 0, "ZeroDivisionError"),
    ],
)
def test_budget_checker_names_the_slip(answer, hint):
    verdict = check_max_tokens(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message


@pytest.mark.parametrize(
    "answer, hint",
    [
        (lambda V, d, b, tied: V * d * b, "second V x d matrix"),
        (lambda V, d, b, tied: 2 * V * d * b, "count it once"),
        (lambda V, d, b, tied: (1 if tied else 2) * V * d, "bytes per value"),
    ],
)
def test_vocab_checker_names_the_slip(answer, hint):
    verdict = check_vocab_bytes(answer)
    assert verdict.status == INCORRECT
    assert hint in verdict.message


def test_swapped_tied_flag_is_named():
    verdict = check_vocab_bytes(lambda V, d, b, tied: (2 if tied else 1) * V * d * b)
    assert "swapped" in verdict.message
