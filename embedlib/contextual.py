"""Static vs. contextual vectors: the rows of the input table and what the encoder makes of them.

all-MiniLM-L6-v2 is a BERT-style encoder (Devlin et al., 2019, arXiv:1810.04805) with six
blocks. For token ``x_t`` at position ``t`` with segment ``s_t``:

.. math::

    h^{(0)}_t = \\mathrm{LayerNorm}\\big(E_{tok}[x_t] + E_{pos}[t] + E_{type}[s_t]\\big)
    \\qquad h^{(\\ell)} = \\mathrm{Block}_\\ell\\big(h^{(\\ell-1)}\\big), \\quad \\ell = 1..6

``h^(0)`` is what ``model.embeddings(ids)`` returns ("layer 0" here); ``h^(6)`` is
``last_hidden_state``. Inside a block only self-attention reads other positions; the MLP and
the LayerNorms act on each token alone. So ``h^(0)`` depends on the token, its position and
its segment, never on its neighbours, and context enters at the first attention.

A *static* vector is a row ``E_tok[x]`` of the table: one per token, whatever the sentence
(as word2vec gives one per word: Mikolov et al., 2013, arXiv:1301.3781).

Words that WordPiece splits into several pieces get the mean of their pieces' vectors, and
:class:`WordVector` says so.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .models import load_model, load_tokenizer
from .similarity import cosine_matrix


@dataclass(frozen=True)
class WordVector:
    """A word's vector, and how it was obtained.

    ``layer`` is None for a static vector (rows of the input table: no position, no context).
    ``positions`` index the tokenised sentence, where ``[CLS]`` is position 0.
    """

    word: str
    layer: int | None
    pieces: tuple[str, ...]
    positions: tuple[int, ...]
    piece_vectors: torch.Tensor  # [pieces, d]
    vector: torch.Tensor  # [d], the mean of piece_vectors

    @property
    def averaged(self) -> bool:
        """True when the word was split into several pieces and ``vector`` is their mean."""
        return len(self.pieces) > 1

    def __str__(self) -> str:
        rows = "input table rows" if self.averaged else "input table row"
        where = rows if self.layer is None else f"layer {self.layer}"
        pieces = f"{len(self.pieces)} pieces {list(self.pieces)}" if self.averaged else f"1 piece {list(self.pieces)}"
        at = f" at positions {list(self.positions)}" if self.positions else ""
        mean = ", averaged" if self.averaged else ""
        return f"{self.word!r}: {pieces}{at}{mean}; {where}, width {self.vector.shape[-1]}"


def num_layers() -> int:
    """The number of transformer blocks; valid layers are ``0..num_layers()``."""
    return load_model().config.num_hidden_layers


def check_layer(layer: int) -> int:
    """Return ``layer`` if it names a layer of the model, else raise ``ValueError``."""
    top = num_layers()
    if isinstance(layer, bool) or not isinstance(layer, numbers.Integral) or not 0 <= layer <= top:
        raise ValueError(
            f"layer {layer!r} is out of range: choose an integer from 0 to {top} "
            f"(0 = output of model.embeddings, {top} = last_hidden_state)"
        )
    return int(layer)


def encode(text: str):
    """Tokenise ``text`` with character offsets; raise ``ValueError`` if it is too long."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a non-empty sentence, got {text!r}")
    encoding = load_tokenizer()(text, return_offsets_mapping=True, return_tensors="pt")
    length, limit = encoding.input_ids.shape[1], load_model().config.max_position_embeddings
    if length > limit:
        raise ValueError(f"the sentence has {length} tokens; the model accepts at most {limit}: shorten it")
    return encoding


def sentence_tokens(text: str) -> list[str]:
    """The tokens the model sees, ``[CLS]`` and ``[SEP]`` included."""
    return load_tokenizer().convert_ids_to_tokens(encode(text).input_ids[0].tolist())


@torch.no_grad()
def layer_states(text: str, *, context: bool = True) -> torch.Tensor:
    """Hidden states of every layer for one sentence: ``[layers + 1, tokens, d]``.

    ``context=False`` runs every token as a one-token sequence that keeps its own position
    and segment id, so self-attention can only attend to the token itself. That cuts the one
    path between positions: every vector then depends on its own token, position and segment
    alone (the same as a diagonal attention mask, without relying on how a given version of
    transformers accepts custom masks).
    """
    encoding = encode(text)
    model = load_model()
    if context:
        output = model(
            input_ids=encoding.input_ids,
            token_type_ids=encoding.token_type_ids,
            attention_mask=encoding.attention_mask,
            output_hidden_states=True,
        )
        return torch.stack(output.hidden_states)[:, 0]  # [L + 1, T, d]
    length = encoding.input_ids.shape[1]
    output = model(
        input_ids=encoding.input_ids.T,  # [T, 1]: a batch of T one-token sequences
        token_type_ids=encoding.token_type_ids.T,  # [T, 1]
        position_ids=torch.arange(length)[:, None],  # [T, 1]: each token keeps its position
        output_hidden_states=True,
    )
    return torch.stack(output.hidden_states)[:, :, 0]  # [L + 1, T, d]


