"""Chapter 6's cone-origin experiment: train the window LMs once and store what the chapter shows.

Usage (from the repository root, offline; about 20 s on one CPU thread):
    python scripts/cone_origin.py                      # writes embedlib/results/cone_origin.json
    python scripts/cone_origin.py --out /tmp/x.json    # anywhere else

What is trained and measured is described in :mod:`embedlib.cone_origin`. The JSON file holds
the numbers, the settings, the package versions, the machine and the date.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from embedlib import degeneration as dg  # noqa: E402
from embedlib.bench_results import RESULTS, run_facts, write_result  # noqa: E402
from embedlib.cone_origin import run_cone_origin  # noqa: E402
from embedlib.models import load_tokenizer  # noqa: E402


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=RESULTS / "cone_origin.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    start = time.perf_counter()
    corpus = dg.wordpiece_corpus("lee_background.cor", load_tokenizer())
    result = run_cone_origin(corpus)
    result.update(
        {
            "script": "scripts/cone_origin.py",
            "seconds": round(time.perf_counter() - start, 1),
            **run_facts("torch", "transformers"),
        }
    )
    write_result(args.out, result)
    print(f"wrote {args.out} in {result['seconds']} s")
    return result


if __name__ == "__main__":
    main()
