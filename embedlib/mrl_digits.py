"""The chapter's first experiment: Matryoshka vs standard encoders on scikit-learn's digits.

Three ways to get a short vector of width :math:`m` from 8 x 8 digit images: one encoder
trained with the nested loss (:func:`embedlib.matryoshka.matryoshka_classification_loss`),
each prefix scored by its own head; one standard encoder cut to :math:`m` with a retrained
linear probe; a separate encoder trained at width :math:`m`. Kusupati et al. (NeurIPS 2022,
arXiv:2205.13147) run the same comparison on ImageNet.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .matryoshka import check_dims, matryoshka_classification_loss


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
