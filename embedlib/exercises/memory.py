"""Checkers for the chapter "Why it matters": KV-cache and table arithmetic.

Answers are whole numbers of bytes or tokens. Any form of a number is accepted (``int``,
a NumPy integer such as ``np.prod``'s, a float with no fractional part, a one-element tensor
or array). A wrong answer is compared, in this order, with the usual slips (K or V
forgotten, layers forgotten, GiB or GB instead of bytes, rounding up, ...) to name the one it
was; only then is a fractional answer told to round, and a too-large one that it does not fit.
"""

from __future__ import annotations

import math
import numbers
import textwrap
from typing import Any, Callable

from ..lookup import table_bytes
from ..memory import kv_cache_bytes
from .core import CORRECT, INCORRECT, LearnerError, checker, run_learner

# (n_layers, n_kv_heads, head_dim, seq_len, bytes_per_value, batch): LLaMA 3 8B, GPT-2 small,
# MiniLM, and a made-up shape whose sizes all differ, so swapped arguments show.
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
_WIDTH = 88


def _wrap(exercise: str, text: str, status: str = INCORRECT) -> str:
    """``text`` wrapped so that the printed verdict, its prefix included, fits 88 columns."""
    prefix = f"✘ {exercise}: {status}. "
    lines = textwrap.wrap(prefix + text, _WIDTH, break_on_hyphens=False)
    return "\n".join(lines)[len(prefix):]


def _fmt(value: int | float) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.1f}"


def as_number(value: Any, name: str) -> int | float:
    """The learner's answer as an ``int`` (or a ``float`` if it has a fractional part).

    Accepts Python and NumPy numbers, 0-d or one-element tensors and arrays; rejects
    booleans, text, complex numbers and containers of several numbers with a hint.
    """
    if isinstance(value, bool):
        raise LearnerError(f"{name} returned the boolean {value}; return a number of bytes or tokens.")
    if isinstance(value, (str, bytes)):
        raise LearnerError(f"{name} returned the text {value!r}; return a plain number, e.g. 17179869184.")
    size = getattr(value, "numel", None) or getattr(value, "size", None)
    size = size() if callable(size) else size
    if isinstance(size, int) and size != 1:
        shape = tuple(getattr(value, "shape", ()))
        raise LearnerError(f"{name} returned {size} numbers (shape {shape}); return one number.")
    if hasattr(value, "item"):  # a NumPy scalar (np.int64, ...), a one-element tensor or array
        value = value.item()
    if isinstance(value, (list, tuple, set, dict)):
        raise LearnerError(f"{name} returned a {type(value).__name__}; return one number.")
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        if not math.isfinite(value):
            raise LearnerError(f"{name} returned {value}: check for a division by zero.")
        return int(value) if value.is_integer() else value
    if isinstance(value, numbers.Complex):
        raise LearnerError(f"{name} returned the complex number {value}; return a real count.")
    raise LearnerError(f"{name} should return a number, got {type(value).__name__} {value!r}.")


def _answers(fn: Callable[..., Any], cases: tuple[tuple, ...], label: str,
             exercise: str) -> list[int | float]:
    try:
        return [as_number(run_learner(fn, *case), f"{label}{case}") for case in cases]
    except LearnerError as error:
        raise LearnerError(_wrap(exercise, str(error))) from error


def _same(got: int | float, slip: int | float) -> bool:
    """An exact slip (an ``int``) must be hit exactly; a unit slip (a ``float``, e.g. GiB)
    matches the value itself, or it rounded or rounded down."""
    if isinstance(slip, int):
        return got == slip
    return got in (math.floor(slip), round(slip)) or math.isclose(got, slip, rel_tol=1e-6)


def _judge(got: list[int | float], cases: tuple[tuple, ...], expected: Callable[..., int],
           slips: dict[str, Callable[..., int | float]], label: str, exercise: str,
           fraction: str, too_big: str = "") -> None:
    """Raise LearnerError at the first wrong case, naming the slip that explains every case.

    Order: a named slip; else a fraction (``fraction``, the rounding hint); else, for a
    too-large answer, ``too_big``; else only what was expected.
    """
    want = [expected(*case) for case in cases]
    if got == want:
        return
    first = next(i for i, (g, w) in enumerate(zip(got, want)) if g != w)
    hint = next(
        (h for h, slip in slips.items() if all(_same(g, slip(*c)) for g, c in zip(got, cases))), ""
    )
    if not hint and isinstance(got[first], float):
        hint = fraction
    if not hint and got[first] > want[first]:
        hint = too_big
    message = f"{label}{cases[first]} returned {_fmt(got[first])}, expected {_fmt(want[first])}. {hint}"
    raise LearnerError(_wrap(exercise, message.rstrip()))


