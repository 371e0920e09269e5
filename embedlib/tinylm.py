"""A tiny decoder-only character language model, small enough to train in seconds on a CPU.

Used by the positional chapter (train at a short length, evaluate beyond it) and available
to other chapters. Pre-LayerNorm GPT-style blocks (Radford et al., 2019; layout as in
karpathy/nanoGPT), a choice of position scheme, optionally tied input/output embeddings.

Stable public API::

    vocab, train_ids, heldout_ids = lee_char_corpus()        # gensim's Lee corpus as char ids
    config = TinyLMConfig(vocab_size=len(vocab), positions="rope")
    result = train_lm(config, train_ids, steps=500, seed=0)  # fixed steps: reproducible
    logits = result.model(ids)                                # ids [batch, seq] -> [batch, seq, vocab]
    layers = result.model.hidden_states(ids)                  # n_layers + 1 tensors [batch, seq, d_model]
    per_position = loss_by_position(result.model, heldout_ids, length=512)  # [512] nats/char
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .attention import SCHEMES, check_scheme, position_attention
from .data import read_text
from .positional import LearnedPositionalEmbedding, RopeScaling, sinusoidal_encoding

UNKNOWN = "\ufffd"  # id 0: any character the training text does not contain


@dataclass(frozen=True)
class CharVocab:
    """A character vocabulary; id 0 is reserved for characters unseen when it was built."""

    chars: tuple[str, ...]

    @classmethod
    def from_text(cls, text: str) -> "CharVocab":
        return cls((UNKNOWN,) + tuple(sorted(set(text) - {UNKNOWN})))

    def __len__(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> torch.Tensor:
        """Text -> ids [len(text)] (int64); unseen characters become id 0."""
        index = {c: i for i, c in enumerate(self.chars)}
        return torch.tensor([index.get(c, 0) for c in text], dtype=torch.long)

    def decode(self, ids: torch.Tensor | list[int]) -> str:
        """Ids -> text; raises IndexError naming an id outside 0 .. len(vocab) - 1."""
        out = []
        for i in torch.as_tensor(ids).flatten().tolist():
            if not 0 <= i < len(self.chars):
                raise IndexError(f"id {i} is not in this vocabulary (ids 0 to {len(self.chars) - 1})")
            out.append(self.chars[i])
        return "".join(out)


def lee_char_corpus() -> tuple[CharVocab, torch.Tensor, torch.Tensor]:
    """Gensim's Lee news corpus as characters: (vocab, training ids, held-out ids).

    Training text: ``lee_background.cor`` (~360k characters); held out: ``lee.cor`` (~25k).
    The vocabulary is built from the training text only.
    """
    train_text, heldout_text = read_text("lee_background.cor"), read_text("lee.cor")
    vocab = CharVocab.from_text(train_text)
    return vocab, vocab.encode(train_text), vocab.encode(heldout_text)


@dataclass
class TinyLMConfig:
    """Shape and position scheme of a :class:`TinyLM`.

    positions: one of ``"rope"``, ``"alibi"``, ``"learned"``, ``"sinusoidal"``, ``"none"``.
    max_positions: the training context; the size of the ``"learned"`` table, and the length
        past which RoPE warns (:class:`embedlib.positional.RopeLengthWarning`) unless
        ``rope_scaling`` is set.
    attention_window: if set, each position attends only to the last ``attention_window``
        positions (itself included), a sliding window.
    """

    vocab_size: int
    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    positions: str = "rope"
    rope_base: float = 10000.0
    rope_scaling: RopeScaling | None = None
    max_positions: int = 64
    tie_embeddings: bool = True
    mlp_ratio: int = 4
    attention_window: int | None = None

    def __post_init__(self) -> None:
        check_scheme(self.positions)
        if self.vocab_size <= 0:
            raise ValueError(f"vocab_size must be positive, got {self.vocab_size}")
        if self.d_model % self.n_heads:
            raise ValueError(f"d_model={self.d_model} is not divisible by n_heads={self.n_heads}")
        if self.positions == "rope" and (self.d_model // self.n_heads) % 2:
            raise ValueError(f"RoPE needs an even head size, got {self.d_model // self.n_heads}")


class Block(nn.Module):
    """x + attention(LN(x)), then x + MLP(LN(x))."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        self.config = config
        d = config.d_model
        self.ln_1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.proj = nn.Linear(d, d, bias=False)
        self.ln_2 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, config.mlp_ratio * d), nn.GELU(), nn.Linear(config.mlp_ratio * d, d))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        c = self.config
        batch, seq, d = x.shape
        q, k, v = self.qkv(self.ln_1(x)).split(d, dim=-1)  # each [batch, seq, d]
        q, k, v = (t.view(batch, seq, c.n_heads, d // c.n_heads).transpose(1, 2) for t in (q, k, v))  # [b, h, s, dh]
        out = position_attention(
            q, k, v, scheme=c.positions, causal=True, rope_base=c.rope_base, rope_scaling=c.rope_scaling,
            trained_length=c.max_positions, window=c.attention_window,
        )
        x = x + self.proj(out.transpose(1, 2).reshape(batch, seq, d))  # [batch, seq, d]
        return x + self.mlp(self.ln_2(x))


class TinyLM(nn.Module):
    """Decoder-only LM: embeddings (+ absolute positions) -> blocks -> LayerNorm -> vocabulary."""

    def __init__(self, config: TinyLMConfig) -> None:
        super().__init__()
        config = replace(config)  # the model's own copy: setters below never touch the caller's
        self.config = config
        self.wte = nn.Embedding(config.vocab_size, config.d_model)
        self.wpe = (
            LearnedPositionalEmbedding(config.max_positions, config.d_model) if config.positions == "learned" else None
        )
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layers))
        self.ln_f = nn.LayerNorm(config.d_model)
        self.head = nn.Linear(config.d_model, config.vocab_size, bias=False)
        self.apply(self._init)
        if config.tie_embeddings:
            self.head.weight = self.wte.weight  # one [vocab, d] matrix for input and output

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def set_rope_scaling(self, scaling: RopeScaling | None) -> None:
        """Use a RoPE context-extension method from now on (no retraining); None turns it off.

        Changes this model's own copy of the config (shared by its blocks), never the config
        object the model was built from.
        """
        self.config.rope_scaling = scaling

    def set_attention_window(self, window: int | None) -> None:
        """Attend only to the last ``window`` positions from now on; None: to all earlier ones."""
        self.config.attention_window = window

    def hidden_states(self, ids: torch.Tensor) -> list[torch.Tensor]:
        """The input to the first block and the output of every block: n_layers + 1 x [batch, seq, d]."""
        if ids.ndim != 2:
            raise ValueError(f"ids must have shape [batch, seq], got {tuple(ids.shape)}")
        if ids.numel() and (int(ids.max()) >= self.config.vocab_size or int(ids.min()) < 0):
            raise IndexError(f"ids must lie in 0 .. {self.config.vocab_size - 1}, got {int(ids.min())} .. {int(ids.max())}")
        seq = ids.shape[1]
        x = self.wte(ids)  # [batch, seq, d]
        if self.wpe is not None:
            x = x + self.wpe(torch.arange(seq, device=ids.device))
        elif self.config.positions == "sinusoidal":
            x = x + sinusoidal_encoding(seq, self.config.d_model).to(x)
        states = [x]
        for block in self.blocks:
            states.append(block(states[-1]))
        return states

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """ids [batch, seq] -> next-character logits [batch, seq, vocab]."""
        return self.head(self.ln_f(self.hidden_states(ids)[-1]))


