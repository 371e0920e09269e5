"""Static vs. contextual vectors: the rows of the input table and what a transformer makes of them.

Two real models are compared.

all-MiniLM-L6-v2 (``model="minilm"``) is a BERT-style encoder (Devlin et al., 2019,
arXiv:1810.04805) with six blocks. For token ``x_t`` at position ``t`` with segment ``s_t``:

.. math::

    h^{(0)}_t = \\mathrm{LayerNorm}\\big(E_{tok}[x_t] + E_{pos}[t] + E_{type}[s_t]\\big)
    \\qquad h^{(\\ell)} = \\mathrm{Block}_\\ell\\big(h^{(\\ell-1)}\\big), \\quad \\ell = 1..6

``h^(0)`` is what ``model.embeddings(ids)`` returns ("layer 0" here); ``h^(6)`` is
``last_hidden_state``. Inside a block only self-attention reads other positions; the MLP and
the LayerNorms act on each token alone. So ``h^(0)`` depends on the token, its position and
its segment, never on its neighbours, and context enters at the first attention.

SmolLM2-135M (``model="smollm2"``) is a LLaMA-style decoder with 30 blocks. Its first block
receives the raw table row, ``h^(0)_t = E_tok[x_t]``: no position or segment vector is
added, because RoPE rotates queries and keys inside every attention instead (Su et al., 2021,
arXiv:2104.09864). A causal mask lets token ``t`` read only positions ``<= t``.

A *static* vector is a row ``E_tok[x]`` of the table: one per token, whatever the sentence
(as word2vec gives one per word: Mikolov et al., 2013, arXiv:1301.3781).

Words that the tokenizer splits into several pieces get the mean of their pieces' vectors,
and :class:`WordVector` says so.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from .models import load_model, load_tokenizer
from .similarity import cosine_matrix

MODELS = ("minilm", "smollm2")
TIE_TOLERANCE = 1e-6  # cosines closer than this count as a tie in nearest-neighbour rules


def _check_model_name(model: str) -> str:
    if model not in MODELS:
        raise ValueError(f"model {model!r} is not known here: choose one of {MODELS}")
    return model


def get_model(model: str = "minilm"):
    """The transformers model named ``model`` (``"minilm"`` or ``"smollm2"``), loaded once.

    SmolLM2's local copy is dequantised from 4-bit (Q4_1) weights: see ``embedlib.models``.
    """
    return load_model(_check_model_name(model))


def get_tokenizer(model: str = "minilm"):
    """The tokenizer of ``model`` (``"minilm"`` or ``"smollm2"``), loaded once."""
    return load_tokenizer(_check_model_name(model))


@dataclass(frozen=True)
class WordVector:
    """A word's vector, and how it was obtained.

    ``layer`` is None for a static vector (rows of the input table: no position, no context),
    and the layer's number otherwise. ``positions`` index the tokenised sentence (for MiniLM
    ``[CLS]`` is position 0).
    """

    word: str
    layer: int | None
    pieces: tuple[str, ...]
    positions: tuple[int, ...]
    piece_vectors: torch.Tensor  # [pieces, d]
    vector: torch.Tensor  # [d], the mean of piece_vectors

    @property
    def static(self) -> bool:
        """True for rows of the input table (``layer`` is None)."""
        return self.layer is None

    @property
    def averaged(self) -> bool:
        """True when the word was split into several pieces and ``vector`` is their mean."""
        return len(self.pieces) > 1

    def __str__(self) -> str:
        rows = "input table rows" if self.averaged else "input table row"
        where = rows if self.static else f"layer {self.layer}"
        count = f"{len(self.pieces)} pieces" if self.averaged else "1 piece"
        at = f" at positions {list(self.positions)}" if self.positions else ""
        mean = ", averaged" if self.averaged else ""
        width = self.vector.shape[-1]
        return f"{self.word!r}: {count} {list(self.pieces)}{at}{mean}; {where}, width {width}"


def num_layers(model: str = "minilm") -> int:
    """The number of transformer blocks; valid layers are ``0..num_layers(model)``."""
    return get_model(model).config.num_hidden_layers


def check_layer(layer: int, model: str = "minilm") -> int:
    """Return ``layer`` if it names a layer of ``model``, else raise ``ValueError``."""
    top = num_layers(model)
    integral = isinstance(layer, numbers.Integral) and not isinstance(layer, bool)
    if not integral or not 0 <= layer <= top:
        zero = "output of model.embeddings" if model == "minilm" else "the raw table rows"
        raise ValueError(
            f"layer {layer!r} is out of range: choose an integer from 0 to {top} "
            f"(0 = {zero}, {top} = last_hidden_state)"
        )
    return int(layer)


@dataclass(frozen=True)
class Sentence:
    """One tokenisation of a sentence: ids, tokens and character offsets, made once."""

    text: str
    model: str
    encoding: Mapping[str, torch.Tensor]  # input_ids etc., each [1, T]
    tokens: tuple[str, ...]
    offsets: tuple[tuple[int, int], ...]  # (start, end) per token; (0, 0) for specials

    def __len__(self) -> int:
        return len(self.tokens)


def encode(text: str, model: str = "minilm") -> Sentence:
    """Tokenise ``text`` for ``model`` once; raise ``ValueError`` if it is empty or too long."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError(f"expected a non-empty sentence, got {text!r}")
    tokenizer = get_tokenizer(model)
    encoding = tokenizer(text, return_offsets_mapping=True, return_tensors="pt")
    offsets = tuple(tuple(pair) for pair in encoding.pop("offset_mapping")[0].tolist())
    length = encoding["input_ids"].shape[1]
    limit = get_model(model).config.max_position_embeddings
    if length > limit:
        raise ValueError(f"the sentence has {length} tokens; the model accepts at most {limit}: shorten it")
    tokens = tuple(tokenizer.convert_ids_to_tokens(encoding["input_ids"][0].tolist()))
    return Sentence(text, model, dict(encoding), tokens, offsets)


