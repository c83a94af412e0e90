"""Generated feeds for the benchmarks, written once per workdir and size, then reused."""

import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generated_feeds(work: Path, sales_rows: int, *period: str) -> Path:
    """`work`/sources with `sales_rows` sales rows (months: the generator's default, or `period`:
    first and last YYYY-MM). Generated in a process of its own: a child forked from a driver
    holding the generated rows would start with its memory, which wait4 counts as the child's."""
    sources, stamp = work / "sources", work / "sources.rows"
    wanted = " ".join([str(sales_rows), *period])
    if not stamp.exists() or stamp.read_text() != wanted:
        started = time.perf_counter()
        months = ["--start", period[0], "--end", period[1]] if period else []
        command = [sys.executable, "-m", "orchestration.samplegen", "--out", str(sources), "--sales-rows", str(sales_rows), *months]
        subprocess.run(command, cwd=REPO, check=True, stdout=subprocess.DEVNULL)
        stamp.write_text(wanted)
        print(f"generated {sales_rows:,} sales rows in {time.perf_counter() - started:.0f} s under {sources}", flush=True)
    return sources