@dataclass
class TrainResult:
    """A trained model and its training loss (nats/char) at every step."""

    model: TinyLM
    losses: list[float] = field(default_factory=list)


def random_windows(ids: torch.Tensor, batch_size: int, context: int, generator: torch.Generator) -> torch.Tensor:
    """``batch_size`` random windows of ``context + 1`` consecutive ids: [batch, context + 1]."""
    if ids.numel() <= context + 1:
        raise ValueError(f"need more than {context + 1} ids for windows of {context}, got {ids.numel()}")
    starts = torch.randint(0, ids.numel() - context - 1, (batch_size,), generator=generator)  # [batch]
    return torch.stack([ids[s : s + context + 1] for s in starts.tolist()])  # [batch, context + 1]


def train_lm(
    model: TinyLMConfig | TinyLM,
    ids: torch.Tensor,
    *,
    steps: int,
    batch_size: int = 32,
    context: int | None = None,
    lr: float = 5e-3,
    weight_decay: float = 0.0,
    warmup_steps: int | None = None,
    seed: int = 0,
    callback: Callable[[int, TinyLM, float], None] | None = None,
) -> TrainResult:
    """Train on random windows of ``ids`` for exactly ``steps`` AdamW steps; reproducible.

    A config builds a fresh model (initialised from ``seed``); a model is trained further.
    ``context`` defaults to ``config.max_positions``. Learning rate: linear warm-up over
    ``warmup_steps`` (default 5% of steps), then cosine decay to 0; gradients clipped at 1.
    ``callback(step, model, loss)`` runs after every step (e.g. to take snapshots).
    """
    if steps <= 0:
        raise ValueError(f"steps must be positive, got {steps}")
    torch.manual_seed(seed)
    net = TinyLM(model) if isinstance(model, TinyLMConfig) else model
    context = context or net.config.max_positions
    warmup = max(1, steps // 20) if warmup_steps is None else warmup_steps
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay, betas=(0.9, 0.99))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, steps - warmup)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    result = TrainResult(net)
    net.train()
    for step in range(steps):
        batch = random_windows(ids, batch_size, context, generator)  # [batch, context + 1]
        logits = net(batch[:, :-1])  # [batch, context, vocab]
        loss = F.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        result.losses.append(loss.item())
        if callback is not None:
            callback(step, net, result.losses[-1])
    net.eval()
    return result


