"""Representation degeneration: how a tied embedding matrix collapses into a cone, rare rows first.

With tied weights the output layer scores every token as :math:`h \\cdot e_w` using the same
row :math:`e_w` that the input lookup reads. The gradient of the cross-entropy loss on a
row is

.. math:: \\frac{\\partial L}{\\partial e_w} = (p_w - [w = y])\\, h,

so every step pushes each row that is *not* the target along :math:`-h`, scaled by its
probability. A token that is rarely the target (and rarely an input) gets almost nothing
but these pushes; since the hidden states share a common direction, all rare rows drift the
same way and end up nearly parallel. Gao et al. (2019, arXiv:1907.12009) describe and
analyse this "representation degeneration problem".

The model here has no attention on purpose: a fixed window of previous tokens, looked up,
concatenated and passed through a small MLP (a Bengio-style neural LM), with the output
layer tied to the input table or not. It trains in seconds on one CPU thread.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
from torch import nn

from .data import read_lines

OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class TokenCorpus:
    """A corpus as a flat tensor of compact token ids, with the counts and names behind them."""

    ids: torch.Tensor  # [N] int64, values in [0, vocab_size)
    counts: torch.Tensor  # [vocab_size] int64: occurrences of each compact id in ``ids``
    tokens: list[str]  # compact id -> token string
    documents: list[str]  # the source lines
    offsets: torch.Tensor  # [documents + 1]: document i is ids[offsets[i]:offsets[i + 1]]

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def mentions(self, word: str) -> list[int]:
        """Indices of the documents that contain ``word`` as a whole word (case-insensitive).

        A whole-word match: "fire" finds "fire" and "Fire", not "fired", "ceasefire" or
        "fireworks" (a substring test would).
        """
        pattern = re.compile(rf"\b{re.escape(word)}\b", re.IGNORECASE)
        return [i for i, text in enumerate(self.documents) if pattern.search(text)]

    def select(self, word: str) -> torch.Tensor:
        """The ids of the documents that mention ``word`` (:meth:`mentions`), concatenated."""
        chosen = self.mentions(word)
        if not chosen:
            raise ValueError(f"no document mentions {word!r}; pick a word that occurs in the corpus")
        return torch.cat([self.ids[self.offsets[i]:self.offsets[i + 1]] for i in chosen])


def wordpiece_corpus(name: str = "lee_background.cor", tokenizer=None) -> TokenCorpus:
    """Tokenise a bundled gensim corpus with MiniLM's WordPiece tokenizer (lower-cases).

    Only the token types that occur are kept, renumbered 0..V-1 by decreasing count.
    """
    if tokenizer is None:
        from .models import load_tokenizer

        tokenizer = load_tokenizer()
    lines = read_lines(name)
    encoded = tokenizer(lines, add_special_tokens=False, verbose=False)["input_ids"]
    pieces = [tokenizer.convert_ids_to_tokens(line) for line in encoded]
    counter = Counter(piece for line in pieces for piece in line)
    tokens = [token for token, _ in sorted(counter.items(), key=lambda item: (-item[1], item[0]))]
    index = {token: i for i, token in enumerate(tokens)}
    ids = torch.tensor([index[piece] for line in pieces for piece in line], dtype=torch.int64)
    counts = torch.tensor([counter[token] for token in tokens], dtype=torch.int64)
    offsets = torch.tensor([0] + [len(line) for line in pieces]).cumsum(0)
    return TokenCorpus(ids=ids, counts=counts, tokens=tokens, documents=lines, offsets=offsets)


class WindowLM(nn.Module):
    """Predict token t from tokens t-window..t-1: lookup -> concat -> MLP -> logits.

    ``tied=True`` scores the vocabulary with the input table itself (logits = h E^T + b);
    otherwise with a separate output matrix of the same shape.
    """

    def __init__(self, vocab_size: int, dim: int = 64, window: int = 4, hidden: int = 256, tied: bool = True,
                 init_std: float = 0.02):
        super().__init__()
        if vocab_size < 2 or dim < 1 or window < 1 or hidden < 1:
            raise ValueError(f"need vocab_size >= 2 and positive dim/window/hidden, got "
                             f"{vocab_size}, {dim}, {window}, {hidden}")
        self.window = window
        self.wte = nn.Embedding(vocab_size, dim)
        self.mlp = nn.Sequential(nn.Linear(window * dim, hidden), nn.GELU(), nn.Linear(hidden, dim))
        self.out = None if tied else nn.Linear(dim, vocab_size, bias=False)
        self.bias = nn.Parameter(torch.zeros(vocab_size))
        for weight in (self.wte.weight, *(() if self.out is None else (self.out.weight,))):
            nn.init.normal_(weight, std=init_std)  # GPT-2's 0.02, not nn.Embedding's N(0, 1)

    @property
    def tied(self) -> bool:
        return self.out is None

    def forward(self, context: torch.Tensor) -> torch.Tensor:
        """context [B, window] ids -> logits [B, V]."""
        x = self.wte(context)  # (B, window, dim)
        h = self.mlp(x.flatten(1))  # (B, dim)
        weight = self.wte.weight if self.out is None else self.out.weight  # (V, dim)
        return h @ weight.T + self.bias  # (B, V)


def window_lm_snapshots(
    model: WindowLM, ids: torch.Tensor, steps: Sequence[int], **train_options
) -> dict[int, WindowLM]:
    """Train once, keeping a copy of ``model`` after each number of ``steps``: ``{step: model}``.

    Each copy is the model that :func:`train_window_lm` with the same options and that many
    steps would give (the seeded batches and the optimizer's state carry on), at the cost
    of the longest run alone. ``model`` itself is trained in place to the largest number of
    steps; the losses are not kept. ``train_options`` as for :func:`train_window_lm`.
    """
    from copy import deepcopy

    wanted = sorted(set(steps))
    if not wanted or wanted[0] < 0:
        raise ValueError(f"steps={list(steps)}; give one or more step counts >= 0")
    kept = {0: deepcopy(model)} if wanted[0] == 0 else {}

    def keep(step: int) -> None:
        if step in wanted:
            kept[step] = deepcopy(model)

    train_window_lm(model, ids, wanted[-1], after_step=keep, **train_options)
    return kept


def train_window_lm(
    model: WindowLM,
    ids: torch.Tensor,
    steps: int,
    batch_size: int = 128,
    lr: float = 3e-3,
    seed: int = 0,
    optimizer: str = "adam",
    after_step: Callable[[int], None] | None = None,
) -> list[float]:
    """Train ``model`` for ``steps`` steps on random windows of ``ids``; returns the losses.

    ``optimizer="adam"`` (torch's Adam, default betas, no weight decay) or ``"sgd"`` (plain
    SGD, no momentum). The choice matters for rare rows: SGD moves a row in proportion to
    its gradient, which is tiny for a token that is rarely the target, while Adam divides
    each coordinate's step by the root of its running squared gradient, so a small but
    steady push moves a row about ``lr`` per step however small it is. ``after_step(n)``,
    if given, is called after step n (1, 2, ...), e.g. to keep copies of the model
    (:func:`window_lm_snapshots`).
    """
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer={optimizer!r}; choose one of {OPTIMIZERS}")
    if ids.ndim != 1 or ids.numel() <= model.window:
        raise ValueError(f"ids must be a 1-D token stream longer than the window ({model.window}), "
                         f"got shape {tuple(ids.shape)}")
    if steps < 0:
        raise ValueError(f"steps={steps} must be >= 0")
    generator = torch.Generator().manual_seed(seed)
    if optimizer == "adam":  # fused: one kernel for all parameters, same update rule
        step = torch.optim.Adam(model.parameters(), lr=lr, fused=True)
    else:
        step = torch.optim.SGD(model.parameters(), lr=lr)
    offsets = torch.arange(model.window + 1)  # [window + 1]
    losses = []
    for n in range(1, steps + 1):
        starts = torch.randint(0, ids.numel() - model.window, (batch_size,), generator=generator)
        chunk = ids[starts[:, None] + offsets]  # (B, window + 1)
        logits = model(chunk[:, :-1])  # (B, V)
        loss = nn.functional.cross_entropy(logits, chunk[:, -1])
        step.zero_grad(set_to_none=True)
        loss.backward()
        step.step()
        losses.append(loss.item())
        if after_step is not None:
            after_step(n)
    return losses


def window_lm_loss(model: WindowLM, ids: torch.Tensor, windows: int = 4096, seed: int = 123) -> float:
    """Mean cross-entropy (nats/token) on a fixed, seeded sample of ``windows`` windows of ``ids``.

    One number that does not depend on the training trajectory: compare models with it,
    not with the noisy training losses.
    """
    if ids.ndim != 1 or ids.numel() <= model.window:
        raise ValueError(f"ids must be a 1-D token stream longer than the window ({model.window}), "
                         f"got shape {tuple(ids.shape)}")
    generator = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - model.window, (windows,), generator=generator)
    chunk = ids[starts[:, None] + torch.arange(model.window + 1)]  # (windows, window + 1)
    with torch.no_grad():
        return float(nn.functional.cross_entropy(model(chunk[:, :-1]), chunk[:, -1]))

@dataclass(frozen=True)
class Drift:
    """What fine-tuning did to one group of rows of the input table."""

    n: int  # rows in the group
    moved: float  # mean of ||after - before|| / ||before||
    kept: float  # mean share of each row's k nearest neighbours (among the rows watched) kept
    cos_before: float  # mean pairwise cosine of the group before
    cos_after: float  # and after


def fine_tune_drift(
    model: WindowLM,
    domain: torch.Tensor,
    watched: torch.Tensor,
    groups: dict[str, torch.Tensor],
    steps: int,
    k: int = 10,
    **train_options,
) -> dict[str, Drift]:
    """Fine-tune a copy of ``model`` on ``domain`` and report how the watched rows moved.

    ``watched`` [V] bool selects the rows to follow (e.g. well-trained tokens); each mask
    in ``groups`` ([V] bool) picks a subset of them. Neighbours are found among the
    watched rows, before and after, by cosine (:func:`rare_tokens.neighbour_overlap`).
    ``train_options`` go to :func:`train_window_lm` (lr, seed, optimizer, batch_size).
    The original ``model`` is left untouched.
    """
    from copy import deepcopy

    from .diagnostics import mean_cosine
    from .rare_tokens import neighbour_overlap

    if watched.dtype != torch.bool or watched.shape != (model.wte.num_embeddings,):
        raise ValueError(f"watched must be a [{model.wte.num_embeddings}] bool mask, "
                         f"got {watched.dtype} {tuple(watched.shape)}")
    tuned = deepcopy(model)
    before = tuned.wte.weight.detach().clone()[watched]  # (n, d)
    train_window_lm(tuned, domain, steps=steps, **train_options)
    after = tuned.wte.weight.detach()[watched]  # (n, d)
    kept = neighbour_overlap(before, after, k=k)  # (n,)
    moved = (after - before).norm(dim=1) / before.norm(dim=1)  # (n,)
    report = {}
    for name, mask in groups.items():
        inside = mask[watched]
        if int(inside.sum()) < 2:
            raise ValueError(f"group {name!r} has {int(inside.sum())} watched rows; need >= 2")
        report[name] = Drift(int(inside.sum()), float(moved[inside].mean()), float(kept[inside].mean()),
                             mean_cosine(before[inside]), mean_cosine(after[inside]))
    return report
