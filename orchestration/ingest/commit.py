"""The commit of a load: one transaction replaces the rows of its files and records every file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb

from orchestration.contracts import FeedContract
from orchestration.ingest.landing import LandedFile, path_fields_sql
from orchestration.ingest.ministry_table import totals_columns, totals_table
from orchestration.ingest.staged import QUARANTINE_COLUMNS, Staged
from orchestration.sql import column_definitions, quoted

# A file's fate in a load. `held`: a change that would take rows away (a resend with far fewer rows,
# files gone under a symbolic link) is not made until the data engineer confirms it.
STATUSES = ("loaded", "rejected", "unchanged", "removed", "held")

AUDIT_DDL = """
CREATE SCHEMA IF NOT EXISTS audit;
CREATE SEQUENCE IF NOT EXISTS audit.load_id;
CREATE TABLE IF NOT EXISTS audit.file_loads (
    load_id BIGINT DEFAULT nextval('audit.load_id') PRIMARY KEY,
    feed VARCHAR NOT NULL,
    source_file VARCHAR NOT NULL,
    sha256 VARCHAR,
    previous_sha256 VARCHAR,
    rows_read BIGINT NOT NULL,
    rows_loaded BIGINT NOT NULL,
    rows_quarantined BIGINT NOT NULL,
    status VARCHAR NOT NULL CHECK (status IN ('loaded', 'rejected', 'unchanged', 'removed', 'held')),
    error VARCHAR,
    loaded_at TIMESTAMP NOT NULL,
    run_id VARCHAR NOT NULL,
    CHECK (rows_read = rows_loaded + rows_quarantined)
);
-- The fields the file's path names (month, platform), as JSON: what completeness is judged on.
ALTER TABLE audit.file_loads ADD COLUMN IF NOT EXISTS path_fields VARCHAR;
COMMENT ON TABLE audit.file_loads IS 'One row per landed file and load: hash, rows read = loaded + quarantined, status, error, run, path fields.';
-- The version of the feed's contract the file was judged by (Contracts.version): a file loaded
-- under another is loaded again, its rows judged by the contract as it is now.
ALTER TABLE audit.file_loads ADD COLUMN IF NOT EXISTS contract_sha256 VARCHAR;
-- The version of every file whose rows are in raw now: its latest load, unless it was removed since.
CREATE OR REPLACE VIEW audit.loaded_files AS
SELECT * FROM audit.file_loads
WHERE status IN ('loaded', 'removed')
QUALIFY row_number() OVER (PARTITION BY feed, source_file ORDER BY load_id DESC) = 1 AND status = 'loaded';
"""

# The columns of audit.loaded_files the dbt models read, described for dbt's audit source (rendered
# by `make render`, the names and types as AUDIT_DDL makes them).
LOADED_FILES_DESCRIPTIONS = {
    "feed": "Feed the file belongs to.",
    "source_file": "Landed file, relative to the sources dir.",
    "sha256": "SHA-256 of the file version loaded.",
    "rows_loaded": "Rows of the file loaded into raw.",
    "path_fields": "JSON of the fields the file's path names (month, platform).",
    "loaded_at": "When the version was loaded (UTC).",
}


def _allow_held(con: duckdb.DuckDBPyConnection) -> None:
    """A load history from before `held` existed has a status check without it, which DuckDB
    cannot alter: its rows move to a table created with the current check, load ids kept."""
    old_check = con.execute(
        "SELECT count(*) FROM duckdb_constraints() WHERE database_name = current_database() AND schema_name = 'audit' "
        "AND table_name = 'file_loads' AND constraint_type = 'CHECK' AND expression LIKE '%status IN%' AND expression NOT LIKE '%''held''%'"
    ).fetchone()[0]
    if not old_check:
        return
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(
            "DROP VIEW IF EXISTS audit.loaded_files; ALTER TABLE audit.file_loads RENAME TO file_loads_before_held; "
            f"{AUDIT_DDL} INSERT INTO audit.file_loads BY NAME SELECT * FROM audit.file_loads_before_held; "
            "DROP TABLE audit.file_loads_before_held; COMMIT"
        )
    except BaseException:
        con.execute("ROLLBACK")
        raise


@dataclass(frozen=True)
class FileLoad:
    source_file: str
    status: str
    sha256: str | None = None
    previous_sha256: str | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_quarantined: int = 0
    error: str | None = None


@dataclass
class FeedLoad:
    feed: FeedContract
    files: list[FileLoad] = field(default_factory=list)
    rows_in_table: int = 0

    def with_status(self, status: str) -> list[FileLoad]:
        return [f for f in self.files if f.status == status]

    @property
    def changed_files(self) -> list[str]:
        """Files whose rows this load wrote: what the contract check validates."""
        return [f.source_file for f in self.with_status("loaded")]


def prepare_tables(con: duckdb.DuckDBPyConnection, feed: FeedContract) -> None:
    """Create the audit, raw and quarantine tables of a feed; a raw table whose columns no longer
    match the contract is dropped with the feed's load history, so the next load reloads every file."""
    _allow_held(con)
    con.execute(AUDIT_DDL)
    if feed.path_pattern:  # load history from before path fields were recorded
        con.execute(
            f"UPDATE audit.file_loads SET path_fields = {path_fields_sql(feed, 'source_file')} WHERE feed = $feed AND path_fields IS NULL",
            {"feed": feed.name},
        )
    columns = column_definitions(feed.raw_column_types)
    existing = con.execute(
        "SELECT list(column_name || ' ' || data_type ORDER BY column_index) FROM duckdb_columns() "
        "WHERE database_name = current_database() AND schema_name = 'raw' AND table_name = ?",
        [feed.name],
    ).fetchone()[0]
    if existing and existing != [f"{name} {type_}" for name, type_ in feed.raw_column_types]:
        con.execute(f"DROP TABLE {feed.raw_table}; DROP TABLE IF EXISTS quarantine.{quoted(feed.name)}")
        con.execute("DELETE FROM audit.file_loads WHERE feed = ?", [feed.name])
    con.execute(
        f"""
        CREATE SCHEMA IF NOT EXISTS raw;
        CREATE SCHEMA IF NOT EXISTS quarantine;
        CREATE TABLE IF NOT EXISTS {feed.raw_table} ({columns});
        CREATE TABLE IF NOT EXISTS quarantine.{quoted(feed.name)} (
            {QUARANTINE_COLUMNS}, sha256 VARCHAR NOT NULL, run_id VARCHAR NOT NULL, quarantined_at TIMESTAMP NOT NULL
        );
        """
    )
    if feed.is_table:
        con.execute(f"CREATE TABLE IF NOT EXISTS {totals_table(feed)} ({column_definitions(totals_columns(feed))})")