@torch.no_grad()
def loss_by_position(
    model: TinyLM, ids: torch.Tensor, length: int = 512, batch_size: int = 16, max_windows: int | None = None
) -> torch.Tensor:
    """Mean next-character loss (nats) at each position 0 .. length-1, shape [length].

    ``ids`` is cut into consecutive, non-overlapping windows of ``length + 1``; position t's
    loss is that of predicting character t + 1 from characters 0 .. t of its window.
    """
    n_windows = ids.numel() // (length + 1)
    if max_windows is not None:
        n_windows = min(n_windows, max_windows)
    if n_windows == 0:
        raise ValueError(f"{ids.numel()} ids are too few for one window of {length + 1}; lower length")
    windows = ids[: n_windows * (length + 1)].view(n_windows, length + 1)  # [windows, length + 1]
    was_training = model.training
    model.eval()
    total = torch.zeros(length, dtype=torch.float64)
    for batch in windows.split(batch_size):
        logits = model(batch[:, :-1])  # [b, length, vocab]
        losses = F.cross_entropy(logits.transpose(1, 2), batch[:, 1:], reduction="none")  # [b, length]
        total += losses.double().sum(0)
    model.train(was_training)
    return (total / n_windows).float()


@torch.no_grad()
def loss_by_input_length(
    model: TinyLM, ids: torch.Tensor, edges: tuple[int, ...] = (0, 64, 128, 256, 512), batch_size: int = 16
) -> list[float]:
    """Mean loss in each bin [a, b) of ``edges``, each bin read from inputs of length b.

    :func:`loss_by_position` reads every position from one long window, so anything that
    depends on the input length (dynamic RoPE scaling) is set for the longest input even at
    position 0. Here bin [a, b) is the mean loss at positions a .. b-1 of windows of b + 1
    characters, as a model meets them while its input grows.
    """
    if list(edges) != sorted(edges) or len(edges) < 2:
        raise ValueError(f"edges must increase, got {edges}")
    return [
        loss_by_position(model, ids, length=b, batch_size=batch_size)[a:b].mean().item()
        for a, b in zip(edges[:-1], edges[1:])
    ]


def bin_means(per_position: torch.Tensor, edges: tuple[int, ...] = (0, 64, 128, 256, 512)) -> list[float]:
    """Means of ``per_position`` over [edges[0], edges[1]), [edges[1], edges[2]), ..."""
    if list(edges) != sorted(edges) or edges[-1] > per_position.numel():
        raise ValueError(f"edges must increase and end at most at {per_position.numel()}, got {edges}")
    return [per_position[a:b].mean().item() for a, b in zip(edges[:-1], edges[1:])]


__all__ = [
    "SCHEMES", "CharVocab", "TinyLM", "TinyLMConfig", "TrainResult", "bin_means", "lee_char_corpus",
    "loss_by_input_length", "loss_by_position", "random_windows", "train_lm",
]
