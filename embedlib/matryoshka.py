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
parameter does) and :func:`prefix_recall`. The chapter's experiments live beside it:
:mod:`embedlib.mrl_digits` (a small encoder on scikit-learn's digits),
:mod:`embedlib.sentence_split`, :mod:`embedlib.pca` (a centred PCA rotation) and
:mod:`embedlib.mrl_head` (a learned Matryoshka head on frozen sentence embeddings).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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
