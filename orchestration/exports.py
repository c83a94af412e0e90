"""File exports of the published database, for tools that read files (Evidence, spreadsheets, SDMX tools)."""

from __future__ import annotations

import os
from pathlib import Path

import duckdb

from orchestration.publish import sql_literal

# SDMX-CSV 2.0: STRUCTURE, STRUCTURE_ID, ACTION, the dimensions, then the measure and its status.
SDMX_STRUCTURE_ID = "ID.UMKM:DF_DIGITAL_ECONOMY(1.0)"
SDMX_QUERY = f"""
SELECT 'dataflow' AS STRUCTURE,
       '{SDMX_STRUCTURE_ID}' AS STRUCTURE_ID,
       'I' AS ACTION,
       c.frequency AS FREQ,
       i.indicator_code AS INDICATOR,
       i.ref_area AS REF_AREA,
       i.size_class AS SIZE_CLASS,
       i.breakdown AS BREAKDOWN,
       i.unit_measure AS UNIT_MEASURE,
       i.time_period AS TIME_PERIOD,
       i.obs_value AS OBS_VALUE,
       i.obs_status AS OBS_STATUS
FROM marts.indicators i JOIN marts.indicator_catalog c USING (indicator_code)
ORDER BY INDICATOR, REF_AREA, SIZE_CLASS, BREAKDOWN, TIME_PERIOD
"""


def _copy_atomically(con: duckdb.DuckDBPyConnection, query: str, target: Path, options: str) -> None:
    staging = target.with_name(f".{target.name}.tmp")
    con.execute(f"COPY ({query}) TO {sql_literal(str(staging))} ({options})")
    os.replace(staging, target)


def export(published_db: Path, exports_dir: Path) -> dict[str, str]:
    """Parquet per mart and the indicators as SDMX-CSV, each file replaced atomically."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        for table in tables:
            target = exports_dir / f"{table}.parquet"
            _copy_atomically(con, f'SELECT * FROM marts."{table}"', target, "FORMAT parquet")
            written[table] = target.name
        target = exports_dir / "indicators.sdmx.csv"
        _copy_atomically(con, SDMX_QUERY, target, "FORMAT csv, HEADER true, NULLSTR ''")
        written["sdmx"] = target.name
    finally:
        con.close()
    return written
