"""Checkers for the chapter "Why it matters": KV-cache and table arithmetic.

Answers are whole numbers of bytes or tokens, so they are compared exactly; a wrong answer
is tested against the usual slips (K or V forgotten, layers forgotten, GB for GiB, query
heads for KV heads, rounding up) to say which one it was.
"""

from __future__ import annotations

from typing import Any, Callable

from ..lookup import table_bytes
from ..memory import kv_cache_bytes
from .core import LearnerError, checker, run_learner

# (n_layers, n_kv_heads, head_dim, seq_len, bytes_per_value, batch): LLaMA 3 8B, GPT-2 small,
# MiniLM, and a made-up shape whose sizes all differ, so swapped arguments show.
_KV_CASES = (
    (32, 8, 128, 131072, 2, 1),
    (12, 12, 64, 1024, 4, 1),
    (6, 12, 32, 512, 2, 8),
    (5, 3, 7, 11, 1, 2),
)

# (budget_bytes, n_layers, n_kv_heads, head_dim, bytes_per_value)
_BUDGET_CASES = (
    (24 * 2**30, 32, 8, 128, 2),
    (10**9, 12, 12, 64, 4),
    (1000, 2, 1, 3, 2),
    (10, 1, 1, 2, 4),
)

# (vocab_size, d_model, bytes_per_value, tied)
_VOCAB_CASES = (
    (128256, 4096, 2, False),
    (50257, 768, 4, True),
    (30522, 384, 4, True),
    (1000, 64, 1, False),
)


_DTYPES = {1: "int8", 2: "fp16", 4: "fp32"}


def _as_int(value: Any, name: str) -> int:
    if isinstance(value, bool):
        raise LearnerError(f"{name} should be a number of bytes or tokens, got the boolean {value}.")
    if hasattr(value, "item"):  # a tensor or numpy scalar
        value = value.item()
    if isinstance(value, float):
        if value != int(value):
            raise LearnerError(f"{name} is {value}, a fraction: bytes and tokens are whole numbers (use // or int()).")
        value = int(value)
    if not isinstance(value, int):
        raise LearnerError(f"{name} should be an int, got {type(value).__name__} {value!r}.")
    return value


def _answers(fn: Callable[..., Any], cases: tuple[tuple, ...], label: str) -> list[int]:
    return [_as_int(run_learner(fn, *case), f"{label}{case}") for case in cases]


def _judge(got: list[int], cases: tuple[tuple, ...], expected: Callable[..., int],
           slips: dict[str, Callable[..., int]], label: str, too_big: str = "") -> None:
    """Raise LearnerError at the first wrong case, naming a slip that explains every case.

    ``too_big`` is the hint when no slip matches and the first wrong answer is too large.
    """
    want = [expected(*case) for case in cases]
    if got == want:
        return
    first = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    hint = next((h for h, slip in slips.items() if got == [slip(*case) for case in cases]), "")
    if not hint and got[first] > want[first]:
        hint = too_big
    message = f"{label}{cases[first]} returned {got[first]:,}, expected {want[first]:,}. {hint}"
    raise LearnerError(message.rstrip())


def _kv(n_layers: int, n_kv_heads: int, head_dim: int, seq_len: int, bytes_per_value: int, batch: int) -> int:
    return kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, _DTYPES[bytes_per_value], batch)


def _max_tokens(budget: int, n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int) -> int:
    return budget // _kv(n_layers, n_kv_heads, head_dim, 1, bytes_per_value, 1)


def _vocab(vocab: int, d: int, bytes_per_value: int, tied: bool) -> int:
    return (1 if tied else 2) * table_bytes(vocab, d, _DTYPES[bytes_per_value])


@checker("KV-cache size")
def check_kv_cache_bytes(kv_cache_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(kv_cache_bytes_fn, _KV_CASES, "kv_cache_bytes")
    _judge(got, _KV_CASES, _kv, {
        "Count both the key and the value vector (a factor 2).": lambda *c: _kv(*c) // 2,
        "Count every layer: each one keeps its own keys and values.": lambda *c: _kv(*c) // c[0],
        "Multiply by the batch: each sequence has its own cache.": lambda *c: _kv(*c) // c[5],
        "Multiply by the bytes per value: the answer is in bytes, not values.": lambda *c: _kv(*c) // c[4],
        "Return bytes, not GiB.": lambda *c: round(_kv(*c) / 2**30),
        "Return bytes, not GB.": lambda *c: round(_kv(*c) / 1e9),
    }, "kv_cache_bytes")
    return "All four shapes agree with embedlib.memory.kv_cache_bytes, LLaMA 3 8B at 131,072 tokens included."


@checker("longest context in a budget")
def check_max_tokens(max_tokens_fn: Callable[..., Any]) -> str:
    got = _answers(max_tokens_fn, _BUDGET_CASES, "max_tokens")
    _judge(got, _BUDGET_CASES, _max_tokens, {
        "Round down: one more token would not fit in the budget.": lambda M, *c: -(-M // _kv(*c[:3], 1, c[3], 1)),
        "Each token stores a key AND a value (a factor 2).": lambda M, *c: M // (_kv(*c[:3], 1, c[3], 1) // 2),
        "Each layer stores its own keys and values.": lambda M, *c: M // (_kv(*c[:3], 1, c[3], 1) // c[0]),
    }, "max_tokens", too_big="That many tokens need more bytes than the budget holds.")
    return "All four budgets agree with embedlib.memory.max_tokens_in_budget."


@checker("vocabulary matrices")
def check_vocab_bytes(vocab_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(vocab_bytes_fn, _VOCAB_CASES, "vocab_bytes")
    _judge(got, _VOCAB_CASES, _vocab, {
        "An untied model has a second V x d matrix, the output projection.": lambda V, d, b, t: _vocab(V, d, b, True),
        "A tied model shares one matrix between input and output: count it once.": lambda V, d, b, t: _vocab(V, d, b, False),
        "Tied and untied are swapped: tied means one shared matrix.": lambda V, d, b, t: _vocab(V, d, b, not t),
        "Multiply by the bytes per value.": lambda V, d, b, t: _vocab(V, d, b, t) // b,
    }, "vocab_bytes")
    return "Tied and untied, all four agree with embedlib.lookup.table_bytes."
