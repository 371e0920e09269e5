"""``python -m embedlib.audit PATH`` / ``embedlib-audit PATH``: the audit on a file.

Exit status 0 after a report, 2 for input the audit cannot use (one line on stderr naming
the problem and the fix; ``--debug`` adds the traceback). Nothing is written unless asked
(``--json FILE``, ``--html FILE``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .loaders import AuditInputError

EXIT_BAD_INPUT = 2


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="embedlib-audit",
        description="Audit an embedding table: norms, untrained rows, anisotropy, rogue dimensions "
        "and hubness, each beside noise of the same shape.",
        epilog="PATH: .npy, .npz, .safetensors, word2vec .txt/.vec/.bin, gensim .kv, a transformers "
        "model folder or hub id, or embedlib:minilm / embedlib:smollm2.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument("--tensor", help="name of the table in a .npz or .safetensors file")
    p.add_argument(
        "--sample",
        type=int,
        default=5000,
        help="rows per hubness sample (default 5000)",
    )
    p.add_argument(
        "--repeats",
        type=int,
        default=3,
        help="hubness samples and noise draws (default 3)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "-k", type=int, default=10, help="neighbours for N_k and CSLS (default 10)"
    )
    p.add_argument(
        "--mask-untrained",
        action="store_true",
        help="drop special/unused tokens, near-zero and duplicate rows from the statistics",
    )
    p.add_argument(
        "--counts",
        metavar="FILE",
        help="token or word counts from your corpus: one 'word count' per line",
    )
    p.add_argument("--rare-below", type=int, default=100)
    p.add_argument("--top", type=int, default=10, help="hubs and dimensions to list")
    p.add_argument(
        "--json",
        nargs="?",
        const="-",
        metavar="FILE",
        help="write the report as JSON (to FILE, or stdout instead of the text)",
    )
    p.add_argument(
        "--html", metavar="REPORT.html", help="write a self-contained HTML report"
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def audit_path(
    path: str, *, tensor: str | None = None, counts: str | None = None, **options
):
    """Load the table at ``path`` (any format of :mod:`embedlib.audit.loaders`) and audit it.

    ``counts`` is a counts file (one 'word count' per line); ``options`` go to
    :func:`embedlib.audit.core.audit` (sample, repeats, seed, k, mask_untrained, ...).
    The loader's notes (e.g. that a local copy is quantised) are in ``report.notes``.
    """
    from .core import audit
    from .counts import read_counts
    from .loaders import load_table

    word_counts = read_counts(counts) if counts else None
    table = load_table(path, tensor=tensor)
    report = audit(
        table.vectors,
        tokens=table.labels,
        word_counts=word_counts,
        tokenizer=table.tokenizer,
        special_tokens=sorted(table.special_tokens),
        source=table.source,
        **options,
    )
    report._data["notes"] = list(table.notes)
    return report


def run(args: argparse.Namespace) -> str:
    for name in ("sample", "repeats", "k", "top"):
        if getattr(args, name) < 1:
            raise AuditInputError(
                f"--{name} must be a positive whole number, got {getattr(args, name)}"
            )
    report = audit_path(
        args.path,
        tensor=args.tensor,
        counts=args.counts,
        mask_untrained=args.mask_untrained,
        k=args.k,
        sample=args.sample,
        repeats=args.repeats,
        seed=args.seed,
        rare_below=args.rare_below,
        top=args.top,
    )
    text = str(report)
    if args.html:
        Path(args.html).write_text(report.html(), encoding="utf-8")
    if args.json and args.json != "-":
        Path(args.json).write_text(report.to_json(indent=2), encoding="utf-8")
    return report.to_json(indent=2) if args.json == "-" else text


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        print(run(args))
    except AuditInputError as error:
        if args.debug:
            raise
        print(f"embedlib-audit: error: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:  # e.g. piped into head
        return 0
    except (OSError, MemoryError) as error:
        if args.debug:
            raise
        print(
            f"embedlib-audit: error: {type(error).__name__}: {error}; (--debug shows where)",
            file=sys.stderr,
        )
        return EXIT_BAD_INPUT
    return 0
