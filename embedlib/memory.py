"""What the width d costs: memory per token, compute per head, table size and the KV cache.

The equations (one token, one sequence; ``b`` bytes per value of the chosen dtype):

* embedding table:          ``V * d * b`` bytes (:func:`embedlib.lookup.table_bytes`; an
  untied output projection is a second matrix of that size);
* one hidden state:         ``d * b`` bytes per token per layer boundary;
* KV cache per token:       ``2 * n_layers * n_kv_heads * head_dim * b`` bytes
  (the 2: one key and one value vector per layer and KV head);
* KV cache:                 per-token bytes ``* seq_len * batch``;
* attention, one head:      ``4 * head_dim * n_keys`` FLOPs per query token
  (``q . k`` against every key, then the weighted sum of the values; 2 FLOPs per
  multiply-add, the convention of :class:`torch.utils.flop_counter.FlopCounterMode`).

Grouped-query attention (GQA, Ainslie et al. 2023, arXiv:2305.13245) lets several query
heads share one key/value head: ``n_kv_heads < n_heads`` shrinks the cache by
``n_heads / n_kv_heads`` but leaves the attention FLOPs unchanged, since every query head
still scores every key. Multi-query attention (Shazeer 2019, arXiv:1911.02150) is the
extreme ``n_kv_heads = 1``; plain multi-head attention (MHA) is ``n_kv_heads = n_heads``.

Functions taking a :class:`~embedlib.shapes.ModelShape` read the sizes from its record in
:data:`~embedlib.shapes.PUBLISHED_SHAPES`, so every figure traces back to a config file.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import torch

from .lookup import table_bytes
from .shapes import ModelShape, dtype_bytes

KIB = 2**10
MIB = 2**20
GIB = 2**30


def _positive(**sizes: int) -> list[int]:
    """The sizes as Python ints; ValueError naming the first that is not a positive
    integer.

    Any integer type is accepted (``int``, NumPy integers such as ``np.int64``, 0-d
    integer tensors: whatever ``operator.index`` takes); booleans and floats are not.
    """
    counts = []
    for name, value in sizes.items():
        try:
            count = None if isinstance(value, bool) else operator.index(value)
        except TypeError:
            count = None
        if count is None or count <= 0:
            raise ValueError(
                f"{name} must be a positive integer, got {value!r}; pass a count such as 8 or 4096"
            )
        counts.append(int(count))
    return counts


def kv_bytes_per_token(
    n_layers: int, n_kv_heads: int, head_dim: int, dtype: torch.dtype | str
) -> int:
    """Bytes the KV cache grows by for each token: ``2 * n_layers * n_kv_heads * head_dim * b``."""
    n_layers, n_kv_heads, head_dim = _positive(
        n_layers=n_layers, n_kv_heads=n_kv_heads, head_dim=head_dim
    )
    return 2 * n_layers * n_kv_heads * head_dim * dtype_bytes(dtype)


def kv_cache_bytes(
    n_layers: int,
    n_kv_heads: int,
    head_dim: int,
    seq_len: int,
    dtype: torch.dtype | str,
    batch: int = 1,
) -> int:
    """Bytes of the keys and values a decoder keeps for ``batch`` sequences of ``seq_len`` tokens.

    ``2 * n_layers * n_kv_heads * head_dim * seq_len * batch * b``: per layer, one key and
    one value tensor of shape ``(batch, n_kv_heads, seq_len, head_dim)``, the layout of
    Hugging Face's ``DynamicCache``.

    Example (LLaMA 3 8B, fp16, 8,192 tokens): ``kv_cache_bytes(32, 8, 128, 8192, "fp16")``
    is 1 GiB.
    """
    seq_len, batch = _positive(seq_len=seq_len, batch=batch)
    return kv_bytes_per_token(n_layers, n_kv_heads, head_dim, dtype) * seq_len * batch


def hidden_bytes_per_token(d_model: int, dtype: torch.dtype | str) -> int:
    """Bytes of one token's hidden vector (the residual stream between layers): ``d * b``."""
    (d_model,) = _positive(d_model=d_model)
    return d_model * dtype_bytes(dtype)


def attention_flops(n_heads: int, head_dim: int, n_queries: int, n_keys: int) -> int:
    """FLOPs of the two attention matmuls, ``4 * n_heads * head_dim * n_queries * n_keys``.

    Scores ``Q K^T`` and the weighted values ``P V`` each cost ``n_queries * n_keys *
    head_dim`` multiply-adds per head (2 FLOPs each). Softmax and masking are not counted
    (nor does ``FlopCounterMode`` count them). Without a causal mask's savings.
    """
    n_heads, head_dim, n_queries, n_keys = _positive(
        n_heads=n_heads, head_dim=head_dim, n_queries=n_queries, n_keys=n_keys
    )
    return 4 * n_heads * head_dim * n_queries * n_keys


def _kv_heads(shape: ModelShape, kv_heads: int | None) -> int:
    if kv_heads is None:
        return shape.n_kv_heads
    if (
        isinstance(kv_heads, bool)
        or not isinstance(kv_heads, int)
        or not 0 < kv_heads <= shape.n_heads
    ):
        raise ValueError(
            f"kv_heads={kv_heads!r} for {shape.name}: use 1 to {shape.n_heads} (n_heads), or None for the published {shape.n_kv_heads}"
        )
    if shape.n_heads % kv_heads:
        raise ValueError(
            f"kv_heads={kv_heads} does not divide {shape.name}'s {shape.n_heads} query heads; use a divisor of {shape.n_heads}"
        )
    return kv_heads


