"""Stored results of benchmarks and long experiments, shipped with the package, and their tables.

``benchmarks/bench_retrieval.py`` writes ``embedlib/results/bench_retrieval.json`` (machine,
date, versions, load, every variant's median time and recall, the funnel's stages); chapter 5
reads it with :func:`load_retrieval_benchmark` and prints it with :func:`retrieval_report`.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path

RESULTS = Path(__file__).parent / "results"
RETRIEVAL = RESULTS / "bench_retrieval.json"


def machine_facts() -> dict[str, object]:
    """Where a stored result was computed: system, architecture, CPU model, cores, threads."""
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"system": platform.system(), "machine": platform.machine(), "cpu": cpu,
            "cores": os.cpu_count(), "threads": torch.get_num_threads()}


def package_versions(*packages: str) -> dict[str, str]:
    """Python's version and each package's installed version ("not installed" if absent)."""
    from importlib.metadata import PackageNotFoundError, version

    found = {"python": platform.python_version()}
    for package in packages:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def run_facts(*packages: str) -> dict[str, object]:
    """When, where and with what a stored result was computed: date (UTC), machine, versions."""
    import datetime

    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_facts(),
        "versions": package_versions(*packages),
    }


def write_result(path: Path, result: dict) -> None:
    """Store ``result`` as indented JSON at ``path`` (folders created as needed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=1) + "\n")


def stored_result(name: str) -> dict:
    """A result stored by one of the repository's long-running scripts, e.g.
    ``stored_result("rope_base_sweep")`` (written by ``scripts/rope_base_sweep.py``)."""
    path = RESULTS / f"{name}.json"
    if not path.is_file():
        known = sorted(p.stem for p in RESULTS.glob("*.json"))
        raise FileNotFoundError(f"no stored result {name!r}; the package ships {known}")
    return json.loads(path.read_text())


def load_retrieval_benchmark(path: Path | str = RETRIEVAL) -> dict:
    """The stored result of ``benchmarks/bench_retrieval.py`` as a dict."""
    return json.loads(Path(path).read_text())


def variant(result: dict, name: str) -> dict:
    """One variant's row of a retrieval benchmark result, by its name."""
    for row in result["variants"]:
        if row["variant"] == name:
            return row
    names = [row["variant"] for row in result["variants"]]
    raise KeyError(f"no variant {name!r} in the benchmark; it has {names}")


FUNNEL_FAMILIES = {  # label -> the start of its variants' names in the benchmark
    "fp32 prefix, fp32 rerank": "fast funnel fp32",
    "bf16 prefix, fp32 rerank": "fast funnel bf16 prefix",
    "bf16 prefix, bf16 rerank": "fast funnel bf16 (bf16",
    "int8 prefix, fp32 rerank": "fast funnel int8",
}


def funnel_families(result: dict) -> dict[str, list[dict]]:
    """The fast funnel's variants grouped by the precision of shortlist and rerank, by T."""
    families = {
        label: sorted(
            (r for r in result["variants"] if r["variant"].startswith(prefix)),
            key=lambda r: r["T"],
        )
        for label, prefix in FUNNEL_FAMILIES.items()
    }
    empty = [label for label, rows in families.items() if not rows]
    if empty:
        raise KeyError(f"the benchmark has no variants for {empty}; re-run bench_retrieval.py")
    return families


def machine_line(result: dict) -> str:
    """Date, CPU, the flags that matter for low precision, and the load during the run."""
    mach = result["machine"]
    present = [f for f, ok in mach["flags"].items() if ok]
    absent = [f for f, ok in mach["flags"].items() if not ok]
    before, after = result["load_average_before_after"]
    return (
        f"{result['date_utc']} UTC | {mach['cpu']} ({mach['logical_cpus']} logical CPUs)\n"
        f"has {', '.join(present) or 'none of the listed'}; "
        f"lacks {', '.join(absent) or 'nothing listed'}\n"
        f"load average {before} before, {after} after: "
        + ("a shared machine: times inflated and noisy, ratios uncertain"
           if max(before, after) > 1.5 else "a quiet machine")
    )


def retrieval_report(result: dict) -> str:
    """The benchmark as text: machine, settings, the table of variants, the T=100 stages."""
    s, v = result["settings"], result["versions"]
    lines = [
        machine_line(result),
        f"torch {v['torch']}, numpy {v['numpy']}, numba {v['numba']}",
        f"N={s['N']:,}, d={s['d']}, Q={s['queries']}, k={s['k']}, m={s['shortlist_dim']}, "
        f"{s['threads']} thread, medians of {s['rounds']} interleaved rounds",
        "",
        f"{'variant':<44} {'ms':>6} {'vs fp32':>7} {'vs own':>6} {'recall':>6}",
    ]
    for row in result["variants"]:
        recall = f"{row['recall_at_10']:.4f}" if row["recall_at_10"] is not None else "-"
        lines.append(
            f"{row['variant']:<44} {row['median_ms']:>6.0f} {row['speedup_vs_exact_fp32']:>6.1f}x "
            f"{row['speedup_vs_own_exact']:>5.1f}x {recall:>6}"
        )
    lines += [
        "vs own: the bf16 funnel against exact bf16 search, the others against exact fp32",
        f"FLOP-ratio floor at T=100: {result['flop_ratio_floor_ms_T100']:.0f} ms "
        "(exact fp32 time / FLOP ratio)",
    ]
    return "\n".join(lines)


def stage_report(result: dict) -> str:
    """Median milliseconds of each step of the T=100 funnels."""
    lines = []
    for name, stages in result["stages_ms_T100"].items():
        lines.append(name)
        lines += [f"  {stage:<34} {ms:7.1f} ms" for stage, ms in stages.items()]
    return "\n".join(lines)