def find_word(text: str, word: str, occurrence: int = 0) -> tuple[int, ...]:
    """Token positions of the ``occurrence``-th appearance of ``word`` (a whole word) in ``text``.

    Matching is case-insensitive on the raw text; the tokens whose character spans fall inside
    the match are returned. Raises ``ValueError`` naming the word and the sentence's tokens.
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"expected a word, got {word!r}")
    encoding = encode(text)
    spans = [m.span() for m in re.finditer(rf"(?<!\w){re.escape(word.strip())}(?!\w)", text, re.IGNORECASE)]
    tokens = load_tokenizer().convert_ids_to_tokens(encoding.input_ids[0].tolist())
    if not spans:
        raise ValueError(f"{word!r} is not a word of the sentence {text!r}; its tokens are {tokens}")
    if not 0 <= occurrence < len(spans):
        raise ValueError(
            f"{word!r} occurs {len(spans)} time(s) in {text!r}; occurrence must be in 0..{len(spans) - 1}"
        )
    start, end = spans[occurrence]
    offsets = encoding.offset_mapping[0].tolist()  # [(start, end)] per token; (0, 0) for specials
    positions = tuple(i for i, (a, b) in enumerate(offsets) if b > a and a >= start and b <= end)
    if not positions:
        raise ValueError(f"{word!r} produced no tokens in {text!r}; its tokens are {tokens}")
    return positions


def _word_vector(text: str, word: str, states: torch.Tensor, layer: int, positions: tuple[int, ...]) -> WordVector:
    tokens = sentence_tokens(text)
    pieces = states[layer, list(positions)]  # [pieces, d]
    return WordVector(word, layer, tuple(tokens[p] for p in positions), positions, pieces, pieces.mean(dim=0))


def token_vectors(text: str, word: str, layer: int | None = None, *, occurrence: int = 0, context: bool = True) -> WordVector:
    """The vector of ``word`` in the sentence ``text`` at ``layer`` (default: the last, 6).

    Layer 0 is the output of ``model.embeddings`` (table row + position + segment, then
    LayerNorm); layers 1..6 are the blocks' outputs. A word split into several WordPiece
    tokens gets the mean of its pieces (``result.averaged`` is then True).

    Example::

        >>> river = token_vectors("We sat on the bank of the river.", "bank", layer=6)
        >>> river.pieces, river.vector.shape
        (('bank',), torch.Size([384]))
    """
    layer = num_layers() if layer is None else check_layer(layer)
    positions = find_word(text, word, occurrence)
    return _word_vector(text, word, layer_states(text, context=context), layer, positions)


def word_layers(text: str, word: str, *, occurrence: int = 0, context: bool = True) -> torch.Tensor:
    """The vector of ``word`` in ``text`` at every layer, from one forward pass: ``[layers + 1, d]``."""
    positions = find_word(text, word, occurrence)
    return layer_states(text, context=context)[:, list(positions)].mean(dim=1)  # [L + 1, d]


def static_vector(word: str) -> WordVector:
    """The row(s) of the input table for ``word``: no position, no segment, no context.

    A word split by WordPiece returns the mean of its pieces' rows (``averaged`` is True).
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"expected a word, got {word!r}")
    tokenizer = load_tokenizer()
    ids = tokenizer(word.strip(), add_special_tokens=False).input_ids
    if not ids:
        raise ValueError(f"{word!r} produced no tokens; pass a word with letters or digits")
    rows = load_model().get_input_embeddings().weight.detach()[ids]  # [pieces, d]
    return WordVector(word, None, tuple(tokenizer.convert_ids_to_tokens(ids)), (), rows, rows.mean(dim=0))


# --- senses: how far apart the vectors of one word in two meanings are, layer by layer ---

# Sentences written for this course: "bank" once per sentence, as one WordPiece token, at
# varied positions (some positions shared across senses, so layer 0 can be compared fairly).
BANK_SENTENCES: dict[str, tuple[str, ...]] = {
    "river": (
        "We had a picnic on the grassy bank of the river.",
        "The bank was steep and slippery after the rain.",
        "The canoe drifted slowly toward the muddy bank.",
        "Reeds and willows grew thick along the east bank of the stream.",
        "After the storm the river burst its bank and flooded the fields.",
        "A heron stood motionless on the bank, watching the water.",
        "Fishermen lined the bank of the lake at dawn.",
        "The path follows the bank of the canal for two miles.",
    ),
    "money": (
        "She deposited her paycheck at the bank on Monday.",
        "The bank approved our mortgage after a long wait.",
        "He withdrew cash from the bank to pay the rent.",
        "The central bank raised interest rates again this year.",
        "My bank charges a fee for every international transfer.",
        "Robbers broke into the bank and emptied the vault.",
        "I need to call the bank about a missing payment.",
        "The bank lent the company money to build a new factory.",
    ),
}



