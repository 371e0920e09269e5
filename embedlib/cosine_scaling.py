"""Cosine of learned embeddings can be arbitrary: Steck et al.'s linear model, in closed form.

Steck, Ekanadham & Kallus (2024), *Is Cosine-Similarity of Embeddings Really About
Similarity?* (arXiv:2403.05440) study a linear autoencoder on a data matrix X [n, p]
(users x items there, documents x words here) with item embeddings A, B [p, k] and
predictions :math:`\\hat X = X A B^\\top`, under two regularisers. With the SVD
:math:`X = U \\Sigma V^\\top` and the top k singular values :math:`\\sigma_i`:

1. :math:`\\lVert X - XAB^\\top\\rVert_F^2 + \\lambda \\lVert AB^\\top \\rVert_F^2` (the
   product is penalised). Optimum :math:`AB^\\top = V_k\\,\\mathrm{diag}(\\sigma_i^2/(\\sigma_i^2+\\lambda))\\,V_k^\\top`;
   any factorisation :math:`A = V_k S^{1/2} D`, :math:`B = V_k S^{1/2} D^{-1}` with an
   arbitrary invertible diagonal D is equally optimal, so the cosines between rows of B
   are whatever D makes them.
2. :math:`\\lVert X - XAB^\\top\\rVert_F^2 + \\lambda (\\lVert XA \\rVert_F^2 + \\lVert B \\rVert_F^2)`
   (each factor penalised). Optimum :math:`B = V_k\\,\\mathrm{diag}(\\sqrt{(\\sigma_i - \\lambda)_+})`,
   :math:`A = V_k\\,\\mathrm{diag}(\\sqrt{(\\sigma_i - \\lambda)_+}/\\sigma_i)`, unique up to a
   rotation, which leaves cosines unchanged: this regulariser pins the scale down.

(For 2: at fixed product :math:`M = XAB^\\top`, the smallest :math:`\\lVert XA\\rVert^2 +
\\lVert B\\rVert^2` is :math:`2\\lVert M\\rVert_*`, and the nuclear-norm problem is solved by
soft-thresholding the singular values at :math:`\\lambda`.)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Factors:
    """Item embeddings of the linear model: predictions are ``x @ a @ b.T``."""

    a: torch.Tensor  # [p, k]
    b: torch.Tensor  # [p, k]

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction X A B^T [n, p]."""
        return x @ self.a @ self.b.T

    def rescaled(self, scale: torch.Tensor) -> "Factors":
        """The same predictions with a diagonal rescaling: A D, B D^{-1} (``scale`` holds diag(D), [k])."""
        if scale.shape != (self.a.shape[1],) or bool((scale == 0).any()):
            raise ValueError(f"scale must be {self.a.shape[1]} non-zero numbers (the diagonal of D), "
                             f"got shape {tuple(scale.shape)}")
        return Factors(self.a * scale, self.b / scale)


def _top_singular(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    if x.ndim != 2:
        raise ValueError(f"x must be a 2-D data matrix [n, p], got shape {tuple(x.shape)}")
    if not 1 <= k <= min(x.shape):
        raise ValueError(f"k={k} must be between 1 and min(n, p) = {min(x.shape)}")
    _, sigma, vh = torch.linalg.svd(x.double(), full_matrices=False)
    return sigma[:k], vh[:k].T  # [k], [p, k]


def fit_product_penalty(x: torch.Tensor, k: int, lam: float) -> Factors:
    """Objective 1's optimum with D = I (every other diagonal D is just as good)."""
    if lam < 0:
        raise ValueError(f"lam={lam} must be >= 0")
    sigma, v = _top_singular(x, k)
    root = (sigma**2 / (sigma**2 + lam)).sqrt()  # [k]
    return Factors(v * root, v * root)


def fit_factor_penalty(x: torch.Tensor, k: int, lam: float) -> Factors:
    """Objective 2's optimum: singular values soft-thresholded at ``lam`` and split evenly."""
    if lam < 0:
        raise ValueError(f"lam={lam} must be >= 0")
    sigma, v = _top_singular(x, k)
    root = (sigma - lam).clamp_min(0).sqrt()  # [k]
    return Factors(v * root / sigma, v * root)


def product_penalty_loss(x: torch.Tensor, factors: Factors, lam: float) -> float:
    """Objective 1: ||X - X A B^T||^2 + lam ||A B^T||^2."""
    x = x.double()
    residual = x - factors.predict(x)
    return float(residual.pow(2).sum() + lam * (factors.a @ factors.b.T).pow(2).sum())


def factor_penalty_loss(x: torch.Tensor, factors: Factors, lam: float) -> float:
    """Objective 2: ||X - X A B^T||^2 + lam (||X A||^2 + ||B||^2)."""
    x = x.double()
    residual = x - factors.predict(x)
    return float(residual.pow(2).sum() + lam * ((x @ factors.a).pow(2).sum() + factors.b.pow(2).sum()))


def random_scaling(k: int, spread: float = 10.0, seed: int = 0) -> torch.Tensor:
    """A diagonal for D drawn log-uniformly from [1/spread, spread] (float64, [k])."""
    if spread < 1:
        raise ValueError(f"spread={spread} must be >= 1")
    generator = torch.Generator().manual_seed(seed)
    exponent = torch.rand(k, generator=generator, dtype=torch.float64) * 2 - 1  # uniform in [-1, 1]
    return spread**exponent


def document_word_matrix(documents: list[list[str]], min_documents: int = 5) -> tuple[torch.Tensor, list[str]]:
    """Binary X [documents, words] (1 if the word occurs in the document), words in >= min_documents docs."""
    frequency: dict[str, int] = {}
    for document in documents:
        for word in set(document):
            frequency[word] = frequency.get(word, 0) + 1
    words = sorted(word for word, count in frequency.items() if count >= min_documents)
    if not words:
        raise ValueError(f"no word occurs in {min_documents} documents; lower min_documents")
    column = {word: j for j, word in enumerate(words)}
    x = torch.zeros(len(documents), len(words), dtype=torch.float64)
    for i, document in enumerate(documents):
        for word in set(document):
            if word in column:
                x[i, column[word]] = 1.0
    return x, words
