"""File exports of the published database, for tools that read files (Evidence, spreadsheets, SDMX tools)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.atomic import replacing
from orchestration.serving import sdmx
from orchestration.sql import sql_literal

SDMX_STRUCTURE_FILE = "indicators.structure.xml"
SDMX_DATA_FILE = "indicators.sdmx.csv"


def export(published_db: Path, exports_dir: Path) -> dict[str, str]:
    """Parquet per mart, and the indicators as SDMX-CSV with their SDMX structure; each file replaced atomically."""
    exports_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    con = duckdb.connect(str(published_db), read_only=True)
    try:
        tables = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' ORDER BY 1").fetchall()]
        for table in tables:
            target = exports_dir / f"{table}.parquet"
            with replacing(target) as staging:
                con.execute(f'COPY (SELECT * FROM marts."{table}") TO {sql_literal(str(staging))} (FORMAT parquet)')
            written[table] = target.name
        structure, data = sdmx.messages(con)
    finally:
        con.close()
    # The structure first, so that the data's codes and dataflow reference always resolve in it.
    for key, name, text in (("sdmx_structure", SDMX_STRUCTURE_FILE, structure), ("sdmx", SDMX_DATA_FILE, data)):
        with replacing(exports_dir / name) as staging:
            staging.write_text(text, encoding="utf-8")
        written[key] = name
    return written