def _kv(n_layers: int, n_kv_heads: int, head_dim: int, seq_len: int, bytes_per_value: int, batch: int) -> int:
    return kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, _DTYPES[bytes_per_value], batch)


def _per_token(n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int) -> int:
    return _kv(n_layers, n_kv_heads, head_dim, 1, bytes_per_value, 1)


def _max_tokens(budget: int, n_layers: int, n_kv_heads: int, head_dim: int, bytes_per_value: int) -> int:
    return budget // _per_token(n_layers, n_kv_heads, head_dim, bytes_per_value)


def _vocab(vocab: int, d: int, bytes_per_value: int, tied: bool) -> int:
    return (1 if tied else 2) * table_bytes(vocab, d, _DTYPES[bytes_per_value])


_KV = "KV-cache size"


@checker(_KV)
def check_kv_cache_bytes(kv_cache_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(kv_cache_bytes_fn, _KV_CASES, "kv_cache_bytes", _KV)
    _judge(got, _KV_CASES, _kv, {
        "Count both the key and the value vector (a factor 2).": lambda *c: _kv(*c) // 2,
        "Count every layer: each one keeps its own keys and values.": lambda *c: _kv(*c) // c[0],
        "Multiply by the batch: each sequence has its own cache.": lambda *c: _kv(*c) // c[5],
        "Multiply by the bytes per value: the answer is in bytes, not values.":
            lambda *c: _kv(*c) // c[4],
        "Return bytes, not GiB (1 GiB = 2**30 bytes).": lambda *c: _kv(*c) / 2**30,
        "Return bytes, not GB (1 GB = 10**9 bytes).": lambda *c: _kv(*c) / 1e9,
        "Return bytes, not MiB (1 MiB = 2**20 bytes).": lambda *c: _kv(*c) / 2**20,
    }, "kv_cache_bytes", _KV,
        fraction="A fraction: bytes are whole numbers; keep every factor an integer.")
    return _wrap(_KV, "All four shapes agree with embedlib.memory.kv_cache_bytes, "
                      "LLaMA 3 8B at 131,072 tokens included.", CORRECT)


_BUDGET = "longest context in a budget"


@checker(_BUDGET)
def check_max_tokens(max_tokens_fn: Callable[..., Any]) -> str:
    got = _answers(max_tokens_fn, _BUDGET_CASES, "max_tokens", _BUDGET)
    _judge(got, _BUDGET_CASES, _max_tokens, {
        "Round down: one more token would not fit in the budget.":
            lambda M, *c: -(-M // _per_token(*c)),
        "Each token stores a key AND a value (a factor 2).":
            lambda M, *c: M // (_per_token(*c) // 2),
        "Each layer stores its own keys and values.":
            lambda M, *c: M // (_per_token(*c) // c[0]),
        "Divide by the bytes per value too: the budget is in bytes.":
            lambda M, *c: M // (_per_token(*c) // c[3]),
    }, "max_tokens", _BUDGET,
        fraction="A fraction of a token: round down with // (a partial token does not fit).",
        too_big="That many tokens need more bytes than the budget holds.")
    return _wrap(_BUDGET, "All four budgets agree with embedlib.memory.max_tokens_in_budget.",
                 CORRECT)


_VOCAB = "vocabulary matrices"


@checker(_VOCAB)
def check_vocab_bytes(vocab_bytes_fn: Callable[..., Any]) -> str:
    got = _answers(vocab_bytes_fn, _VOCAB_CASES, "vocab_bytes", _VOCAB)
    _judge(got, _VOCAB_CASES, _vocab, {
        "An untied model has a second V x d matrix, the output projection.":
            lambda V, d, b, t: _vocab(V, d, b, True),
        "A tied model shares one matrix between input and output: count it once.":
            lambda V, d, b, t: _vocab(V, d, b, False),
        "Tied and untied are swapped: tied means one shared matrix.":
            lambda V, d, b, t: _vocab(V, d, b, not t),
        "Multiply by the bytes per value.": lambda V, d, b, t: _vocab(V, d, b, t) // b,
        "Return bytes, not MiB (1 MiB = 2**20 bytes).": lambda V, d, b, t: _vocab(V, d, b, t) / 2**20,
        "Return bytes, not GiB (1 GiB = 2**30 bytes).": lambda V, d, b, t: _vocab(V, d, b, t) / 2**30,
    }, "vocab_bytes", _VOCAB,
        fraction="A fraction: bytes are whole numbers; keep every factor an integer.")
    return _wrap(_VOCAB, "Tied and untied, all four agree with embedlib.lookup.table_bytes.",
                 CORRECT)
