"""Checkers for the chapter "Why it matters": KV-cache and table arithmetic.

Answers are whole numbers of bytes or tokens. Any form of a number is accepted (``int``,
a NumPy integer such as ``np.prod``'s, a float with no fractional part, a one-element
tensor or array: the shared :func:`embedlib.exercises.core.as_count` reads them). A wrong
answer is compared, in this order, with the usual slips (K or V forgotten, layers
forgotten, GiB or GB instead of bytes, rounding up, ...) to name the one it was; only then
is a fractional answer told to round, and a too-large one that it does not fit.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ..lookup import table_bytes
from ..memory import kv_cache_bytes
from .core import LearnerError, as_count, checker, run_learner

# (n_layers, n_kv_heads, head_dim, seq_len, bytes_per_value, batch): LLaMA 3 8B, GPT-2
# small, MiniLM, and a made-up shape whose sizes all differ, so swapped arguments show.
_KV_CASES = (
    (32, 8, 128, 131072, 2, 1),
    (12, 12, 64, 1024, 4, 1),
    (6, 12, 32, 512, 2, 8),
    (5, 3, 7, 11, 1, 2),
)

# (budget_bytes, n_layers, n_kv_heads, head_dim, bytes_per_value); none divides evenly
# except the first, so rounding slips show.
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


def _fmt(value: int | float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.1f}"


def _answers(fn: Callable[..., Any], cases: tuple[tuple, ...], label: str) -> list:
    return [as_count(run_learner(fn, *case), f"{label}{case}") for case in cases]


def _same(got: int | float, slip: int | float) -> bool:
    """An exact slip (an ``int``) must be hit exactly; a unit slip (a ``float``, such as
    a size in GiB) matches the value itself, or it rounded, or it rounded down."""
    if isinstance(slip, int):
        return got == slip
    return got in (math.floor(slip), round(slip)) or math.isclose(
        got, slip, rel_tol=1e-6
    )


Slip = tuple[Callable[..., int | float], str]  # (the wrong answer for a case, the hint)


def _judge(
    got: list[int | float],
    cases: tuple[tuple, ...],
    expected: Callable[..., int],
    slips: list[Slip],
    label: str,
    fraction: str,
    too_big: str = "",
) -> None:
    """Raise LearnerError at the first wrong case, naming a slip that explains them all.

    Order: a named slip; else a fraction (``fraction``, the rounding hint); else, for a
    too-large answer, ``too_big``; else only what was expected.
    """
    want = [expected(*case) for case in cases]
    if got == want:
        return
    first = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    explains = (
        h for slip, h in slips if all(_same(g, slip(*c)) for g, c in zip(got, cases))
    )
    hint = next(explains, "")
    if not hint and isinstance(got[first], float):
        hint = fraction
    if not hint and got[first] > want[first]:
        hint = too_big
    returned, wanted = _fmt(got[first]), _fmt(want[first])
    message = f"{label}{cases[first]} returned {returned}, expected {wanted}. {hint}"
    raise LearnerError(message.rstrip())


def _kv(
    layers: int, kv_heads: int, head_dim: int, seq_len: int, b: int, batch: int
) -> int:
    return kv_cache_bytes(layers, kv_heads, head_dim, seq_len, _DTYPES[b], batch)


def _per_token(layers: int, kv_heads: int, head_dim: int, b: int) -> int:
    return _kv(layers, kv_heads, head_dim, 1, b, 1)


def _max_tokens(budget: int, layers: int, kv_heads: int, head_dim: int, b: int) -> int:
    return budget // _per_token(layers, kv_heads, head_dim, b)


def _vocab(vocab: int, d: int, b: int, tied: bool) -> int:
    return (1 if tied else 2) * table_bytes(vocab, d, _DTYPES[b])


_WHOLE_BYTES = "A fraction: bytes are whole numbers; keep every factor an integer."
_WHOLE_TOKENS = "A fraction of a token: round down with // (a part-token does not fit)."

_KV_SLIPS: list[Slip] = [
    (lambda *c: _kv(*c) // 2, "Count both the key and the value vector (a factor 2)."),
    (
        lambda *c: _kv(*c) // c[0],
        "Count every layer: each one keeps its own keys and values.",
    ),
    (
        lambda *c: _kv(*c) // c[5],
        "Multiply by the batch: each sequence has its own cache.",
    ),
    (
        lambda *c: _kv(*c) // c[4],
        "Multiply by the bytes per value: the answer is in bytes.",
    ),
    (lambda *c: _kv(*c) / 2**30, "Return bytes, not GiB (1 GiB = 2**30 bytes)."),
    (lambda *c: _kv(*c) / 1e9, "Return bytes, not GB (1 GB = 10**9 bytes)."),
    (lambda *c: _kv(*c) / 2**20, "Return bytes, not MiB (1 MiB = 2**20 bytes)."),
]

_BUDGET_SLIPS: list[Slip] = [
    (
        lambda M, *c: -(-M // _per_token(*c)),
        "Round down: one more token would not fit.",
    ),
    (
        lambda M, *c: M // (_per_token(*c) // 2),
        "Each token stores a key AND a value (x 2).",
    ),
    (
        lambda M, *c: M // (_per_token(*c) // c[0]),
        "Each layer stores its own keys and values.",
    ),
    (lambda M, *c: M // (_per_token(*c) // c[3]), "Divide by the bytes per value too."),
]

_VOCAB_SLIPS: list[Slip] = [
    (
        lambda V, d, b, t: _vocab(V, d, b, True),
        "An untied model has a second V x d matrix.",
    ),
    (
        lambda V, d, b, t: _vocab(V, d, b, False),
        "A tied model has one matrix: count it once.",
    ),
    (
        lambda V, d, b, t: _vocab(V, d, b, not t),
        "Tied and untied are swapped: tied = one.",
    ),
    (lambda V, d, b, t: _vocab(V, d, b, t) // b, "Multiply by the bytes per value."),
    (
        lambda V, d, b, t: _vocab(V, d, b, t) / 2**20,
        "Return bytes, not MiB (2**20 bytes).",
    ),
    (
        lambda V, d, b, t: _vocab(V, d, b, t) / 2**30,
        "Return bytes, not GiB (2**30 bytes).",
    ),
]


@checker("KV-cache size")
def check_kv_cache_bytes(kv_cache_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(kv_cache_bytes_fn, _KV_CASES, "kv_cache_bytes")
    _judge(got, _KV_CASES, _kv, _KV_SLIPS, "kv_cache_bytes", fraction=_WHOLE_BYTES)
    return (
        "All four shapes agree with embedlib.memory.kv_cache_bytes, LLaMA 3 8B at "
        "131,072 tokens included."
    )


@checker("longest context in a budget")
def check_max_tokens(max_tokens_fn: Callable[..., Any]) -> str:
    got = _answers(max_tokens_fn, _BUDGET_CASES, "max_tokens")
    _judge(
        got, _BUDGET_CASES, _max_tokens, _BUDGET_SLIPS, "max_tokens",
        fraction=_WHOLE_TOKENS,
        too_big="That many tokens need more bytes than the budget holds.",
    )
    return "All four budgets agree with embedlib.memory.max_tokens_in_budget."


@checker("vocabulary matrices")
def check_vocab_bytes(vocab_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(vocab_bytes_fn, _VOCAB_CASES, "vocab_bytes")
    _judge(
        got, _VOCAB_CASES, _vocab, _VOCAB_SLIPS, "vocab_bytes", fraction=_WHOLE_BYTES
    )
    return "Tied and untied, all four agree with embedlib.lookup.table_bytes."
