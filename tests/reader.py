"""A BI-like reader for the publishing tests: queries the published database until told to stop.

    python tests/reader.py <database> reconnect|longlived <stop-file>

Prints one JSON line: queries made, errors, inconsistent answers and the run ids seen. Each query
compares a table's row count with the count the same version's meta.published_tables records.
"""

import json
import sys
import time
from pathlib import Path

import duckdb

QUERY = """
SELECT (SELECT count(*) FROM marts.indicators),
       (SELECT row_count FROM meta.published_tables WHERE table_name = 'marts.indicators'),
       (SELECT count(*) FROM marts.sales_growth),
       (SELECT row_count FROM meta.published_tables WHERE table_name = 'marts.sales_growth'),
       (SELECT run_id FROM meta.publication)
"""


def main() -> None:
    database, mode, stop = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    stats = {"queries": 0, "errors": [], "inconsistent": 0, "run_ids": []}
    long_lived = duckdb.connect(database, read_only=True) if mode == "longlived" else None
    ready = Path(f"{stop}.{mode}.ready")
    while not stop.exists():
        try:
            con = long_lived or duckdb.connect(database, read_only=True)
            indicators, indicators_published, growth, growth_published, run_id = con.execute(QUERY).fetchall()[0]
            if con is not long_lived:
                con.close()
            stats["queries"] += 1
            stats["inconsistent"] += (indicators, growth) != (indicators_published, growth_published)
            if run_id not in stats["run_ids"]:
                stats["run_ids"].append(run_id)
        except Exception as error:  # every failure is the finding, not a crash of the reader
            stats["errors"].append(repr(error))
        ready.touch()
        time.sleep(0.005)
    print(json.dumps(stats))


if __name__ == "__main__":
    main()
