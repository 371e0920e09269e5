"""Small helpers every chapter's first cell uses: reproducible set-up and glued numbers."""

from __future__ import annotations

import random
import warnings
from typing import Any

import numpy as np
import torch

DEFAULT_SEED = 0


def seed_everything(seed: int = DEFAULT_SEED) -> None:
    """Seed Python's, NumPy's and PyTorch's generators so every run draws the same numbers."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def setup(seed: int = DEFAULT_SEED, threads: int = 1) -> str:
    """Make a chapter reproducible and quick on a small machine; returns a one-line summary.

    ``threads=1`` because small torch models on a shared 2-core machine ran ~20x slower with
    two threads than with one whenever the other core was busy, and because one thread gives
    bit-identical results run after run, which the stored notebook outputs rely on.
    """
    seed_everything(seed)
    # Without ipywidgets (not needed here) tqdm warns once per kernel, naming a local path.
    warnings.filterwarnings("ignore", message="IProgress not found")
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    from .figures import apply_style

    apply_style()
    from . import __version__
    from .models import model_source

    source = "hub" if model_source().count("/") == 1 else "local copy"
    return (
        f"embedlib {__version__} | torch {torch.__version__.split('+')[0]} | "
        f"numpy {np.__version__} | seed {seed} | {threads} thread(s) | MiniLM from {source}"
    )


def glue(name: str, value: Any, display: bool = False) -> None:
    """Store ``value`` under ``name`` for the book's ``{glue:text}`` role.

    Uses myst-nb's ``glue`` when it is installed (it is, to build the book); on Colab, where
    only the package is installed, it does nothing. Returns None on purpose: a returned
    value would print as the cell's result, and ``;`` does not reliably silence it (nbval
    runs cells without storing history, which is what IPython's ``;`` check reads).
    """
    try:
        from myst_nb import glue as myst_glue
    except ImportError:
        return
    myst_glue(name, value, display=display)
