"""embedlib.matryoshka against slow loops and against sentence-transformers' MatryoshkaLoss."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from embedlib.matryoshka import (
    check_dims,
    in_batch_contrastive_loss,
    matryoshka_classification_loss,
    matryoshka_contrastive_loss,
    matryoshka_loss,
    prefix_recall,
    truncate,
)
from embedlib.mrl_digits import head_accuracy, load_digits_split, train_digits_encoder, truncated_probe_accuracy
from embedlib.mrl_head import similarity_distillation_loss, train_matryoshka_head
from embedlib.pca import pca_rotation
from embedlib.sentence_split import split_sentences


def slow_truncate(x: torch.Tensor, dim: int) -> torch.Tensor:
    rows = []
    for row in x.tolist():
        prefix = row[:dim]
        length = math.sqrt(sum(v * v for v in prefix))
        rows.append([v / length for v in prefix])
    return torch.tensor(rows)


@pytest.mark.parametrize("dim", [1, 3, 8, 16])
def test_truncate_matches_a_loop_and_has_unit_rows(dim):
    x = torch.randn(5, 16)
    got = truncate(x, dim)
    torch.testing.assert_close(got, slow_truncate(x, dim))
    torch.testing.assert_close(got.norm(dim=1), torch.ones(5))
    torch.testing.assert_close(truncate(x, dim, normalize=False), x[:, :dim])


@pytest.mark.parametrize("dim", [0, -1, 17])
def test_truncate_rejects_widths_outside_the_vector(dim):
    with pytest.raises(ValueError, match=f"dim={dim} must be between 1 and the embedding width 16"):
        truncate(torch.randn(2, 16), dim)


@pytest.mark.parametrize(
    "dims, weights, message",
    [
        ((), None, "dims is empty"),
        ((8, 4, 16), None, r"strictly increasing"),
        ((4, 4), None, r"strictly increasing"),
        ((4, 32), None, r"between 1 and the embedding width 16"),
        ((0, 4), None, r"between 1 and the embedding width 16"),
        ((4, 8), (1.0,), "1 weights for 2 dims"),
    ],
)
def test_check_dims_names_the_bad_values(dims, weights, message):
    with pytest.raises(ValueError, match=message):
        check_dims(dims, 16, weights)


def slow_in_batch_loss(anchors, positives, scale):
    total = 0.0
    for i in range(anchors.shape[0]):
        sims = [scale * F.cosine_similarity(anchors[i], positives[j], dim=0) for j in range(positives.shape[0])]
        total += -(sims[i] - torch.logsumexp(torch.stack(sims), 0))
    return total / anchors.shape[0]


@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_in_batch_contrastive_loss_matches_a_loop(scale):
    a, p = torch.randn(6, 10), torch.randn(6, 10)
    torch.testing.assert_close(in_batch_contrastive_loss(a, p, scale), slow_in_batch_loss(a, p, scale))


@pytest.mark.parametrize("dims, weights", [((4, 8, 16), None), ((2, 16), (0.5, 2.0)), ((16,), None)])
def test_generic_loss_is_the_weighted_sum_over_prefixes(dims, weights):
    a, p = torch.randn(6, 16), torch.randn(6, 16)
    expected = sum(
        c * slow_in_batch_loss(slow_truncate(a, m), slow_truncate(p, m), 20.0)
        for m, c in zip(dims, weights or [1.0] * len(dims))
    )
    torch.testing.assert_close(matryoshka_contrastive_loss(a, p, dims, weights), expected)


def test_generic_loss_rejects_mismatched_widths():
    with pytest.raises(ValueError, match=r"different widths \[16, 8\]"):
        matryoshka_loss(in_batch_contrastive_loss, (torch.randn(3, 16), torch.randn(3, 8)), (4, 8))


@pytest.mark.parametrize("dims", [(2, 4, 8), (1, 8), (8,)])
def test_classification_loss_matches_per_example_loop(dims):
    z, labels = torch.randn(7, 8), torch.randint(0, 3, (7,))
    heads = [nn.Linear(m, 3) for m in dims]
    expected = 0.0
    for m, head in zip(dims, heads):
        per_example = [-torch.log_softmax(head(z[i, :m]), 0)[labels[i]] for i in range(7)]
        expected += sum(per_example) / 7
    torch.testing.assert_close(matryoshka_classification_loss(z, labels, heads, dims), expected)


def test_classification_loss_needs_one_head_per_width():
    with pytest.raises(ValueError, match="2 heads for 3 dims"):
        matryoshka_classification_loss(torch.randn(2, 8), torch.zeros(2, dtype=torch.long), [nn.Linear(2, 2)] * 2, (2, 4, 8))


# --- the reference library: sentence-transformers' MatryoshkaLoss on a tiny local model ---------


class _LinearEncoder(nn.Module):
    """A SentenceTransformer module: features["x"] [B, 8] -> sentence_embedding [B, 16]."""

    def __init__(self, weight: torch.Tensor):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, features):
        features["sentence_embedding"] = features["x"] @ self.weight
        return features

    def get_sentence_embedding_dimension(self) -> int:
        return self.weight.shape[1]

    def get_embedding_dimension(self) -> int:
        return self.weight.shape[1]


@pytest.mark.parametrize("dims, weights", [((16, 8, 4), None), ((4, 8, 16), (0.25, 0.5, 1.0)), ((16, 2), (1.0, 3.0))])
def test_contrastive_form_equals_sentence_transformers_matryoshka_loss(dims, weights):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notices of the old import paths
        from sentence_transformers import SentenceTransformer
        from sentence_transformers.sentence_transformer.losses import MatryoshkaLoss, MultipleNegativesRankingLoss

    weight = torch.randn(8, 16)
    model = SentenceTransformer(modules=[_LinearEncoder(weight.clone())], device="cpu")
    reference = MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), list(dims), weights)
    anchors_in, positives_in = torch.randn(6, 8), torch.randn(6, 8)
    expected = reference([{"x": anchors_in}, {"x": positives_in}], torch.zeros(6))

    ours_weight = weight.clone().requires_grad_()
    ours = matryoshka_contrastive_loss(
        anchors_in @ ours_weight, positives_in @ ours_weight, sorted(dims), None if weights is None else
        [w for _, w in sorted(zip(dims, weights))]
    )
    torch.testing.assert_close(ours, expected)
    expected.backward()
    ours.backward()
    torch.testing.assert_close(ours_weight.grad, model[0].weight.grad)  # same gradient too


# --- experiments' building blocks ---------------------------------------------------------------


def test_split_sentences_cuts_at_sentence_ends_and_drops_short_pieces():
    text = 'The bank opened at nine today. "It was busy," she said. Ok. Prices rose by 3.5 per cent overnight in Sydney!'
    assert split_sentences(text) == [
        "The bank opened at nine today.",
        '"It was busy," she said.',
        "Prices rose by 3.5 per cent overnight in Sydney!",
    ]


def test_pca_rotation_is_orthogonal_keeps_inner_products_and_orders_variance():
    x = torch.randn(200, 12) * torch.linspace(0.1, 3.0, 12)  # most variance in the last columns
    rotation = pca_rotation(x)
    torch.testing.assert_close(rotation.T @ rotation, torch.eye(12), atol=1e-5, rtol=0)
    rotated = x @ rotation
    torch.testing.assert_close(rotated @ rotated.T, x @ x.T, atol=1e-3, rtol=1e-4)
    variance = rotated.var(0)
    assert torch.all(variance[:-1] >= variance[1:] - 1e-3)


def test_pca_rotation_is_centred_a_shared_offset_does_not_come_first():
    """Rows = a large common vector + noise varying mostly along axis 3: centred PCA puts axis 3
    first (what ranks rows), an uncentred SVD puts the common direction first."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.randn(500, 6, generator=generator) * torch.tensor([0.1, 0.1, 0.1, 2.0, 0.1, 0.1])
    x = noise + torch.tensor([10.0, 10.0, 0.0, 0.0, 0.0, 0.0])
    centred, uncentred = pca_rotation(x), pca_rotation(x, center=False)
    assert abs(float(centred[3, 0])) > 0.99
    assert abs(float(uncentred[0, 0])) > 0.6 and abs(float(uncentred[3, 0])) < 0.2
    # the same as scikit-learn's PCA, up to the sign of each direction
    from sklearn.decomposition import PCA

    reference = torch.tensor(PCA().fit(x.double().numpy()).components_, dtype=torch.float32).T
    torch.testing.assert_close(centred.abs(), reference.abs(), atol=1e-3, rtol=0)


