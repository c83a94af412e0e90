"""The raw load of one feed alone (raw/<feed> without Dagster), into an empty warehouse.

Loads the feeds the feed's rules reference first (not timed), then times the feed's load (what the
raw asset does: ingest enforces the contract) and prints the seconds and the rows read, loaded and
quarantined.

    .venv/bin/python bench/ingest_only.py --sources /tmp/bench/sources --feed sales
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from orchestration import settings  # noqa: E402
from orchestration.contracts import load_contracts  # noqa: E402
from orchestration.ingest.load import load_feed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--feed", default="sales")
    args = parser.parse_args()
    contracts = load_contracts()
    feed = contracts.feeds[args.feed]
    with tempfile.TemporaryDirectory() as work:
        con = duckdb.connect(str(Path(work) / "working.duckdb"), config={"memory_limit": settings.DEFAULT_DUCKDB_MEMORY_LIMIT})
        for name in ("provinces", "platforms"):
            load_feed(con, contracts.feeds[name], args.sources, "bench")

        started = time.perf_counter()
        load = load_feed(con, feed, args.sources, "bench")
        seconds = time.perf_counter() - started
        con.close()
    read, loaded, quarantined = (sum(getattr(f, n) for f in load.files) for n in ("rows_read", "rows_loaded", "rows_quarantined"))
    print(f"raw/{feed.name}: {seconds:.2f} s; {read:,} rows read, {loaded:,} loaded, {quarantined:,} quarantined")


if __name__ == "__main__":
    main()