def commit(
    con: duckdb.DuckDBPyConnection,
    feed: FeedContract,
    candidates: list[LandedFile],
    removed: list[str],
    previous: dict[str, str],
    outcomes: dict[str, FileLoad],
    staged: Staged,
    run_id: str,
    contract_version: str,
) -> FeedLoad:
    counts = {
        rel: (read, read - quarantined, quarantined)
        for rel, read, quarantined in con.execute(
            f"""
            SELECT f.source_file, coalesce(r.rows_read, 0), (SELECT count(*) FROM {staged.quarantine} q WHERE q.source_file = f.source_file)
            FROM {staged.files} f LEFT JOIN {staged.read} r USING (source_file)
            """
        ).fetchall()
    }
    for landed in candidates:
        read, loaded, quarantined = counts[landed.source_file]
        outcomes[landed.source_file] = FileLoad(landed.source_file, "loaded", landed.sha256, previous.get(landed.source_file), read, loaded, quarantined)
    load = FeedLoad(feed, sorted(outcomes.values(), key=lambda f: f.source_file))
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    replaced = [f.source_file for f in candidates] + removed
    quarantine = f"quarantine.{quoted(feed.name)}"
    con.execute("BEGIN TRANSACTION")
    try:
        if replaced:
            con.execute(
                f"""
                DELETE FROM {feed.raw_table} WHERE source_file IN (SELECT source_file FROM {staged.files});
                DELETE FROM {quarantine} WHERE source_file IN (SELECT source_file FROM {staged.files});
                -- Only the files still staged: a reader or the read-back may have dropped some after staging.
                INSERT INTO {feed.raw_table} BY NAME SELECT * FROM {staged.rows} WHERE source_file IN (SELECT source_file FROM {staged.files});
                """
            )
            con.execute(
                f"INSERT INTO {quarantine} SELECT q.*, f.sha256, $run_id, $now FROM {staged.quarantine} q JOIN {staged.files} f USING (source_file)",
                {"run_id": run_id, "now": now},
            )
            if feed.is_table:
                con.execute(
                    f"DELETE FROM {totals_table(feed)} WHERE source_file IN (SELECT source_file FROM {staged.files}); "
                    f"INSERT INTO {totals_table(feed)} BY NAME SELECT * FROM {staged.totals} WHERE source_file IN (SELECT source_file FROM {staged.files})"
                )
            rows_written = con.execute(f"SELECT count(*) FROM {staged.rows} WHERE source_file IN (SELECT source_file FROM {staged.files})").fetchone()[0]
            counted = sum(counts[f.source_file][1] for f in candidates)
            # Population lines load as one row per size class; every other feed loads row for row.
            if not feed.is_table and rows_written != counted:
                raise AssertionError(f"{feed.name}: {rows_written} rows written but {counted} counted as loaded")
        record(con, feed, load.files, run_id, now, contract_version)
        con.execute("COMMIT")
    except BaseException:
        try:
            con.execute("ROLLBACK")
        except duckdb.TransactionException:
            pass  # already rolled back
        raise
    load.rows_in_table = con.execute(f"SELECT count(*) FROM {feed.raw_table}").fetchone()[0]
    return load


def record(con: duckdb.DuckDBPyConnection, feed: FeedContract, files: list[FileLoad], run_id: str, now: dt.datetime, contract_version: str) -> None:
    if not files:
        return
    con.execute(
        f"""
        INSERT INTO audit.file_loads (
            feed, source_file, sha256, previous_sha256, rows_read, rows_loaded, rows_quarantined, status, error, loaded_at, run_id, contract_sha256, path_fields
        )
        SELECT *, {path_fields_sql(feed, "source_file")} FROM (
            SELECT $feed AS feed, unnest($files) AS source_file, unnest($hashes), unnest($previous), unnest($read), unnest($loaded),
                   unnest($quarantined), unnest($status), unnest($error), $now, $run_id, $contract
        )
        """,
        {
            "feed": feed.name,
            "files": [f.source_file for f in files],
            "hashes": [f.sha256 for f in files],
            "previous": [f.previous_sha256 for f in files],
            "read": [f.rows_read for f in files],
            "loaded": [f.rows_loaded for f in files],
            "quarantined": [f.rows_quarantined for f in files],
            "status": [f.status for f in files],
            "error": [f.error for f in files],
            "now": now,
            "run_id": run_id,
            "contract": contract_version,
        },
    )
