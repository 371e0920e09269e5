"""The lookup chapter's functions against slow, obviously correct versions and torch's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from embedlib.lookup import (
    LookupLM,
    expected_rare_share,
    head_dim,
    lookup,
    lookup_costs,
    one_hot_lookup,
    parameter_count,
    table_bytes,
    touched_rows,
    weights_are_tied,
    zipf_probabilities,
    zipf_token_stream,
)
from embedlib.shapes import PUBLISHED_SHAPES


def loop_lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """One row at a time, by hand."""
    flat = [table[int(i)].clone() for i in ids.flatten()]
    return torch.stack(flat).reshape(*ids.shape, table.shape[1])


ID_SHAPES = [(1,), (7,), (3, 5), (2, 3, 4)]


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("vocab_size, dim", [(1, 1), (10, 3), (300, 16)])
def test_lookup_matches_a_loop_and_nn_embedding(shape, vocab_size, dim):
    embedding = nn.Embedding(vocab_size, dim)
    ids = torch.randint(0, vocab_size, shape)
    expected = loop_lookup(embedding.weight.detach(), ids)
    assert torch.equal(lookup(embedding.weight.detach(), ids), expected)
    assert torch.equal(embedding(ids).detach(), expected)


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_one_hot_product_equals_the_row_read_exactly(shape, dtype):
    table = torch.randn(50, 8).to(dtype)
    ids = torch.randint(0, 50, shape)
    got = one_hot_lookup(table, ids)
    assert got.shape == (*shape, 8) and got.dtype == dtype
    assert torch.equal(got, loop_lookup(table, ids))


@pytest.mark.parametrize("ids, match", [
    (torch.tensor([0, 10]), r"token id 10 is out of range for a table of 10 rows; valid ids are 0 to 9"),
    (torch.tensor([-1, 3]), r"token id -1 is negative; valid ids are 0 to 9"),
])
@pytest.mark.parametrize("function", [lookup, one_hot_lookup])
def test_bad_ids_raise_index_error_naming_value_and_range(function, ids, match):
    with pytest.raises(IndexError, match=match):
        function(torch.zeros(10, 2), ids)


@pytest.mark.parametrize("function", [lookup, one_hot_lookup])
def test_float_ids_and_wrong_rank_raise_value_error(function):
    with pytest.raises(ValueError, match=r"ids must be integers, got dtype torch.float32.*ids.long\(\)"):
        function(torch.zeros(10, 2), torch.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"rank 2, \[vocab_size, dim\], got shape \(10,\)"):
        function(torch.zeros(10), torch.tensor([1]))
    with pytest.raises(ValueError, match="must be a torch.Tensor of integers, got list"):
        function(torch.zeros(10, 2), [1, 2])


@pytest.mark.parametrize("vocab_size, dim, dtype, expected", [
    (128_000, 4_096, "bfloat16", 1_048_576_000),  # the seed's figure, by hand: 128000*4096*2
    (128_256, 4_096, torch.bfloat16, 1_050_673_152),
    (30_522, 384, "float32", 46_881_792),
    (50_257, 768, "fp16", 77_194_752),
    (3, 5, "int8", 15),
])
def test_table_bytes(vocab_size, dim, dtype, expected):
    assert table_bytes(vocab_size, dim, dtype) == expected


def test_table_bytes_agrees_with_a_real_tensor():
    for dtype in (torch.float32, torch.bfloat16, torch.float16, torch.int8):
        tensor = torch.zeros(37, 11, dtype=dtype)
        assert table_bytes(37, 11, dtype) == tensor.numel() * tensor.element_size()


@pytest.mark.parametrize("vocab_size, dim, dtype, error, match", [
    (10, 0, "float32", ValueError, "dim must be a positive int, got 0"),
    (-5, 8, "float32", ValueError, "vocab_size must be a positive int, got -5"),
    (10, 2.5, "float32", ValueError, r"dim must be a positive int, got 2.5 \(float\)"),
    (10, 8, "float12", ValueError, "unknown dtype 'float12'"),
])
def test_table_bytes_rejects_bad_input(vocab_size, dim, dtype, error, match):
    with pytest.raises(error, match=match):
        table_bytes(vocab_size, dim, dtype)


@pytest.mark.parametrize("name", sorted(PUBLISHED_SHAPES))
def test_head_dim_of_published_models(name):
    shape = PUBLISHED_SHAPES[name]
    assert head_dim(shape.d_model, shape.n_heads) * shape.n_heads == shape.d_model
    assert head_dim(shape.d_model, shape.n_heads) == shape.head_dim


@pytest.mark.parametrize("dim, n_heads, expected", [(768, 12, 64), (384, 12, 32), (4096, 32, 128), (7, 7, 1)])
def test_head_dim(dim, n_heads, expected):
    assert head_dim(dim, n_heads) == expected


def test_head_dim_names_both_numbers_when_not_divisible():
    with pytest.raises(ValueError, match=r"dim 384 is not divisible by n_heads 5 .*e\.g\. 380 or 385"):
        head_dim(384, 5)
    with pytest.raises(ValueError, match="n_heads must be a positive int, got 0"):
        head_dim(384, 0)


def test_head_dim_agrees_with_transformers_bert_check():
    """BERT's attention refuses the same configurations that head_dim refuses."""
    from transformers import BertConfig
    from transformers.models.bert.modeling_bert import BertSelfAttention

    with torch.device("meta"):
        BertSelfAttention(BertConfig(hidden_size=384, num_attention_heads=12))
        with pytest.raises(ValueError, match="not a multiple of the number of attention heads"):
            BertSelfAttention(BertConfig(hidden_size=384, num_attention_heads=5))