def sense_vectors(sentences: Mapping[str, Sequence[str]], word: str) -> tuple[torch.Tensor, list[str]]:
    """Vectors of ``word`` at every layer in sentences grouped by sense.

    ``sentences`` maps a sense name to its sentences. Returns ``[n, layers + 1, d]`` and the
    sense label of each of the ``n`` sentences.
    """
    labels = [sense for sense, group in sentences.items() for _ in group]
    check_labels(labels)
    vectors = [word_layers(text, word) for group in sentences.values() for text in group]
    return torch.stack(vectors), labels  # [n, L + 1, d]


def check_labels(labels: Sequence[str]) -> None:
    """Require at least two senses, each with at least two examples."""
    counts = {label: list(labels).count(label) for label in labels}
    if len(counts) < 2 or min(counts.values()) < 2:
        raise ValueError(f"need at least two senses with at least two sentences each, got counts {counts}")


def pair_similarities(vectors: torch.Tensor, labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines of all pairs ``i < j`` of ``vectors`` ``[n, d]``: (same-sense pairs, cross-sense pairs)."""
    if vectors.ndim != 2 or vectors.shape[0] != len(labels):
        raise ValueError(f"expected [n, d] vectors for {len(labels)} labels, got shape {tuple(vectors.shape)}")
    check_labels(labels)
    codes = torch.tensor([sorted(set(labels)).index(label) for label in labels])  # [n]
    cosines = cosine_matrix(vectors)  # [n, n]
    upper = torch.ones_like(cosines, dtype=torch.bool).triu(diagonal=1)  # each pair once, no self-pairs
    same = codes[:, None] == codes[None, :]  # [n, n]
    return cosines[upper & same], cosines[upper & ~same]


def nearest_neighbour_accuracy(vectors: torch.Tensor, labels: Sequence[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy with cosine similarity.

    Each vector is classified by the sense of its most similar *other* vector (ties go to
    the lower index); the result is the fraction classified correctly.
    """
    if vectors.ndim != 2 or vectors.shape[0] != len(labels):
        raise ValueError(f"expected [n, d] vectors for {len(labels)} labels, got shape {tuple(vectors.shape)}")
    check_labels(labels)
    cosines = cosine_matrix(vectors).fill_diagonal_(-torch.inf)  # [n, n], a vector may not pick itself
    neighbours = cosines.argmax(dim=1).tolist()
    return sum(labels[j] == labels[i] for i, j in enumerate(neighbours)) / len(labels)


@dataclass(frozen=True)
class LayerSeparation:
    """How well one layer separates the senses of a word."""

    layer: int
    same_mean: float
    same_min: float
    cross_mean: float
    cross_max: float
    nn_accuracy: float

    @property
    def gap(self) -> float:
        """Mean same-sense cosine minus mean cross-sense cosine."""
        return self.same_mean - self.cross_mean

    @property
    def overlap(self) -> bool:
        """True when some cross-sense pair is more similar than some same-sense pair."""
        return self.cross_max > self.same_min


def separation_by_layer(vectors: torch.Tensor, labels: Sequence[str]) -> list[LayerSeparation]:
    """One :class:`LayerSeparation` per layer of ``vectors`` ``[n, layers + 1, d]``."""
    if vectors.ndim != 3:
        raise ValueError(f"expected [n, layers + 1, d] vectors, got shape {tuple(vectors.shape)}")
    rows = []
    for layer in range(vectors.shape[1]):
        at_layer = vectors[:, layer]  # [n, d]
        same, cross = pair_similarities(at_layer, labels)
        rows.append(
            LayerSeparation(
                layer,
                same.mean().item(),
                same.min().item(),
                cross.mean().item(),
                cross.max().item(),
                nearest_neighbour_accuracy(at_layer, labels),
            )
        )
    return rows


def best_layer(separations: Sequence[LayerSeparation]) -> int:
    """The layer with the largest same-minus-cross gap (the first one on a tie)."""
    if not separations:
        raise ValueError("no layers given: pass the list from separation_by_layer")
    return max(separations, key=lambda s: (s.gap, -s.layer)).layer


# --- the static side: word2vec, one vector per word ---






__all__ = [
    "BANK_SENTENCES",
    "LayerSeparation",
    "WordVector",
    "best_layer",
    "find_word",
    "layer_states",
    "nearest_neighbour_accuracy",
    "num_layers",
    "pair_similarities",
    "sense_vectors",
    "separation_by_layer",
    "sentence_tokens",
    "static_vector",
    "token_vectors",
    "word_layers",
]
