"""Sentence embeddings against sentence-transformers itself, on the same local model files."""

from __future__ import annotations

import pytest
import torch

from embedlib.models import model_source
from embedlib.sentences import embed_sentences

TEXTS = [
    "The river bank was flooded after the storm.",
    "She deposited the cheque at the bank.",
    "Embeddings map tokens to vectors.",
    "A much longer sentence, with several clauses, that needs more padding than the others do.",
    "Short.",
]


@pytest.fixture(scope="module")
def reference():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_source(), device="cpu")


@pytest.mark.parametrize("batch_size", [1, 2, 32])
def test_matches_sentence_transformers_whatever_the_batching(reference, batch_size):
    expected = torch.as_tensor(reference.encode(TEXTS, normalize_embeddings=True))
    torch.testing.assert_close(embed_sentences(TEXTS, batch_size=batch_size), expected, atol=1e-5, rtol=1e-4)


def test_truncation_at_max_length_matches(reference):
    long_text = " ".join(["word"] * 400)
    reference.max_seq_length = 128
    expected = torch.as_tensor(reference.encode([long_text], normalize_embeddings=True))
    torch.testing.assert_close(embed_sentences([long_text], max_length=128), expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(
    "texts, kwargs, message",
    [
        ("one text", {}, "list of strings"),
        ([], {}, "list of strings"),
        (["x"], {"max_length": 513}, "from 3 to 512"),
        (["x"], {"max_length": 2}, "from 3 to 512"),
        (["x"], {"batch_size": 0}, "positive integer"),
    ],
)
def test_bad_input_is_named(texts, kwargs, message):
    with pytest.raises(ValueError, match=message):
        embed_sentences(texts, **kwargs)
