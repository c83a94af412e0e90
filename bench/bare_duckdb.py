"""Baseline: the sales work of the pipeline in one bare DuckDB script, nothing around it.

Typed read of every landed sales file (CSV, gzip CSV, Parquet) into a table; the rules as SQL
(negative amounts, size classes outside the code list, duplicate keys); the monthly aggregate by
province x size class; national month-over-month growth. Types, key and code list come from the
feed contract, as in the pipeline.
"""

import sys
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import baseline  # noqa: E402

from orchestration.contracts import load_contracts  # noqa: E402


def run(sources: Path, database: Path) -> dict[str, int]:
    contracts = load_contracts()
    sales = contracts.feeds["sales"]
    sizes = list(contracts.accepted_values(sales.column("size_class").rules))
    files = sales.landed_files(sources)
    csv_files = [str(f) for f in files if f.suffix != ".parquet"]
    parquet_files = [str(f) for f in files if f.suffix == ".parquet"]
    con = duckdb.connect(str(database))
    # One relation per format that landed (a landing may be all CSV, all Parquet or both).
    parts, params = [], {}
    if csv_files:
        parts.append("SELECT * FROM read_csv($csv, columns = $types, header = true)")
        params.update(csv=csv_files, types=sales.duckdb_types())
    if parquet_files:
        typed = ", ".join(f'"{c}"::{t} AS "{c}"' for c, t in sales.duckdb_types().items())
        parts.append(f"SELECT {typed} FROM read_parquet($parquet)")
        params["parquet"] = parquet_files
    con.execute("CREATE OR REPLACE TABLE sales AS " + " UNION ALL BY NAME ".join(parts), params)
    key = ", ".join(sales.key)
    negative, unknown_size, rows = con.execute(
        "SELECT count(*) FILTER (orders < 0 OR gross_sales_idr < 0), count(*) FILTER (size_class NOT IN ?), count(*) FROM sales",
        [sizes],
    ).fetchall()[0]
    duplicates = con.execute(f"SELECT count(*) FROM (SELECT {key} FROM sales GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
    con.execute(
        """
        CREATE OR REPLACE TABLE monthly AS
        SELECT date_trunc('month', sale_date) AS sale_month, province_code, size_class,
               sum(gross_sales_idr) AS gross_sales_idr, sum(orders) AS orders
        FROM sales GROUP BY ALL
        """
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE national_growth AS
        SELECT sale_month, gross_sales_idr,
               100 * (gross_sales_idr / lag(gross_sales_idr) OVER (ORDER BY sale_month) - 1) AS growth_mom_pct
        FROM (SELECT sale_month, sum(gross_sales_idr) AS gross_sales_idr FROM monthly GROUP BY ALL)
        """
    )
    months = con.execute("SELECT count(*) FROM national_growth").fetchall()[0][0]
    con.close()
    return {"rows": rows, "negative": negative, "unknown_size": unknown_size, "duplicate_keys": duplicates, "months": months}


if __name__ == "__main__":
    baseline.main(run, __doc__)