def test_similarity_distillation_loss_is_zero_for_a_perfect_student_and_positive_otherwise():
    teacher = F.normalize(torch.randn(10, 6), dim=1)
    assert similarity_distillation_loss(teacher, teacher).abs() < 1e-6
    assert similarity_distillation_loss(F.normalize(torch.randn(10, 6), dim=1), teacher) > 0.1


def test_matryoshka_head_starts_at_pca_and_learns_on_its_training_data():
    x = F.normalize(torch.randn(300, 24) * torch.linspace(2.0, 0.2, 24), dim=1)
    untrained = train_matryoshka_head(x, (4, 8), steps=0)
    torch.testing.assert_close(untrained, pca_rotation(x)[:, :8])
    trained = train_matryoshka_head(x, (4, 8), steps=60, lr=3e-3)
    assert trained.shape == (24, 8)

    def loss(w):
        return matryoshka_loss(lambda s: similarity_distillation_loss(s, x), (x @ w,), (4, 8))

    assert loss(trained) < loss(untrained)


def test_matryoshka_prefixes_beat_a_truncated_standard_model_at_width_2():
    """The chapter's effect, small: 150 steps, one seed (the notebook uses more)."""
    data = load_digits_split()
    nested = head_accuracy(train_digits_encoder(data, (2, 4, 64), True, steps=150), data)
    standard = train_digits_encoder(data, (64,), False, steps=150)
    truncated = truncated_probe_accuracy(standard, data, (2, 64))
    assert nested[2] > truncated[2] + 0.1
    assert nested[64] > 0.9 and truncated[64] > 0.9


def test_standard_model_must_have_one_full_width_head():
    with pytest.raises(ValueError, match=r"dims must be \(64,\)"):
        train_digits_encoder(load_digits_split(), (2, 64), False)



def test_prefix_recall_is_one_at_full_width_and_matches_a_direct_computation():
    from embedlib.similarity import normalize_rows
    from embedlib.retrieval import recall_at_k, search

    generator = torch.Generator().manual_seed(0)
    queries, database = torch.randn(20, 16, generator=generator), torch.randn(300, 16, generator=generator)
    queries, database = normalize_rows(queries), normalize_rows(database)
    assert prefix_recall(queries, database, 16) == 1.0
    truth = search(queries, database, 5).indices
    direct = recall_at_k(search(normalize_rows(queries[:, :4]), normalize_rows(database[:, :4]), 5).indices, truth)
    assert prefix_recall(queries, database, 4, k=5) == direct < 1.0
    rotation = torch.linalg.qr(torch.randn(16, 16, generator=generator)).Q
    assert prefix_recall(queries, database, 16, transform=rotation) == 1.0  # rotations keep every cosine
