"""A learned Matryoshka head on frozen embeddings: a linear map whose prefixes keep neighbours.

The frozen model's full-width vectors are the teacher; the head's prefixes (nested widths)
are trained to rank each batch's other rows as the teacher does
(:func:`similarity_distillation_loss`), summed over widths with
:func:`embedlib.matryoshka.matryoshka_loss`. Started at the centred PCA rotation.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from .matryoshka import check_dims, matryoshka_loss
from .pca import pca_rotation


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
