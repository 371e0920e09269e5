"""Published shapes of the models the course refers to, each with its source.

Numbers are copied from each model's released configuration or paper (``source``), not
from the course's notes; chapters compare the notes' figures against these.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass

import numpy as np
import torch

_DTYPE_NAMES = {
    "float64": torch.float64, "fp64": torch.float64, "double": torch.float64,
    "float32": torch.float32, "fp32": torch.float32, "float": torch.float32,
    "float16": torch.float16, "fp16": torch.float16, "half": torch.float16,
    "bfloat16": torch.bfloat16, "bf16": torch.bfloat16,
    "int8": torch.int8, "uint8": torch.uint8,
}


def as_count(name: str, value: object) -> int:
    """``value`` as a positive Python int, or a ``ValueError`` naming ``name`` and the value.

    The one conversion the course's size functions share: Python ints, numpy integers
    (``np.int64(4096)``, what ``np.prod`` returns) and 0-d integer tensors are accepted;
    booleans, floats (even ``4096.0``), strings and zero or negative counts are refused.
    """
    if isinstance(value, (bool, np.bool_)) or (
        isinstance(value, torch.Tensor) and value.dtype == torch.bool
    ):
        raise ValueError(f"{name} must be a positive int, got the boolean {value!r}")
    try:
        count = operator.index(value)  # int, np.integer, 0-d integer tensor; not floats
    except TypeError:
        raise ValueError(
            f"{name} must be a positive int, got {value!r} ({type(value).__name__})"
        ) from None
    if count <= 0:
        raise ValueError(f"{name} must be a positive int, got {count}")
    return count


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    """A torch dtype from itself or a common name ("bfloat16", "fp16", ...)."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if isinstance(dtype, str) and dtype.lower() in _DTYPE_NAMES:
        return _DTYPE_NAMES[dtype.lower()]
    names = ", ".join(sorted(_DTYPE_NAMES))
    raise ValueError(f"unknown dtype {dtype!r}; use a torch.dtype or one of {names}")


def dtype_bytes(dtype: torch.dtype | str) -> int:
    """Bytes per element of a dtype: 4 for float32, 2 for bfloat16/float16, 1 for int8."""
    return torch.empty((), dtype=resolve_dtype(dtype)).element_size()


@dataclass(frozen=True)
class ModelShape:
    """The sizes that decide an embedding table's and a KV cache's cost.

    ``n_kv_heads`` < ``n_heads`` means grouped-query attention; ``max_positions`` is the
    trained context (or the learned position table's size); ``rope_base`` is None for
    models without RoPE.
    """

    name: str
    vocab_size: int
    d_model: int
    n_heads: int
    n_layers: int
    n_kv_heads: int
    max_positions: int
    tied_embeddings: bool
    positions: str
    source: str
    rope_base: float | None = None

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads


PUBLISHED_SHAPES: dict[str, ModelShape] = {
    shape.name: shape
    for shape in (
        ModelShape("all-MiniLM-L6-v2", 30522, 384, 12, 6, 12, 512, True, "learned absolute",
                   "sentence-transformers/all-MiniLM-L6-v2, config.json"),
        ModelShape("BERT-base", 30522, 768, 12, 12, 12, 512, True, "learned absolute",
                   "google-bert/bert-base-uncased, config.json; Devlin et al. 2019, arXiv:1810.04805"),
        ModelShape("GPT-2 small", 50257, 768, 12, 12, 12, 1024, True, "learned absolute",
                   "openai-community/gpt2, config.json (n_embd, n_head, n_layer, n_positions)"),
        ModelShape("GPT-3 175B", 50257, 12288, 96, 96, 96, 2048, True, "learned absolute",
                   "Brown et al. 2020, arXiv:2005.14165: Table 2.1 (d_model, n_heads, n_layers); "
                   "vocabulary: GPT-2's tokenizer, reused (section 2.1; Radford et al. 2019)"),
        ModelShape("LLaMA 2 7B", 32000, 4096, 32, 32, 32, 4096, False, "RoPE",
                   "meta-llama/Llama-2-7b-hf, config.json; Touvron et al. 2023, arXiv:2307.09288", 10000.0),
        ModelShape("LLaMA 3 8B", 128256, 4096, 32, 32, 8, 8192, False, "RoPE",
                   "meta-llama/Meta-Llama-3-8B, config.json (vocab_size) and tokenizer_config.json "
                   "(256 special tokens); Grattafiori et al. 2024, arXiv:2407.21783", 500000.0),
        ModelShape("LLaMA 3.1 8B", 128256, 4096, 32, 32, 8, 131072, False, "RoPE (llama3 scaling, factor 8)",
                   "meta-llama/Llama-3.1-8B, config.json; arXiv:2407.21783", 500000.0),
    )
}
