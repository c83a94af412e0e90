"""`make audit`: the load audit and the quarantined rows of the last run, read from the working
database with the project's own DuckDB (no `duckdb` command needed, none of another version)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from orchestration.sql import quoted, records

# Text from a landed file reaches the terminal: control characters (escape sequences) are shown, not obeyed.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def shown(value: object) -> str:
    return "" if value is None else CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(value))


def last_run(con: duckdb.DuckDBPyConnection) -> str | None:
    """The run of the latest load recorded in audit.file_loads."""
    row = con.execute("SELECT run_id FROM audit.file_loads ORDER BY load_id DESC LIMIT 1").fetchone()
    return row[0] if row else None


def audit_report(working_db: Path, run_id: str | None = None, limit: int = 20) -> list[str]:
    """What the run loaded, file by file (the unchanged ones counted per feed), and its quarantined
    rows with file, line, column, rule and reason (at most `limit` per feed; the count of the rest)."""
    if not working_db.exists():
        return [f"No working database at {working_db}: `make run` has not loaded anything yet."]
    try:
        con = duckdb.connect(str(working_db), read_only=True)
    except duckdb.IOException as error:
        return [f"Cannot open {working_db}: {error}", "A run may be writing it: wait for it to finish, then `make audit` again."]
    try:
        run_id = run_id or last_run(con)
        if run_id is None:
            return [f"{working_db} has no load recorded yet."]
        loads = records(
            con.execute(
                """
                SELECT feed, source_file, status, rows_read, rows_loaded, rows_quarantined, error, loaded_at
                FROM audit.file_loads WHERE run_id = ? ORDER BY feed, source_file
                """,
                [run_id],
            )
        )
        if not loads:
            return [f"Run {run_id} loaded no file recorded in {working_db}."]
        lines = [f"Load audit of run {run_id} ({min(r.loaded_at for r in loads):%Y-%m-%d %H:%M} UTC), from {working_db} (audit.file_loads):"]
        touched = [r for r in loads if r.status != "unchanged"]
        if touched:
            lines.append(f"  {'feed':<24} {'file':<48} {'status':<9} {'read':>8} {'loaded':>8} {'quarant.':>8}  error")
            for r in touched:
                lines.append(f"  {r.feed:<24} {shown(r.source_file):<48} {r.status:<9} {r.rows_read:>8,} {r.rows_loaded:>8,} {r.rows_quarantined:>8,}  {shown(r.error)}")
        unchanged: dict[str, int] = {}
        for r in loads:
            if r.status == "unchanged":
                unchanged[r.feed] = unchanged.get(r.feed, 0) + 1
        if unchanged:
            lines.append("  unchanged since their last load: " + ", ".join(f"{feed} {n}" for feed, n in unchanged.items()))
        lines += quarantine_lines(con, run_id, limit)
        return lines
    finally:
        con.close()


def quarantine_lines(con: duckdb.DuckDBPyConnection, run_id: str, limit: int) -> list[str]:
    lines = []
    # The feeds loaded so far (a quarantine table is made by a feed's first load).
    feeds = [name for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'quarantine' ORDER BY 1").fetchall()]
    for feed in feeds:
        table = f"quarantine.{quoted(feed)}"
        total, rows = con.execute(
            f"""
            SELECT (SELECT count(*) FROM {table} WHERE run_id = $run),
                   (SELECT list((source_file, line, column_name, rule, reason) ORDER BY source_file, line, column_name)[1:$limit]
                    FROM {table} WHERE run_id = $run)
            """,
            {"run": run_id, "limit": limit},
        ).fetchall()[0]
        if not total:
            continue
        lines.append(f"Quarantined in this run, {feed} ({total:,} row(s), quarantine.{feed}):")
        for item in rows:
            source_file, line, column, rule, reason = item.values() if isinstance(item, dict) else item
            lines.append(f"  {shown(source_file)}:{line if line is not None else '-'}  {shown(column) or '-'}  {rule}: {shown(reason)}")
        if total > len(rows):
            lines.append(f"  ... and {total - len(rows):,} more (`make audit LIMIT={total}` lists them all)")
    if not lines:
        lines.append("No row was quarantined in this run.")
    return lines