def sentence_tokens(text: str, model: str = "minilm") -> list[str]:
    """The tokens the model sees (for MiniLM ``[CLS]`` and ``[SEP]`` included)."""
    return list(encode(text, model).tokens)


def self_only_mask(length: int, isolate: Sequence[int] | None = None) -> torch.Tensor:
    """A ``[length, length]`` attention mask (row = query, True = may attend to that key).

    The positions in ``isolate`` (default: all) may attend only to themselves; every other
    position attends to the whole sentence. ``self_only_mask(T)`` is the identity matrix.
    """
    if not isinstance(length, numbers.Integral) or length < 1:
        raise ValueError(f"expected a positive length, got {length!r}")
    rows = range(length) if isolate is None else list(isolate)
    if any(not 0 <= p < length for p in rows):
        raise ValueError(f"positions to isolate must lie in 0..{length - 1}, got {list(rows)}")
    mask = torch.ones(length, length, dtype=torch.bool)
    eye = torch.eye(length, dtype=torch.bool)
    mask[list(rows)] = eye[list(rows)]
    return mask


def _model_inputs(sentence: Sentence) -> dict[str, torch.Tensor]:
    return {k: v for k, v in sentence.encoding.items() if k in ("input_ids", "token_type_ids")}


@torch.no_grad()
def sentence_states(sentence: Sentence, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Hidden states of every layer for an encoded sentence: ``[layers + 1, T, d]``.

    ``mask`` (``[T, T]`` bool, see :func:`self_only_mask`) replaces the full attention of
    MiniLM; the sentence, its positions and segments stay the same. The decoder keeps its
    causal mask (``mask`` must be None).
    """
    model = get_model(sentence.model)
    inputs = _model_inputs(sentence)
    if mask is None:
        attention = sentence.encoding["attention_mask"]  # [1, T], all ones: one sentence
    elif sentence.model != "minilm":
        raise ValueError("custom attention masks are supported for the encoder (minilm) only")
    elif tuple(mask.shape) != (len(sentence), len(sentence)) or mask.dtype != torch.bool:
        raise ValueError(f"expected a [{len(sentence)}, {len(sentence)}] bool mask, got {tuple(mask.shape)} {mask.dtype}")
    else:
        attention = mask[None, None]  # [1, 1, T, T]: one row of allowed keys per query
    output = model(**inputs, attention_mask=attention, output_hidden_states=True)
    return torch.stack(output.hidden_states)[:, 0]  # [L + 1, T, d]


def layer_states(text: str, *, isolate: Sequence[int] | str | None = None, model: str = "minilm") -> torch.Tensor:
    """Hidden states of every layer for one sentence: ``[layers + 1, tokens, d]``.

    ``isolate="all"`` lets every token attend only to itself (a diagonal mask); a list of
    positions isolates only those tokens, the rest of the sentence attending normally. The
    whole sentence is always run as one sequence: only the attention mask changes.
    """
    sentence = encode(text, model)
    return sentence_states(sentence, _mask_for(sentence, isolate))


def _mask_for(sentence: Sentence, isolate) -> torch.Tensor | None:
    if isolate is None:
        return None
    if isolate == "all":
        return self_only_mask(len(sentence))
    if isinstance(isolate, str):
        raise ValueError(f"isolate must be None, 'all' or a list of positions, got {isolate!r}")
    return self_only_mask(len(sentence), isolate)


def _word_positions(sentence: Sentence, word: str, occurrence: int) -> tuple[int, ...]:
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"expected a word, got {word!r}")
    pattern = rf"(?<!\w){re.escape(word.strip())}(?!\w)"
    spans = [m.span() for m in re.finditer(pattern, sentence.text, re.IGNORECASE)]
    tokens = list(sentence.tokens)
    if not spans:
        raise ValueError(f"{word!r} is not a word of the sentence {sentence.text!r}; its tokens are {tokens}")
    if not 0 <= occurrence < len(spans):
        raise ValueError(
            f"{word!r} occurs {len(spans)} time(s) in {sentence.text!r}; "
            f"occurrence must be in 0..{len(spans) - 1}"
        )
    start, end = spans[occurrence]
    # a token belongs to the word when its span overlaps the word's (BPE spans include a
    # leading space, WordPiece spans do not); specials have empty spans
    positions = tuple(i for i, (a, b) in enumerate(sentence.offsets) if b > a and a < end and b > start)
    if not positions:
        raise ValueError(f"{word!r} produced no tokens in {sentence.text!r}; its tokens are {tokens}")
    return positions


def find_word(text: str, word: str, occurrence: int = 0, *, model: str = "minilm") -> tuple[int, ...]:
    """Token positions of the ``occurrence``-th appearance of ``word`` (a whole word) in ``text``.

    Matching is case-insensitive on the raw text; the tokens whose character spans overlap
    the match are returned. Raises ``ValueError`` naming the word and the sentence's tokens.
    """
    return _word_positions(encode(text, model), word, occurrence)


def token_vectors(
    text: str,
    word: str,
    layer: int,
    *,
    occurrence: int = 0,
    isolate: str | None = None,
    model: str = "minilm",
) -> WordVector:
    """The vector of ``word`` in the sentence ``text`` at ``layer`` (0..6 for MiniLM).

    For MiniLM layer 0 is the output of ``model.embeddings`` (table row + position +
    segment, then LayerNorm); for SmolLM2 it is the raw table row. Higher layers are the
    blocks' outputs. A word split into several tokens gets the mean of its pieces
    (``result.averaged`` is then True). ``isolate`` as in :func:`word_layers`. The sentence
    is tokenised once.

    Example::

        >>> river = token_vectors("We sat on the bank of the river.", "bank", 6)
        >>> river.pieces, river.vector.shape
        (('bank',), torch.Size([384]))
    """
    layer = check_layer(layer, model)
    sentence = encode(text, model)
    positions = _word_positions(sentence, word, occurrence)
    states = sentence_states(sentence, _word_mask(sentence, positions, isolate))
    pieces = states[layer, list(positions)]  # [pieces, d]
    names = tuple(sentence.tokens[p] for p in positions)
    return WordVector(word, layer, names, positions, pieces, pieces.mean(dim=0))


def _word_mask(sentence: Sentence, positions: tuple[int, ...], isolate: str | None) -> torch.Tensor | None:
    if isolate not in (None, "all", "word"):
        raise ValueError(f"isolate must be None, 'all' or 'word', got {isolate!r}")
    return _mask_for(sentence, positions if isolate == "word" else isolate)


def word_layers(
    text: str, word: str, *, occurrence: int = 0, isolate: str | None = None, model: str = "minilm"
) -> torch.Tensor:
    """The vector of ``word`` in ``text`` at every layer, from one forward pass: ``[layers + 1, d]``.

    ``isolate=None`` runs full attention; ``"all"`` lets every token attend only to itself;
    ``"word"`` lets only the word's own tokens attend only to themselves, while the rest of
    the sentence attends normally. Masks apply to MiniLM only.
    """
    sentence = encode(text, model)
    positions = _word_positions(sentence, word, occurrence)
    states = sentence_states(sentence, _word_mask(sentence, positions, isolate))
    return states[:, list(positions)].mean(dim=1)  # [L + 1, d]


def static_vector(word: str, model: str = "minilm") -> WordVector:
    """The row(s) of the input table for ``word``: no position, no segment, no context.

    A word split into several tokens returns the mean of its pieces' rows (``averaged``).
    """
    if not isinstance(word, str) or not word.strip():
        raise ValueError(f"expected a word, got {word!r}")
    tokenizer = get_tokenizer(model)
    ids = tokenizer(word.strip(), add_special_tokens=False).input_ids
    if not ids:
        raise ValueError(f"{word!r} produced no tokens; pass a word with letters or digits")
    rows = get_model(model).get_input_embeddings().weight.detach()[ids]  # [pieces, d]
    pieces = tuple(tokenizer.convert_ids_to_tokens(ids))
    return WordVector(word, None, pieces, (), rows, rows.mean(dim=0))


@torch.no_grad()
def attention_weights(text: str) -> torch.Tensor:
    """MiniLM's attention probabilities for one sentence: ``[layers, heads, T, T]``.

    Entry ``[l, h, t, s]`` is how much query ``t`` reads key ``s`` in head ``h`` of block
    ``l + 1``: ``softmax(q_t . k_s / sqrt(d_head))`` over ``s`` (Vaswani et al., 2017). The
    queries and keys are read with forward hooks during an ordinary forward pass, so the
    model's settings are left untouched.
    """
    sentence = encode(text, "minilm")
    model = get_model("minilm")
    heads = model.config.num_attention_heads
    captured: dict[tuple[int, str], torch.Tensor] = {}
    handles = []
    for index, block in enumerate(model.encoder.layer):
        for name in ("query", "key"):
            module = getattr(block.attention.self, name)

            def keep(module, inputs, output, index=index, name=name):
                captured[index, name] = output[0]  # [T, d]

            handles.append(module.register_forward_hook(keep))
    try:
        model(**_model_inputs(sentence), attention_mask=sentence.encoding["attention_mask"])
    finally:
        for handle in handles:
            handle.remove()
    weights = []
    for index in range(len(model.encoder.layer)):
        q = captured[index, "query"].unflatten(-1, (heads, -1)).transpose(0, 1)  # [H, T, dh]
        k = captured[index, "key"].unflatten(-1, (heads, -1)).transpose(0, 1)  # [H, T, dh]
        scores = q @ k.transpose(1, 2) / math.sqrt(q.shape[-1])  # [H, T, T]
        weights.append(scores.softmax(dim=-1))
    return torch.stack(weights)  # [L, H, T, T]


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


def sense_vectors(
    sentences: Mapping[str, Sequence[str]], word: str, *, model: str = "minilm"
) -> tuple[torch.Tensor, list[str]]:
    """Vectors of ``word`` at every layer in sentences grouped by sense.

    ``sentences`` maps a sense name to its sentences. Returns ``[n, layers + 1, d]`` and the
    sense label of each of the ``n`` sentences.
    """
    labels = [sense for sense, group in sentences.items() for _ in group]
    check_labels(labels)
    vectors = [word_layers(text, word, model=model) for group in sentences.values() for text in group]
    return torch.stack(vectors), labels  # [n, L + 1, d]


@torch.no_grad()
def context_specificity(sentences: Sequence[str], word: str, *, model: str = "minilm") -> tuple[torch.Tensor, torch.Tensor]:
    """Ethayarajh's self-similarity of ``word`` per layer, and its anisotropy baseline.

    Self-similarity is the mean cosine between the word's vectors in different sentences
    (Ethayarajh, 2019, arXiv:1909.00512, section 3.2). The baseline is the mean cosine
    between vectors of the *other* tokens of those sentences, taken from different sentences
    (specials excluded): what any two vectors of that layer share. Returns two ``[layers +
    1]`` tensors. A word whose self-similarity is near the baseline is context-specific.
    """
    if len(sentences) < 2:
        raise ValueError(f"need at least two sentences, got {len(sentences)}")
    words, others, owners = [], [], []
    for index, text in enumerate(sentences):
        sentence = encode(text, model)
        positions = _word_positions(sentence, word, 0)
        states = sentence_states(sentence)  # [L + 1, T, d]
        special = set(get_tokenizer(model).all_special_tokens)
        rest = [i for i, t in enumerate(sentence.tokens) if i not in positions and t not in special]
        words.append(states[:, list(positions)].mean(dim=1))  # [L + 1, d]
        others.append(states[:, rest])  # [L + 1, k, d]
        owners += [index] * len(rest)
    words = torch.stack(words, dim=1)  # [L + 1, n, d]
    others = torch.cat(others, dim=1)  # [L + 1, N, d]
    owner = torch.tensor(owners)
    apart = owner[:, None] != owner[None, :]  # [N, N]: pairs from different sentences
    n = words.shape[1]
    upper = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1)
    self_similarity = torch.stack([cosine_matrix(w)[upper].mean() for w in words])
    baseline = torch.stack([cosine_matrix(o)[apart].mean() for o in others])
    return self_similarity, baseline


def check_labels(labels: Sequence[str]) -> None:
    """Require at least two senses, each with at least two examples."""
    counts = {label: list(labels).count(label) for label in labels}
    if len(counts) < 2 or min(counts.values()) < 2:
        raise ValueError(f"need at least two senses with at least two sentences each, got counts {counts}")


def _check_vectors(vectors: torch.Tensor, labels: Sequence[str]) -> None:
    if vectors.ndim != 2 or vectors.shape[0] != len(labels):
        raise ValueError(f"expected [n, d] vectors for {len(labels)} labels, got shape {tuple(vectors.shape)}")
    check_labels(labels)


def _codes(labels: Sequence[str]) -> torch.Tensor:
    return torch.tensor([sorted(set(labels)).index(label) for label in labels])  # [n]


def pair_similarities(vectors: torch.Tensor, labels: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Cosines of all pairs ``i < j`` of ``vectors`` ``[n, d]``: (same-sense pairs, cross-sense pairs)."""
    _check_vectors(vectors, labels)
    codes = _codes(labels)
    cosines = cosine_matrix(vectors)  # [n, n]
    upper = torch.ones_like(cosines, dtype=torch.bool).triu(diagonal=1)  # each pair once
    same = codes[:, None] == codes[None, :]  # [n, n]
    return cosines[upper & same], cosines[upper & ~same]


def _nearest(cosines: torch.Tensor) -> torch.Tensor:
    """``[n, n]`` bool: j is (one of) the most similar *other* vectors of i (ties kept)."""
    others = cosines.clone().fill_diagonal_(-torch.inf)  # a vector may not pick itself
    return others >= others.max(dim=1, keepdim=True).values - TIE_TOLERANCE


def nearest_neighbour_accuracy(vectors: torch.Tensor, labels: Sequence[str]) -> float:
    """Leave-one-out 1-nearest-neighbour accuracy with cosine similarity, fair to ties.

    Each vector is classified by the sense of its most similar *other* vector. When several
    others tie for most similar (within ``TIE_TOLERANCE``, as identical vectors do), the
    vector scores the fraction of them that share its sense: the expected accuracy of
    breaking the tie at random, so the result never depends on the order of the sentences.
    """
    _check_vectors(vectors, labels)
    codes = _codes(labels)
    nearest = _nearest(cosine_matrix(vectors)).double()  # [n, n]
    same = (codes[:, None] == codes[None, :]).double()
    return ((nearest * same).sum(dim=1) / nearest.sum(dim=1)).mean().item()


def neighbour_margins(vectors: torch.Tensor, labels: Sequence[str]) -> torch.Tensor:
    """Per vector: best same-sense cosine minus best cross-sense cosine (self excluded), ``[n]``.

    Positive means the 1-NN rule gets that vector right; a margin near 0 is a near tie.
    """
    _check_vectors(vectors, labels)
    codes = _codes(labels)
    cosines = cosine_matrix(vectors).fill_diagonal_(-torch.inf)
    same = codes[:, None] == codes[None, :]
    best_same = cosines.masked_fill(~same, -torch.inf).max(dim=1).values
    best_cross = cosines.masked_fill(same, -torch.inf).max(dim=1).values
    return best_same - best_cross


def pair_auc(same: torch.Tensor, cross: torch.Tensor) -> float:
    """The fraction of (same-sense pair, cross-sense pair) combinations ordered rightly.

    1.0: every same-sense pair is more alike than every cross-sense pair (no overlap); 0.5:
    no separation. Ties count one half (the Mann-Whitney U statistic divided by its maximum).
    """
    if same.numel() == 0 or cross.numel() == 0:
        raise ValueError("need at least one same-sense and one cross-sense pair")
    difference = same[:, None] - cross[None, :]
    return ((difference > 0).double().mean() + 0.5 * (difference == 0).double().mean()).item()


@dataclass(frozen=True)
class LayerSeparation:
    """How well one layer separates the senses of a word."""

    layer: int
    same_mean: float
    same_min: float
    cross_mean: float
    cross_max: float
    nn_accuracy: float
    auc: float = float("nan")  # pair_auc of the layer's same- and cross-sense cosines

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
                pair_auc(same, cross),
            )
        )
    return rows


