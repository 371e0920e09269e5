"""Exact search vs the Matryoshka funnel, measured side by side, fair comparisons in one run.

Data: N database vectors and Q queries of width d = 512, Gaussian with coordinate j scaled
by (j+1)^-1/2 (``embedlib.retrieval.structured_vectors``; the first 32 coordinates carry 98%
of the variance of an inner-product score). Inner product, k = 10, prefix m = 32, one thread,
every index built once before timing. Every variant runs once per round, in the same order,
and each variant's median over the rounds is reported; recall@10 is against exact fp32 search.

Three fair comparisons:

- fp32 funnel (fp32 prefix, fp32 rerank) vs exact fp32 search;
- bf16 funnel (bf16 prefix, bf16 database for the rerank) vs exact search in bf16;
- the practical one: a low-precision shortlist (bf16 or int8 prefix) with an fp32 rerank vs
  exact fp32 search.

    python benchmarks/bench_retrieval.py [--n 300000] [--queries 500] [--rounds 5] [--out FILE]

The result (machine, date, versions, load, every variant, the stage breakdown) is printed and
written as JSON to ``embedlib/results/bench_retrieval.json``; chapter 5 shows that file.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from embedlib import funnel_kernels, retrieval
from embedlib.bench_results import RETRIEVAL, retrieval_report, stage_report
from embedlib.retrieval import (
    build_prefix_index,
    funnel_flop_ratio,
    funnel_search,
    naive_funnel_search,
    recall_at_k,
    search,
    structured_vectors,
)

CPU_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile", "amx_bf16", "amx_int8")


def machine() -> dict:
    """CPU model and the flags that change bf16/int8 speed a lot (AVX-512, AMX)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model in ("", platform.machine(), platform.processor()):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return {
        "cpu": model,
        "logical_cpus": os.cpu_count(),
        "flags": {flag: flag in flags for flag in CPU_FLAGS},
        "system": f"{platform.system()} {platform.release()}",
    }


def versions() -> dict:
    try:
        import numba

        numba_version = numba.__version__
    except ImportError:
        numba_version = None
    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "numba": numba_version,
        "compiled_kernels": funnel_kernels.USE_NUMBA,
        "torch._int_mm": funnel_kernels.USE_INT_MM,
    }


def exact_products_only(queries: torch.Tensor, database: torch.Tensor) -> None:
    """The exact search's matrix products alone, into one reused buffer (no top-k)."""
    buffer = torch.empty(256, database.shape[0], dtype=database.dtype)
    for start in range(0, queries.shape[0], 256):
        block = queries[start : start + 256]
        torch.matmul(block, database.T, out=buffer[: block.shape[0]])


