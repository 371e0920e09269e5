"""Published shapes and dtype sizes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from embedlib.models import load_model
from embedlib.shapes import PUBLISHED_SHAPES, as_count, dtype_bytes, resolve_dtype


@pytest.mark.parametrize("name, size", [("bfloat16", 2), ("fp16", 2), ("float32", 4), ("int8", 1), (torch.float64, 8)])
def test_dtype_bytes(name, size):
    assert dtype_bytes(name) == size


def test_unknown_dtype_names_the_choices():
    with pytest.raises(ValueError, match="unknown dtype 'float12'.*bfloat16"):
        resolve_dtype("float12")


def test_minilm_record_matches_the_real_config():
    config = load_model().config
    shape = PUBLISHED_SHAPES["all-MiniLM-L6-v2"]
    assert (shape.vocab_size, shape.d_model, shape.n_heads, shape.n_layers, shape.max_positions) == (
        config.vocab_size, config.hidden_size, config.num_attention_heads, config.num_hidden_layers,
        config.max_position_embeddings,
    )


def test_every_record_splits_evenly_into_heads_and_cites_a_source():
    for shape in PUBLISHED_SHAPES.values():
        assert shape.head_dim * shape.n_heads == shape.d_model, shape.name
        assert shape.n_heads % shape.n_kv_heads == 0, shape.name
        assert shape.source, shape.name


@pytest.mark.parametrize("value", [7, np.int64(7), np.uint8(7), torch.tensor(7)])
def test_as_count_accepts_integers_of_every_kind(value):
    assert as_count("n", value) == 7 and type(as_count("n", value)) is int


@pytest.mark.parametrize("value, match", [
    (True, "got the boolean True"),
    (np.bool_(True), "got the boolean"),
    (7.0, r"got 7.0 \(float\)"),
    ("7", r"got '7' \(str\)"),
    (0, "got 0"),
    (np.int64(-3), "got -3"),
    (torch.tensor(2.5), "n must be a positive int"),
])
def test_as_count_refuses_what_is_not_a_count(value, match):
    with pytest.raises(ValueError, match=match):
        as_count("n", value)
