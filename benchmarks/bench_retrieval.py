"""Exact search vs the Matryoshka funnel, measured side by side.

Data: N database vectors and Q queries of width d = 512, Gaussian with coordinate j scaled
by (j+1)^-1/2 (``embedlib.retrieval.structured_vectors``: variance decays along the vector as
in a Matryoshka embedding; the first 32 coordinates hold ~60% of it). Inner product, k = 10.
One thread. Every variant runs once per round, rounds are repeated, and each variant's
median over the rounds is reported; recall@10 is against exact search.

    python benchmarks/bench_retrieval.py [--n 300000] [--queries 500] [--rounds 5]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from embedlib import retrieval
from embedlib.retrieval import (
    build_prefix_index,
    funnel_flop_ratio,
    funnel_search,
    naive_funnel_search,
    recall_at_k,
    search,
    structured_vectors,
)

BLOCK_ROWS = 2048  # funnel_search's default block size, used by the stage breakdown


def products_only(prefix: torch.Tensor, index) -> int:
    """The scan's block matrix products, each result dropped at once (as the scan does)."""
    for start in range(0, index.size, BLOCK_ROWS):
        retrieval._prefix_scores(prefix, index.prefix[start : start + BLOCK_ROWS], index.precision)
    return index.size


def stage_breakdown(queries, database, index, shortlist_k: int, k: int, rounds: int) -> dict[str, float]:
    """Median seconds of each step of funnel_search, and of the scan's matrix products alone."""
    steps: dict[str, list[float]] = {}

    def timed(name, function, *args):
        start = time.perf_counter()
        result = function(*args)
        steps.setdefault(name, []).append(time.perf_counter() - start)
        return result

    for _ in range(rounds):
        prefix = timed("quantise queries", retrieval._quantise_queries, queries, index)
        thresholds = timed("thresholds from the sample", retrieval._thresholds, prefix, index, shortlist_k, 3.0)
        survivors = timed("scan: products, compare, keep", retrieval._scan, prefix, index, thresholds, BLOCK_ROWS)
        timed("  of which products alone", products_only, prefix, index)
        shortlist, _ = timed("best T per query", retrieval._top_per_query, *survivors, queries.shape[0], shortlist_k)
        timed("rerank at full width", retrieval._rerank, queries, database, torch.from_numpy(shortlist), k)
    return {name: statistics.median(values) for name, values in steps.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300_000, help="database size")
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=500)
    parser.add_argument("--shortlist-dim", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    k, m = 10, args.shortlist_dim

    database = structured_vectors(args.n, args.dim, seed=0)  # [N, d]
    queries = structured_vectors(args.queries, args.dim, seed=1)  # [Q, d]
    indexes = {}
    for precision in ("fp32", "bf16", "int8"):
        start = time.perf_counter()
        indexes[precision] = build_prefix_index(database, m, precision)
        print(f"index build ({precision}): {1e3 * (time.perf_counter() - start):.0f} ms (once per database)")

    variants = {"exact search": lambda: search(queries, database, k)}
    variants["plain funnel, T=100"] = lambda: naive_funnel_search(queries, database, m, 100, k)
    for precision in ("fp32", "bf16", "int8"):
        for t in (50, 100, 200, 400):
            variants[f"fast funnel {precision}, T={t}"] = (
                lambda p=precision, t=t: funnel_search(queries, database, m, t, k, index=indexes[p])
            )

    truth = search(queries, database, k).indices
    times: dict[str, list[float]] = {name: [] for name in variants}
    recalls: dict[str, float] = {}
    for _ in range(args.rounds):
        for name, run in variants.items():  # interleaved: every variant once per round
            start = time.perf_counter()
            result = run()
            times[name].append(time.perf_counter() - start)
            recalls[name] = recall_at_k(result.indices, truth)

    baseline = statistics.median(times["exact search"])
    print(f"\nN={args.n:,}, d={args.dim}, Q={args.queries}, k={k}, shortlist width m={m}, "
          f"1 thread, median of {args.rounds} interleaved rounds")
    print(f"{'variant':<26} {'median ms':>10} {'speed-up':>9} {'recall@10':>10} {'FLOP ratio':>11}")
    for name in variants:
        median = statistics.median(times[name])
        t = int(name.rsplit("T=", 1)[1]) if "T=" in name else None
        flops = funnel_flop_ratio(args.n, args.dim, m, t) if t else 1.0
        print(f"{name:<26} {1e3 * median:>10.1f} {baseline / median:>8.1f}x {recalls[name]:>10.4f} {flops:>10.1f}x")

    print("\nWhere the time of the fast funnel (bf16, T=100) goes, medians in ms:")
    for name, seconds in stage_breakdown(queries, database, indexes["bf16"], 100, k, args.rounds).items():
        print(f"  {name:<32} {1e3 * seconds:7.1f}")
    print(f"  (exact search: {1e3 * baseline:.0f} ms; FLOP-ratio target: {1e3 * baseline / funnel_flop_ratio(args.n, args.dim, m, 100):.0f} ms)")


if __name__ == "__main__":
    main()
