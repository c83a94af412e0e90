"""The raw load of one feed alone (raw/<feed> without Dagster), into an empty warehouse.

Loads the feeds the feed's rules reference first (not timed), then times the feed's load with the
contract check the raw asset runs on the loaded rows (`--no-validate`: the load alone), and prints
the seconds and the rows read, loaded and quarantined.

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
from orchestration.validation import feed_schema, validate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=Path, required=True)
    parser.add_argument("--feed", default="sales")
    parser.add_argument("--no-validate", action="store_true")
    args = parser.parse_args()
    contracts = load_contracts()
    feed = contracts.feeds[args.feed]
    with tempfile.TemporaryDirectory() as work:
        con = duckdb.connect(str(Path(work) / "working.duckdb"), config={"memory_limit": settings.DEFAULT_DUCKDB_MEMORY_LIMIT})
        for name in ("provinces", "platforms"):
            load_feed(con, contracts.feeds[name], args.sources, "bench")

        def check(con: duckdb.DuckDBPyConnection, files: list[str]):
            return validate(con, feed.raw_table, feed_schema(contracts, feed, con), where=lambda t: t.source_file.isin(files))

        started = time.perf_counter()
        load = load_feed(con, feed, args.sources, "bench", validate=None if args.no_validate else check)
        seconds = time.perf_counter() - started
        con.close()
    read, loaded, quarantined = (sum(getattr(f, n) for f in load.files) for n in ("rows_read", "rows_loaded", "rows_quarantined"))
    passed = "" if load.report is None else f", contract check {'passed' if load.report.passed else 'FAILED'}"
    print(f"raw/{feed.name}: {seconds:.2f} s; {read:,} rows read, {loaded:,} loaded, {quarantined:,} quarantined{passed}")


if __name__ == "__main__":
    main()