@pytest.mark.parametrize("shape", ID_SHAPES)
@pytest.mark.parametrize("padding_idx", [None, 0])
def test_touched_rows_match_a_real_backward_pass(shape, padding_idx):
    embedding = nn.Embedding(20, 4, padding_idx=padding_idx)
    ids = torch.randint(0, 20, shape)
    ids.view(-1)[0] = 0  # make sure the padding row occurs
    embedding(ids).pow(2).sum().backward()
    nonzero = (embedding.weight.grad != 0).any(dim=1).nonzero().flatten()
    assert torch.equal(touched_rows(ids, 20, padding_idx), nonzero)


def test_touched_rows_rejects_out_of_range_ids():
    with pytest.raises(IndexError, match="token id 20 is out of range"):
        touched_rows(torch.tensor([20]), 20)


def test_zipf_stream_is_reproducible_and_follows_the_law():
    a = zipf_token_stream(200_000, 100, generator=torch.Generator().manual_seed(0))
    b = zipf_token_stream(200_000, 100, generator=torch.Generator().manual_seed(0))
    assert torch.equal(a, b) and int(a.min()) >= 0 and int(a.max()) < 100
    counts = torch.bincount(a, minlength=100).double()
    # rank 1 is twice as frequent as rank 2 and ten times rank 10 under s = 1
    assert abs(counts[0] / counts[1] - 2.0) < 0.1
    assert abs(counts[0] / counts[9] - 10.0) < 0.8
    with pytest.raises(ValueError, match="exponent must be > 0, got 0"):
        zipf_token_stream(10, 10, exponent=0)


@pytest.mark.parametrize("vocab_size, dim", [(10, 4), (1000, 32)])
def test_tying_saves_exactly_one_table(vocab_size, dim):
    tied, untied = LookupLM(vocab_size, dim, tied=True), LookupLM(vocab_size, dim, tied=False)
    by_hand = vocab_size * dim + dim * dim + dim  # table + hidden layer (weight, bias)
    assert parameter_count(tied) == by_hand
    assert parameter_count(untied) == by_hand + vocab_size * dim
    assert weights_are_tied(tied) and not weights_are_tied(untied)


def test_tied_weights_stay_one_tensor_after_an_optimizer_step():
    model = LookupLM(30, 8, tied=True)
    before = model.wte.weight.detach().clone()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    logits = model(torch.tensor([[1, 2, 3]]))  # (1, 3, 30)
    torch.nn.functional.cross_entropy(logits.view(-1, 30), torch.tensor([2, 3, 4])).backward()
    optimizer.step()
    assert not torch.equal(model.wte.weight, before)  # it did move
    assert weights_are_tied(model)
    assert torch.equal(model.lm_head.weight, model.wte.weight)


def test_parameter_count_and_tying_agree_with_transformers_gpt2():
    """GPT-2 small's published size, 124,439,808 with the tied head (openai-community/gpt2)."""
    from transformers import GPT2Config, GPT2LMHeadModel

    with torch.device("meta"):
        tied = GPT2LMHeadModel(GPT2Config())
        untied = GPT2LMHeadModel(GPT2Config(tie_word_embeddings=False))
    assert parameter_count(tied) == 124_439_808
    assert parameter_count(untied) - parameter_count(tied) == 50_257 * 768
    assert weights_are_tied(tied) and not weights_are_tied(untied)


def test_a_bare_encoder_has_nothing_to_tie():
    from transformers import BertConfig, BertModel

    with torch.device("meta"):
        encoder = BertModel(BertConfig(tie_word_embeddings=True))
    assert encoder.get_output_embeddings() is None
    assert not weights_are_tied(encoder)


