"""Generated feeds for the benchmarks, written once per workdir and size, then reused."""

import subprocess
import sys
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent


def generated_feeds(work: Path, sales_rows: int, *period: str, all_csv: bool = False) -> Path:
    """`work`/sources with `sales_rows` sales rows (months: the generator's default, or `period`:
    first and last YYYY-MM). Generated in a process of its own: a child forked from a driver
    holding the generated rows would start with its memory, which wait4 counts as the child's.
    `all_csv`: every sales file plain CSV (the generator's Parquet and gzip CSV rewritten), the
    landing where the CSV reader does all the work."""
    sources, stamp = work / "sources", work / "sources.rows"
    wanted = " ".join([str(sales_rows), *period, *(["all-csv"] if all_csv else [])])
    if not stamp.exists() or stamp.read_text() != wanted:
        started = time.perf_counter()
        months = ["--start", period[0], "--end", period[1]] if period else []
        command = [sys.executable, "-m", "orchestration.samplegen", "--out", str(sources), "--sales-rows", str(sales_rows), *months]
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        if all_csv:
            rewrite_as_csv(sources / "sales")
        stamp.write_text(wanted)
        print(f"generated {sales_rows:,} sales rows in {time.perf_counter() - started:.0f} s under {sources}", flush=True)
    return sources


def rewrite_as_csv(sales: Path) -> None:
    """Each Parquet and gzip CSV sales file replaced by a plain CSV file of the same rows."""
    con = duckdb.connect()
    for path in sorted([*sales.glob("*/*.parquet"), *sales.glob("*/*.csv.gz")]):
        target = path.with_name(path.name.removesuffix(".gz").removesuffix(".parquet").removesuffix(".csv") + ".csv")
        reader = f"read_parquet('{path}')" if path.suffix == ".parquet" else f"read_csv('{path}', all_varchar = true)"
        con.execute(f"COPY (SELECT * FROM {reader}) TO '{target}' (FORMAT csv, HEADER true)")
        path.unlink()
