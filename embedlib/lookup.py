"""The embedding table is a lookup: reading rows, what that costs, and sharing the table.

An embedding layer holds a learned matrix :math:`W \\in \\mathbb{R}^{V \\times d}` (V tokens,
width d). Token id :math:`i` is mapped to row :math:`W_i`. Written as algebra, that row is
the product of a one-hot vector with the matrix, :math:`e_i^\\top W = W_i`; computed that way
it costs :math:`V d` multiply-adds per token, while indexing copies :math:`d` numbers.

Weight tying (Press & Wolf 2017, arXiv:1608.05859; Inan et al. 2017, arXiv:1611.01462)
reuses :math:`W` as the output projection, logits :math:`= h W^\\top`, which saves
:math:`V d` parameters.
"""

from __future__ import annotations

import time

import torch
import torch.nn.functional as F
from torch import nn

from .shapes import as_count, dtype_bytes

__all__ = [
    "LookupLM",
    "expected_rare_share",
    "head_dim",
    "lookup",
    "lookup_costs",
    "one_hot_lookup",
    "parameter_count",
    "table_bytes",
    "touched_rows",
    "weights_are_tied",
    "zipf_probabilities",
    "zipf_token_stream",
]


def _check_table(table: torch.Tensor) -> None:
    if not isinstance(table, torch.Tensor):
        raise ValueError(
            "table must be a torch.Tensor of shape [vocab_size, dim], "
            f"got {type(table).__name__}"
        )
    if table.ndim != 2:
        raise ValueError(
            f"table must have rank 2, [vocab_size, dim], got shape {tuple(table.shape)}; "
            "pass the weight of an nn.Embedding (embedding.weight)"
        )


