"""The performance benchmark: the full pipeline against a bare-DuckDB script and a pandas + Pandera
script doing the same sales work, on N generated sales rows; then `make run` on the sample (fixed
overhead) and one new month after 24 (incremental cost).

Each contender runs as its own process, in alternating order, `--repeats` times; wall time and
peak RSS (the process's, from wait4) are taken per run and the medians compared. Run by hand:

    .venv/bin/python bench/compare.py                       # 10M rows, 3 repeats
    .venv/bin/python bench/compare.py --sales-rows 50000000 --only pipeline --repeats 1
"""

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from feeds import generated_feeds

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"

CONTENDERS = ("pipeline", "bare_duckdb", "pandas_pandera", "pipeline_spark")
# The pipeline on Spark (a local session, the lake in the fresh warehouse) runs only when asked (--only).
DEFAULT_CONTENDERS = CONTENDERS[:3]


@dataclass(frozen=True)
class Measure:
    wall_s: float
    peak_rss_mib: float
    # CPU time (user + system) of the process and the children it waited for: on a machine shared
    # with other work, wall time includes waiting for a core; CPU time does not.
    cpu_s: float = 0.0


def measure(command: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> Measure:
    """Wall time, peak resident memory and CPU time of one process (and the children it waited for)."""
    with open(log or os.devnull, "w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}); see {log}")
    return Measure(wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)  # Linux reports KiB


def fresh(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def pipeline_env(sources: Path, warehouse: Path, dagster_home: Path) -> dict[str, str]:
    """An empty warehouse; the Dagster instance persists across runs, as a user's does."""
    dagster_home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", dagster_home / "dagster.yaml")
    return {"DEI_SOURCES_DIR": str(sources), "DEI_WAREHOUSE_DIR": str(fresh(warehouse)), "DAGSTER_HOME": str(dagster_home)}


def step_timings(dagster_home: Path) -> list[tuple[str, float]]:
    """Where the latest pipeline run spent its time, step by step (from the Dagster instance)."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        run = instance.get_runs(limit=1)[0]
        stats = sorted(instance.get_run_step_stats(run.run_id), key=lambda s: s.start_time)
    return [(s.step_key, s.end_time - s.start_time) for s in stats]


def run_contender(name: str, sources: Path, work: Path) -> Measure:
    """One run from an empty warehouse / database."""
    log = work / f"{name}.log"
    if name.startswith("pipeline"):
        env = pipeline_env(sources, work / "warehouse", work / "dagster_home")
        if name == "pipeline_spark":
            env.update(DEI_ENGINE="spark", DEI_LAKE_DIR=str(work / "warehouse" / "lake"))
        return measure([sys.executable, "-m", "orchestration.cli", "run"], env, log)
    database = work / f"{name}.duckdb"
    database.unlink(missing_ok=True)
    return measure([sys.executable, str(BENCH / f"{name}.py"), "--sources", str(sources), "--database", str(database)], log=log)


def compare(sources: Path, work: Path, contenders: list[str], repeats: int) -> dict[str, list[Measure]]:
    runs: dict[str, list[Measure]] = {name: [] for name in contenders}
    for repeat in range(repeats):
        order = contenders[repeat % len(contenders) :] + contenders[: repeat % len(contenders)]
        for name in order:
            result = run_contender(name, sources, work)
            runs[name].append(result)
            print(f"  {name:<15} run {repeat + 1}: {result.wall_s:6.1f} s  {result.peak_rss_mib:7.0f} MiB  {result.cpu_s:6.1f} s CPU", flush=True)
    return runs


def make_run_on_sample(work: Path, repeats: int) -> list[Measure]:
    """`make run` as a user types it, on the committed sample: a first run into an empty
    warehouse, then runs over the same warehouse (every file unchanged, every model rebuilt)."""
    env = pipeline_env(REPO / "sources", work / "sample-warehouse", work / "sample-dagster-home")
    command = ["make", "-s", "run", f"DAGSTER_HOME={env.pop('DAGSTER_HOME')}"]
    return [measure(command, env, work / "make-run.log") for _ in range(repeats)]


def median(runs: list[Measure]) -> Measure:
    return Measure(*(statistics.median(getattr(r, name) for r in runs) for name in ("wall_s", "peak_rss_mib", "cpu_s")))


def machine() -> str:
    memory = next(line.split()[1] for line in open("/proc/meminfo") if line.startswith("MemTotal"))
    return (
        f"{os.cpu_count()} cores, {int(memory) / 2**20:.0f} GiB RAM, Python {platform.python_version()}, "
        f"DuckDB {version('duckdb')}, dbt-core {version('dbt-core')}, dagster {version('dagster')}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sales-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None, help="generated feeds and outputs (kept; feeds reused)")
    parser.add_argument("--only", choices=CONTENDERS, action="append", help="run only these contenders")
    parser.add_argument("--all-csv", action="store_true", help="every sales file plain CSV (Parquet and gzip CSV rewritten)")
    parser.add_argument("--skip-make-run", action="store_true")
    parser.add_argument("--skip-new-month", action="store_true")
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-"))
    sources = generated_feeds(work, args.sales_rows, all_csv=args.all_csv)
    size = sum(f.stat().st_size for f in (sources / "sales").rglob("*") if f.is_file())
    print(f"{machine()}\n{args.sales_rows:,} sales rows, {size / 2**20:.0f} MiB of sales files; {args.repeats} runs each", flush=True)

    results: dict = {"date": time.strftime("%Y-%m-%d"), "machine": machine(), "sales_rows": args.sales_rows, "all_csv": args.all_csv}
    runs = compare(sources, work, list(args.only or DEFAULT_CONTENDERS), args.repeats)
    medians = {name: median(r) for name, r in runs.items()}
    print("\n| contender | wall (median) | peak RSS (median) | CPU (median) |\n|---|---:|---:|---:|")
    for name, m in medians.items():
        print(f"| {name} | {m.wall_s:.1f} s | {m.peak_rss_mib:,.0f} MiB | {m.cpu_s:.1f} s |")
    for pipeline in ("pipeline", "pipeline_spark"):
        for baseline in ("bare_duckdb", "pandas_pandera", "pipeline"):
            if pipeline in medians and baseline in medians and baseline != pipeline:
                print(
                    f"{pipeline} / {baseline}: wall {medians[pipeline].wall_s / medians[baseline].wall_s:.2f}x, "
                    f"RSS {medians[pipeline].peak_rss_mib / medians[baseline].peak_rss_mib:.2f}x, "
                    f"CPU {medians[pipeline].cpu_s / medians[baseline].cpu_s:.2f}x"
                )
    results["contenders"] = {name: [vars(r) for r in rs] for name, rs in runs.items()}
    if {"pipeline", "pipeline_spark"} & set(medians):
        steps = step_timings(work / "dagster_home")
        print("\nlast pipeline run, by step: " + ", ".join(f"{step} {seconds:.1f} s" for step, seconds in steps))
        results["pipeline_steps"] = dict(steps)

    if not args.skip_make_run:
        sample = make_run_on_sample(work, args.repeats + 1)
        first, warm = sample[0], median(sample[1:])
        print(f"\nmake run on the sample: first {first.wall_s:.1f} s, then {warm.wall_s:.1f} s (median), peak {warm.peak_rss_mib:,.0f} MiB")
        results["make_run"] = [vars(r) for r in sample]

    if not args.skip_new_month:
        from new_month import measure_new_month

        full, new = measure_new_month(args.sales_rows, work / "new-month", args.all_csv)
        print(f"\nnew month after 24: {new:.1f} s against {full:.1f} s for all 25 months = {new / full:.1%}")
        results["new_month"] = {"full_s": full, "new_month_s": new}
    (work / "results.json").write_text(json.dumps(results, indent=2))
    print(f"\nall figures: {work / 'results.json'}")


if __name__ == "__main__":
    main()
