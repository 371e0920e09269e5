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
written as JSON to ``benchmarks/results/bench_retrieval.json``; chapter 5 shows that file.
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

from embedlib import funnel_kernels
from embedlib.retrieval import (
    build_prefix_index,
    funnel_flop_ratio,
    funnel_search,
    naive_funnel_search,
    recall_at_k,
    search,
    structured_vectors,
)

RESULTS = Path(__file__).parent / "results" / "bench_retrieval.json"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="database size")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--shortlist-dim", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=RESULTS)
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
    staged = {
        "fast funnel fp32, T=100": lambda s: funnel_search(queries, database, m, 100, k, index=indexes["fp32"], stages=s),
        "fast funnel bf16 (bf16 rerank), T=100": lambda s: funnel_search(q16, db16, m, 100, k, index=indexes["bf16"], stages=s),
        "fast funnel bf16 prefix, fp32 rerank, T=100": lambda s: funnel_search(queries, database, m, 100, k, index=indexes["bf16"], stages=s),
        "fast funnel int8 prefix, fp32 rerank, T=100": lambda s: funnel_search(queries, database, m, 100, k, index=indexes["int8"], stages=s),
    }
    stage_runs: dict[str, list[dict[str, float]]] = {name: [] for name in staged}
    for _ in range(args.rounds):
        for name, run in staged.items():
            stages: dict[str, float] = {}
            run(stages)
            stage_runs[name].append(stages)
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
    mach, s = result["machine"], result["settings"]
    flags = ", ".join(f for f, present in mach["flags"].items() if present) or "none of the listed"
    missing = ", ".join(f for f, present in mach["flags"].items() if not present)
    print(f"{result['date_utc']} UTC | {mach['cpu']} ({mach['logical_cpus']} logical CPUs) | {flags}"
          f"{' | no ' + missing if missing else ''}")
    v = result["versions"]
    print(f"torch {v['torch']}, numpy {v['numpy']}, numba {v['numba']} "
          f"(compiled kernels: {v['compiled_kernels']}, torch._int_mm: {v['torch._int_mm']})")
    before, after = result["load_average_before_after"]
    print(f"N={s['N']:,}, d={s['d']}, Q={s['queries']}, k={s['k']}, m={s['shortlist_dim']}, "
          f"{s['threads']} thread, median of {s['rounds']} interleaved rounds")
    print(f"load average {before} before, {after} after, on {mach['logical_cpus']} CPUs: "
          + ("the machine was shared; absolute times are inflated, ratios within a round less so"
             if max(before, after) > 1.5 else "a quiet machine"))
    print("index build (once): " + ", ".join(f"{p} {ms:.0f} ms" for p, ms in result["index_build_ms"].items()))
    print(f"\n{'variant':<45} {'ms':>7} {'vs fp32':>8} {'vs own':>7} {'recall':>7} {'FLOPs':>6}")
    for row in result["variants"]:
        recall = f"{row['recall_at_10']:.4f}" if row["recall_at_10"] is not None else "-"
        print(f"{row['variant']:<45} {row['median_ms']:>7.1f} {row['speedup_vs_exact_fp32']:>7.1f}x "
              f"{row['speedup_vs_own_exact']:>6.1f}x {recall:>7} {row['flop_ratio']:>5.1f}x")
    print("('vs own': the bf16 funnel against exact bf16 search, the others against exact fp32)")
    print(f"\nFLOP-ratio floor at T=100: exact fp32 time / FLOP ratio = "
          f"{result['flop_ratio_floor_ms_T100']:.0f} ms")
    for name, stages in result["stages_ms_T100"].items():
        print(f"stages of {name} (median ms): "
              + ", ".join(f"{stage} {ms:.1f}" for stage, ms in stages.items()))


if __name__ == "__main__":
    main()
