"""Matryoshka representation learning (MRL): one vector whose every prefix is an embedding.

Kusupati et al. (NeurIPS 2022, arXiv:2205.13147) train an encoder :math:`F` so that, for each
width :math:`m` in a nested set :math:`\\mathcal{M}` (e.g. 8, 16, ..., 2048), the first
:math:`m` coordinates :math:`z_{1:m}` of :math:`z = F(x)` solve the task on their own:

.. math:: \\mathcal{L}_{\\mathrm{MRL}} = \\sum_{m \\in \\mathcal{M}} c_m \\,
          \\mathcal{L}\\big(z_{1:m}\\big),

with one classifier head :math:`W^{(m)}` per width in the paper's classification form
(:math:`\\mathcal{L} = \\mathrm{CE}(W^{(m)} z_{1:m}, y)`) and, in sentence-transformers'
``MatryoshkaLoss``, any embedding loss applied to the L2-normalised prefix.

This module holds the loss in both forms, :func:`truncate` (what an API's ``dimensions``
parameter does), and the pieces the chapter's experiments call: a small MLP encoder trained
on scikit-learn's digits, a sentence encoder for all-MiniLM-L6-v2, a PCA rotation and a
learned Matryoshka head on frozen sentence embeddings.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .similarity import normalize_rows


def _check_width(embeddings: torch.Tensor, dim: int) -> None:
    width = embeddings.shape[-1]
    if not 1 <= dim <= width:
        raise ValueError(f"dim={dim} must be between 1 and the embedding width {width}")


def truncate(embeddings: torch.Tensor, dim: int, normalize: bool = True) -> torch.Tensor:
    """The first ``dim`` coordinates of each vector, rescaled to unit length by default.

    :math:`\\operatorname{truncate}(z, m) = z_{1:m} / \\lVert z_{1:m} \\rVert`. A unit vector's
    prefix is shorter than 1, so cosine and dot product disagree unless it is renormalised;
    OpenAI documents the same two steps for its ``dimensions`` parameter.
    """
    _check_width(embeddings, dim)
    prefix = embeddings[..., :dim]  # [..., m]
    return normalize_rows(prefix) if normalize else prefix


def check_dims(dims: Sequence[int], width: int, weights: Sequence[float] | None = None) -> list[float]:
    """Validate nested widths (strictly increasing, within ``width``); return the weights."""
    dims = list(dims)
    if not dims:
        raise ValueError("dims is empty; give the nested widths, e.g. (8, 16, 32, 64)")
    if any(b <= a for a, b in zip(dims, dims[1:])):
        raise ValueError(f"dims={dims} must be strictly increasing, e.g. (8, 16, 32, 64)")
    if dims[0] < 1 or dims[-1] > width:
        raise ValueError(f"dims={dims} must lie between 1 and the embedding width {width}")
    if weights is None:
        return [1.0] * len(dims)
    if len(weights) != len(dims):
        raise ValueError(f"{len(weights)} weights for {len(dims)} dims; give one weight per width")
    return [float(w) for w in weights]


def matryoshka_loss(
    base_loss: Callable[..., torch.Tensor],
    embeddings: Sequence[torch.Tensor],
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
    normalize: bool = True,
) -> torch.Tensor:
    """:math:`\\sum_i c_i \\, \\mathcal{L}(\\text{prefixes of width } m_i)`, for any base loss.

    ``base_loss`` receives one prefix per tensor in ``embeddings`` (e.g. anchors and
    positives), each truncated to :math:`m_i` and L2-normalised when ``normalize``: the
    ``shrink`` step of sentence-transformers' ``MatryoshkaLoss``.
    """
    width = embeddings[0].shape[-1]
    if any(e.shape[-1] != width for e in embeddings):
        raise ValueError(f"embeddings of different widths {[e.shape[-1] for e in embeddings]}; they must match")
    weights = check_dims(dims, width, weights)
    return sum(c * base_loss(*(truncate(e, m, normalize) for e in embeddings)) for m, c in zip(dims, weights))


def in_batch_contrastive_loss(anchors: torch.Tensor, positives: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """InfoNCE with in-batch negatives (sentence-transformers' MultipleNegativesRankingLoss).

    :math:`\\mathcal{L} = \\frac{1}{B}\\sum_i -\\log \\frac{\\exp(s\\cos(a_i, p_i))}
    {\\sum_j \\exp(s\\cos(a_i, p_j))}`, with scale :math:`s` = 1 / temperature.
    """
    logits = scale * normalize_rows(anchors) @ normalize_rows(positives).T  # [B, B]
    return F.cross_entropy(logits, torch.arange(anchors.shape[0]))


def matryoshka_contrastive_loss(
    anchors: torch.Tensor,
    positives: torch.Tensor,
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
    scale: float = 20.0,
) -> torch.Tensor:
    """The contrastive form: :func:`in_batch_contrastive_loss` summed over nested prefixes.

    Equals ``MatryoshkaLoss(model, MultipleNegativesRankingLoss(model), dims, weights)``
    of sentence-transformers on the same embeddings (tests/test_matryoshka.py checks it).
    """
    return matryoshka_loss(
        lambda a, p: in_batch_contrastive_loss(a, p, scale), (anchors, positives), dims, weights
    )


def matryoshka_classification_loss(
    embeddings: torch.Tensor,
    labels: torch.Tensor,
    heads: Sequence[nn.Module],
    dims: Sequence[int],
    weights: Sequence[float] | None = None,
) -> torch.Tensor:
    """The paper's form: :math:`\\sum_i c_i \\, \\mathrm{CE}(W^{(i)} z_{1:m_i}, y)`, one head per width.

    ``embeddings`` [B, d], ``labels`` [B] class ids, ``heads[i]`` maps [B, m_i] to logits.
    Prefixes are not normalised here, as in the paper's classifiers.
    """
    weights = check_dims(dims, embeddings.shape[-1], weights)
    if len(heads) != len(weights):
        raise ValueError(f"{len(heads)} heads for {len(weights)} dims; give one head per width")
    return sum(
        c * F.cross_entropy(head(embeddings[:, :m]), labels) for m, c, head in zip(dims, weights, heads)
    )


# ---------------------------------------------------------------------------------------
# Experiment 1: a small encoder on scikit-learn's digits (8 x 8 images, 10 classes).


class DigitsEncoder(nn.Module):
    """x [B, 64] pixels -> z [B, width]: a two-layer MLP, plus one linear head per width."""

    def __init__(self, head_dims: Sequence[int], width: int = 64, hidden: int = 128, classes: int = 10):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, width))
        self.head_dims = tuple(head_dims)
        self.heads = nn.ModuleList(nn.Linear(m, classes) for m in self.head_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)  # [B, width]


@dataclass(frozen=True)
class DigitsSplit:
    """Pixels scaled to [0, 1] and labels, split once into train and test."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits_split(test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    """scikit-learn's bundled digits (1,797 images), stratified split (no download)."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data / 16.0, digits.target, test_size=test_fraction, random_state=seed, stratify=digits.target
    )
    as_x, as_y = (lambda a: torch.tensor(a, dtype=torch.float32)), (lambda a: torch.tensor(a, dtype=torch.long))
    return DigitsSplit(as_x(x_train), as_y(y_train), as_x(x_test), as_y(y_test))