def best_layer(separations: Sequence[LayerSeparation]) -> int:
    """The layer with the largest same-minus-cross gap (the first one on a tie)."""
    if not separations:
        raise ValueError("no layers given: pass the list from separation_by_layer")
    return max(separations, key=lambda s: (s.gap, -s.layer)).layer


@dataclass(frozen=True)
class ShuffledNull:
    """Gap and 1-NN accuracy per layer when the sense labels are shuffled: ``[permutations, layers]``."""

    gaps: torch.Tensor
    nn_accuracy: torch.Tensor

    def p_values(self, observed: Sequence[float], which: str = "gap") -> torch.Tensor:
        """Per layer, ``(1 + #{shuffles >= observed}) / (1 + #shuffles)`` (one-sided).

        Shuffles within ``TIE_TOLERANCE`` of the observed value count as reaching it, so
        float32 rounding cannot make a layer with no separation look significant.
        """
        null = {"gap": self.gaps, "nn": self.nn_accuracy}[which]
        observed = torch.as_tensor(list(observed), dtype=null.dtype)  # [layers]
        return (1 + (null >= observed - TIE_TOLERANCE).sum(dim=0)) / (1 + null.shape[0])


def shuffled_label_null(
    vectors: torch.Tensor, labels: Sequence[str], *, permutations: int = 1000, seed: int = 0
) -> ShuffledNull:
    """What the gap and the 1-NN accuracy look like with no sense in the labels.

    The labels of ``vectors`` ``[n, layers + 1, d]`` are shuffled ``permutations`` times
    (the counts per sense stay the same) and both statistics recomputed per layer, exactly
    as :func:`separation_by_layer` computes them. A layer separates the senses only if its
    real value lies in the upper tail of this null (a permutation test).
    """
    if vectors.ndim != 3:
        raise ValueError(f"expected [n, layers + 1, d] vectors, got shape {tuple(vectors.shape)}")
    check_labels(labels)
    if permutations < 1:
        raise ValueError(f"permutations must be positive, got {permutations}")
    generator = torch.Generator().manual_seed(seed)
    codes = _codes(labels)
    n = len(labels)
    shuffled = torch.stack([codes[torch.randperm(n, generator=generator)] for _ in range(permutations)])
    same = (shuffled[:, :, None] == shuffled[:, None, :]).double()  # [P, n, n]
    upper = torch.ones(n, n, dtype=torch.bool).triu(diagonal=1).double()
    gaps, accuracy = [], []
    for layer in range(vectors.shape[1]):
        cosines = cosine_matrix(vectors[:, layer]).double()  # [n, n]
        same_upper, cross_upper = same * upper, (1 - same) * upper
        same_mean = (same_upper * cosines).sum(dim=(1, 2)) / same_upper.sum(dim=(1, 2))
        cross_mean = (cross_upper * cosines).sum(dim=(1, 2)) / cross_upper.sum(dim=(1, 2))
        gaps.append(same_mean - cross_mean)
        nearest = _nearest(cosines).double()  # [n, n], does not depend on the labels
        accuracy.append(((nearest * same).sum(dim=2) / nearest.sum(dim=1)).mean(dim=1))
    return ShuffledNull(torch.stack(gaps, dim=1), torch.stack(accuracy, dim=1))


__all__ = [
    "BANK_SENTENCES",
    "LayerSeparation",
    "MODELS",
    "Sentence",
    "ShuffledNull",
    "WordVector",
    "attention_weights",
    "best_layer",
    "check_layer",
    "context_specificity",
    "encode",
    "find_word",
    "get_model",
    "get_tokenizer",
    "layer_states",
    "nearest_neighbour_accuracy",
    "neighbour_margins",
    "num_layers",
    "pair_auc",
    "pair_similarities",
    "self_only_mask",
    "sense_vectors",
    "sentence_states",
    "separation_by_layer",
    "sentence_tokens",
    "shuffled_label_null",
    "static_vector",
    "token_vectors",
    "word_layers",
]