def test_lookup_costs_reports_each_size_and_the_product_is_slower():
    records = lookup_costs([64, 4096], dim=32, n_ids=64, repeats=2, generator=torch.Generator().manual_seed(0))
    assert [r["vocab_size"] for r in records] == [64, 4096]
    assert all(r["row_read_s"] > 0 and r["one_hot_s"] > 0 for r in records)
    # at V = 4096 the product does 4096x the work of the row read; even a noisy machine shows it
    assert records[1]["one_hot_s"] > records[1]["row_read_s"]
    with pytest.raises(ValueError, match="n_ids must be a positive int, got 0"):
        lookup_costs([10], dim=4, n_ids=0)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64])
@pytest.mark.parametrize("function", [lookup, one_hot_lookup])
def test_every_integer_dtype_is_read_as_ids(function, dtype):
    """uint8 ids are ids, not a mask: [1, 1] reads row 1 twice (plain table[ids] would
    read rows 0 and 1, the positions of the non-zero entries)."""
    table = torch.arange(8.0).reshape(4, 2)
    ids = torch.tensor([[1, 1], [3, 0]], dtype=dtype)
    assert torch.equal(function(table, ids), loop_lookup(table, ids.long()))


def test_uint8_ids_in_the_tiny_model_and_touched_rows():
    ids = torch.tensor([[2, 2, 5]], dtype=torch.uint8)
    assert torch.equal(touched_rows(ids, 10), torch.tensor([2, 5]))
    model = LookupLM(10, 4)
    assert torch.equal(model(ids), model(ids.long()))


def test_boolean_ids_are_refused():
    with pytest.raises(ValueError, match="ids must be integers, got dtype torch.bool"):
        lookup(torch.zeros(3, 2), torch.tensor([True, False]))


@pytest.mark.parametrize("make", [int, np.int64, np.int32, np.uint16, torch.tensor])
def test_sizes_accept_python_numpy_and_tensor_integers(make):
    assert table_bytes(make(300), make(16), "bfloat16") == 300 * 16 * 2
    assert isinstance(table_bytes(make(300), make(16)), int)
    assert head_dim(make(768), make(12)) == 64
    assert parameter_count(LookupLM(make(10), make(4))) == 10 * 4 + 4 * 4 + 4


def test_np_prod_of_a_shape_is_a_count():
    assert table_bytes(int(np.prod([2, 5])), np.prod([3, 4])) == 10 * 12 * 4


def zipf_counts_by_simulation(n_tokens, vocab_size, trials, seed=0):
    generator = torch.Generator().manual_seed(seed)
    shares = []
    for _ in range(trials):
        counts = torch.bincount(zipf_token_stream(n_tokens, vocab_size, generator=generator),
                                minlength=vocab_size)
        shares.append((counts < 100).double().mean().item())
    return sum(shares) / trials


@pytest.mark.parametrize("n_tokens", [20_000, 100_000, 400_000])
def test_expected_rare_share_matches_simulated_streams(n_tokens):
    """The binomial formula against counting real draws (V = 2,000, 20 streams)."""
    simulated = zipf_counts_by_simulation(n_tokens, 2_000, trials=20)
    assert expected_rare_share(n_tokens, 2_000) == pytest.approx(simulated, abs=0.01)


def test_expected_rare_share_agrees_with_poisson_and_the_closed_form():
    vocab_size, below = 30_522, 100
    p = zipf_probabilities(vocab_size)
    for n in (1e6, 1e7):
        poisson = torch.special.gammaincc(torch.tensor(float(below)), n * p).mean().item()
        assert expected_rare_share(n, vocab_size) == pytest.approx(poisson, abs=2e-3)
        harmonic = (1 / torch.arange(1, vocab_size + 1, dtype=torch.float64)).sum().item()
        closed = max(0.0, 1 - n / (below * vocab_size * harmonic))
        assert expected_rare_share(n, vocab_size) == pytest.approx(closed, abs=0.01)
    assert expected_rare_share(1e9, vocab_size) < 1e-12  # every row far above 100
    assert expected_rare_share(1, vocab_size) == pytest.approx(1.0)


def test_zipf_probabilities_sum_to_one_and_reject_bad_input():
    p = zipf_probabilities(1_000, exponent=1.2)
    assert p.sum().item() == pytest.approx(1.0) and torch.all(p[:-1] >= p[1:])
    with pytest.raises(ValueError, match="n_tokens must be a number >= 1, got 0"):
        expected_rare_share(0, 10)
    with pytest.raises(ValueError, match="vocab_size must be a positive int, got 0"):
        zipf_probabilities(0)