def _fit(parameters, loss_fn: Callable[[torch.Tensor], torch.Tensor], n: int, steps: int, lr: float, batch_size: int) -> None:
    """Adam on ``loss_fn(batch_indices)`` for a fixed number of steps over random mini-batches."""
    optimizer = torch.optim.Adam(parameters, lr=lr, weight_decay=1e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(torch.randint(n, (batch_size,))).backward()
        optimizer.step()


def train_digits_encoder(
    data: DigitsSplit,
    dims: Sequence[int],
    nested: bool,
    width: int = 64,
    steps: int = 400,
    lr: float = 1e-2,
    batch_size: int = 128,
    seed: int = 0,
) -> DigitsEncoder:
    """Train with Adam on random mini-batches for a fixed number of steps.

    ``nested=True``: the Matryoshka loss over ``dims`` (weights 1). ``nested=False``: a
    standard model with a single head on its full width (``dims`` must then be ``(width,)``).
    """
    torch.manual_seed(seed)
    if not nested and tuple(dims) != (width,):
        raise ValueError(f"a standard model has one head on its full width: dims must be ({width},), got {tuple(dims)}")
    model = DigitsEncoder(dims, width=width)
    x, y = data.x_train, data.y_train
    _fit(
        model.parameters(),
        lambda i: matryoshka_classification_loss(model(x[i]), y[i], model.heads, dims),
        x.shape[0],
        steps,
        lr,
        batch_size,
    )
    return model.eval()


def linear_probe_accuracy(
    z_train: torch.Tensor, y_train: torch.Tensor, z_test: torch.Tensor, y_test: torch.Tensor, steps: int = 400, seed: int = 0
) -> float:
    """Accuracy of a fresh linear classifier trained on frozen features (the probe protocol)."""
    torch.manual_seed(seed)
    head = nn.Linear(z_train.shape[1], int(y_train.max()) + 1)
    _fit(head.parameters(), lambda i: F.cross_entropy(head(z_train[i]), y_train[i]), z_train.shape[0], steps, 2e-2, 128)
    with torch.no_grad():
        return float((head(z_test).argmax(1) == y_test).float().mean())


def head_accuracy(model: DigitsEncoder, data: DigitsSplit) -> dict[int, float]:
    """Test accuracy of each of the model's own heads on its prefix: {width: accuracy}."""
    with torch.no_grad():
        z = model(data.x_test)  # [B, width]
        return {
            m: float((head(z[:, :m]).argmax(1) == data.y_test).float().mean())
            for m, head in zip(model.head_dims, model.heads)
        }


def truncated_probe_accuracy(model: DigitsEncoder, data: DigitsSplit, dims: Sequence[int], seed: int = 0) -> dict[int, float]:
    """A standard model cut to each width, with a linear probe retrained on the prefix."""
    with torch.no_grad():
        z_train, z_test = model(data.x_train), model(data.x_test)
    return {
        m: linear_probe_accuracy(z_train[:, :m], data.y_train, z_test[:, :m], data.y_test, seed=seed) for m in dims
    }


def compare_digits_models(data: DigitsSplit, dims: Sequence[int], seeds: Sequence[int]) -> dict[str, torch.Tensor]:
    """Test accuracy per prefix width, [len(seeds), len(dims)] per kind of model.

    ``"matryoshka"``: one nested model, its own head per width; ``"truncated"``: one standard
    model of width ``dims[-1]``, cut to each width with a retrained linear probe;
    ``"fixed"``: a separate model trained at each width (the largest is the standard model's
    own head).
    """
    check_dims(dims, dims[-1])
    results = {kind: torch.zeros(len(seeds), len(dims)) for kind in ("matryoshka", "truncated", "fixed")}
    for row, seed in enumerate(seeds):
        nested = head_accuracy(train_digits_encoder(data, dims, True, width=dims[-1], seed=seed), data)
        standard = train_digits_encoder(data, (dims[-1],), False, width=dims[-1], seed=seed)
        truncated = truncated_probe_accuracy(standard, data, dims, seed=seed)
        for col, m in enumerate(dims):
            fixed = standard if m == dims[-1] else train_digits_encoder(data, (m,), True, width=m, seed=seed)
            results["matryoshka"][row, col] = nested[m]
            results["truncated"][row, col] = truncated[m]
            results["fixed"][row, col] = head_accuracy(fixed, data)[m]
    return results


# ---------------------------------------------------------------------------------------
# Experiment 2: the real all-MiniLM-L6-v2 (not Matryoshka-trained) and its prefixes.

_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def split_sentences(text: str, min_words: int = 5, max_words: int = 40) -> list[str]:
    """Split at '.', '!' or '?' followed by space and a capital or quote; keep 5-40 words."""
    return [s for s in _SENTENCE_END.split(text.strip()) if min_words <= len(s.split()) <= max_words]




def pca_rotation(x: torch.Tensor) -> torch.Tensor:
    """An orthogonal [d, d] matrix whose columns are the directions of most energy, in order.

    Right singular vectors of the (uncentred) data: :math:`x = U S V^\\top`, rotation
    :math:`V`. Uncentred, so that at full width :math:`(xV)(yV)^\\top = xy^\\top`: every
    inner product is unchanged, and a prefix of :math:`xV` keeps the most of each vector.
    """
    _, _, vt = torch.linalg.svd(x, full_matrices=False)  # vt [d, d] (when n >= d)
    if vt.shape[0] != x.shape[1]:
        raise ValueError(f"need at least as many vectors as dimensions: got {x.shape[0]} vectors of width {x.shape[1]}")
    return vt.T


def similarity_distillation_loss(student: torch.Tensor, teacher: torch.Tensor, temperature: float = 0.05) -> torch.Tensor:
    """KL from the teacher's to the student's softmax over each row's similarities (self excluded).

    Both [B, *] are unit rows; the loss is small when the student ranks each row's
    neighbours like the teacher does.
    """
    eye = torch.eye(student.shape[0], dtype=torch.bool)
    student_logits = (student @ student.T / temperature).masked_fill(eye, -1e9)  # [B, B]
    teacher_logits = (teacher @ teacher.T / temperature).masked_fill(eye, -1e9)  # [B, B]
    return F.kl_div(F.log_softmax(student_logits, 1), F.log_softmax(teacher_logits, 1), log_target=True, reduction="batchmean")


def train_matryoshka_head(
    x: torch.Tensor, dims: Sequence[int], steps: int = 200, batch_size: int = 256, lr: float = 1e-3, seed: int = 0
) -> torch.Tensor:
    """A linear map [d, dims[-1]] for frozen embeddings whose prefixes keep the full vectors' neighbours.

    Starts at the first ``dims[-1]`` columns of :func:`pca_rotation` and minimises
    :func:`matryoshka_loss` over ``dims`` with :func:`similarity_distillation_loss` as the
    base loss, the teacher being the frozen embeddings themselves at full width. Apply it
    as ``x @ W``.
    """
    check_dims(dims, x.shape[1])
    generator = torch.Generator().manual_seed(seed)
    weight = nn.Parameter(pca_rotation(x)[:, : dims[-1]].clone())  # [d, m_max]
    optimizer = torch.optim.Adam([weight], lr=lr)
    for _ in range(steps):
        batch = x[torch.randperm(x.shape[0], generator=generator)[:batch_size]]  # [B, d]
        optimizer.zero_grad()
        loss = matryoshka_loss(lambda s: similarity_distillation_loss(s, batch), (batch @ weight,), dims)
        loss.backward()
        optimizer.step()
    return weight.detach()


def prefix_recall(
    queries: torch.Tensor, database: torch.Tensor, dim: int, transform: torch.Tensor | None = None, k: int = 10
) -> float:
    """recall@k of search on the first ``dim`` coordinates against full-width search.

    Both sets are mapped by ``transform`` [d, d'] first (a rotation such as PCA, or a learned
    head), then truncated and renormalised; the true neighbours are the exact top-k on the
    untransformed, full-width vectors.
    """
    from .retrieval import recall_at_k, search

    truth = search(queries, database, k).indices  # [q, k]
    if transform is not None:
        queries, database = queries @ transform, database @ transform  # [q, d'], [n, d']
    found = search(truncate(queries, dim), truncate(database, dim), k).indices  # [q, k]
    return recall_at_k(found, truth)
