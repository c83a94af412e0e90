"""Baseline: the same sales work in pandas, validated by Pandera's pandas backend.

Each landed sales file read by pandas with the contract's types, concatenated, validated
(amounts not negative, size class in the code list, unique key), aggregated monthly by
province x size class, national month-over-month growth, written to DuckDB.
"""

import sys
from pathlib import Path

import duckdb
import pandas as pd
import pandera.pandas as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import baseline  # noqa: E402

from orchestration.contracts import load_contracts  # noqa: E402

PANDAS_TYPES = {"VARCHAR": "string", "BIGINT": "int64", "DATE": "string"}


def read(path: Path, types: dict[str, str]) -> pd.DataFrame:
    if path.suffix == ".parquet":
        frame = pd.read_parquet(path)
    else:
        frame = pd.read_csv(path, dtype={c: PANDAS_TYPES.get(t, "float64") for c, t in types.items()})
    frame["sale_date"] = pd.to_datetime(frame["sale_date"])
    frame["gross_sales_idr"] = frame["gross_sales_idr"].astype("float64")
    return frame


def run(sources: Path, database: Path) -> dict[str, int]:
    contracts = load_contracts()
    sales_contract = contracts.feeds["sales"]
    sizes = list(contracts.accepted_values(sales_contract.column("size_class").rules))
    types = sales_contract.duckdb_types()
    sales = pd.concat([read(f, types) for f in sales_contract.landed_files(sources)], ignore_index=True)
    schema = pa.DataFrameSchema(
        {
            "orders": pa.Column(int, pa.Check.ge(0)),
            "gross_sales_idr": pa.Column(float, pa.Check.ge(0)),
            "size_class": pa.Column(str, pa.Check.isin(sizes)),
        },
        unique=list(sales_contract.key),
    )
    try:
        schema.validate(sales, lazy=True)
        failures = 0
    except pa.errors.SchemaErrors as errors:
        failures = len(errors.failure_cases)
    sales["sale_month"] = sales["sale_date"].dt.to_period("M").dt.to_timestamp()
    monthly = sales.groupby(["sale_month", "province_code", "size_class"], as_index=False)[["gross_sales_idr", "orders"]].sum()
    national = monthly.groupby("sale_month", as_index=False)["gross_sales_idr"].sum().sort_values("sale_month")
    national["growth_mom_pct"] = 100 * national["gross_sales_idr"].pct_change()
    con = duckdb.connect(str(database))
    con.register("monthly_frame", monthly)
    con.register("national_frame", national)
    con.execute("CREATE OR REPLACE TABLE monthly AS SELECT * FROM monthly_frame")
    con.execute("CREATE OR REPLACE TABLE national_growth AS SELECT * FROM national_frame")
    con.close()
    return {"rows": len(sales), "failure_cases": failures, "months": len(national)}


if __name__ == "__main__":
    baseline.main(run, __doc__)