def scan_products_only(queries: torch.Tensor, index, block_rows: int = 1024) -> None:
    """The funnel scan's block products alone, into its reused buffer (no compare, no keep)."""
    prefix = retrieval._quantise_queries(queries, index)
    dtype = torch.int32 if index.precision == "int8" else prefix.dtype
    buffer = torch.empty(prefix.shape[0], block_rows, dtype=dtype)
    for start in range(0, index.size - block_rows + 1, block_rows):
        funnel_kernels.prefix_products(prefix, index.prefix[start : start + block_rows], index.precision, out=buffer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="database size")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--shortlist-dim", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RETRIEVAL)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if funnel_kernels.numba is not None:
        funnel_kernels.numba.set_num_threads(1)
    k, m, n, d = 10, args.shortlist_dim, args.n, args.dim
    load_before = os.getloadavg()

    database = structured_vectors(n, d, seed=0)  # [N, d]
    queries = structured_vectors(args.queries, d, seed=1)  # [Q, d]
    db16, q16 = database.bfloat16(), queries.bfloat16()
    builds = {}
    indexes = {}
    for precision in ("fp32", "bf16", "int8"):
        start = time.perf_counter()
        indexes[precision] = build_prefix_index(database, m, precision)
        builds[precision] = time.perf_counter() - start
    funnel_search(queries[:8], database, m, 100, k, index=indexes["fp32"])  # compile the kernels

    # name -> (comparison, shortlist T or None, function)
    variants: dict[str, tuple[str, int | None, object]] = {
        "exact fp32": ("baseline", None, lambda: search(queries, database, k)),
        "exact bf16": ("bf16", None, lambda: search(q16, db16, k)),
        "exact fp32, products only": ("baseline", None, lambda: exact_products_only(queries, database)),
        "plain funnel fp32, T=100": ("fp32", 100, lambda: naive_funnel_search(queries, database, m, 100, k)),
    }
    for t in (50, 100, 200):
        variants[f"fast funnel fp32, T={t}"] = (
            "fp32", t, lambda t=t: funnel_search(queries, database, m, t, k, index=indexes["fp32"]))
    for t in (50, 100, 200):
        variants[f"fast funnel bf16 (bf16 rerank), T={t}"] = (
            "bf16", t, lambda t=t: funnel_search(q16, db16, m, t, k, index=indexes["bf16"]))
    for t in (50, 100, 200, 400):
        variants[f"fast funnel bf16 prefix, fp32 rerank, T={t}"] = (
            "practical", t, lambda t=t: funnel_search(queries, database, m, t, k, index=indexes["bf16"]))
    for t in (100, 200):
        variants[f"fast funnel int8 prefix, fp32 rerank, T={t}"] = (
            "practical", t, lambda t=t: funnel_search(queries, database, m, t, k, index=indexes["int8"]))

    truth = search(queries, database, k).indices
    truth16 = search(q16, db16, k).indices
    times: dict[str, list[float]] = {name: [] for name in variants}
    recalls: dict[str, float] = {}
    recalls16: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, (_, _, run) in variants.items():  # interleaved: every variant once per round
            start = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - start)
            if result is not None:
                recalls[name] = recall_at_k(result.indices, truth)
                recalls16[name] = recall_at_k(result.indices, truth16)

    # the stage breakdown of the three T=100 funnels, rounds interleaved too
    staged = {  # name -> (queries, database, precision of the prefix)
        "fast funnel fp32, T=100": (queries, database, "fp32"),
        "fast funnel bf16 (bf16 rerank), T=100": (q16, db16, "bf16"),
        "fast funnel bf16 prefix, fp32 rerank, T=100": (queries, database, "bf16"),
        "fast funnel int8 prefix, fp32 rerank, T=100": (queries, database, "int8"),
    }
    stage_runs: dict[str, list[dict[str, float]]] = {name: [] for name in staged}
    for _ in range(args.rounds):
        for name, (qs, db, precision) in staged.items():
            stages: dict[str, float] = {}
            funnel_search(qs, db, m, 100, k, index=indexes[precision], stages=stages)
            start = time.perf_counter()
            scan_products_only(qs, indexes[precision])
            products = time.perf_counter() - start
            ordered = {}
            for stage, seconds in stages.items():  # list the products right after the scan
                ordered[stage] = seconds
                if stage.startswith("scan"):
                    ordered["  of which the scan's products alone"] = products
            stage_runs[name].append(ordered)
    stage_medians = {
        name: {stage: statistics.median(r[stage] for r in runs) for stage in runs[0]}
        for name, runs in stage_runs.items()
    }
    load_after = os.getloadavg()

    baseline = statistics.median(times["exact fp32"])
    baseline16 = statistics.median(times["exact bf16"])
    rows = []
    for name, (comparison, t, _) in variants.items():
        median = statistics.median(times[name])
        reference = baseline16 if comparison == "bf16" else baseline
        rows.append({
            "variant": name,
            "comparison": comparison,
            "T": t,
            "median_ms": 1e3 * median,
            "spread_ms": [1e3 * min(times[name]), 1e3 * max(times[name])],
            "speedup_vs_exact_fp32": baseline / median,
            "speedup_vs_own_exact": reference / median,
            "recall_at_10": recalls.get(name),
            "recall_at_10_vs_exact_bf16": recalls16.get(name),
            "flop_ratio": funnel_flop_ratio(n, d, m, t) if t else 1.0,
        })
    result = {
        "benchmark": "benchmarks/bench_retrieval.py",
        "date_utc": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "versions": versions(),
        "settings": {"N": n, "d": d, "queries": args.queries, "k": k, "shortlist_dim": m,
                     "threads": torch.get_num_threads(), "rounds": args.rounds,
                     "data": "structured_vectors, coordinate j scaled by (j+1)^-1/2"},
        "load_average_before_after": [round(load_before[0], 2), round(load_after[0], 2)],
        "index_build_ms": {p: 1e3 * s for p, s in builds.items()},
        "flop_ratio_floor_ms_T100": 1e3 * baseline / funnel_flop_ratio(n, d, m, 100),
        "variants": rows,
        "stages_ms_T100": {name: {s: 1e3 * v for s, v in st.items()} for name, st in stage_medians.items()},
    }
    report(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"\nwritten to {args.out}")


def report(result: dict) -> None:
    """Print the benchmark's JSON as tables."""
    v = result["versions"]
    print(retrieval_report(result))
    print(f"compiled kernels: {v['compiled_kernels']}, torch._int_mm: {v['torch._int_mm']}; "
          "index build (once): "
          + ", ".join(f"{p} {ms:.0f} ms" for p, ms in result["index_build_ms"].items()))
    print(stage_report(result))


if __name__ == "__main__":
    main()
