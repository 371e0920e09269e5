"""Loss past the training length for tiny character LMs: RoPE at several bases, NoPE, ALiBi.

Usage (from the repository root):
    python scripts/rope_base_sweep.py                      # the stored run (about 3 CPU minutes)
    python scripts/rope_base_sweep.py --steps 5 --bases 100 --seeds 0 --eval-len 64 --out /tmp/x.json

Every model is ``embedlib.tinylm.TinyLM`` as in chapter 4 (d = 64, 2 layers, 4 heads of
size 16, so 8 rotary pairs; tied embeddings), trained for ``--steps`` AdamW steps on random
windows of ``--train-len`` characters of gensim's ``lee_background.cor`` and read on the
held-out ``lee.cor`` in windows of ``--eval-len`` characters. For each scheme and seed the
script stores the mean loss (nats per character) at every position and in the chapter's
bins, plus the settings, package versions, machine and date, in
``embedlib/results/rope_base_sweep.json`` (shipped with the package, so the chapter also plots it on Colab). The chapter on positions plots that file.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time
import warnings

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedlib.tinylm import TinyLMConfig, bin_means, lee_char_corpus, loss_by_position, train_lm  # noqa: E402
from embedlib.bench_results import run_facts, write_result  # noqa: E402

DEFAULT_OUT = ROOT / "embedlib" / "results" / "rope_base_sweep.json"


def edges_for(train_len: int, eval_len: int) -> tuple[int, ...]:
    """0, L, 2L, 4L, ... up to the evaluation length (the chapter's bins for L = 32, 512)."""
    edges, edge = [0], train_len
    while edge < eval_len:
        edges.append(edge)
        edge *= 2
    return tuple(edges + [eval_len])


def schemes(bases: list[float]) -> list[tuple[str, dict]]:
    """(name, TinyLMConfig keyword arguments) for every model the sweep trains."""
    runs = [(f"rope base {base:g}", {"positions": "rope", "rope_base": float(base)}) for base in bases]
    return runs + [("none (NoPE)", {"positions": "none"}), ("alibi", {"positions": "alibi"})]


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bases", type=float, nargs="+", default=[10, 100, 1000, 10000, 100000])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--train-len", type=int, default=32)
    parser.add_argument("--eval-len", type=int, default=512)
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    vocab, train_ids, heldout_ids = lee_char_corpus()
    edges = edges_for(args.train_len, args.eval_len)
    runs = []
    start = time.process_time()
    for name, kwargs in schemes(args.bases):
        for seed in args.seeds:
            config = TinyLMConfig(vocab_size=len(vocab), max_positions=args.train_len, **kwargs)
            model = train_lm(config, train_ids, steps=args.steps, seed=seed).model
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # RoPE's RopeLengthWarning: expected here
                curve = loss_by_position(model, heldout_ids, length=args.eval_len)
            runs.append({"scheme": name, "seed": seed, **kwargs, "bins": bin_means(curve, edges),
                         "per_position": [round(v, 5) for v in curve.tolist()]})
            print(f"{name:>18}, seed {seed}: " + " | ".join(f"{v:.2f}" for v in runs[-1]["bins"]), flush=True)
    result = {
        "script": "scripts/rope_base_sweep.py",
        **run_facts("torch", "numpy"),
        "settings": {"bases": args.bases, "seeds": args.seeds, "steps": args.steps,
                     "train_len": args.train_len, "eval_len": args.eval_len, "d_model": 64,
                     "n_layers": 2, "n_heads": 4, "head_dim": 16, "batch_size": 32, "lr": 5e-3},
        "edges": list(edges), "runs": runs, "cpu_seconds": time.process_time() - start,
    }
    write_result(args.out, result)
    print(f"wrote {args.out} ({result['cpu_seconds']:.0f} CPU seconds)")
    return result


if __name__ == "__main__":
    main()
