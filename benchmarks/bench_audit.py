"""Benchmark: the audit command on a LLaMA-3-sized table (128,256 x 4,096 float32, 2.1 GB).

Generates the table (Gaussian rows with a planted common direction and a few zero and
duplicate rows, written block by block to a temporary .npy), then times
``python -m embedlib.audit TABLE.npy --sample S`` in a child process limited to two threads,
and reads the child's peak resident memory with ``resource.getrusage``. Targets (issue 18):
at most 2 minutes on 2 cores, peak memory at most 3x the table.

    PYTHONPATH=. python benchmarks/bench_audit.py [--rows 128256] [--dims 4096] [--sample 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def write_table(path: Path, rows: int, dims: int, seed: int = 0) -> int:
    rng = np.random.default_rng(seed)
    direction = rng.standard_normal(dims).astype(np.float32)
    direction /= np.linalg.norm(direction)
    table = np.lib.format.open_memmap(
        path, mode="w+", dtype=np.float32, shape=(rows, dims)
    )
    for start in range(0, rows, 8192):
        block = rng.standard_normal((min(8192, rows - start), dims), dtype=np.float32)
        block += (
            30.0 * direction
        )  # a cone: mean cosine about 30^2 / (dims + 30^2) = 0.18
        table[start : start + block.shape[0]] = block
    table[-10:] = 0.0  # ten zero rows
    table[-20:-10] = table[0]  # ten duplicates of row 0
    table.flush()
    del table
    return rows * dims * 4


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--rows", type=int, default=128_256)
    p.add_argument("--dims", type=int, default=4_096)
    p.add_argument("--sample", type=int, default=5_000)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    print(
        f"machine: {cpu_model()}, {os.cpu_count()} logical cores; audit limited to "
        f"{args.threads} threads; python {platform.python_version()}"
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "table.npy"
        size = write_table(path, args.rows, args.dims)
        print(f"table: {args.rows:,} x {args.dims:,} float32 = {size / 2**30:.2f} GiB")
        env = dict(
            os.environ,
            OMP_NUM_THREADS=str(args.threads),
            MKL_NUM_THREADS=str(args.threads),
        )
        code = (
            f"import torch; torch.set_num_threads({args.threads}); import sys; "
            "from embedlib.audit.cli import main; sys.exit(main())"
        )
        command = [
            sys.executable,
            "-c",
            code,
            str(path),
            "--sample",
            str(args.sample),
            "--json",
            str(Path(folder) / "report.json"),
        ]
        start = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode:
            sys.exit(f"audit failed ({done.returncode}): {done.stderr[-2000:]}")
        report = json.loads((Path(folder) / "report.json").read_text())
    peak = usage.ru_maxrss * 1024  # kilobytes on Linux
    cpu = usage.ru_utime + usage.ru_stime
    print(
        f"audit --sample {args.sample}: wall {wall:.1f} s, CPU {cpu:.1f} s (user+sys; / {args.threads} "
        f"threads = {cpu / args.threads:.0f} s, the wall time on {args.threads} idle cores), peak RSS "
        f"{peak / 2**30:.2f} GiB = {peak / size:.2f}x the table"
    )
    print(
        f"targets: wall <= 120 s: {'met' if wall <= 120 else 'MISSED'}; peak <= 3x: "
        f"{'met' if peak <= 3 * size else 'MISSED'}"
    )
    warnings = [f["id"] for f in report["findings"] if f["level"] == "warning"]
    print(
        f"report: mean cosine {report['anisotropy']['mean_cosine']:.3f}, N_10 skewness "
        f"{report['hubness']['observed']['mean']:.2f}; warnings: {', '.join(warnings)}"
    )


if __name__ == "__main__":
    main()