def shape_kv_bytes_per_token(
    shape: ModelShape, dtype: torch.dtype | str, kv_heads: int | None = None
) -> int:
    """KV-cache bytes per token of a published model; ``kv_heads=shape.n_heads`` asks "as if MHA"."""
    return kv_bytes_per_token(
        shape.n_layers, _kv_heads(shape, kv_heads), shape.head_dim, dtype
    )


def shape_kv_cache_bytes(
    shape: ModelShape,
    seq_len: int,
    dtype: torch.dtype | str,
    batch: int = 1,
    kv_heads: int | None = None,
) -> int:
    """KV-cache bytes of a published model at ``seq_len`` tokens (see :func:`kv_cache_bytes`)."""
    return kv_cache_bytes(
        shape.n_layers,
        _kv_heads(shape, kv_heads),
        shape.head_dim,
        seq_len,
        dtype,
        batch,
    )


def max_tokens_in_budget(
    shape: ModelShape,
    budget_bytes: int,
    dtype: torch.dtype | str,
    batch: int = 1,
    kv_heads: int | None = None,
) -> int:
    """The most tokens per sequence whose KV cache fits in ``budget_bytes`` (rounded down)."""
    budget_bytes, batch = _positive(budget_bytes=budget_bytes, batch=batch)
    return budget_bytes // (shape_kv_bytes_per_token(shape, dtype, kv_heads) * batch)


def returned_cache(output):
    """The key/value cache in a model's output: ``cache`` (recent transformers) or
    ``past_key_values`` (earlier versions)."""
    if "cache" in output:
        return output["cache"]
    if "past_key_values" in output:
        return output["past_key_values"]
    raise ValueError(
        "the output holds no key/value cache; call the model with use_cache=True"
    )


def decode_step(model, output, next_ids: torch.Tensor):
    """Run ``model`` on ``next_ids`` (``(batch, k)``) after ``output``, reusing its cache.

    This is one step of generation: only the new tokens' keys and values are computed
    and appended to the cache. The keyword is ``cache`` in recent transformers and
    ``past_key_values`` before; the model's signature says which.
    """
    import inspect

    keyword = (
        "cache"
        if "cache" in inspect.signature(model.forward).parameters
        else "past_key_values"
    )
    return model(next_ids, use_cache=True, **{keyword: returned_cache(output)})


def measured_kv_cache_bytes(output) -> int:
    """Bytes of the key/value cache a Hugging Face model returned (``use_cache=True``).

    Reads the output's ``cache`` (transformers >= 5) or ``past_key_values`` (earlier), in any
    of its layouts: ``DynamicCache`` with ``.layers``, older ``DynamicCache`` with
    ``key_cache``/``value_cache`` lists, or a tuple of ``(key, value)`` per layer.
    """
    cache = returned_cache(output)
    if hasattr(cache, "layers"):
        pairs = [(layer.keys, layer.values) for layer in cache.layers]
    elif hasattr(cache, "key_cache"):
        pairs = list(zip(cache.key_cache, cache.value_cache))
    else:
        pairs = list(cache)
    return sum(t.numel() * t.element_size() for pair in pairs for t in pair)


@dataclass(frozen=True)
class Costs:
    """What one published model's sizes cost at a given context (bytes and FLOPs).

    ``table_bytes`` is the input table alone; ``output_projection_bytes`` is the separate
    output matrix of an untied model (0 when tied).
    """

    name: str
    d_model: int
    head_dim: int
    table_bytes: int
    output_projection_bytes: int
    hidden_bytes_per_token: int
    kv_bytes_per_token: int
    kv_cache_bytes: int
    attention_flops_per_token: int
    attention_flops_per_token_per_head: int


def costs(shape: ModelShape, seq_len: int, dtype: torch.dtype | str = "fp16") -> Costs:
    """The costs of :class:`ModelShape` ``shape`` at ``seq_len`` tokens of context, in ``dtype``.

    ``attention_flops_per_token`` is what the last token of the context spends in attention
    across all layers and heads (it attends to ``seq_len`` keys).
    """
    per_head = attention_flops(1, shape.head_dim, 1, seq_len)
    return Costs(
        name=shape.name,
        d_model=shape.d_model,
        head_dim=shape.head_dim,
        table_bytes=table_bytes(shape.vocab_size, shape.d_model, dtype),
        output_projection_bytes=0
        if shape.tied_embeddings
        else table_bytes(shape.vocab_size, shape.d_model, dtype),
        hidden_bytes_per_token=hidden_bytes_per_token(shape.d_model, dtype),
        kv_bytes_per_token=shape_kv_bytes_per_token(shape, dtype),
        kv_cache_bytes=shape_kv_cache_bytes(shape, seq_len, dtype),
        attention_flops_per_token=per_head * shape.n_heads * shape.n_layers,
        attention_flops_per_token_per_head=per_head,
    )
