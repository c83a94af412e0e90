"""A digest of what a run published: every table of the published database and every export, as
row counts and content hashes computed in DuckDB, one line each; two warehouses compared line by line.

    python scripts/published_digest.py WAREHOUSE_DIR [OTHER_WAREHOUSE_DIR]

With two directories, prints the lines that differ and exits 1 if any does. Values that name the run
rather than the data (timestamps, run ids, the code version) are left out of the hashes: they differ
between any two runs of the same code on the same files.
"""

from __future__ import annotations

import hashlib
import re
import sys
from pathlib import Path

import duckdb

# Columns whose values belong to the run, not to the data it published.
RUN_COLUMNS = re.compile(r"(_at|^published_from|^published_to|^run_id|^code_version)$")
# Lines of a text export that belong to the run (SDMX-ML's header: its id and preparation time).
RUN_LINES = re.compile(r"<(mes:)?(ID|Prepared)>")


def _table_digest(con: duckdb.DuckDBPyConnection, relation: str) -> str:
    columns = [row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {relation}").fetchall()]
    kept = [c for c in columns if not RUN_COLUMNS.search(c.lower())]
    rows, digest = con.execute(
        f"SELECT count(*), md5(coalesce(string_agg(h, '' ORDER BY h), '')) FROM (SELECT md5(row({', '.join(chr(34) + c + chr(34) for c in kept)})::VARCHAR) AS h FROM {relation})"
    ).fetchone()
    left_out = sorted(set(columns) - set(kept))
    return f"{rows} rows {digest}" + (f" (without {', '.join(left_out)})" if left_out else "")


def digest(warehouse: Path) -> dict[str, str]:
    lines: dict[str, str] = {}
    with duckdb.connect(str(warehouse / "indicators.duckdb"), read_only=True) as con:
        tables = con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database() "
            "UNION ALL SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = current_database() AND NOT internal"
        ).fetchall()
        for schema, table in sorted(tables):
            lines[f"indicators.duckdb {schema}.{table}"] = _table_digest(con, f'"{schema}"."{table}"')
    with duckdb.connect() as con:
        for path in sorted((warehouse / "exports").iterdir()):
            if path.suffix == ".parquet":
                lines[f"exports/{path.name}"] = _table_digest(con, f"read_parquet('{path}')")
            else:
                kept = [line for line in path.read_text(encoding="utf-8").splitlines() if not RUN_LINES.search(line)]
                lines[f"exports/{path.name}"] = f"{len(kept)} lines {hashlib.sha256(chr(10).join(kept).encode()).hexdigest()[:32]}"
    return lines


def main() -> None:
    first = digest(Path(sys.argv[1]))
    if len(sys.argv) == 2:
        print("\n".join(f"{name}: {line}" for name, line in first.items()))
        return
    second = digest(Path(sys.argv[2]))
    differ = [name for name in sorted(first.keys() | second.keys()) if first.get(name) != second.get(name)]
    for name in differ:
        print(f"{name}:\n  {first.get(name, 'absent')}\n  {second.get(name, 'absent')}")
    print(f"{len(first.keys() | second.keys()) - len(differ)} identical, {len(differ)} different")
    sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