def _as_ids(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """Validated ids as int64, ready to index: any integer dtype is read as ids.

    PyTorch reads a ``uint8`` (or ``bool``) index tensor as a *mask*, not as ids: for
    ``table[torch.tensor([1, 1], dtype=torch.uint8)]`` it returns rows 0 and 1 instead of
    row 1 twice. Converting every integer dtype to int64 first makes ``lookup`` mean the
    same thing whatever the dtype; booleans are refused.
    """
    if not isinstance(ids, torch.Tensor):
        raise ValueError(
            f"ids must be a torch.Tensor of integers, got {type(ids).__name__}; "
            "wrap them: torch.tensor(ids)"
        )
    if ids.is_floating_point() or ids.is_complex() or ids.dtype == torch.bool:
        raise ValueError(
            f"ids must be integers, got dtype {ids.dtype}; convert them with ids.long()"
        )
    ids = ids.long()  # a no-op for int64; uint8/int8/int16/int32 become ids, never a mask
    if ids.numel() == 0:
        return ids
    low, high = torch.stack(torch.aminmax(ids)).tolist()  # one pass, one device sync
    if low < 0:
        raise IndexError(
            f"token id {low} is negative; valid ids are 0 to {vocab_size - 1} "
            "(a negative index would silently read a row from the end of the table)"
        )
    if high >= vocab_size:
        raise IndexError(
            f"token id {high} is out of range for a table of {vocab_size} rows; "
            f"valid ids are 0 to {vocab_size - 1} "
            "(was the text tokenized with another model's tokenizer?)"
        )
    return ids


def lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Read the rows of ``table`` named by ``ids``: ``out[..., :] = table[ids[...], :]``.

    Args:
        table: the embedding matrix, shape [V, d].
        ids: integer token ids of any shape and any integer dtype (``uint8`` included:
            read as ids, never as a mask), each in ``0 .. V-1``.

    Returns:
        A tensor of shape ``ids.shape + (d,)``, the same values ``nn.Embedding`` returns.

    The range check reads every id once and, on a GPU, waits for the device once (about
    50 us on an H200, more than the 4,096-row gather itself); ``nn.Embedding`` is the tool
    for a training loop, this function is for teaching and for clear errors.

    Raises:
        ValueError: ``table`` is not rank 2, or ``ids`` are not integers.
        IndexError: an id is negative or ``>= V``.

    Example:
        >>> table = torch.arange(6.0).reshape(3, 2)
        >>> lookup(table, torch.tensor([2, 0]))
        tensor([[4., 5.],
                [0., 1.]])
    """
    _check_table(table)
    ids = _as_ids(ids, table.shape[0])  # int64
    return table[ids]  # (*ids.shape, d)


def one_hot_lookup(table: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """The same rows as :func:`lookup`, computed as one-hot vectors times the table.

    :math:`\\mathrm{onehot}(i)^\\top W = W_i`: every product but one is a multiplication by
    zero, so the result is exact, at the price of a [n, V] x [V, d] matrix product.
    """
    _check_table(table)
    ids = _as_ids(ids, table.shape[0])  # int64, which F.one_hot requires
    one_hot = F.one_hot(ids, num_classes=table.shape[0]).to(table.dtype)  # (*ids.shape, V)
    return one_hot @ table  # (*ids.shape, V) @ (V, d) -> (*ids.shape, d)


def lookup_costs(
    vocab_sizes: list[int],
    dim: int,
    n_ids: int,
    repeats: int = 3,
    generator: torch.Generator | None = None,
) -> list[dict[str, float]]:
    """Wall time of :func:`lookup` and :func:`one_hot_lookup` for tables of growing V.

    For each V: a random [V, dim] table and ``n_ids`` random ids; each variant runs
    ``repeats`` times and the fastest run counts (the least disturbed by other work).
    Returns one record per V: ``vocab_size``, ``row_read_s``, ``one_hot_s``. Timings vary
    from machine to machine and run to run; the ratio is what to look at.
    """
    dim, n_ids = as_count("dim", dim), as_count("n_ids", n_ids)
    repeats = as_count("repeats", repeats)
    records = []
    for vocab_size in vocab_sizes:
        vocab_size = as_count("vocab_size", vocab_size)
        table = torch.randn(vocab_size, dim, generator=generator)  # (V, d)
        ids = torch.randint(0, vocab_size, (n_ids,), generator=generator)  # (n,)
        record: dict[str, float] = {"vocab_size": vocab_size}
        for name, function in (("row_read_s", lookup), ("one_hot_s", one_hot_lookup)):
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                function(table, ids)
                times.append(time.perf_counter() - start)
            record[name] = min(times)
        records.append(record)
    return records


def table_bytes(vocab_size: int, dim: int, dtype: torch.dtype | str = torch.float32) -> int:
    """Bytes of a [vocab_size, dim] table: ``vocab_size * dim * bytes_per_value``.

    ``dtype`` is a torch dtype or a name that :func:`embedlib.shapes.resolve_dtype` knows
    ("bfloat16", "fp16", "float32", ...). Divide by 1e9 for GB, by 2**30 for GiB.

    The sizes may be Python ints, numpy integers or 0-d integer tensors
    (:func:`embedlib.shapes.as_count`); the result is always a Python int.

    Example:
        >>> table_bytes(128_256, 4_096, "bfloat16")
        1050673152
    """
    vocab_size, dim = as_count("vocab_size", vocab_size), as_count("dim", dim)
    return vocab_size * dim * dtype_bytes(dtype)


def head_dim(dim: int, n_heads: int) -> int:
    """Width of one attention head when the d-wide vector is cut into ``n_heads`` equal slices.

    Standard multi-head attention (Vaswani et al. 2017, arXiv:1706.03762, section 3.2.2) uses
    :math:`d_k = d / h`. Raises ``ValueError`` naming both numbers when ``dim % n_heads != 0``.
    """
    dim, n_heads = as_count("dim", dim), as_count("n_heads", n_heads)
    if dim % n_heads:
        below, above = dim - dim % n_heads, dim - dim % n_heads + n_heads
        raise ValueError(
            f"dim {dim} is not divisible by n_heads {n_heads} "
            f"({dim} / {n_heads} = {dim / n_heads:.3g}); use a dim that is a multiple of "
            f"{n_heads} (e.g. {below} or {above}) or another head count"
        )
    return dim // n_heads


def touched_rows(
    ids: torch.Tensor, vocab_size: int, padding_idx: int | None = None
) -> torch.Tensor:
    """Sorted distinct rows that a backward pass through a lookup of ``ids`` gives gradient.

    The gradient of the lookup with respect to :math:`W` is a scatter-add of the upstream
    gradients into rows ``ids``; every other row gets exactly zero. ``nn.Embedding`` also
    leaves its ``padding_idx`` row at zero gradient.
    """
    ids = _as_ids(ids, as_count("vocab_size", vocab_size))
    rows = torch.unique(ids)  # sorted, distinct
    if padding_idx is not None:
        rows = rows[rows != padding_idx]
    return rows


def zipf_probabilities(vocab_size: int, exponent: float = 1.0) -> torch.Tensor:
    """Zipf's law over ``vocab_size`` ranks: :math:`p_r = r^{-s} / \\sum_{q=1}^{V} q^{-s}`.

    Returns a float64 tensor of shape [V]; entry 0 is rank 1, the most frequent token.
    Word frequencies in natural text follow this law with :math:`s \\approx 1`
    (Piantadosi 2014, doi:10.3758/s13423-014-0585-6).
    """
    vocab_size = as_count("vocab_size", vocab_size)
    if not exponent > 0:
        raise ValueError(f"exponent must be > 0, got {exponent}")
    ranks = torch.arange(1, vocab_size + 1, dtype=torch.float64)  # (V,)
    weights = ranks**-exponent  # (V,)
    return weights / weights.sum()


def zipf_token_stream(
    n_tokens: int,
    vocab_size: int,
    exponent: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """``n_tokens`` ids drawn independently from :func:`zipf_probabilities`; id 0 is rank 1.

    Such a stream stands in for the ids of a training corpus (its words, not its order).
    """
    n_tokens = as_count("n_tokens", n_tokens)
    probabilities = zipf_probabilities(vocab_size, exponent)  # (V,)
    return torch.multinomial(
        probabilities, n_tokens, replacement=True, generator=generator
    )  # (n_tokens,)


def expected_rare_share(
    n_tokens: int | float, vocab_size: int, below: int = 100, exponent: float = 1.0
) -> float:
    """Expected share of rows that occur fewer than ``below`` times in a Zipf stream.

    In a stream of :math:`N` independent draws, row :math:`r` occurs
    :math:`c_r \\sim \\mathrm{Binomial}(N, p_r)` times, so the expected share is
    :math:`\\frac{1}{V}\\sum_r P(c_r < k)` with
    :math:`P(c_r < k) = \\sum_{j<k} \\binom{N}{j} p_r^j (1-p_r)^{N-j}`, summed here in log
    space. For :math:`s = 1` it is close to :math:`\\max(0, 1 - N / (k V H_V))`
    (:math:`H_V` the V-th harmonic number): the share falls as the stream grows, so it is
    a property of the stream length as much as of the law.

    ``n_tokens`` may be a float (``1e10``) because only the formula uses it.
    """
    if isinstance(n_tokens, bool) or not float(n_tokens) >= 1:
        raise ValueError(f"n_tokens must be a number >= 1, got {n_tokens!r}")
    below = as_count("below", below)
    p = zipf_probabilities(vocab_size, exponent)[:, None]  # (V, 1)
    n = torch.tensor(float(n_tokens), dtype=torch.float64)
    j = torch.arange(below, dtype=torch.float64)[None, :]  # (1, k) counts 0 .. k-1
    j = j[j <= n][None, :]  # a stream of N tokens cannot hold a row more than N times
    log_choose = torch.lgamma(n + 1) - torch.lgamma(j + 1) - torch.lgamma(n - j + 1)
    log_pmf = log_choose + j * p.log() + (n - j) * torch.log1p(-p)  # (V, k)
    below_k = log_pmf.exp().sum(dim=1).clamp(max=1.0)  # (V,) P(c_r < k)
    return below_k.mean().item()


class LookupLM(nn.Module):
    """A minimal language model: embed, one hidden layer, project back to the vocabulary.

    ``tied=True`` makes the output projection *the same Parameter* as the input table
    (GPT-2's choice), so logits are :math:`h W^\\top`; ``tied=False`` gives it its own
    [V, d] matrix.
    """

    def __init__(self, vocab_size: int, dim: int, tied: bool = True) -> None:
        super().__init__()
        vocab_size, dim = as_count("vocab_size", vocab_size), as_count("dim", dim)
        self.wte = nn.Embedding(vocab_size, dim)
        self.hidden = nn.Linear(dim, dim)
        self.lm_head = nn.Linear(dim, vocab_size, bias=False)
        if tied:
            self.lm_head.weight = self.wte.weight  # one Parameter, two roles

    def get_input_embeddings(self) -> nn.Embedding:
        return self.wte

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        ids = _as_ids(ids, self.wte.num_embeddings)
        h = torch.tanh(self.hidden(self.wte(ids)))  # (B, T, d)
        return self.lm_head(h)  # (B, T, V)


def parameter_count(model: nn.Module) -> int:
    """Number of trainable numbers in ``model``, counting a shared (tied) Parameter once."""
    return sum(p.numel() for p in model.parameters())  # parameters() skips duplicates


def weights_are_tied(model: nn.Module) -> bool:
    """True when the model's output projection is the very tensor of its input table.

    Works for any module with ``get_input_embeddings()``/``get_output_embeddings()``
    (:class:`LookupLM`, Hugging Face models). A model without an output head (a bare encoder
    such as ``BertModel``) has nothing to tie: False.
    """
    output = model.get_output_embeddings()
    if output is None:
        return False
    a, b = model.get_input_embeddings().weight, output.weight
    return a is b or (a.shape == b.shape and a.device.type != "meta" and a.data_ptr() == b.data_ptr())
